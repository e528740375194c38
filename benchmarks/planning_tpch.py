"""Planning time of the 22 TPC-H queries (issue 15 item 2: goal median <= 5 ms warm).

    .venv/bin/python benchmarks/planning_tpch.py [--sf 0.01] [--runs 30] [--queries 1-22] [--profile FILE]

Each query (benchmarks/tpch/queries, rewritten onto the mixed layout's names: lineitem and orders
Parquet, customer/nation/region SQLite, part/partsupp/supplier PostgreSQL) is planned with
``con.plan(sql)``: parse, views, bind, analyse, cut fragments, render remote SQL; no rows are read.

* **cold**: the first plan of the query on a fresh connection (catalog metadata and statistics
  fetched from the sources on the way), one per query;
* **warm**: on one connection, after planning every query once, the median of ``--runs`` plans;
* **cached**: what a repeated ``cursor.execute(sql)`` spends instead of planning (engine/plan_cache.py:
  the lookup, its checks against the catalog, and the fresh copy of the plan), after one execution.

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


def warm_ms(con: fedq.Connection, sqls: dict[int, str], runs: int,
            profile: cProfile.Profile | None) -> tuple[dict[int, float], dict[int, float]]:
    """Median wall and CPU time (this process, all threads) of ``runs`` plans per query, interleaved
    (query 1..22, then again) so drift hits all alike. CPU time moves less with other load on the machine."""
    for sql in sqls.values():
        con.plan(sql)
    wall: dict[int, list[float]] = {n: [] for n in sqls}
    cpu: dict[int, list[float]] = {n: [] for n in sqls}
    for _ in range(runs):
        for number, sql in sqls.items():
            if profile:
                profile.enable()
            started, started_cpu = time.perf_counter(), time.process_time()
            con.plan(sql)
            wall[number].append((time.perf_counter() - started) * 1e3)
            cpu[number].append((time.process_time() - started_cpu) * 1e3)
            if profile:
                profile.disable()
    return ({n: statistics.median(t) for n, t in wall.items()}, {n: statistics.median(t) for n, t in cpu.items()})


def cached_ms(con: fedq.Connection, sqls: dict[int, str], runs: int) -> dict[int, float]:
    """Median time of a plan-cache hit per query (each executed once first, which keeps its plan)."""
    times: dict[int, list[float]] = {n: [] for n in sqls}
    for sql in sqls.values():
        con.execute(sql).fetchall()
    for _ in range(runs):
        for number, sql in sqls.items():
            started = time.perf_counter()
            plan = con._plans.get(sql, None, con._plan_settings(), con.catalog)
            times[number].append((time.perf_counter() - started) * 1e3)
            if plan is None:
                raise SystemExit(f"Q{number:02d}: no cached plan after executing it")
    return {n: statistics.median(t) for n, t in times.items()}


def sqlglot_build() -> str:
    """Which sqlglot planned: the pure-Python package or the mypyc-compiled sqlglotc."""
    import sqlglot.expressions.core

    compiled = not sqlglot.expressions.core.__file__.endswith(".py")
    return f"sqlglot {metadata.version('sqlglot')}" + (" (compiled: sqlglotc)" if compiled else " (pure Python)")


def markdown(result: dict) -> str:
    lines = [f"# Planning the 22 TPC-H queries (SF {result['sf']}, mixed layout, `con.plan`)", "",
             (f"Warm median over the queries: **{result['warm_median_ms']:.2f} ms** (goal <= {GOAL_MS:g} ms; "
              f"CPU time {result['warm_cpu_median_ms']:.2f} ms); "
              f"a repeated statement (plan cache hit) {result['cached_median_ms']:.3f} ms; cold median "
              f"{result['cold_median_ms']:.1f} ms. {result['sqlglot']}, {result['runs']} runs per query."), "",
             "| query | warm median (ms) | warm CPU (ms) | cached, repeated execute (ms) | cold, first plan (ms) |",
             "|---|---:|---:|---:|---:|"]
    for number, row in result["queries"].items():
        lines.append(f"| Q{int(number):02d} | {row['warm_ms']:.2f} | {row['warm_cpu_ms']:.2f} | {row['cached_ms']:.3f} | {row['cold_ms']:.1f} |")
    lines += ["", ("warm: one connection, every query planned once first (metadata and statistics cached), then the "
                   "median of the runs; cached: a plan-cache hit (its checks and a fresh copy of the plan, no parsing "
                   "or planning); cold: the first plan on a fresh connection (metadata read from the sources). "
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
        warm, warm_cpu = warm_ms(con, sqls, args.runs, profile)
        cached = cached_ms(con, sqls, args.runs)
    if profile:
        profile.dump_stats(args.profile)
    result = {"sf": datagen.sf_label(args.sf), "runs": args.runs, "sqlglot": sqlglot_build(),
              "warm_median_ms": round(statistics.median(warm.values()), 3),
              "warm_cpu_median_ms": round(statistics.median(warm_cpu.values()), 3),
              "cached_median_ms": round(statistics.median(cached.values()), 4),
              "cold_median_ms": round(statistics.median(cold.values()), 2),
              "queries": {n: {"warm_ms": round(warm[n], 3), "warm_cpu_ms": round(warm_cpu[n], 3), "cached_ms": round(cached[n], 4), "cold_ms": round(cold[n], 2)}
                          for n in sqls}}
    for number in sqls:
        print(f"Q{number:02d}  warm {warm[number]:7.2f} ms (CPU {warm_cpu[number]:6.2f})   cached {cached[number]:6.3f} ms   cold {cold[number]:7.1f} ms")
    print(f"median over {len(sqls)} queries: warm {result['warm_median_ms']:.2f} ms (goal <= {GOAL_MS:g}; "
          f"CPU {result['warm_cpu_median_ms']:.2f} ms), "
          f"cached {result['cached_median_ms']:.3f} ms, cold {result['cold_median_ms']:.1f} ms; {result['sqlglot']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
