"""Streaming with bounded memory: a join and an aggregate over more data than the local engine's
memory limit complete by spilling to disk."""
from __future__ import annotations

import duckdb
import pytest

import fedq


def test_query_over_more_data_than_the_memory_limit_completes(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    with duckdb.connect() as con:  # about 6M rows x 3 columns: several times the 128 MB limit below
        con.execute(f"COPY (SELECT i AS id, i % 1000003 AS k, md5(i::VARCHAR) AS payload FROM range(6000000) t(i)) "
                    f"TO '{lake / 'big.parquet'}' (FORMAT parquet)")
    # 128 MB: the aggregate still spills about 370 MB; at 64 MB DuckDB 2.0 sometimes ran out of
    # memory in a non-spilling part (a CI run failed once at 57.5 of 61 MiB)
    with fedq.connect(memory_limit="128MB", temp_directory=str(tmp_path / "spill")) as con:
        con.attach("lake", "files", url=str(lake))
        rows = con.execute("SELECT count(*), count(DISTINCT payload), max(n) FROM "
                           "(SELECT k, count(*) AS n, min(payload) AS payload FROM lake.big GROUP BY k)").fetchall()
    assert rows == [(1000003, 1000003, 6)]


def test_a_bad_memory_limit_is_a_clear_error():
    with pytest.raises(fedq.ProgrammingError, match="invalid local engine setting"):
        fedq.connect(memory_limit="lots")
