"""Parallel partitioned reads of one PostgreSQL table (sources/pg_partitions.py): ctid ranges over
several connections in one snapshot give exactly the rows of a single-stream scan, stop cleanly,
and show in EXPLAIN. The threshold is lowered (``parallel_read_min_pages=1``) so small tables split."""
from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import pyarrow as pa
import pytest

import fedq
from fedq.sources.base import FetchStats, ScanRequest, TableName
from fedq.sources import pg_partitions
from fedq.sources.pg_partitions import block_ranges, ctid_terms
from cleanup import drop_pg_schemas

SCHEMA = "fedq_part"
ROWS = 5_003  # a prime: the last page is partly filled, pages do not divide evenly
LOCAL = "hash(id) IS NOT NULL"  # DuckDB-only, always true: keeps the fragment a table scan (not a pushed query)


def _execute(dsn: str, *statements: str) -> None:
    with pgdb.connect(dsn, autocommit=True) as con, con.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


@pytest.fixture(scope="module")
def dsn(request, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    _execute(
        pg_admin_dsn,
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
        f"CREATE SCHEMA {SCHEMA}",
        f"CREATE TABLE {SCHEMA}.t (id integer, amount numeric(12,2), label text, code char(4), day date, "
        "at timestamptz, flag boolean)",
        f"INSERT INTO {SCHEMA}.t SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END, "
        "CASE WHEN i % 11 = 0 THEN NULL ELSE 'label ' || i END, CASE WHEN i % 13 = 0 THEN NULL ELSE 'c' || (i % 50) END, "
        "DATE '2020-01-01' + (i % 1000), TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '1 minute', "
        f"CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END FROM generate_series(1, {ROWS}) i",
        f"INSERT INTO {SCHEMA}.t (id) VALUES (NULL)",
        f"CREATE TABLE {SCHEMA}.empty (id integer, label text)",
        f"CREATE TABLE {SCHEMA}.emptied (id integer, label text)",  # pages, but no visible rows
        f"INSERT INTO {SCHEMA}.emptied SELECT i, 'x' FROM generate_series(1, 5000) i",
        f"DELETE FROM {SCHEMA}.emptied",
        f"CREATE TABLE {SCHEMA}.moving AS SELECT i AS id, 0 AS version FROM generate_series(1, 20000) i",
        f"CREATE TABLE {SCHEMA}.big AS SELECT i AS id, repeat('x', 200) AS pad FROM generate_series(1, 40000) i",
        f"ANALYZE {SCHEMA}.t",
    )
    return pg_dsn


def _connect(dsn: str, parts: int, **options) -> fedq.Connection:
    con = fedq.connect(**options)
    con.attach("pg", "postgres", dsn=dsn, max_parallel_reads=parts, parallel_read_min_pages=1, passthrough=True)
    return con


@pytest.fixture(scope="module")
def cons(dsn):
    """One fedq connection per partition limit (1: a single stream), kept for the module: pools stay warm."""
    connections = {parts: _connect(dsn, parts) for parts in (1, 2, 3)}
    yield connections
    for con in connections.values():
        con.close()


def _rows(con: fedq.Connection, sql: str, params=None) -> tuple[list, list[int]]:
    cursor = con.execute(sql, params)
    rows = cursor.fetchall()
    return sorted(rows, key=repr), [f.stats.partitions for f in cursor.plan.fragments]


QUERIES = [
    (f"SELECT * FROM pg.{SCHEMA}.t WHERE {LOCAL}", None),
    (f"SELECT label, code, amount FROM pg.{SCHEMA}.t WHERE {LOCAL}", None),  # a projection
    (f"SELECT id, day, flag FROM pg.{SCHEMA}.t WHERE id > ? AND amount IS NULL AND {LOCAL}", [500]),  # pushed filters
    (f"SELECT id, at FROM pg.{SCHEMA}.t WHERE (code = 'c7' OR label IS NULL) AND {LOCAL}", None),
    (f"SELECT * FROM pg.{SCHEMA}.empty WHERE {LOCAL}", None),
    (f"SELECT * FROM pg.{SCHEMA}.emptied WHERE {LOCAL}", None),
]


@pytest.mark.parametrize("sql, params", QUERIES)
def test_partitioned_scans_return_the_rows_of_one_stream(cons, sql, params):
    single, single_parts = _rows(cons[1], sql, params)
    for parts in (2, 3):
        partitioned, used = _rows(cons[parts], sql, params)
        assert partitioned == single
        assert used == [parts] or "empty WHERE" in sql  # an empty table has no pages to split
    assert single_parts == [0]


PUSHED = [  # sent to PostgreSQL whole: split only when it reads one table row by row
    (f"SELECT * FROM pg.{SCHEMA}.t", None, True),
    (f"SELECT id * 2 AS twice, upper(label) AS label, amount FROM pg.{SCHEMA}.t WHERE id > ? OR code IS NULL", [4000], True),
    (f"SELECT * FROM query('pg', 'SELECT id, label FROM {SCHEMA}.t WHERE id % 3 = 0')", None, True),
    (f"SELECT id, label FROM pg.{SCHEMA}.t ORDER BY id LIMIT 50", None, False),
    (f"SELECT code, count(*), sum(amount) FROM pg.{SCHEMA}.t GROUP BY code", None, False),
    (f"SELECT DISTINCT code FROM pg.{SCHEMA}.t", None, False),
    (f"SELECT a.id, b.label FROM pg.{SCHEMA}.t a JOIN pg.{SCHEMA}.t b ON a.id = b.id + 1", None, False),
]


@pytest.mark.parametrize("sql, params, split", PUSHED)
def test_pushed_row_wise_queries_are_split_and_return_the_rows_of_one_stream(cons, sql, params, split):
    single, _ = _rows(cons[1], sql, params)
    partitioned, used = _rows(cons[3], sql, params)
    assert partitioned == single
    assert used == ([3] if split else [0])
    plan = cons[3].execute("EXPLAIN " + sql, params).fetchall()
    assert plan[0][2] == ("remote query (3 partitions)" if split else "remote query")


def test_every_value_survives_including_nulls_and_padding(cons):
    rows, used = _rows(cons[3], f"SELECT * FROM pg.{SCHEMA}.t WHERE {LOCAL}")
    assert used == [3] and len(rows) == ROWS + 1
    by_id = {r[0]: r for r in rows}
    assert by_id[14] == (14, None, "label 14", "c14", dt.date(2020, 1, 15),
                         dt.datetime(2020, 1, 1, 0, 14, tzinfo=dt.timezone.utc), True)
    assert by_id[27][3] == "c27" and by_id[13][3] is None and by_id[22][2] is None and by_id[10][6] is None
    assert by_id[8][1] == Decimal("10.00")
    assert by_id[None] == (None,) * 7


def test_ranges_cover_every_page_even_when_the_size_estimate_is_stale():
    assert block_ranges(10, 3) == [(None, 3), (3, 6), (6, None)]
    assert block_ranges(2, 2) == [(None, 1), (1, None)]


def test_all_partitions_read_one_snapshot(dsn, pg_admin_dsn, monkeypatch):
    """Rows updated and inserted by another session after the first partition exported its snapshot
    (and before the others imported it) are invisible to every partition."""
    _execute(pg_admin_dsn, f"DELETE FROM {SCHEMA}.moving WHERE id > 20000", f"UPDATE {SCHEMA}.moving SET version = 0")
    ranges = []

    def ctid_terms_then_write(start, end):
        ranges.append((start, end))
        if len(ranges) == 2:  # the leader has exported its snapshot; the others have not started
            _execute(pg_admin_dsn, f"UPDATE {SCHEMA}.moving SET version = version + 1",
                     f"INSERT INTO {SCHEMA}.moving SELECT i, 1 FROM generate_series(20001, 21000) i")
        return ctid_terms(start, end)

    monkeypatch.setattr(pg_partitions, "ctid_terms", ctid_terms_then_write)
    with _connect(dsn, 4) as con:
        cursor = con.execute(f"SELECT version, count(*), count(DISTINCT id), max(id) FROM pg.{SCHEMA}.moving "
                             f"WHERE {LOCAL} GROUP BY version")
        rows = cursor.fetchall()
        assert [f.stats.partitions for f in cursor.plan.fragments] == [4] and len(ranges) == 4
    assert rows == [(0, 20000, 20000, 20000)]  # the state before the update, each row once
    monkeypatch.undo()
    with _connect(dsn, 4) as con:  # a new read sees the change
        assert con.execute(f"SELECT version, count(*) FROM pg.{SCHEMA}.moving WHERE {LOCAL} GROUP BY 1").fetchall() \
            == [(1, 21000)]


def _open_transactions(dsn: str) -> list:
    """fedq sessions of this test that are inside a transaction or still running a statement."""
    with pgdb.connect(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT pid, state, query FROM pg_stat_activity WHERE application_name = 'fedq' "
                    "AND pid <> pg_backend_pid() AND state <> 'idle' "
                    f"AND (query LIKE '%{SCHEMA}%' OR query LIKE '%SNAPSHOT%')")
        return cur.fetchall()


def _settled(dsn: str) -> list:
    deadline = time.monotonic() + 10
    while (left := _open_transactions(dsn)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_stopping_early_ends_every_partition_transaction(dsn):
    with _connect(dsn, 3) as con:
        cursor = con.cursor()
        cursor.arraysize = 10
        cursor.execute(f"SELECT id, pad FROM pg.{SCHEMA}.big WHERE {LOCAL}")
        assert len(cursor.fetchmany()) == 10
        assert [f.stats.partitions for f in cursor.plan.fragments] == [3]
        cursor.close()
        assert _settled(dsn) == []
        # a local LIMIT: DuckDB stops reading the partitions after a few rows
        cursor = con.execute(f"SELECT id FROM pg.{SCHEMA}.big WHERE {LOCAL} LIMIT 5")
        assert len(cursor.fetchall()) == 5 and [f.stats.partitions for f in cursor.plan.fragments] == [3]
        cursor.close()
        assert _settled(dsn) == []
        # the pool still works afterwards
        assert con.execute(f"SELECT count(*) FROM pg.{SCHEMA}.big WHERE {LOCAL}").fetchall() == [(40000,)]
    assert _settled(dsn) == []


def test_a_cancelled_partitioned_scan_leaves_no_open_transaction(dsn):
    slow = f"SELECT count(*) FROM pg.{SCHEMA}.big a JOIN pg.{SCHEMA}.big b ON a.id < b.id WHERE hash(a.id) IS NOT NULL"
    with _connect(dsn, 3, timeout=0.5) as con:
        with pytest.raises(fedq.OperationalError, match="deadline"):
            con.execute(slow).fetchall()
        assert _settled(dsn) == []
    with _connect(dsn, 3) as con:
        cursor = con.cursor()
        threading.Timer(0.3, cursor.cancel).start()
        with pytest.raises(fedq.OperationalError, match="cancel"):
            cursor.execute(slow).fetchall()
        assert _settled(dsn) == []


def test_a_source_never_uses_more_parallel_connections_than_allowed(dsn):
    with _connect(dsn, 3) as con:
        source = con.source("pg")
        schema = con.catalog.resolve(["pg", SCHEMA, "big"]).schema
        request = ScanRequest(TableName(SCHEMA, "big"), ("id",), pa.schema([schema.field("id")]))
        first_stats, second_stats, third_stats = FetchStats(), FetchStats(), FetchStats()
        first = source.scan(request, first_stats)  # holds all 3 connections until it is closed
        second = source.scan(request, second_stats)
        assert (first_stats.partitions, second_stats.partitions) == (3, 0)  # the second falls back to one stream
        assert second.read_all().num_rows == 40000
        assert first.read_all().num_rows == 40000
        first.close()
        third = source.scan(request, third_stats)
        assert third_stats.partitions == 3 and third.read_all().num_rows == 40000


def test_explain_shows_the_partitions(dsn):
    sql = f"SELECT id FROM pg.{SCHEMA}.big WHERE id > 10 AND {LOCAL}"
    with _connect(dsn, 3) as con:
        plan = con.execute("EXPLAIN " + sql).fetchall()
        assert plan[0][2] == "table scan (3 partitions)"
        analyzed = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
        assert analyzed[0][2] == "table scan (3 partitions)" and analyzed[0][7] == 39990
        assert sum("ctid" in s for s in con.source("pg").statements) == 3
    with _connect(dsn, 1) as con:
        assert con.execute("EXPLAIN " + sql).fetchall()[0][2] == "table scan"
    with fedq.connect() as con:  # the default threshold: a small table is one stream
        con.attach("pg", "postgres", dsn=dsn)
        assert con.execute("EXPLAIN " + sql).fetchall()[0][2] == "table scan"
