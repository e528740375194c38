"""One benchmark run: for each query, the reference answer, then every engine's warm-up (fedq's
answer is checked against the reference), then N timed rounds with the engines interleaved."""
from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys

from benchmarks.tpch import check, queries
from benchmarks.tpch.engines import Engine, Outcome
from benchmarks.tpch.layouts import Layout
from benchmarks.tpch.progress import Progress
from benchmarks.tpch.report import short


def _versions(engines: dict[str, Engine]) -> dict[str, str]:
    import duckdb
    import sqlglot

    import fedq

    versions = {"fedq": fedq.__version__, "duckdb": duckdb.__version__, "sqlglot": sqlglot.__version__}
    peer = engines.get("duckdb-scanner")
    if peer is not None and getattr(peer, "version", None):
        versions["duckdb-peer"] = peer.version
    return versions


def run_query(number: int, index: int, layout: Layout, engines: dict[str, Engine], reference: Engine,
              runs: int, timeout: float, progress: Progress) -> dict:
    original = queries.text(number)
    rewritten = queries.rewrite(original, layout.names())
    record: dict = {"query": number, "status": "ok", "message": None, "rows": None, "times": {}, "moved": {}}
    progress.show(index, number, "reference", "answer")
    expected = reference.run(number, original, rewritten, timeout)
    ready = [name for name, engine in engines.items() if engine.reason is None]
    times: dict[str, list[float]] = {name: [] for name in ready}
    errors: dict[str, str] = {}
    checks: dict[str, str | None] = {}
    for name in ready:  # warm-up; every answer is checked, but only fedq's decides the run
        progress.show(index, number, name, "warm-up")
        outcome = engines[name].run(number, original, rewritten, timeout)
        if outcome.error:
            errors[name] = outcome.error
            continue
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
    if checks.get("fedq"):
        record.update(status="unchecked" if expected.error else "wrong", message=checks["fedq"])
    if "fedq" in errors:
        record.update(status="error", message=errors["fedq"])
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


def totals(records: list[dict], engines: list[str]) -> dict:
    """Sum of medians per engine, and fedq/engine over the queries both answered (fedq correctly)."""
    result = {}
    for name in engines:
        both = [r for r in records if r["status"] == "ok" and r["times"]["fedq"]["median"] and r["times"][name]["median"]]
        own = [r["times"][name]["median"] for r in records if r["times"][name]["median"]]
        entry = {"seconds": sum(own) if own else None, "queries": len(own)}
        if name != "fedq":
            fedq_sum = sum(r["times"]["fedq"]["median"] for r in both)
            peer_sum = sum(r["times"][name]["median"] for r in both)
            entry.update(common_queries=len(both), fedq_seconds_common=fedq_sum, seconds_common=peer_sum,
                         ratio=fedq_sum / peer_sum if peer_sum else None,
                         geomean_ratio=statistics.geometric_mean([r["ratios"][name] for r in both]) if both else None)
        result[name] = entry
    return result


def run(layout: Layout, numbers: list[int], engines: dict[str, Engine], reference: Engine, runs: int, timeout: float,
        name: str, progress: Progress) -> dict:
    records = []
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
        progress.done(index, number, f"{status:<5} " + ", ".join(parts))
        if record["status"] != "ok":
            progress.log(f"      Q{number:02d} {record['status']}: {short(record['message'])}")
    return {
        "name": name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "sf": layout.sf,
        "layout": layout.name,
        "placement": layout.placement,
        "runs": runs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "versions": _versions(engines),
        "engines": {n: {"status": "skipped" if e.reason else "ran", "reason": e.reason} for n, e in engines.items()},
        "queries": records,
        "totals": totals(records, list(engines)),
        "correct": [r["query"] for r in records if r["status"] == "ok"],
        "failed": [r["query"] for r in records if r["status"] != "ok"],
        "elapsed_seconds": round(progress.elapsed(), 1),
    }
