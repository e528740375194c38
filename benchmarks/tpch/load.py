"""Load a layout's PostgreSQL tables (ADBC bulk ingest) and SQLite tables (executemany in one
transaction per table) from the cached Parquet, once per scale factor: a table already there with
the Parquet file's row count is reused."""
from __future__ import annotations

import sqlite3
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.tpch.layouts import Layout

PRIMARY_KEYS = {
    "lineitem": "l_orderkey, l_linenumber", "orders": "o_orderkey", "customer": "c_custkey",
    "part": "p_partkey", "partsupp": "ps_partkey, ps_suppkey", "supplier": "s_suppkey",
    "nation": "n_nationkey", "region": "r_regionkey",
}


def _plain(schema: pa.Schema) -> pa.Schema:
    """string_view (what tpchgen writes) -> string: drivers take plain strings."""
    return pa.schema([pa.field(f.name, pa.string() if f.type == pa.string_view() else f.type, f.nullable) for f in schema])


def _sql_type(dtype: pa.DataType, sqlite: bool) -> str:
    if pa.types.is_int64(dtype):
        return "INTEGER" if sqlite else "bigint"
    if pa.types.is_integer(dtype):
        return "INTEGER" if sqlite else "integer"
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})" if sqlite else f"numeric({dtype.precision},{dtype.scale})"
    if pa.types.is_date(dtype):
        return "DATE" if sqlite else "date"
    if pa.types.is_floating(dtype):
        return "REAL" if sqlite else "double precision"
    return "TEXT" if sqlite else "text"


def _ddl(table: str, schema: pa.Schema, qualified: str, sqlite: bool) -> str:
    columns = ", ".join(f"{f.name} {_sql_type(f.type, sqlite)} NOT NULL" for f in schema)
    return f"CREATE TABLE {qualified} ({columns}, PRIMARY KEY ({PRIMARY_KEYS[table]}))"


def _batches(path, batch_rows: int = 200_000) -> pa.RecordBatchReader:
    source = pq.ParquetFile(path)
    schema = _plain(source.schema_arrow)
    return pa.RecordBatchReader.from_batches(
        schema, (b.cast(schema) for b in source.iter_batches(batch_size=batch_rows)))


def load_postgres(layout: Layout, log=print) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    tables = layout.tables_in("postgres")
    if not tables:
        return
    schema = layout.pg_schema
    with adbc.connect(layout.dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in tables:
            path = layout.parquet_path(table)
            want = pq.ParquetFile(path).metadata.num_rows
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
                        (schema, table))
            if cur.fetchone()[0]:
                cur.execute(f"SELECT count(*) FROM {schema}.{table}")
                if cur.fetchone()[0] == want:
                    continue
            log(f"loading PostgreSQL {schema}.{table} ({want:,} rows) ...")
            cur.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
            reader = _batches(path)
            cur.execute(_ddl(table, reader.schema, f"{schema}.{table}", sqlite=False))
            cur.adbc_ingest(table, reader, mode="append", db_schema_name=schema)
            cur.execute(f"ANALYZE {schema}.{table}")


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
            want = pq.ParquetFile(path).metadata.num_rows
            exists = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
            if exists and con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == want:
                continue
            log(f"loading SQLite {layout.sqlite_path.name}:{table} ({want:,} rows) ...")
            reader = _batches(path, 50_000)
            marks = ", ".join("?" for _ in reader.schema)
            with con:  # one transaction
                con.execute(f"DROP TABLE IF EXISTS {table}")
                con.execute(_ddl(table, reader.schema, table, sqlite=True))
                for batch in reader:
                    columns = [[_sqlite_value(v) for v in c.to_pylist()] for c in batch.columns]
                    con.executemany(f"INSERT INTO {table} VALUES ({marks})", zip(*columns))
            con.execute("ANALYZE")
    finally:
        con.close()


def load(layout: Layout, log=print) -> None:
    load_postgres(layout, log)
    load_sqlite(layout, log)
