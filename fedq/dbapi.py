"""PEP 249 (DB-API 2.0) over the federated engine, in PEP 249's own order, with Arrow extras.

The cursor is a thin view over an Arrow record-batch stream (as in ADBC's DB-API): ``fetchone``
reads the current batch, ``description`` comes from the Arrow schema, and
``fetch_arrow_table`` / ``fetch_record_batch`` / ``fetch_df`` hand the stream over without
converting rows to Python objects.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb
import platformdirs
import pyarrow as pa
from sqlglot import exp

from fedq.catalog import Catalog
from fedq.catalog.statistics import analyze_table
from fedq.catalog.config import CatalogDocument, interpolate, read_catalog_document, resolve_relative
from fedq.catalog.home import CatalogHome, home_directory, protected_source, to_toml
from fedq.catalog.views import VIEWS_SOURCE, View
from fedq.engine import export, introspection, union_shapes
from fedq.engine.binder import Binder
from fedq.engine.deadline import Deadline, checkpoint
from fedq.engine.drift import explain_drift
from fedq.engine.executor import Execution
from fedq.engine.explain import explain_table
from fedq.engine.plan_cache import PlanCache
from fedq.engine.planner import Plan, Planner
from fedq.engine.sandbox import sandboxed_duckdb
from fedq.engine.statements import TOO_DEEP, Statement, attach_arguments, point_at, prepare
from fedq.engine.tree_copy import copy_tree
from fedq.engine.views import describe_query, expand_views, view_name
from fedq.errors import (
    DatabaseError, DataError, Error, IntegrityError, InterfaceError, InternalError, NotSupportedError,
    OperationalError, ProgrammingError, Warning, redact,
)
from fedq.result_types import IntegerColumn, integer_columns, python_values
from fedq.sources import Source
from fedq.sources.settings import check_connection_settings
from fedq.sources.information_schema import NAME as INFORMATION_SCHEMA, InformationSchemaSource
from fedq.sources.memory import MemorySource

# -- module globals ------------------------------------------------------------------------
apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "qmark"


# -- type objects ----------------------------------------------------------------------------
class _TypeObject:
    """Compares equal to every Arrow type its predicate accepts (PEP 249 type objects)."""

    def __init__(self, name: str, accepts: Callable[[pa.DataType], bool]) -> None:
        self.name, self.accepts = name, accepts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, pa.DataType) and self.accepts(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return self.name


STRING = _TypeObject("STRING", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))
BINARY = _TypeObject("BINARY", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t))
NUMBER = _TypeObject("NUMBER", lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))
DATETIME = _TypeObject("DATETIME", lambda t: pa.types.is_temporal(t))
ROWID = _TypeObject("ROWID", lambda t: False)

Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> _dt.date:
    return _dt.date.fromtimestamp(ticks)


def TimeFromTicks(ticks: float) -> _dt.time:
    return _dt.datetime.fromtimestamp(ticks).time()


def TimestampFromTicks(ticks: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ticks)


def _python_values(column: pa.Array, field: pa.Field, integers: IntegerColumn | None) -> list[Any]:
    """A result column as the Python values DuckDB's fetch gives (HUGEINTs as ints, see
    fedq/result_types.py); one Python cannot hold (a year past 9999) is a DataError."""
    try:
        return python_values(column, integers)
    except (OverflowError, ValueError, pa.ArrowException) as error:
        raise DataError(f"column '{field.name}' ({field.type}) holds a value Python cannot represent: {error}; "
                        "fetch_arrow_table() returns it as Arrow") from None


def _column_description(field: pa.Field, integer: bool) -> tuple:
    """PEP 249's seven items; a HUGEINT (an Arrow decimal128(38, 0), an int in Python) has no decimal precision or scale."""
    precision, scale = (None, None) if integer else (getattr(field.type, "precision", None), getattr(field.type, "scale", None))
    return field.name, field.type, None, None, precision, scale, field.nullable


# -- limits ----------------------------------------------------------------------------------
MAX_STATEMENT_LENGTH = 1_000_000  # characters, as Trino's query.max-length: parsing and planning grow with it
CONVERT_ROWS = 10_000  # Arrow rows turned into Python tuples at a time, so fetchone() holds at most this many
PY_ROW_BYTES = 72  # a row tuple's header and its slot in the list fetchall() returns
PY_VALUE_BYTES = 40  # a Python object per value (int 28, float 24, str 49 + text, datetime 48) and its slot in the tuple
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|bytes)?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _memory_bytes(memory_limit: str | None, database: duckdb.DuckDBPyConnection) -> int | None:
    """``memory_limit`` in bytes, read as DuckDB reads it (KB = 1000, KiB = 1024); forms DuckDB
    accepts but this does not (a percentage) come from DuckDB's own reading of the setting."""
    if not memory_limit:
        return None
    match = _MEMORY.match(memory_limit) or _MEMORY.match(
        database.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    if match is None:
        return None
    return int(float(match.group(1)) * _MEMORY_UNITS[(match.group(2) or "b").lower()])


def _python_bytes(batch: pa.RecordBatch) -> int:
    """About what ``batch`` takes once it is Python tuples (its Arrow bytes plus an object per value)."""
    return batch.nbytes + batch.num_rows * (PY_ROW_BYTES + PY_VALUE_BYTES * batch.num_columns)


def _size(count: float) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


# -- connect ---------------------------------------------------------------------------------
def connect(catalog: str | os.PathLike[str] | None = None, *, home: str | os.PathLike[str] | bool | None = None,
            pushdown: bool = True, dynamic_filtering: bool = True, memory_limit: str | None = None,
            temp_directory: str | None = None, timeout: float | None = None,
            max_statement_length: int = MAX_STATEMENT_LENGTH) -> "Connection":
    """Open a federated connection: the home catalog's sources and views, plus those of the TOML
    ``catalog`` file if one is given (the file's win where names clash).

    ``home`` is the home catalog directory (default ``$FEDQ_HOME``, else the user config dir);
    ``home=False`` opens none, so nothing is kept after the connection closes.
    ``pushdown=False`` computes everything locally (the reference for tests); ``dynamic_filtering=False``
    turns off run-time semi-join reduction only (for measuring it). ``memory_limit`` (e.g. ``"2GB"``)
    caps the local engine, which spills to ``temp_directory`` (default: the user cache dir), and the
    rows fetchall()/fetch_arrow_table() may hold (stream larger results). ``timeout`` is each
    statement's deadline in seconds, from execute() to its last row, planning included
    (``cursor.timeout`` changes it per cursor). A statement longer than ``max_statement_length``
    characters is refused before it is parsed."""
    return Connection(catalog, home=home, pushdown=pushdown, dynamic_filtering=dynamic_filtering,
                      memory_limit=memory_limit, temp_directory=temp_directory, timeout=timeout,
                      max_statement_length=max_statement_length)


def _local_database(memory_limit: str | None, temp_directory: str | None, native_roots: tuple[str, ...] = (),
                    attachments: tuple[tuple[str, str], ...] = ()) -> duckdb.DuckDBPyConnection:
    """The in-process DuckDB that finishes queries: UTC, and joins/aggregates larger than
    ``memory_limit`` spill to ``temp_directory`` instead of failing. Sandboxed (engine/sandbox.py):
    the only files it may open are the catalog's local Parquet folders (``native_roots``) and its spill
    folder, and its settings are fixed here, at creation. ``attachments``: the DuckDB-file sources'
    files, attached READ_ONLY under their source names before the lock-down."""
    spill = temp_directory or os.path.join(platformdirs.user_cache_dir("fedq"), "spill")
    os.makedirs(spill, exist_ok=True)
    config = {"threads": max(1, os.cpu_count() or 1), "temp_directory": spill}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        return sandboxed_duckdb(config=config, allowed_directories=native_roots, attach=attachments)
    except duckdb.Error as error:
        raise ProgrammingError(f"invalid local engine setting: {error}") from None


def _native_roots(catalog: Catalog) -> tuple[str, ...]:
    """The local folders whose Parquet files DuckDB reads itself (files sources' ``native_root``)."""
    roots = {getattr(source, "native_root", lambda: None)() for source in catalog.sources.values()}
    return tuple(sorted(root for root in roots if root))


def _native_attachments(catalog: Catalog) -> tuple[tuple[str, str], ...]:
    """The DuckDB files the local engine attaches READ_ONLY (DuckDB-file sources' ``native_attachment``)."""
    found = {getattr(source, "native_attachment", lambda: None)() for source in catalog.sources.values()}
    return tuple(sorted(item for item in found if item))


class Connection:
    """Sources, a schema cache, and the in-process DuckDB that finishes every query."""

    def __init__(self, catalog: str | os.PathLike[str] | None = None, *, home: str | os.PathLike[str] | bool | None = None,
                 pushdown: bool = True, dynamic_filtering: bool = True, memory_limit: str | None = None,
                 temp_directory: str | None = None, timeout: float | None = None,
                 max_statement_length: int = MAX_STATEMENT_LENGTH) -> None:
        timeout = check_connection_settings(pushdown=pushdown, dynamic_filtering=dynamic_filtering, memory_limit=memory_limit,
                                            temp_directory=temp_directory, timeout=timeout,
                                            max_statement_length=max_statement_length)["timeout"]  # an int becomes a float
        self.max_statement_length = max_statement_length
        self.catalog = Catalog()
        self.binder = Binder()
        self._plans = PlanCache()  # engine/plan_cache.py: repeated execute() texts skip parsing and planning
        self.pushdown = pushdown
        self.dynamic_filtering = dynamic_filtering
        self.timeout = timeout
        self.home = None if home is False else CatalogHome(home_directory(None if home is True else home))
        self._database = _local_database(memory_limit, temp_directory)
        self._local_settings = (memory_limit, temp_directory)
        self.memory_limit_bytes = _memory_bytes(memory_limit, self._database)  # also caps rows materialised in Python
        self._native_roots: tuple[str, ...] = ()  # the folders self._database and the binder may read
        self._attachments: tuple[tuple[str, str], ...] = ()  # the DuckDB files self._database has attached
        self._closed = False
        self.catalog.system[INFORMATION_SCHEMA] = InformationSchemaSource(name=INFORMATION_SCHEMA, catalog=self.catalog)
        try:
            if catalog is not None:
                self._load(read_catalog_document(catalog), persistent=False)
            if self.home is not None:
                self._load(self.home.load(), persistent=True)
        except BaseException:
            self.close()
            raise

    def _load(self, document: CatalogDocument, persistent: bool) -> None:
        """Add a catalog document's sources and views; names already defined keep their first definition."""
        for name, written in document.sources.items():
            if name.lower() in self.catalog.sources:
                continue
            options = document.resolved_source(name)
            try:
                self.catalog.add(name, options.pop("type"), **options)
            except ProgrammingError as error:  # which file to fix: a bad home catalog stops every connect
                raise ProgrammingError(f"catalog file {document.path}: {error}") from None
            self.catalog.definitions[name.lower()] = resolve_relative(written, document.path.parent.resolve())
            if persistent:
                self.catalog.persistent.add(name.lower())
        for name, definition in document.views.items():
            if name.lower() not in self.catalog.views:
                self.catalog.views[name.lower()] = View.from_definition(name, definition, persistent)

    # -- sources ------------------------------------------------------------------------
    def attach(self, name: str, type: str, *, persistent: bool = False, **options: Any) -> Source:  # noqa: A002 - mirrors ATTACH (TYPE ...)
        """Register a source; its tables are then ``name.table`` or ``name.schema.table``.

        Settings may hold ``${ENV_VAR}`` and ``${keyring:service/user}`` references. ``persistent=True``
        also keeps the source in the home catalog (clear-text secrets go to the keyring)."""
        self._check_open()
        written = {"type": type, **options}
        if persistent:
            self._require_home(f"ATTACH … AS {name} (PERSISTENT)")
            written = protected_source(name, written)  # before adding: a secret that cannot be kept adds nothing
        resolved = interpolate(dict(options), f"source '{name}'")
        source = self.catalog.add(name, type, **resolved)
        self.catalog.definitions[name.lower()] = written
        if persistent:
            self.catalog.persistent.add(name.lower())
            self.home.update(lambda document: document.sources.__setitem__(name, written))
        return source

    def detach(self, name: str) -> None:
        """Remove a source (from the home catalog too, if it was kept there)."""
        self._check_open()
        persistent = name.lower() in self.catalog.persistent
        self.catalog.remove(name)
        self.binder.forget(name)
        if persistent and self.home is not None:
            self.home.update(lambda document: [document.sources.pop(k) for k in list(document.sources) if k.lower() == name.lower()])

    # -- views ----------------------------------------------------------------------------
    def create_view(self, name: str, sql: str, *, replace: bool = False, temporary: bool = False) -> View:
        """Define a view over any sources (``CREATE [OR REPLACE] [TEMP] VIEW``); no data is copied.

        The SELECT is checked now; a persistent view is kept in the home catalog."""
        self._check_open()
        try:
            _check_length(sql, self.max_statement_length)
            statement = prepare(sql)
        except ProgrammingError as error:
            raise ProgrammingError(f"view '{name}': {error}") from None
        if statement.kind != "query" or statement.params:
            raise ProgrammingError(f"view '{name}': the view's body must be a query without parameters")
        return self._create_view(name, statement.tree, replace, temporary)

    def _create_view(self, name: str, body: exp.Expression, replace: bool, temporary: bool) -> View:
        key = name.lower()
        if key in self.catalog.views and not replace:
            raise ProgrammingError(f"view '{name}' already exists; use CREATE OR REPLACE VIEW to change it")
        if any(isinstance(t.this, exp.Anonymous) and t.this.name.lower() == "query" for t in body.find_all(exp.Table)):
            raise NotSupportedError(f"view '{name}': query('source', '…') passthrough cannot be part of a view")
        if not temporary:
            self._require_home(f"CREATE VIEW {name}")
        expanded = expand_views(body.copy(), self.catalog, self.binder, (key,))  # (key,): a cycle back to this view fails
        columns = describe_query(expanded, self.catalog, self.binder)
        view = View(name, body.sql("duckdb"), tuple(columns), persistent=not temporary)
        self.catalog.views[key] = view
        if view.persistent:
            self.home.update(lambda document: _replace_view(document, view))
        return view

    def drop_view(self, name: str, *, if_exists: bool = False) -> None:
        """Remove a view (from the home catalog too, if it was kept there)."""
        self._check_open()
        view = self.catalog.views.pop(name.lower(), None)
        if view is None:
            if if_exists:
                return
            raise ProgrammingError(f"view '{name}' does not exist")
        if view.persistent and self.home is not None:
            self.home.update(lambda document: _drop_view(document, name))

    def _check_file_write(self, path: Path) -> None:
        """Whether this connection may write ``path`` for COPY … TO: an in-process one writes as its
        user does; a served session refuses (server/server.py), since the file would be the server's."""

    def export_catalog(self) -> str:
        """Every source and view of this connection as a TOML catalog file that recreates them
        (references kept, clear-text secrets moved to the keyring)."""
        self._check_open()
        sources = {self.catalog.sources[key].name: definition for key, definition in self.catalog.definitions.items()}
        return to_toml(CatalogDocument(
            Path("exported.toml"),
            sources={name: protected_source(name, definition) for name, definition in sources.items()},
            views={v.name: v.definition() for v in self.catalog.views.values()},
        ))

    def _require_home(self, action: str) -> None:
        if self.home is None:
            raise ProgrammingError(f"{action}: this connection has no home catalog (home=False); "
                                   "use CREATE TEMP VIEW, or connect with a home directory")

    def register(self, name: str, obj: Any) -> None:
        """Make in-memory data queryable as ``memory.<name>`` (replacing a table of that name).

        ``obj`` is a pyarrow Table, RecordBatch or RecordBatchReader (read once, now), a pandas or
        polars DataFrame, or anything with ``__arrow_c_stream__``. The ``memory`` source is added
        to the catalog on the first call."""
        self._check_open()
        source = self.catalog.sources.get("memory")
        if source is not None and not isinstance(source, MemorySource):
            raise ProgrammingError("the source named 'memory' is not the in-memory source; detach it to register data")
        if source is None:
            source = MemorySource(name="memory")
            source.register(name, obj)  # first, so that an unreadable object adds no source
            self.catalog.sources["memory"] = source
        else:
            source.register(name, obj)
        self._forget_memory_schemas()

    def unregister(self, name: str) -> None:
        """Remove a table added with :meth:`register`."""
        self._check_open()
        source = self.catalog.sources.get("memory")
        if not isinstance(source, MemorySource):
            raise ProgrammingError(f"no registered table '{name}' (nothing registered)")
        source.unregister(name)
        self._forget_memory_schemas()

    def _forget_memory_schemas(self) -> None:
        self.catalog.refresh("memory")
        self._plans.clear()
        self.binder.forget("memory")

    def source(self, name: str) -> Source:
        return self.catalog.source(name)

    def refresh(self, name: str | None = None) -> None:
        """Forget cached table lists and schemas (of one source, or all), and statistics."""
        if name is not None:
            self.catalog.source(name)  # an unknown source is an error, with suggestions
        self.catalog.refresh(name)
        self._plans.clear()
        for source in [name] if name else [s.name for s in self.catalog.sources.values()]:
            self.binder.forget(source)

    # -- PEP 249 ------------------------------------------------------------------------
    def cursor(self) -> "Cursor":
        self._check_open()
        return Cursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> "Cursor":
        """Shortcut: a new cursor that has executed ``sql``."""
        return self.cursor().execute(sql, parameters)

    def commit(self) -> None:
        """Nothing to commit: fedq never writes."""
        self._check_open()

    def rollback(self) -> None:
        """Nothing to roll back: fedq never writes."""
        self._check_open()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.catalog.close()
        self.binder.close()
        self._database.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- extras -------------------------------------------------------------------------
    def plan(self, sql: str, parameters: Sequence[Any] | None = None) -> Plan:
        """The plan fedq would run for ``sql`` (what EXPLAIN shows), without running it."""
        _check_length(sql, self.max_statement_length)
        statement = prepare(sql, parameters)
        try:
            return self._plan(statement.tree, statement.params)
        except ProgrammingError as error:
            raise type(error)(point_at(error, sql)) from None

    def _plan(self, tree: exp.Expression, params: dict[str, Any]) -> Plan:
        """Plan a query after replacing its views by their (checked) SELECTs; a long UNION ALL of one
        shape is planned from one of its branches (engine/union_shapes.py)."""
        self._sandbox_native_roots()
        by_shape = union_shapes.plan_union_by_shape(tree, params, lambda branch: self._plan_whole(branch, params)) \
            if self.pushdown else None
        return by_shape or self._plan_whole(tree, params)

    def _plan_whole(self, tree: exp.Expression, params: dict[str, Any]) -> Plan:
        expanded = expand_views(copy_tree(tree), self.catalog, self.binder)
        checkpoint("expanding views")
        return self._planner().plan(expanded, params)

    def _sandbox_native_roots(self) -> None:
        """Open the local engine and the binder to the catalog's current local Parquet folders, and
        attach the DuckDB-file sources' files (READ_ONLY) to the local engine.

        A sandboxed DuckDB's configuration is locked, so when files or DuckDB-file sources are attached or detached
        (or a relative folder moves with the working directory) a new local engine replaces the old
        one before the next plan. The old one is not closed: a cursor still streaming from it keeps
        it alive until that cursor closes. Plans made before the change may name folders the new
        engine does not allow; DuckDB refuses them (NotSupportedError), it never reads more."""
        roots, attachments = _native_roots(self.catalog), _native_attachments(self.catalog)
        if roots == self._native_roots and attachments == self._attachments:
            return
        self._database = _local_database(*self._local_settings, roots, attachments)
        self.binder.allow(roots)  # the binder's mirror of an attached file is empty tables under the same names
        self._native_roots, self._attachments = roots, attachments

    def _plan_settings(self) -> tuple:
        """What a plan depends on besides its text, values and catalog (engine/plan_cache.py)."""
        self._sandbox_native_roots()
        return self.pushdown, self.dynamic_filtering, self._native_roots, self._attachments

    def _planner(self) -> Planner:
        return Planner(self.catalog, self.binder, pushdown=self.pushdown, dynamic_filtering=self.dynamic_filtering)

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def _recover_local_engine(self) -> None:
        """DuckDB invalidates its database after an internal error (a corrupt Parquet file DuckDB reads
        itself can cause one): every later query would fail, so start a fresh local engine."""
        try:
            self._database.execute("SELECT 1").fetchall()
        except duckdb.Error:
            self._database = _local_database(*self._local_settings, self._native_roots, self._attachments)

    def _secrets(self) -> list[str]:
        return [s for source in self.catalog.sources.values() for s in source.secrets()]

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError


def _check_length(sql: Any, limit: int) -> None:
    """Refuse a statement longer than ``limit`` characters before sqlglot spends time and memory on it."""
    if isinstance(sql, str) and len(sql) > limit:
        raise ProgrammingError(f"the statement is {len(sql):,} characters long, more than max_statement_length "
                               f"({limit:,}); shorten it (a long IN list can be a join with a registered table: "
                               "connection.register()), or connect with a larger max_statement_length")


def _name_as_written(plan: Plan, sql: str, tree: exp.Expression, binder: Binder) -> None:
    """Name the plan's unaliased computed outputs as DuckDB names them in the user's ``sql``, not in
    sqlglot's rendering of it (``substr`` is rendered ``SUBSTRING``, VARCHAR ``TEXT``). Only a
    statement with such an output pays for DuckDB's parse of its text."""
    leftmost = tree
    while isinstance(leftmost, exp.SetOperation):
        leftmost = leftmost.this
    if not isinstance(leftmost, exp.Select) or all(
            isinstance(p, (exp.Alias, exp.Column, exp.Star)) for p in leftmost.expressions):
        return
    names = binder.names_as_written(sql, [name for name, _ in plan.columns])
    plan.columns = [(name, dtype) for name, (_, dtype) in zip(names, plan.columns)]


def _renamed(reader: pa.RecordBatchReader, names: list[str]) -> pa.RecordBatchReader:
    """``reader`` with the plan's column names (the local query's may be sqlglot's rendering)."""
    if reader.schema.names == names or len(names) != len(reader.schema):
        return reader
    schema = pa.schema([field.with_name(name) for field, name in zip(reader.schema, names)], metadata=reader.schema.metadata)
    return pa.RecordBatchReader.from_batches(schema, (batch.rename_columns(names) for batch in reader))


def _replace_view(document: CatalogDocument, view: View) -> None:
    _drop_view(document, view.name)
    document.views[view.name] = view.definition()


def _drop_view(document: CatalogDocument, name: str) -> None:
    for key in [k for k in document.views if k.lower() == name.lower()]:
        del document.views[key]


def _view_target(table: exp.Expression) -> str:
    """The name in ``CREATE/DROP VIEW name``: ``v`` or ``views.v``, nothing else."""
    name = view_name(table) if isinstance(table, exp.Table) else None
    if name is None:
        raise ProgrammingError(f"a view is named NAME or {VIEWS_SOURCE}.NAME, not '{table.sql('duckdb')}'")
    return name


class Cursor:
    """Runs statements and streams their rows."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self.timeout: float | None = connection.timeout  # seconds; None = no deadline
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self.plan: Plan | None = None
        self._warnings: list[str] = []  # of the last statement, besides its scans' (see messages)
        self._reader: pa.RecordBatchReader | None = None
        self._batch: pa.RecordBatch | None = None  # the Arrow batch being turned into rows, CONVERT_ROWS at a time
        self._converted = 0  # rows of it converted so far; self._rows are its rows [_converted - len(_rows), _converted)
        self._rows: list[tuple] = []
        self._row_bytes = 0.0  # estimated Python bytes per row of self._rows
        self._integers: list[IntegerColumn | None] = []  # per result column: HUGEINTs to give as ints
        self._position = 0
        self._fetched = 0
        self._execution: Execution | None = None
        self._cancel_requested = threading.Event()
        self._closed = False

    @property
    def messages(self) -> list[tuple[type[Warning], Warning]]:
        """PEP 249's optional ``Cursor.messages``: ``(Warning, Warning(text))`` for what the last statement
        left out, such as a source that could not be reached while listing tables (SHOW TABLES,
        information_schema). Cleared by execute(); complete once the rows are fetched."""
        notes = list(self._warnings)
        if self.plan is not None:
            notes += [note for fragment in self.plan.fragments for note in fragment.stats.warnings]
        return [(Warning, Warning(note)) for note in notes]

    # -- running ------------------------------------------------------------------------
    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> "Cursor":
        self._check_open()
        self._reset()
        self._cancel_requested.clear()
        deadline = Deadline(self.timeout, self._cancel_requested)  # parsing and planning count too
        try:
            with deadline.current():
                self._run(operation, parameters, deadline)
        except Error as error:
            self._reset()
            self.connection._recover_local_engine()
            raise type(error)(redact(point_at(error, operation), self.connection._secrets())) from None
        except RecursionError:  # a parsed but very deep tree, while planning or rendering it
            self._reset()
            raise ProgrammingError(TOO_DEEP) from None
        except Exception as error:  # never a raw traceback for the user
            self._reset()
            raise InternalError(redact(f"internal error: {type(error).__name__}: {error}", self.connection._secrets())) from error
        return self

    def _run(self, operation: str, parameters: Sequence[Any] | None, deadline: Deadline) -> None:
        """Parse, then hand the statement to its kind's handler (CATALOG_STATEMENTS, PLANNED_STATEMENTS)."""
        connection = self.connection
        _check_length(operation, connection.max_statement_length)
        cached = connection._plans.get(operation, parameters, connection._plan_settings(), connection.catalog)
        statement = prepare(operation, parameters) if cached is None else Statement("query", None, {})
        deadline.check("parsing")
        about_catalog = CATALOG_STATEMENTS.get(statement.kind)
        if about_catalog is not None:
            about_catalog(self, statement.tree)
            return
        spec = export.copy_spec(statement.tree) if statement.kind == "copy" else None  # checked before any source is read
        if spec is not None:
            connection._check_file_write(spec.path)
        self.plan = cached or connection._plan(spec.query if spec else statement.tree, statement.params)
        if cached is None and statement.kind == "query":
            _name_as_written(self.plan, operation, statement.tree, connection.binder)
            connection._plans.put(operation, parameters, connection._plan_settings(), connection.catalog, self.plan, statement.params)
        PLANNED_STATEMENTS[statement.kind](self, spec, deadline)

    # -- statements about the catalog: nothing is planned ----------------------------------
    def _attach(self, tree: exp.Expression) -> None:
        name, type_name, options = attach_arguments(tree)
        persistent = options.pop("persistent", False)
        self.connection.attach(name, type_name, persistent=str(persistent).lower() in ("true", "1", "yes"), **options)

    def _detach(self, tree: exp.Expression) -> None:
        self.connection.detach(tree.this.name)

    def _show_sources(self, tree: exp.Expression) -> None:
        self._set_result(introspection.sources_table(self.connection.catalog).to_reader())

    def _show_tables(self, tree: exp.Expression) -> None:
        source = tree.args.get("from_")
        listing = introspection.tables_table(self.connection.catalog, source.name if source else None)
        self._warnings = listing.warnings
        self._set_result(listing.table.to_reader())

    def _show_views(self, tree: exp.Expression) -> None:
        self._set_result(introspection.views_table(self.connection.catalog).to_reader())

    def _analyze(self, tree: exp.Expression) -> None:
        catalog = self.connection.catalog
        bound = [catalog.resolve([p.name for p in t.parts]) for t in tree.args["tables"]]
        self.connection._plans.clear()  # new statistics: plans are decided again
        self._set_result(analyze_table(bound, [catalog.analyze(b) for b in bound]).to_reader())

    def _describe(self, tree: exp.Expression) -> None:
        parts = [p.name for p in tree.this.parts]
        self._set_result(introspection.columns_table(self.connection.catalog, parts)[1].to_reader())

    def _create_view_statement(self, tree: exp.Create) -> None:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if isinstance(tree.this, exp.Schema):
            raise NotSupportedError("CREATE VIEW with a column list is not supported: name the columns in the SELECT")
        properties = [type(p).__name__ for p in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions]
        if "MaterializedProperty" in properties:
            raise NotSupportedError("materialized views are not supported: fedq views are virtual (no data is copied)")
        if tree.args.get("exists") and _view_target(target).lower() in self.connection.catalog.views:
            return  # CREATE VIEW IF NOT EXISTS of an existing view
        self.connection._create_view(_view_target(target), tree.expression, bool(tree.args.get("replace")),
                                     "TemporaryProperty" in properties)

    def _drop_view_statement(self, tree: exp.Expression) -> None:
        for table in tree.args.get("tables") or [tree.this]:
            self.connection.drop_view(_view_target(table), if_exists=bool(tree.args.get("exists")))

    def _refresh(self, tree: exp.Expression) -> None:
        self.connection.refresh(tree.name or None)

    # -- planned statements: self.plan is set -----------------------------------------------
    def _start(self, deadline: Deadline) -> pa.RecordBatchReader:
        plan, catalog = self.plan, self.connection.catalog
        deadline.check("planning")
        self._execution = Execution(self.connection._database, plan, deadline=deadline,
                                    explain_error=lambda error: explain_drift(catalog, plan.tables, error))
        return self._execution.start()

    def _query(self, spec: export.ExportSpec | None, deadline: Deadline) -> None:
        reader = _renamed(self._start(deadline), [name for name, _ in self.plan.columns])
        self._set_result(reader, [dtype for _, dtype in self.plan.columns])

    def _explain(self, spec: export.ExportSpec | None, deadline: Deadline) -> None:
        self._set_result(explain_table(self.plan).to_reader())

    def _explain_analyze(self, spec: export.ExportSpec | None, deadline: Deadline) -> None:
        for _ in self._start(deadline):
            pass
        self._execution.close()
        self._set_result(explain_table(self.plan, analyzed=True).to_reader())

    def _copy(self, spec: export.ExportSpec | None, deadline: Deadline) -> None:
        reader = self._start(deadline)
        self._set_result(export.count_table(export.export(reader, spec)).to_reader())
        self._execution.close()

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> "Cursor":
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
        return self

    def _set_result(self, reader: pa.RecordBatchReader, duckdb_types: Sequence[str] = ()) -> None:
        """``duckdb_types``: DuckDB's types of a query's columns, so rows come as DuckDB's fetch gives them."""
        self._reader = reader
        self._integers = integer_columns(reader.schema, duckdb_types)
        self.description = [_column_description(f, integers is not None) for f, integers in zip(reader.schema, self._integers)]

    def _reset(self) -> None:
        if self._execution is not None:
            self._execution.close()
        self._execution = None
        self._reader = None
        self._batch, self._converted = None, 0
        self._rows, self._position, self._fetched = [], 0, 0
        self.description, self.rowcount, self.plan = None, -1, None
        self._warnings = []

    # -- fetching -----------------------------------------------------------------------
    def _stream(self) -> pa.RecordBatchReader:
        self._check_open()
        if self._reader is None:
            raise ProgrammingError("no result set: execute a query first")
        return self._reader

    def _next_batch(self, held: float = 0.0, caller: str = "") -> bool:
        """Turn the next CONVERT_ROWS result rows into Python tuples (self._rows); False at the end.
        ``held``: bytes of rows ``caller`` keeps already, checked with these against memory_limit."""
        while self._batch is None or self._converted >= self._batch.num_rows:
            try:
                self._batch, self._converted = self._stream().read_next_batch(), 0
            except StopIteration:
                self._batch, self._rows, self._position = None, [], 0
                self.rowcount = self._fetched
                return False
            except Error:
                self.connection._recover_local_engine()
                raise
            except Exception as error:
                raise InternalError(f"internal error while reading results: {error}") from error
        part = self._batch.slice(self._converted, CONVERT_ROWS)
        estimate = _python_bytes(part)
        if caller:
            self._check_memory(held + estimate, caller)
        columns = [_python_values(column, field, integers)
                   for column, field, integers in zip(part.columns, part.schema, self._integers)]
        self._rows, self._position = list(zip(*columns)) if columns else [() for _ in range(part.num_rows)], 0
        self._row_bytes = estimate / max(1, part.num_rows)
        self._converted += part.num_rows
        self._fetched += part.num_rows
        return True

    def _check_memory(self, held: float, caller: str) -> None:
        """Rows kept in Python count against the connection's memory_limit (DuckDB's limit does not see them)."""
        limit = self.connection.memory_limit_bytes
        if limit is not None and held > limit:
            raise OperationalError(
                f"{caller} would hold more than the connection's memory_limit ({_size(limit)}) "
                f"of rows in Python (about {_size(held)} after {self._fetched:,} rows); stream the result instead: "
                "fetchmany(n) in a loop, iterate over the cursor, or fetch_record_batch() for Arrow batches")

    def fetchone(self) -> tuple | None:
        while self._position >= len(self._rows):
            if not self._next_batch():
                return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        size = self.arraysize if size is None else size
        rows: list[tuple] = []
        while len(rows) < size:
            if self._position >= len(self._rows) and not self._next_batch(len(rows) * self._row_bytes, f"fetchmany({size})"):
                break
            take = self._rows[self._position:self._position + size - len(rows)]
            rows.extend(take)
            self._position += len(take)
        return rows

    def fetchall(self) -> list[tuple]:
        rows = self._rows[self._position:]
        held = len(rows) * self._row_bytes
        self._position = len(self._rows)
        while self._next_batch(held, "fetchall()"):
            rows.extend(self._rows)
            held += len(self._rows) * self._row_bytes
            self._position = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def fetch_arrow_table(self) -> pa.Table:
        """The rest of the result as one Arrow table (within memory_limit, if one is set)."""
        reader = self.fetch_record_batch()
        if self.connection.memory_limit_bytes is None:
            return reader.read_all()
        batches, held = [], 0
        for batch in reader:
            held += batch.nbytes
            self._fetched += batch.num_rows
            self._check_memory(held, "fetch_arrow_table()")
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=reader.schema)

    def fetch_record_batch(self) -> pa.RecordBatchReader:
        """The rest of the result as a stream of Arrow record batches."""
        reader = self._stream()
        batch, unread = self._batch, self._converted - len(self._rows) + self._position
        self._batch, self._converted, self._rows, self._position = None, 0, [], 0
        if batch is None or unread >= batch.num_rows:
            return reader
        head = batch.slice(unread)  # the rows of the current batch not yet returned, still as Arrow

        def batches() -> Iterator[pa.RecordBatch]:
            yield head
            yield from reader

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """Arrow PyCapsule stream of the rest of the result: ``pyarrow.table(cursor)``,
        ``polars.DataFrame(cursor)`` and DuckDB read it without a copy."""
        return self.fetch_record_batch().__arrow_c_stream__(requested_schema)

    def fetch_df(self) -> Any:
        """The rest of the result as a pandas DataFrame."""
        return self.fetch_arrow_table().to_pandas()

    # -- the rest of PEP 249 -------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the running statement, including its remote statements (also while it is still planning)."""
        self._cancel_requested.set()
        if self._execution is not None:
            self._execution.cancel()

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def close(self) -> None:
        if not self._closed:
            self._reset()
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        self.connection._check_open()

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Statement kind (engine.statements.prepare) -> the cursor's handler. Statements about the catalog are
# answered without a plan; the others are planned (a COPY's query too) and then run, explained or exported.
CATALOG_STATEMENTS: dict[str, Callable[[Cursor, exp.Expression], None]] = {
    "attach": Cursor._attach,
    "detach": Cursor._detach,
    "show_sources": Cursor._show_sources,
    "show_tables": Cursor._show_tables,
    "show_views": Cursor._show_views,
    "analyze": Cursor._analyze,
    "describe": Cursor._describe,
    "create_view": Cursor._create_view_statement,
    "drop_view": Cursor._drop_view_statement,
    "refresh": Cursor._refresh,
}
PLANNED_STATEMENTS: dict[str, Callable[[Cursor, "export.ExportSpec | None", Deadline], None]] = {
    "query": Cursor._query,
    "explain": Cursor._explain,
    "explain_analyze": Cursor._explain_analyze,
    "copy": Cursor._copy,
}
