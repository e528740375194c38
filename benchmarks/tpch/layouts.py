"""Where each TPC-H table lives, by layout name, and what fedq and the peers call it there.

Sources are named ``lake`` (Parquet folder), ``lite`` (one SQLite file) and ``pg`` (PostgreSQL,
schema ``tpch_sf{N}``). A layout maps every table to one of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.tpch.datagen import TABLES, data_dir, sf_label

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

LAYOUTS: dict[str, dict[str, str]] = {
    "mixed": {
        "lineitem": "parquet", "orders": "parquet",
        "customer": "sqlite", "nation": "sqlite", "region": "sqlite",
        "part": "postgres", "partsupp": "postgres", "supplier": "postgres",
    },
    "pg-big": {
        "lineitem": "postgres", "orders": "postgres", "customer": "postgres",
        "supplier": "sqlite", "nation": "sqlite", "region": "sqlite",
        "part": "parquet", "partsupp": "parquet",
    },
}
SOURCE_NAMES = {"parquet": "lake", "sqlite": "lite", "postgres": "pg"}


def schema_name(sf: float) -> str:
    """PostgreSQL schema for one scale factor: 0.1 -> tpch_sf0_1, 1 -> tpch_sf1."""
    return "tpch_sf" + sf_label(sf).replace(".", "_")


@dataclass(frozen=True)
class Layout:
    name: str
    sf: float
    dsn: str = DEFAULT_DSN

    def __post_init__(self) -> None:
        if self.name not in LAYOUTS:
            raise SystemExit(f"unknown layout {self.name!r} (known: {', '.join(LAYOUTS)})")
        assert set(LAYOUTS[self.name]) == set(TABLES)

    @property
    def placement(self) -> dict[str, str]:
        return LAYOUTS[self.name]

    def tables_in(self, kind: str) -> list[str]:
        return [t for t in TABLES if self.placement[t] == kind]

    @property
    def folder(self) -> Path:
        return data_dir(self.sf)

    @property
    def sqlite_path(self) -> Path:
        return self.folder / "tpch.sqlite"

    @property
    def pg_schema(self) -> str:
        return schema_name(self.sf)

    def parquet_path(self, table: str) -> Path:
        return self.folder / f"{table}.parquet"

    def qualified(self, table: str) -> tuple[str, ...]:
        """The name fedq (and the DuckDB scanner peer) use: source[.schema].table."""
        kind = self.placement[table]
        if kind == "postgres":
            return (SOURCE_NAMES[kind], self.pg_schema, table)
        return (SOURCE_NAMES[kind], table)

    def names(self) -> dict[str, tuple[str, ...]]:
        return {t: self.qualified(t) for t in TABLES}

    def catalog_toml(self) -> str:
        """A fedq catalog with the sources this layout uses (absolute paths)."""
        parts = [f"# fedq catalog for TPC-H SF {sf_label(self.sf)}, layout {self.name} (written by benchmarks.tpch)\n"]
        if self.tables_in("postgres"):
            parts.append(f'[sources.pg]\ntype = "postgres"\ndsn = "{self.dsn}"\n'
                         "allow_privileged_role = true  # the account that loaded the tables (a benchmark server)\n")
        if self.tables_in("sqlite"):
            parts.append(f'[sources.lite]\ntype = "sqlite"\npath = "{self.sqlite_path}"\n')
        if self.tables_in("parquet"):
            tables = ", ".join(f'{t} = "{t}.parquet"' for t in self.tables_in("parquet"))
            parts.append(f'[sources.lake]\ntype = "files"\nurl = "{self.folder}"\ntables = {{ {tables} }}\n')
        return "\n".join(parts)

    def write_catalog(self) -> Path:
        path = self.folder / f"catalog-{self.name}.toml"
        path.write_text(self.catalog_toml())
        return path
