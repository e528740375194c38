"""Issue 18 item 1's measurement: a 5-table star join in PostgreSQL (a fact table and four dimensions,
two of them filtered) joined with a MariaDB table and aggregated. With join groups PostgreSQL runs
the star join itself and returns only the joined, filtered rows; before (``Planner._join_groups``
off: the planner of the previous commit) each PostgreSQL table was scanned on its own, the filtered
dimensions narrowing the fact scan by dynamic filters; pushdown off scans everything.

    .venv/bin/python -P benchmarks/join_groups.py [--facts 1000000] [--runs 3] [--out benchmarks/results]

Needs the test servers (PostgreSQL: postgres as admin, fedq_reader to read; MariaDB: root / fedq_reader,
the roles tests/conftest.py creates). Creates schema fedq_jgbench and table fedq_jgbench_region, and
drops them at the end. Timings on a shared machine are noisy: the load average is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import pymysql

import fedq
from fedq.engine.planner import Planner
from fedq.sources.mysql import _parse_dsn

PG_ADMIN = os.environ.get("FEDQ_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PG_READER = os.environ.get("FEDQ_TEST_PG_DSN", "postgresql://fedq_reader@127.0.0.1:5432/test")
MY_ADMIN = os.environ.get("FEDQ_TEST_MYSQL_ADMIN_DSN", "mysql://root@127.0.0.1:3306/test")
MY_READER = os.environ.get("FEDQ_TEST_MYSQL_DSN", "mysql://fedq_reader@127.0.0.1:3306/test")
SCHEMA, REGION = "fedq_jgbench", "fedq_jgbench_region"
DIM_ROWS = 1000
SQL = f"""
SELECT r.label, count(*) AS n, sum(f.amount) AS total
FROM pg.{SCHEMA}.f f
JOIN pg.{SCHEMA}.d1 d1 ON f.d1 = d1.k
JOIN pg.{SCHEMA}.d2 d2 ON f.d2 = d2.k
JOIN pg.{SCHEMA}.d3 d3 ON f.d3 = d3.k
JOIN pg.{SCHEMA}.d4 d4 ON f.d4 = d4.k
JOIN my.{REGION} r ON r.m = d4.m
WHERE d1.cat = 'c3' AND d2.cat IN ('c1', 'c2')
GROUP BY r.label ORDER BY r.label
"""  # d1 keeps 10% of its keys, d2 20%: 2% of the facts join
MODES = ["join groups", "before (each table scanned)", "pushdown off"]


def setup(facts: int) -> None:
    with pg.connect(PG_ADMIN, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.f (id integer, d1 integer, d2 integer, d3 integer, d4 integer, amount numeric(12,2))")
        cur.execute(f"INSERT INTO {SCHEMA}.f SELECT i, (i * 7) % {DIM_ROWS}, (i / 10) % {DIM_ROWS}, (i / 3) % {DIM_ROWS}, "
                    f"(i * 19) % {DIM_ROWS}, (i % 1000) / 10.0 FROM generate_series(1, {facts}) i")
        for name in ("d1", "d2", "d3", "d4"):
            cur.execute(f"CREATE TABLE {SCHEMA}.{name} (k integer PRIMARY KEY, cat text, m integer)")
            cur.execute(f"INSERT INTO {SCHEMA}.{name} SELECT i, 'c' || (i % 10), i % 20 FROM generate_series(0, {DIM_ROWS - 1}) i")
        cur.execute(f"ANALYZE {SCHEMA}.f")
    with pymysql.connect(**_parse_dsn(MY_ADMIN), autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {REGION}")
        cur.execute(f"CREATE TABLE {REGION} (m INT, label INT)")
        cur.executemany(f"INSERT INTO {REGION} VALUES (%s, %s)", [(m, 100 + m % 5) for m in range(20)])


def teardown() -> None:
    with pg.connect(PG_ADMIN, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with pymysql.connect(**_parse_dsn(MY_ADMIN), autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {REGION}")


def run(mode: str) -> tuple[float, int, int, list[tuple]]:
    """Seconds, rows fetched from PostgreSQL, PostgreSQL statements, and the answer."""
    original = Planner._join_groups
    if mode.startswith("before"):
        Planner._join_groups = lambda self, select, bound: None
    try:
        with fedq.connect(pushdown=mode != "pushdown off") as con:
            con.attach("pg", "postgres", dsn=PG_READER)
            con.attach("my", "mysql", dsn=MY_READER)
            started = time.perf_counter()
            cursor = con.execute(SQL)
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            fragments = [f for f in cursor.plan.fragments if f.source.name == "pg"]
            return seconds, sum(f.stats.rows for f in fragments), len(fragments), rows
    finally:
        Planner._join_groups = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()
    setup(args.facts)
    try:
        results: dict[str, list[tuple[float, int, int, list[tuple]]]] = {m: [] for m in MODES}
        for _ in range(args.runs):  # interleaved
            for mode in MODES:
                results[mode].append(run(mode))
    finally:
        teardown()
    answers = {repr(r[3]) for runs in results.values() for r in runs}
    assert len(answers) == 1, "the modes answered differently"
    table = []
    for mode in MODES:
        runs = results[mode]
        table.append({"mode": mode, "ms": round(statistics.median(r[0] for r in runs) * 1000),
                      "pg_rows_fetched": runs[0][1], "pg_statements": runs[0][2]})
    load_after = os.getloadavg()
    lines = [f"# Join groups: a 5-table PostgreSQL star ({args.facts:,} facts, 4 x {DIM_ROWS:,} dimensions) x a MariaDB table",
             "", f"{platform.machine()}, {os.cpu_count()} CPUs; median of {args.runs} interleaved runs; load average before "
             f"{', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)}.",
             "", "```sql", SQL.strip(), "```", "",
             "| mode | PostgreSQL statements | rows fetched from PostgreSQL | ms |", "|---|---:|---:|---:|"]
    lines += [f"| {r['mode']} | {r['pg_statements']} | {r['pg_rows_fetched']:,} | {r['ms']:,} |" for r in table]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "join_groups.md").write_text(text)
        (args.out / "join_groups.json").write_text(json.dumps({"facts": args.facts, "runs": args.runs, "results": table,
                                                              "load_before": load_before, "load_after": load_after}, indent=2) + "\n")


if __name__ == "__main__":
    main()
