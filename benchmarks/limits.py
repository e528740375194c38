"""Issue 20 item 7 at acceptance size: with ``fedq.connect(timeout=30, memory_limit='1GB')`` a
1M-literal IN list and a huge join must end (an answer or a clear error) within 31 s and under 1.5 GB RSS.

Each case runs in its own Python process, which reports its wall time (from execute() to the end)
and its own peak RSS (ru_maxrss). Data: PostgreSQL ``fedq_limits_bench.a`` (3M rows, created with
generate_series through the admin DSN), a SQLite file and a Parquet file (1M rows each), all with
``k = i % 1000``, so any join on k has billions of rows.

    python benchmarks/limits.py            # FEDQ_BENCH_PG_ADMIN_DSN / FEDQ_BENCH_PG_DSN to change servers
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import adbc_driver_postgresql.dbapi as pgdb
import duckdb

ADMIN_DSN = os.environ.get("FEDQ_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
READER_DSN = os.environ.get("FEDQ_BENCH_PG_DSN", "postgresql://fedq_reader@127.0.0.1:5432/test")
ROWS_PG, ROWS_OTHER = 3_000_000, 1_000_000

CONNECT = """
con = fedq.connect(home=False, timeout=30, memory_limit='1GB'{extra})
con.attach('pg', 'postgres', dsn=dsn)
con.attach('sq', 'sqlite', path=sqlite_path)
con.attach('lake', 'files', url=lake)
"""
IN_LIST = "sql = 'SELECT * FROM sq.b WHERE id IN (' + ','.join(str(i) for i in range(1_000_000)) + ')'\n"
CASES = {
    "1M-literal IN list (default max_statement_length)": ("", IN_LIST + "rows = con.execute(sql).fetchall()"),
    "1M-literal IN list (max_statement_length=10M: parse and plan under the deadline)":
        (", max_statement_length=10_000_000", IN_LIST + "rows = con.execute(sql).fetchall()"),
    "huge join, fetchall()": ("", "rows = con.execute('SELECT a.id, b.id FROM pg.fedq_limits_bench.a a "
                                  "JOIN sq.b b ON a.k = b.k').fetchall()"),
    "huge join, fetchmany(10000) for 25 s": ("", """
cursor = con.execute('SELECT a.id, b.id FROM pg.fedq_limits_bench.a a JOIN sq.b b ON a.k = b.k')
rows = []
until = time.monotonic() + 25
count = 0
while time.monotonic() < until and (part := cursor.fetchmany(10000)):
    count += len(part)
rows = [count]
"""),
    "3-source join LIMIT 10": ("", "rows = con.execute('SELECT a.id, b.id, c.id FROM pg.fedq_limits_bench.a a "
                                   "JOIN sq.b b ON a.k = b.k JOIN lake.c c ON b.k = c.k LIMIT 10').fetchall()"),
}


def make_data(folder: Path) -> tuple[str, str]:
    with pgdb.connect(ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_limits_bench")
        cur.execute("DROP TABLE IF EXISTS fedq_limits_bench.a")
        cur.execute(f"CREATE TABLE fedq_limits_bench.a AS SELECT i AS id, i % 1000 AS k FROM generate_series(1, {ROWS_PG}) i")
        cur.execute("ANALYZE fedq_limits_bench.a")
    sqlite_path = folder / "b.sqlite"
    with sqlite3.connect(sqlite_path) as con:
        con.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, k INTEGER)")
        con.executemany("INSERT INTO b VALUES (?, ?)", ((i, i % 1000) for i in range(ROWS_OTHER)))
    (folder / "lake").mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT i AS id, i % 1000 AS k FROM range({ROWS_OTHER}) t(i)) "
                    f"TO '{folder / 'lake' / 'c.parquet'}' (FORMAT parquet)")
    return str(sqlite_path), str(folder / "lake")


def run_case(extra: str, body: str, sqlite_path: str, lake: str) -> dict:
    program = textwrap.dedent(f"""
        import json, resource, time, fedq
        dsn, sqlite_path, lake = {READER_DSN!r}, {sqlite_path!r}, {lake!r}
        """) + CONNECT.format(extra=extra) + "started = time.monotonic()\ntry:\n" + textwrap.indent(body.strip(), "    ") + """
    outcome = f'{len(rows):,} rows' if len(rows) != 1 else f'{rows[0]:,} rows fetched'
except fedq.Error as error:
    outcome = f'{type(error).__name__}: {error}'
seconds = time.monotonic() - started
print(json.dumps({'seconds': seconds, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'outcome': outcome}))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"seconds": float("nan"), "rss_mb": float("nan"), "outcome": "crashed: " + done.stderr.strip()[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        sqlite_path, lake = make_data(Path(folder))
        try:
            for name, (extra, body) in CASES.items():
                result = run_case(extra, body, sqlite_path, lake)
                ok = result["seconds"] <= 31 and result["rss_mb"] < 1536
                print(f"{name}: {result['seconds']:.1f} s, peak RSS {result['rss_mb']:.0f} MB, "
                      f"{'PASS' if ok else 'FAIL'} -- {result['outcome'][:240]}", flush=True)
        finally:
            with pgdb.connect(ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
                cur.execute("DROP SCHEMA fedq_limits_bench CASCADE")


if __name__ == "__main__":
    main()
