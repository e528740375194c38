"""SQLite files, opened read-only (``mode=ro``), with declared types mapped to Arrow.

SQLite stores values by storage class, not by declared type (hazard 19). At discovery each
column's storage classes are checked; a column holding values that do not fit its declared
type is read as text and never filtered remotely.

Table scans stream through ``adbc-driver-sqlite`` (SQLite rows to Arrow in C, no Python object per
value; benchmarks/read_table.py). That driver types each column by the values of its first batch and
fails on a later batch that differs, so each scanned column is read in one storage class (floats
``CAST(.. AS REAL)``, decimals and text-read columns ``CAST(.. AS TEXT)``) and a typed seed row goes
first (``SELECT 0, '' ... UNION ALL <scan>``) and is dropped: a column whose first rows are NULL is
typed too. Arrow then casts to the declared types (dates, decimals, booleans), as the old row path
did. The driver cannot cancel (AdbcStatementCancel is NOT_IMPLEMENTED), so :meth:`cancel` stops a
scan at its next batch. Pushed queries (:meth:`query`) are read by the driver too, whole, and run
again through Python sqlite3 (which infers each column from all its values) when a later batch
holds another storage class than the driver inferred from the first.
"""
from __future__ import annotations

import contextlib
import decimal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Iterator

import adbc_driver_manager
import pyarrow as pa
from sqlglot import exp

from fedq.catalog.types import sqlite_to_arrow
from fedq.engine.capabilities import why_not_pushable
from fedq.sources.arrow_util import conform_array
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, SourceLimits, SQLSource, TableName

BATCH_ROWS = 64_000  # rows per fetch of a pushed query (Python sqlite3)
SCAN_BATCH_ROWS = 65_536  # rows per Arrow batch of an ADBC scan (the driver's default: 1,024)


def _storage_classes(dtype: pa.DataType) -> tuple[str, ...]:
    """SQLite storage classes that faithfully hold values of ``dtype``."""
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return ("integer",)
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return ("integer", "real")
    if pa.types.is_binary(dtype):
        return ("blob",)
    return ("text",)


def _scan_column(name: str, dtype: pa.DataType, unsafe: bool) -> tuple[str, str]:
    """SQL reading column ``name`` in one storage class, and a seed literal of that class."""
    column = exp.to_identifier(name, quoted=True).sql("sqlite")
    if unsafe:  # the text of whatever is stored; a blob as its X'..' literal rather than raw bytes
        return f"CASE typeof({column}) WHEN 'blob' THEN 'X''' || hex({column}) || '''' ELSE CAST({column} AS TEXT) END", "''"
    if pa.types.is_floating(dtype):
        return f"CAST({column} AS REAL)", "0.0"
    if pa.types.is_decimal(dtype):  # integers exactly, reals as their shortest round-trip text
        return f"CAST({column} AS TEXT)", "''"
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return column, "0"
    if pa.types.is_binary(dtype):
        return column, "X''"
    return column, "''"


class _Mismatch(Exception):
    """A later ADBC batch held a value of another storage class than the first."""


@dataclass(eq=False)
class _Scan:
    """One streaming ADBC scan: its connection and cursor, and whether it was cancelled."""

    connection: Any
    cursor: Any
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class SQLiteSource(SQLSource):
    """A SQLite database file."""

    path: str = ""
    type_name = "sqlite"
    dialect = "sqlite"
    limits = SourceLimits(max_columns=2000, max_parameters=32766, max_statement_bytes=1_000_000_000)  # SQLITE_MAX_COLUMN, SQLITE_MAX_VARIABLE_NUMBER, SQLITE_MAX_SQL_LENGTH defaults
    default_schema = "main"
    _unsafe: dict[TableName, frozenset[str]] = field(default_factory=dict, init=False, repr=False)
    _active: set = field(default_factory=set, init=False, repr=False)  # sqlite3 connections of pushed queries
    _scans: set = field(default_factory=set, init=False, repr=False)  # ADBC scans in flight

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
    def _cursor(self, sql: str, params: tuple[Any, ...], record: bool = True) -> tuple[sqlite3.Connection, sqlite3.Cursor]:
        if record:
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
        """Stream a table scan through ADBC, cast to the declared (or text, for unsafe columns) types."""
        schema = request.schema if request.columns else pa.schema([pa.field("__fedq_one", pa.int64())])
        sql, values = self.render_scan(request)
        self.record(sql)
        unsafe = self.unsafe_columns(request.table)
        read = [_scan_column(f.name, f.type, f.name in unsafe) for f in request.schema] if request.columns else [("1", "0")]
        projections = ", ".join(f"{expression} AS {exp.to_identifier(f.name, quoted=True).sql('sqlite')}"
                                for (expression, _), f in zip(read, schema))
        _, _, rest = sql.partition(" FROM ")  # scan_query: SELECT <columns> FROM <table> [WHERE ...]
        seed = ", ".join(literal for _, literal in read)
        scan = self._start_scan(f"SELECT {seed} UNION ALL SELECT * FROM (SELECT {projections} FROM {rest})", values)
        return pa.RecordBatchReader.from_batches(schema, self._adbc_batches(scan, schema, stats))

    def _start_scan(self, sql: str, params: tuple[Any, ...]) -> _Scan:
        import adbc_driver_sqlite.dbapi as adbc

        if not Path(self.path).is_file():
            raise self.operational_error("could not open", FileNotFoundError(f"no such file: {self.path}"))
        try:
            connection = adbc.connect(Path(self.path).resolve().as_uri() + "?mode=ro")
        except adbc.Error as error:
            raise self.operational_error("could not open", error) from None
        scan = _Scan(connection, connection.cursor())
        with self._lock:
            self._scans.add(scan)
        params = tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in params)  # as in _cursor
        try:
            scan.cursor.execute("PRAGMA query_only = ON")
            scan.cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(SCAN_BATCH_ROWS)})
            scan.cursor.execute(sql, params or None)
        except adbc.Error as error:
            self._end_scan(scan)
            raise self.operational_error("query failed", error) from None
        return scan

    def _end_scan(self, scan: _Scan) -> None:
        with self._lock:
            self._scans.discard(scan)
        for resource in (scan.cursor, scan.connection):
            with contextlib.suppress(Exception):  # closing after a failed read: nothing more to release
                resource.close()

    def _adbc_batches(self, scan: _Scan, schema: pa.Schema, stats: FetchStats) -> Iterator[pa.RecordBatch]:
        """The scan's batches without the seed row, cast to ``schema``; a cancel stops it between batches."""
        started = time.perf_counter()
        seeded = False
        try:
            reader = scan.cursor.fetch_record_batch()
            while True:
                try:
                    batch = self._next_batch(scan, reader)
                except _Mismatch:  # the seed row types every column: a bug if it happens
                    raise self.operational_error("a value does not match its declared type", TypeError("storage class")) from None
                if batch is None:
                    break
                if not seeded:
                    batch, seeded = batch.slice(1), True
                try:
                    arrays = [conform_array(a, f.type) for a, f in zip(batch.columns, schema)]
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
                    raise self.operational_error("a value does not match its declared type", error) from None
                out = pa.RecordBatch.from_arrays(arrays, schema=schema)
                stats.rows += out.num_rows
                stats.bytes += out.nbytes
                yield out
        finally:
            stats.seconds += time.perf_counter() - started
            self._end_scan(scan)

    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """Run a pushed-down query, whole (as before); result types are inferred from the values
        (SQLite has no others). ADBC reads it unless a later batch holds a value of another storage
        class than the driver inferred from the first (a column NULL in its first 65,536 rows, say):
        then it runs again through Python sqlite3, which infers each column from all its values."""
        self.record(sql)
        started = time.perf_counter()
        scan = self._start_scan(sql, params)
        batches: list[pa.RecordBatch] = []
        try:
            reader = scan.cursor.fetch_record_batch()
            while (batch := self._next_batch(scan, reader)) is not None:
                batches.append(batch)
            table = pa.Table.from_batches(batches, reader.schema)
        except _Mismatch:
            table = self._query_rows(sql, params)
        finally:
            self._end_scan(scan)
        stats.rows += table.num_rows
        stats.bytes += table.nbytes
        stats.seconds += time.perf_counter() - started
        return table.to_reader()

    def _next_batch(self, scan: _Scan, reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
        """The reader's next batch, None at its end; raises _Mismatch for a driver type mismatch."""
        if scan.cancelled.is_set():
            raise self.operational_error("query failed", InterruptedError("interrupted"))
        try:
            return reader.read_next_batch()
        except StopIteration:
            return None
        except (pa.ArrowException, OSError, adbc_driver_manager.Error) as error:  # the driver's errors arrive as OSError
            if "Type mismatch" in str(error):
                raise _Mismatch() from None
            raise self.operational_error("query failed", error) from None

    def _query_rows(self, sql: str, params: tuple[Any, ...]) -> pa.Table:
        connection, cursor = self._cursor(sql, params, record=False)
        try:
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.Error as error:
            raise self.operational_error("query failed", error) from None
        finally:
            self._forget(connection)
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        return pa.Table.from_arrays([_infer(list(values)) for values in columns], names=names)

    def cancel(self) -> None:
        """Interrupt pushed queries at once; scans stop at their next batch (the ADBC driver cannot cancel)."""
        with self._lock:
            active, scans = list(self._active), list(self._scans)
        for connection in active:
            connection.interrupt()
        for scan in scans:
            scan.cancelled.set()


def _infer(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
