"""Is fedq's answer the reference answer? Columns by name, rows as a multiset, and for a query with
ORDER BY the sequence of sort keys (so rows tied on the keys may come in any order). Numbers
compare by value (Decimal vs float alike) with a relative tolerance; everything else exactly."""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Sequence

import sqlglot
from sqlglot import exp

REL_TOL = 1e-6
ABS_TOL = 1e-9


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _number(a) and _number(b):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def same_row(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))


def _sort_key(row: Sequence[Any]) -> tuple:
    return tuple((0, 0.0, "") if v is None else (1, float(v), "") if _number(v) else (2, 0.0, str(v)) for v in row)


def same_multiset(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    sa, sb = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
    if all(same_row(x, y) for x, y in zip(sa, sb)):
        return True
    if len(a) > 5000:  # near-equal floats sorted differently: greedy matching is quadratic
        return False
    pending = list(sb)
    for row in sa:
        for i, candidate in enumerate(pending):
            if same_row(row, candidate):
                del pending[i]
                break
        else:
            return False
    return True


def order_key_columns(sql: str, columns: list[str]) -> list[int] | None:
    """Output positions of the outermost ORDER BY keys; None if some key is not an output column."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    order = tree.args.get("order")
    if not order:
        return []
    lowered = [c.lower() for c in columns]
    positions = []
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Column) and key.name.lower() in lowered:
            positions.append(lowered.index(key.name.lower()))
        elif isinstance(key, exp.Literal) and key.is_int:
            positions.append(int(key.this) - 1)
        else:
            return None
    return positions


def compare(columns: list[str], expected: list[tuple], got_columns: list[str], got: list[tuple], sql: str) -> str | None:
    """None when (got_columns, got) is the reference answer (columns, expected), else what differs."""
    if [c.lower() for c in columns] != [c.lower() for c in got_columns]:
        return f"columns differ: expected {columns}, got {got_columns}"
    if len(expected) != len(got):
        return f"row count differs: expected {len(expected)}, got {len(got)}"
    if not same_multiset(expected, got):
        for e, g in zip(sorted(expected, key=_sort_key), sorted(got, key=_sort_key)):
            if not same_row(e, g):
                return f"rows differ, e.g. expected {e!r}, got {g!r}"
        return "rows differ"
    keys = order_key_columns(sql, columns)
    if keys is None:
        ordered_ok = all(same_row(e, g) for e, g in zip(expected, got))
    else:
        ordered_ok = all(same_row([e[k] for k in keys], [g[k] for k in keys]) for e, g in zip(expected, got))
    if not ordered_ok:
        return "same rows, wrong order"
    return None
