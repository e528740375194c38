"""Runs inside benchmarks/.data/tpcds-venv (DuckDB 1.5 with its tpcds, postgres, mysql, sqlite and json
extensions from PyPI wheels); imports nothing from fedq or pyarrow.

  worker.py gen SF FOLDER           dsdgen(sf=SF): FOLDER/<table>.parquet for the 24 tables
  worker.py queries FOLDER          tpcds_queries(): FOLDER/qNN.sql for the 99 queries
  worker.py duckdb-file PATH T=P..  a DuckDB database file with table T from Parquet file P (written by
                                    DuckDB 1.5, so both it and fedq's DuckDB 2.0 can open it)
  worker.py peer                    the DuckDB 1.5 + scanners peer, JSON lines on stdin/stdout:
      {"op": "setup", "postgres": DSN|null, "mysql": DSN|null, "sqlite": PATH|null, "duckdb": PATH|null,
       "views": {SOURCE: {TABLE: "read_parquet('...')"}}}   -> {"version": ...}
      {"op": "run", "sql": SQL, "timeout": SECONDS}  -> {"seconds": S, "rows": N} or {"error": MESSAGE}
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import threading
import time

import duckdb

RENAMES = {"postgres.duckdb_extension": "postgres_scanner.duckdb_extension",
           "mysql.duckdb_extension": "mysql_scanner.duckdb_extension"}


def extension_dir() -> str:
    """Copy the wheels' extension binaries where DuckDB looks for them (offline, no INSTALL)."""
    root = os.path.join(sys.prefix, "duckdb-extensions")
    platform = duckdb.connect().execute("PRAGMA platform").fetchone()[0]
    version = f"v{duckdb.__version__}"
    target = os.path.join(root, version, platform)
    os.makedirs(target, exist_ok=True)
    pattern = os.path.join(sys.prefix, "lib", "python*", "site-packages", "duckdb_extension_*", "extensions", version,
                           "*.duckdb_extension")
    for path in glob.glob(pattern):
        name = os.path.basename(path)
        destination = os.path.join(target, RENAMES.get(name, name))
        if not os.path.exists(destination):
            shutil.copyfile(path, destination)
    return root


def connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    return duckdb.connect(database, config={"extension_directory": extension_dir(), "autoinstall_known_extensions": False,
                                            "autoload_known_extensions": False})


def gen(sf: float, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    con = connect()
    con.execute("LOAD tpcds")
    con.execute(f"CALL dsdgen(sf={sf})")
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
        con.execute(f"COPY {table} TO '{os.path.join(folder, table + '.parquet')}' (FORMAT parquet)")
        print(table, flush=True)


def queries(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    con = connect()
    con.execute("LOAD tpcds")
    for number, text in con.execute("SELECT query_nr, query FROM tpcds_queries() ORDER BY 1").fetchall():
        with open(os.path.join(folder, f"q{number:02d}.sql"), "w") as f:
            f.write(text.strip() + "\n")


def duckdb_file(path: str, pairs: list[str]) -> None:
    if os.path.exists(path):
        os.remove(path)
    con = connect(path)
    for pair in pairs:
        table, parquet = pair.split("=", 1)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{parquet}')")
    con.close()


def setup(request: dict) -> duckdb.DuckDBPyConnection:
    con = connect()
    if request.get("postgres"):
        con.execute("LOAD postgres_scanner")
        con.execute(f"ATTACH '{request['postgres']}' AS pg (TYPE postgres, READ_ONLY)")
    if request.get("mysql"):
        con.execute("LOAD mysql_scanner")
        con.execute(f"ATTACH '{request['mysql']}' AS my (TYPE mysql, READ_ONLY)")
        # mysql_scanner 1.5.5 with its experimental filter pushdown on (the default) fails TPC-DS Q05 with
        # "INTERNAL Error: Unsupported table filter type" and invalidates the database: off, as in 1.4
        con.execute("SET mysql_experimental_filter_pushdown = false")
    if request.get("sqlite"):
        con.execute("LOAD sqlite_scanner")
        con.execute(f"ATTACH '{request['sqlite']}' AS lite (TYPE sqlite, READ_ONLY)")
    if request.get("duckdb"):
        con.execute(f"ATTACH '{request['duckdb']}' AS duck (READ_ONLY)")
    if any("read_json" in r for views in (request.get("views") or {}).values() for r in views.values()):
        con.execute("LOAD json")
    for source, views in (request.get("views") or {}).items():
        con.execute(f"CREATE SCHEMA {source}")
        for table, reader in views.items():
            con.execute(f"CREATE VIEW {source}.{table} AS SELECT * FROM {reader}")
    return con


def run(con: duckdb.DuckDBPyConnection, request: dict) -> dict:
    timer = threading.Timer(request.get("timeout") or 1e9, con.interrupt)
    timer.start()
    started = time.perf_counter()
    try:
        rows = con.execute(request["sql"]).fetchall()
        return {"seconds": time.perf_counter() - started, "rows": len(rows)}
    except duckdb.InterruptException:
        return {"error": f"timed out after {request.get('timeout')} s"}
    finally:
        timer.cancel()


def peer() -> None:
    con = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "setup":
                con = setup(request)
                answer = {"version": duckdb.__version__}
            else:
                answer = run(con, request)
        except Exception as error:  # reported to the harness, which keeps going
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "gen":
        gen(float(rest[0]), rest[1])
    elif command == "queries":
        queries(rest[0])
    elif command == "duckdb-file":
        duckdb_file(rest[0], rest[1:])
    elif command == "peer":
        peer()
    else:
        raise SystemExit(f"unknown command {command!r}")
