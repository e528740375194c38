"""Where each TPC-DS table lives and what fedq and the scanner peer call it there.

Layout ``seven`` spreads the 24 tables over seven source kinds: the three sales fact tables and their
main dimensions in PostgreSQL (schema ``tpcds_sf{N}``), the returns and inventory with some
dimensions in MariaDB (database ``tpcds_sf{N}``), and the other dimensions in SQLite, a DuckDB file,
Parquet, CSV and JSON. Source names: pg, my, lite, duck, lake (Parquet), csv, json.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.tpch.datagen import sf_label
from benchmarks.tpcds.data import TABLES, data_dir

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306"

LAYOUTS: dict[str, dict[str, str]] = {
    "seven": {
        "store_sales": "postgres", "catalog_sales": "postgres", "web_sales": "postgres",
        "date_dim": "postgres", "item": "postgres", "store": "postgres", "customer": "postgres", "promotion": "postgres",
        "store_returns": "mysql", "catalog_returns": "mysql", "web_returns": "mysql", "inventory": "mysql",
        "warehouse": "mysql", "customer_address": "mysql", "call_center": "mysql",
        "customer_demographics": "sqlite", "web_page": "sqlite",
        "time_dim": "duckdb", "catalog_page": "duckdb",
        "web_site": "parquet",
        "household_demographics": "csv", "income_band": "csv",
        "reason": "json", "ship_mode": "json",
    },
}
SOURCE_NAMES = {"postgres": "pg", "mysql": "my", "sqlite": "lite", "duckdb": "duck", "parquet": "lake",
                "csv": "csv", "json": "json"}
KINDS = tuple(SOURCE_NAMES)
FILE_SUFFIX = {"parquet": "parquet", "csv": "csv", "json": "json"}


def schema_name(sf: float) -> str:
    """PostgreSQL schema and MariaDB database for one scale factor: 0.1 -> tpcds_sf0_1, 1 -> tpcds_sf1."""
    return "tpcds_sf" + sf_label(sf).replace(".", "_")


@dataclass(frozen=True)
class Layout:
    name: str
    sf: float
    dsn: str = DEFAULT_DSN
    mysql: str = DEFAULT_MYSQL  # server URL without database

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
    def schema(self) -> str:
        return schema_name(self.sf)

    @property
    def mysql_dsn(self) -> str:
        return f"{self.mysql.rstrip('/')}/{self.schema}"

    @property
    def sqlite_path(self) -> Path:
        return self.folder / "tpcds.sqlite"

    @property
    def duckdb_path(self) -> Path:
        return self.folder / "tpcds.duckdb"

    def parquet_path(self, table: str) -> Path:
        return self.folder / f"{table}.parquet"

    def file_folder(self, kind: str) -> Path:
        """Parquet, CSV and JSON sources each get their own folder (holding only that layout's tables)."""
        return self.folder / f"{self.name}-{kind}"

    def file_path(self, table: str) -> Path:
        kind = self.placement[table]
        return self.file_folder(kind) / f"{table}.{FILE_SUFFIX[kind]}"

    def qualified(self, table: str) -> tuple[str, ...]:
        kind = self.placement[table]
        if kind == "postgres":
            return (SOURCE_NAMES[kind], self.schema, table)
        return (SOURCE_NAMES[kind], table)

    def names(self) -> dict[str, tuple[str, ...]]:
        return {t: self.qualified(t) for t in TABLES}

    def catalog_toml(self) -> str:
        """A fedq catalog with the seven sources (absolute paths)."""
        parts = [f"# fedq catalog for TPC-DS SF {sf_label(self.sf)}, layout {self.name} (written by benchmarks.tpcds)\n"]
        if self.tables_in("postgres"):
            parts.append(f'[sources.pg]\ntype = "postgres"\ndsn = "{self.dsn}"\n'
                         "allow_privileged_role = true  # the account that loaded the tables (a benchmark server)\n")
        if self.tables_in("mysql"):
            parts.append(f'[sources.my]\ntype = "mysql"\ndsn = "{self.mysql_dsn}"\n'
                         "allow_privileged_role = true\n")
        if self.tables_in("sqlite"):
            parts.append(f'[sources.lite]\ntype = "sqlite"\npath = "{self.sqlite_path}"\n')
        if self.tables_in("duckdb"):
            parts.append(f'[sources.duck]\ntype = "duckdb"\npath = "{self.duckdb_path}"\n')
        for kind in FILE_SUFFIX:
            if self.tables_in(kind):
                tables = ", ".join(f'{t} = "{self.file_path(t).name}"' for t in self.tables_in(kind))
                parts.append(f'[sources.{SOURCE_NAMES[kind]}]\ntype = "files"\nurl = "{self.file_folder(kind)}"\n'
                             f"tables = {{ {tables} }}\n")
        return "\n".join(parts)

    def write_catalog(self) -> Path:
        path = self.folder / f"catalog-{self.name}.toml"
        path.write_text(self.catalog_toml())
        return path
