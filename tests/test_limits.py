"""Limits that cover the whole statement (issue 20 item 7): the deadline includes parsing and planning,
a statement-length limit, rows materialised in Python count against memory_limit, and a join under
LIMIT stays bounded. Each heavy case runs in a subprocess that reports its wall time and peak RSS
(VmHWM of that process only), so one case's memory cannot hide in another's."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pytest

import fedq

MB = 1024 * 1024


# VmHWM is this process's own peak: ru_maxrss survives exec, so a child started by a big pytest
# process (vfork shares its memory until exec) would report the parent's peak as its own
PEAK_RSS = """
try:
    with open('/proc/self/status') as status:
        result['rss_mb'] = next(int(l.split()[1]) for l in status if l.startswith('VmHWM:')) / 1024
except OSError:
    result['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def _run(code: str, **values: object) -> dict:
    """Run ``code`` (which sets ``result``, a dict) in a fresh Python; return it with peak RSS in MB."""
    program = "import json, resource, time, fedq\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items()) + \
        textwrap.dedent(code) + PEAK_RSS + "print(json.dumps(result))\n"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed_error(statement: str) -> str:
    return f"""
started = time.monotonic()
try:
    {statement}
    result = {{'error': None}}
except fedq.Error as error:
    result = {{'error': f'{{type(error).__name__}}: {{error}}'}}
result['seconds'] = time.monotonic() - started
"""


@pytest.fixture
def small_sqlite(tmp_path):
    path = tmp_path / "t.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        con.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1000)])
    return str(path)


# -- the deadline covers parsing and planning --------------------------------------------------
def test_a_large_in_list_ends_within_its_deadline(small_sqlite):
    """60,000 values plan for seconds (sqlglot's qualify/annotate and copies of the tree; 20,000 took
    0.8 s with compiled sqlglot, too little to reach the deadline) when
    one of them is not a plain literal, so the list is not collapsed into one node
    (engine/literal_lists.py); with timeout=1 the statement stops in planning, within the deadline plus 1 s."""
    setup = """
con = fedq.connect(home=False, timeout=1)
con.attach("src", "sqlite", path=path)
sql = "SELECT * FROM src.t WHERE id IN ((0), " + ",".join(str(i) for i in range(1, 60000)) + ")"
"""
    result = _run(setup + _timed_error("con.execute(sql).fetchall()"), path=small_sqlite)
    assert result["error"] is not None and result["error"].startswith("OperationalError: query exceeded its deadline of 1 s while"), result
    assert 1 <= result["seconds"] < 2, result
    assert result["rss_mb"] < 800, result


def test_the_same_in_list_without_a_deadline_completes(small_sqlite):
    """The IN list itself is valid: without a timeout it returns its rows (the limit above is the deadline)."""
    with fedq.connect(home=False) as con:
        con.attach("src", "sqlite", path=small_sqlite)
        rows = con.execute("SELECT count(*) FROM src.t WHERE id IN (" + ",".join(str(i) for i in range(0, 4000, 2)) + ")").fetchall()
    assert rows == [(500,)]


def test_a_list_of_plain_literals_plans_within_the_same_deadline(small_sqlite):
    """Collapsed into one node, the same 20,000 values as plain literals answer within timeout=1."""
    with fedq.connect(home=False, timeout=1) as con:
        con.attach("src", "sqlite", path=small_sqlite)
        rows = con.execute("SELECT count(*) FROM src.t WHERE id IN (" + ",".join(str(i) for i in range(20000)) + ")").fetchall()
    assert rows == [(1000,)]


def test_cancel_while_planning_is_a_cancel_error(small_sqlite):
    import threading

    with fedq.connect(home=False) as con:
        con.attach("src", "sqlite", path=small_sqlite)
        cursor = con.cursor()
        threading.Timer(0.3, cursor.cancel).start()
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="query cancelled"):
            cursor.execute("SELECT * FROM src.t WHERE id IN ((0), " + ",".join(str(i) for i in range(1, 60000)) + ")")
        assert time.monotonic() - started < 2


# -- statement length ----------------------------------------------------------------------------
def test_a_statement_over_max_statement_length_is_refused_before_parsing():
    with fedq.connect(home=False, max_statement_length=100) as con:
        assert con.execute("SELECT " + "1" + " " * 92).fetchall() == [(1,)]  # exactly 100 characters
        with pytest.raises(fedq.ProgrammingError, match=r"101 characters long, more than max_statement_length \(100\)"):
            con.execute("SELECT " + "1" + " " * 93)
        with pytest.raises(fedq.ProgrammingError, match="max_statement_length"):
            con.plan("SELECT " + "1" * 200)
        with pytest.raises(fedq.ProgrammingError, match="view 'v': .*max_statement_length"):
            con.create_view("v", "SELECT " + "1" * 200, temporary=True)


def test_the_default_limit_refuses_a_million_literal_in_list_at_once():
    sql = "SELECT * FROM src.t WHERE id IN (" + ",".join(str(i) for i in range(1_000_000)) + ")"
    with fedq.connect(home=False) as con:
        started = time.monotonic()
        with pytest.raises(fedq.ProgrammingError, match=r"more than max_statement_length \(1,000,000\)"):
            con.execute(sql)
        assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("bad", [0, -5, "1000", True, 1.5])
def test_a_bad_max_statement_length_is_a_clear_error(bad):
    with pytest.raises(fedq.ProgrammingError, match=r"fedq.connect\(\): setting 'max_statement_length' must be a whole number \(at least 1\)"):
        fedq.connect(home=False, max_statement_length=bad)


# -- rows held in Python count against memory_limit --------------------------------------------
@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """6M rows of two integers: about 1 GB as Python tuples, 100 MB as Arrow."""
    folder = tmp_path_factory.mktemp("lake")
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT i AS id, i % 1000 AS k FROM range(6000000) t(i)) TO '{folder / 'big.parquet'}' (FORMAT parquet)")
    return str(folder)


# The process starts at about 200 MB; DuckDB may use its 200 MB and the cursor 191 MiB of Python rows,
# plus batches in flight. Held whole, the 6M rows as tuples take over 1 GB on top of the start.
RSS_BOUND_MB = 900
FETCH_SETUP = """
con = fedq.connect(home=False, memory_limit='200MB')
con.attach('lake', 'files', url=url)
cursor = con.execute('SELECT id, k FROM lake.big')
"""


def test_fetchall_over_memory_limit_is_a_clear_error_in_bounded_memory(lake):
    result = _run(FETCH_SETUP + _timed_error("cursor.fetchall()"), url=lake)
    assert result["error"] is not None, result
    assert result["error"].startswith("OperationalError: fetchall() would hold more than the connection's memory_limit (191 MiB)"), result
    assert "fetchmany(n)" in result["error"] and "fetch_record_batch()" in result["error"], result
    assert result["rss_mb"] < RSS_BOUND_MB, result


def test_fetchmany_streams_a_result_larger_than_memory_limit(lake):
    code = FETCH_SETUP + """
count = total = 0
while rows := cursor.fetchmany(50000):
    count += len(rows)
    total += sum(r[1] for r in rows)
result = {'count': count, 'total': total}
"""
    result = _run(code, url=lake)
    assert result["count"] == 6_000_000 and result["total"] == sum(i % 1000 for i in range(1000)) * 6000, result
    assert result["rss_mb"] < RSS_BOUND_MB, result


def test_fetch_arrow_table_over_memory_limit_is_a_clear_error(lake):
    with fedq.connect(home=False, memory_limit="50MB") as con:
        con.attach("lake", "files", url=lake)
        with pytest.raises(fedq.OperationalError, match=r"fetch_arrow_table\(\) would hold more than .*fetch_record_batch\(\)"):
            con.execute("SELECT id, k FROM lake.big").fetch_arrow_table()
        assert con.execute("SELECT id FROM lake.big LIMIT 5").fetch_arrow_table().num_rows == 5


def test_without_memory_limit_fetchall_keeps_every_row(lake):
    with fedq.connect(home=False) as con:
        con.attach("lake", "files", url=lake)
        cursor = con.execute("SELECT id FROM lake.big WHERE id < 250000")
        first = cursor.fetchmany(3)
        rest = cursor.fetchall()
    assert [r[0] for r in first] + [r[0] for r in rest] == list(range(250000))


def test_fetch_record_batch_after_fetchone_keeps_the_unread_rows(lake):
    with fedq.connect(home=False, memory_limit="200MB") as con:
        con.attach("lake", "files", url=lake)
        cursor = con.execute("SELECT id FROM lake.big WHERE id < 25000 ORDER BY id")
        assert cursor.fetchone() == (0,)
        table = cursor.fetch_arrow_table()
    assert table.column("id").to_pylist() == list(range(1, 25000))


# -- a 3-source join under LIMIT -----------------------------------------------------------------
@pytest.fixture(scope="module")
def three_sources(pg_dsn, pg_admin_dsn, tmp_path_factory):
    """PostgreSQL 2M rows, SQLite and Parquet 300k rows each, all joined on k (1,000 values): the join of
    any two holds hundreds of millions of rows, the answer to LIMIT 10 needs a few."""
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_limits")
        cur.execute("DROP TABLE IF EXISTS fedq_limits.a")
        cur.execute("CREATE TABLE fedq_limits.a AS SELECT i AS id, i % 1000 AS k FROM generate_series(1, 2000000) i")
        cur.execute("ANALYZE fedq_limits.a")
    folder = tmp_path_factory.mktemp("three")
    with sqlite3.connect(folder / "b.sqlite") as con:
        con.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, k INTEGER)")
        con.executemany("INSERT INTO b VALUES (?, ?)", ((i, i % 1000) for i in range(300000)))
    (folder / "lake").mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT i AS id, i % 1000 AS k FROM range(300000) t(i)) TO '{folder / 'lake' / 'c.parquet'}' (FORMAT parquet)")
    yield {"dsn": pg_dsn, "sqlite": str(folder / "b.sqlite"), "lake": str(folder / "lake"), "admin": pg_admin_dsn}
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA fedq_limits CASCADE")


def test_a_three_source_join_under_limit_stays_bounded_and_stops_its_sources(three_sources):
    code = """
import adbc_driver_postgresql.dbapi as pgdb
con = fedq.connect(home=False, timeout=60, memory_limit='512MB')
con.attach('pg', 'postgres', dsn=sources['dsn'])
con.attach('sq', 'sqlite', path=sources['sqlite'])
con.attach('lake', 'files', url=sources['lake'])
started = time.monotonic()
cursor = con.execute('SELECT a.id, b.id, c.id FROM pg.fedq_limits.a a JOIN sq.b b ON a.k = b.k JOIN lake.c c ON b.k = c.k LIMIT 10')
rows = cursor.fetchall()
seconds = time.monotonic() - started
with pgdb.connect(sources['admin']) as admin, admin.cursor() as cur:  # the cursor is still open
    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fedq' AND state <> 'idle'")
    busy = cur.fetchall()[0][0]
result = {'rows': len(rows), 'seconds': seconds, 'busy': busy}
"""
    result = _run(code, sources=three_sources)
    assert result["rows"] == 10, result
    assert result["seconds"] < 15, result  # building the join of two sources ran into the 60 s deadline
    assert result["busy"] == 0, result  # the PostgreSQL scan ended once DuckDB had its 10 rows
    assert result["rss_mb"] < 900, result
