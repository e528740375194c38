"""CSV tables stream through pyarrow.csv's reader (sources/files._csv_batches), not pyarrow.dataset's
scan, whose read-ahead is unbounded when the consumer is slow (issue 16: a 1 GB CSV through
``fedq -c … --format csv`` peaked at 1.3 GB RSS; benchmarks/export.py measures it).

The reader must give what the dataset scan gave: the unified schema of several files (a column one
file lacks is NULL there), filters on columns the query does not select, TSV, and fedq's NULL rule
(only an empty unquoted field). The reference is DuckDB over the same rows, all local.
"""
from __future__ import annotations

import math

import duckdb
import pyarrow as pa
import pytest

import fedq
from fedq.sources import TableName
from fedq.sources.files import FilesSource, _plain_csv

FIRST = "id,name,amount\n1,a,1.5\n2,,2.5\n3,\"\",nan\n4,NULL,-1\n5,\"x,y\",7\n"
SECOND = "id,amount,extra\n6,3.5,e\n7,,f\n8,9,\n"
ROWS = pa.table({
    "id": pa.array(range(1, 9), pa.int64()),
    "name": ["a", None, "", "NULL", "x,y", None, None, None],
    "amount": [1.5, 2.5, math.nan, -1.0, 7.0, 3.5, None, 9.0],
    "extra": [None, None, None, None, None, "e", "f", None],
})
QUERIES = [
    "SELECT id FROM t WHERE amount > 2",  # the filter's column is not selected
    "SELECT id, extra FROM t WHERE name IS NULL",
    "SELECT name, count(*) FROM t WHERE NOT isnan(amount) GROUP BY name",
    "SELECT * FROM t WHERE extra IN ('e', 'f') OR name = ''",
    "SELECT id FROM t WHERE amount <> amount",  # NaN only
    "SELECT count(*) FROM t",
]


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: tuple((v is None, "" if v is None else str(v)) for v in r))


@pytest.fixture
def lake(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "1.csv").write_text(FIRST)
    (tmp_path / "t" / "2.csv").write_text(SECOND)
    (tmp_path / "tab.tsv").write_text(FIRST.replace(",", "\t").replace('"x\ty"', "xy"))
    return tmp_path


def test_a_folder_of_csv_files_takes_the_streaming_reader(lake):
    source = FilesSource(name="lake", url=str(lake))
    assert _plain_csv(source.dataset(TableName("main", "t")))
    assert _plain_csv(source.dataset(TableName("main", "tab")))


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("pushdown", [True, False])
def test_csv_reads_answer_as_duckdb_does(lake, sql, pushdown):
    reference = duckdb.connect()
    reference.register("t", ROWS)
    expected = _sorted(reference.execute(sql).fetchall())
    with fedq.connect(pushdown=pushdown) as con:
        con.attach("lake", "files", url=str(lake))
        got = _sorted(con.execute(sql.replace("FROM t", "FROM lake.t")).fetchall())
    assert repr(got) == repr(expected)  # repr: NaN equals NaN


def test_tsv_reads_like_csv(lake):
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(lake))
        rows = con.execute("SELECT id, name FROM lake.tab WHERE amount < 3 ORDER BY id").fetchall()
    assert rows == [(1, "a"), (2, None), (4, "NULL")]


def test_a_bad_value_names_the_table(tmp_path):
    (tmp_path / "bad.csv").write_text("id\n1\n2\n" + "3\n" * 5 + "x\n")
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(tmp_path))
        with pytest.raises(fedq.Error, match="lake"):
            con.execute("SELECT sum(id) FROM lake.bad").fetchall()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_url_naming_one_file_is_a_source_of_one_table(tmp_path, suffix):
    """``url`` may name a file instead of a folder: the file is the source's one table (it was
    listed, then read as ``file.csv/file.csv``: "no files match")."""
    path = tmp_path / f"sales.{suffix}"
    duckdb.sql(f"COPY (SELECT i AS id, i * 1.5 AS amount FROM range(1000) t(i)) TO '{path}'")
    con = fedq.connect(home=False)
    con.attach("one", "files", url=str(path))
    assert [row[:3] for row in con.execute("SHOW TABLES").fetchall()] == [("one", "main", "sales")]
    query = "SELECT count(*), sum(amount) FROM {} WHERE id >= 500"
    assert con.execute(query.format("one.sales")).fetchall() == duckdb.sql(query.format(f"'{path}'")).fetchall()
    if suffix == "parquet":  # inside the file's folder, so DuckDB reads it itself
        plan = " ".join(str(row) for row in con.execute("EXPLAIN " + query.format("one.sales")).fetchall())
        assert "read by DuckDB: READ_PARQUET" in plan
    con.close()
