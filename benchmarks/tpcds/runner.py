"""One TPC-DS run, as a TPC-H run (benchmarks/tpch/runner.py): per query the reference answer, every
engine's warm-up (fedq's answer checked against the reference with benchmarks.tpch.check), then N
timed rounds with the engines interleaved. Totals are TPC-H's (runner.totals)."""
from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys

from benchmarks.tpch import check
from benchmarks.tpch.engines import Engine, Outcome
from benchmarks.tpch.progress import Progress
from benchmarks.tpch.report import short
from benchmarks.tpch.runner import _versions, totals
from benchmarks.tpcds import queries
from benchmarks.tpcds.layouts import Layout


def run_query(number: int, index: int, layout: Layout, engines: dict[str, Engine], reference: Engine,
              runs: int, timeout: float, progress: Progress) -> dict:
    original = queries.text(number)
    rewritten = queries.rewrite(original, layout.names())
    record: dict = {"query": number, "status": "ok", "message": None, "rows": None, "times": {}, "moved": {}}
    progress.show(index, number, "reference", "answer")
    expected = reference.run(number, original, rewritten, timeout)
    record["reference_rows"] = expected.row_count
    ready = [name for name, engine in engines.items() if engine.reason is None]
    times: dict[str, list[float]] = {name: [] for name in ready}
    errors: dict[str, str] = {}
    checks: dict[str, str | None] = {}
    warm: dict[str, float] = {}
    for name in ready:  # warm-up; every answer is checked, but only fedq's decides the run
        progress.show(index, number, name, "warm-up")
        outcome = engines[name].run(number, original, rewritten, timeout)
        if outcome.error:
            errors[name] = outcome.error
            continue
        warm[name] = outcome.seconds
        if name == "fedq":
            record["rows"] = outcome.row_count
        if expected.error:
            checks[name] = f"unchecked: reference failed: {expected.error}"
        elif outcome.rows is not None:
            checks[name] = check.compare(expected.columns, expected.rows, outcome.columns, outcome.rows, original)
        elif outcome.row_count != expected.row_count:
            checks[name] = f"row count differs: expected {expected.row_count}, got {outcome.row_count}"
        else:
            checks[name] = None
    record["checks"] = checks
    record["warm_up"] = warm
    if checks.get("fedq"):
        record.update(status="unchecked" if expected.error else "wrong", message=checks["fedq"])
    if "fedq" in errors:
        record.update(status="timeout" if errors["fedq"].startswith("timed out") else "error", message=errors["fedq"])
    last: dict[str, Outcome] = {}
    for round_ in range(runs):
        order = [n for n in ready if n not in errors]
        order = order[round_ % len(order):] + order[:round_ % len(order)] if order else order  # rotate who goes first
        for name in order:
            progress.show(index, number, name, f"run {round_ + 1}/{runs}")
            outcome = engines[name].run(number, original, rewritten, timeout)
            if outcome.error:
                errors[name] = outcome.error
                continue
            times[name].append(outcome.seconds)
            last[name] = outcome
    for name in engines:
        engine = engines[name]
        if engine.reason is not None:
            record["times"][name] = {"median": None, "runs": [], "error": f"skipped: {engine.reason}"}
        elif name in errors:
            record["times"][name] = {"median": None, "runs": times[name], "error": errors[name]}
        else:
            record["times"][name] = {"median": statistics.median(times[name]), "runs": times[name], "error": None}
        if name in ("fedq", "naive") and name in last:
            record["moved"][name] = last[name].moved
    fedq = record["times"]["fedq"]["median"]
    record["ratios"] = {name: (fedq / t["median"] if fedq and t["median"] else None)
                        for name, t in record["times"].items() if name != "fedq"}
    return record


def run(layout: Layout, numbers: list[int], engines: dict[str, Engine], reference: Engine, runs: int, timeout: float,
        name: str, progress: Progress, on_record=None) -> dict:
    records = []
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    def results() -> dict:
        return {
            "benchmark": "TPC-DS",
            "name": name,
            "created": started,
            "sf": layout.sf,
            "layout": layout.name,
            "placement": layout.placement,
            "runs": runs,
            "timeout": timeout,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
            "versions": _versions(engines),
            "engines": {n: {"status": "skipped" if e.reason else "ran", "reason": e.reason} for n, e in engines.items()},
            "queries": records,
            "totals": totals(records, list(engines)),
            "correct": [r["query"] for r in records if r["status"] == "ok"],
            "failed": [r["query"] for r in records if r["status"] != "ok"],
            "planned": len(numbers),
            "elapsed_seconds": round(progress.elapsed(), 1),
        }

    for index, number in enumerate(numbers, 1):
        record = run_query(number, index, layout, engines, reference, runs, timeout, progress)
        records.append(record)
        parts = []
        for engine, t in record["times"].items():
            if t["median"] is not None:
                parts.append(f"{engine} {t['median'] * 1000:.0f} ms")
            elif not t["error"].startswith("skipped"):
                parts.append(f"{engine} FAILED")
        status = record["status"].upper() if record["status"] != "ok" else "ok"
        progress.done(index, number, f"{status:<7} " + ", ".join(parts))
        if record["status"] != "ok":
            progress.log(f"      Q{number:02d} {record['status']}: {short(record['message'])}")
        if on_record:
            on_record(results())  # a partial results file after every query: a long run cut short keeps what it did
    return results()
