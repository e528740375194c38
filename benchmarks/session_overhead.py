"""What read-only transactions and the per-lease session reset cost per statement (issue 20, item 2).

    .venv/bin/python benchmarks/session_overhead.py [--queries 200] [--out benchmarks/results]

For PostgreSQL and MariaDB, ``--queries`` short statements (``SELECT id FROM t WHERE id = $1``) run
three ways on one pooled connection, each the median time per statement after a warm-up:

* **bare**: the driver alone, what a lease cost before (PostgreSQL: the statement; MariaDB: a ping,
  which proved a pooled connection alive, and the statement);
* **lease**: the same driver statement inside a lease of fedq's source pool, as every statement now
  runs (PostgreSQL: ``BEGIN READ ONLY`` + statement + one round trip that commits and resets;
  MariaDB: ``START TRANSACTION READ ONLY`` + statement + COM_RESET_CONNECTION + one SET); the
  difference to *bare* is what read-only transactions and the reset add;
* **fedq**: the whole path, ``fedq.connect().execute("SELECT … FROM pg.… WHERE id = ?")``, for scale.

The servers come from FEDQ_TEST_PG_ADMIN_DSN / FEDQ_TEST_MYSQL_ADMIN_DSN (loading a small table) and
the read-only roles of tests/conftest.py (querying). Results: session_overhead.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import adbc_driver_postgresql.dbapi as pgdb
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fedq  # noqa: E402
from conftest import (MYSQL_ADMIN_DSN, MYSQL_DSN, PG_ADMIN_DSN, PG_DSN, create_mysql_reader,  # noqa: E402
                      create_pg_reader)
from fedq.sources.mysql import MySQLSource, _parse_dsn  # noqa: E402
from fedq.sources.postgres import PostgresSource  # noqa: E402

ROWS = 1000
PG_TABLE = "fedq_bench.session_t"
MY_TABLE = "fedq_bench_session_t"


def setup() -> None:
    create_pg_reader(PG_ADMIN_DSN)
    create_mysql_reader(MYSQL_ADMIN_DSN)
    with pgdb.connect(PG_ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.executescript(f"CREATE SCHEMA IF NOT EXISTS fedq_bench; DROP TABLE IF EXISTS {PG_TABLE}; "
                          f"CREATE TABLE {PG_TABLE} (id integer PRIMARY KEY, v text); "
                          f"INSERT INTO {PG_TABLE} SELECT i, 'v' || i FROM generate_series(1, {ROWS}) i; ANALYZE {PG_TABLE}")
    with pymysql.connect(autocommit=True, **_parse_dsn(MYSQL_ADMIN_DSN)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.executemany(f"INSERT INTO {MY_TABLE} VALUES (%s, %s)", [(i, f"v{i}") for i in range(1, ROWS + 1)])


def teardown() -> None:
    with pgdb.connect(PG_ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.executescript(f"DROP TABLE IF EXISTS {PG_TABLE}")
    with pymysql.connect(autocommit=True, **_parse_dsn(MYSQL_ADMIN_DSN)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")


def median_us(run: Callable[[int], object], queries: int) -> float:
    for i in range(20):  # warm-up: connections open, plans cached
        run(i)
    times = []
    for i in range(queries):
        started = time.perf_counter()
        run(1 + i % ROWS)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def postgres(queries: int) -> dict[str, float]:
    sql = f'SELECT "id", "v" FROM {PG_TABLE} WHERE "id" = $1'
    bare_con = pgdb.connect(PG_DSN, autocommit=True)
    bare_cursor = bare_con.cursor()

    def bare(i: int) -> object:
        bare_cursor.execute(sql, parameters=(i,))
        return bare_cursor.fetch_arrow_table()

    source = PostgresSource(name="pg", dsn=PG_DSN)

    def lease(i: int) -> object:
        connection = source._acquire()
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters=(i,))
            table = cursor.fetch_arrow_table()
        source._release(connection, healthy=True)
        return table

    con = fedq.connect(home=False)
    con.attach("pg", "postgres", dsn=PG_DSN)
    try:
        return {"bare": median_us(bare, queries), "source": median_us(lease, queries),
                "fedq": median_us(lambda i: con.execute(f"SELECT id, v FROM pg.{PG_TABLE} WHERE id = ?", [i]).fetchall(),
                                  queries)}
    finally:
        bare_cursor.close()
        bare_con.close()
        source.close()
        con.close()


def mariadb(queries: int) -> dict[str, float]:
    sql = f"SELECT `id`, `v` FROM `{MY_TABLE}` WHERE `id` = %s"
    bare_con = pymysql.connect(autocommit=True, **_parse_dsn(MYSQL_DSN))

    def bare(i: int) -> object:
        bare_con.ping(reconnect=False)
        with bare_con.cursor() as cursor:
            cursor.execute(sql, (i,))
            return cursor.fetchall()

    source = MySQLSource(name="my", dsn=MYSQL_DSN)

    def lease(i: int) -> object:
        held = source._acquire()
        with held.connection.cursor() as cursor:
            cursor.execute(sql, (i,))
            rows = cursor.fetchall()
        held.release(healthy=True)
        return rows

    con = fedq.connect(home=False)
    con.attach("my", "mysql", dsn=MYSQL_DSN)
    try:
        return {"bare": median_us(bare, queries), "source": median_us(lease, queries),
                "fedq": median_us(lambda i: con.execute(f"SELECT id, v FROM my.{MY_TABLE} WHERE id = ?", [i]).fetchall(),
                                  queries)}
    finally:
        bare_con.close()
        source.close()
        con.close()


def report(results: dict[str, dict[str, float]], queries: int) -> str:
    lines = [f"# Per-statement cost of read-only transactions and session reset ({queries} statements, median)", "",
             "| server | bare driver (µs) | in a fedq lease (µs) | added per statement (µs) | whole fedq query (µs) | added / whole query |",
             "|---|---|---|---|---|---|"]
    for server, r in results.items():
        added = r["source"] - r["bare"]
        lines.append(f"| {server} | {r['bare']:.0f} | {r['source']:.0f} | {added:.0f} | {r['fedq']:.0f} | {added / r['fedq']:.1%} |")
    lines += ["", "bare: the driver alone on a pooled connection (MariaDB: ping + statement, as a lease did before);",
              "in a lease: the same, with BEGIN READ ONLY … COMMIT + reset (PostgreSQL, 2 round trips added), START TRANSACTION",
              "READ ONLY … COM_RESET_CONNECTION + SET (MariaDB, 2 added net); whole fedq query: connect().execute() with",
              "planning and DuckDB. Produced by benchmarks/session_overhead.py."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    setup()
    try:
        results = {"PostgreSQL": postgres(args.queries), "MariaDB": mariadb(args.queries)}
    finally:
        teardown()
    out = Path(args.out)
    (out / "session_overhead.json").write_text(json.dumps({"queries": args.queries, "results": results}, indent=2) + "\n")
    text = report(results, args.queries)
    (out / "session_overhead.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
