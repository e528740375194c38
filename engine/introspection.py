"""The catalog as tables: SHOW SOURCES, SHOW TABLES [FROM source], DESCRIBE source.table.

One implementation for SQL statements and the REPL's meta commands."""
from __future__ import annotations

import pyarrow as pa

from fedq.catalog import Catalog
from fedq.catalog.types import arrow_to_duckdb


def sources_table(catalog: Catalog) -> pa.Table:
    sources = list(catalog.sources.values())
    return pa.table({
        "source": [s.name for s in sources],
        "type": [s.type_name for s in sources],
        "location": [s.describe_source() for s in sources],
    })


def tables_table(catalog: Catalog, source: str | None = None) -> pa.Table:
    sources = [catalog.source(source)] if source else list(catalog.sources.values())
    rows = [(s.name, t.schema, t.name) for s in sources for t in catalog.tables(s)]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(["source", "schema", "table"])})


def columns_table(catalog: Catalog, parts: list[str]) -> tuple[str, pa.Table]:
    """Qualified table name and its columns: name, DuckDB type, nullable."""
    bound = catalog.resolve(parts)
    return str(bound), pa.table({
        "column": [f.name for f in bound.schema],
        "type": [arrow_to_duckdb(f.type) for f in bound.schema],
        "nullable": ["yes" if f.nullable else "no" for f in bound.schema],
    })
