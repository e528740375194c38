"""The DuckDB 1.5 peer: runs inside benchmarks/.peer-venv (DuckDB 1.5 + its postgres and sqlite
scanner extensions from PyPI wheels), so it imports nothing from fedq or pyarrow.

JSON lines on stdin/stdout:
  {"op": "setup", "postgres": DSN|null, "sqlite": PATH|null, "parquet": {TABLE: PATH}}  -> {"version": ...}
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

RENAMES = {"postgres.duckdb_extension": "postgres_scanner.duckdb_extension"}


def extension_dir() -> str:
    """Copy the wheels' extension binaries where DuckDB looks for them (offline, no INSTALL)."""
    root = os.path.join(sys.prefix, "duckdb-extensions")
    platform = duckdb.connect().execute("PRAGMA platform").fetchone()[0]
    version = f"v{duckdb.__version__}"
    target = os.path.join(root, version, platform)
    os.makedirs(target, exist_ok=True)
    pattern = os.path.join(sys.prefix, "lib", "python*", "site-packages", "duckdb_extension_*", "extensions", version, "*.duckdb_extension")
    for path in glob.glob(pattern):
        name = os.path.basename(path)
        destination = os.path.join(target, RENAMES.get(name, name))
        if not os.path.exists(destination):
            shutil.copyfile(path, destination)
    return root


def setup(request: dict) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"extension_directory": extension_dir(), "autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    if request.get("postgres"):
        con.execute("LOAD postgres_scanner")
        con.execute(f"ATTACH '{request['postgres']}' AS pg (TYPE postgres, READ_ONLY)")
    if request.get("sqlite"):
        con.execute("LOAD sqlite_scanner")
        con.execute(f"ATTACH '{request['sqlite']}' AS lite (TYPE sqlite, READ_ONLY)")
    if request.get("parquet"):
        con.execute("CREATE SCHEMA lake")
        for table, path in request["parquet"].items():
            con.execute(f"CREATE VIEW lake.{table} AS SELECT * FROM read_parquet('{path}')")
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


def main() -> None:
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
    main()
