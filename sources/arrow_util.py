"""Make fetched record batches match the schema the catalog promised (the schema-cast step)."""
from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from fedq.errors import DataError


def uuid_text(array: pa.Array) -> pa.Array:
    """16-byte UUIDs as their canonical text (``8-4-4-4-12`` lower-case hex), as PostgreSQL prints them."""
    import numpy as np

    raw = np.frombuffer(array.buffers()[1], dtype=np.uint8)[array.offset * 16:(array.offset + len(array)) * 16]
    hexed = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8).reshape(-1, 32)
    text = np.full((len(array), 36), ord("-"), dtype=np.uint8)
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        text[:, at:at + end - start] = hexed[:, start:end]
    strings = pa.array(text.view("S36").ravel(), pa.binary()).cast(pa.string())
    return pc.if_else(array.is_valid(), strings, pa.scalar(None, pa.string()))


def conform_array(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast one column to ``target``; extension arrays (PostgreSQL numeric) go through storage, and
    UUIDs become their text."""
    if isinstance(array.type, pa.UuidType) and pa.types.is_string(target):
        return uuid_text(array.storage)
    if isinstance(array.type, pa.BaseExtensionType):  # numeric, arrow.json (a canonical extension type)
        array = array.storage
    if array.type.equals(target):
        return array
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(array.type) and target.tz and not array.type.tz:
        array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
    return pc.cast(array, target, safe=True)


def decimal_from_text(array: pa.Array, target: pa.Decimal128Type) -> pa.Array:
    """Exact decimal text (PostgreSQL's unconstrained ``numeric``) as ``target``, rounding extra
    fractional digits half away from zero as DuckDB's VARCHAR -> DECIMAL cast does."""
    digits = target.scale + 1  # one guard digit decides the rounding exactly
    trimmed = pc.replace_substring_regex(array, pattern=rf"^(-?[0-9]*\.[0-9]{{{digits}}})[0-9]+$", replacement=r"\1")
    guarded = pc.cast(trimmed, pa.decimal256(76, digits), safe=True)  # 38 digits plus the guard digit fit
    return pc.cast(pc.round(guarded, target.scale, round_mode="half_towards_infinity"), target, safe=True)


def with_exact_decimals(reader: pa.RecordBatchReader, planned: pa.Schema,
                        failure: Callable[[pa.Field, Exception], Exception]) -> pa.RecordBatchReader:
    """``reader`` with each text column that ``planned`` says is a decimal converted by
    :func:`decimal_from_text`; ``failure(field, error)`` is raised for a value that does not fit."""
    if len(planned) != len(reader.schema):
        return reader
    text = [i for i, (got, want) in enumerate(zip(reader.schema, planned))
            if pa.types.is_string(got.type) and pa.types.is_decimal128(want.type)]
    if not text:
        return reader
    schema = reader.schema
    for i in text:
        schema = schema.set(i, schema.field(i).with_type(planned.field(i).type))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            arrays = list(batch.columns)
            for i in text:
                try:
                    arrays[i] = decimal_from_text(arrays[i], schema.field(i).type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise failure(schema.field(i), error) from None
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def conform_batches(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, where: Callable[[str], str]
) -> Iterator[pa.RecordBatch]:
    """Yield ``batches`` cast column by column to ``schema``; ``where(column)`` names the place for errors."""
    for batch in batches:
        if batch.num_columns != len(schema):
            raise DataError(f"{where('')}: expected {len(schema)} columns, got {batch.num_columns}")
        arrays = []
        for array, field in zip(batch.columns, schema):
            try:
                arrays.append(conform_array(array, field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise DataError(f"{where(field.name)}: cannot read value as {field.type}: {error}") from None
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def plain_type(dtype: pa.DataType) -> pa.DataType:
    """The type DuckDB should see for a fetched column: extension types become their storage."""
    if isinstance(dtype, pa.BaseExtensionType):
        return dtype.storage_type
    return dtype
