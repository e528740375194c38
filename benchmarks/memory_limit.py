"""Issue 7 part 5: a federated join whose state is larger than the local engine's memory limit
completes by spilling, with the right answer and bounded peak memory.

    .venv/bin/python benchmarks/memory_limit.py [--rows 6000000] [--memory-limit 256MB]

``pg.fedq_bench.big`` (PostgreSQL, 6M rows; built by benchmarks/partitioned_reads.py's setup if
missing) is joined on its key with ``lake.side`` (Parquet, 6M rows with a 32-character text
column, written once under benchmarks/.data/memory_limit/) and aggregated into 3,000 groups.

Each query runs in a subprocess of its own so its peak RSS (``ru_maxrss``) is its own:

* ``fedq``: ``fedq.connect(memory_limit=…, temp_directory=…)``; the spill folder's size is sampled
  every 20 ms from this process (DuckDB deletes its temporary files when the query ends).
* ``reference``: plain DuckDB without a memory limit over the same data (the PostgreSQL table exported
  to Parquet once): the right answer, and the memory the query takes when it may.

The answers must be equal (groups, counts, sums within 1e-9 relative). Writes
``benchmarks/results/memory_limit.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from partitioned_reads import DSN, TABLE, setup  # noqa: E402

DATA = Path(__file__).parent / ".data" / "memory_limit"
QUERY = """
SELECT b.d, count(*) AS n, sum(b.x * p.y) AS total, max(b.s || p.t) AS top
FROM {big} b JOIN {side} p ON p.id = b.id
GROUP BY b.d ORDER BY b.d
"""

CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
started = time.perf_counter()
if args["engine"] == "fedq":
    import fedq
    con = fedq.connect(memory_limit=args["memory_limit"], temp_directory=args["spill"])
    con.attach("pg", "postgres", dsn=args["dsn"], allow_privileged_role=True)  # the account that loaded the data
    con.attach("lake", "files", url=args["lake"])
    con.execute("SELECT 1").fetchall()
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # interpreter, libraries, DuckDB: before the query
    cursor = con.execute(args["sql"])
    rows = cursor.fetchall()
    plan = [(f.view, f.kind, f.remote, f.stats.rows, f.stats.partitions) for f in cursor.plan.fragments]
else:
    import duckdb
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = con.execute(args["sql"]).fetchall()
    plan = []
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT " + json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "baseline_rss_mb": baseline_kb / 1024, "plan": plan,
                  "rows": [[str(v) if not isinstance(v, (int, float)) else v for v in r] for r in rows]}))
"""


def prepare(rows: int) -> dict:
    table = setup(rows)
    DATA.mkdir(parents=True, exist_ok=True)
    lake, big = DATA / "lake", DATA / "big.parquet"
    lake.mkdir(exist_ok=True)
    side = lake / "side.parquet"
    if not side.exists() or pq.ParquetFile(side).metadata.num_rows != rows:
        with duckdb.connect() as con:  # keys in a shuffled order: the join cannot ride on sortedness
            con.execute(f"COPY (SELECT (i * 7919) % {rows} + 1 AS id, (i % 1000) / 10.0 AS y, md5(i::VARCHAR) AS t "
                        f"FROM range({rows}) r(i)) TO '{side}' (FORMAT parquet)")
    if not big.exists() or pq.ParquetFile(big).metadata.num_rows != rows:
        with pg.connect(DSN) as con, con.cursor() as cur:  # the reference reads the same rows locally
            cur.execute(f"SELECT id, x, s, d FROM {TABLE}")
            pq.write_table(cur.fetch_arrow_table(), big)
    return {**table, "side_rows": pq.ParquetFile(side).metadata.num_rows, "side_bytes": side.stat().st_size,
            "lake": str(lake), "big_parquet": str(big), "side": str(side)}


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def run_child(args: dict, spill: Path | None = None) -> dict:
    """Run one query in a fresh interpreter; sample the spill folder's size while it runs."""
    process = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peak_spill, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak_spill
        while not done.is_set():
            if spill is not None:
                peak_spill = max(peak_spill, _folder_bytes(spill))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{args['engine']} failed:\n{err[-3000:]}")
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
    result["peak_spill_mb"] = peak_spill / 2**20
    return result


def same(left: list, right: list) -> bool:
    if len(left) != len(right):
        return False
    for a, b in zip(left, right):
        for x, y in zip(a, b):
            if isinstance(x, float) or isinstance(y, float):
                if not math.isclose(float(x), float(y), rel_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--memory-limit", default="256MB")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    data = prepare(args.rows)
    print(f"data: {data['rows']:,} rows in PostgreSQL ({data['table_bytes'] / 2**20:.0f} MB), "
          f"{data['side_rows']:,} rows in Parquet ({data['side_bytes'] / 2**20:.0f} MB)", flush=True)
    spill = Path(tempfile.mkdtemp(prefix="fedq-spill-"))
    try:
        fedq_run = run_child({"engine": "fedq", "dsn": DSN, "lake": data["lake"], "memory_limit": args.memory_limit,
                              "spill": str(spill), "sql": QUERY.format(big=f"pg.{TABLE}", side="lake.side")}, spill)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    print(f"fedq      {fedq_run['seconds']:6.1f} s  peak RSS {fedq_run['peak_rss_mb']:6.0f} MB  "
          f"spill peak {fedq_run['peak_spill_mb']:6.0f} MB  load {os.getloadavg()[0]:.2f}", flush=True)
    reference = run_child({"engine": "reference", "sql": QUERY.format(
        big=f"read_parquet('{data['big_parquet']}')", side=f"read_parquet('{data['side']}')")})
    print(f"reference {reference['seconds']:6.1f} s  peak RSS {reference['peak_rss_mb']:6.0f} MB (no memory limit)", flush=True)
    correct = same(fedq_run["rows"], reference["rows"])
    report = {
        "benchmark": "memory_limit", "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "memory_limit": args.memory_limit, "query": QUERY.format(big=f"pg.{TABLE}", side="lake.side").strip(), "data": data,
        "fedq": {k: v for k, v in fedq_run.items() if k != "rows"}, "reference": {k: v for k, v in reference.items() if k != "rows"},
        "groups": len(fedq_run["rows"]), "correct": correct,
        "first_row": fedq_run["rows"][0] if fedq_run["rows"] else None,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory_limit.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "memory_limit.md").write_text(markdown(report))
    print(markdown(report))
    if not correct:
        raise SystemExit("fedq's answer differs from the reference")


def markdown(report: dict) -> str:
    data, f, r = report["data"], report["fedq"], report["reference"]
    fragments = "; ".join(
        f"{view}: read by DuckDB's own Parquet reader" if remote.startswith("read by DuckDB") else
        f"{view}: {kind} of PostgreSQL, {rows:,} rows{' over %d partitions' % parts if parts > 1 else ''}"
        for view, kind, remote, rows, parts in f["plan"])
    return "\n".join([
        "# A join larger than the memory limit",
        "",
        f"{report['when']}, {report['machine']['cpus']} CPUs, load average at the end "
        f"{report['machine']['load_average_at_end'][0]:.2f}.",
        "",
        f"`pg.{TABLE}` ({data['rows']:,} rows, {data['table_bytes'] / 2**20:.0f} MB in PostgreSQL) joined on its key with "
        f"`lake.side` ({data['side_rows']:,} rows, {data['side_bytes'] / 2**20:.0f} MB Parquet), {report['groups']:,} groups:",
        "",
        "```sql", report["query"], "```",
        "",
        "| run | memory limit | seconds | RSS before the query MB | peak RSS MB | spill peak MB | answer |",
        "|---|---|---:|---:|---:|---:|---|",
        f"| fedq | {report['memory_limit']} | {f['seconds']:.1f} | {f['baseline_rss_mb']:.0f} | {f['peak_rss_mb']:.0f} | "
        f"{f['peak_spill_mb']:.0f} | {'equal to the reference' if report['correct'] else 'DIFFERENT'} |",
        f"| DuckDB reference (all local Parquet) | none | {r['seconds']:.1f} | {r['baseline_rss_mb']:.0f} | "
        f"{r['peak_rss_mb']:.0f} | – | reference |",
        "",
        f"fedq's fragments: {fragments}. RSS above \"before the query\": "
        f"{f['peak_rss_mb'] - f['baseline_rss_mb']:.0f} MB with a {report['memory_limit']} limit (the rest: Arrow "
        "batches in flight, which DuckDB's limit does not count: the executor's queue of 8 batches per fragment, one per "
        "partition in the merge queue, those being decoded; ADBC's batches here are about 8.5 MB).",
        "Peak RSS is the subprocess's `ru_maxrss` (Python, DuckDB, Arrow buffers in flight, drivers); \"before the "
        "query\" is its high-water mark after imports, connecting and a trivial query (fedq's interpreter, sqlglot, "
        "pyarrow, DuckDB and the ADBC driver). The spill peak is the largest size of the temp_directory sampled every 20 ms.",
        "",
    ])


if __name__ == "__main__":
    main()
