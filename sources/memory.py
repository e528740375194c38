"""In-memory data as tables: ``con.register("name", obj)`` makes ``obj`` queryable as ``memory.name``.

Accepted objects: a pyarrow Table or RecordBatch, a RecordBatchReader (read once, at register time,
so the table can be scanned by every query), a pandas or polars DataFrame, or anything that exports
an Arrow stream (``__arrow_c_stream__``). The data is held as one Arrow table; view and large
string types are read as plain strings and dictionaries decoded, as the filter kernels need.
Filters are applied with the files source's pyarrow translation, so they mean what DuckDB means.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Hashable

import pyarrow as pa
import pyarrow.dataset as ds
from sqlglot import exp

from fedq.errors import ProgrammingError
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, Source, TableName
from fedq.sources.files import scan_dataset, to_arrow_filter

ACCEPTED = ("a pyarrow Table, RecordBatch or RecordBatchReader, a pandas or polars DataFrame, "
            "or an object with __arrow_c_stream__")


def to_arrow_table(obj: Any) -> pa.Table:
    """``obj`` as one Arrow table (a reader is consumed)."""
    module = type(obj).__module__.split(".")[0]
    if isinstance(obj, pa.Table):
        table = obj
    elif isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
    elif isinstance(obj, pa.RecordBatchReader):
        table = obj.read_all()
    elif module == "pandas" and hasattr(obj, "columns"):
        table = pa.Table.from_pandas(obj, preserve_index=False)
    elif module == "polars" and hasattr(obj, "to_arrow"):
        table = obj.to_arrow()
    elif hasattr(obj, "__arrow_c_stream__"):
        table = pa.RecordBatchReader.from_stream(obj).read_all()
    else:
        raise ProgrammingError(f"cannot register a {type(obj).__name__}: expected {ACCEPTED}")
    names = [str(n) for n in table.column_names]
    if not names:
        raise ProgrammingError("cannot register a table without columns")
    duplicates = sorted({n for n in names if [m.lower() for m in names].count(n.lower()) > 1})
    if duplicates:
        raise ProgrammingError(f"cannot register a table with duplicate column names {duplicates}")
    return table.rename_columns(names).cast(pa.schema([f.with_type(_plain(f.type)) for f in table.schema]))


def _plain(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(dtype):
        return _plain(dtype.value_type)
    if pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_binary_view(dtype) or pa.types.is_large_binary(dtype):
        return pa.binary()
    if pa.types.is_null(dtype):
        return pa.string()
    return dtype


@dataclass(eq=False)
class MemorySource(Source):
    """Arrow tables registered from Python, in schema ``main``."""

    type_name = "memory"
    dialect = None
    default_schema = "main"
    _tables: dict[str, tuple[str, pa.Table]] = field(default_factory=dict, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def context(self) -> Hashable:
        return ("memory", id(self))

    def describe_source(self) -> str:
        return f"memory ({len(self._tables)} registered)"

    # -- registration -------------------------------------------------------------------
    def register(self, name: str, obj: Any) -> None:
        """Hold ``obj``'s data as table ``name``, replacing a table of that name (any case)."""
        if not isinstance(name, str) or not name:
            raise ProgrammingError("a registered table needs a non-empty name")
        table = to_arrow_table(obj)
        with self._guard:
            self._tables[name.lower()] = (name, table)

    def unregister(self, name: str) -> None:
        with self._guard:
            if self._tables.pop(name.lower(), None) is None:
                known = ", ".join(n for n, _ in self._tables.values()) or "none"
                raise ProgrammingError(f"no registered table '{name}' (registered: {known})")

    def _table(self, table: TableName) -> pa.Table:
        with self._guard:
            entry = self._tables.get(table.name.lower())
        if entry is None or table.schema.lower() != self.default_schema:
            raise ProgrammingError(f"source '{self.name}' has no table '{table}'")
        return entry[1]

    # -- metadata -------------------------------------------------------------------------
    def list_tables(self) -> list[TableName]:
        with self._guard:
            return [TableName(self.default_schema, n) for n, _ in sorted(self._tables.values())]

    def table_schema(self, table: TableName) -> pa.Schema:
        return self._table(table).schema

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        return self._table(table).num_rows

    # -- pushdown -------------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        return Pushdown.EXACT if to_arrow_filter(term, schema, {}) is not None else Pushdown.UNSUPPORTED

    # -- execution ------------------------------------------------------------------------
    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        return scan_dataset(self, ds.InMemoryDataset(self._table(request.table)), request, stats)

    def close(self) -> None:
        with self._guard:
            self._tables.clear()
