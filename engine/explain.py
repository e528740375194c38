"""EXPLAIN as rows: one per fragment (source, what it received, which filters it took) plus the
local DuckDB query; EXPLAIN ANALYZE adds the rows, bytes and seconds each fragment moved."""
from __future__ import annotations

import pyarrow as pa

from fedq.engine.planner import Plan

COLUMNS = ["fragment", "source", "operation", "remote", "exact_filters", "inexact_filters", "local_filters"]
def explain_table(plan: Plan, analyzed: bool = False) -> pa.Table:
    rows = []
    for fragment in plan.fragments:
        row = {
            "fragment": fragment.view,
            "source": fragment.source.name,
            "operation": _operation(fragment, analyzed),
            "remote": fragment.remote,
            "exact_filters": " AND ".join(fragment.exact),
            "inexact_filters": " AND ".join(fragment.inexact),
            "local_filters": " AND ".join(fragment.local_only),
        }
        if analyzed and fragment.dynamic is not None:
            row["inexact_filters"] = " AND ".join(fragment.inexact + [f"dynamic: {fragment.dynamic.chosen}"])
        if analyzed:
            row.update(rows=fragment.stats.rows, bytes=fragment.stats.bytes, seconds=round(fragment.stats.seconds, 6))
        rows.append(row)
    local = {"fragment": "local", "source": "duckdb", "operation": "local query", "remote": plan.local_sql,
             "exact_filters": "", "inexact_filters": "", "local_filters": "; ".join(plan.notes)}
    if analyzed:
        local.update(rows=None, bytes=None, seconds=None)
    rows.append(local)
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in COLUMNS]
        + ([pa.field("rows", pa.int64()), pa.field("bytes", pa.int64()), pa.field("seconds", pa.float64())] if analyzed else [])
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _operation(fragment, analyzed: bool) -> str:
    """``table scan`` or ``remote query``, with ``(4 partitions)`` when the source reads it over several connections."""
    operation = "remote query" if fragment.kind == "query" else "table scan"
    if fragment.native is not None:
        return operation
    if analyzed:
        partitions = fragment.stats.partitions
    elif fragment.kind == "query":
        partitions = fragment.source.query_partitions(fragment.remote_sql)  # query fragments come from SQL sources
    else:
        partitions = fragment.source.scan_partitions(fragment.request)
    return f"{operation} ({partitions} partitions)" if partitions > 1 else operation
