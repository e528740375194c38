"""The engines one run compares, each answering one query at a time with its wall time:

  fedq            fedq over the layout's sources (the subject)
  lower           DuckDB (this venv's) with every table a local Parquet file: the lower bound, and the reference answer
  naive           fedq with pushdown=False: every referenced table pulled whole into Arrow, joined in DuckDB
  duckdb-scanner  DuckDB 1.5 attaching PostgreSQL and SQLite with its own scanners (subprocess in benchmarks/.peer-venv)
  fdw             PostgreSQL as the hub with foreign data wrappers (only if this server has FDWs for every source)

Every engine fetches the whole result as Python rows (DB-API ``fetchall``), the same for all.
An engine that cannot run says why (``reason``) and is reported as skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks.tpch.datagen import TABLES
from benchmarks.tpch.layouts import Layout

PEER_VENV = Path(__file__).resolve().parent.parent / ".peer-venv"
PEER_PACKAGES = ["duckdb==1.5.*", "duckdb-extension-postgres", "duckdb-extension-sqlite-scanner", "duckdb-extension-tpch", "pytz"]
ENGINE_ORDER = ("fedq", "lower", "duckdb-scanner", "naive", "fdw")
PEERS = ENGINE_ORDER[1:]


@dataclass
class Outcome:
    seconds: float | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] | None = None
    row_count: int | None = None
    moved: dict[str, dict[str, int]] | None = None  # source -> {"rows", "bytes"}
    error: str | None = None


class Engine:
    name = "?"
    reason: str | None = None  # why it cannot run, if it cannot

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FedqEngine(Engine):
    def __init__(self, layout: Layout, catalog: Path, pushdown: bool = True) -> None:
        import fedq

        self.name = "fedq" if pushdown else "naive"
        self.connection = fedq.connect(catalog, pushdown=pushdown)

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        cursor = self.connection.cursor()
        timer = threading.Timer(timeout, cursor.cancel)
        timer.start()
        started = time.perf_counter()
        try:
            cursor.execute(rewritten)
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
        except Exception as error:  # a fedq error or crash is a result of the benchmark
            late = time.perf_counter() - started >= timeout
            return Outcome(error=f"timed out after {timeout:g} s" if late else f"{type(error).__name__}: {error}")
        finally:
            timer.cancel()
        moved: dict[str, dict[str, int]] = {}
        for fragment in cursor.plan.fragments if cursor.plan else []:
            entry = moved.setdefault(fragment.source.name, {"rows": 0, "bytes": 0, "fragments": 0})
            entry["rows"] += fragment.stats.rows
            entry["bytes"] += fragment.stats.bytes
            entry["fragments"] += 1
        columns = [d[0] for d in cursor.description or []]
        cursor.close()
        return Outcome(seconds, columns, rows, len(rows), moved)

    def close(self) -> None:
        self.connection.close()


class LocalDuckDB(Engine):
    """DuckDB over the Parquet files, the original query text (bare table names)."""

    name = "lower"

    def __init__(self, layout: Layout) -> None:
        self.connection = duckdb.connect(config={"threads": max(1, os.cpu_count() or 1)})
        for table in TABLES:
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
            return Outcome(error=f"{type(error).__name__}: {error}")
        finally:
            timer.cancel()

    def close(self) -> None:
        self.connection.close()


def ensure_peer_venv(log) -> Path:
    """benchmarks/.peer-venv with DuckDB 1.5 and its scanner extensions (created once, from PyPI)."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import duckdb, duckdb_extension_postgres, duckdb_extension_sqlite_scanner"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"creating {PEER_VENV} (DuckDB 1.5 with postgres/sqlite scanners) ...")
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(PEER_PACKAGES)} failed: {done.stderr.strip()[-300:]}")
    return python


class ScannerPeer(Engine):
    """DuckDB 1.5 in a subprocess (JSON lines, see peer_worker.py); fedq's rewritten SQL runs unchanged
    because the peer attaches PostgreSQL as ``pg``, SQLite as ``lite`` and views Parquet as ``lake.*``."""

    name = "duckdb-scanner"

    def __init__(self, layout: Layout, log) -> None:
        self.layout = layout
        self.process: subprocess.Popen | None = None
        self.version = None
        try:
            self.python = ensure_peer_venv(log)
            self._start()
        except Exception as error:
            self.reason = f"cannot start DuckDB 1.5 peer: {error}"

    def _start(self) -> None:
        worker = Path(__file__).with_name("peer_worker.py")
        self.process = subprocess.Popen([str(self.python), str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        layout = self.layout
        answer = self._ask({
            "op": "setup",
            "postgres": layout.dsn if layout.tables_in("postgres") else None,
            "sqlite": str(layout.sqlite_path) if layout.tables_in("sqlite") else None,
            "parquet": {t: str(layout.parquet_path(t)) for t in layout.tables_in("parquet")},
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


FDW_FOR = {"sqlite": "sqlite_fdw", "parquet": "parquet_fdw"}


class FdwPeer(Engine):
    """PostgreSQL as the federation hub. Needs a wrapper for every non-PostgreSQL source of the layout;
    file_fdw reads only text/CSV, so Parquet needs parquet_fdw and SQLite needs sqlite_fdw."""

    name = "fdw"

    def __init__(self, layout: Layout) -> None:
        try:
            import adbc_driver_postgresql.dbapi as adbc

            with adbc.connect(layout.dsn) as con, con.cursor() as cur:
                cur.execute("SELECT name FROM pg_available_extensions WHERE name LIKE '%fdw%' ORDER BY name")
                available = [r[0] for r in cur.fetchall()]
        except Exception as error:
            self.reason = f"cannot ask PostgreSQL for its extensions: {error}"
            return
        missing = sorted({FDW_FOR[kind] for kind in FDW_FOR if layout.tables_in(kind)} - set(available))
        if missing:
            self.reason = (f"layout {layout.name} needs {', '.join(missing)}, which this PostgreSQL does not have "
                           f"(available FDWs: {', '.join(available) or 'none'}; file_fdw reads only text/CSV)")
        else:
            self.reason = "the FDWs exist, but this harness does not drive them yet"

    def run(self, number: int, original: str, rewritten: str, timeout: float) -> Outcome:
        return Outcome(error=self.reason)


def make_engines(layout: Layout, catalog: Path, peers: list[str], log) -> tuple[dict[str, Engine], LocalDuckDB]:
    """fedq and the requested peers (in ENGINE_ORDER), plus the reference (the lower-bound engine)."""
    reference = LocalDuckDB(layout)
    engines: dict[str, Engine] = {"fedq": FedqEngine(layout, catalog)}
    for name in PEERS:
        if name not in peers:
            continue
        if name == "lower":
            engines[name] = reference
        elif name == "naive":
            engines[name] = FedqEngine(layout, catalog, pushdown=False)
        elif name == "duckdb-scanner":
            engines[name] = ScannerPeer(layout, log)
        elif name == "fdw":
            engines[name] = FdwPeer(layout)
    return engines, reference
