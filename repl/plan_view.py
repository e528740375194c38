"""Pictures of a plan: the EXPLAIN tree (local DuckDB query over its fragments) and the live
progress lines shown while fragments stream."""
from __future__ import annotations

import textwrap

from fedq.engine.planner import Plan


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


def progress_lines(plan: Plan | None, elapsed: float) -> list[str]:
    """One line per fragment: source, rows so far, and the elapsed time of the query."""
    if plan is None:
        return [f"planning… {elapsed:.1f} s"]
    lines = []
    for fragment in plan.fragments:
        lines.append(f"  {fragment.source.name:<12} {fragment.kind:<5} {fragment.stats.rows:>12,} rows  {elapsed:6.1f} s")
    return lines or [f"  local        {elapsed:6.1f} s"]
