"""Threads and memory per idle logged-in ``fedq serve`` session, before and after its first query.

    .venv/bin/python benchmarks/server_idle.py [--sessions 300] [--out benchmarks/results]

Starts ``fedq serve`` over a small SQLite catalog on 127.0.0.1 (users with SCRAM), logs in N psycopg
clients that send nothing, and reads the server's thread count and resident memory from /proc; then
every client runs one query and the figures are read again (at once, and once the sessions have idled
past ``engine_idle_timeout``, set to ENGINE_IDLE seconds here); meanwhile one more client must connect
and answer a query (the time it takes is reported). Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from served import start_server, stop_server  # noqa: E402
ENGINE_IDLE = 20  # seconds: longer than 300 sessions take to run their query


def _status(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def _start(folder: Path, sessions: int, password: str) -> tuple[subprocess.Popen, int]:
    sqlite3.connect(folder / "crm.sqlite").executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');")
    (folder / "catalog.toml").write_text(f"""
[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[server]
users = {{ bench = "${{FEDQ_IDLE_BENCH_PASSWORD}}" }}
max_connections = {sessions + 10}
idle_timeout = 0
engine_idle_timeout = {ENGINE_IDLE}
""")
    env = {"FEDQ_IDLE_BENCH_PASSWORD": password, "FEDQ_HOME": str(folder / "home")}
    return start_server(folder / "catalog.toml", env=env, stderr=subprocess.DEVNULL)


def measure(sessions: int) -> dict:
    password = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        process, port = _start(Path(tmp), sessions, password)
        clients = []

        def connect() -> psycopg.Connection:
            return psycopg.connect(host="127.0.0.1", port=port, user="bench", password=password, dbname="fedq",
                                   connect_timeout=10, autocommit=True)

        try:
            time.sleep(0.5)
            threads0, rss0 = _status(process.pid)
            started = time.monotonic()
            clients = [connect() for _ in range(sessions)]
            login_seconds = time.monotonic() - started
            time.sleep(1)
            threads1, rss1 = _status(process.pid)
            started = time.monotonic()
            with connect() as con:
                con.execute("SELECT name FROM crm.customers WHERE id = 2").fetchall()
            extra_client_seconds = time.monotonic() - started
            for con in clients:
                con.execute("SELECT name FROM crm.customers WHERE id = 1").fetchall()
            threads2, rss2 = _status(process.pid)
            time.sleep(ENGINE_IDLE + 2)
            threads3, rss3 = _status(process.pid)
        finally:
            for con in clients:
                con.close()
            stop_server(process)
    return {
        "sessions": sessions, "cpus": os.cpu_count(), "python": platform.python_version(),
        "server_before": {"threads": threads0, "rss_kb": rss0},
        "idle": {"threads_per_session": round((threads1 - threads0) / sessions, 2),
                 "kb_per_session": round((rss1 - rss0) / sessions, 1)},
        "after_one_query": {"threads_per_session": round((threads2 - threads0) / sessions, 2),
                            "kb_per_session": round((rss2 - rss0) / sessions, 1)},
        "after_engine_idle_timeout": {"threads_per_session": round((threads3 - threads0) / sessions, 2),
                                      "kb_per_session": round((rss3 - rss0) / sessions, 1)},
        "login_seconds_all": round(login_seconds, 2),
        "one_more_client_connect_and_query_seconds": round(extra_client_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    result = measure(args.sessions)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "server_idle.json").write_text(json.dumps(result, indent=2) + "\n")
    idle, busy, released = result["idle"], result["after_one_query"], result["after_engine_idle_timeout"]
    (args.out / "server_idle.md").write_text(
        f"# fedq serve: {result['sessions']} logged-in sessions\n\n"
        "| state | threads per session | resident kB per session |\n|---|---:|---:|\n"
        f"| idle (logged in, no statement yet) | {idle['threads_per_session']} | {idle['kb_per_session']} |\n"
        f"| right after one query each | {busy['threads_per_session']} | {busy['kb_per_session']} |\n"
        f"| then idle past engine_idle_timeout ({ENGINE_IDLE} s) | {released['threads_per_session']} | "
        f"{released['kb_per_session']} |\n\n"
        "Resident memory is not all given back to the system when engines close (the allocator keeps freed "
        "pages), so the last row's memory overstates what a session holds.\n\n"
        f"{result['sessions']} SCRAM logins took {result['login_seconds_all']} s; with all of them idle, one more "
        f"client connected and answered a query in {result['one_more_client_connect_and_query_seconds']} s "
        f"({result['cpus']} CPUs, Python {result['python']}).\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
