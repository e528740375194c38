"""The catalog as tables: SHOW SOURCES, SHOW TABLES [FROM source], DESCRIBE source.table.

One implementation for SQL statements and the REPL's meta commands."""
from __future__ import annotations

import pyarrow as pa

from fedq.catalog import Catalog
from fedq.catalog.types import arrow_to_duckdb
from fedq.catalog.views import VIEWS_SOURCE, View


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


def tables_table(catalog: Catalog, source: str | None = None) -> pa.Table:
    """Tables of every source (or one), then views under the ``views`` pseudo-source."""
    views = source is None or source.lower() == VIEWS_SOURCE
    sources = [] if source and views else [catalog.source(source)] if source else list(catalog.sources.values())
    rows = [(s.name, t.schema, t.name) for s in sources for t in catalog.tables(s)]
    if views:
        rows += [(VIEWS_SOURCE, "main", v.name) for v in sorted(catalog.views.values(), key=lambda v: v.name.lower())]
    return pa.table({name: pa.array([r[i] for r in rows], pa.string())
                     for i, name in enumerate(["source", "schema", "table"])})


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
