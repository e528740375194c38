"""Issue 16: export and streaming, against DuckDB's own COPY in the same run.

    .venv/bin/python benchmarks/export.py [--rows 3000000] [--csv-gb 1.0] [--repeat 3]

1. Export: a Parquet file of ``--rows`` rows (id, text, decimal, date, timestamp, double, boolean;
   written once to a temp dir) goes to CSV by fedq's ``COPY (SELECT * FROM lake.t) TO 'x.csv'``
   (a ``files`` source) and by DuckDB's ``COPY (SELECT * FROM 't.parquet') TO 'x.csv'``. Each run is
   a process of its own, so its time (process start to written file, imports and connect included)
   and peak RSS (``ru_maxrss`` of the child) are its own; the median of ``--repeat`` runs is
   reported, with the ratios fedq / DuckDB. The two files must be byte-identical.
2. Streaming: a CSV of about ``--csv-gb`` GB (generated in a temp dir, deleted after) through
   ``fedq CATALOG -c "SELECT * FROM lake.big" --format csv > /dev/null`` and through the REPL in its
   default table format (``SELECT * FROM lake.big;`` on its standard input): peak RSS and time. Then
   Ctrl-C: SIGINT sent 3 s into each of the two, and the seconds until the process has ended.

Writes ``benchmarks/results/export.{json,md}``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DUCKDB = """
import duckdb, sys
duckdb.connect().execute(f"COPY (SELECT * FROM '{sys.argv[1]}') TO '{sys.argv[2]}' (FORMAT csv)")
"""
FEDQ = """
import fedq, sys
con = fedq.connect(home=False)
con.attach("lake", "files", url=sys.argv[1])
con.execute(f"COPY (SELECT * FROM lake.t) TO '{sys.argv[2]}' (FORMAT csv)").fetchall()
"""
TABLE = """SELECT i AS id, 'customer_' || (i % 100000) AS name, CAST(i % 9973 AS DECIMAL(12,2)) / 7 AS amount,
  DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS day, TIMESTAMP '2020-01-01' + INTERVAL (i) SECOND AS at,
  i * 0.25 AS score, i % 3 = 0 AS flag FROM range({rows}) t(i)"""


def _child(argv: list[str], stdin: bytes | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process (``stdin``: its standard input)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if stdin:
        process.stdin.write(stdin)
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode()
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode or error.strip():
        raise SystemExit(f"{argv[:3]} failed: {error}")
    return seconds, usage.ru_maxrss / 1024


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def export(folder: Path, rows: int, repeat: int) -> dict:
    import duckdb

    lake = folder / "lake"
    lake.mkdir()
    duckdb.connect().execute(f"COPY ({TABLE.format(rows=rows)}) TO '{lake / 't.parquet'}' (FORMAT parquet)")
    runs: dict[str, list[tuple[float, float]]] = {"fedq": [], "duckdb": []}
    digests = {}
    for _ in range(repeat):
        for engine, script, source in (("duckdb", DUCKDB, lake / "t.parquet"), ("fedq", FEDQ, lake)):
            target = folder / f"{engine}.csv"
            target.unlink(missing_ok=True)
            runs[engine].append(_child([sys.executable, "-c", script, str(source), str(target)]))
            digests[engine] = _digest(target)
            size = target.stat().st_size
    if digests["fedq"] != digests["duckdb"]:
        raise SystemExit("fedq's CSV differs from DuckDB's")
    median = {e: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r)) for e, r in runs.items()}
    return {"rows": rows, "csv_bytes": size, "identical": True, "runs": runs,
            "fedq_seconds": median["fedq"][0], "fedq_peak_mb": median["fedq"][1],
            "duckdb_seconds": median["duckdb"][0], "duckdb_peak_mb": median["duckdb"][1],
            "time_ratio": median["fedq"][0] / median["duckdb"][0], "memory_ratio": median["fedq"][1] / median["duckdb"][1]}


def _interrupt_seconds(argv: list[str], stdin: bytes | None, after: float = 3.0) -> float:
    """Seconds from SIGINT (sent ``after`` s into the query) until the process has ended."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        process.stdin.write(stdin)
        process.stdin.close()
    time.sleep(after)
    if process.poll() is not None:
        raise SystemExit(f"{argv[:3]} ended before it could be interrupted")
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return time.perf_counter() - sent


def streaming(folder: Path, gigabytes: float) -> dict:
    import duckdb

    lake = folder / "stream"
    lake.mkdir()
    rows = int(gigabytes * 1e9 / 100)  # about 100 bytes a row
    query = (f"SELECT i AS id, 'customer_' || (i % 100000) AS name, i * 0.25 AS score, repeat('x', 40 + i % 20) AS note, "
             f"DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS day FROM range({rows}) t(i)")
    duckdb.connect().execute(f"COPY ({query}) TO '{lake / 'big.csv'}' (FORMAT csv)")
    size = (lake / "big.csv").stat().st_size
    catalog = folder / "catalog.toml"
    catalog.write_text(f'[sources.lake]\ntype = "files"\nurl = "{lake}"\n')
    fedq_cli = [sys.executable, "-m", "fedq.repl.cli", str(catalog)]
    csv_argv = [*fedq_cli, "-c", "SELECT * FROM lake.big", "--format", "csv"]
    script = b"SELECT * FROM lake.big;\n"
    result = {"csv_bytes": size, "rows": rows}
    result["seconds"], result["peak_mb"] = _child(csv_argv)
    result["table_seconds"], result["table_peak_mb"] = _child(fedq_cli, stdin=script)
    result["csv_interrupt_seconds"] = _interrupt_seconds(csv_argv, None)
    result["table_interrupt_seconds"] = _interrupt_seconds(fedq_cli, script)
    (lake / "big.csv").unlink()
    return result


def report(result: dict) -> str:
    e, s = result["export"], result["streaming"]
    return "\n".join([
        "# Export and streaming (issue 16)",
        "",
        (f"Machine: {os.cpu_count()} CPUs. Command: `.venv/bin/python benchmarks/export.py --rows {e['rows']} "
         f"--csv-gb {result['csv_gb']} --repeat {result['repeat']}`. Each run is its own process "
         "(start to written file, imports included); medians."),
        "",
        f"## Export of {e['rows']:,} rows (Parquet) to CSV ({e['csv_bytes'] / 1e6:,.0f} MB), byte-identical files",
        "",
        "| | seconds | peak RSS (MB) |",
        "|---|---:|---:|",
        f"| DuckDB `COPY (SELECT * FROM 't.parquet') TO 'x.csv'` | {e['duckdb_seconds']:.2f} | {e['duckdb_peak_mb']:.0f} |",
        f"| fedq `COPY (SELECT * FROM lake.t) TO 'x.csv'` | {e['fedq_seconds']:.2f} | {e['fedq_peak_mb']:.0f} |",
        f"| fedq / DuckDB | {e['time_ratio']:.2f}x | {e['memory_ratio']:.2f}x |",
        "",
        "Goal: within 2x DuckDB's time and memory.",
        "",
        f"## Streaming a {s['csv_bytes'] / 1e9:.2f} GB CSV ({s['rows']:,} rows): `SELECT * FROM lake.big`, output to /dev/null",
        "",
        "| | seconds | peak RSS (MB) | Ctrl-C 3 s in: seconds to stop |",
        "|---|---:|---:|---:|",
        f"| `fedq CATALOG -c … --format csv` | {s['seconds']:.1f} | {s['peak_mb']:.0f} | {s['csv_interrupt_seconds']:.2f} |",
        f"| the REPL, table format (statement on stdin) | {s['table_seconds']:.1f} | {s['table_peak_mb']:.0f} "
        f"| {s['table_interrupt_seconds']:.2f} |",
        "",
        "Goals: peak RSS under 500 MB, Ctrl-C within 1 s. The files source reads CSV with pyarrow.csv's streaming "
        "reader, one block ahead (sources/files._csv_batches; pyarrow.dataset's CSV scan read ahead of a slow consumer "
        "without bound: 1,326 MB before). The table format draws each 1,000-row block with Arrow kernels "
        "(repl/arrow_table.py); before, prompt-toolkit's width cache kept every cell (3.75 GB for a 0.67 GB CSV).",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--csv-gb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with tempfile.TemporaryDirectory(prefix="fedq-export-bench-") as folder:
        result = {"export": export(Path(folder), args.rows, args.repeat),
                  "streaming": streaming(Path(folder), args.csv_gb), "csv_gb": args.csv_gb, "repeat": args.repeat}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "export.md").write_text(report(result))
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
