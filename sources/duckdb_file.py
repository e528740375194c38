"""DuckDB database files, opened read-only. The dialect is DuckDB's own, so everything but
non-deterministic functions may be pushed: the source computes exactly what the local engine would.

The file is opened sandboxed (engine/sandbox.py): no other file or URL, no extension, no setting
change, so neither a view stored in the file nor passthrough SQL can read the machine's files."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable

import duckdb
import pyarrow as pa
from sqlglot import exp

from fedq.engine.capabilities import why_not_pushable
from fedq.engine.sandbox import sandbox_refusal, sandboxed_duckdb
from fedq.errors import Error, NotSupportedError
from fedq.sources.base import FetchStats, Pushdown, SourceLimits, SQLSource, TableName

BATCH_ROWS = 100_000


@dataclass(eq=False)
class DuckDBSource(SQLSource):
    """A ``.duckdb`` database file."""

    path: str = ""
    type_name = "duckdb"
    dialect = "duckdb"
    limits = SourceLimits()  # DuckDB has no fixed column, parameter or statement-length limit
    default_schema = "main"
    _database: duckdb.DuckDBPyConnection | None = field(default=None, init=False, repr=False)
    _cursors: set = field(default_factory=set, init=False, repr=False)
    _open_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

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
            return self._database.cursor()

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
                self._database = None
