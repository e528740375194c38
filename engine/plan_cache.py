"""Plans of repeated statements, reused while nothing they depend on has changed (issue 15 item 2).

A DB-API program runs one text again and again with new values (``cursor.execute(sql, params)``);
parsing, binding and analysing it each time costs tens of milliseconds. An entry is keyed by the
SQL text, the planner's settings and each value's *type signature*: what planning decides from a
value is its type family (which filters may be pushed, planner._params_fit) and the DuckDB type
the binder infers from it (an integer's width, a decimal's digits and scale), never the value
itself. An entry is used only while

* the catalog has the same source objects (ATTACH/DETACH make new ones) and the same views;
* every table the plan reads still has the schema it was planned with (a metadata TTL that ran
  out re-reads it, as planning would; a schema drift error forgets it, engine/drift.py);
* no REFRESH, ANALYZE or register() happened since: the connection then clears the cache, since
  statistics decide join order, small tables and dynamic filters.

A hit is a fresh copy with the new values bound: fragments, their statistics and dynamic filters
belong to one execution (dynamic filters choose their reduction again from the keys each run).
A plan whose bound values cannot be told apart (two parameters holding the same object, or a
source that converted a value) is not kept, nor one with a ``query('source', 'SQL')`` part (its
result's shape was probed when planned; nothing would notice it change). The cache is bounded (LRU).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from fedq.catalog import BoundTable, Catalog
from fedq.engine.planner import DynamicFilter, Fragment, Plan, value_family
from fedq.sources import FetchStats

MAX_PLANS = 128
MAX_SQL_CHARS = 64_000  # longer statements are rarely repeated and would hold much memory
_INT32, _INT64 = 2**31, 2**63


def value_signature(value: Any) -> Hashable | None:
    """What planning may decide from one bound value; None for a value kind that is never cached."""
    if value is None or isinstance(value, (bool, float, bytes)):
        return type(value).__name__
    if isinstance(value, int):  # DuckDB binds INTEGER, BIGINT or HUGEINT by size; sources take 64 bits
        return ("int", -_INT32 <= value < _INT32, -_INT64 <= value < _INT64)
    if isinstance(value, decimal.Decimal):  # DuckDB binds DECIMAL(digits, scale)
        digits, exponent = value.as_tuple()[1:]
        return ("decimal", len(digits), exponent)
    if isinstance(value, str):
        return ("str", value_family(value))
    if isinstance(value, dt.datetime):
        return ("datetime", value.tzinfo is not None)
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return type(value).__name__
    return None


def signature(params: Any) -> tuple | None:
    """The type signature of a statement's values, None when the statement is not cached."""
    if params is None:
        return ()
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        return None  # prepare() refuses it, with its message
    kinds = tuple(value_signature(v) for v in params)
    return None if None in kinds else kinds


@dataclass
class _Entry:
    plan: Plan  # a private copy: never executed
    state: Hashable  # the planner settings and catalog shape it was made under
    remote_names: list[tuple[str, ...]]  # per fragment, the parameter each bound value came from


def _catalog_shape(catalog: Catalog) -> tuple:
    sources = tuple((name, id(source)) for name, source in catalog.sources.items())
    views = tuple((name, view.sql) for name, view in catalog.views.items())
    return sources, views


def _remote_names(plan: Plan, params: dict[str, Any]) -> list[tuple[str, ...]] | None:
    """Which parameter each fragment's bound values are, by identity; None if that is ambiguous."""
    owners: dict[int, str] = {}
    for name, value in params.items():
        if id(value) in owners:
            return None
        owners[id(value)] = name
    names = []
    for fragment in plan.fragments:
        found = tuple(owners.get(id(value)) for value in fragment.remote_params)
        if None in found:
            return None
        names.append(found)
    return names


def fresh_plan(plan: Plan, params: dict[str, Any], remote_names: list[tuple[str, ...]]) -> Plan:
    """A copy of ``plan`` for one execution, with ``params`` bound where the planned values were."""
    copies: dict[int, Fragment] = {}
    for fragment, names in zip(plan.fragments, remote_names):
        request = fragment.request
        copies[id(fragment)] = dataclasses.replace(
            fragment, stats=FetchStats(), remote_params=tuple(params[n] for n in names),
            request=dataclasses.replace(request, params=dict(params)) if request is not None else None)
    for old in plan.fragments:
        if old.dynamic is not None:
            new = copies[id(old)]
            new.dynamic = _fresh_dynamic(old.dynamic, copies[id(old.dynamic.build)], new)
    return Plan([copies[id(f)] for f in plan.fragments], plan.local_sql, {n: params[n] for n in plan.local_params},
                drafts=list(plan.drafts), tables=list(plan.tables), columns=plan.columns)


def _fresh_dynamic(dynamic: DynamicFilter, build: Fragment, probe: Fragment) -> DynamicFilter:
    return dataclasses.replace(dynamic, build=build, probe=probe, extra=list(dynamic.extra),
                               strategy="pending", keys=None, detail="")


class PlanCache:
    """An LRU of plans by (SQL text, value signature); thread-safe."""

    def __init__(self, size: int = MAX_PLANS) -> None:
        self.size = size
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sql: str, params: Any, settings: Hashable, catalog: Catalog) -> Plan | None:
        """A fresh plan for ``sql`` with ``params``, if one was made under the same conditions."""
        key = self._key(sql, params)
        if key is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None or entry.state != (settings, _catalog_shape(catalog)) or not _schemas_hold(entry.plan.tables, catalog):
            self.misses += 1
            return None
        self.hits += 1
        values = {f"p{i + 1}": v for i, v in enumerate(params or ())}  # statements.prepare's names
        return fresh_plan(entry.plan, values, entry.remote_names)

    def put(self, sql: str, params: Any, settings: Hashable, catalog: Catalog, plan: Plan, values: dict[str, Any]) -> None:
        """Keep a copy of ``plan`` (made for ``sql`` with ``values``, before it runs)."""
        key = self._key(sql, params)
        names = _remote_names(plan, values) if key is not None else None
        if names is None or any(f.passthrough for f in plan.fragments):  # query(): no schema check would see a change
            return
        entry = _Entry(fresh_plan(plan, values, names), (settings, _catalog_shape(catalog)), names)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every plan (statistics or metadata were refreshed)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _key(sql: Any, params: Any) -> tuple | None:
        if not isinstance(sql, str) or len(sql) > MAX_SQL_CHARS:
            return None
        kinds = signature(params)
        return None if kinds is None else (sql, kinds)


def _schemas_hold(tables: list[BoundTable], catalog: Catalog) -> bool:
    """Every table still has the schema the plan was made with (re-read once the TTL ran out)."""
    return all(catalog.schema(bound.source, bound.table) == bound.schema for bound in tables)
