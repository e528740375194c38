"""Create the README's example data: orders in PostgreSQL, customers in SQLite, sales and returns as files.

    python examples/make_data.py [POSTGRES_DSN]

POSTGRES_DSN is an account that may create the schema fedq_example (default: the postgres user);
it also creates the role fedq_reader that examples/catalog.toml attaches with, which may only read
(README section "A read-only role for fedq").
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "data"


def main(dsn: str = "postgresql://postgres@127.0.0.1:5432/test") -> None:
    (HERE / "lake" / "sales").mkdir(parents=True, exist_ok=True)
    with pg.connect(dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_example CASCADE")
        cur.execute("CREATE SCHEMA fedq_example")
        cur.execute("CREATE TABLE fedq_example.orders (id int, customer_id int, ordered_on date, amount numeric(10,2))")
        cur.execute("INSERT INTO fedq_example.orders SELECT i, 1 + i % 4, DATE '2026-01-01' + i, 10 + i * 2.5 "
                    "FROM generate_series(1, 40) i")
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'fedq_reader'")
        if not cur.fetchall()[0][0]:
            cur.executescript("CREATE ROLE fedq_reader LOGIN")
        cur.executescript("GRANT pg_read_all_data TO fedq_reader")
    crm = HERE / "crm.sqlite"
    crm.unlink(missing_ok=True)
    with sqlite3.connect(crm) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT, country TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                        [(1, "Ann", "DE"), (2, "Bob", "FR"), (3, "Émile", "FR"), (4, "Zoë", "NL")])
    for month in (1, 2):
        days = [dt.date(2026, month, d) for d in range(1, 11)]
        pq.write_table(pa.table({"order_id": [d.day + 10 * (month - 1) for d in days], "sold_on": days,
                                 "units": [d.day % 3 + 1 for d in days]}), HERE / "lake" / "sales" / f"2026-0{month}.parquet")
    pacsv.write_csv(pa.table({"order_id": [2, 5, 7], "reason": ["damaged", "", "late"]}), HERE / "lake" / "returns.csv")
    print(f"example data written to {HERE} and PostgreSQL schema fedq_example")


if __name__ == "__main__":
    main(*sys.argv[1:])
