"""Network faults between fedq and its sources, injected by a real TCP proxy (tests/faultproxy.py).

Each case runs against PostgreSQL, MariaDB and the REST test server, each reached through its own
proxy. A fault ends in a ``fedq.OperationalError`` naming the source, within the query's deadline
(never a hang); added latency still gives the right rows. After each case nothing of the test's
statement is left running at the source (``pg_stat_activity``, ``information_schema.PROCESSLIST``)
and no fedq reader thread is left waiting on the network.

``pytest tests/test_faults.py -q -s`` prints a table of the cases, their outcomes and times
(``FEDQ_FAULT_REPORT=path`` also writes it to a file).

The cases:

* ``latency``: 2 ms per forwarded chunk, both ways: the right rows.
* ``drop``: the connection closes after 64 kB of the result: the source's read error, at once.
* ``stall``: after 64 kB of the result nothing more arrives, the connection stays open (one stuck
  flow; a new connection still gets through): the deadline, cancel requests included.
* ``blackhole``: while a database works on a slow statement (REST: before the request), nothing
  gets through on any connection, new ones included, so no cancel request or KILL QUERY can reach
  the server: the deadline locally, and at the source the timeout fedq gave the statement
  (``statement_timeout``, ``max_statement_time``), so the server stops working on it by itself.
* ``connect-blackhole``: the pool is empty and the path is blackholed, so the query's new
  connection is accepted and then hears nothing (no handshake): the deadline.
* ``refuse``: the port closes and open connections are cut: the source's connection error, at once.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import adbc_driver_postgresql.dbapi as pgdb
import pymysql
import pytest

import fedq
from fedq.sources.base import FetchStats
from fedq.sources.mysql import _parse_dsn
from faultproxy import FaultProxy
from rest_server import ApiServer, Reply, Request

ROWS = 30_000  # about 1.5 MB of results: far more than the 64 kB a fault lets through
AFTER = 64 * 1024
PAD = "x" * 40
DEADLINE = 1.5  # seconds, for the cases that end at the deadline
MARGIN = 1.5  # what a case may take beyond its deadline
CLEANUP_SECONDS = 5.0  # how long the source may take to notice (polled)
SOURCES = ("pg", "my", "rest")
CASES = ("latency", "drop", "stall", "blackhole", "connect-blackhole", "refuse", "server-side timeout")


# -- the record of every case (printed at the end of the module) --------------------------------
@dataclass
class Outcome:
    case: str
    source: str
    outcome: str  # "rows ok" or the error's first words
    seconds: float  # execute() to rows or error
    deadline: float | None
    source_clean: float  # seconds after the error until the source ran nothing of the query
    threads_gone: str  # when fedq's threads for the query were all gone


RESULTS: list[Outcome] = []


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if RESULTS:
        table = summary_table(RESULTS)
        print("\n\n" + table)
        if os.environ.get("FEDQ_FAULT_REPORT"):  # a file to keep the figures in
            with open(os.environ["FEDQ_FAULT_REPORT"], "w") as out:
                out.write(table + "\n")


def summary_table(results: list[Outcome]) -> str:
    lines = ["| case | source | deadline | outcome | time to rows / error | statement gone at the source | fedq threads gone |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (CASES.index(r.case), SOURCES.index(r.source))):
        deadline = "none" if r.deadline is None else f"{r.deadline:g} s"
        lines.append(f"| {r.case} | {r.source} | {deadline} | {r.outcome} | {r.seconds:.2f} s | "
                     f"{r.source_clean:.2f} s | {r.threads_gone} |")
    return "\n".join(lines)


# -- the three sources, behind one proxy each --------------------------------------------------
def _pg_admin(dsn: str) -> Any:
    return pgdb.connect(dsn, autocommit=True)


@pytest.fixture(scope="module")
def pg_data(pg_dsn: str, pg_admin_dsn: str) -> Iterator[str]:
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_fault")
        cur.execute("DROP VIEW IF EXISTS fedq_fault.settings, fedq_fault.slept")
        cur.execute("DROP TABLE IF EXISTS fedq_fault.rows, fedq_fault.spin")
        cur.execute(f"CREATE TABLE fedq_fault.rows AS SELECT i AS id, '{PAD}' || i AS payload "
                    f"FROM generate_series(1, {ROWS}) i")
        cur.execute("CREATE TABLE fedq_fault.spin AS SELECT i AS id FROM generate_series(1, 100000) i")
        cur.execute("ANALYZE fedq_fault.rows, fedq_fault.spin")
        cur.execute("CREATE VIEW fedq_fault.settings AS "
                    "SELECT current_setting('statement_timeout') AS t, pg_backend_pid() AS pid")
        cur.execute("CREATE VIEW fedq_fault.slept AS SELECT 1 AS slept FROM pg_sleep(1)")  # passthrough refuses pg_sleep
    yield pg_dsn
    _pg_stop_spinning(pg_admin_dsn)
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA fedq_fault CASCADE")


def _pg_running(dsn: str) -> int:
    """fedq sessions at the server still running one of this module's statements or holding its
    transaction open (an aborted one, waiting for a ROLLBACK that a dead path never brings, holds
    no locks or snapshot: it does not count)."""
    with _pg_admin(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fedq' "
                    "AND state NOT IN ('idle', 'idle in transaction (aborted)') AND query LIKE '%fedq_fault%'")
        return cur.fetchall()[0][0]


def _pg_stop_spinning(dsn: str) -> None:
    with _pg_admin(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%fedq_fault.spin%' "
                    "AND pid <> pg_backend_pid()")
        cur.fetchall()


def _my_admin(dsn: str) -> Any:
    return pymysql.connect(connect_timeout=3, autocommit=True, **_parse_dsn(dsn))


@pytest.fixture(scope="module")
def my_data(mysql_dsn: str, mysql_admin_dsn: str) -> Iterator[str]:
    with _my_admin(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP VIEW IF EXISTS fedq_fault_settings")
        cur.execute("DROP TABLE IF EXISTS fedq_fault_rows, fedq_fault_spin")
        cur.execute("CREATE TABLE fedq_fault_rows (id INT PRIMARY KEY, payload VARCHAR(60))")
        cur.execute(f"INSERT INTO fedq_fault_rows SELECT seq, CONCAT('{PAD}', seq) FROM seq_1_to_{ROWS}")
        cur.execute("CREATE TABLE fedq_fault_spin (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO fedq_fault_spin SELECT seq FROM seq_1_to_100000")
        cur.execute("CREATE OR REPLACE VIEW fedq_fault_settings AS SELECT VARIABLE_VALUE AS t "
                    "FROM information_schema.SESSION_VARIABLES WHERE VARIABLE_NAME = 'MAX_STATEMENT_TIME'")
    yield mysql_dsn
    _my_stop_spinning(mysql_admin_dsn)
    with _my_admin(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP VIEW IF EXISTS fedq_fault_settings")
        cur.execute("DROP TABLE IF EXISTS fedq_fault_rows, fedq_fault_spin")


def _my_running(dsn: str) -> int:
    with _my_admin(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    "WHERE INFO LIKE '%fedq_fault_%' AND ID <> CONNECTION_ID()")
        return cur.fetchone()[0]


def _my_stop_spinning(dsn: str) -> None:
    with _my_admin(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%fedq_fault_spin%' "
                    "AND ID <> CONNECTION_ID()")
        for (thread,) in cur.fetchall():
            try:
                cur.execute(f"KILL QUERY {int(thread)}")
            except pymysql.MySQLError:
                pass


REST_PAGE = 5_000  # rows per page: about 300 kB of JSON, more than a fault lets through


def _rest_rows(request: Request) -> Reply:
    page = int(request.arg("page", "1"))
    first = (page - 1) * REST_PAGE + 1
    last = min(page * REST_PAGE, ROWS)
    return Reply(body={"items": [{"id": i, "payload": f"{PAD}{i}"} for i in range(first, last + 1)]})


@pytest.fixture(scope="module")
def api() -> Iterator[ApiServer]:
    server = ApiServer()
    server.route("/api/fault_rows", _rest_rows)
    yield server
    server.close()


# -- one case --------------------------------------------------------------------------------
@dataclass
class Target:
    """A source behind a proxy: how to attach it, what to run, what counts as left at the server."""

    name: str
    proxy: FaultProxy
    attach: Callable[[fedq.Connection], None]
    rows_sql: str
    slow_sql: str | None
    running: Callable[[], int]


def _threads_left() -> list[str]:
    """fedq threads still alive: fragment readers, REST workers, cancel and KILL senders (one case runs at a time)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("fedq-")]


@pytest.fixture(params=SOURCES)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    name = request.param
    if name == "pg":
        dsn = request.getfixturevalue("pg_data")
        proxy = FaultProxy(urlsplit(dsn).port or 5432)
        proxied = _via(dsn, proxy)
        yield Target(name, proxy, lambda con: con.attach("pg", "postgres", dsn=proxied, connect_timeout=2),
                     "SELECT id, payload FROM pg.fedq_fault.rows",
                     "SELECT count(*) FROM pg.fedq_fault.spin a, pg.fedq_fault.spin b WHERE a.id < b.id",
                     lambda: _pg_running(dsn))
        proxy.close()
        _pg_stop_spinning(dsn)
    elif name == "my":
        dsn = request.getfixturevalue("my_data")
        proxy = FaultProxy(_parse_dsn(dsn)["port"])
        proxied = _via(dsn, proxy)
        yield Target(name, proxy, lambda con: con.attach("my", "mysql", dsn=proxied, connect_timeout=2),
                     "SELECT id, payload FROM my.fedq_fault_rows",
                     "SELECT count(*) FROM my.fedq_fault_spin a, my.fedq_fault_spin b WHERE a.id < b.id",
                     lambda: _my_running(dsn))
        proxy.close()
        _my_stop_spinning(dsn)
    else:
        server = request.getfixturevalue("api")
        proxy = FaultProxy(server.httpd.server_address[1])
        tables = {"fault_rows": {"path": "/fault_rows", "records": "items",
                                 "pagination": {"style": "page", "size_param": "per_page", "size": REST_PAGE},
                                 "columns": {"id": "bigint", "payload": "varchar"}}}
        yield Target(name, proxy, lambda con: con.attach(
            "rest", "rest", base_url=f"http://127.0.0.1:{proxy.port}/api", tables=tables,
            max_requests_per_second=0, max_attempts=2, retry_base_seconds=0.05, timeout_seconds=10),
            "SELECT id, payload FROM rest.fault_rows", None, lambda: 0)
        proxy.close()


def _via(dsn: str, proxy: FaultProxy) -> str:
    """``dsn`` with the proxy's port in place of the server's (user and password kept)."""
    parts = urlsplit(dsn)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=(user + "@" if user else "") + f"127.0.0.1:{proxy.port}"))


def _connect(target: Target, timeout: float | None) -> fedq.Connection:
    """A fedq connection whose metadata is read and whose pool holds a session, before any fault."""
    con = fedq.connect(timeout=timeout)
    target.attach(con)
    with con.cursor() as cursor:  # closed, so its reader does not wait for a consumer any more
        cursor.timeout = None  # a busy machine must not fail the warm-up
        assert len(cursor.execute(target.rows_sql + " LIMIT 5").fetchall()) == 5
    return con


# libpq has no read timeout and ADBC exposes neither its socket nor a way to close a connection
# another thread reads from; connectorx (MariaDB table scans, sources/mysql_cx.py) has no read
# timeout either (its URL refuses one) and reads in Rust with the GIL released. So a PostgreSQL
# reader, or a connectorx scan, waiting on a path that stalled while the far end still acknowledges
# (this proxy) is only freed when the connection fails: the query itself ends at its deadline, the
# statement is killed at the source, only the reader thread waits. On a real network, where a dead
# path stops acknowledging too, the keepalives and tcp_user_timeout fedq sets on both fail it within
# about 30 s; here the test cuts it. (A blackholed MariaDB statement is read by PyMySQL, whose read
# timeout frees it: the slow statement is a pushed join, which never goes through connectorx.)
HELD_UNTIL_THE_PATH_FAILS = {("stall", "pg"), ("blackhole", "pg"), ("stall", "my")}


def _left_at_source(target: Target, case: str) -> tuple[float, str]:
    """Seconds until the source runs nothing of ours (fails after CLEANUP_SECONDS), and when fedq's
    threads for the query (readers, cancel and KILL senders) were all gone."""
    started = time.monotonic()
    while target.running():
        if time.monotonic() - started > CLEANUP_SECONDS:
            raise AssertionError(f"{case}/{target.name}: {target.running()} statement(s) still running at the source")
        time.sleep(0.1)
    source_clean = time.monotonic() - started
    patience = 0.5 if (case, target.name) in HELD_UNTIL_THE_PATH_FAILS else CLEANUP_SECONDS
    while _threads_left():
        if time.monotonic() - started > patience:
            break
        time.sleep(0.1)
    else:
        return source_clean, f"{time.monotonic() - started:.2f} s"
    assert (case, target.name) in HELD_UNTIL_THE_PATH_FAILS, f"{case}/{target.name}: fedq threads still waiting: {_threads_left()}"
    target.proxy.cut()
    cut = time.monotonic()
    while _threads_left():
        assert time.monotonic() - cut < 3, f"{case}/{target.name}: fedq threads outlive the connection: {_threads_left()}"
        time.sleep(0.1)
    return source_clean, f"{time.monotonic() - cut:.2f} s after the connection fails"


def _expect_error(target: Target, case: str, con: fedq.Connection, sql: str, deadline: float | None,
                  match: str) -> None:
    started = time.monotonic()
    with pytest.raises(fedq.OperationalError) as caught:
        con.execute(sql).fetchall()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    kind = {"pg": "postgres", "my": "mysql", "rest": "rest"}[target.name]
    assert f"source '{target.name}' ({kind})" in message, message
    assert match in message, message
    limit = (deadline or 0) + MARGIN
    assert elapsed < limit, f"{case}/{target.name}: {elapsed:.2f} s (limit {limit:g} s): {message}"
    RESULTS.append(Outcome(case, target.name, _short(message), elapsed, deadline, *_left_at_source(target, case)))


def _short(message: str) -> str:
    """The error without its source prefix, cut to the words that say what happened."""
    text = message.split(": ", 1)[1] if message.startswith("source '") else message
    return "OperationalError: " + " ".join(text.split())[:120].replace("|", "/")


# -- the cases ---------------------------------------------------------------------------------
@pytest.mark.timeout(30)
def test_latency_still_gives_the_right_rows(target: Target) -> None:
    con = _connect(target, timeout=20)
    target.proxy.set("latency", delay=0.002)
    started = time.monotonic()
    rows = con.execute(target.rows_sql).fetchall()
    elapsed = time.monotonic() - started
    assert len(rows) == ROWS
    assert sum(r[0] for r in rows) == ROWS * (ROWS + 1) // 2
    assert {r[1] for r in rows[:3]} <= {f"{PAD}{i}" for i in range(1, ROWS + 1)}
    RESULTS.append(Outcome("latency", target.name, f"rows ok ({ROWS})", elapsed, 20, *_left_at_source(target, "latency")))
    con.close()


@pytest.mark.timeout(30)
def test_a_connection_dropped_mid_stream_is_the_sources_error(target: Target) -> None:
    con = _connect(target, timeout=10)
    target.proxy.set("drop", after=AFTER)
    _expect_error(target, "drop", con, target.rows_sql, 10, "")
    con.close()


@pytest.mark.timeout(30)
def test_a_stalled_stream_ends_at_the_deadline(target: Target) -> None:
    con = _connect(target, timeout=DEADLINE)
    target.proxy.set("swallow", after=AFTER)
    _expect_error(target, "stall", con, target.rows_sql, DEADLINE, "exceeded its deadline")
    con.close()


@pytest.mark.timeout(30)
def test_a_blackholed_source_stops_the_statement_by_itself(target: Target) -> None:
    con = _connect(target, timeout=DEADLINE)
    sql = target.slow_sql or target.rows_sql
    arm = threading.Timer(0.0 if target.slow_sql is None else 0.5, target.proxy.set, args=("swallow",))
    arm.start()  # for the databases: once the statement is running at the server
    try:
        _expect_error(target, "blackhole", con, sql, DEADLINE, "exceeded its deadline")
    finally:
        arm.cancel()
    con.close()


@pytest.mark.timeout(30)
def test_a_new_connection_into_a_blackhole_ends_at_the_deadline(target: Target) -> None:
    con = _connect(target, timeout=DEADLINE)
    con.source(target.name).close()  # no pooled session (REST: no kept-alive connection) to fall back on
    target.proxy.set("swallow")
    _expect_error(target, "connect-blackhole", con, target.rows_sql, DEADLINE, "exceeded its deadline")
    con.close()


@pytest.mark.timeout(30)
def test_a_refused_port_is_the_sources_error(target: Target) -> None:
    con = _connect(target, timeout=10)
    target.proxy.set("refuse")
    _expect_error(target, "refuse", con, target.rows_sql, 10, "")
    con.close()


# -- deadlines at the sources (part 3) -------------------------------------------------------
@pytest.mark.timeout(30)
def test_postgres_stops_a_statement_at_its_deadline_by_itself(pg_data: str) -> None:
    """No local Timer here: the source is asked directly, with a deadline, and PostgreSQL's own
    statement_timeout ends the statement."""
    with fedq.connect() as con:
        source = con.attach("pg", "postgres", dsn=pg_data)
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="statement timeout") as caught:
            source.query("SELECT pg_sleep(10) AS fedq_fault_sleep", (), FetchStats(deadline=time.monotonic() + 0.5)).read_all()
        elapsed = time.monotonic() - started
        assert elapsed < 2, caught.value
        assert "source 'pg' (postgres)" in str(caught.value)
        assert _pg_running(pg_data) == 0
    RESULTS.append(Outcome("server-side timeout", "pg", _short(str(caught.value)), elapsed, 0.5, 0.0, "0.00 s"))


@pytest.mark.timeout(30)
def test_mariadb_stops_a_statement_at_its_deadline_by_itself(my_data: str) -> None:
    with fedq.connect() as con:
        source = con.attach("my", "mysql", dsn=my_data)
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="max_statement_time") as caught:
            source.query("SELECT COUNT(*) FROM fedq_fault_spin a, fedq_fault_spin b WHERE a.id < b.id", (),
                         FetchStats(deadline=time.monotonic() + 0.5)).read_all()
        elapsed = time.monotonic() - started
        assert elapsed < 2, caught.value
        assert "source 'my' (mysql)" in str(caught.value)
        assert _my_running(my_data) == 0
    RESULTS.append(Outcome("server-side timeout", "my", _short(str(caught.value)), elapsed, 0.5, 0.0, "0.00 s"))


@pytest.mark.timeout(30)
def test_a_pooled_postgres_session_keeps_no_earlier_deadline(pg_data: str) -> None:
    setting = "SELECT t, pid FROM pg.fedq_fault.settings"  # a view: read by a plain scan, no probe
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=pg_data)
        cursor = con.cursor()
        cursor.timeout = 0.5
        (value, session), = cursor.execute(setting).fetchall()
        assert value.endswith("ms") and 250 < int(value[:-2]) <= 750, value  # the deadline plus its grace
        cursor.timeout = None
        source = con.source("pg")
        while source._active:  # the reader hands its session back just after its last batch
            time.sleep(0.01)
        assert cursor.execute(setting).fetchall() == [("0", session)]  # the same pooled session, reset
        # a query slower than the earlier deadline runs to its end
        assert cursor.execute("SELECT slept FROM pg.fedq_fault.slept").fetchall() == [(1,)]


@pytest.mark.timeout(30)
def test_a_mariadb_statement_carries_its_own_deadline(my_data: str) -> None:
    setting = "SELECT t FROM my.fedq_fault_settings"  # a view: read by a plain scan, no probe
    with fedq.connect() as con:
        con.attach("my", "mysql", dsn=my_data)
        cursor = con.cursor()
        cursor.timeout = 3
        (value,), = cursor.execute(setting).fetchall()
        assert 3 < float(value) <= 3.5, value
        cursor.timeout = None
        (value,), = cursor.execute(setting).fetchall()
        assert float(value) == 0, value
