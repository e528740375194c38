"""Python values of a result as DuckDB's own ``fetchall()`` gives them.

Results reach the cursor as Arrow, and DuckDB hands HUGEINT and UHUGEINT (``sum`` of any integer,
for one) to Arrow as ``decimal128(38, 0)``, whose Python values are ``Decimal``; DuckDB's fetch
gives ``int``. The planner knows DuckDB's type of every result column (the all-local query's
DESCRIBE, ``Plan.columns``), so such columns are cast to 64-bit integers with pyarrow, once per
converted slice (no Python loop over the rows); a value past 64 bits becomes an ``int`` in Python.
A real DECIMAL(38, 0) column stays ``Decimal``, as in DuckDB. Arrow results are left as DuckDB's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import duckdb
import pyarrow as pa

WIDE_INTEGERS = {"hugeint": pa.int64(), "uhugeint": pa.uint64()}  # DuckDB type id -> the Arrow type tried first


@dataclass(frozen=True)
class IntegerColumn:
    """A result column holding HUGEINT/UHUGEINT values (perhaps nested): cast to ``target`` for Python."""

    target: pa.DataType
    duckdb_type: duckdb.DuckDBPyType


def integer_columns(schema: pa.Schema, duckdb_types: Sequence[str]) -> list[IntegerColumn | None]:
    """For each result column, how its HUGEINT values become Python ints (None: Arrow's values are DuckDB's).

    ``duckdb_types`` are DuckDB's type names of the columns; a list that does not match the schema
    (a statement fedq answers itself) converts nothing."""
    if len(duckdb_types) != len(schema):
        return [None] * len(schema)
    columns: list[IntegerColumn | None] = []
    for field, name in zip(schema, duckdb_types):
        parsed = _parse(name) if "HUGEINT" in name.upper() else None
        target = _target(field.type, parsed) if parsed is not None else None
        columns.append(IntegerColumn(target, parsed) if target is not None else None)
    return columns


def _parse(name: str) -> duckdb.DuckDBPyType | None:
    try:
        return duckdb.sqltype(name)
    except (duckdb.Error, ValueError, TypeError):  # a type name DuckDB's parser does not take back: leave it
        return None


def _target(arrow: pa.DataType, dtype: duckdb.DuckDBPyType) -> pa.DataType | None:
    """``arrow`` with each decimal that stands for a HUGEINT/UHUGEINT replaced by a 64-bit integer."""
    kind = dtype.id
    if kind in WIDE_INTEGERS:
        return WIDE_INTEGERS[kind] if pa.types.is_decimal(arrow) and arrow.scale == 0 else None
    children = dict(dtype.children) if kind in ("list", "array", "struct", "map") else {}
    if kind in ("list", "array") and (pa.types.is_list(arrow) or pa.types.is_large_list(arrow) or pa.types.is_fixed_size_list(arrow)):
        item = _target(arrow.value_type, children["child"])
        if item is None:
            return None
        field = arrow.value_field.with_type(item)
        if pa.types.is_fixed_size_list(arrow):
            return pa.list_(field, arrow.list_size)
        return pa.large_list(field) if pa.types.is_large_list(arrow) else pa.list_(field)
    if kind == "map" and pa.types.is_map(arrow):
        key, item = _target(arrow.key_type, children["key"]), _target(arrow.item_type, children["value"])
        if key is None and item is None:
            return None
        return pa.map_(arrow.key_field.with_type(key or arrow.key_type), arrow.item_field.with_type(item or arrow.item_type))
    if kind == "struct" and pa.types.is_struct(arrow) and arrow.num_fields == len(children):
        fields = [arrow.field(i) for i in range(arrow.num_fields)]
        targets = [_target(f.type, t) for f, (_, t) in zip(fields, dtype.children)]
        if all(t is None for t in targets):
            return None
        return pa.struct([f.with_type(t or f.type) for f, t in zip(fields, targets)])
    return None  # unions and the rest: as Arrow gives them


def python_values(column: pa.Array, conversion: IntegerColumn | None) -> list[Any]:
    """``column``'s Python values, HUGEINTs as ints. Raises what pyarrow raises for unrepresentable values."""
    if conversion is None:
        return column.to_pylist()
    try:
        return column.cast(conversion.target).to_pylist()  # safe cast: a value past 64 bits raises
    except pa.ArrowInvalid:
        return [_as_ints(value, conversion.duckdb_type) for value in column.to_pylist()]


def _as_ints(value: Any, dtype: duckdb.DuckDBPyType) -> Any:
    """One Python value (Arrow's) with the Decimals that stand for HUGEINTs as ints (values past 64 bits only)."""
    if value is None:
        return None
    kind = dtype.id
    if kind in WIDE_INTEGERS:
        return int(value)
    children = dict(dtype.children) if kind in ("list", "array", "struct", "map") else {}
    if kind in ("list", "array"):
        return [_as_ints(v, children["child"]) for v in value]
    if kind == "map":
        return [(_as_ints(k, children["key"]), _as_ints(v, children["value"])) for k, v in value]
    if kind == "struct":
        return {k: _as_ints(v, children[k]) if k in children else v for k, v in value.items()}
    return value
