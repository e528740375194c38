"""The catalog: named sources, name resolution with suggestions, and a per-connection schema cache."""
from __future__ import annotations

import difflib
import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from fedq.catalog.statistics import StatisticsCache, TableStatistics
from fedq.catalog.views import VIEWS_SOURCE, View
from fedq.errors import OperationalError, ProgrammingError
from fedq.sources import REGISTRY, Source, TableName, source_class
from fedq.sources.settings import CatalogSettings, check_settings


@dataclass(frozen=True)
class BoundTable:
    """A table reference resolved to its source, its name there and its schema."""

    source: Source
    table: TableName
    schema: pa.Schema

    @property
    def qualified(self) -> tuple[str, str, str]:
        return (self.source.name, self.table.schema, self.table.name)

    def __str__(self) -> str:
        return ".".join(self.qualified)


def _closest(word: str, candidates: list[str]) -> str:
    matches = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=3, cutoff=0.5)
    by_lower = {c.lower(): c for c in candidates}
    return ", ".join(by_lower[m] for m in matches)


DEFAULT_METADATA_TTL = CatalogSettings.metadata_ttl  # seconds a source's table list and schemas are trusted before they are read again


class Catalog:
    """Sources and views by name; table lists and schemas are discovered once and cached for each
    source's ``metadata_ttl`` seconds (``REFRESH`` forgets them sooner)."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.views: dict[str, View] = {}
        self.definitions: dict[str, dict[str, Any]] = {}  # source -> settings as written (``${…}`` kept), for export
        self.persistent: set[str] = set()  # sources kept in the home catalog
        self._ttl: dict[str, float] = {}
        self._tables: dict[str, tuple[float, list[TableName]]] = {}
        self._schemas: dict[tuple[str, TableName], tuple[float, pa.Schema]] = {}
        self._statistics = StatisticsCache()  # catalog/statistics.py
        self.system: dict[str, Source] = {}  # built-in sources (information_schema): resolvable, not listed
        self._lock = threading.RLock()

    # -- sources ----------------------------------------------------------------------
    def add(self, name: str, type_name: str, **options: Any) -> Source:
        """Make and register a source; its settings are checked against the source class's
        declarations first (sources/settings.py), so a wrong value is an error naming it."""
        if not isinstance(name, str) or not name:
            raise ProgrammingError(f"a source needs a non-empty name, not {name!r}")
        if not isinstance(type_name, str):
            raise ProgrammingError(f"source '{name}': setting 'type' must be a text naming the source type "
                                   f"({', '.join(sorted(REGISTRY))}), not {type_name!r}")
        cls = source_class(type_name)
        options = check_settings(cls, name, options)
        ttl = options.pop("metadata_ttl", DEFAULT_METADATA_TTL)
        key = name.lower()
        if key == VIEWS_SOURCE:
            raise ProgrammingError(f"'{name}' is reserved for views (views.NAME); choose another source name")
        if key in self.sources:
            raise ProgrammingError(f"a source named '{name}' already exists")
        source = cls(name=name, **options)
        self.sources[key] = source
        self._ttl[key] = ttl
        return source

    def remove(self, name: str) -> None:
        source = self.source(name)
        source.close()
        with self._lock:
            del self.sources[name.lower()]
            self.definitions.pop(name.lower(), None)
            self.persistent.discard(name.lower())
            self._tables.pop(name.lower(), None)
            self._schemas = {k: v for k, v in self._schemas.items() if k[0] != name.lower()}

    def source(self, name: str) -> Source:
        try:
            return self.sources.get(name.lower()) or self.system[name.lower()]
        except KeyError:
            hint = _closest(name, [s.name for s in self.sources.values()])
            raise ProgrammingError(
                f"unknown source '{name}'" + (f"; did you mean {hint}?" if hint else "")
            ) from None

    def row_count(self, bound: BoundTable, exact: bool = False) -> int | None:
        """The source's row-count estimate for a table (from :meth:`statistics`)."""
        return self.statistics(bound, exact).rows

    def statistics(self, bound: BoundTable, exact: bool = False) -> TableStatistics:
        """Row count and per-column statistics of a table, read once per connection (ANALYZE refreshes them)."""
        return self._statistics.get(bound, exact)

    def analyze(self, bound: BoundTable) -> TableStatistics:
        """Forget and re-read a table's statistics, counting its rows (``ANALYZE source.table``)."""
        return self._statistics.refresh(bound)

    def refresh(self, name: str | None = None) -> None:
        with self._lock:
            self._statistics.forget(name)
            keys = [name.lower()] if name else list(self._tables)
            for key in keys:
                self._tables.pop(key, None)
            self._schemas = {k: v for k, v in self._schemas.items() if name is not None and k[0] != name.lower()}

    # -- tables -----------------------------------------------------------------------
    def _fresh(self, source: Source, entry: tuple[float, Any] | None) -> Any:
        """The cached value if it is younger than the source's metadata TTL, else None."""
        if entry is None:
            return None
        read_at, value = entry
        ttl = self._ttl.get(source.name.lower(), DEFAULT_METADATA_TTL)
        return value if time.monotonic() - read_at < ttl else None

    def tables(self, source: Source) -> list[TableName]:
        with self._lock:
            cached = self._fresh(source, self._tables.get(source.name.lower()))
        if cached is None:
            cached = source.list_tables()
            with self._lock:
                self._tables[source.name.lower()] = (time.monotonic(), cached)
        return cached

    def schema(self, source: Source, table: TableName) -> pa.Schema:
        key = (source.name.lower(), table)
        with self._lock:
            cached = self._fresh(source, self._schemas.get(key))
        if cached is None:
            cached = source.table_schema(table)
            with self._lock:
                self._schemas[key] = (time.monotonic(), cached)
        return cached

    def forget_table(self, source: Source, table: TableName) -> None:
        with self._lock:
            self._schemas.pop((source.name.lower(), table), None)
            self._tables.pop(source.name.lower(), None)

    def resolve(self, parts: list[str]) -> BoundTable:
        """Resolve ``source.table`` or ``source.schema.table`` (case-insensitively)."""
        written = ".".join(parts)
        if len(parts) not in (2, 3):
            names = ", ".join(s.name for s in self.sources.values()) or "none attached"
            raise ProgrammingError(
                f"table '{written}' must be named source.table or source.schema.table (sources: {names})"
            )
        source = self.source(parts[0])
        schema = parts[1] if len(parts) == 3 else source.default_schema
        wanted = parts[-1]
        try:
            tables = self.tables(source)
        except OperationalError:
            raise
        for table in tables:
            if table.schema.lower() == schema.lower() and table.name.lower() == wanted.lower():
                return BoundTable(source, table, self.schema(source, table))
        candidates = [
            f"{source.name}.{t.name}" if t.schema == source.default_schema else f"{source.name}.{t.schema}.{t.name}"
            for t in tables
        ]
        hint = _closest(f"{source.name}.{wanted}" if len(parts) == 2 else written, candidates)
        raise ProgrammingError(
            f"table '{written}' does not exist in source '{source.name}'" + (f"; did you mean {hint}?" if hint else "")
        )

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
