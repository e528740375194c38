"""The catalog as tables: SHOW SOURCES, SHOW TABLES [FROM source], DESCRIBE source.table.

One implementation for SQL statements and the REPL's meta commands. A listing over every source
leaves out a source that cannot be reached (one server down must not hide the others) and says so in
a warning naming the source and the reason, never silently."""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from fedq.catalog import Catalog
from fedq.catalog.types import arrow_to_duckdb
from fedq.catalog.views import VIEWS_SOURCE, View
from fedq.engine.deadline import checkpoint
from fedq.errors import DatabaseError, redact
from fedq.sources.base import Source, TableName


@dataclass
class Listing:
    """A catalog listing and the warnings about what it had to leave out."""

    table: pa.Table
    warnings: list[str] = field(default_factory=list)


def left_out(source: Source, error: DatabaseError) -> str:
    """The warning for a source a listing skipped: its name and the reason (secrets scrubbed)."""
    reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
    reason = reason.removeprefix(f"source '{source.name}' ({source.type_name}): ")
    return f"source '{source.name}' ({source.type_name}) is left out: {redact(reason, source.secrets())}"


def reachable_tables(catalog: Catalog, sources: list[Source]) -> tuple[list[tuple[Source, TableName]], list[str]]:
    """Every table of ``sources`` that can be listed, and a warning for each source that cannot
    (a statement past its deadline or cancelled still stops)."""
    tables: list[tuple[Source, TableName]] = []
    warnings: list[str] = []
    for source in sources:
        try:
            tables += [(source, name) for name in catalog.tables(source)]
        except DatabaseError as error:
            checkpoint("listing tables")
            warnings.append(left_out(source, error))
    return tables, warnings


def _view(catalog: Catalog, parts: list[str]) -> View | None:
    if len(parts) == 1 or (len(parts) == 2 and parts[0].lower() == VIEWS_SOURCE):
        return catalog.views.get(parts[-1].lower())
    return None


def sources_table(catalog: Catalog) -> pa.Table:
    sources = list(catalog.sources.values())
    return pa.table({
        "source": [s.name for s in sources],
        "type": [s.type_name for s in sources],
        "location": [s.describe_source() for s in sources],
    })


def tables_table(catalog: Catalog, source: str | None = None) -> Listing:
    """Tables of every source (or one), then views under the ``views`` pseudo-source. Listing all
    sources skips (with a warning) one that cannot be reached; a source named on its own fails."""
    views = source is None or source.lower() == VIEWS_SOURCE
    if source and not views:
        one = catalog.source(source)
        found, warnings = [(one, t) for t in catalog.tables(one)], []
    else:
        found, warnings = reachable_tables(catalog, [] if source else list(catalog.sources.values()))
    rows = [(s.name, t.schema, t.name) for s, t in found]
    if views:
        rows += [(VIEWS_SOURCE, "main", v.name) for v in sorted(catalog.views.values(), key=lambda v: v.name.lower())]
    return Listing(pa.table({name: pa.array([r[i] for r in rows], pa.string())
                             for i, name in enumerate(["source", "schema", "table"])}), warnings)


def views_table(catalog: Catalog) -> pa.Table:
    """SHOW VIEWS: name, whether it is kept in the home catalog, its columns and its SELECT."""
    views = sorted(catalog.views.values(), key=lambda v: v.name.lower())
    return pa.table({
        "view": pa.array([v.name for v in views], pa.string()),
        "persistent": pa.array([v.persistent for v in views], pa.bool_()),
        "columns": pa.array([", ".join(f"{n} {t}" for n, t in v.columns) for v in views], pa.string()),
        "sql": pa.array([v.sql for v in views], pa.string()),
    })


def columns_table(catalog: Catalog, parts: list[str]) -> tuple[str, pa.Table]:
    """Qualified table (or view) name and its columns: name, DuckDB type, nullable."""
    view = _view(catalog, parts)
    if view is not None:
        return f"{VIEWS_SOURCE}.{view.name}", pa.table({
            "column": pa.array([n for n, _ in view.columns], pa.string()),
            "type": pa.array([t for _, t in view.columns], pa.string()),
            "nullable": pa.array(["yes"] * len(view.columns), pa.string()),
        })
    bound = catalog.resolve(parts)
    return str(bound), pa.table({
        "column": [f.name for f in bound.schema],
        "type": [arrow_to_duckdb(f.type) for f in bound.schema],
        "nullable": ["yes" if f.nullable else "no" for f in bound.schema],
    })
