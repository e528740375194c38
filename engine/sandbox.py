"""Every DuckDB database fedq opens runs sandboxed, so no SQL, view or passthrough text can read a
file or URL fedq did not mean to read, whatever the parser saw.

The recipe (:func:`sandboxed_duckdb`): extensions are never installed or loaded on demand; the
settings fedq needs (threads, memory_limit, temp_directory, TimeZone) are given at creation; then
``allowed_directories`` / ``allowed_paths`` name the only local files DuckDB may open (the catalog's
local Parquet folders, for native reads), ``enable_external_access = false`` closes every other file,
URL, ATTACH, COPY, INSTALL and LOAD, and ``lock_configuration = true`` makes every later ``SET``
fail, so the sandbox cannot be undone from SQL. DuckDB adds its own spill folder (``temp_directory``)
to the allowed directories; in-memory databases that never need to spill get none. The local engine
also attaches the DuckDB-file sources' files READ_ONLY (``attach``), before the lock-down, so their
paths are never opened to SQL through ``allowed_paths``.

The planner refuses file-reading functions early (:func:`refuse_local_reads`) for a clear message;
the sandbox is the guarantee, and :func:`sandbox_refusal` turns its refusals into fedq errors.
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterable

import duckdb
from sqlglot import exp

from fedq.errors import NotSupportedError, OperationalError

NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                 "allow_community_extensions": False, "allow_persistent_secrets": False}
# DuckDB functions that open files or URLs (core, and extensions a user might have installed).
LOCAL_READ_FUNCTIONS = frozenset({
    "read_text", "read_blob", "read_csv", "read_csv_auto", "sniff_csv", "read_json", "read_json_auto",
    "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
    "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
    "parquet_kv_metadata", "parquet_bloom_probe", "parquet_full_metadata", "glob", "read_xlsx", "read_avro",
    "read_duckdb", "query", "query_table", "iceberg_scan", "iceberg_metadata", "iceberg_snapshots", "delta_scan",
    "st_read", "st_read_meta", "sqlite_scan", "sqlite_attach", "postgres_scan", "postgres_attach", "mysql_scan",
    "load_aws_credentials",
})
READS_NOTHING = (exp.GenerateSeries, exp.Unnest, exp.Explode)  # range(), generate_series(), unnest()
REFUSED = "local files and URLs are not readable from SQL: fedq reads only its attached sources"
_ACCESS = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')


def sandboxed_duckdb(path: str = ":memory:", *, read_only: bool = False, config: dict[str, Any] | None = None,
                     allowed_directories: Iterable[str] = (), allowed_paths: Iterable[str] = (),
                     timezone: str | None = "UTC", attach: Iterable[tuple[str, str]] = ()) -> duckdb.DuckDBPyConnection:
    """A DuckDB database that can open only ``allowed_directories`` / ``allowed_paths`` (plus its own
    spill folder), loads no extension and whose settings SQL cannot change.

    ``config`` holds creation settings (threads, memory_limit, temp_directory); an in-memory database
    without a ``temp_directory`` gets none (it never spills, and no folder is opened to it).
    ``attach``: (catalog name, file) pairs of DuckDB files attached READ_ONLY before the lock-down,
    so no path is opened to SQL (DuckDB-file sources the local engine reads natively)."""
    settings = {"async_threads": 0, **(config or {}), **NO_EXTENSIONS}  # DuckDB 2.0 starts 8 I/O threads per database otherwise; fedq's reads are local files and Arrow streams
    if path == ":memory:":
        settings.setdefault("temp_directory", "")
    database = duckdb.connect(path, read_only=read_only, config=settings)
    try:
        if _already_sandboxed(database):  # a file another fedq connection of this process opened: one instance
            return database
        if timezone is not None:
            database.execute("SET TimeZone = ?", [timezone])
        for name, file in attach:
            _attach_read_only(database, name, file)
        if directories := sorted(set(allowed_directories)):
            database.execute("SET allowed_directories = ?", [directories])
        if paths := sorted(set(allowed_paths)):
            database.execute("SET allowed_paths = ?", [paths])
        database.execute("SET enable_external_access = false")
        database.execute("SET lock_configuration = true")
    except BaseException:
        database.close()
        raise
    return database


def _attach_read_only(database: duckdb.DuckDBPyConnection, name: str, file: str) -> None:
    """ATTACH ``file`` READ_ONLY as catalog ``name``: DuckDB refuses every write to it (INSERT, CREATE,
    DROP, UPDATE …), and fedq never detaches or re-attaches it (DuckDB keeps a path it opened once
    open to a later ATTACH, so only this read-only attach may ever name it)."""
    quoted = exp.to_identifier(name, quoted=True).sql("duckdb")
    try:
        database.execute(f"ATTACH {exp.Literal.string(file).sql('duckdb')} AS {quoted} (READ_ONLY)")
    except duckdb.Error as error:
        raise OperationalError(f"source '{name}' (duckdb): the local engine could not attach {file} read-only: "
                               f"{str(error).splitlines()[0]}") from None


def _already_sandboxed(database: duckdb.DuckDBPyConnection) -> bool:
    """DuckDB shares one instance per database file within a process: a second connection to a file
    opened before finds it locked. Sandboxed is fine; locked open is refused."""
    locked, external = database.execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')").fetchone()
    if locked and external:
        raise duckdb.PermissionException("the database is open in this process without fedq's sandbox")
    return bool(locked)


def sandbox_refusal(error: BaseException) -> NotSupportedError | None:
    """The fedq error for a DuckDB refusal of the sandbox (a file, URL, extension or setting), or None."""
    text = str(error)
    if isinstance(error, duckdb.PermissionException):
        if (access := _ACCESS.search(text)) is not None:
            return NotSupportedError(f"{REFUSED} (DuckDB may not open '{access.group(1)}')")
        if "extension" in text.lower():
            return NotSupportedError("DuckDB extensions are not installed or loaded from SQL: "
                                     "fedq's local engine runs with the extensions it started with")
        return NotSupportedError(f"{REFUSED} ({text.splitlines()[0].removeprefix('Permission Error: ')})")
    if isinstance(error, duckdb.InvalidInputException) and "configuration has been locked" in text:
        setting = re.search(r'configuration option "([^"]*)"', text)
        named = f" ('{setting.group(1)}')" if setting else ""
        return NotSupportedError(f"DuckDB settings{named} cannot be changed from SQL: "
                                 "fedq's local engine is configured once, when it starts")
    return None


def function_name(node: exp.Func) -> str:
    """A function's name as written (``read_text``), for known and unknown (Anonymous) functions."""
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def table_function_refused(function: exp.Expression) -> NotSupportedError:
    """The planner's refusal of a table function in FROM, JOIN or LATERAL."""
    name = function_name(function) if isinstance(function, exp.Func) else function.sql("duckdb").lower()
    return NotSupportedError(
        f"table function {name}() is not available: fedq reads data only through attached "
        "sources, never the files of the machine it runs on (ATTACH a files source instead)"
    )


def refuse_local_reads(tree: exp.Expression) -> None:
    """Refuse, before DuckDB sees them, ``LATERAL f(…)`` table functions other than range /
    generate_series / unnest and calls of file-reading functions anywhere (a scalar position, a CTE,
    a subquery); table functions in FROM and JOIN are refused where tables are bound. fedq's own
    ``query('source', 'SQL')`` passthrough is replaced before this runs, so a ``query()`` left is DuckDB's."""
    for lateral in tree.find_all(exp.Lateral):
        function = lateral.this
        if isinstance(function, exp.Func) and not isinstance(function, READS_NOTHING):
            raise table_function_refused(function)
    for function in tree.find_all(exp.Func):
        if function_name(function) not in LOCAL_READ_FUNCTIONS:
            continue
        if isinstance(function.parent, (exp.Table, exp.Lateral)):
            raise table_function_refused(function)
        raise NotSupportedError(f"{REFUSED} (function {function_name(function)}() reads local files or URLs)")


def inside(path: str, directory: str) -> bool:
    """Whether ``path``, symbolic links resolved, lies in ``directory`` (a resolved path ending in '/')."""
    return os.path.realpath(path).startswith(directory)
