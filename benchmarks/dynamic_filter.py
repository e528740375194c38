"""Issue 7's measurement: orders in PostgreSQL (1.5M rows) joined with customer in SQLite, the
customers filtered by market segment. Each scenario's filter keeps a different number of customer
keys, so each reduction strategy (engine/reduction.py) is chosen once; per scenario the benchmark
reports the strategy and key count (from EXPLAIN ANALYZE), the rows fetched from PostgreSQL, the
rows that actually join, and the same query with dynamic filtering off (interleaved runs, median).

    .venv/bin/python benchmarks/dynamic_filter.py [--orders 1500000] [--runs 3] [--out benchmarks/results]

Scenarios (150,000 customers; keys are customer keys):

- ``rare``   100 scattered keys (<0.1%)              -> in-list
- ``few``    5,000 scattered keys                    -> array (PostgreSQL binds one array parameter)
- ``few``    the same, arrays off                    -> batched in-lists (what a MySQL/SQLite probe gets)
- ``block``  20,000 even keys in 1..40,000, arrays off -> range (twice the joining rows)
- ``most``   78,000 scattered keys, arrays off       -> none (a range would span the whole column)
- ``most``   the same with arrays                    -> none: the keys are ~52% of the probe column's
  distinct values (pg_stats), so a key lookup each would cost more than reading the table

Timings on a shared machine are noisy: the load average is recorded with the results.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg

import fedq

DSN = "postgresql://postgres@127.0.0.1:5432/test"
SQL = """
SELECT o.o_orderkey, o.o_totalprice, c.c_name
FROM pg.fedq_dyn.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey
WHERE c.c_mktsegment = '{segment}'
"""  # the joined rows themselves: their count is the number of orders that actually join
SCENARIOS = [  # (name, segment, PostgreSQL binds arrays)
    ("rare", "RARE", True),
    ("few", "FEW", True),
    ("few, arrays off", "FEW", False),
    ("block, arrays off", "BLOCK", False),
    ("most, arrays off", "MOST", False),
    ("most", "MOST", True),
]


def _segment(key: int, customers: int) -> str:
    if key % (customers // 100) == 0:
        return "RARE"  # 100 keys
    if key % 30 == 7:
        return "FEW"  # 5,000 keys at 150,000 customers
    if key <= customers * 4 // 15 and key % 2 == 0:
        return "BLOCK"  # about 20,000 even keys in the first 40,000
    if key % 5 in (1, 3, 4):
        return "MOST"  # about 78,000 keys
    return "OTHER"


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
        con.executemany("INSERT INTO customer VALUES (?, ?, ?)",
                        [(k, f"Customer#{k:09d}", _segment(k, customers)) for k in range(1, customers + 1)])
    return path


def _connect(crm: Path, dynamic: bool, arrays: bool) -> fedq.Connection:
    con = fedq.connect(home=False, dynamic_filtering=dynamic)
    con.attach("pg", "postgres", dsn=DSN, allow_privileged_role=True)  # the account that loaded the data (a benchmark server)
    con.attach("crm", "sqlite", path=str(crm))
    con.source("pg").binds_arrays = arrays
    return con


def run(crm: Path, dynamic: bool, arrays: bool, sql: str) -> tuple[float, int, str, int]:
    """Seconds, rows fetched from PostgreSQL, the dynamic filter's EXPLAIN ANALYZE text, result rows."""
    with _connect(crm, dynamic, arrays) as con:
        started = time.perf_counter()
        cursor = con.execute(sql)
        result = len(cursor.fetchall())
        seconds = time.perf_counter() - started
        probe = next(f for f in cursor.plan.fragments if f.source.name == "pg")
        chosen = probe.dynamic.chosen if probe.dynamic is not None else "no dynamic filter"
    return seconds, probe.stats.rows, chosen, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for dynamic_filter.json/.md")
    args = parser.parse_args()
    results = {"orders": args.orders, "runs": args.runs, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
               "load_average_before": os.getloadavg(), "scenarios": []}
    with tempfile.TemporaryDirectory() as folder:
        crm = setup(args.orders, Path(folder))
        for name, segment, arrays in SCENARIOS:
            sql = SQL.format(segment=segment)
            with _connect(crm, True, arrays) as con:
                keys = con.execute(f"SELECT count(DISTINCT c_custkey) FROM crm.customer WHERE c_mktsegment = '{segment}'").fetchall()[0][0]
            times: dict[bool, list[float]] = {True: [], False: []}
            fetched, chosen = {}, {}
            joining = run(crm, True, arrays, sql)[3]  # warm-up
            for dynamic in (True, False) * args.runs:
                seconds, rows, text, result = run(crm, dynamic, arrays, sql)
                assert result == joining, (name, dynamic, result, joining)
                times[dynamic].append(seconds)
                fetched[dynamic], chosen[dynamic] = rows, text
            record = {"scenario": name, "keys": keys, "joining_rows": joining, "strategy": chosen[True],
                      "fetched_on": fetched[True], "fetched_off": fetched[False],
                      "ms_on": round(statistics.median(times[True]) * 1000, 1),
                      "ms_off": round(statistics.median(times[False]) * 1000, 1),
                      "load_average": os.getloadavg()[0]}
            results["scenarios"].append(record)
            print(f"{name:18s} {keys:>6,d} keys  {chosen[True].split(';')[0]:60s} fetched {fetched[True]:>9,d} "
                  f"({fetched[True] / max(joining, 1):5.2f}x the {joining:,d} joining rows) {record['ms_on']:8.1f} ms | "
                  f"off: {fetched[False]:>9,d} rows {record['ms_off']:8.1f} ms", flush=True)
    results["load_average_after"] = os.getloadavg()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "dynamic_filter.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "dynamic_filter.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    lines = [f"# Dynamic filtering: {results['orders']:,d} PostgreSQL orders x SQLite customers by segment", "",
             f"{results['machine']}; median of {results['runs']} interleaved runs; load average (1, 5, 15 min) "
             f"before {', '.join(f'{x:.2f}' for x in results['load_average_before'])}, after "
             f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])} (shared machine: timings are noisy).", "",
             "| scenario | keys | strategy | rows fetched | joining rows | fetched / joining | ms | off: rows fetched | off: ms | 1-min load |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["scenarios"]:
        strategy = r["strategy"].split(";")[0]
        lines.append(f"| {r['scenario']} | {r['keys']:,d} | {strategy} | {r['fetched_on']:,d} | {r['joining_rows']:,d} | "
                     f"{r['fetched_on'] / max(r['joining_rows'], 1):.2f}x | {r['ms_on']:.0f} | {r['fetched_off']:,d} | "
                     f"{r['ms_off']:.0f} | {r['load_average']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
