"""SQLite files, opened read-only (``mode=ro``), with declared types mapped to Arrow.

SQLite stores values by storage class, not by declared type (hazard 19). At discovery each
column's storage classes are checked; a column holding values that do not fit its declared
type is read as text and never filtered remotely.
"""
from __future__ import annotations

import decimal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Iterator

import pyarrow as pa
from sqlglot import exp

from fedq.catalog.types import sqlite_to_arrow
from fedq.engine.capabilities import why_not_pushable
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, SourceLimits, SQLSource, TableName

BATCH_ROWS = 64_000


def _storage_classes(dtype: pa.DataType) -> tuple[str, ...]:
    """SQLite storage classes that faithfully hold values of ``dtype``."""
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return ("integer",)
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return ("integer", "real")
    if pa.types.is_binary(dtype):
        return ("blob",)
    return ("text",)


def _column(values: list[Any], dtype: pa.DataType) -> pa.Array:
    """Build one Arrow column from SQLite values of a checked storage class."""
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        return pa.array(values, pa.string()).cast(dtype)
    if pa.types.is_string(dtype):
        return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], dtype)
    if pa.types.is_boolean(dtype):
        return pa.array([None if v is None else bool(v) for v in values], dtype)
    if pa.types.is_decimal(dtype):
        return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(dtype)
    return pa.array(values, dtype)


@dataclass(eq=False)
class SQLiteSource(SQLSource):
    """A SQLite database file."""

    path: str = ""
    type_name = "sqlite"
    dialect = "sqlite"
    limits = SourceLimits(max_columns=2000, max_parameters=32766, max_statement_bytes=1_000_000_000)  # SQLITE_MAX_COLUMN, SQLITE_MAX_VARIABLE_NUMBER, SQLITE_MAX_SQL_LENGTH defaults
    default_schema = "main"
    _unsafe: dict[TableName, frozenset[str]] = field(default_factory=dict, init=False, repr=False)
    _active: set = field(default_factory=set, init=False, repr=False)

    def context(self) -> Hashable:
        return ("sqlite", str(Path(self.path).resolve()))

    def describe_source(self) -> str:
        return f"sqlite {self.path}"

    def _connect(self) -> sqlite3.Connection:
        if not Path(self.path).is_file():
            raise self.operational_error("could not open", FileNotFoundError(f"no such file: {self.path}"))
        try:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.execute("PRAGMA query_only = ON")
        except sqlite3.Error as error:
            raise self.operational_error("could not open", error) from None
        return connection

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        connection = self._connect()
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self.operational_error("metadata query failed", error) from None
        finally:
            connection.close()

    # -- metadata ---------------------------------------------------------------------
    def list_tables(self) -> list[TableName]:
        rows = self._rows(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [TableName("main", r[0]) for r in rows]

    def table_schema(self, table: TableName) -> pa.Schema:
        quoted = exp.to_identifier(table.name, quoted=True).sql("sqlite")
        info = self._rows(f"PRAGMA table_info({quoted})")
        declared = pa.schema([pa.field(name, sqlite_to_arrow(decl)) for _, name, decl, *_ in info])
        if not len(declared):
            return declared
        checks = ", ".join(
            "sum(typeof({c}) NOT IN ('null', {k}))".format(
                c=exp.to_identifier(f.name, quoted=True).sql("sqlite"),
                k=", ".join(f"'{k}'" for k in _storage_classes(f.type)),
            )
            for f in declared
        )
        mismatches = self._rows(f"SELECT {checks} FROM {quoted}")[0]
        unsafe = frozenset(f.name for f, bad in zip(declared, mismatches) if bad)
        self._unsafe[table] = unsafe
        return pa.schema([pa.field(f.name, pa.string()) if f.name in unsafe else f for f in declared])

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        quoted = exp.to_identifier(table.name, quoted=True).sql("sqlite")
        return self._rows(f"SELECT count(*) FROM {quoted}")[0][0]

    def statistics(self, table: TableName, exact: bool = False) -> Any:
        """Rows counted; for columns that lead an index, distinct counts from ``sqlite_stat1`` (rows per
        distinct value, written by the database's own ANALYZE) and min/max (two index lookups)."""
        from fedq.catalog.statistics import ColumnStatistics, TableStatistics, typed_value

        rows = self.row_count(table, exact)
        quoted = exp.to_identifier(table.name, quoted=True).sql("sqlite")
        if table not in self._unsafe:
            self.table_schema(table)  # learns the columns whose stored values do not match their type
        unsafe = self.unsafe_columns(table)
        types = {name: sqlite_to_arrow(decl) for _, name, decl, *_ in self._rows(f"PRAGMA table_info({quoted})")}
        per_value: dict[str, int] = {}
        if self._rows("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")[0][0]:
            for index, stat in self._rows("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ? AND idx IS NOT NULL", (table.name,)):
                numbers = str(stat).split()
                first = self._rows(f"PRAGMA index_info({exp.to_identifier(index, quoted=True).sql('sqlite')})")
                if len(numbers) >= 2 and first and numbers[1].isdigit():
                    per_value[first[0][2]] = max(1, int(numbers[1]))
        leading = {info[2] for index in self._rows(f"PRAGMA index_list({quoted})")
                   for info in self._rows(f"PRAGMA index_info({exp.to_identifier(index[1], quoted=True).sql('sqlite')})")[:1]}
        columns = {}
        for name in sorted(leading - unsafe):
            if name not in types:
                continue
            column = exp.to_identifier(name, quoted=True).sql("sqlite")
            low, high = self._rows(f"SELECT min({column}), max({column}) FROM {quoted}")[0]
            distinct = round(rows / per_value[name]) if name in per_value and rows else None
            columns[name] = ColumnStatistics(distinct=distinct, min=typed_value(low, types[name]), max=typed_value(high, types[name]))
        return TableStatistics(rows=rows, columns=columns, exact=True)

    def unsafe_columns(self, table: TableName) -> frozenset[str]:
        return self._unsafe.get(table, frozenset())

    # -- pushdown ---------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        unsafe = self.unsafe_columns(table)
        if any(c.name in unsafe for c in term.find_all(exp.Column)):
            return Pushdown.UNSUPPORTED
        return Pushdown.UNSUPPORTED if why_not_pushable(term, self.dialect) else Pushdown.EXACT

    def placeholder(self, index: int) -> exp.Expression:
        return exp.var(f"?{index}")

    # -- execution --------------------------------------------------------------------
    def _cursor(self, sql: str, params: tuple[Any, ...]) -> tuple[sqlite3.Connection, sqlite3.Cursor]:
        self.record(sql)
        connection = self._connect()
        with self._lock:
            self._active.add(connection)
        # sqlite3 cannot bind a Decimal; SQLite holds decimals as REAL and reads a decimal literal as
        # one, so a bound Decimal is sent as the float it would be in the SQL text
        params = tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in params)
        try:
            return connection, connection.execute(sql, params)
        except sqlite3.Error as error:
            self._forget(connection)
            raise self.operational_error("query failed", error) from None

    def _forget(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            self._active.discard(connection)
        connection.close()

    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        """Stream a table scan with the declared (or text, for unsafe columns) types."""
        sql, values = self.render_scan(request)
        schema = request.schema if request.columns else pa.schema([pa.field("__fedq_one", pa.int64())])
        connection, cursor = self._cursor(sql, values)
        return pa.RecordBatchReader.from_batches(schema, self._batches(connection, cursor, schema, stats))

    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """Run a pushed-down query; result types are inferred from the values (SQLite has no others)."""
        connection, cursor = self._cursor(sql, params)
        started = time.perf_counter()
        try:
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.Error as error:
            raise self.operational_error("query failed", error) from None
        finally:
            self._forget(connection)
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        arrays = [_infer(list(values)) for values in columns]
        table = pa.Table.from_arrays(arrays, names=names)
        stats.rows += table.num_rows
        stats.bytes += table.nbytes
        stats.seconds += time.perf_counter() - started
        return table.to_reader()

    def _batches(
        self, connection: sqlite3.Connection, cursor: sqlite3.Cursor, schema: pa.Schema, stats: FetchStats
    ) -> Iterator[pa.RecordBatch]:
        started = time.perf_counter()
        try:
            while True:
                try:
                    rows = cursor.fetchmany(BATCH_ROWS)
                except sqlite3.Error as error:
                    raise self.operational_error("query failed", error) from None
                if not rows:
                    break
                columns = list(zip(*rows))
                try:
                    arrays = [_column(list(v), f.type) for v, f in zip(columns, schema)]
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                    raise self.operational_error("a value does not match its declared type", error) from None
                batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                stats.rows += batch.num_rows
                stats.bytes += batch.nbytes
                yield batch
        finally:
            stats.seconds += time.perf_counter() - started
            self._forget(connection)

    def cancel(self) -> None:
        with self._lock:
            active = list(self._active)
        for connection in active:
            connection.interrupt()


def _infer(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
