"""Files source specifics: view types from other writers, and scans that only check existence."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

import fedq


def _lake(tmp_path) -> fedq.Connection:
    pq.write_table(pa.table({"k": [1, 2, 3], "s": pa.array(["a", "b", "c"], pa.string_view())}), tmp_path / "t.parquet")
    con = fedq.connect()
    con.attach("lake", "files", url=str(tmp_path), reader="arrow")
    return con


def test_filters_work_on_files_with_string_view_columns(tmp_path):
    # tpchgen-cli writes string_view; Arrow's filter kernels have no string_view support
    with _lake(tmp_path) as con:
        assert con.execute("SELECT s FROM lake.t WHERE k = 2").fetchall() == [("b",)]
        assert con.execute("SELECT k FROM lake.t WHERE s = 'c'").fetchall() == [(3,)]


def test_exists_subqueries_read_only_the_columns_they_compare(tmp_path):
    with _lake(tmp_path) as con:
        rows = con.execute("SELECT k FROM lake.t a WHERE NOT EXISTS (SELECT * FROM lake.t b WHERE b.k = a.k + 1)").fetchall()
        assert rows == [(3,)]
        assert con.source("lake").statements == ["scan main.t columns=[k]", "scan main.t columns=[k]"]
