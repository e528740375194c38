"""Reduction strategies for dynamic filtering (semi-join reduction): how a probe scan receives the
build side's join keys, chosen at run time by the number of keys, their type, the probe source's
abilities and its column statistics.

====================  =========================================================================
strategy              sent to the probe's source
====================  =========================================================================
``in-list``           ``k IN ($1, …, $n)``, n <= IN_LIST_MAX_KEYS
``array``             ``k = ANY($1)``: one bound array (PostgreSQL through ADBC), n <= ARRAY_MAX_KEYS
``batched in-lists``  ``k IN (…) OR k IN (…) …`` in one statement, IN_LIST_MAX_KEYS keys per list,
                      n <= BATCHED_IN_MAX_KEYS (below every source's bind-parameter limit:
                      SQLite 32,766, MySQL and PostgreSQL 65,535)
``range``             ``k BETWEEN $lo AND $hi``: numbers and dates only (a text range is not a
                      superset under a case-insensitive or PAD SPACE collation), and only when the
                      probe column's min/max say it keeps at most RANGE_MAX_COVERAGE of the values
``empty``             ``FALSE``: no build keys, so no probe row can join
``none``              nothing: the keys are more than KEYS_MAX_FRACTION of the probe column's
                      distinct values (statistics), or too many for a list and no useful range
====================  =========================================================================

A key of several columns goes as row values, ``(a, b) IN ((…), …)`` (in-list or batched), where the
source takes them (ROW_KEY_DIALECTS) and there are at most BATCHED_IN_MAX_KEYS of them; otherwise the
probe gets the keys of its most selective column (largest distinct count) by the rules above.

Batches go in one statement, not one statement each: one round trip, one snapshot, and the source
plans one index scan over a union of ranges. A temporary table of keys at the source (what
distributed engines often do) is not an option: fedq's sessions are read-only and sources are never
modified; the bound array is the PostgreSQL equivalent without a write.

>>> r = choose_reduction(list(range(5)), "k", "integer", binds_arrays=False)
>>> r.strategy, r.term.sql("duckdb"), len(r.params)
('in-list', '"k" IN ($dyn0, $dyn1, $dyn2, $dyn3, $dyn4)', 5)
>>> choose_reduction(list(range(50_000)), "k", "integer", binds_arrays=True).term.sql("postgres")
'"k" = ANY(%(dynarr)s)'
>>> choose_reduction(list(range(50_000)), "k", "integer", binds_arrays=False).term.sql("duckdb")
'"k" BETWEEN $dynlo AND $dynhi'
>>> choose_reduction([str(i) for i in range(50_000)], "k", "text", binds_arrays=False).strategy
'none'
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

IN_LIST_MAX_KEYS = 1_000  # one IN list, and the size of each batch
BATCHED_IN_MAX_KEYS = 10_000  # OR of IN lists in one statement (10 lists)
ARRAY_MAX_KEYS = 250_000  # one bound array parameter (sources with binds_arrays)
RANGE_MAX_COVERAGE = 0.5  # send a min/max range only if it spans at most this share of the probe column's range
KEYS_MAX_FRACTION = 0.4  # beyond one IN list, send keys only if they are at most this share of the probe column's distinct values
MIN_REDUCTION_FACTOR = 100  # statistics alone plan a dynamic filter when the build side is this many times smaller

KEY_FAMILIES = ("integer", "decimal", "date", "text")


@dataclass
class Reduction:
    """The chosen strategy and what it adds to the probe's scan (``term`` None: nothing)."""

    strategy: str
    keys: int
    term: exp.Expression | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def max_keys(binds_arrays: bool) -> int:
    """The most keys any list strategy sends to a source."""
    return ARRAY_MAX_KEYS if binds_arrays else BATCHED_IN_MAX_KEYS


def choose_reduction(keys: list[Any], column: str, family: str, binds_arrays: bool,
                     column_min: Any = None, column_max: Any = None, column_distinct: int | None = None,
                     cast: str | None = None) -> Reduction:
    """The reduction for ``keys`` (distinct, no NULLs) over the probe column ``column``; ``column_*``
    are the probe column's statistics (None: unknown); ``cast`` is a type the column is compared as
    (PostgreSQL text keys: ``CAST(col AS TEXT)``, since a uuid or json column read as text has no
    ``= text`` operator; on text and varchar columns the cast is a no-op that keeps the index)."""
    target = exp.column(column, quoted=True)
    if cast is not None:
        target = exp.cast(target, cast)
    count = len(keys)
    if not keys:
        return Reduction("empty", 0, exp.false(), reason="no build keys: the probe returns nothing")
    if count <= IN_LIST_MAX_KEYS:
        return Reduction("in-list", count, *_in_list(target, keys, 0))
    if column_distinct and count > KEYS_MAX_FRACTION * column_distinct:
        return Reduction("none", count, reason=f"the keys are {min(1.0, count / column_distinct):.0%} of the probe "
                                               f"column's ~{column_distinct} values: an index lookup per key costs more than reading it all")
    if binds_arrays and count <= ARRAY_MAX_KEYS:
        return Reduction("array", count, exp.EQ(this=target, expression=exp.Any(this=exp.Paren(this=exp.Placeholder(this="dynarr")))),
                         {"dynarr": list(keys)})
    if count <= BATCHED_IN_MAX_KEYS:
        terms, params = [], {}
        for start in range(0, count, IN_LIST_MAX_KEYS):
            term, batch = _in_list(target.copy(), keys[start:start + IN_LIST_MAX_KEYS], start)
            terms.append(term)
            params.update(batch)
        return Reduction("batched in-lists", count, exp.Paren(this=exp.or_(*terms)), params,
                         reason=f"{len(terms)} lists of <= {IN_LIST_MAX_KEYS} keys")
    if family == "text":
        return Reduction("none", count, reason=f"{count} text keys exceed the list limits and a text range is not safe")
    low, high = min(keys), max(keys)
    coverage = _coverage(low, high, column_min, column_max)
    if coverage is not None and coverage > RANGE_MAX_COVERAGE:
        return Reduction("none", count, reason=f"the keys' range spans {coverage:.0%} of the probe column's range")
    return Reduction("range", count, exp.Between(this=target, low=exp.Placeholder(this="dynlo"), high=exp.Placeholder(this="dynhi")),
                     {"dynlo": low, "dynhi": high},
                     reason="" if coverage is None else f"spans {coverage:.0%} of the probe column's range")


ROW_KEY_DIALECTS = ("postgres", "mysql", "duckdb")  # (a, b) IN ((…), …); SQLite takes row values only from a subquery
ROW_LIST_MAX_VALUES = 30_000  # bound values (keys x columns) in one statement of row keys


def choose_row_reduction(rows: list[tuple[Any, ...]], columns: list[str], casts: list[str | None]) -> Reduction | None:
    """Composite keys as ``(a, b) IN ((…), …)`` lists (batched like single keys); None when they are too
    many, and the caller reduces on one column instead.

    >>> r = choose_row_reduction([(1, "x"), (2, "y")], ["a", "b"], [None, "TEXT"])
    >>> r.strategy, r.term.sql("postgres")
    ('in-list', '("a", CAST("b" AS TEXT)) IN ((%(dyn0_0)s, %(dyn0_1)s), (%(dyn1_0)s, %(dyn1_1)s))')
    """
    count = len(rows)
    if not rows:
        return Reduction("empty", 0, exp.false(), reason="no build keys: the probe returns nothing")
    if count > BATCHED_IN_MAX_KEYS or count * len(columns) > ROW_LIST_MAX_VALUES:
        return None
    targets = [exp.cast(exp.column(c, quoted=True), t) if t else exp.column(c, quoted=True) for c, t in zip(columns, casts)]
    terms, params = [], {}
    for start in range(0, count, IN_LIST_MAX_KEYS):
        tuples = []
        for i, row in enumerate(rows[start:start + IN_LIST_MAX_KEYS], start):
            names = [f"dyn{i}_{j}" for j in range(len(columns))]
            params.update(zip(names, row))
            tuples.append(exp.Tuple(expressions=[exp.Placeholder(this=n) for n in names]))
        terms.append(exp.In(this=exp.Tuple(expressions=[t.copy() for t in targets]), expressions=tuples))
    on = f"on ({', '.join(columns)})"
    if len(terms) == 1:
        return Reduction("in-list", count, terms[0], params, reason=on)
    return Reduction("batched in-lists", count, exp.Paren(this=exp.or_(*terms)), params,
                     reason=f"{on}, {len(terms)} lists of <= {IN_LIST_MAX_KEYS} keys")


def _in_list(target: exp.Expression, keys: list[Any], offset: int) -> tuple[exp.Expression, dict[str, Any]]:
    names = [f"dyn{offset + i}" for i in range(len(keys))]
    return exp.In(this=target, expressions=[exp.Placeholder(this=n) for n in names]), dict(zip(names, keys))


def _coverage(low: Any, high: Any, column_min: Any, column_max: Any) -> float | None:
    """Share of the probe column's [min, max] that [low, high] covers; None when unknown."""
    values = [_number(v) for v in (low, high, column_min, column_max)]
    if None in values:
        return None
    low, high, column_min, column_max = values
    if column_max <= column_min:
        return None
    covered = min(high, column_max) - max(low, column_min)
    return max(0.0, min(1.0, covered / (column_max - column_min)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return float(value.toordinal())
    return None
