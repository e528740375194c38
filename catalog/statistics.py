"""Table statistics: row counts and, where a source has them cheaply, per-column distinct counts and
min/max. The planner reads them to pick dynamic filters, their reduction strategy and the join order.

Each source answers ``statistics(table, exact=False)`` from what it already keeps: PostgreSQL
``pg_class.reltuples`` and ``pg_stats``; MySQL/MariaDB ``information_schema.TABLES.TABLE_ROWS`` and
``STATISTICS.CARDINALITY`` of indexed columns; SQLite ``sqlite_stat1`` (or a count); Parquet footers
(row counts, row-group min/max); CSV nothing unless counted. ``exact`` (from ``ANALYZE
source.table``) may count rows. Statistics are read, never computed at the source: sessions are
read-only, so fedq cannot run the source's own ANALYZE.

>>> s = TableStatistics(rows=1000, columns={"id": ColumnStatistics(distinct=1000, min=1, max=1000)})
>>> s.column("ID").distinct, s.distinct("id"), s.distinct("other")
(1000, 1000, None)
"""
from __future__ import annotations

import datetime as dt
import decimal
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import pyarrow as pa

from fedq.errors import OperationalError


@dataclass(frozen=True)
class ColumnStatistics:
    """What a source knows about one column; None where it knows nothing."""

    distinct: int | None = None
    min: Any = None
    max: Any = None
    null_fraction: float | None = None


@dataclass(frozen=True)
class TableStatistics:
    """A table's row count (None: unknown) and per-column statistics keyed by the source's column name."""

    rows: int | None = None
    columns: Mapping[str, ColumnStatistics] = field(default_factory=dict)
    exact: bool = False  # rows were counted, not estimated

    def column(self, name: str) -> ColumnStatistics | None:
        found = self.columns.get(name)
        if found is None:
            lower = name.lower()
            found = next((c for n, c in self.columns.items() if n.lower() == lower), None)
        return found

    def distinct(self, name: str) -> int | None:
        """Distinct non-NULL values of a column, capped by the row count."""
        column = self.column(name)
        if column is None or column.distinct is None:
            return None
        return min(column.distinct, self.rows) if self.rows is not None else column.distinct


UNKNOWN = TableStatistics()


class StatisticsCache:
    """Statistics per (source, table), read once per connection; ``refresh`` re-reads (ANALYZE)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, Any], TableStatistics] = {}
        self._lock = threading.Lock()

    def get(self, bound: Any, exact: bool = False) -> TableStatistics:
        key = (bound.source.name.lower(), bound.table)
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None:
            return cached
        try:
            stats = bound.source.statistics(bound.table, exact)
        except OperationalError:
            stats = UNKNOWN
        with self._lock:
            self._entries[key] = stats
        return stats

    def refresh(self, bound: Any) -> TableStatistics:
        """Forget and re-read one table's statistics, counting its rows (``ANALYZE source.table``)."""
        with self._lock:
            self._entries.pop((bound.source.name.lower(), bound.table), None)
        return self.get(bound, exact=True)

    def forget(self, source: str | None = None) -> None:
        """Drop cached statistics of one source (or all)."""
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if source is not None and k[0] != source.lower()}


def typed_value(text: Any, dtype: pa.DataType) -> Any:
    """A statistics value (often text, e.g. from ``pg_stats``) as the Python value of ``dtype``, or None."""
    if text is None:
        return None
    try:
        if pa.types.is_integer(dtype):
            return int(text)
        if pa.types.is_decimal(dtype):
            return decimal.Decimal(str(text))
        if pa.types.is_floating(dtype):
            return float(text)
        if pa.types.is_date(dtype):
            return text if isinstance(text, dt.date) else dt.date.fromisoformat(str(text)[:10])
        if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
            return str(text)
    except (ValueError, ArithmeticError, TypeError):
        return None
    return None


def describe_value(value: Any) -> str | None:
    """A statistics value as text for ANALYZE's result."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def analyze_table(tables: list[Any], stats: list[TableStatistics]) -> pa.Table:
    """``ANALYZE``'s result: per table a row with its row count (``column`` NULL), then one row per
    column the source has statistics for (distinct count, min, max as text)."""
    rows = []
    for table, table_stats in zip(tables, stats):
        rows.append({"table": str(table), "rows": table_stats.rows, "column": None, "distinct": None, "min": None, "max": None})
        for name, column in table_stats.columns.items():
            rows.append({"table": str(table), "rows": table_stats.rows, "column": name, "distinct": column.distinct,
                         "min": describe_value(column.min), "max": describe_value(column.max)})
    schema = pa.schema([("table", pa.string()), ("rows", pa.int64()), ("column", pa.string()),
                        ("distinct", pa.int64()), ("min", pa.string()), ("max", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)
