"""HTTP/JSON APIs as tables (httpx).

Each declared table is one API path. Rows sit somewhere in every JSON response (``records``, a
dotted path; ``""`` when the body itself is the list) and pages follow each other by a cursor, a page
number, an offset, an RFC 8288 ``Link: <…>; rel="next"`` header, or not at all. Columns declared as
query parameters (``filters = {status = "status"}``) take ``col = value`` and ``col IN (…)`` filters;
an IN list fans out into one request sequence per value, run concurrently under the source's rate
limit. Columns listed in ``required`` must be bound that way (the API cannot list the table without
them). Everything else is left to DuckDB, which re-checks every filter anyway.

Column types come from ``columns`` (DuckDB type names) or are inferred from the first page: nested
objects become structs, lists become lists, JSON integers stay integers.

Every HTTP request (retries included) is appended to :attr:`statements` as ``GET /path?query``;
headers, which usually hold the credentials, are never logged or shown in errors.
"""
from __future__ import annotations

import datetime as dt
import decimal
import email.utils
import itertools
import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Hashable, Iterator

import httpx
import pyarrow as pa
from sqlglot import exp

from fedq.errors import DataError, OperationalError, ProgrammingError, redact
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, Source, TableName
from fedq.sources.files import MAX_JSON_DEPTH, json_too_deep
from fedq.sources.settings import AT_LEAST_ONE, NOT_NEGATIVE, POSITIVE

READ_TIMEOUT_GRACE = 0.5  # seconds a request may outlive the query's deadline (the deadline's own error comes first)
TABLE_SETTINGS = {"path", "records", "pagination", "filters", "required", "columns", "params"}
PAGINATION = {
    "none": set(),
    "cursor": {"param", "next"},
    "page": {"param", "size_param", "size", "start"},
    "offset": {"param", "limit_param", "limit", "start"},
    "link": set(),
}

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "bigint": pa.int64(), "int8": pa.int64(), "long": pa.int64(),
    "integer": pa.int32(), "int": pa.int32(), "int4": pa.int32(),
    "smallint": pa.int16(), "int2": pa.int16(),
    "double": pa.float64(), "float8": pa.float64(), "double precision": pa.float64(),
    "float": pa.float32(), "float4": pa.float32(), "real": pa.float32(),
    "varchar": pa.string(), "text": pa.string(), "string": pa.string(),
    "boolean": pa.bool_(), "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"), "datetime": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"), "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "decimal": pa.decimal128(18, 3), "numeric": pa.decimal128(18, 3),
}
_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def duckdb_type_to_arrow(name: str) -> tuple[pa.DataType, bool]:
    """Arrow type of a DuckDB type name, and whether the column holds JSON text."""
    key = " ".join(name.lower().split())
    if key == "json":
        return pa.string(), True
    if key in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[key], False
    match = _DECIMAL.fullmatch(key)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        if 1 <= precision <= 38 and scale <= precision:
            return pa.decimal128(precision, scale), False
    known = sorted(set(_SIMPLE_TYPES) | {"decimal(p,s)", "json"})
    raise ProgrammingError(f"unknown column type '{name}'; known types: {', '.join(known)}")


@dataclass(frozen=True)
class _Table:
    """One declared table, validated."""

    name: str
    path: str
    records: str
    style: str
    pagination: dict[str, Any]
    filters: dict[str, str]  # column -> query parameter
    required: tuple[str, ...]
    columns: dict[str, str] | None
    params: dict[str, str]
    decimal_floats: bool  # a declared decimal column: parse JSON fractions as Decimal, not float


class _TokenBucket:
    """At most ``rate`` requests per second for the whole source (burst of one: evenly spaced)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> None:
        if not self.rate or self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(1.0, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                wait = (1.0 - self.tokens) / self.rate
            if stop.wait(wait):
                raise OperationalError("query cancelled")


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds())


def _dig(body: Any, dotted: str) -> Any:
    """The value at a dotted path (``data.items``; numeric parts index lists); ``""`` is the body."""
    value = body
    for part in [p for p in dotted.split(".") if p] if dotted else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _json_text(value: Any) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            return float(obj) if not obj == obj.to_integral_value() else int(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return json.dumps(value, default=default, ensure_ascii=False)


def _no_nulls(dtype: pa.DataType) -> pa.DataType:
    """Inferred types with the all-null parts made text (a later page may fill them)."""
    if pa.types.is_null(dtype):
        return pa.string()
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_no_nulls(f.type)) for f in dtype])
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return pa.list_(dtype.value_field.with_type(_no_nulls(dtype.value_type)))
    return dtype


# -- JSON value -> Python value of the column's Arrow type ---------------------------------------
class _Bad(Exception):
    pass


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Bad
    if isinstance(value, int):
        return value
    if isinstance(value, (float, decimal.Decimal)) and value == int(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise _Bad


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Bad
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise _Bad


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise _Bad
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, str):
        return decimal.Decimal(value.strip())
    raise _Bad


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _Bad


def _to_date(value: Any) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise _Bad


def _to_timestamp(value: Any, zoned: bool) -> dt.datetime:
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.strip())
    elif isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        parsed = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)  # Unix seconds
    else:
        raise _Bad
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc) if zoned else parsed
    parsed = parsed.astimezone(dt.timezone.utc)
    return parsed if zoned else parsed.replace(tzinfo=None)  # as DuckDB casts a zoned text to TIMESTAMP


def _converter(dtype: pa.DataType, is_json: bool) -> Any:
    if is_json:
        return _json_text
    if pa.types.is_integer(dtype):
        return _to_int
    if pa.types.is_floating(dtype):
        return _to_float
    if pa.types.is_decimal(dtype):
        return _to_decimal
    if pa.types.is_boolean(dtype):
        return _to_bool
    if pa.types.is_date(dtype):
        return _to_date
    if pa.types.is_timestamp(dtype):
        zoned = dtype.tz is not None
        return lambda v: _to_timestamp(v, zoned)
    if pa.types.is_string(dtype):
        return lambda v: v if isinstance(v, str) else _json_text(v)
    return None  # nested (inferred) types: Arrow converts dicts/lists itself


@dataclass(eq=False)
class RestSource(Source):
    """An HTTP/JSON API whose declared paths are tables."""

    base_url: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # usually credentials
    tables: dict[str, dict[str, Any] | str] = field(default_factory=dict)  # a table's settings, or just its path
    max_requests_per_second: Annotated[float, NOT_NEGATIVE] = 10.0  # 0: unlimited
    max_concurrency: Annotated[int, AT_LEAST_ONE] = 8  # request sequences of one IN fan-out running at once
    timeout_seconds: Annotated[float, POSITIVE] = 30.0
    max_attempts: Annotated[int, AT_LEAST_ONE] = 5  # per request, on 429, 5xx and connection errors
    retry_base_seconds: Annotated[float, NOT_NEGATIVE] = 0.5  # backoff: base * 2**attempt, unless Retry-After says otherwise
    max_retry_after_seconds: Annotated[float, NOT_NEGATIVE] = 30.0
    type_name = "rest"
    dialect = None
    default_schema = "main"
    _specs: dict[str, _Table] = field(default_factory=dict, init=False, repr=False)
    _schemas: dict[str, pa.Schema] = field(default_factory=dict, init=False, repr=False)
    _json_columns: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _bucket: _TokenBucket | None = field(default=None, init=False, repr=False)
    _running: set[threading.Event] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base_url or "://" not in self.base_url:
            raise ProgrammingError(f"source '{self.name}' (rest): base_url must be an http(s) URL, got {self.base_url!r}")
        if not isinstance(self.headers, dict) or not all(isinstance(v, str) for v in self.headers.values()):
            raise ProgrammingError(f"source '{self.name}' (rest): headers must map names to strings")
        if not self.tables:
            raise ProgrammingError(f"source '{self.name}' (rest): declare at least one table: tables = {{orders = {{path = \"/orders\"}}}}")
        for name, options in self.tables.items():
            self._specs[name] = self._validate(name, options)
        self._bucket = _TokenBucket(float(self.max_requests_per_second or 0))

    def _validate(self, name: str, options: Any) -> _Table:
        where = f"source '{self.name}' (rest), table '{name}'"
        if isinstance(options, str):
            options = {"path": options}
        if not isinstance(options, dict):
            raise ProgrammingError(f"{where}: expected a table of settings such as path = \"/{name}\"")
        unknown = set(options) - TABLE_SETTINGS
        if unknown:
            raise ProgrammingError(f"{where}: unknown setting(s) {sorted(unknown)}; allowed: {sorted(TABLE_SETTINGS)}")
        pagination = options.get("pagination", {"style": "none"})
        if isinstance(pagination, str):
            pagination = {"style": pagination}
        style = str(pagination.get("style", "none")).lower()
        if style not in PAGINATION:
            raise ProgrammingError(f"{where}: unknown pagination style '{style}'; known: {', '.join(PAGINATION)}")
        extra = set(pagination) - PAGINATION[style] - {"style"}
        if extra:
            raise ProgrammingError(f"{where}: pagination style '{style}' takes {sorted(PAGINATION[style]) or 'no settings'}, not {sorted(extra)}")
        if style == "cursor" and not (pagination.get("param") and pagination.get("next")):
            raise ProgrammingError(f"{where}: cursor pagination needs param (the query parameter) and next (where the next cursor sits)")
        filters = options.get("filters", {})
        if isinstance(filters, list):
            filters = {c: c for c in filters}
        if not isinstance(filters, dict):
            raise ProgrammingError(f"{where}: filters must map column names to query parameters")
        required = tuple(options.get("required", ()))
        missing = [c for c in required if c not in filters]
        if missing:
            raise ProgrammingError(f"{where}: required column(s) {missing} must also be in filters (column = query parameter)")
        columns = options.get("columns")
        if columns is not None:
            if not isinstance(columns, dict) or not columns:
                raise ProgrammingError(f"{where}: columns must map column names to DuckDB type names")
            for column, type_name in columns.items():
                try:
                    duckdb_type_to_arrow(str(type_name))
                except ProgrammingError as error:
                    raise ProgrammingError(f"{where}, column '{column}': {error}") from None
            undeclared = [c for c in filters if c not in columns]
            if undeclared:
                raise ProgrammingError(f"{where}: filter column(s) {undeclared} are not in columns")
        elif required:
            raise ProgrammingError(f"{where}: declare its columns: a table with required parameters cannot be sampled to infer them")
        path = str(options.get("path", "/" + name))
        return _Table(name=name, path=path, records=str(options.get("records", "")), style=style,
                      pagination=dict(pagination), filters={str(k): str(v) for k, v in filters.items()},
                      required=required, columns=dict(columns) if columns is not None else None,
                      params={str(k): str(v) for k, v in dict(options.get("params", {})).items()},
                      decimal_floats=any(pa.types.is_decimal(duckdb_type_to_arrow(str(t))[0]) for t in (columns or {}).values()))

    # -- identity -------------------------------------------------------------------------
    def context(self) -> Hashable:
        return ("rest", self.name, self.base_url)

    def describe_source(self) -> str:
        return f"rest {redact(self.base_url.split('?', 1)[0], self.secrets())}"

    def secrets(self) -> tuple[str, ...]:
        found: list[str] = []
        for value in self.headers.values():
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential.strip() and scheme.isalpha():
                found.append(credential.strip())  # "Bearer <token>": the token alone too
        return tuple(sorted(set(found), key=len, reverse=True))

    # -- metadata -------------------------------------------------------------------------
    def list_tables(self) -> list[TableName]:
        return [TableName(self.default_schema, name) for name in self._specs]

    def _spec(self, table: TableName) -> _Table:
        try:
            return self._specs[table.name]
        except KeyError:
            raise ProgrammingError(f"source '{self.name}' has no table '{table.name}'") from None

    def table_schema(self, table: TableName) -> pa.Schema:
        spec = self._spec(table)
        with self._lock:
            cached = self._schemas.get(spec.name)
        if cached is not None:
            return cached
        if spec.columns is not None:
            fields, json_columns = [], set()
            for column, type_name in spec.columns.items():
                dtype, is_json = duckdb_type_to_arrow(str(type_name))
                fields.append(pa.field(column, dtype))
                if is_json:
                    json_columns.add(column)
            schema = pa.schema(fields)
        else:
            schema, json_columns = self._infer(spec), set()
        with self._lock:
            self._schemas[spec.name] = schema
            self._json_columns[spec.name] = frozenset(json_columns)
        return schema

    def _infer(self, spec: _Table) -> pa.Schema:
        """Column types from the first page: keys in order of appearance, types as Arrow infers them."""
        stop = threading.Event()
        records = next(self._pages(spec, {}, stop), [])
        if not records:
            raise ProgrammingError(
                f"source '{self.name}', table '{spec.name}': the first page has no rows to infer columns from; declare columns"
            )
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        fields = []
        for column in names:
            values = [r.get(column) for r in records]
            try:
                dtype = _no_nulls(pa.array(values).type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                dtype = pa.string()  # mixed kinds: kept as JSON text
            fields.append(pa.field(column, dtype))
        return pa.schema(fields)

    # -- pushdown -------------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        spec = self._spec(table)
        return Pushdown.EXACT if _bindings(term, spec, schema, None) is not None else Pushdown.UNSUPPORTED

    # -- execution ------------------------------------------------------------------------
    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        spec = self._spec(request.table)
        full = self.table_schema(request.table)
        columns = list(request.columns)
        out_schema = pa.schema([full.field(c) for c in columns]) if columns else pa.schema([pa.field("__fedq_one", pa.int64())])
        values: dict[str, list[Any]] = {}
        empty = False
        for term in request.filters:
            if isinstance(term, exp.Boolean) and not term.this:
                empty = True  # a dynamic filter with no keys
                continue
            found = _bindings(term, spec, full, request.params)
            for column, wanted in (found or {}).items():
                values[column] = [v for v in values[column] if v in wanted] if column in values else wanted
        for column in spec.required:
            if column not in values:
                raise ProgrammingError(
                    f"source '{self.name}', table '{spec.name}': column '{column}' is required by the API "
                    f"(query parameter '{spec.filters[column]}'); bind it with WHERE {column} = … or "
                    f"{column} IN (…), or join {spec.name}.{column} to a table that supplies the values"
                )
        if empty or any(not v for v in values.values()):
            sequences: list[dict[str, str]] = []
        else:
            ordered = sorted(values)
            sequences = [
                {spec.filters[c]: _param_text(v) for c, v in zip(ordered, combo)}
                for combo in itertools.product(*(values[c] for c in ordered))
            ]

        json_columns = self._json_columns.get(spec.name, frozenset())
        fields = [(f, _converter(f.type, f.name in json_columns)) for f in out_schema] if columns else []
        requested = {c: {_param_text(v) for v in values[c]} for c in values}
        return pa.RecordBatchReader.from_batches(
            out_schema, self._stream(spec, sequences, requested, out_schema, fields, stats))

    def _stream(self, spec: _Table, sequences: list[dict[str, str]], requested: dict[str, set[str]],
                schema: pa.Schema, fields: list[tuple[pa.Field, Any]], stats: FetchStats) -> Iterator[pa.RecordBatch]:
        """Batches page by page; several request sequences run in worker threads, bounded by a queue."""
        stop = threading.Event()
        with self._lock:
            self._running.add(stop)
        started = time.perf_counter()

        def convert(records: list[dict[str, Any]], path: str) -> pa.RecordBatch:
            batch = self._batch(spec, records, schema, fields, path)
            stats.rows += batch.num_rows
            stats.bytes += batch.nbytes
            return batch

        try:
            if len(sequences) == 1:
                for records, path in self._pages(spec, sequences[0], stop, with_path=True, deadline=stats.deadline):
                    yield convert(records, path)
                return
            if not sequences:
                return
            todo: queue.Queue[dict[str, str]] = queue.Queue()
            for sequence in sequences:
                todo.put(sequence)
            results: queue.Queue[Any] = queue.Queue(maxsize=max(2, self.max_concurrency))
            done = object()

            def put(item: Any) -> bool:
                while not stop.is_set():
                    try:
                        results.put(item, timeout=0.1)
                        return True
                    except queue.Full:
                        continue
                return False

            parameter_of = {column: spec.filters[column] for column in requested}

            def own_rows(records: list[dict[str, Any]], sequence: dict[str, str]) -> list[dict[str, Any]]:
                """Drop rows that exactly match another requested value: that value's own requests
                return them, so a loosely filtering API cannot make a row appear twice."""
                def foreign(record: dict[str, Any]) -> bool:
                    for column, texts in requested.items():
                        text = _param_text(record.get(column))
                        if text in texts and text != sequence[parameter_of[column]]:
                            return True
                    return False

                return [r for r in records if not (isinstance(r, dict) and foreign(r))]

            def work() -> None:
                try:
                    while not stop.is_set():
                        try:
                            sequence = todo.get_nowait()
                        except queue.Empty:
                            break
                        for records, path in self._pages(spec, sequence, stop, with_path=True, deadline=stats.deadline):
                            if not put((own_rows(records, sequence), path)):
                                return
                except BaseException as error:  # handed to the consumer
                    put(error)
                finally:
                    put(done)

            workers = [threading.Thread(target=work, name=f"fedq-rest-{self.name}", daemon=True)
                       for _ in range(max(1, min(self.max_concurrency, len(sequences))))]
            for worker in workers:
                worker.start()
            finished = 0
            while finished < len(workers):
                item = results.get()
                if item is done:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield convert(*item)
        finally:
            stop.set()  # also when the consumer stopped reading (LIMIT): workers stop paging
            stats.seconds += time.perf_counter() - started
            with self._lock:
                self._running.discard(stop)

    def _batch(self, spec: _Table, records: list[dict[str, Any]], schema: pa.Schema,
               fields: list[tuple[pa.Field, Any]], path: str) -> pa.RecordBatch:
        if not fields:
            return pa.RecordBatch.from_arrays([pa.array([1] * len(records), pa.int64())], schema=schema)
        arrays = []
        for column, convert in fields:
            values = [r.get(column.name) for r in records]
            try:
                if convert is not None:
                    values = [None if v is None else convert(v) for v in values]
                arrays.append(pa.array(values, column.type))
            except (_Bad, ValueError, TypeError, ArithmeticError, pa.ArrowInvalid, pa.ArrowTypeError) as error:
                sample = next((v for v in (r.get(column.name) for r in records) if v is not None), None)
                raise DataError(
                    f"source '{self.name}', table '{spec.name}', GET {path}: column '{column.name}' is "
                    f"{_type_name(column.type)} but a value does not fit ({redact(repr(sample)[:80], self.secrets())}): "
                    f"{redact(str(error)[:200], self.secrets())}; declare its type in columns"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    # -- HTTP ---------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(headers=self.headers, timeout=self.timeout_seconds, follow_redirects=False)
            return self._client

    def _url(self, spec: _Table) -> httpx.URL:
        return httpx.URL(self.base_url.rstrip("/") + "/" + spec.path.lstrip("/"))

    def _pages(self, spec: _Table, filters: dict[str, str], stop: threading.Event,
               with_path: bool = False, deadline: float | None = None) -> Iterator[Any]:
        """Each page's records (and the request path for messages), requesting the next page only when asked."""
        style, options = spec.style, spec.pagination
        params = {**spec.params, **filters}
        url = self._url(spec)
        seen: set[Any] = set()
        previous: int | None = None
        number = int(options.get("start", 1 if style == "page" else 0))
        cursor: Any = None
        while True:
            if stop.is_set():
                return
            query = dict(params)
            if style == "cursor" and cursor is not None:
                query[options["param"]] = _param_text(cursor)
            elif style == "page":
                query[options.get("param", "page")] = str(number)
                if options.get("size_param") and options.get("size"):
                    query[options["size_param"]] = str(options["size"])
            elif style == "offset":
                query[options.get("param", "offset")] = str(number)
                query[options.get("limit_param", "limit")] = str(options.get("limit", 100))
            request_url = url.copy_merge_params(query) if style != "link" or not seen else url
            response = self._get(spec, request_url, stop, deadline)
            body = self._json(spec, response)
            records = _dig(body, spec.records)
            where = response.request.url.path
            if records is None:
                records = []
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise DataError(
                    f"source '{self.name}', table '{spec.name}', GET {where}: expected a list of objects at "
                    f"records = {spec.records!r}, got {type(records).__name__}"
                )
            if records or style in ("none", "link", "cursor"):
                yield (records, where) if with_path else records
            if style == "none":
                return
            if style == "cursor":
                cursor = _dig(body, str(options["next"]))
                if cursor is None or cursor == "" or cursor is False:
                    return
                key = _param_text(cursor)
                if key in seen:
                    raise self._stuck(spec, where, f"the next cursor {redact(key[:60], self.secrets())!r} was already used")
                seen.add(key)
            elif style == "link":
                link = response.links.get("next", {}).get("url")
                if not link:
                    return
                target = response.request.url.join(link)
                if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
                    raise OperationalError(
                        f"source '{self.name}', table '{spec.name}', GET {where}: the next link points to another "
                        f"server ({target.scheme}://{target.host}); not following it with this source's headers"
                    )
                key = str(target)
                if key in seen or target == response.request.url:
                    raise self._stuck(spec, where, "the next link repeats a page already read")
                seen.add(key)
                url = target
            else:  # page or offset
                if not records:
                    return
                signature = hash(repr(records))
                if signature == previous:
                    raise self._stuck(spec, where, f"{'page' if style == 'page' else 'offset'} {number} returned the same rows as the page before")
                previous = signature
                if style == "page":
                    number += 1
                    if options.get("size") and len(records) < int(options["size"]):
                        return
                else:
                    number += len(records)
                    if len(records) < int(options.get("limit", 100)):
                        return

    def _stuck(self, spec: _Table, where: str, why: str) -> OperationalError:
        return OperationalError(f"source '{self.name}', table '{spec.name}', GET {where}: pagination does not advance: {why}")

    def _json(self, spec: _Table, response: httpx.Response) -> Any:
        if json_too_deep(response.content):
            raise DataError(f"source '{self.name}', table '{spec.name}': the JSON from GET {response.request.url.path} "
                            f"nests more than {MAX_JSON_DEPTH} levels deep")
        try:
            return json.loads(response.content, parse_float=decimal.Decimal if spec.decimal_floats else float)
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(
                f"source '{self.name}', table '{spec.name}': invalid JSON from GET {response.request.url.path}: "
                f"{redact(str(error), self.secrets())}"
            ) from None

    def _get(self, spec: _Table, url: httpx.URL, stop: threading.Event, deadline: float | None = None) -> httpx.Response:
        """One GET under the rate limit, retried with exponential backoff on 429, 5xx and connection errors.
        Each wait (connect, every read) lasts at most ``timeout_seconds``, and with a deadline (time.monotonic())
        at most the time left before it plus a grace: a silent server cannot hold a thread past the query."""
        shown = url.raw_path.decode("ascii", "replace")
        attempts = max(1, int(self.max_attempts))
        for attempt in range(attempts):
            self._bucket.acquire(stop)
            if stop.is_set():
                raise OperationalError("query cancelled")
            self.record(f"GET {shown}")
            delay = self.retry_base_seconds * (2 ** attempt)
            try:
                timeout = self.timeout_seconds if deadline is None else \
                    max(0.001, min(self.timeout_seconds, deadline - time.monotonic() + READ_TIMEOUT_GRACE))
                response = self.client.get(url, timeout=timeout)
            except httpx.TransportError as error:
                if attempt + 1 == attempts:
                    kind = "cannot connect" if isinstance(error, httpx.ConnectError) else "request failed"
                    raise self.operational_error(
                        f"table '{spec.name}', GET {url.path}: {kind} after {attempts} attempt(s)",
                        error if str(error) else type(error)(type(error).__name__),
                    ) from None
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    if attempt + 1 == attempts:
                        raise self._http_error(spec, response, f"after {attempts} attempts")
                    told = retry_after_seconds(response.headers.get("Retry-After"))
                    if told is not None:
                        delay = told
                elif response.status_code >= 400:
                    raise self._http_error(spec, response, "")
                elif response.status_code >= 300:
                    raise self._http_error(spec, response, "(redirects are not followed)")
                else:
                    return response
            if stop.wait(min(delay, self.max_retry_after_seconds)):
                raise OperationalError("query cancelled")
        raise AssertionError("unreachable")

    def _http_error(self, spec: _Table, response: httpx.Response, note: str) -> OperationalError:
        text = " ".join(response.text.split())[:200]
        detail = f"HTTP {response.status_code} {response.reason_phrase}" + (f" {note}" if note else "") + (f": {text}" if text else "")
        return self.operational_error(f"table '{spec.name}', GET {response.request.url.path}", Exception(detail))

    def cancel(self) -> None:
        with self._lock:
            running = list(self._running)
        for stop in running:
            stop.set()

    def close(self) -> None:
        self.cancel()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _type_name(dtype: pa.DataType) -> str:
    from fedq.catalog.types import arrow_to_duckdb

    return arrow_to_duckdb(dtype)


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- filters -> query parameters ---------------------------------------------------------------
def _bindings(term: exp.Expression, spec: _Table, schema: pa.Schema,
              params: dict[str, Any] | None) -> dict[str, list[Any]] | None:
    """Column -> accepted values for ``col = v``, ``col IN (…)`` and ANDs of them; None if not expressible.

    With ``params`` None (classification) placeholders are accepted on faith: the planner has
    checked that their values have the column's type family; at scan time they are checked again.
    """
    if isinstance(term, exp.Paren):
        return _bindings(term.this, spec, schema, params)
    if isinstance(term, exp.And):
        left, right = _bindings(term.this, spec, schema, params), _bindings(term.expression, spec, schema, params)
        if left is None or right is None:
            return None
        merged = dict(left)
        for column, values in right.items():
            merged[column] = [v for v in merged[column] if v in values] if column in merged else values
        return merged
    if isinstance(term, exp.EQ):
        column, other = term.this, term.expression
        if not isinstance(column, exp.Column):
            column, other = other, column
        dtype = _filter_column(column, spec, schema)
        value = _value(other, dtype, params) if dtype is not None else _NO
        return None if value is _NO else {column.name: [value]}
    if isinstance(term, exp.In) and not term.args.get("query") and not term.args.get("unnest") and not term.args.get("field"):
        dtype = _filter_column(term.this, spec, schema)
        if dtype is None or not term.expressions:
            return None
        values: list[Any] = []
        for node in term.expressions:
            value = _value(node, dtype, params)
            if value is _NO:
                return None
            if value not in values:
                values.append(value)
        return {term.this.name: values}
    return None


_NO = object()


def _filter_column(node: exp.Expression, spec: _Table, schema: pa.Schema) -> pa.DataType | None:
    if not isinstance(node, exp.Column) or node.table or node.name not in spec.filters or node.name not in schema.names:
        return None
    return schema.field(node.name).type


def _value(node: exp.Expression, dtype: pa.DataType, params: dict[str, Any] | None) -> Any:
    """The Python value of a literal or bound parameter if the API can be asked for it as DuckDB would compare."""
    text = pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
    integer = pa.types.is_integer(dtype)
    boolean = pa.types.is_boolean(dtype)
    if isinstance(node, exp.Placeholder):
        if params is None:
            return node.name if (text or integer or boolean) else _NO
        if node.name not in params:
            return _NO
        value = params[node.name]
        if text and isinstance(value, str):
            return value
        if integer and isinstance(value, int) and not isinstance(value, bool):
            return value
        if boolean and isinstance(value, bool):
            return value
        return _NO
    if isinstance(node, exp.Literal):
        if text and node.is_string:
            return node.this
        if integer and not node.is_string and re.fullmatch(r"\d+", node.this):
            return int(node.this)
        return _NO
    if isinstance(node, exp.Neg) and integer and isinstance(node.this, exp.Literal) and not node.this.is_string \
            and re.fullmatch(r"\d+", node.this.this):
        return -int(node.this.this)
    if isinstance(node, exp.Boolean) and boolean:
        return bool(node.this)
    return _NO
