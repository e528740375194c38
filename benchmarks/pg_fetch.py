"""Which PostgreSQL fetch path fedq uses, by measurement: ADBC (libpq COPY binary -> Arrow) vs
psycopg 3 (binary COPY rows -> Python -> Arrow), on the same table in the same run.

    .venv/bin/python benchmarks/pg_fetch.py [ROWS] [DSN]

Prints the median of 3 runs after a warm-up, and the ratio psycopg / ADBC.
"""
from __future__ import annotations

import statistics
import sys
import time

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

QUERY = "SELECT id, amount, label, day, at FROM fedq_bench.fetch"


def setup(dsn: str, rows: int) -> None:
    with adbc.connect(dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_bench")
        cur.execute("DROP TABLE IF EXISTS fedq_bench.fetch")
        cur.execute("CREATE TABLE fedq_bench.fetch (id bigint, amount double precision, label text, day date, at timestamptz)")
        cur.execute(f"INSERT INTO fedq_bench.fetch SELECT i, i * 0.5, 'label ' || (i % 1000), DATE '2020-01-01' + (i % 2000), "
                    f"TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '1 second' FROM generate_series(1, {rows}) i")


def fetch_adbc(dsn: str) -> pa.Table:
    with adbc.connect(dsn) as con, con.cursor() as cur:
        cur.execute(QUERY)
        return cur.fetch_arrow_table()


def fetch_psycopg(dsn: str) -> pa.Table:
    import psycopg

    with psycopg.connect(dsn) as con, con.cursor(binary=True) as cur:
        columns: list[list] = [[] for _ in range(5)]
        with cur.copy(f"COPY ({QUERY}) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "float8", "text", "date", "timestamptz"])
            for row in copy.rows():
                for column, value in zip(columns, row):
                    column.append(value)
        return pa.table(dict(zip(["id", "amount", "label", "day", "at"], columns)))


def median_seconds(fn, dsn: str, runs: int = 3) -> tuple[float, int]:
    fn(dsn)  # warm-up
    times, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = fn(dsn).num_rows
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


def main(rows: int = 1_000_000, dsn: str = "postgresql://postgres@127.0.0.1:5432/test") -> None:
    setup(dsn, rows)
    results = {}
    for name, fn in (("adbc", fetch_adbc), ("psycopg", fetch_psycopg)):
        seconds, fetched = median_seconds(fn, dsn)
        results[name] = seconds
        print(f"{name:8s} {fetched:>9,d} rows  {seconds:7.3f} s  {fetched / seconds / 1e6:6.2f} M rows/s", flush=True)
    print(f"psycopg / adbc = {results['psycopg'] / results['adbc']:.1f}x")


if __name__ == "__main__":
    main(*(int(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
