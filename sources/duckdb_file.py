"""DuckDB database files, opened read-only.

By default (``reader = "attach"``) fedq's local engine attaches the file READ_ONLY under the source's
name (engine/sandbox.py) and reads its tables itself, like a local DuckDB would: no Arrow stream, no
second engine, and DuckDB's own zone maps and parallel scans. A query is then never pushed as SQL to
the source; its tables appear in the local query as ``"<source>"."<schema>"."<table>"`` (the binder's
mirror has the same names). ``reader = "arrow"`` streams them instead from a separate read-only
DuckDB whose dialect is DuckDB's own, so everything but non-deterministic functions may be pushed.
Metadata (tables, schemas, counts) and passthrough ``query()`` always use that separate DuckDB.

The file is opened sandboxed (engine/sandbox.py): no other file or URL, no extension, no setting
change, so neither a view stored in the file nor passthrough SQL can read the machine's files."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Hashable

import duckdb
import pyarrow as pa
from sqlglot import exp

from fedq.engine.capabilities import why_not_pushable
from fedq.engine.sandbox import sandbox_refusal, sandboxed_duckdb
from fedq.errors import Error, NotSupportedError
from fedq.sources.base import FetchStats, Pushdown, SourceLimits, SQLSource, TableName
from fedq.sources.settings import OneOf

BATCH_ROWS = 100_000
UNATTACHABLE_NAMES = {"memory", "system", "temp", "main"}  # the local engine's own catalogs: such a source streams


@dataclass(eq=False)
class DuckDBSource(SQLSource):
    """A ``.duckdb`` database file."""

    path: str = ""
    reader: Annotated[str, OneOf(("attach", "arrow"))] = "attach"  # "attach": the local engine reads the file itself; "arrow": streamed
    type_name = "duckdb"
    dialect = "duckdb"
    limits = SourceLimits()  # DuckDB has no fixed column, parameter or statement-length limit
    default_schema = "main"
    _database: duckdb.DuckDBPyConnection | None = field(default=None, init=False, repr=False)
    _cursors: set = field(default_factory=set, init=False, repr=False)
    _open_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _opened: tuple[int, int] | None = field(default=None, init=False, repr=False)  # (device, inode) of the file opened

    def context(self) -> Hashable:
        return ("duckdb", str(Path(self.path).resolve()))

    def describe_source(self) -> str:
        return f"duckdb {self.path}"

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._open_lock:
            if self._database is None:
                if not Path(self.path).is_file():
                    raise self.operational_error("could not open", FileNotFoundError(f"no such file: {self.path}"))
                try:
                    self._database = sandboxed_duckdb(self.path, read_only=True)
                except duckdb.Error as error:
                    raise self.operational_error("could not open", error) from None
                self._opened = _identity(self.path)
            return self._database.cursor()

    def native_attachment(self) -> tuple[str, str] | None:
        """(catalog name, file) for the local engine to attach READ_ONLY, or None: ``reader = "arrow"``,
        a name the local engine uses itself, or a file that does not open (missing, corrupt, locked
        by a writer), whose tables then stream and fail with this source's error. A file replaced
        (renamed over) since this source opened it is not attached either: its tables stream from the
        file this source's metadata describes, so a plan never reads another version than it was made for."""
        if self.reader != "attach" or self.name.lower() in UNATTACHABLE_NAMES:
            return None
        try:
            self._cursor().close()
        except Error:
            return None
        if _identity(self.path) != self._opened:
            return None
        return self.name, os.path.realpath(self.path)

    @property
    def reads_natively(self) -> bool:
        """The local engine reads this file's tables itself: no part of a query is sent here as SQL."""
        return self.native_attachment() is not None

    def native_table(self, table: TableName) -> exp.Expression | None:
        """The attached table as the local query names it (None when the file is not attached)."""
        if not self.reads_natively:
            return None
        return exp.table_(table.name, db=table.schema, catalog=self.name, quoted=True)

    def nan_hazard(self, query: exp.Expression, schema: pa.Schema) -> str | None:
        """None: DuckDB reads its own storage (not Parquet statistics), so the answer is the all-local one."""
        return None

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        cursor = self._cursor()
        try:
            return cursor.execute(sql, params).fetchall()
        except duckdb.Error as error:
            raise self._failure("metadata query failed", error) from None
        finally:
            cursor.close()

    def list_tables(self) -> list[TableName]:
        rows = self._rows(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        )
        return [TableName(schema, name) for schema, name in rows]

    def table_schema(self, table: TableName) -> pa.Schema:
        cursor = self._cursor()
        quoted = ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in (table.schema, table.name))
        try:
            return cursor.sql(f"SELECT * FROM {quoted} LIMIT 0").to_arrow_table().schema
        except duckdb.Error as error:
            raise self._failure(f"cannot describe {table}", error) from None
        finally:
            cursor.close()

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        quoted = ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in (table.schema, table.name))
        return self._rows(f"SELECT count(*) FROM {quoted}")[0][0]

    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        return Pushdown.UNSUPPORTED if why_not_pushable(term, self.dialect) else Pushdown.EXACT

    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        self.record(sql)
        cursor = self._cursor()
        with self._lock:
            self._cursors.add(cursor)
        started = time.perf_counter()
        try:
            reader = cursor.sql(sql, params=list(params) or None).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as error:
            self._forget(cursor)
            raise self._failure("query failed", error) from None

        def batches():
            try:
                for batch in reader:
                    stats.rows += batch.num_rows
                    stats.bytes += batch.nbytes
                    yield batch
            except duckdb.Error as error:
                raise self._failure("reading results failed", error) from None
            finally:
                stats.seconds += time.perf_counter() - started
                self._forget(cursor)

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _failure(self, action: str, error: duckdb.Error) -> Error:
        """The sandbox's refusal (a file, URL or extension) as NotSupportedError, else an OperationalError."""
        refused = sandbox_refusal(error)
        if refused is None:
            return self.operational_error(action, error)
        return NotSupportedError(f"source '{self.name}' ({self.type_name}): {action}: {refused}")

    def _forget(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._cursors.discard(cursor)
        cursor.close()

    def cancel(self) -> None:
        with self._lock:
            cursors = list(self._cursors)
        for cursor in cursors:
            cursor.interrupt()

    def close(self) -> None:
        with self._open_lock:
            if self._database is not None:
                self._database.close()
                self._database, self._opened = None, None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino
