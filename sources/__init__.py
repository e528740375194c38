"""Sources: PostgreSQL, MySQL/MariaDB, SQLite, DuckDB files, Parquet/CSV files and HTTP/JSON APIs, looked up lazily by type name (fsspec's registry pattern)."""
from __future__ import annotations

import importlib

from fedq.errors import ProgrammingError
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, Source, SQLSource, TableName

REGISTRY: dict[str, tuple[str, str]] = {
    "postgres": ("fedq.sources.postgres", "PostgresSource"),
    "sqlite": ("fedq.sources.sqlite", "SQLiteSource"),
    "files": ("fedq.sources.files", "FilesSource"),
    "duckdb": ("fedq.sources.duckdb_file", "DuckDBSource"),
    "mysql": ("fedq.sources.mysql", "MySQLSource"),
    "rest": ("fedq.sources.rest", "RestSource"),
}
ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite", "file": "files", "mariadb": "mysql"}


def source_class(type_name: str) -> type[Source]:
    """The class registered for ``type_name``; unknown types get an error listing the known ones."""
    key = ALIASES.get(type_name.lower(), type_name.lower())
    if key not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ProgrammingError(f"unknown source type '{type_name}'; known types: {known}")
    module, name = REGISTRY[key]
    return getattr(importlib.import_module(module), name)


__all__ = ["FetchStats", "Pushdown", "ScanRequest", "Source", "SQLSource", "TableName", "source_class"]
