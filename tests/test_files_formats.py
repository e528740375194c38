"""Files source: JSON / NDJSON, hive-partitioned folders, and remote fsspec URLs (memory://, http://).

Everything is real: temp folders, fsspec's in-process ``memory://`` filesystem, and an
``http.server`` on 127.0.0.1 serving a temp folder.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fedq
from fedq.sources import TableName


def _order(row):
    return tuple((True, 0) if v is None else (False, v) for v in row)


def _both(path, sql, params=None, **attach):
    """Rows of ``sql`` with pushdown on and off (sorted); they must agree."""
    results = []
    for pushdown in (True, False):
        with fedq.connect(pushdown=pushdown) as con:
            con.attach("lake", "files", url=str(path), **attach)
            results.append(sorted(con.execute(sql, params).fetchall(), key=_order))
    assert results[0] == results[1], sql
    return results[0]


# -- JSON ---------------------------------------------------------------------------------
@pytest.fixture
def json_lake(tmp_path):
    rows = [{"id": 1, "name": "ann", "score": 1.5, "tags": ["a"]},
            {"id": 2, "name": "bob", "score": None, "tags": []},
            {"id": 3, "name": None, "score": 7.0, "tags": ["b", "c"]}]
    (tmp_path / "array.json").write_text(json.dumps(rows, indent=2))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "lines2.ndjson").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "nd.json").write_text("\n".join(json.dumps(r) for r in rows))  # NDJSON under .json
    return tmp_path


@pytest.mark.parametrize("table", ["array", "lines", "lines2", "nd"])
def test_json_forms_read_the_same_with_integers_kept(json_lake, table):
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(json_lake))
        columns = con.execute(f"DESCRIBE lake.{table}").fetchall()
        assert [(c[0], c[1]) for c in columns[:3]] == [("id", "BIGINT"), ("name", "VARCHAR"), ("score", "DOUBLE")]
        rows = con.execute(f"SELECT id, name, score, tags FROM lake.{table} ORDER BY id").fetchall()
        assert rows == [(1, "ann", 1.5, ["a"]), (2, "bob", None, []), (3, None, 7.0, ["b", "c"])]
        assert all(type(r[0]) is int for r in rows)
    assert _both(json_lake, f"SELECT id FROM lake.{table} WHERE id >= 2 AND name IS NOT NULL") == [(2,)]


def test_json_filters_are_pushed_and_exact(json_lake):
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(json_lake))
        fragment = con.execute("EXPLAIN SELECT name FROM lake.array WHERE id IN (1, 3) AND name <> 'x'").fetchall()[0]
        assert fragment[4] == "\"id\" IN (1, 3) AND \"name\" <> 'x'"  # exact filters
        rows = con.execute("EXPLAIN ANALYZE SELECT name FROM lake.array WHERE id IN (1, 3)").fetchall()
        assert rows[0][7] == 2  # rows leaving the source: the filter ran there


def test_json_column_types_come_from_every_row(tmp_path):
    # pyarrow's dataset JSON reader infers from the first block (1 MiB) only; a late 2.5 must widen
    lines = ['{"k": %d, "v": %d}' % (i, i) for i in range(100_000)] + ['{"k": 100000, "v": 2.5, "late": "x"}']
    (tmp_path / "big.jsonl").write_text("\n".join(lines))
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(tmp_path))
        assert [(c[0], c[1]) for c in con.execute("DESCRIBE lake.big").fetchall()] == [
            ("k", "BIGINT"), ("v", "DOUBLE"), ("late", "VARCHAR")
        ]
        assert con.execute("SELECT v, late FROM lake.big WHERE k = 100000").fetchall() == [(2.5, "x")]
        assert con.execute("SELECT count(*), sum(k) FROM lake.big WHERE late IS NULL").fetchall() == [
            (100_000, sum(range(100_000)))
        ]


def test_json_folder_table_unifies_files(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "a.jsonl").write_text('{"id": 1, "v": 1}\n')
    (tmp_path / "events" / "b.json").write_text('[{"id": 2, "v": 2.5, "extra": true}]')
    rows = _both(tmp_path, "SELECT id, v, extra FROM lake.events")
    assert rows == [(1, 1.0, None), (2, 2.5, True)]


def test_bad_json_is_a_data_error(tmp_path):
    (tmp_path / "bad.json").write_text("[1, 2, 3]")
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(tmp_path))
        with pytest.raises(fedq.DataError, match="array must hold objects"):
            con.execute("SELECT * FROM lake.bad")


# -- hive partitions ------------------------------------------------------------------------
@pytest.fixture
def hive_lake(tmp_path):
    for year in (2023, 2024):
        for month in ("01", "02", "11"):
            folder = tmp_path / "sales" / f"year={year}" / f"month={month}"
            folder.mkdir(parents=True)
            pq.write_table(pa.table({"amount": [year * 100 + int(month)] * 4, "units": [1, 2, 3, 4]}),
                           folder / "part-0.parquet")
    for region in ("eu", "us"):
        folder = tmp_path / "visits" / f"region={region}"
        folder.mkdir(parents=True)
        (folder / "v.jsonl").write_text(f'{{"n": 1}}\n{{"n": {2 if region == "eu" else 5}}}\n')
    return tmp_path


def test_hive_partition_keys_are_columns_typed_by_their_values(hive_lake):
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(hive_lake))
        assert [(c[0], c[1]) for c in con.execute("DESCRIBE lake.sales").fetchall()] == [
            ("amount", "BIGINT"), ("units", "BIGINT"), ("year", "BIGINT"), ("month", "BIGINT")  # month=01 -> 1
        ]
        assert [(c[0], c[1]) for c in con.execute("DESCRIBE lake.visits").fetchall()] == [
            ("n", "BIGINT"), ("region", "VARCHAR")
        ]
    assert _both(hive_lake, "SELECT region, sum(n) FROM lake.visits WHERE region = 'us' GROUP BY 1") == [("us", 6)]
    assert _both(hive_lake, "SELECT year, month, sum(units) FROM lake.sales WHERE month > 1 GROUP BY ALL") == [
        (2023, 2, 10), (2023, 11, 10), (2024, 2, 10), (2024, 11, 10)
    ]  # ints compare equal to DuckDB's HUGEINT sums (Decimal)


def test_hive_filter_prunes_folders(hive_lake):
    with fedq.connect() as con:
        con.attach("lake", "files", url=str(hive_lake))
        sql = "SELECT sum(amount) FROM lake.sales WHERE year = 2024"
        assert con.execute(sql).fetchall() == [(4 * (202401 + 202402 + 202411),)]
        analyzed = con.execute("EXPLAIN ANALYZE " + sql).fetchall()[0]
        assert analyzed[4] == '"year" = 2024' and analyzed[7] == 12  # 3 of 6 files' rows
        dataset = con.source("lake").dataset(TableName("main", "sales"))
        assert len(list(dataset.get_fragments())) == 6
        pruned = list(dataset.get_fragments(filter=ds.field("year") == 2024))
        assert len(pruned) == 3 and all("year=2024" in f.path for f in pruned)
        # the proof: with 2023's files gone, the filtered query never opens them
        for month in ("01", "02", "11"):
            os.remove(hive_lake / "sales" / "year=2023" / f"month={month}" / "part-0.parquet")
        assert con.execute(sql).fetchall() == [(4 * (202401 + 202402 + 202411),)]
        with pytest.raises(fedq.Error):
            con.execute("SELECT sum(amount) FROM lake.sales").fetchall()


def test_hive_detection_needs_key_value_folders_everywhere(tmp_path):
    (tmp_path / "t" / "year=2024").mkdir(parents=True)
    (tmp_path / "t" / "other").mkdir()
    pq.write_table(pa.table({"a": [1]}), tmp_path / "t" / "year=2024" / "p.parquet")
    pq.write_table(pa.table({"a": [2]}), tmp_path / "t" / "other" / "p.parquet")
    (tmp_path / "u" / "code=007").mkdir(parents=True)
    (tmp_path / "u" / "code=x1").mkdir(parents=True)
    pq.write_table(pa.table({"a": [1]}), tmp_path / "u" / "code=007" / "p.parquet")
    pq.write_table(pa.table({"a": [2]}), tmp_path / "u" / "code=x1" / "p.parquet")
    assert _both(tmp_path, "SELECT * FROM lake.t") == [(1,), (2,)]  # no partition column
    assert _both(tmp_path, "SELECT * FROM lake.u WHERE code = '007'") == [(1, "007")]  # not all digits: text


def test_hive_layout_through_a_declared_glob(hive_lake):
    rows = _both(hive_lake, "SELECT DISTINCT year FROM lake.s WHERE month = 11", tables={"s": "sales/*/*/*.parquet"})
    assert rows == [(2023,), (2024,)]


# -- memory:// ------------------------------------------------------------------------------
@pytest.fixture
def memory_lake():
    fs = fsspec.filesystem("memory")
    root = f"/lake-{uuid.uuid4().hex}"
    with fs.open(f"{root}/orders.parquet", "wb") as f:
        pq.write_table(pa.table({"id": [1, 2, 3], "customer": [10, 20, 10], "amount": [5.0, 7.5, 1.25]}), f)
    with fs.open(f"{root}/customers.csv", "wb") as f:
        f.write(b'id,name\n10,ann\n20,""\n30,\n')
    with fs.open(f"{root}/notes.json", "wb") as f:
        f.write(json.dumps([{"order_id": 1, "note": "gift"}, {"order_id": 3, "note": "rush"}]).encode())
    with fs.open(f"{root}/hits/day=1/h.parquet", "wb") as f:
        pq.write_table(pa.table({"n": [1, 2]}), f)
    with fs.open(f"{root}/hits/day=2/h.parquet", "wb") as f:
        pq.write_table(pa.table({"n": [3]}), f)
    yield f"memory://{root.lstrip('/')}"
    fs.rm(root, recursive=True)


def test_memory_url_holds_parquet_csv_json_and_hive(memory_lake):
    with fedq.connect() as con:
        con.attach("lake", "files", url=memory_lake)
        assert [t[2] for t in con.execute("SHOW TABLES FROM lake").fetchall()] == ["customers", "hits", "notes", "orders"]
    sql = """SELECT o.id, c.name, n.note FROM lake.orders o JOIN lake.customers c ON c.id = o.customer
             LEFT JOIN lake.notes n ON n.order_id = o.id WHERE o.amount < 7"""
    assert _both(memory_lake, sql) == [(1, "ann", "gift"), (3, "ann", "rush")]
    assert _both(memory_lake, "SELECT name IS NULL, name FROM lake.customers WHERE id > 10") == [(False, ""), (True, None)]
    assert _both(memory_lake, "SELECT day, sum(n) FROM lake.hits WHERE day = 2 GROUP BY 1") == [(2, 3)]


# -- http:// ---------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format, *args):  # noqa: A002
        self.requests.append(self.path)


@pytest.fixture
def http_folder(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path``; yields (base URL, folder, request log)."""
    log: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", tmp_path, log
    server.shutdown()
    server.server_close()


def test_http_url_with_declared_tables(http_folder):
    pytest.importorskip("aiohttp", reason="fsspec's HTTP filesystem needs aiohttp (pip install 'fedq[http]')")
    base, folder, log = http_folder
    pq.write_table(pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), folder / "t.parquet")
    pacsv.write_csv(pa.table({"id": [2, 3], "w": [20, 30]}), folder / "c.csv")
    (folder / "j.json").write_text('[{"id": 3, "x": true}]')
    tables = {"t": "t.parquet", "c": "c.csv", "j": "j.json"}
    sql = "SELECT t.id, t.v, c.w, j.x FROM lake.t t JOIN lake.c c ON c.id = t.id LEFT JOIN lake.j j ON j.id = t.id WHERE t.id >= 2"
    assert _both(base + "/", sql, tables=tables) == [(2, "b", 20, None), (3, "c", 30, True)]
    assert any(path == "/t.parquet" for path in log)  # the server really served it


def test_http_missing_file_is_an_operational_error(http_folder):
    pytest.importorskip("aiohttp", reason="fsspec's HTTP filesystem needs aiohttp (pip install 'fedq[http]')")
    base, _, _ = http_folder
    with fedq.connect() as con:
        con.attach("lake", "files", url=base, tables={"t": "nothere.parquet"})
        with pytest.raises(fedq.OperationalError, match="no files match 'nothere.parquet'"):
            con.execute("SELECT * FROM lake.t")


# -- missing fsspec packages -----------------------------------------------------------------
@pytest.mark.parametrize("url, package, extra", [
    ("s3://bucket/lake", "s3fs", "s3"), ("gs://bucket/lake", "gcsfs", "gcs"), ("az://container/lake", "adlfs", "azure"),
])
def test_object_store_url_names_the_missing_package(url, package, extra):
    try:
        __import__(package)
        pytest.skip(f"{package} is installed")
    except ImportError:
        pass
    with fedq.connect() as con:
        con.attach("lake", "files", url=url)
        with pytest.raises(fedq.OperationalError) as error:
            con.execute("SELECT * FROM lake.t")
    assert f"'{package}' package" in str(error.value) and f"pip install 'fedq[{extra}]'" in str(error.value)


def test_http_url_without_aiohttp_names_it():
    # a fresh interpreter in which importing aiohttp fails, as on an install without the extra
    code = """
import sys
sys.modules["aiohttp"] = None
import fedq
con = fedq.connect()
con.attach("web", "files", url="http://127.0.0.1:9/lake", tables={"t": "t.parquet"})
try:
    con.execute("SELECT * FROM web.t")
except fedq.OperationalError as error:
    print(error)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "http:// URLs need the 'aiohttp' package" in out.stdout, out.stderr
    assert "pip install 'fedq[http]'" in out.stdout


def test_nested_json_columns_are_described_with_their_duckdb_types(tmp_path):
    import json

    (tmp_path / "a.json").write_text(json.dumps([{"id": 1, "tags": ["a", "b"], "o": {"x": 1}}]))
    with fedq.connect() as con:
        con.attach("l", "files", url=str(tmp_path))
        assert con.execute("DESCRIBE l.a").fetchall() == [
            ("id", "BIGINT", "yes"), ("tags", "VARCHAR[]", "yes"), ("o", 'STRUCT("x" BIGINT)', "yes")]
        assert con.execute("SELECT a.o.x, len(a.tags) FROM l.a a WHERE a.id = 1").fetchall() == [(1, 2)]
