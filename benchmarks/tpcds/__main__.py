"""python -m benchmarks.tpcds --sf 1 --runs 1 [--layout seven] [--peers lower,duckdb-scanner[,naive]]
                             [--queries 1,3,5-7] [--timeout 120] [--out FOLDER | --publish]

TPC-DS (DuckDB 1.5's dsdgen and its 99 queries) over seven source kinds: PostgreSQL, MariaDB, SQLite,
a DuckDB file, Parquet, CSV and JSON. Results go to benchmarks/results/local/ (untracked); --publish
writes benchmarks/results/ instead. The results file is rewritten after every query, so a run cut
short leaves what it measured.

Exit status: 0 when fedq answered every query correctly, 1 when some query was wrong or failed,
2 on a usage or setup error."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.tpch.datagen import sf_label
from benchmarks.tpch.progress import Progress
from benchmarks.tpcds import data, load, queries, report, runner
from benchmarks.tpcds.engines import DEFAULT_PEERS, PEERS, make_engines
from benchmarks.tpcds.layouts import DEFAULT_DSN, DEFAULT_MYSQL, LAYOUTS, Layout

PUBLISHED = Path(__file__).resolve().parent.parent / "results"
DEFAULT_OUT = PUBLISHED / "local"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tpcds", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=1, help="TPC-DS scale factor (default 1)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="seven", help="where the tables live (default seven)")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per query and engine, after one warm-up (default 1)")
    parser.add_argument("--peers", default=",".join(DEFAULT_PEERS), help=f"comma-separated subset of {','.join(PEERS)}, or 'none'")
    parser.add_argument("--queries", help="which queries, e.g. 1,3,5-7 (default all 99)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for NAME.json/.md/.png (default benchmarks/results/local)")
    parser.add_argument("--publish", action="store_true", help="write to benchmarks/results (the published figures) instead")
    parser.add_argument("--name", help="result file name (default tpcds-sf{SF}-{LAYOUT})")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before one query run is cancelled (default 120)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help=f"PostgreSQL to load and query (default {DEFAULT_DSN})")
    parser.add_argument("--mysql", default=DEFAULT_MYSQL, help=f"MariaDB/MySQL server (default {DEFAULT_MYSQL})")
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
    layout = Layout(args.layout, args.sf, args.dsn, args.mysql)
    progress = Progress(len(numbers))
    log = progress.log
    data.ensure_parquet(args.sf, log)
    load.load(layout, log)
    catalog = layout.write_catalog()
    engines, reference = make_engines(layout, catalog, args.peers, args.timeout, log)
    for name, engine in engines.items():
        if engine.reason:
            log(f"peer {name} skipped: {engine.reason}")
    name = args.name or f"tpcds-sf{sf_label(args.sf)}-{args.layout}"
    out = PUBLISHED if args.publish else args.out
    out.mkdir(parents=True, exist_ok=True)
    log(f"TPC-DS SF {sf_label(args.sf)}, layout {args.layout}, catalog {catalog}; engines: "
        + ", ".join(n for n, e in engines.items() if not e.reason) + f"; {args.runs} run(s) after a warm-up, "
        f"deadline {args.timeout:g} s")
    try:
        results = runner.run(layout, numbers, engines, reference, args.runs, args.timeout, name, progress,
                             on_record=lambda partial: report.write_json(partial, out / f"{name}.json"))
    finally:
        for engine in {id(e): e for e in [*engines.values(), reference]}.values():
            engine.close()
    paths = report.write_all(results, out)
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
    for record in results["queries"]:
        if record["status"] != "ok":
            print(f"Q{record['query']:02d} {record['status']}: {report.short(record['message'], 500)}", file=sys.stderr)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
