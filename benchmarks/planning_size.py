"""Issue 14 item 3: planning time and peak memory by statement size and shape.

Each case runs ``con.plan(sql)`` (parse, bind, analyse, render: no rows are read) in its own Python
process, which reports its wall time and its own peak RSS (ru_maxrss, including the ~150 MB of an
idle fedq process). Shapes: an IN list of n integer literals, one of n string literals, a UNION ALL of n branches, a SELECT of
n computed columns; over a SQLite file and over PostgreSQL (a reader role; FEDQ_BENCH_PG_DSN /
FEDQ_BENCH_PG_ADMIN_DSN to change servers). A case that does not finish within --timeout seconds is
reported as such.

    python benchmarks/planning_size.py                 # every size
    python benchmarks/planning_size.py --quick         # the smaller sizes only
    python benchmarks/planning_size.py --shape union_all --whole   # UNION ALL only, without engine/union_shapes.py
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ADMIN_DSN = os.environ.get("FEDQ_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
READER_DSN = os.environ.get("FEDQ_BENCH_PG_DSN", "postgresql://fedq_reader@127.0.0.1:5432/test")
SIZES = {"in_list": [1_000, 10_000, 100_000], "in_text_list": [100_000], "union_all": [100, 1_000, 5_000, 10_000], "columns": [1_000, 2_500, 10_000]}
QUICK = {"in_list": [1_000, 10_000], "in_text_list": [10_000], "union_all": [100, 500], "columns": [500, 1_000]}

SHAPES = {
    "in_list": "sql = 'SELECT id, k FROM {table} WHERE id IN (' + ','.join(str(i) for i in range(n)) + ')'",
    "in_text_list": "sql = 'SELECT id, k FROM {table} WHERE CAST(k AS VARCHAR) IN (' + ','.join(f\"'v{{i}}'\" for i in range(n)) + ')'",
    "union_all": "sql = ' UNION ALL '.join(f'SELECT id, k FROM {table} WHERE k = {{i}}' for i in range(n))",
    "columns": "sql = 'SELECT ' + ', '.join(f'id + {{i}} AS c{{i}}' for i in range(n)) + ' FROM {table}'",
}
PROGRAM = """
import json, resource, time, fedq
con = fedq.connect(home=False, max_statement_length=100_000_000)
{attach}
{whole}
n = {n}
{shape}
started = time.monotonic()
plan = con.plan(sql)
seconds = time.monotonic() - started
print(json.dumps({{"seconds": round(seconds, 3), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "fragments": len(plan.fragments), "pushed_queries": sum(f.kind == "query" for f in plan.fragments),
                  "notes": [note[:160] for note in plan.notes][:3]}}))
"""


def make_sqlite(folder: Path) -> str:
    path = folder / "b.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, k INTEGER)")
        con.executemany("INSERT INTO b VALUES (?, ?)", ((i, i % 100) for i in range(10_000)))
    return str(path)


def make_postgres() -> bool:
    try:
        import adbc_driver_postgresql.dbapi as pgdb

        with pgdb.connect(ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
            cur.executescript("CREATE SCHEMA IF NOT EXISTS fedq_plan_bench; DROP TABLE IF EXISTS fedq_plan_bench.b; "
                              "CREATE TABLE fedq_plan_bench.b AS SELECT i AS id, i % 100 AS k FROM generate_series(1, 10000) i")
        return True
    except Exception as error:  # no server: the SQLite cases still run
        print(f"PostgreSQL skipped: {error}", file=sys.stderr)
        return False


def drop_postgres() -> None:
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(ADMIN_DSN, autocommit=True) as con, con.cursor() as cur:
        cur.executescript("DROP SCHEMA fedq_plan_bench CASCADE")


WHOLE = "import fedq.engine.union_shapes as union_shapes; union_shapes.MIN_BRANCHES = 10**9  # --whole"


def run_case(attach: str, table: str, shape: str, n: int, timeout: float, whole: bool = False) -> dict:
    program = textwrap.dedent(PROGRAM).format(attach=attach, n=n, shape=SHAPES[shape].format(table=table),
                                              whole=WHOLE if whole else "")
    try:
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": f"not finished within {timeout:.0f} s"}
    if done.returncode != 0:
        return {"outcome": "error: " + (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes only")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per case")
    parser.add_argument("--shape", action="append", choices=list(SHAPES), help="only these shapes (repeatable)")
    parser.add_argument("--whole", action="store_true",
                        help="plan each UNION ALL as a whole, as before engine/union_shapes.py (for before/after figures)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "planning_size.json"))
    args = parser.parse_args()
    sizes = {shape: counts for shape, counts in (QUICK if args.quick else SIZES).items() if not args.shape or shape in args.shape}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        targets = [("sqlite", f"con.attach('sq', 'sqlite', path={make_sqlite(Path(folder))!r})", "sq.b")]
        postgres = make_postgres()
        if postgres:
            targets.append(("postgres", f"con.attach('pg', 'postgres', dsn={READER_DSN!r})", "pg.fedq_plan_bench.b"))
        try:
            for source, attach, table in targets:
                for shape, counts in sizes.items():
                    for n in counts:
                        result = {"source": source, "shape": shape, "n": n, **({"whole": True} if args.whole else {}), **run_case(attach, table, shape, n, args.timeout, args.whole)}
                        results.append(result)
                        print(json.dumps(result), flush=True)
        finally:
            if postgres:
                drop_postgres()
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
