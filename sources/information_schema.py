"""``information_schema.tables`` and ``information_schema.columns`` over every attached source and view
(views under ``table_catalog = 'views'``, ``table_type = 'VIEW'``), so tools that read information_schema
see the whole federation. Built from the catalog at each scan."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

import pyarrow as pa
import pyarrow.dataset as ds
from sqlglot import exp

from fedq.catalog.types import arrow_to_duckdb
from fedq.catalog.views import VIEWS_SOURCE
from fedq.engine.introspection import left_out, reachable_tables
from fedq.errors import DatabaseError
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, Source, TableName
from fedq.sources.files import scan_dataset, to_arrow_filter

NAME = "information_schema"
SCHEMAS = {
    "tables": pa.schema([("table_catalog", pa.string()), ("table_schema", pa.string()), ("table_name", pa.string()),
                         ("table_type", pa.string())]),
    "columns": pa.schema([("table_catalog", pa.string()), ("table_schema", pa.string()), ("table_name", pa.string()),
                          ("column_name", pa.string()), ("ordinal_position", pa.int64()), ("data_type", pa.string()),
                          ("is_nullable", pa.string())]),
}


@dataclass(eq=False)
class InformationSchemaSource(Source):
    """The catalog as two tables; a source that cannot be reached is left out, with a warning, rather than failing."""

    catalog: Any = field(default=None, repr=False)
    type_name = "information_schema"
    default_schema = "main"

    def context(self) -> Hashable:
        return (NAME, id(self.catalog))

    def describe_source(self) -> str:
        return "every attached source's tables and columns"

    def list_tables(self) -> list[TableName]:
        return [TableName("main", name) for name in SCHEMAS]

    def table_schema(self, table: TableName) -> pa.Schema:
        return SCHEMAS[table.name]

    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        return Pushdown.EXACT if to_arrow_filter(term, schema, {}) is not None else Pushdown.UNSUPPORTED

    def _rows(self, table: str) -> tuple[pa.Table, list[str]]:
        """The rows of ``table`` and a warning for each source (or table) left out because it failed."""
        rows: list[dict[str, Any]] = []
        others = [s for s in self.catalog.sources.values() if s is not self]
        found, warnings = reachable_tables(self.catalog, others)
        for source, name in found:
            base = {"table_catalog": source.name, "table_schema": name.schema, "table_name": name.name}
            if table == "tables":
                rows.append({**base, "table_type": "BASE TABLE"})
                continue
            try:
                schema = self.catalog.schema(source, name)
            except DatabaseError as error:
                warnings.append(left_out(source, error) + f" (table {name})")
                continue
            rows += [{**base, "column_name": f.name, "ordinal_position": i, "data_type": arrow_to_duckdb(f.type),
                      "is_nullable": "YES" if f.nullable else "NO"} for i, f in enumerate(schema, 1)]
        for view in sorted(self.catalog.views.values(), key=lambda v: v.name.lower()):
            base = {"table_catalog": VIEWS_SOURCE, "table_schema": "main", "table_name": view.name}
            if table == "tables":
                rows.append({**base, "table_type": "VIEW"})
            else:
                rows += [{**base, "column_name": name, "ordinal_position": i, "data_type": type_name, "is_nullable": "YES"}
                         for i, (name, type_name) in enumerate(view.columns, 1)]
        return pa.Table.from_pylist(rows, schema=SCHEMAS[table]), warnings

    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        """The rows; what was left out goes to ``stats.warnings``, which the cursor shows as ``Cursor.messages``."""
        rows, stats.warnings = self._rows(request.table.name)
        return scan_dataset(self, ds.InMemoryDataset(rows), request, stats)
