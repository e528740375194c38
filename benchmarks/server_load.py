"""Load on ``fedq serve``: concurrent psycopg clients run a mix of cross-source queries with known
answers (PostgreSQL orders, SQLite customers, Parquet sales); every answer is checked.

    .venv/bin/python benchmarks/server_load.py [--clients 16] [--seconds 60] [--out benchmarks/results]

Reports queries per second, p50/p99 latency, errors, wrong answers and queries lost (sent without a
correct answer), and the fedq sessions left open at PostgreSQL after the server shut down
(``pg_stat_activity`` where application_name = 'fedq', for the role this script's server uses).
Traffic goes to 127.0.0.1 only. The expected answers come from DuckDB over the same data, local.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DSN = os.environ.get("FEDQ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
ROLE, SCHEMA = "fedq_srv_load", "fedq_srv_load"
COUNTRIES = ["NL", "DE", "FR", "BE", "IT"]
CUSTOMERS, ORDERS = 1_000, 5_000

# (name, SQL for fedq with %s parameters, parameter generator)
QUERIES = [
    ("country_revenue",
     f"SELECT c.country, count(*) AS orders, sum(o.amount) AS revenue FROM pg.{SCHEMA}.orders o "
     "JOIN crm.customers c ON c.id = o.customer_id WHERE c.country = %s GROUP BY c.country",
     lambda r: [r.choice(COUNTRIES)]),
    ("top_customers_units",
     f"SELECT c.name, sum(o.amount) AS revenue, sum(s.units) AS units FROM pg.{SCHEMA}.orders o "
     "JOIN crm.customers c ON c.id = o.customer_id JOIN lake.sales s ON s.order_id = o.id "
     "WHERE o.amount > %s GROUP BY c.name ORDER BY revenue DESC, c.name LIMIT 5",
     lambda r: [r.randrange(50, 95)]),
    ("order_lookup",
     f"SELECT o.id, c.name, c.country, o.amount, s.units FROM pg.{SCHEMA}.orders o "
     "JOIN crm.customers c ON c.id = o.customer_id LEFT JOIN lake.sales s ON s.order_id = o.id WHERE o.id = %s",
     lambda r: [r.randrange(1, ORDERS + 1)]),
    ("sales_by_country",
     "SELECT c.country, count(*) AS sales, sum(s.units) AS units FROM lake.sales s "
     "JOIN crm.customers c ON c.id = s.customer_id WHERE c.id BETWEEN %s AND %s GROUP BY c.country ORDER BY c.country",
     lambda r: (lambda a: [a, a + 300])(r.randrange(1, CUSTOMERS - 300))),
]


def build(folder: Path) -> tuple[Path, dict[str, pa.Table]]:
    rng = random.Random(7)
    customers = pa.table({"id": pa.array(range(1, CUSTOMERS + 1), pa.int64()),
                          "name": [f"customer {i:05d}" for i in range(1, CUSTOMERS + 1)],
                          "country": [COUNTRIES[i % len(COUNTRIES)] for i in range(1, CUSTOMERS + 1)]})
    orders = pa.table({"id": pa.array(range(1, ORDERS + 1), pa.int32()),
                       "customer_id": pa.array([rng.randrange(1, CUSTOMERS + 1) for _ in range(ORDERS)], pa.int32()),
                       "amount": pa.array([f"{rng.randrange(100, 10_000) / 100:.2f}" for _ in range(ORDERS)]).cast(pa.decimal128(10, 2))})
    sold = sorted(rng.sample(range(1, ORDERS + 1), ORDERS // 2))
    sales = pa.table({"order_id": pa.array(sold, pa.int64()),
                      "customer_id": pa.array([orders["customer_id"][i - 1].as_py() for i in sold], pa.int64()),
                      "units": pa.array([rng.randrange(1, 10) for _ in sold], pa.int32())})
    with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as con:
        con.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
                    f"THEN CREATE ROLE {ROLE} LOGIN; END IF; END $$")
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROLE}")  # a reader: fedq refuses a role that may write
        con.execute(f"CREATE TABLE {SCHEMA}.orders (id integer PRIMARY KEY, customer_id integer, amount numeric(10,2))")
        with con.cursor().copy(f"COPY {SCHEMA}.orders FROM STDIN") as copy:
            for row in zip(*(orders[c].to_pylist() for c in orders.column_names)):
                copy.write_row(row)
        con.execute(f"ANALYZE {SCHEMA}.orders")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {ROLE}")
    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", zip(*(customers[c].to_pylist() for c in customers.column_names)))
    (folder / "lake").mkdir()
    pq.write_table(sales, folder / "lake" / "sales.parquet")
    parts = urlsplit(DSN)
    dsn = urlunsplit(parts._replace(netloc=f"{ROLE}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))
    catalog = folder / "catalog.toml"
    catalog.write_text(f'[sources.pg]\ntype = "postgres"\ndsn = "{dsn}"\n\n[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n\n'
                       '[sources.lake]\ntype = "files"\nurl = "lake"\n\n[server]\nusers = { load = "${FEDQ_LOAD_PASSWORD}" }\n')
    return catalog, {"orders": orders, "customers": customers, "sales": sales}


class Reference:
    """The expected answer of each (query, parameters), from DuckDB over the same tables, local."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.db = duckdb.connect()
        for name, table in tables.items():
            self.db.register(name, table)
        self.cache: dict[tuple, list[tuple]] = {}
        self.lock = threading.Lock()

    def answer(self, sql: str, params: list) -> list[tuple]:
        key = (sql, tuple(params))
        with self.lock:
            if key not in self.cache:
                local = (sql.replace(f"pg.{SCHEMA}.orders", "orders").replace("crm.customers", "customers")
                         .replace("lake.sales", "sales").replace("%s", "?"))
                self.cache[key] = normalise(self.db.execute(local, params).fetchall())
            return self.cache[key]


def normalise(rows: list[tuple]) -> list[tuple]:
    return [tuple(str(v) for v in row) for row in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def fedq_sessions() -> int:
    with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as con:
        return con.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fedq' AND usename = %s",
                           [ROLE]).fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    password = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="fedq-load-") as tmp:
        catalog, tables = build(Path(tmp))
        reference = Reference(tables)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log_path = Path(tmp) / "serve.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen([sys.executable, "-m", "fedq.repl.cli", "serve", str(catalog), "--host", "127.0.0.1",
                                       "--port", str(port)], cwd=ROOT, env={**os.environ, "FEDQ_LOAD_PASSWORD": password},
                                      stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"fedq serve did not start: {log_path.read_text()}") from None
                    time.sleep(0.2)
            load_before = os.getloadavg()[0]
            stats = run_clients(port, password, args.clients, args.seconds, reference)
            stats["load_average_1min"] = {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)}
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        time.sleep(0.5)
        stats["fedq_sessions_at_postgres_after_shutdown"] = fedq_sessions()
        stats["server_exit_status"] = server.returncode
    report(stats, args, Path(args.out))
    ok = (stats["errors"] == 0 and stats["lost"] == 0 and stats["wrong"] == 0
          and stats["fedq_sessions_at_postgres_after_shutdown"] == 0)
    return 0 if ok else 1


def run_clients(port: int, password: str, clients: int, seconds: float, reference: Reference) -> dict:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    counts = [{"sent": 0, "answered": 0, "correct": 0, "errors": 0, "wrong": 0} for _ in range(clients)]
    error_samples: list[str] = []
    start_gate = threading.Barrier(clients + 1)
    go = threading.Event()
    stop_at: list[float] = [0.0]

    def client(index: int) -> None:
        rng = random.Random(index)
        with psycopg.connect(host="127.0.0.1", port=port, user="load", password=password, dbname="fedq",
                             autocommit=True, connect_timeout=10) as con:
            start_gate.wait(timeout=60)
            go.wait(timeout=60)
            n = index
            while time.monotonic() < stop_at[0]:
                name, sql, make = QUERIES[n % len(QUERIES)]
                n += 1
                params = make(rng)
                counts[index]["sent"] += 1
                began = time.perf_counter()
                try:
                    rows = con.execute(sql, params).fetchall()
                except Exception as error:  # noqa: BLE001 - counted and reported
                    counts[index]["errors"] += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{name}: {type(error).__name__}: {error}")
                    continue
                latencies[index].append(time.perf_counter() - began)  # sent to last row received
                counts[index]["answered"] += 1
                if normalise(rows) == reference.answer(sql, params):
                    counts[index]["correct"] += 1
                else:
                    counts[index]["wrong"] += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{name}{params}: wrong answer")

    for _name, sql, make in QUERIES:  # expected answers of the first parameters, before the clock starts
        reference.answer(sql, make(random.Random(0)))
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait(timeout=60)  # every client connected
    began = time.monotonic()
    stop_at[0] = began + seconds
    go.set()
    time.sleep(seconds / 2)
    during = fedq_sessions()  # each client session holds its own connection to PostgreSQL
    for thread in threads:
        thread.join(timeout=seconds + 120)  # bounded: a stuck client shows up as lost queries
    elapsed = time.monotonic() - began
    every = [x for per in latencies for x in per]
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    return {
        "clients": clients, "seconds": round(elapsed, 1), "queries": total["sent"],
        "qps": round(total["answered"] / elapsed, 1),
        "p50_ms": round(statistics.median(every) * 1000, 1) if every else None,
        "p99_ms": round(percentile(every, 0.99) * 1000, 1) if every else None,
        "errors": total["errors"], "wrong": total["wrong"],
        "lost": total["sent"] - total["correct"] - total["errors"] - total["wrong"],
        "correct": total["correct"], "stuck_clients": sum(t.is_alive() for t in threads),
        "error_samples": error_samples, "fedq_sessions_at_postgres_during_run": during,
    }


def report(stats: dict, args: argparse.Namespace, out: Path) -> None:
    stats = {**stats, "command": f".venv/bin/python benchmarks/server_load.py --clients {args.clients} --seconds {args.seconds:g}",
             "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, shared with other work while measured",
             "queries_mix": [name for name, _, _ in QUERIES], "data": {"pg_orders": ORDERS, "sqlite_customers": CUSTOMERS,
                                                                     "parquet_sales": ORDERS // 2}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "server_load.json").write_text(json.dumps(stats, indent=2) + "\n")
    lines = [
        "# fedq serve under load", "",
        f"`{stats['command']}` — {stats['clients']} psycopg clients on 127.0.0.1 for {stats['seconds']} s, "
        f"a round-robin mix of {', '.join(stats['queries_mix'])} (PostgreSQL {ORDERS:,} orders × SQLite "
        f"{CUSTOMERS:,} customers × Parquet {ORDERS // 2:,} sales), every answer checked against DuckDB over the same data.",
        "", "| measure | value |", "|---|---|",
        f"| queries answered per second | {stats['qps']} |", f"| latency p50 | {stats['p50_ms']} ms |",
        f"| latency p99 | {stats['p99_ms']} ms |", f"| queries sent | {stats['queries']:,} |",
        f"| correct answers | {stats['correct']:,} |", f"| errors | {stats['errors']} |",
        f"| wrong answers | {stats['wrong']} |", f"| queries lost | {stats['lost']} |",
        f"| fedq sessions at PostgreSQL during the run | {stats['fedq_sessions_at_postgres_during_run']} |",
        f"| fedq sessions at PostgreSQL after shutdown | {stats['fedq_sessions_at_postgres_after_shutdown']} |",
        "", f"Machine: {stats['machine']} (1-minute load average {stats['load_average_1min']['before']} before the run, "
        f"{stats['load_average_1min']['after']} at its end).", "",
    ]
    if stats["error_samples"]:
        lines += ["Errors seen:", "", *[f"- {e}" for e in stats["error_samples"]], ""]
    (out / "server_load.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
