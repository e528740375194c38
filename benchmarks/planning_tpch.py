"""Planning time of the 22 TPC-H queries (issue 15 item 2: goal median <= 5 ms warm).

    .venv/bin/python benchmarks/planning_tpch.py [--sf 0.01] [--runs 30] [--queries 1-22] [--profile FILE]

Each query (benchmarks/tpch/queries, rewritten onto the mixed layout's names: lineitem and orders
Parquet, customer/nation/region SQLite, part/partsupp/supplier PostgreSQL) is planned with
``con.plan(sql)``: parse, views, bind, analyse, cut fragments, render remote SQL; no rows are read.

* **cold**: the first plan of the query on a fresh connection (catalog metadata and statistics
  fetched from the sources on the way), one per query;
* **warm**: on one connection, after planning every query once, the median of ``--runs`` plans.

The data (a small SF is enough: planning does not read rows) is generated and loaded like
``python -m benchmarks.tpch`` does (tpchgen-cli from the bench extra; PostgreSQL tables in schema
tpch_sf{N}). ``--profile FILE`` writes cProfile statistics of the warm runs. Results:
planning_tpch.{json,md} in --out.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fedq
from benchmarks.tpch import datagen, load, queries
from benchmarks.tpch.layouts import DEFAULT_DSN, Layout

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
GOAL_MS = 5.0


def texts(layout: Layout, numbers: list[int]) -> dict[int, str]:
    return {n: queries.rewrite(queries.text(n), layout.names()) for n in numbers}


def cold_ms(catalog: Path, sql: str) -> float:
    """The first plan of one query on a connection of its own."""
    con = fedq.connect(catalog)
    try:
        started = time.perf_counter()
        con.plan(sql)
        return (time.perf_counter() - started) * 1e3
    finally:
        con.close()


def warm_ms(con: fedq.Connection, sqls: dict[int, str], runs: int, profile: cProfile.Profile | None) -> dict[int, float]:
    """Median of ``runs`` plans per query, interleaved (query 1..22, then again) so drift hits all alike."""
    for sql in sqls.values():
        con.plan(sql)
    times: dict[int, list[float]] = {n: [] for n in sqls}
    for _ in range(runs):
        for number, sql in sqls.items():
            if profile:
                profile.enable()
            started = time.perf_counter()
            con.plan(sql)
            elapsed = time.perf_counter() - started
            if profile:
                profile.disable()
            times[number].append(elapsed * 1e3)
    return {n: statistics.median(t) for n, t in times.items()}


def sqlglot_build() -> str:
    """Which sqlglot planned: the pure-Python package or the mypyc-compiled sqlglotc."""
    import sqlglot.expressions

    compiled = not sqlglot.expressions.__file__.endswith(".py")
    return f"sqlglot {metadata.version('sqlglot')}" + (" (compiled: sqlglotc)" if compiled else " (pure Python)")


def markdown(result: dict) -> str:
    lines = [f"# Planning the 22 TPC-H queries (SF {result['sf']}, mixed layout, `con.plan`)", "",
             (f"Warm median over the queries: **{result['warm_median_ms']:.2f} ms** (goal <= {GOAL_MS:g} ms); "
             f"cold median {result['cold_median_ms']:.1f} ms. {result['sqlglot']}, {result['runs']} warm runs per query."), "",
             "| query | warm median (ms) | cold, first plan (ms) |", "|---|---:|---:|"]
    for number, row in result["queries"].items():
        lines.append(f"| Q{int(number):02d} | {row['warm_ms']:.2f} | {row['cold_ms']:.1f} |")
    lines += ["", ("warm: one connection, every query planned once first (metadata and statistics cached), then the "
              "median of the runs; cold: the first plan on a fresh connection (metadata read from the sources). "
              "Produced by `.venv/bin/python benchmarks/planning_tpch.py`.")]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sf", type=float, default=0.01, help="TPC-H scale factor of the data (default 0.01)")
    parser.add_argument("--runs", type=int, default=30, help="warm plans per query (default 30)")
    parser.add_argument("--queries", help="which queries, e.g. 1,3,5-7 (default all 22)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help=f"PostgreSQL to load and plan over (default {DEFAULT_DSN})")
    parser.add_argument("--profile", type=Path, help="write cProfile statistics of the warm runs here")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for planning_tpch.{json,md}")
    parser.add_argument("--name", default="planning_tpch", help="result file name (default planning_tpch)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    layout = Layout("mixed", args.sf, args.dsn)
    datagen.ensure_parquet(args.sf, print)
    load.load(layout, print)
    catalog = layout.write_catalog()
    sqls = texts(layout, queries.parse_selection(args.queries))
    cold = {n: cold_ms(catalog, sql) for n, sql in sqls.items()}
    profile = cProfile.Profile() if args.profile else None
    with fedq.connect(catalog) as con:
        warm = warm_ms(con, sqls, args.runs, profile)
    if profile:
        profile.dump_stats(args.profile)
    result = {"sf": datagen.sf_label(args.sf), "runs": args.runs, "sqlglot": sqlglot_build(),
              "warm_median_ms": round(statistics.median(warm.values()), 3),
              "cold_median_ms": round(statistics.median(cold.values()), 2),
              "queries": {n: {"warm_ms": round(warm[n], 3), "cold_ms": round(cold[n], 2)} for n in sqls}}
    for number in sqls:
        print(f"Q{number:02d}  warm {warm[number]:7.2f} ms   cold {cold[number]:7.1f} ms")
    print(f"median over {len(sqls)} queries: warm {result['warm_median_ms']:.2f} ms (goal <= {GOAL_MS:g}), "
          f"cold {result['cold_median_ms']:.1f} ms; {result['sqlglot']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
