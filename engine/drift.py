"""Schema drift: a source table that changed shape between planning and running.

fedq plans with cached schemas (for each source's ``metadata_ttl``). When a remote statement
fails, the tables of the plan are described again; if one no longer matches what fedq planned
with, the error says which table and which column changed, and the cache is refreshed so the
next run plans with the new shape.
"""
from __future__ import annotations

from typing import Iterable

import pyarrow as pa

from fedq.catalog import BoundTable, Catalog
from fedq.catalog.types import arrow_to_duckdb
from fedq.errors import Error, OperationalError, ProgrammingError


def schema_changes(before: pa.Schema, after: pa.Schema) -> list[str]:
    """Column by column, what differs between two schemas of one table."""
    old = {f.name: f.type for f in before}
    new = {f.name: f.type for f in after}
    changes = [f"column '{name}' was removed" for name in old if name not in new]
    changes += [f"column '{name}' changed type from {arrow_to_duckdb(old[name])} to {arrow_to_duckdb(new[name])}"
                for name in old if name in new and old[name] != new[name]]
    changes += [f"column '{name}' was added" for name in new if name not in old]
    return changes


def _current_changes(catalog: Catalog, bound: BoundTable) -> list[str]:
    try:
        now = bound.source.table_schema(bound.table)
    except (OperationalError, ProgrammingError, KeyError):
        tables = bound.source.list_tables()
        return [] if bound.table in tables else ["the table no longer exists"]
    return schema_changes(bound.schema, now)


SUSPECT_ACTIONS = {"query failed", "a value does not match its declared type",
                   "returned an unexpected schema"}  # failures a changed table can cause


def explain_drift(catalog: Catalog, tables: Iterable[BoundTable], error: Error) -> Error:
    """``error``, or a clearer one when a table of the failing source changed shape since it was
    planned. Only statement failures are checked: a source that cannot be reached is not asked again."""
    if getattr(error, "action", None) not in SUSPECT_ACTIONS:
        return error
    failing = getattr(error, "source_name", "").lower()
    for bound in {str(b): b for b in tables if b.source.name.lower() == failing}.values():
        try:
            changes = _current_changes(catalog, bound)
        except Error:
            continue  # the source cannot even be described: its own error says more
        if changes:
            catalog.forget_table(bound.source, bound.table)
            return OperationalError(
                f"source table {bound} changed shape since fedq read its schema: {'; '.join(changes)}. "
                f"fedq has refreshed its metadata; run the statement again (the source said: {error})"
            )
    return error
