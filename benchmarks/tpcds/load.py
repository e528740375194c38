"""Put a layout's tables where it says, from the cached Parquet, once per scale factor (a table already
there with the Parquet file's row count is reused):

  PostgreSQL  ADBC bulk ingest (COPY BINARY underneath) into schema tpcds_sf{N}, primary keys, ANALYZE
  MariaDB     LOAD DATA LOCAL INFILE from a CSV DuckDB writes, into database tpcds_sf{N}, primary keys
  SQLite      executemany in one transaction per table
  DuckDB file written by DuckDB 1.5 (worker.py) so that the 1.5 peer and fedq's DuckDB 2.0 both open it
  Parquet / CSV / JSON  one folder per kind, written by DuckDB (JSON: one object per line)
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.tpch.load import _batches
from benchmarks.tpcds import data
from benchmarks.tpcds.layouts import Layout

PRIMARY_KEYS = {
    "call_center": "cc_call_center_sk", "catalog_page": "cp_catalog_page_sk",
    "catalog_returns": "cr_item_sk, cr_order_number", "catalog_sales": "cs_item_sk, cs_order_number",
    "customer": "c_customer_sk", "customer_address": "ca_address_sk", "customer_demographics": "cd_demo_sk",
    "date_dim": "d_date_sk", "household_demographics": "hd_demo_sk", "income_band": "ib_income_band_sk",
    "inventory": "inv_date_sk, inv_item_sk, inv_warehouse_sk", "item": "i_item_sk", "promotion": "p_promo_sk",
    "reason": "r_reason_sk", "ship_mode": "sm_ship_mode_sk", "store": "s_store_sk",
    "store_returns": "sr_item_sk, sr_ticket_number", "store_sales": "ss_item_sk, ss_ticket_number",
    "time_dim": "t_time_sk", "warehouse": "w_warehouse_sk", "web_page": "wp_web_page_sk",
    "web_returns": "wr_item_sk, wr_order_number", "web_sales": "ws_item_sk, ws_order_number", "web_site": "web_site_sk",
}


def _sql_type(dtype: pa.DataType, dialect: str, width: int = 0) -> str:
    if pa.types.is_int64(dtype):
        return "bigint" if dialect != "sqlite" else "INTEGER"
    if pa.types.is_integer(dtype):
        return "integer" if dialect != "sqlite" else "INTEGER"
    if pa.types.is_decimal(dtype):
        return f"{'numeric' if dialect == 'postgres' else 'decimal'}({dtype.precision},{dtype.scale})"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_floating(dtype):
        return "double precision" if dialect == "postgres" else "double" if dialect == "mysql" else "REAL"
    if dialect == "mysql":
        return f"varchar({max(1, width)})"
    return "text"


def _ddl(table: str, schema: pa.Schema, qualified: str, dialect: str, widths: dict[str, int] | None = None) -> str:
    columns = ", ".join(f"{f.name} {_sql_type(f.type, dialect, (widths or {}).get(f.name, 0))}" for f in schema)
    return f"CREATE TABLE {qualified} ({columns}, PRIMARY KEY ({PRIMARY_KEYS[table]}))"


def load_postgres(layout: Layout, log=print) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    tables = layout.tables_in("postgres")
    if not tables:
        return
    schema = layout.schema
    with adbc.connect(layout.dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in tables:
            path = layout.parquet_path(table)
            want = data.row_count(path)
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                        (schema, table))
            if cur.fetchone()[0]:
                cur.execute(f"SELECT count(*) FROM {schema}.{table}")
                if cur.fetchone()[0] == want:
                    continue
            log(f"loading PostgreSQL {schema}.{table} ({want:,} rows) ...")
            cur.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
            reader = _batches(path)
            cur.execute(_ddl(table, reader.schema, f"{schema}.{table}", "postgres"))
            cur.adbc_ingest(table, reader, mode="append", db_schema_name=schema)
            cur.execute(f"ANALYZE {schema}.{table}")


def _varchar_widths(path: Path) -> dict[str, int]:
    con = duckdb.connect()
    columns = [f.name for f in pq.read_schema(path) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
               or f.type == pa.string_view()]
    if not columns:
        return {}
    row = con.execute("SELECT " + ", ".join(f"coalesce(max(length({c})), 1)" for c in columns)
                      + f" FROM read_parquet('{path}')").fetchone()
    return dict(zip(columns, row))


def load_mysql(layout: Layout, log=print) -> None:
    import pymysql

    tables = layout.tables_in("mysql")
    if not tables:
        return
    url = urlsplit(layout.mysql)
    con = pymysql.connect(host=url.hostname or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                          password=url.password or "", local_infile=True, autocommit=True)
    database = layout.schema
    try:
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
            cur.execute(f"USE {database}")
            for table in tables:
                path = layout.parquet_path(table)
                want = data.row_count(path)
                cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                            (database, table))
                if cur.fetchone()[0]:
                    cur.execute(f"SELECT count(*) FROM {table}")
                    if cur.fetchone()[0] == want:
                        continue
                log(f"loading MariaDB {database}.{table} ({want:,} rows) ...")
                cur.execute(f"DROP TABLE IF EXISTS {table}")
                schema = pq.read_schema(path)
                cur.execute(_ddl(table, schema, table, "mysql", _varchar_widths(path)))
                with tempfile.TemporaryDirectory() as tmp:
                    csv = os.path.join(tmp, f"{table}.csv")
                    _quiet_duckdb().execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{csv}' "
                                             "(HEADER false, DELIMITER '|', QUOTE '\"', ESCAPE '\"', NULLSTR 'NULL', FORCE_QUOTE *)")
                    # every value quoted, NULL bare: with ENCLOSED BY, MariaDB reads a bare NULL as NULL
                    cur.execute("SET unique_checks = 0")
                    cur.execute(f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE {table} FIELDS TERMINATED BY '|' "
                                "OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'")
                    cur.execute("SET unique_checks = 1")
                cur.execute(f"SELECT count(*) FROM {table}")
                got = cur.fetchone()[0]
                if got != want:
                    raise SystemExit(f"MariaDB {database}.{table}: loaded {got} rows, expected {want}")
                cur.execute(f"ANALYZE TABLE {table}")
                cur.fetchall()
    finally:
        con.close()


def _sqlite_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def load_sqlite(layout: Layout, log=print) -> None:
    tables = layout.tables_in("sqlite")
    if not tables:
        return
    con = sqlite3.connect(layout.sqlite_path)
    try:
        for table in tables:
            path = layout.parquet_path(table)
            want = data.row_count(path)
            exists = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
            if exists and con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == want:
                continue
            log(f"loading SQLite {layout.sqlite_path.name}:{table} ({want:,} rows) ...")
            reader = _batches(path, 50_000)
            marks = ", ".join("?" for _ in reader.schema)
            with con:  # one transaction
                con.execute(f"DROP TABLE IF EXISTS {table}")
                con.execute(_ddl(table, reader.schema, table, "sqlite"))
                for batch in reader:
                    columns = [[_sqlite_value(v) for v in c.to_pylist()] for c in batch.columns]
                    con.executemany(f"INSERT INTO {table} VALUES ({marks})", zip(*columns))
            con.execute("ANALYZE")
    finally:
        con.close()


def load_duckdb_file(layout: Layout, log=print) -> None:
    tables = layout.tables_in("duckdb")
    if not tables:
        return
    path = layout.duckdb_path
    if path.exists():
        try:
            con = duckdb.connect(str(path), read_only=True)
            have = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            con.close()
            if all(have[t] == data.row_count(layout.parquet_path(t)) for t in tables):
                return
        except duckdb.Error:
            pass
    log(f"writing DuckDB file {path.name} ({', '.join(tables)}) with DuckDB {data.DUCKDB_PEER} ...")
    partial = path.with_name(path.name + ".partial")
    data.worker("duckdb-file", str(partial), *(f"{t}={layout.parquet_path(t)}" for t in tables), log=log)
    partial.replace(path)


def load_files(layout: Layout, log=print) -> None:
    for kind, options in (("parquet", None), ("csv", "(FORMAT csv, HEADER true)"), ("json", "(FORMAT json)")):
        tables = layout.tables_in(kind)
        if not tables:
            continue
        folder = layout.file_folder(kind)
        folder.mkdir(parents=True, exist_ok=True)
        for table in tables:
            target = layout.file_path(table)
            if target.exists():
                continue
            log(f"writing {target.relative_to(layout.folder)} ...")
            partial = target.with_name(target.name + ".partial")
            if kind == "parquet":
                shutil.copyfile(layout.parquet_path(table), partial)
            else:
                _quiet_duckdb().execute(f"COPY (SELECT * FROM read_parquet('{layout.parquet_path(table)}')) "
                                         f"TO '{partial}' {options}")
            partial.replace(target)


def _quiet_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB without a progress bar (DuckDB 2.0 refuses the setting in connect()'s config)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def load(layout: Layout, log=print) -> None:
    load_postgres(layout, log)
    load_mysql(layout, log)
    load_sqlite(layout, log)
    load_duckdb_file(layout, log)
    load_files(layout, log)
