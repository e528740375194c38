"""Type mapping between source type names, Arrow types and DuckDB type names.

Arrow is the common currency: every source describes its columns as an Arrow schema, the planner
reads DuckDB type names (for sqlglot's type annotation), and fetched batches are cast to the
declared Arrow schema so DuckDB always sees what the catalog promised.
"""
from __future__ import annotations

import re

import pyarrow as pa

UNCONSTRAINED_DECIMAL = pa.decimal128(38, 10)

_PG_SIMPLE: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "time without time zone": pa.time64("us"),
    "bytea": pa.binary(),
    "uuid": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "interval": pa.month_day_nano_interval(),
    "name": pa.string(),
    "oid": pa.int64(),
}


def postgres_to_arrow(type_name: str) -> pa.DataType:
    """Map a PostgreSQL ``format_type`` string to Arrow; unknown types are read as text."""
    name = type_name.lower().strip()
    if name in _PG_SIMPLE:
        return _PG_SIMPLE[name]
    match = re.fullmatch(r"numeric\((\d+),(\d+)\)", name.replace(" ", ""))
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        return pa.decimal128(precision, scale) if precision <= 38 else UNCONSTRAINED_DECIMAL
    if name == "numeric":
        return UNCONSTRAINED_DECIMAL
    if name.startswith(("character varying", "character", "varchar", "char")):
        return pa.string()
    if name.startswith("timestamp") and "with time zone" in name:
        return pa.timestamp("us", tz="UTC")
    if name.startswith("timestamp"):
        return pa.timestamp("us")
    return pa.string()


def sqlite_to_arrow(declared: str) -> pa.DataType:
    """Map a SQLite declared type to Arrow, following SQLite's affinity rules plus date names."""
    name = (declared or "").upper()
    if "TIMESTAMP" in name or "DATETIME" in name:
        return pa.timestamp("us")
    if "DATE" in name:
        return pa.date32()
    if "BOOL" in name:
        return pa.bool_()
    if "INT" in name:
        return pa.int64()
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in name:
        return pa.binary()
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    match = re.search(r"(DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", name)
    if match:
        return pa.decimal128(int(match.group(2)), int(match.group(3)))
    if not name:
        return pa.string()
    return pa.float64()


def arrow_to_duckdb(dtype: pa.DataType) -> str:
    """DuckDB type name of an Arrow type, for sqlglot schemas and error messages."""
    if pa.types.is_dictionary(dtype):
        return arrow_to_duckdb(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_int8(dtype):
        return "TINYINT"
    if pa.types.is_int16(dtype):
        return "SMALLINT"
    if pa.types.is_int32(dtype):
        return "INTEGER"
    if pa.types.is_int64(dtype):
        return "BIGINT"
    if pa.types.is_unsigned_integer(dtype):
        return {8: "UTINYINT", 16: "USMALLINT", 32: "UINTEGER", 64: "UBIGINT"}[dtype.bit_width]
    if pa.types.is_float16(dtype) or pa.types.is_float32(dtype):
        return "FLOAT"
    if pa.types.is_float64(dtype):
        return "DOUBLE"
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return "VARCHAR"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "BLOB"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ" if dtype.tz else "TIMESTAMP"
    if pa.types.is_time(dtype):
        return "TIME"
    if pa.types.is_interval(dtype) or pa.types.is_duration(dtype):
        return "INTERVAL"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return f"{arrow_to_duckdb(dtype.value_type)}[]"
    if pa.types.is_struct(dtype):
        fields = ", ".join(f'"{f.name}" {arrow_to_duckdb(f.type)}' for f in dtype)
        return f"STRUCT({fields})"
    if pa.types.is_map(dtype):
        return f"MAP({arrow_to_duckdb(dtype.key_type)}, {arrow_to_duckdb(dtype.item_type)})"
    return "VARCHAR"
