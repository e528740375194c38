"""DuckDB-file sources attached READ_ONLY inside fedq's local engine (issue 18 item 3): their tables
are read by the local DuckDB itself, never streamed through Arrow; nothing can write the file; deadlines,
cancel, errors naming the source, a missing or corrupt file, REFRESH and a replaced file behave.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import fedq

QUERIES = [
    "SELECT g, sum(i) AS s, avg(d) AS a, count(*) AS n FROM wh.t GROUP BY g ORDER BY g",
    "SELECT name, count(*) AS n, max(d) AS m FROM wh.t JOIN wh.dim USING (g) WHERE i < 500 GROUP BY name ORDER BY name",
    "SELECT i, d FROM wh.t WHERE i BETWEEN 10 AND 20 ORDER BY i DESC LIMIT 5",
    "SELECT count(DISTINCT g) AS n, min(i) AS lo FROM wh.other.t2",
]


def _write(path: Path, rows: int = 10_000) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute(f"CREATE TABLE t AS SELECT range AS i, (range % 7)::INTEGER AS g, (range * 1.25)::DECIMAL(12,2) AS d FROM range({rows})")
        db.execute("CREATE TABLE dim AS SELECT range::INTEGER AS g, 'name ' || range AS name FROM range(7)")
        db.execute("CREATE SCHEMA other")
        db.execute("CREATE TABLE other.t2 AS SELECT range AS i, range % 3 AS g FROM range(100)")


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _reference(path: Path, sql: str) -> list[tuple]:
    """DuckDB's own answer with the file attached under the same name."""
    with duckdb.connect() as db:
        db.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
        return db.sql(sql).fetchall()


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    _write(path)
    return path


@pytest.fixture
def con(wh: Path):
    with fedq.connect(home=False) as connection:
        connection.attach("wh", "duckdb", path=str(wh))
        yield connection


@pytest.mark.parametrize("sql", QUERIES)
def test_tables_are_read_inside_the_local_engine_with_duckdbs_answers(con, wh, sql):
    plan = con.plan(sql)
    assert plan.fragments and all(f.kind == "native" and f.native is not None for f in plan.fragments)
    assert all(f.remote.startswith("attached READ_ONLY, read by DuckDB") for f in plan.fragments)
    assert '"wh"."' in plan.local_sql  # the attached table itself, no registered Arrow stream
    assert con.execute(sql).fetchall() == _reference(wh, sql)
    assert con.source("wh").statements == []  # the source's own DuckDB ran no query (metadata only)


def test_explain_says_the_file_is_attached_and_why_nothing_is_pushed(con):
    rows = con.execute("EXPLAIN SELECT g, sum(i) FROM wh.t GROUP BY g").fetchall()
    scans = [r for r in rows if r[1] == "wh"]
    assert len(scans) == 1 and scans[0][3] == 'attached READ_ONLY, read by DuckDB: "wh"."main"."t" columns=[i, g]'
    (local,) = [r for r in rows if r[0] == "local"]
    assert "wh is a DuckDB file attached read-only to the local engine" in local[6]


def test_a_join_with_another_source_reads_the_file_natively_and_streams_the_other(con, wh):
    con.register("fedq_native_names", pa.table({"g": pa.array([0, 1, 2], pa.int32()), "label": ["a", "b", "c"]}))
    sql = "SELECT label, count(*) AS n FROM wh.t JOIN memory.fedq_native_names USING (g) GROUP BY label ORDER BY label"
    plan = con.plan(sql)
    assert {f.source.name: f.native is not None for f in plan.fragments} == {"wh": True, "memory": False}
    assert con.execute(sql).fetchall() == [("a", 1429), ("b", 1429), ("c", 1429)]  # 10,000 rows, g = i % 7


def test_reader_arrow_streams_from_a_separate_duckdb_with_the_same_answers(wh):
    with fedq.connect(home=False) as connection:
        connection.attach("wh", "duckdb", path=str(wh), reader="arrow")
        for sql in QUERIES:
            plan = connection.plan(sql)
            assert all(f.native is None and f.remote_sql for f in plan.fragments)
            assert connection.execute(sql).fetchall() == _reference(wh, sql)


def test_a_bad_reader_setting_is_refused_naming_it(wh):
    with fedq.connect(home=False) as connection, pytest.raises(fedq.ProgrammingError, match="reader"):
        connection.attach("wh", "duckdb", path=str(wh), reader="native")


# -- read-only -----------------------------------------------------------------------------
@pytest.mark.parametrize("sql", [
    "INSERT INTO wh.t VALUES (1, 1, 1.0)", "UPDATE wh.t SET i = 0", "DELETE FROM wh.t", "DROP TABLE wh.t",
    "CREATE TABLE wh.main.x (i INTEGER)", "CREATE TABLE wh.x AS SELECT 1 AS i", "ALTER TABLE wh.t ADD COLUMN z INTEGER",
    "TRUNCATE wh.t", "CHECKPOINT wh", "SELECT * FROM query('wh', 'INSERT INTO t VALUES (1, 1, 1.0) RETURNING i')",
])
def test_nothing_written_through_fedq_changes_the_file(con, wh, sql):
    con.execute("SELECT count(*) FROM wh.t").fetchall()  # attached
    before = _digest(wh)
    with pytest.raises(fedq.Error):
        con.execute(sql).fetchall()
    assert con.execute("SELECT count(*) FROM wh.t").fetchall() == [(10_000,)]
    assert _digest(wh) == before


@pytest.mark.parametrize("statement", [
    "INSERT INTO wh.main.t VALUES (1, 1, 1.0)", "CREATE TABLE wh.main.x (i INTEGER)", "DROP TABLE wh.main.dim",
    "UPDATE wh.main.t SET i = 0", "DELETE FROM wh.main.t", "CREATE SCHEMA wh.s",
    "ATTACH '{path}' AS wh2", "COPY wh.main.t TO '{path}'",
])
def test_the_local_engine_itself_cannot_write_the_attached_file(con, wh, statement):
    """Even SQL run directly on the local engine (never what fedq sends it) cannot write: DuckDB holds
    the file READ_ONLY, and the sandbox opens no path for a second, writable ATTACH or a COPY."""
    con.execute("SELECT count(*) FROM wh.t").fetchall()
    before = _digest(wh)
    with pytest.raises(duckdb.Error):
        con._database.execute(statement.format(path=wh))
    assert _digest(wh) == before
    assert con._database.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = 'wh'").fetchall() == [(True,)]


# -- deadlines, cancel, errors -----------------------------------------------------------------
SLOW = "SELECT count(*) FROM wh.t a, wh.t b, wh.t c WHERE hash(a.i, b.i, c.i) = 42"  # 10^12 rows: never finishes


def test_a_deadline_ends_a_native_read_on_time(wh):
    with fedq.connect(home=False, timeout=1.0) as connection:
        connection.attach("wh", "duckdb", path=str(wh))
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="deadline|timeout|time"):
            connection.execute(SLOW).fetchall()
        assert time.monotonic() - started < 2.0
        assert connection.execute("SELECT count(*) FROM wh.t").fetchall() == [(10_000,)]  # the engine still works


def test_cancel_stops_a_native_read(con):
    cursor = con.cursor()
    threading.Timer(0.5, cursor.cancel).start()
    started = time.monotonic()
    with pytest.raises(fedq.OperationalError, match="cancel"):
        cursor.execute(SLOW).fetchall()
    assert time.monotonic() - started < 3.0


def test_a_failure_while_reading_names_the_source_and_table(con):
    with pytest.raises(fedq.DataError, match=r"source 'wh', table 'dim'"):
        con.execute("SELECT CAST(name AS INTEGER) FROM wh.dim").fetchall()


def test_a_missing_file_is_a_clean_error_naming_the_source(tmp_path):
    with fedq.connect(home=False) as connection:
        connection.attach("wh", "duckdb", path=str(tmp_path / "missing.duckdb"))
        with pytest.raises(fedq.OperationalError, match=r"source 'wh' \(duckdb\).*(no such file|could not open)"):
            connection.execute("SELECT * FROM wh.t").fetchall()
        assert connection.execute("SELECT 1 AS x").fetchall() == [(1,)]


def test_a_corrupt_file_is_a_clean_error_and_other_sources_still_work(tmp_path, wh):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(os.urandom(64 * 1024))
    with fedq.connect(home=False) as connection:
        connection.attach("bad", "duckdb", path=str(bad))
        connection.attach("wh", "duckdb", path=str(wh))
        with pytest.raises(fedq.OperationalError, match=r"source 'bad' \(duckdb\)"):
            connection.execute("SELECT * FROM bad.t").fetchall()
        assert connection.execute("SELECT count(*) FROM wh.t").fetchall() == [(10_000,)]
        assert connection.plan("SELECT count(*) FROM wh.t").fragments[0].native is not None


# -- REFRESH, a replaced file ------------------------------------------------------------------
def test_refresh_keeps_the_file_attached(con, wh):
    sql = QUERIES[0]
    first = con.execute(sql).fetchall()
    con.execute("REFRESH wh")
    assert con.plan(sql).fragments[0].native is not None
    assert con.execute(sql).fetchall() == first
    con.execute("REFRESH")
    assert con.execute(sql).fetchall() == first


def test_a_file_replaced_under_fedq_is_read_as_the_version_its_metadata_describes(con, wh, tmp_path):
    """A file renamed over the attached one: the plans made with the old file's cached schema read the
    old file (streamed from the source's own handle, never the new file natively); once that handle is
    closed, a new connection attaches and reads the new one (DuckDB shares an open file's instance
    within a process, so a connection opened before that still sees the old file)."""
    assert con.execute("SELECT count(*) FROM wh.t").fetchall() == [(10_000,)]
    replacement = tmp_path / "new.duckdb"
    with duckdb.connect(str(replacement)) as db:
        db.execute("CREATE TABLE t AS SELECT range AS i, 'x' AS extra FROM range(5)")
    os.replace(replacement, wh)
    plan = con.plan("SELECT count(*) FROM wh.t")
    assert all(f.native is None for f in plan.fragments)
    assert con.execute("SELECT count(*), sum(i) FROM wh.t").fetchall() == [(10_000, 49_995_000)]
    con.close()
    with fedq.connect(home=False) as fresh:
        fresh.attach("wh", "duckdb", path=str(wh))
        assert fresh.execute("SELECT count(*), max(extra) FROM wh.t").fetchall() == [(5, "x")]
        assert fresh.plan("SELECT count(*) FROM wh.t").fragments[0].native is not None


def test_two_connections_attach_the_same_file(wh):
    with fedq.connect(home=False) as one, fedq.connect(home=False) as two:
        for connection in (one, two):
            connection.attach("wh", "duckdb", path=str(wh))
        assert one.execute(QUERIES[0]).fetchall() == two.execute(QUERIES[0]).fetchall() == _reference(wh, QUERIES[0])
