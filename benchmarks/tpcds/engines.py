"""The engines a TPC-DS run compares; fedq's engine and the Outcome/Engine protocol are TPC-H's
(benchmarks/tpch/engines.py), the reference and the scanner peer know the 24 tables and seven kinds:

  fedq            fedq.connect(catalog, timeout=…) over layout seven (the subject)
  lower           DuckDB 2.0 (this venv's) with every table a local Parquet file: the lower bound and the reference
  duckdb-scanner  DuckDB 1.5 attaching PostgreSQL, MariaDB, SQLite and the DuckDB file with its own
                  scanners, Parquet/CSV/JSON as views (subprocess in benchmarks/.data/tpcds-venv)
  naive           fedq with pushdown=False (not in the default set: slow at SF 1)
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from benchmarks.tpch.engines import Engine, FedqEngine, Outcome
from benchmarks.tpcds import data
from benchmarks.tpcds.layouts import SOURCE_NAMES, Layout

ENGINE_ORDER = ("fedq", "lower", "duckdb-scanner", "naive")
PEERS = ENGINE_ORDER[1:]
DEFAULT_PEERS = ("lower", "duckdb-scanner")


class Fedq(FedqEngine):
    """TPC-H's fedq engine, its connection opened with fedq's own statement deadline (``timeout``)."""

    def __init__(self, catalog: Path, timeout: float, pushdown: bool = True) -> None:
        import fedq

        self.name = "fedq" if pushdown else "naive"
        self.connection = fedq.connect(catalog, pushdown=pushdown, timeout=timeout)

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        # fedq's deadline ends the statement; the cancel timer of the TPC-H engine is a backstop a bit later
        outcome = super().run(number, original, rewritten, timeout + 5)
        if outcome.error and "timed out after" in outcome.error:
            outcome.error = f"timed out after {timeout:g} s"
        return outcome


class LocalDuckDB(Engine):
    """DuckDB over the Parquet files, the original query text (bare table names)."""

    name = "lower"

    def __init__(self, layout: Layout) -> None:
        self.connection = duckdb.connect(config={"threads": max(1, os.cpu_count() or 1)})
        for table in data.TABLES:
            self.connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{layout.parquet_path(table)}')")

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        timer = threading.Timer(timeout, self.connection.interrupt)
        timer.start()
        started = time.perf_counter()
        try:
            cursor = self.connection.execute(original)
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            return Outcome(seconds, [d[0] for d in cursor.description], rows, len(rows))
        except duckdb.Error as error:
            late = time.perf_counter() - started >= timeout
            return Outcome(error=f"timed out after {timeout:g} s" if late else f"{type(error).__name__}: {error}")
        finally:
            timer.cancel()

    def close(self) -> None:
        self.connection.close()


def _mysql_attach(url: str) -> str:
    parts = urlsplit(url)
    fields = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306, "user": parts.username or "root",
              "database": parts.path.lstrip("/")}
    if parts.password:
        fields["passwd"] = parts.password
    return " ".join(f"{k}={v}" for k, v in fields.items())


class ScannerPeer(Engine):
    """DuckDB 1.5 in a subprocess (JSON lines, worker.py peer); fedq's rewritten SQL runs unchanged because
    the peer names everything as fedq's catalog does (pg, my, lite, duck attached; lake, csv, json views)."""

    name = "duckdb-scanner"

    def __init__(self, layout: Layout, log) -> None:
        self.layout = layout
        self.process: subprocess.Popen | None = None
        self.version = None
        try:
            self.python = data.ensure_venv(log)
            self._start()
        except Exception as error:
            self.reason = f"cannot start DuckDB {data.DUCKDB_PEER} peer: {error}"

    def _start(self) -> None:
        self.process = subprocess.Popen([str(self.python), str(data.WORKER), "peer"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        layout = self.layout
        readers = {"parquet": "read_parquet('{}')", "csv": "read_csv('{}')", "json": "read_json('{}')"}
        views = {SOURCE_NAMES[kind]: {t: reader.format(layout.file_path(t)) for t in layout.tables_in(kind)}
                 for kind, reader in readers.items() if layout.tables_in(kind)}
        answer = self._ask({
            "op": "setup",
            "postgres": layout.dsn if layout.tables_in("postgres") else None,
            "mysql": _mysql_attach(layout.mysql_dsn) if layout.tables_in("mysql") else None,
            "sqlite": str(layout.sqlite_path) if layout.tables_in("sqlite") else None,
            "duckdb": str(layout.duckdb_path) if layout.tables_in("duckdb") else None,
            "views": views,
        })
        if "error" in answer:
            raise RuntimeError(answer["error"])
        self.version = answer["version"]

    def _ask(self, request: dict) -> dict:
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"peer worker exited (code {self.process.wait()})")
        return json.loads(line)

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        try:
            answer = self._ask({"op": "run", "sql": rewritten, "timeout": timeout})
        except Exception as error:
            self.close()
            try:
                self._start()
            except Exception as restart:
                self.reason = f"peer worker died and did not restart: {restart}"
            return Outcome(error=str(error))
        if "error" in answer:
            if "FATAL Error" in answer["error"] or "INTERNAL Error" in answer["error"]:  # DuckDB invalidated: restart it
                self.close()
                try:
                    self._start()
                except Exception as restart:
                    self.reason = f"peer worker did not restart after a fatal error: {restart}"
            return Outcome(error=answer["error"])
        return Outcome(answer["seconds"], row_count=answer["rows"])

    def close(self) -> None:
        if self.process:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def make_engines(layout: Layout, catalog: Path, peers: list[str], timeout: float, log) -> tuple[dict[str, Engine], LocalDuckDB]:
    """fedq and the requested peers (in ENGINE_ORDER), plus the reference (the lower-bound engine)."""
    reference = LocalDuckDB(layout)
    engines: dict[str, Engine] = {"fedq": Fedq(catalog, timeout)}
    for name in PEERS:
        if name not in peers:
            continue
        if name == "lower":
            engines[name] = reference
        elif name == "naive":
            engines[name] = Fedq(catalog, timeout, pushdown=False)
        elif name == "duckdb-scanner":
            engines[name] = ScannerPeer(layout, log)
    return engines, reference
