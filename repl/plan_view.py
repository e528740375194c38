"""Pictures of a plan: the EXPLAIN tree (local DuckDB query over its fragments) and the live
progress lines shown while fragments stream, with percent and time left where a scan's total is known."""
from __future__ import annotations

import textwrap

import fedq
from fedq.catalog.catalog import Catalog
from fedq.engine.planner import Fragment, Plan


def _wrap(text: str, prefix: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=max(20, width - len(prefix)), break_long_words=False) or [""]


def plan_tree(plan: Plan, width: int = 100, analyzed: bool = False) -> str:
    """A tree: the local query on top, one branch per fragment with what its source received."""
    lines = ["DuckDB (local)"]
    lines += ["│   " + part for part in _wrap(plan.local_sql, "│   ", width)]
    for index, fragment in enumerate(plan.fragments):
        last = index == len(plan.fragments) - 1
        branch, pad = ("└── ", "    ") if last else ("├── ", "│   ")
        head = f"{fragment.view}: {fragment.source.name} ({fragment.source.type_name}) {fragment.kind}"
        if analyzed:
            stats = fragment.stats
            parts = f", {stats.partitions} partitions" if stats.partitions > 1 else ""
            head += f"  [{stats.rows:,} rows, {stats.bytes:,} bytes, {stats.seconds:.3f} s{parts}]"
        lines.append(branch + head)
        lines += [pad + "    " + part for part in _wrap(fragment.remote, pad + "    ", width)]
        for label, terms in (("exact", fragment.exact), ("inexact", fragment.inexact), ("local", fragment.local_only)):
            if terms:
                lines += [pad + f"    {label}: " + part for part in _wrap(" AND ".join(terms), pad + "    exact: ", width)]
    for note in plan.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _whole_table(fragment: Fragment) -> bool:
    """A scan that returns every row of its table, so the table's row count is its total: no filter
    (pushed or dynamic), and streamed to fedq (a scan DuckDB reads in place counts no rows here)."""
    return (fragment.kind == "scan" and fragment.bound is not None and fragment.native is None
            and fragment.dynamic is None and fragment.request is not None and not fragment.request.filters)


def scan_totals(catalog: Catalog, plan: Plan) -> dict[str, int]:
    """Estimated rows of each whole-table scan (the sources' cheap statistics: pg_class.reltuples,
    Parquet footers, ...), by fragment view; a scan without an estimate is left out."""
    totals = {}
    for fragment in plan.fragments:
        if _whole_table(fragment):
            try:
                rows = catalog.row_count(fragment.bound)
            except fedq.Error:
                rows = None
            if rows:
                totals[fragment.view] = rows
    return totals


def progress_lines(plan: Plan | None, elapsed: float, totals: dict[str, int] | None = None) -> list[str]:
    """One line per fragment: source, rows so far, and the elapsed time of the query; for a scan
    whose total is known (``totals``, by view), also the percent done and an estimate of the time left."""
    if plan is None:
        return [f"planning… {elapsed:.1f} s"]
    lines = []
    for fragment in plan.fragments:
        rows = fragment.stats.rows
        line = f"  {fragment.source.name:<12} {fragment.kind:<5} {rows:>12,} rows  {elapsed:6.1f} s"
        total = (totals or {}).get(fragment.view)
        if total and rows <= total:
            left = f", ~{elapsed * (total - rows) / rows:.0f} s left" if rows else ""
            line += f"  {100 * rows / total:3.0f}% of ~{total:,}{left}"
        elif total:  # the statistics were stale
            line += f"  more than the ~{total:,} estimated"
        lines.append(line)
    return lines or [f"  local        {elapsed:6.1f} s"]
