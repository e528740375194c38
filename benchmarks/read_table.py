"""Read one whole table into Arrow: fedq against the fastest raw Arrow driver and DuckDB 1.5's scanners
(issue 15, first acceptance line: fedq >= 0.9x the faster of the two, per source).

    .venv/bin/python benchmarks/read_table.py [--rows 1000000] [--runs 3] [--sources sqlite,mariadb,postgres]

The table (id bigint, x double, s varchar, d date, m decimal(12,2)), ``--rows`` rows, is kept in the
benchmark cache: ``benchmarks/.data/read_table.sqlite``, MariaDB ``fedq_bench_read_t`` and PostgreSQL
``fedq_bench.read_t`` (rebuilt when its row count differs; ``--drop`` removes all three). fedq and the
drivers read through the read-only fedq_reader accounts (tests/conftest.py), DuckDB too.

Every read runs in a process of its own, timed inside it from connecting to holding the whole
``pyarrow.Table`` (interpreter start and imports excluded); the median of ``--runs`` is reported.
Readers:

* ``fedq``: ``fedq.connect()``, attach, ``execute("SELECT * FROM src.t").fetch_arrow_table()``: the
  first query of a fresh connection, so it includes discovery (for SQLite, the storage-class check,
  one pass over the table).
* ``fedq warm``: the same read after a first ``LIMIT 1`` query in the same process (catalog known).
* raw drivers: SQLite ``adbc-driver-sqlite`` and ``connectorx``; MariaDB ``connectorx``; PostgreSQL
  ``adbc-driver-postgresql`` and ``connectorx``; the fastest is the baseline.
* ``duckdb 1.5``: ``ATTACH ... (TYPE sqlite|mysql|postgres, READ_ONLY)`` and ``.arrow()`` of
  ``SELECT *``, in benchmarks/.peer-venv (created as benchmarks/tpch does; plus duckdb-extension-mysql);
  skipped with the reason when it cannot be set up.

Writes benchmarks/results/read_table.md and .json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))

from conftest import (MYSQL_ADMIN_DSN, MYSQL_DSN, PG_ADMIN_DSN, PG_DSN, create_mysql_reader,
                      create_pg_reader)

SQLITE_PATH = ROOT / ".data" / "read_table.sqlite"
MY_TABLE = "fedq_bench_read_t"
PG_TABLE = "fedq_bench.read_t"
RESULTS = ROOT / "results"
PEER_EXTRA = ["duckdb-extension-mysql", "pyarrow"]  # .arrow() needs pyarrow
SOURCES = ("sqlite", "mariadb", "postgres")


# -- data ------------------------------------------------------------------------------------
def setup(rows: int, sources: list[str]) -> None:
    """Build the table where it is missing or has another row count (the benchmark cache)."""
    if "sqlite" in sources:
        _setup_sqlite(rows)
    if "mariadb" in sources:
        create_mysql_reader(MYSQL_ADMIN_DSN)
        _setup_mariadb(rows)
    if "postgres" in sources:
        create_pg_reader(PG_ADMIN_DSN)
        _setup_postgres(rows)


def _setup_sqlite(rows: int) -> None:
    import sqlite3

    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(SQLITE_PATH) as con:
        if con.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0]:
            if con.execute("SELECT count(*) FROM t").fetchone()[0] == rows:
                return
            con.execute("DROP TABLE t")
        con.execute("CREATE TABLE t (id BIGINT, x DOUBLE, s VARCHAR(40), d DATE, m DECIMAL(12,2))")
        con.execute(f"""WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows})
            INSERT INTO t SELECT i, i * 0.5, 'label ' || (i % 1000), date('2020-01-01', '+' || (i % 2000) || ' days'),
            (i % 100000) / 100.0 FROM seq""")


def _setup_mariadb(rows: int) -> None:
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(autocommit=True, **_parse_dsn(MYSQL_ADMIN_DSN)) as con, con.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (MY_TABLE,))
        if cur.fetchone()[0]:
            cur.execute(f"SELECT COUNT(*) FROM {MY_TABLE}")
            if cur.fetchone()[0] == rows:
                return
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id BIGINT PRIMARY KEY, x DOUBLE, s VARCHAR(40), d DATE, m DECIMAL(12,2))")
        cur.execute(f"INSERT INTO {MY_TABLE} SELECT seq, seq * 0.5, CONCAT('label ', seq % 1000), "
                    f"DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, (seq % 100000) / 100 FROM seq_1_to_{rows}")


def _setup_postgres(rows: int) -> None:
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(PG_ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_bench")
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'fedq_bench' AND tablename = 'read_t'")
        if cur.fetchone()[0]:
            cur.execute(f"SELECT count(*) FROM {PG_TABLE}")
            if cur.fetchone()[0] == rows:
                return
        cur.executescript(
            f"DROP TABLE IF EXISTS {PG_TABLE}; "
            f"CREATE TABLE {PG_TABLE} (id bigint PRIMARY KEY, x double precision, s varchar(40), d date, m numeric(12,2)); "
            f"INSERT INTO {PG_TABLE} SELECT i, i * 0.5, 'label ' || (i % 1000), DATE '2020-01-01' + (i % 2000), "
            f"(i % 100000) / 100.0 FROM generate_series(1, {rows}) i; ANALYZE {PG_TABLE}")


def drop() -> None:
    """Remove the cached tables."""
    import adbc_driver_postgresql.dbapi as pgdb
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    SQLITE_PATH.unlink(missing_ok=True)
    with pymysql.connect(autocommit=True, **_parse_dsn(MYSQL_ADMIN_DSN)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
    with pgdb.connect(PG_ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")


# -- one read, in a child process --------------------------------------------------------------
def _cx_url(source: str) -> str:
    from fedq.sources.mysql import _parse_dsn

    if source == "sqlite":
        return f"sqlite://{SQLITE_PATH}"
    if source == "mariadb":
        p = _parse_dsn(MYSQL_DSN)
        return f"mysql://{p['user']}@{p['host']}:{p['port']}/{p['database']}?prefer_socket=false"
    return PG_DSN


def _table(source: str) -> str:
    return {"sqlite": "t", "mariadb": MY_TABLE, "postgres": PG_TABLE}[source]


def read_once(reader: str, source: str) -> tuple[float, int]:
    """Seconds from connecting to holding the whole table, and its rows (runs in the child)."""
    import time

    import pyarrow  # noqa: F401  (imports are not timed)

    if reader.startswith("fedq"):
        import fedq

        kind = {"sqlite": ("sqlite", {"path": str(SQLITE_PATH)}), "mariadb": ("mysql", {"dsn": MYSQL_DSN}),
                "postgres": ("postgres", {"dsn": PG_DSN})}[source]
        name = {"sqlite": "t", "mariadb": MY_TABLE, "postgres": PG_TABLE}[source]
        started = time.perf_counter()
        con = fedq.connect()
        con.attach("src", kind[0], **kind[1])
        if reader == "fedq warm":
            con.execute(f"SELECT * FROM src.{name} LIMIT 1").fetchall()
            started = time.perf_counter()
        table = con.execute(f"SELECT * FROM src.{name}").fetch_arrow_table()
    elif reader == "adbc":
        started = time.perf_counter()
        if source == "sqlite":
            import adbc_driver_sqlite.dbapi as driver
            con = driver.connect(SQLITE_PATH.as_uri() + "?mode=ro")
        else:
            import adbc_driver_postgresql.dbapi as driver
            con = driver.connect(PG_DSN)
        cur = con.cursor()
        cur.execute(f"SELECT * FROM {_table(source)}")
        table = cur.fetch_arrow_table()
    elif reader == "connectorx":
        import connectorx

        started = time.perf_counter()
        table = connectorx.read_sql(_cx_url(source), f"SELECT * FROM {_table(source)}", return_type="arrow")
    else:
        raise ValueError(reader)
    return time.perf_counter() - started, table.num_rows


PEER_CODE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {tpch!r})
    import peer_worker
    peer_worker.RENAMES["mysql.duckdb_extension"] = "mysql_scanner.duckdb_extension"
    import duckdb
    con = duckdb.connect(config={{"extension_directory": peer_worker.extension_dir(), "autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False}})
    started = time.perf_counter()
    con.execute({load!r})
    con.execute({attach!r})
    table = con.execute({query!r}).arrow()
    rows = table.num_rows if hasattr(table, "num_rows") else table.read_all().num_rows
    print(json.dumps({{"seconds": time.perf_counter() - started, "rows": rows}}))
""")


def _peer_read(python: Path, source: str) -> tuple[float, int]:
    from fedq.sources.mysql import _parse_dsn

    if source == "sqlite":
        load, attach = "LOAD sqlite_scanner", f"ATTACH '{SQLITE_PATH}' AS src (TYPE sqlite, READ_ONLY)"
        query = "SELECT * FROM src.t"
    elif source == "mariadb":
        p = _parse_dsn(MYSQL_DSN)
        load = "LOAD mysql_scanner"  # the wheel names the file mysql.duckdb_extension: PEER_CODE copies it
        attach = f"ATTACH 'host={p['host']} port={p['port']} user={p['user']} database={p['database']}' AS src (TYPE mysql, READ_ONLY)"
        query = f"SELECT * FROM src.{MY_TABLE}"
    else:
        load, attach = "LOAD postgres_scanner", f"ATTACH '{PG_DSN}' AS src (TYPE postgres, READ_ONLY)"
        query = f"SELECT * FROM src.{PG_TABLE}"
    code = PEER_CODE.format(tpch=str(ROOT / "tpch"), load=load, attach=attach, query=query)
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["rows"]


def _child_read(reader: str, source: str) -> tuple[float, int]:
    done = subprocess.run([sys.executable, __file__, "--one", reader, source], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["rows"]


# -- the table -----------------------------------------------------------------------------------
RAW = {"sqlite": ("adbc", "connectorx"), "mariadb": ("connectorx",), "postgres": ("adbc", "connectorx")}
DRIVER_NAMES = {("sqlite", "adbc"): "adbc-driver-sqlite", ("postgres", "adbc"): "adbc-driver-postgresql"}


def _peer_python(log) -> Path:
    """benchmarks/.peer-venv (as benchmarks/tpch makes it), with DuckDB's mysql extension added."""
    sys.path.insert(0, str(ROOT.parent))
    from benchmarks.tpch.engines import PEER_VENV, ensure_peer_venv

    python = ensure_peer_venv(log)
    probe = subprocess.run([str(python), "-c", "import duckdb_extension_mysql, pyarrow"], capture_output=True, check=False)
    if probe.returncode != 0:
        done = subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "--quiet", *PEER_EXTRA], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(PEER_EXTRA)} failed: {done.stderr.strip()[-300:]}")
    return python


def median(fn, runs: int) -> dict:
    """Median seconds of ``runs`` reads (each its own process), or the error that stopped them."""
    times, rows = [], 0
    try:
        for _ in range(runs):
            seconds, rows = fn()
            times.append(seconds)
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:  # reported, not fatal
        return {"error": str(error)[:300]}
    return {"seconds": statistics.median(times), "runs": times, "rows": rows}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--drop", action="store_true", help="remove the cached tables and exit")
    parser.add_argument("--one", nargs=2, metavar=("READER", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds, rows = read_once(*args.one)
        print(json.dumps({"seconds": seconds, "rows": rows}))
        return
    if args.drop:
        drop()
        return
    sources = [s for s in args.sources.split(",") if s]
    setup(args.rows, sources)
    try:
        peer, peer_reason = _peer_python(log), None
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # no PyPI: skipped with the reason
        peer, peer_reason = None, f"DuckDB 1.5 peer not set up: {error}"
    results = _earlier(args.rows, args.runs)
    for source in sources:
        entry: dict = {}
        for reader in ("fedq", "fedq warm", *RAW[source]):
            log(f"{source}: {reader} ...")
            entry[reader] = median(lambda reader=reader, source=source: _child_read(reader, source), args.runs)
        log(f"{source}: duckdb 1.5 ...")
        entry["duckdb 1.5"] = median(lambda source=source: _peer_read(peer, source), args.runs) if peer else {"error": peer_reason}
        results["sources"][source] = entry
    report = render(results)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "read_table.md").write_text(report + "\n")
    (RESULTS / "read_table.json").write_text(json.dumps(results, indent=2) + "\n")


def _earlier(rows: int, runs: int) -> dict:
    """The last run's results when it read the same table the same number of times: a run of some
    ``--sources`` replaces only their rows of the report."""
    try:
        earlier = json.loads((RESULTS / "read_table.json").read_text())
    except (OSError, ValueError):
        earlier = {}
    if earlier.get("rows") == rows and earlier.get("runs") == runs:
        return earlier
    return {"rows": rows, "runs": runs, "sources": {}}


def _cell(result: dict) -> str:
    return f"{result['seconds']:.2f} s" if "seconds" in result else "—"


def render(results: dict) -> str:
    """The issue's table: fedq, the fastest raw driver, DuckDB 1.5, and fedq against the best of the two."""
    lines = [(f"Whole table into Arrow, {results['rows']:,} rows (bigint, double, varchar, date, decimal), "
              f"median of {results['runs']}, each read in its own process."), "",
             "| source | fedq | fedq (warm catalog) | fastest raw Arrow driver | DuckDB 1.5 scanner | fedq vs best | warm vs best |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for source, entry in results["sources"].items():
        raws = {r: entry[r] for r in RAW[source] if "seconds" in entry[r]}
        fastest = min(raws, key=lambda r: raws[r]["seconds"]) if raws else None
        raw_cell = f"{raws[fastest]['seconds']:.2f} s ({DRIVER_NAMES.get((source, fastest), fastest)})" if fastest else "—"
        best = raws[fastest]["seconds"] if fastest else None
        if "seconds" in entry["duckdb 1.5"]:
            best = min(best, entry["duckdb 1.5"]["seconds"]) if best is not None else entry["duckdb 1.5"]["seconds"]
        ratios = [f"{best / entry[r]['seconds']:.2f}×" if best and "seconds" in entry[r] else "—" for r in ("fedq", "fedq warm")]
        lines.append(f"| {source} | {_cell(entry['fedq'])} | {_cell(entry['fedq warm'])} | {raw_cell} | "
                     f"{_cell(entry['duckdb 1.5'])} | {ratios[0]} | {ratios[1]} |")
        notes += [f"- {source}, {reader}: {result['error']}" for reader, result in entry.items() if "error" in result]
        others = [f"{r} {entry[r]['seconds']:.2f} s" for r in RAW[source] if r != fastest and "seconds" in entry[r]]
        if others:
            notes.append(f"- {source}, other raw drivers: {', '.join(others)}")
    lines += ["", "fedq vs best: the faster of the raw driver and DuckDB divided by fedq's time (≥ 0.9× is the goal)."]
    return "\n".join(lines + ([""] + notes if notes else []))


if __name__ == "__main__":
    main()
