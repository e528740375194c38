"""SQLite's ADBC read paths (sources/sqlite.py): scans typed by a seed row, pushed queries with the
sqlite3 fallback, exact decimals, storage-class mismatches, cancel, read-only.

Batches are made tiny (monkeypatched SCAN_BATCH_ROWS) so the cases the driver's first-batch typing
gets wrong (a column NULL in its first batch, integers then reals) happen on a few rows.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import fedq
from fedq.sources import sqlite as sqlite_source
from fedq.sources.base import FetchStats, ScanRequest, TableName

ROWS = [  # NULLs first, so the driver's first batch (2 rows) sees no value of any column
    (None, None, None, None, None, None, None, None),
    (None, None, None, None, None, None, None, None),
    (1, 1.5, "12.25", "a", "2024-01-02", "2024-01-02 03:04:05", 1, b"\x00\x01"),
    (2, 2, 7, "ß", "2024-02-29", "2024-02-29 23:59:59.123456", 0, b""),
    (3, -0.25, 123456789012345678, "", "1999-12-31", "1999-12-31 00:00:00", 1, b"x"),
]


@pytest.fixture
def lite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[fedq.Connection, object, Path]:
    monkeypatch.setattr(sqlite_source, "SCAN_BATCH_ROWS", 2)
    path = tmp_path / "t.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (i INTEGER, r REAL, m DECIMAL(20,2), s TEXT, d DATE, ts TIMESTAMP, b BOOLEAN, bl BLOB)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
        con.execute("CREATE TABLE legacy (id INTEGER, qty INTEGER)")  # qty also holds text and a real
        con.executemany("INSERT INTO legacy VALUES (?, ?)", [(1, None), (2, None), (3, 5), (4, "n/a"), (5, 1.5), (6, b"\x01")])
    connection = fedq.connect()
    source = connection.attach("lite", "sqlite", path=str(path))
    yield connection, source, path
    connection.close()


EXPECTED = [
    (None,) * 8,
    (None,) * 8,
    (1, 1.5, Decimal("12.25"), "a", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), True, b"\x00\x01"),
    (2, 2.0, Decimal("7.00"), "ß", dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59, 123456), False, b""),
    (3, -0.25, Decimal("123456789012345678.00"), "", dt.date(1999, 12, 31), dt.datetime(1999, 12, 31), True, b"x"),
]


def _scan(source, table: str, columns: tuple[str, ...]) -> pa.Table:
    schema = source.table_schema(TableName("main", table))
    request = ScanRequest(TableName("main", table), columns, pa.schema([schema.field(c) for c in columns]))
    return source.scan(request, FetchStats()).read_all()


def test_a_scan_types_columns_whose_first_batch_is_null(lite) -> None:
    _, source, _ = lite
    table = _scan(source, "t", ("i", "r", "m", "s", "d", "ts", "b", "bl"))
    assert table.schema.types == [pa.int64(), pa.float64(), pa.decimal128(20, 2), pa.string(), pa.date32(),
                                  pa.timestamp("us"), pa.bool_(), pa.binary()]
    assert [tuple(r.values()) for r in table.to_pylist()] == EXPECTED


def test_a_scan_of_no_columns_counts_rows(lite) -> None:
    _, source, _ = lite
    request = ScanRequest(TableName("main", "t"), (), pa.schema([]))
    assert source.scan(request, FetchStats()).read_all().num_rows == len(ROWS)


def test_whole_queries_match_sqlite3_and_decimals_stay_exact(lite) -> None:
    con, _, _ = lite
    rows = con.execute("SELECT i, r, m, s, d, ts, b, bl FROM lite.t ORDER BY i NULLS FIRST").fetchall()
    assert rows == EXPECTED
    assert con.execute("SELECT m FROM lite.t WHERE i = 3").fetchall() == [(Decimal("123456789012345678.00"),)]


def test_a_pushed_query_whose_types_change_between_batches_runs_again_through_sqlite3(lite) -> None:
    _, source, _ = lite
    stats = FetchStats()
    sql = 'SELECT "r", "s" FROM "t" ORDER BY rowid'  # r: NULL, NULL, then reals: the driver fails on batch 2
    table = source.query(sql, (), stats).read_all()
    assert table.column("r").to_pylist() == [None, None, 1.5, 2.0, -0.25]
    assert table.column("s").to_pylist() == [None, None, "a", "ß", ""]
    assert stats.rows == 5 and source.statements.count(sql) == 1


def test_a_column_with_mismatched_storage_classes_is_read_as_text(lite) -> None:
    con, source, _ = lite
    assert source.table_schema(TableName("main", "legacy")).field("qty").type == pa.string()
    assert "qty" in source.unsafe_columns(TableName("main", "legacy"))
    scanned = _scan(source, "legacy", ("id", "qty")).column("qty").to_pylist()
    assert scanned == [None, None, "5", "n/a", "1.5", "X'01'"]
    rows = con.execute("SELECT id FROM lite.legacy WHERE qty = '5'").fetchall()  # filtered by DuckDB, not SQLite
    assert rows == [(3,)]


def test_a_value_that_does_not_fit_its_declared_type_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (d DATE)")
        con.execute("INSERT INTO t VALUES ('not a date')")  # text: the storage class fits, the value does not
    with fedq.connect() as connection:
        source = connection.attach("lite", "sqlite", path=str(path))
        with pytest.raises(fedq.OperationalError, match=r"source 'lite' \(sqlite\): a value does not match its declared type"):
            _scan(source, "t", ("d",))


def test_cancel_stops_a_scan_at_its_next_batch_and_releases_it(lite) -> None:
    _, source, _ = lite
    schema = source.table_schema(TableName("main", "t"))
    reader = source.scan(ScanRequest(TableName("main", "t"), ("i",), pa.schema([schema.field("i")])), FetchStats())
    reader.read_next_batch()
    assert len(source._scans) == 1
    source.cancel()
    with pytest.raises(fedq.OperationalError, match=r"source 'lite' \(sqlite\): query failed: interrupted"):
        reader.read_next_batch()
    assert not source._scans


def test_scans_and_queries_cannot_write(lite) -> None:
    _, source, path = lite
    with pytest.raises(fedq.OperationalError, match="source 'lite'"):
        source.query("CREATE TABLE x (a)", (), FetchStats()).read_all()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'x'").fetchone() == (0,)
