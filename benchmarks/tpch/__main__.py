"""python -m benchmarks.tpch --sf 0.1 --layout mixed --runs 3 [--peers lower,duckdb-scanner,naive,fdw]
                            [--queries 1,3,5-7] [--compare BASELINE.json] [--out FOLDER | --publish]

Results go to benchmarks/results/local/ (untracked); --publish writes the published ones in
benchmarks/results/ instead.

Exit status: 0 when fedq answered every query correctly, 1 when some query was wrong or failed,
2 on a usage or setup error."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.tpch import compare, datagen, load, queries, report, runner
from benchmarks.tpch.engines import PEERS, make_engines
from benchmarks.tpch.layouts import DEFAULT_DSN, LAYOUTS, Layout
from benchmarks.tpch.progress import Progress

PUBLISHED = Path(__file__).resolve().parent.parent / "results"  # tracked: the README's figures
DEFAULT_OUT = PUBLISHED / "local"  # untracked (.gitignore): a run does not change the published figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tpch", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor (default 0.1)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="mixed", help="where the tables live (default mixed)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query and engine, after one warm-up (default 3)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}, or 'none'")
    parser.add_argument("--queries", help="which queries, e.g. 1,3,5-7 (default all 22)")
    parser.add_argument("--compare", type=Path, metavar="BASELINE.json", help="print fedq faster/slower per query vs a saved run")
    parser.add_argument("--threshold", type=float, default=0.10, help="--compare: relative change counted as faster/slower (default 0.10)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for NAME.json/.md/.png (default benchmarks/results/local, untracked)")
    parser.add_argument("--publish", action="store_true", help="write to benchmarks/results (the published figures) instead")
    parser.add_argument("--name", help="result file name (default tpch-sf{SF}-{LAYOUT})")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before one query run is cancelled (default 300)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help=f"PostgreSQL to load and query (default {DEFAULT_DSN})")
    args = parser.parse_args(argv)
    peers = [] if args.peers.strip() in ("", "none") else [p.strip() for p in args.peers.split(",")]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {unknown}; known: {', '.join(PEERS)}")
    args.peers = peers
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    numbers = queries.parse_selection(args.queries)
    layout = Layout(args.layout, args.sf, args.dsn)
    progress = Progress(len(numbers))
    log = progress.log
    datagen.ensure_parquet(args.sf, log)
    load.load(layout, log)
    catalog = layout.write_catalog()
    engines, reference = make_engines(layout, catalog, args.peers, log)
    for name, engine in engines.items():
        if engine.reason:
            log(f"peer {name} skipped: {engine.reason}")
    name = args.name or f"tpch-sf{datagen.sf_label(args.sf)}-{args.layout}"
    log(f"TPC-H SF {datagen.sf_label(args.sf)}, layout {args.layout}, catalog {catalog}; engines: "
        + ", ".join(n for n, e in engines.items() if not e.reason) + f"; {args.runs} runs after a warm-up")
    try:
        results = runner.run(layout, numbers, engines, reference, args.runs, args.timeout, name, progress)
    finally:
        for engine in {id(e): e for e in [*engines.values(), reference]}.values():
            engine.close()
    paths = report.write_all(results, PUBLISHED if args.publish else args.out)
    totals = results["totals"]
    print(f"fedq correct on {len(results['correct'])}/{len(numbers)} queries"
          + (f"; FAILED: {', '.join(f'Q{n:02d}' for n in results['failed'])}" if results["failed"] else ""))
    for peer in (n for n in engines if n != "fedq"):
        t = totals[peer]
        if t.get("ratio"):
            print(f"  fedq / {peer}: {t['ratio']:.2f}x over {t['common_queries']} queries "
                  f"({t['fedq_seconds_common']:.2f} s vs {t['seconds_common']:.2f} s; geomean of per-query ratios {t['geomean_ratio']:.2f}x)")
        elif results["engines"][peer]["status"] != "ran":
            print(f"  {peer}: skipped: {results['engines'][peer]['reason']}")
    print("wrote " + ", ".join(str(p) for p in paths) + f" in {results['elapsed_seconds']} s")
    if args.compare:
        print(compare.compare(results, args.compare, args.threshold))
    for record in results["queries"]:
        if record["status"] != "ok":
            print(f"Q{record['query']:02d} {record['status']}: {report.short(record['message'], 500)}", file=sys.stderr)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
