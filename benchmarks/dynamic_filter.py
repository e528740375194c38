"""Issue 7's measurement: orders in PostgreSQL (1.5M rows) joined with customer in SQLite filtered
to under 0.1% of customers. Reports the rows fetched from PostgreSQL with dynamic filtering on and
off (same run, interleaved), beside the rows that actually join.

    .venv/bin/python benchmarks/dynamic_filter.py [--orders 1500000] [--runs 3]
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg

import fedq

DSN = "postgresql://postgres@127.0.0.1:5432/test"
SQL = """
SELECT c.c_name, count(*) AS orders, sum(o.o_totalprice) AS total
FROM pg.fedq_dyn.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey
WHERE c.c_mktsegment = 'RARE'
GROUP BY c.c_name ORDER BY c.c_name
"""
SQL_ROWS = SQL.replace("c.c_name, count(*) AS orders, sum(o.o_totalprice) AS total", "o.o_orderkey, c.c_name").replace(
    "GROUP BY c.c_name ORDER BY c.c_name", "")


def setup(orders: int, folder: Path) -> Path:
    customers = orders // 10
    with pg.connect(DSN, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_dyn")
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'fedq_dyn' AND tablename = 'orders'")
        present = cur.fetchall()[0][0]
        count = 0
        if present:
            cur.execute("SELECT count(*) FROM fedq_dyn.orders")
            count = cur.fetchall()[0][0]
        if count != orders:
            cur.execute("DROP TABLE IF EXISTS fedq_dyn.orders")
            cur.execute("CREATE TABLE fedq_dyn.orders (o_orderkey bigint PRIMARY KEY, o_custkey bigint, o_totalprice numeric(12,2))")
            cur.execute(f"INSERT INTO fedq_dyn.orders SELECT i, 1 + (i::bigint * 7919) % {customers}, (i % 100000) / 100.0 "
                        f"FROM generate_series(1, {orders}) i")
            cur.execute("CREATE INDEX ON fedq_dyn.orders (o_custkey)")
            cur.execute("ANALYZE fedq_dyn.orders")
    path = folder / "crm.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE customer (c_custkey INTEGER, c_name TEXT, c_mktsegment TEXT)")
        rare = max(1, customers // 1500)  # under 0.1% of customers
        con.executemany("INSERT INTO customer VALUES (?, ?, ?)",
                        [(k, f"Customer#{k:09d}", "RARE" if k % (customers // rare) == 0 else "COMMON")
                         for k in range(1, customers + 1)])
    return path


def run(crm: Path, dynamic: bool, sql: str) -> tuple[float, int, int]:
    with fedq.connect(dynamic_filtering=dynamic) as con:
        con.attach("pg", "postgres", dsn=DSN)
        con.attach("crm", "sqlite", path=str(crm))
        started = time.perf_counter()
        cursor = con.execute(sql)
        rows = cursor.fetchall()
        seconds = time.perf_counter() - started
        fetched = sum(f.stats.rows for f in cursor.plan.fragments if f.source.name == "pg")
    return seconds, fetched, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_500_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        crm = setup(args.orders, Path(folder))
        for label, sql in (("join rows", SQL_ROWS), ("aggregate", SQL)):
            _, _, joining = run(crm, True, SQL_ROWS)
            results = {}
            for dynamic in (True, False, True, False) * args.runs:
                seconds, fetched, _ = run(crm, dynamic, sql)
                results.setdefault(dynamic, []).append((seconds, fetched))
            for dynamic in (True, False):
                times = [t for t, _ in results[dynamic]]
                fetched = results[dynamic][0][1]
                print(f"{label:10s} dynamic filtering {'on ' if dynamic else 'off'}: "
                      f"{statistics.median(times) * 1000:8.1f} ms median, {fetched:>9,d} rows from PostgreSQL "
                      f"({fetched / max(joining, 1):.2f}x the {joining:,d} joining rows)", flush=True)


if __name__ == "__main__":
    main()
