"""The long differential-fuzzing run: ``.venv/bin/python -m tests.fuzz_run --queries 20000 --seed 7``.

Builds the data set of tests/fuzzdata.py in every source kind (PostgreSQL schema ``fedq_fuzz_<pid>``,
MariaDB tables ``fedq_fuzz_<pid>_*``, dropped at the end, so runs never collide; SQLite, DuckDB,
Parquet, CSV, JSON files in a temporary folder, REST
on a local HTTP server), then runs generated queries through the three oracles of
tests/fuzzcheck.py in turn (differential, TLP, NoREC). Query ``i`` of seed ``N`` is generated from
``random.Random(f"{N}:{i}")``, so ``--replay N:i`` runs exactly that query again.

Bounded by ``--queries`` and ``--max-seconds``; prints progress every ``--progress`` queries and a
summary (queries per oracle and per source kind, mismatches). Each mismatch is appended to
``--out`` (default ``fuzz-mismatches.txt``) with its placement, query, difference and the last
remote statements. Exit status 1 when any mismatch was found. ``--without-nan-guards`` switches fedq's
NaN-over-Parquet guards off (issue 14), to show that the run then finds the wrong answers they prevent.

The servers come from FEDQ_TEST_PG_DSN and FEDQ_TEST_MYSQL_DSN (read-only accounts fedq attaches with) and
FEDQ_TEST_PG_ADMIN_DSN / FEDQ_TEST_MYSQL_ADMIN_DSN (loading the data), defaults as in tests/conftest.py.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import (MYSQL_ADMIN_DSN, MYSQL_DSN, PG_ADMIN_DSN, PG_DSN, create_mysql_reader,  # noqa: E402
                      create_pg_reader)
from fuzzcheck import Mismatch, Oracles, fuzz_session  # noqa: E402
from fuzzdata import KINDS  # noqa: E402
from fuzzgen import Generator, RandomChooser, placement  # noqa: E402

ORACLES = ("differential", "tlp", "norec")


def run_one(oracles: Oracles, seed: int, index: int, which: tuple[str, ...], kinds: tuple[str, ...]) -> Mismatch | None:
    """Generate query ``index`` of ``seed`` and check it with the oracle whose turn it is."""
    chooser = RandomChooser(random.Random(f"{seed}:{index}"))
    where = placement(chooser, kinds)
    generator = Generator(chooser)
    oracle = which[index % len(which)]
    if oracle == "differential":
        return oracles.differential(generator.query(), where)
    if oracle == "tlp":
        return oracles.tlp(generator.tlp(), where)
    return oracles.norec(generator.norec(), where)


def disable_nan_guards() -> None:
    """Switch fedq's NaN-over-Parquet guards off (sources/files.py), to show the fuzzer finds the bug they
    prevent: ``read_parquet`` without ``can_have_nan``, MIN/MAX no longer streamed through pyarrow, and
    every float comparison pushed to pyarrow's statistics pruning."""
    from sqlglot import exp

    import fedq.sources.files as files

    native_table = files.FilesSource.native_table

    def without_option(self: files.FilesSource, table: object) -> exp.Expression | None:
        call = native_table(self, table)
        if call is not None:
            call.set("expressions", [e for e in call.expressions
                                     if not (isinstance(e, exp.EQ) and e.this.name == "can_have_nan")])
        return call

    reject = files._reject_float_order
    files.FilesSource.native_table = without_option
    files.FilesSource.nan_hazard = lambda self, query, schema: None
    files._reject_float_order = lambda dtype, op, context: reject(dtype, op, files._Context(context.params, False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600.0)
    parser.add_argument("--oracles", default=",".join(ORACLES), help="comma-separated subset of " + ",".join(ORACLES))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated source kinds to place tables in")
    parser.add_argument("--out", default="fuzz-mismatches.txt")
    parser.add_argument("--progress", type=int, default=250)
    parser.add_argument("--replay", help="SEED:INDEX: run that one query and print its report")
    parser.add_argument("--without-nan-guards", action="store_true",
                        help="switch fedq's NaN-over-Parquet guards off: the run should then find mismatches")
    args = parser.parse_args(argv)
    if args.without_nan_guards:
        disable_nan_guards()
    which = tuple(o for o in args.oracles.split(",") if o)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if set(which) - set(ORACLES) or set(kinds) - set(KINDS):
        parser.error(f"oracles must be among {ORACLES}, kinds among {KINDS}")

    create_pg_reader(PG_ADMIN_DSN)
    create_mysql_reader(MYSQL_ADMIN_DSN)
    with tempfile.TemporaryDirectory(prefix="fedq-fuzz-") as folder, \
            fuzz_session(PG_DSN, MYSQL_DSN, Path(folder), PG_ADMIN_DSN, MYSQL_ADMIN_DSN) as oracles:
        if oracles.dataset.round_trip_problems:
            print("round trip problems:\n" + "\n".join(oracles.dataset.round_trip_problems), flush=True)
        if args.replay:
            seed, index = (int(part) for part in args.replay.split(":"))
            mismatch = run_one(oracles, seed, index, which, kinds)
            print(mismatch.report(oracles.dataset) if mismatch else "no mismatch")
            return 1 if mismatch else 0
        started = time.monotonic()
        out = Path(args.out)
        done = 0
        for index in range(args.queries):
            if time.monotonic() - started > args.max_seconds:
                print(f"stopping after {args.max_seconds:.0f} s", flush=True)
                break
            mismatch = run_one(oracles, args.seed, index, which, kinds)
            done += 1
            if mismatch is not None:
                with out.open("a", encoding="utf-8") as file:
                    file.write(f"-- replay: --seed {args.seed} --replay {args.seed}:{index}\n"
                               f"{mismatch.report(oracles.dataset)}\n")
                print(f"MISMATCH at {args.seed}:{index} ({mismatch.oracle}), written to {out}", flush=True)
            if done % args.progress == 0:
                elapsed = time.monotonic() - started
                print(f"{done}/{args.queries} queries, {len(oracles.stats.mismatches)} mismatches, "
                      f"{done / elapsed:.1f} queries/s", flush=True)
        print(f"seed {args.seed}: {done} queries in {time.monotonic() - started:.0f} s")
        print(oracles.stats.summary())
        return 1 if oracles.stats.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
