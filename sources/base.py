"""The contract every source implements.

A source describes its tables as Arrow schemas, answers for each filter term whether it can apply
it (DataFusion's Exact / Inexact / Unsupported), and runs fragments, returning Arrow record batches.
Everything it sends is appended to :attr:`Source.statements`, so tests and EXPLAIN can show exactly
what reached the source.
"""
from __future__ import annotations

import enum
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Hashable

import pyarrow as pa
from sqlglot import exp

from fedq.errors import OperationalError, redact

if TYPE_CHECKING:
    from fedq.catalog.statistics import TableStatistics


class Pushdown(enum.Enum):
    """How a source applies a filter term it is offered."""

    EXACT = "exact"  # the source applies it with DuckDB's semantics
    INEXACT = "inexact"  # the source applies a superset filter; DuckDB must re-check
    UNSUPPORTED = "unsupported"  # DuckDB applies it


@dataclass(frozen=True)
class TableName:
    """A table inside one source: ``schema.name`` as the source spells them."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class ScanRequest:
    """What one table scan asks of its source: columns to return and filter terms to apply.

    Filter terms are sqlglot expressions over bare column names (the source's own spelling);
    ``params`` are the values of the ``$n`` placeholders they may contain.
    """

    table: TableName
    columns: tuple[str, ...]
    schema: pa.Schema  # the table schema projected on ``columns``
    filters: tuple[exp.Expression, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Readable form for EXPLAIN and the statement log of non-SQL sources."""
        where = " AND ".join(f.sql("duckdb") for f in self.filters)
        return f"scan {self.table} columns=[{', '.join(self.columns)}]" + (f" filter=[{where}]" if where else "")


@dataclass(eq=False)
class FetchStats:
    """What one fragment moved: filled in while its batches stream."""

    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    partitions: int = 0  # a table scan split over this many connections (0: one stream)
    deadline: float | None = None  # time.monotonic() by which the query must end; None: no deadline
    warnings: list[str] = field(default_factory=list)  # what the scan left out (Cursor.messages shows them)

    def remaining(self) -> float | None:
        """Seconds left before the query's deadline (never below 0.001), or None without one.
        Sources carry it to the server (statement timeouts) and bound their network waits by it."""
        if self.deadline is None:
            return None
        return max(0.001, self.deadline - time.monotonic())


@dataclass(frozen=True)
class SourceLimits:
    """Hard limits of a source's SQL engine (None: none known). The planner keeps work local when a
    pushed query would exceed one, since the source would refuse it (engine/planner.py, _limit_reason)."""

    max_columns: int | None = None  # result columns (and GROUP BY / ORDER BY terms) of one SELECT
    max_parameters: int | None = None  # bind parameters in one statement
    max_statement_bytes: int | None = None  # length of the statement text, UTF-8


@dataclass(eq=False)
class Source(ABC):
    """A named place that holds tables. A subclass is found by its ``type_name`` in sources.REGISTRY."""

    name: str
    type_name: ClassVar[str]
    dialect: ClassVar[str | None] = None  # sqlglot dialect of remote SQL; None if not a SQL source
    binds_arrays: ClassVar[bool] = False  # ``col = ANY($1)`` takes one list parameter (dynamic filters)
    default_schema: ClassVar[str] = "main"
    limits: ClassVar[SourceLimits] = SourceLimits()
    statements: list[str] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- identity -------------------------------------------------------------------------
    @abstractmethod
    def context(self) -> Hashable:
        """Compute context: two sources with equal contexts can run one query together."""

    def describe_source(self) -> str:
        """One line for ``\\sources`` and EXPLAIN; must not contain secrets."""
        return self.type_name

    def secrets(self) -> tuple[str, ...]:
        """Secret values this source knows, so error text can be scrubbed of them."""
        return ()

    # -- metadata -------------------------------------------------------------------------
    @abstractmethod
    def list_tables(self) -> list[TableName]:
        """Every table (and view) the source exposes."""

    @abstractmethod
    def table_schema(self, table: TableName) -> pa.Schema:
        """Arrow schema of ``table`` with the source's own column names."""

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        """A cheap row-count estimate (catalog statistics, file footers), or None when there is none;
        ``exact`` (from ``ANALYZE``) may count."""
        return None

    def statistics(self, table: TableName, exact: bool = False) -> "TableStatistics":
        """Row count and, where the source keeps them cheaply, per-column distinct counts and min/max
        (catalog/statistics.py). This default knows only :meth:`row_count`."""
        from fedq.catalog.statistics import TableStatistics

        return TableStatistics(rows=self.row_count(table, exact), exact=exact)

    def unsafe_columns(self, table: TableName) -> frozenset[str]:
        """Columns whose stored values may not match the declared type: never filtered remotely."""
        return frozenset()

    # -- pushdown -------------------------------------------------------------------------
    @abstractmethod
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        """How this source would apply ``term`` (bare column names, DuckDB semantics)."""

    # -- execution ------------------------------------------------------------------------
    @abstractmethod
    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        """Stream ``request``'s rows; batches conform to the table schema projected on its columns."""

    def scan_partitions(self, request: ScanRequest) -> int:
        """How many parallel partitions :meth:`scan` would split ``request`` into (for EXPLAIN)."""
        return 1

    def cancel(self) -> None:
        """Stop statements in flight (best effort)."""

    def close(self) -> None:
        """Release connections."""

    # -- helpers for subclasses -------------------------------------------------------------
    def record(self, statement: str) -> None:
        with self._lock:
            self.statements.append(statement)

    def operational_error(self, action: str, error: BaseException) -> OperationalError:
        """An OperationalError naming this source, with secrets scrubbed from the driver text."""
        detail = redact(str(error).strip(), self.secrets())
        failure = OperationalError(f"source '{self.name}' ({self.type_name}): {action}: {detail}")
        failure.source_name, failure.action = self.name, action  # lets the engine ask whether the table changed shape
        return failure


@dataclass(eq=False)
class SQLSource(Source):
    """A source that runs SQL: whole subtrees of the query may be sent to it."""

    passthrough: bool = False  # query(source, 'native SQL') is refused unless the catalog turns it on

    def render(self, tree: exp.Expression, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """Remote SQL text and bind values for a tree that already uses this source's names."""
        from fedq.engine.sqlgen import render

        return render(tree, self.dialect, params, self.placeholder)

    def render_scan(self, request: ScanRequest) -> tuple[str, tuple[Any, ...]]:
        from fedq.engine.sqlgen import scan_query

        select = scan_query(request.table.schema, request.table.name, list(request.columns), list(request.filters))
        return self.render(select, request.params)

    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        sql, values = self.render_scan(request)
        return self.query(sql, values, stats)

    @abstractmethod
    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """Run one read-only SELECT in the source's dialect and stream the result."""

    def query_partitions(self, sql: str) -> int:
        """How many parallel partitions :meth:`query` would split ``sql`` into (for EXPLAIN)."""
        return 1

    def placeholder(self, index: int) -> exp.Expression:
        """The bind-parameter marker for the ``index``-th value (1-based) in this dialect."""
        return exp.var(f"${index}")
