"""Parquet, CSV and JSON files through fsspec and pyarrow.dataset: projection, filters, row-group
and partition pruning.

Tables are either declared (``tables = {sales = "sales/*.parquet"}``) or discovered: every file
with a known extension, and every folder of such files, under ``url`` is a table. Schemas of
multi-file tables are unified across all files, because pyarrow.dataset would otherwise take the
first file's schema and silently drop columns that appear later.

``url`` is any fsspec URL: a local folder, ``memory://``, ``http(s)://`` (needs aiohttp; HTTP cannot
list folders, so declare ``tables``), ``s3://``, ``gs://``, ``az://`` (need s3fs, gcsfs, adlfs). A
missing package is named in the error, with the fedq extra that installs it.

Hive layout: when every file of a table sits under ``key=value`` folders (``year=2024/month=01/``),
the keys become columns (BIGINT when every value is digits, else VARCHAR) and filters on them skip
whole folders. pyarrow only does this when asked (``partitioning="hive"``), so it is detected here.

JSON: ``.jsonl``/``.ndjson`` hold one object per line; ``.json`` holds either that or one top-level
array of objects. JSON files are read whole at first use, so column types are inferred from every
row (pyarrow's dataset reader infers them from the first block only and fails on a later ``2.5``
in an integer column); integers stay integers. Filters apply to the in-memory table with the same
pyarrow expressions.

CSV null convention (hazard 20): an empty unquoted field is NULL, a quoted empty field ``""`` is the
empty string.
"""
from __future__ import annotations

import datetime as dt
import decimal
import importlib
import io
import json
import math
import os
import posixpath
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Annotated, Any, Hashable

import duckdb
import fsspec
from fsspec.implementations.local import LocalFileSystem
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.json as pajson
from sqlglot import exp

from fedq.engine.sandbox import inside, sandboxed_duckdb
from fedq.errors import DataError, OperationalError, ProgrammingError
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, Source, TableName
from fedq.sources.settings import OneOf

FORMATS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}
# Only an empty unquoted field is NULL: pyarrow's default null markers would also read "nan"/"NaN" in a
# DOUBLE column and "NA"/"NULL"/"n/a" in a text column as NULL (issue 14: NaN over CSV).
CSV_CONVERT = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""])
# URL protocol -> (package fsspec needs for it, fedq extra that installs it)
PROTOCOL_PACKAGES = {
    "http": ("aiohttp", "http"), "https": ("aiohttp", "http"),
    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"), "abfs": ("adlfs", "azure"), "abfss": ("adlfs", "azure"), "adl": ("adlfs", "azure"),
}
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_INT64 = re.compile(r"-?[0-9]{1,18}")


def _format_of(path: str) -> str | None:
    return FORMATS.get(posixpath.splitext(path)[1].lower())


def _file_format(kind: str, path: str) -> ds.FileFormat:
    if kind == "parquet":
        return ds.ParquetFileFormat()
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    return ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter), convert_options=CSV_CONVERT)


@dataclass(eq=False)
class FilesSource(Source):
    """A folder (any fsspec URL) of Parquet and CSV files."""

    url: str = ""
    tables: dict[str, str] = field(default_factory=dict)
    storage_options: dict[str, Any] = field(default_factory=dict)
    type_name = "files"
    dialect = None
    default_schema = "main"
    reader: Annotated[str, OneOf(("duckdb", "arrow"))] = "duckdb"  # "duckdb": local Parquet is read by DuckDB itself; "arrow": always pyarrow + fsspec
    _datasets: dict[str, ds.Dataset] = field(default_factory=dict, init=False, repr=False)
    _view_columns: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False)

    def context(self) -> Hashable:
        return ("files", self.url)

    def describe_source(self) -> str:
        return f"files {self.url}"

    @property
    def _fs(self) -> tuple[fsspec.AbstractFileSystem, str]:
        self._check_package()
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        except (ImportError, ValueError) as error:
            raise self.operational_error("cannot open the URL", error) from None
        return fs, root.rstrip("/")

    def _check_package(self) -> None:
        """Name the package (and fedq extra) a remote URL needs, instead of fsspec's ImportError."""
        protocol = fsspec.utils.get_protocol(self.url)
        if protocol not in PROTOCOL_PACKAGES:
            return
        package, extra = PROTOCOL_PACKAGES[protocol]
        try:
            importlib.import_module(package)
        except ImportError:
            raise OperationalError(
                f"source '{self.name}' ({self.type_name}): {protocol}:// URLs need the '{package}' package; "
                f"install it with: pip install 'fedq[{extra}]' (or: pip install {package})"
            ) from None

    # -- metadata ---------------------------------------------------------------------
    def _table_paths(self) -> dict[str, str]:
        """Table name -> pattern relative to the root."""
        if self.tables:
            return dict(self.tables)
        fs, root = self._fs
        try:
            entries = fs.ls(root, detail=True)
        except (FileNotFoundError, OSError) as error:
            raise self.operational_error("cannot list files", error) from None
        if len(entries) == 1 and entries[0]["type"] == "file" and entries[0]["name"].rstrip("/") == root:
            base = posixpath.basename(root)  # the URL names one file: it is the source's one table
            return {posixpath.splitext(base)[0]: ""} if _format_of(base) else {}
        found: dict[str, str] = {}
        for entry in entries:
            base = posixpath.basename(entry["name"].rstrip("/"))
            if entry["type"] == "directory":
                found[base] = base
            elif _format_of(base):
                found[posixpath.splitext(base)[0]] = base
        return found

    def list_tables(self) -> list[TableName]:
        return [TableName("main", name) for name in sorted(self._table_paths())]

    def _files(self, pattern: str) -> tuple[list[str], str | None]:
        """The files of a table pattern, and the folder below which hive ``key=value`` folders may sit."""
        fs, root = self._fs
        target = posixpath.join(root, pattern) if pattern else root
        try:
            if any(ch in pattern for ch in "*?["):
                files = fs.glob(target)
                base = posixpath.dirname(re.split(r"[*?\[]", target, maxsplit=1)[0])
            elif _format_of(target) and fs.isfile(target):  # before isdir: HTTP's isdir downloads the page
                files, base = [target], None
            elif fs.isdir(target):
                files, base = fs.find(target), target
            else:
                files, base = ([target] if fs.exists(target) else []), None
        except (FileNotFoundError, OSError) as error:
            raise self.operational_error(f"cannot list {pattern!r}", error) from None
        return sorted(f for f in files if _format_of(f)), base

    def dataset(self, table: TableName) -> ds.Dataset:
        """The pyarrow dataset of a table, built once; its schema is unified across files."""
        if table.name in self._datasets:
            return self._datasets[table.name]
        patterns = self._table_paths()
        if table.name not in patterns:
            raise ProgrammingError(f"source '{self.name}' has no table '{table.name}'")
        files, base = self._files(patterns[table.name])
        if not files:
            raise self.operational_error(f"table '{table.name}'", FileNotFoundError(f"no files match {patterns[table.name]!r}"))
        kinds = {_format_of(f) for f in files}
        if len(kinds) != 1:
            raise DataError(f"source '{self.name}', table '{table.name}': mixes file formats {sorted(kinds)}")
        kind = kinds.pop()
        fs, _ = self._fs
        hive = _hive_partitions(files, base)
        try:
            if kind == "json":
                dataset = ds.InMemoryDataset(_read_json_files(fs, files, hive))
            else:
                dataset = self._file_dataset(table, fs, files, kind, base, hive)
            _ = dataset.schema.names  # a CSV header of invalid UTF-8 fails here, not later in the binder
        except (pa.ArrowException, OSError, ValueError) as error:  # ArrowTypeError: files with clashing types
            raise DataError(f"source '{self.name}', table '{table.name}': cannot read files: {error}") from None
        self._datasets[table.name] = dataset
        return dataset

    def _file_dataset(self, table: TableName, fs: fsspec.AbstractFileSystem, files: list[str], kind: str,
                      base: str | None, hive: "_Hive | None") -> ds.Dataset:
        file_format = _file_format(kind, files[0])
        parts = [ds.dataset(f, format=file_format, filesystem=fs) for f in files] if len(files) > 1 else []
        schema = pa.unify_schemas([p.schema for p in parts]) if parts else None
        physical = schema or ds.dataset(files[0], format=file_format, filesystem=fs).schema
        self._view_columns[table.name] = frozenset(
            f.name for f in physical if pa.types.is_string_view(f.type) or pa.types.is_binary_view(f.type)
        )
        schema = _plain_strings(physical)
        if hive is None:
            return ds.dataset(files, format=file_format, filesystem=fs, schema=schema)
        keys = pa.schema([f for f in hive.schema if f.name not in schema.names])  # a column in the files wins
        partitioning = ds.partitioning(keys, flavor="hive") if len(keys) else None
        return ds.dataset(files, format=file_format, filesystem=fs, schema=pa.schema(list(schema) + list(keys)),
                          partitioning=partitioning, partition_base_dir=base)

    def table_schema(self, table: TableName) -> pa.Schema:
        return self.dataset(table).schema

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        return self.statistics(table, exact).rows

    def statistics(self, table: TableName, exact: bool = False) -> Any:
        """Parquet: rows and per-column min/max from the file footers (row-group statistics; a column
        missing them in any row group gets none). JSON is in memory: counted. CSV: counted only when
        ``exact`` (ANALYZE), since that reads the files. Remote files: none unless ``exact``."""
        from fedq.catalog.statistics import ColumnStatistics, TableStatistics

        dataset = self.dataset(table)
        if isinstance(dataset, ds.InMemoryDataset) or (exact and not isinstance(dataset.format, ds.ParquetFileFormat)):
            return TableStatistics(rows=dataset.count_rows(), exact=True)
        if not isinstance(dataset.format, ds.ParquetFileFormat) or not isinstance(self._fs[0], LocalFileSystem):
            return TableStatistics()  # remote footers cost a request per file: not cheap
        try:
            rows, bounds, missing = _footer_statistics([f.path for f in dataset.get_fragments()], dataset.schema)
        except (duckdb.Error, OSError, pa.ArrowException, TypeError, ValueError) as error:
            raise self.operational_error(f"cannot read the footers of '{table.name}'", error) from None
        names = set(dataset.schema.names)
        columns = {n: ColumnStatistics(min=lo, max=hi) for n, (lo, hi) in bounds.items() if n in names and n not in missing}
        return TableStatistics(rows=rows, columns=columns, exact=True)

    def native_root(self) -> str | None:
        """The folder (symbolic links resolved, ending in '/') DuckDB may read this source's Parquet from:
        the local engine's sandbox allows exactly these folders. None for remote URLs (fsspec reads them,
        never DuckDB's httpfs) and for ``reader = "arrow"``."""
        if self.reader != "duckdb" or fsspec.utils.get_protocol(self.url) not in ("file", "local"):
            return None
        fs, root = self._fs
        if not isinstance(fs, LocalFileSystem):
            return None
        folder = os.path.realpath(root or "/")
        return os.path.join(os.path.dirname(folder) if os.path.isfile(folder) else folder, "")

    def native_table(self, table: TableName) -> exp.Expression | None:
        """``read_parquet([...])`` when DuckDB can read the table's files itself (local Parquet inside
        :meth:`native_root`, no hive folders): it then decodes in parallel and prunes row groups with its
        own statistics, and no Arrow stream is needed. None when the table goes through pyarrow and
        fsspec (a declared pattern reaching outside the folder, or a link out of it, is read that way)."""
        root = self.native_root()
        if root is None:
            return None
        self.dataset(table)
        patterns = self._table_paths()
        files, base = self._files(patterns[table.name])
        if (not files or any(_format_of(f) != "parquet" or not inside(f, root) for f in files)
                or _hive_partitions(files, base) is not None):
            return None
        call = exp.Anonymous(this="read_parquet", expressions=[
            exp.Array(expressions=[exp.Literal.string(f) for f in files]),
            exp.EQ(this=exp.column("union_by_name"), expression=exp.true()),
            # Parquet writers leave NaN out of min/max: without this DuckDB skips row groups holding NaN
            # for isnan(x), x > c, x = 'NaN', joins and Top-N on x (see nan_hazard and tests/test_nan.py)
            exp.EQ(this=exp.column("can_have_nan"), expression=exp.true()),
        ])
        return call

    def nan_hazard(self, query: exp.Expression, schema: pa.Schema) -> str | None:
        """Why ``query`` must not read these columns with ``read_parquet`` (None when it may). Even with
        ``can_have_nan`` DuckDB 2.0 answers MIN/MAX of a FLOAT/DOUBLE column from the files' statistics
        (NaN when none is there; without the option, the largest number when NaN is there), so such a
        query streams the table through pyarrow instead (tests/test_nan.py)."""
        floats = [f.name for f in schema if pa.types.is_floating(f.type)]
        if not floats or next(query.find_all(exp.Min, exp.Max, exp.ArgMin, exp.ArgMax), None) is None:
            return None
        return (f"read through pyarrow, not DuckDB's read_parquet: MIN/MAX would come from Parquet statistics, "
                f"which leave NaN out (floating-point columns {', '.join(floats)})")

    # -- pushdown ---------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        dataset = self.dataset(table)
        if any(c.name in self._view_columns.get(table.name, ()) for c in term.find_all(exp.Column)):
            return Pushdown.UNSUPPORTED  # Arrow's compute kernels cannot compare view-typed columns
        return Pushdown.EXACT if to_arrow_filter(term, schema, {}, _prunes(dataset)) is not None else Pushdown.UNSUPPORTED

    def filter_reason(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> str:
        """Why ``term`` stays with DuckDB, in a short phrase for EXPLAIN."""
        dataset = self.dataset(table)
        if (not any(c.name in self._view_columns.get(table.name, ()) for c in term.find_all(exp.Column))
                and _prunes(dataset) and to_arrow_filter(term, schema, {}) is not None):
            return "a NaN makes it true, and pyarrow skips Parquet row groups by min/max statistics, which leave NaN out"
        return "no Arrow filter has DuckDB's meaning for it (NaN order, view types, casts)"

    # -- execution --------------------------------------------------------------------
    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        return scan_dataset(self, self.dataset(request.table), request, stats)


def _footer_statistics(files: list[str], schema: pa.Schema) -> tuple[int, dict[str, tuple[Any, Any]], set[str]]:
    """Rows and per-column (min, max) from Parquet footers, read by DuckDB's ``parquet_metadata``: pyarrow's
    metadata objects abort the whole process (an uncaught C++ exception) on some corrupt footers. The
    DuckDB is sandboxed to exactly these files (their links resolved too)."""
    database = sandboxed_duckdb(config={"threads": 1}, allowed_paths=files + [os.path.realpath(f) for f in files])
    try:
        meta = database.execute(
            "SELECT file_name, row_group_id, any_value(row_group_num_rows) AS n, "
            "list(path_in_schema) AS names, list(stats_min_value) AS lows, list(stats_max_value) AS highs "
            "FROM parquet_metadata(?) GROUP BY ALL", [files]).fetchall()
    finally:
        database.close()
    rows, text_bounds, missing = 0, {}, set()
    for _, _, count, names, lows, highs in meta:
        rows += count
        for name, low, high in zip(names, lows, highs):
            if low is None or high is None:
                missing.add(name)
            else:
                text_bounds.setdefault(name, []).append((low, high))
    bounds = {}
    for name, pairs in text_bounds.items():
        if name not in schema.names or name in missing:
            continue
        try:  # the text DuckDB shows, back to the column's type
            lows = pa.array([p[0] for p in pairs]).cast(schema.field(name).type).to_pylist()
            highs = pa.array([p[1] for p in pairs]).cast(schema.field(name).type).to_pylist()
        except (pa.ArrowException, OverflowError, ValueError):
            missing.add(name)
            continue
        bounds[name] = (min(lows), max(highs))
    return rows, bounds, missing


@dataclass(frozen=True)
class _Hive:
    """Partition columns of a hive layout, and each file's values for them."""

    schema: pa.Schema
    values: dict[str, dict[str, Any]]  # file -> key -> value (None for the hive null folder)


def _hive_partitions(files: list[str], base: str | None) -> _Hive | None:
    """The hive layout of ``files`` below ``base``: every file under the same ``key=value`` folders."""
    if base is None:
        return None
    prefix = base.rstrip("/") + "/"
    keys: list[str] | None = None
    raw: dict[str, dict[str, str]] = {}
    for file in files:
        if not file.startswith(prefix):
            return None
        folders = file[len(prefix):].split("/")[:-1]
        pairs = [folder.split("=", 1) for folder in folders]
        if not pairs or any(len(p) != 2 or not p[0] for p in pairs):
            return None
        names = [urllib.parse.unquote(k) for k, _ in pairs]
        if keys is None:
            keys = names
        if names != keys or len(set(names)) != len(names):
            return None
        raw[file] = {k: urllib.parse.unquote(v) for k, (_, v) in zip(names, pairs)}
    if not keys:
        return None
    fields = []
    for key in keys:
        present = [v[key] for v in raw.values() if v[key] != HIVE_NULL]
        integral = bool(present) and all(_INT64.fullmatch(v) for v in present)
        fields.append(pa.field(key, pa.int64() if integral else pa.string()))
    schema = pa.schema(fields)
    values = {
        file: {f.name: None if v[f.name] == HIVE_NULL else int(v[f.name]) if pa.types.is_integer(f.type) else v[f.name]
               for f in fields}
        for file, v in raw.items()
    }
    return _Hive(schema, values)


MAX_JSON_DEPTH = 100
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than ``limit``: pyarrow's reader crashes the
    process (stack overflow) near 20,000 levels and Python's raises RecursionError far sooner."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    rest = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)  # outside strings only
    for _ in range(limit + 1):  # each pass removes the innermost pairs: one level
        shorter = rest.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == rest:
            break
        rest = shorter
    else:
        return True
    depth = 0
    for byte in rest:  # unmatched brackets (broken JSON): count how deep they open
        depth = depth + 1 if byte in b"[{" else max(depth - 1, 0)
        if depth > limit:
            return True
    return False


def _read_json(fs: fsspec.AbstractFileSystem, path: str) -> pa.Table:
    """One JSON file: newline-delimited objects, or (``.json``) one top-level array of objects."""
    with fs.open(path, "rb") as handle:
        data = handle.read()
    if json_too_deep(data):
        raise ValueError(f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    multiline = path.lower().endswith(".json")  # a pretty-printed object spans lines
    array = data.lstrip()[:1] == b"["
    if array or multiline:
        rows = json.loads(data) if array else _json_values(data.decode("utf-8"))
        if not all(isinstance(row, dict) for row in rows):
            raise ValueError(f"{path}: " + ("a top-level JSON array must hold objects" if array else "every top-level JSON value must be an object"))
        if not rows:
            return pa.table({})
        # one object per line for pyarrow's reader: the same type inference as NDJSON files
        data = "\n".join(json.dumps(row, allow_nan=False) for row in rows).encode()
    elif (bad := _NOT_AN_OBJECT_LINE.search(data)) is not None:  # pyarrow crashes on a block opening with null
        line = data.count(b"\n", 0, bad.start()) + 1
        raise ValueError(f"{path}: line {line} does not start a JSON object")
    if not data.strip():
        return pa.table({})
    return pajson.read_json(io.BytesIO(data))


_NOT_AN_OBJECT_LINE = re.compile(rb"^[ \t\r]*+[^{\s]", re.MULTILINE)


def _json_values(text: str) -> list[Any]:
    """Every top-level value of JSON text holding values one after another (pretty-printed objects)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        value, at = decoder.raw_decode(text, at)
        values.append(value)


def _read_json_files(fs: fsspec.AbstractFileSystem, files: list[str], hive: _Hive | None) -> pa.Table:
    tables = []
    for file in files:
        table = _read_json(fs, file)
        if hive is not None:
            for f in hive.schema:
                if f.name not in table.column_names:
                    table = table.append_column(f, pa.array([hive.values[file][f.name]] * table.num_rows, f.type))
        tables.append(table)
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    if table.num_columns == 0:
        raise ValueError("no JSON objects to infer columns from")
    schema = _plain_strings(pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]))
    return table.cast(schema)


def _plain_strings(schema: pa.Schema) -> pa.Schema:
    """Read view types as plain strings/binaries: Arrow's filter kernels lack string_view support."""
    def plain(dtype: pa.DataType) -> pa.DataType:
        if pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype):
            return pa.string()
        if pa.types.is_binary_view(dtype) or pa.types.is_large_binary(dtype):
            return pa.binary()
        return dtype

    return pa.schema([f.with_type(plain(f.type)) for f in schema], metadata=schema.metadata)


def scan_dataset(source: Source, dataset: ds.Dataset, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
    """Stream a pyarrow dataset with the request's columns and every filter Arrow can express."""
    predicate = None
    for term in request.filters:
        expression = to_arrow_filter(term, dataset.schema, request.params, _prunes(dataset))
        if expression is not None:
            predicate = expression if predicate is None else predicate & expression
    columns = list(request.columns) or [dataset.schema.names[0]]
    source.record(request.describe())
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    if _plain_csv(dataset):
        filtered = sorted({c.name for t in request.filters for c in t.find_all(exp.Column)} - set(columns))
        scanned = _csv_batches(dataset, columns, [c for c in filtered if c in dataset.schema.names], predicate)
    else:
        scanned = dataset.scanner(columns=columns, filter=predicate).to_batches()

    def batches():
        started = time.perf_counter()
        try:
            for batch in scanned:
                stats.rows += batch.num_rows
                stats.bytes += batch.nbytes
                yield batch
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"source '{source.name}', table '{request.table.name}': {error}") from None
        finally:
            stats.seconds += time.perf_counter() - started

    return pa.RecordBatchReader.from_batches(schema, batches())


def _plain_csv(dataset: ds.Dataset) -> bool:
    """CSV files without hive folders: read by :func:`_csv_batches`, since pyarrow.dataset's CSV scan
    reads ahead of a slow consumer without bound (a 1 GB file through ``fedq -c … --format csv`` peaked
    at 1.3 GB; benchmarks/export.py)."""
    return (isinstance(dataset, ds.FileSystemDataset) and isinstance(dataset.format, ds.CsvFileFormat)
            and all(f.partition_expression.equals(ds.scalar(True)) for f in dataset.get_fragments()))


def _csv_batches(dataset: ds.FileSystemDataset, columns: list[str], filtered: list[str],
                 predicate: ds.Expression | None) -> Iterator[pa.RecordBatch]:
    """The files one after another through pyarrow.csv's streaming reader (it reads one block ahead),
    typed by the dataset's unified schema, filtered by ``predicate`` (which may also read ``filtered``)."""
    fmt = dataset.format
    scan_options = fmt.default_fragment_scan_options
    read_options = scan_options.read_options if scan_options is not None else None
    convert = scan_options.convert_options if scan_options is not None else CSV_CONVERT
    wanted = columns + filtered
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in dataset.schema}, include_columns=wanted, include_missing_columns=True,
        strings_can_be_null=convert.strings_can_be_null, quoted_strings_can_be_null=convert.quoted_strings_can_be_null,
        null_values=convert.null_values, true_values=convert.true_values, false_values=convert.false_values)
    for path in dataset.files:
        with dataset.filesystem.open_input_stream(path) as stream:
            for batch in pacsv.open_csv(stream, read_options=read_options, parse_options=fmt.parse_options,
                                        convert_options=convert):
                if predicate is not None:
                    batch = batch.filter(predicate)
                yield batch.select(columns) if filtered else batch


# -- sqlglot -> pyarrow filter translation --------------------------------------------------
_COMPARE = {exp.EQ: "__eq__", exp.NEQ: "__ne__", exp.LT: "__lt__", exp.LTE: "__le__", exp.GT: "__gt__", exp.GTE: "__ge__"}
_FLIPPED = {exp.LT: exp.GT, exp.LTE: exp.GTE, exp.GT: exp.LT, exp.GTE: exp.LTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ}


class _NotPushable(Exception):
    pass


def _prunes(dataset: ds.Dataset) -> bool:
    """Whether pyarrow skips parts of ``dataset`` by their min/max statistics (Parquet row groups)."""
    return isinstance(dataset, ds.FileSystemDataset) and isinstance(dataset.format, ds.ParquetFileFormat)


def _literal(node: exp.Expression, dtype: pa.DataType, params: dict[str, Any]) -> pa.Scalar:
    """Convert a literal (or bound parameter) to a scalar of the column's type, as DuckDB would."""
    if isinstance(node, exp.Placeholder):
        if node.name not in params:
            return pa.scalar(0, dtype) if not pa.types.is_string(dtype) else pa.scalar("", dtype)  # classification only
        value = params[node.name]
    elif isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = -float(node.this.this) if "." in node.this.this else -int(node.this.this)
    elif isinstance(node, exp.Literal):
        value = node.this if node.is_string else (float(node.this) if "." in node.this or "e" in node.this.lower() else int(node.this))
    elif isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.to.this in (
        exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ
    ):
        value = node.this.this
        value = dt.date.fromisoformat(value) if node.to.this == exp.DataType.Type.DATE else dt.datetime.fromisoformat(value)
    else:
        raise _NotPushable
    if value is None:
        raise _NotPushable
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        if not isinstance(value, str):
            raise _NotPushable
        return pa.scalar(value, dtype)
    if pa.types.is_decimal(dtype):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _NotPushable  # fractional literals against decimals stay local
        return pa.scalar(decimal.Decimal(value), dtype)
    if pa.types.is_integer(dtype):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _NotPushable
        return pa.scalar(value)
    if pa.types.is_floating(dtype):
        if dtype.bit_width != 64:
            raise _NotPushable  # DuckDB compares a FLOAT column with the literal cast to FLOAT
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _NotPushable
        return pa.scalar(float(value), pa.float64())
    if pa.types.is_date(dtype) and type(value) is dt.date:
        return pa.scalar(value, dtype)
    if pa.types.is_timestamp(dtype) and dtype.tz is None and isinstance(value, (dt.date, dt.datetime)):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            raise _NotPushable  # hazard 9: naive column against a zoned value
        return pa.scalar(value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time()), dtype)
    raise _NotPushable


def _field(node: exp.Expression, schema: pa.Schema) -> tuple[pc.Expression, pa.DataType]:
    if not isinstance(node, exp.Column) or node.name not in schema.names:
        raise _NotPushable
    dtype = schema.field(node.name).type
    return pc.field(node.name), dtype


@dataclass(frozen=True)
class _Context:
    """What a translation may produce: ``nan_safe`` (Parquet, where pyarrow prunes row groups by min/max
    statistics that leave NaN out) asks that no float comparison be true for a NaN, or pyarrow would
    skip a row group whose NaN rows DuckDB keeps; ``negated`` is whether the term sits under a NOT."""

    params: dict[str, Any]
    nan_safe: bool
    negated: bool = False

    def flipped(self) -> "_Context":
        return _Context(self.params, self.nan_safe, not self.negated)


def _translate(node: exp.Expression, schema: pa.Schema, context: _Context) -> pc.Expression:
    params = context.params
    if isinstance(node, exp.Paren):
        return _translate(node.this, schema, context)
    if isinstance(node, exp.And):
        return _translate(node.this, schema, context) & _translate(node.expression, schema, context)
    if isinstance(node, exp.Or):
        return _translate(node.this, schema, context) | _translate(node.expression, schema, context)
    if isinstance(node, exp.Not):
        return ~_translate(node.this, schema, context.flipped())
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        column, _ = _field(node.this, schema)
        return column.is_null()
    if isinstance(node, exp.In) and not node.args.get("query"):
        column, dtype = _field(node.this, schema)
        _reject_float_order(dtype, exp.EQ, context)
        values = [_literal(v, dtype, params) for v in node.expressions]
        if len({v.type for v in values}) > 1:
            raise _NotPushable  # (1, 0.5) on an integer column: one array of the first's type would hold 0
        return column.isin(pa.array([v.as_py() for v in values], type=values[0].type if values else dtype))
    if isinstance(node, exp.Between):
        column, dtype = _field(node.this, schema)
        _reject_float_order(dtype, exp.GTE, context)
        low, high = _literal(node.args["low"], dtype, params), _literal(node.args["high"], dtype, params)
        return (column >= low) & (column <= high)
    for kind in _COMPARE:
        if type(node) is kind:
            left, right, op = node.this, node.expression, kind
            if not isinstance(left, exp.Column):
                left, right, op = right, left, _FLIPPED[kind]
            column, dtype = _field(left, schema)
            _reject_float_order(dtype, op, context)
            return getattr(column, _COMPARE[op])(_literal(right, dtype, params))
    raise _NotPushable


def _reject_float_order(dtype: pa.DataType, op: type, context: _Context) -> None:
    """DuckDB orders NaN above every number; Arrow's IEEE comparisons do not (hazard 6). On Parquet, a
    float comparison that is true for NaN (``<>``, or any under NOT) would let pyarrow's statistics skip
    NaN rows (issue 14): only ``=``, ``<``, ``<=`` and IN, not negated, are pushed there."""
    if not pa.types.is_floating(dtype):
        return
    if op in (exp.GT, exp.GTE):
        raise _NotPushable
    if context.nan_safe and (context.negated or op is exp.NEQ):
        raise _NotPushable


def to_arrow_filter(term: exp.Expression, schema: pa.Schema, params: dict[str, Any],
                    nan_safe: bool = False) -> pc.Expression | None:
    """A pyarrow filter with DuckDB's meaning for ``term``, or None if it cannot be expressed. With
    ``nan_safe`` (a Parquet dataset) none that a NaN could make true, since pyarrow prunes by statistics."""
    try:
        return _translate(term, schema, _Context(params, nan_safe))
    except (_NotPushable, ValueError, TypeError, decimal.InvalidOperation, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
