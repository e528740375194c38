"""Whole-table scans of MySQL/MariaDB through connectorx: Rust, binary protocol, straight into Arrow.

PyMySQL builds Python objects for every value (about 5 s per million rows of five columns);
connectorx reads the same rows in well under a second. It keeps fedq's guarantees this way:

* the session: connectorx runs fedq's one SET (``MySQLSource._session_settings``: utf8mb4 with a
  binary NO PAD connection collation, ``time_zone = '+00:00'``, the pinned ``sql_mode``,
  ``tx_read_only = 1``, autocommit) on the reading connection before the query, so the query runs in
  a read-only transaction of its own, in UTC, with the same collations as the PyMySQL path;
* exact values: DECIMAL columns are read as text and parsed by Arrow (connectorx's own decimals
  are rust_decimal, 28 digits, and fail on wider values), BIT as ``CAST(... AS UNSIGNED)``; zero
  dates and TIMEs outside a day are errors naming the value, as on the PyMySQL path;
* deadlines and cancel: ``max_statement_time`` (MariaDB) or ``max_execution_time`` (MySQL) travels
  in the same SET, and each query carries a comment tag by which ``MySQLSource.cancel`` (on a PyMySQL
  control connection) finds its connection id in PROCESSLIST and KILLs the query;
* secrets: the URL holds the password; every error passes through the source's redactor, which
  knows the raw and the URL-quoted form.

connectorx's ``arrow`` result releases the GIL but holds the whole result; its ``arrow_stream``
holds the GIL while it waits for rows (no other Python thread, not even cancel, runs). So only scans
of tables whose on-disk size is below ``MAX_TABLE_BYTES`` come here, and only scans without bind
values and with column types listed in ``READABLE``; pushed queries, bigger tables, views and other
types stream through PyMySQL (``MySQLSource.reader = "pymysql"`` forces that for all).
"""
from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import pyarrow as pa
from sqlglot import exp

MAX_TABLE_BYTES = 512 << 20  # DATA_LENGTH above this streams through PyMySQL (bounded memory)
TAG_PREFIX = "fedq-cx-"
# MySQL data types connectorx reads exactly (after the projections below).
READABLE = frozenset({
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double",
    "real", "double precision", "year", "bit", "date", "datetime", "timestamp", "time", "char", "varchar",
    "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json", "binary", "varbinary", "tinyblob",
    "blob", "mediumblob", "longblob",
})
_UNCONVERTIBLE = re.compile(r"Couldn't convert the value `(\w+)\(\"?'?(.*?)'?\"?\)`")


def available() -> bool:
    try:
        import connectorx  # noqa: F401
    except ImportError:
        return False
    return True


# connectorx has no read timeout: a dead path is noticed as on the PyMySQL path (mysql.KEEPALIVE),
# by keepalives (idle 10 s, 3 probes 5 s apart) and tcp_user_timeout (30 s).
NETWORK = "prefer_socket=false&tcp_keepalive_time_ms=10000&tcp_keepalive_probe_interval_secs=5" \
          "&tcp_keepalive_probe_count=3&tcp_user_timeout_ms=30000"


def url(params: dict[str, Any]) -> str:
    """The connectorx URL (TCP, never the socket) for a parsed fedq DSN."""
    user = quote(params["user"], safe="")
    password = f":{quote(params['password'], safe='')}" if params["password"] else ""
    database = quote(params["database"], safe="")
    return f"mysql://{user}{password}@{params['host']}:{params['port']}/{database}?{NETWORK}"


def projection(name: str, data_type: str) -> exp.Expression:
    """The select-list item that reads one column exactly (decimals as text, BIT as a number)."""
    column = exp.column(name, quoted=True)
    if data_type in ("decimal", "numeric"):
        return exp.alias_(exp.cast(column, exp.DataType.build("CHAR", dialect="mysql")), name, quoted=True)
    if data_type == "bit":
        return exp.alias_(exp.cast(column, exp.DataType.build("UNSIGNED", dialect="mysql")), name, quoted=True)
    return column


def new_tag() -> str:
    return f"{TAG_PREFIX}{uuid.uuid4().hex}"


def read(connection_url: str, sql: str, tag: str, setup: list[str]) -> pa.Table:
    """Run ``sql`` (tagged with ``tag``) after the ``setup`` statements on one connection; the GIL is
    released while connectorx reads. Raises ReadError with connectorx's text (unredacted: the caller
    redacts)."""
    import connectorx

    try:
        return connectorx.read_sql(connection_url, f"/* {tag} */ {sql}", return_type="arrow",
                                   protocol="binary", pre_execution_query=setup)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # connectorx raises RuntimeError, and pyo3's PanicException (a BaseException)
        raise ReadError(_explain(str(error))) from None


class ReadError(Exception):
    """connectorx failed; the text says why."""


def _explain(text: str) -> str:
    """connectorx's conversion panics as fedq's messages (the value, and why DuckDB cannot hold it)."""
    found = _UNCONVERTIBLE.search(text)
    if not found:
        return text.strip().splitlines()[0] if text.strip() else "connectorx failed"
    kind, value = found.groups()
    if kind == "Time":
        return f"TIME value {value!r} is not a time of day (DuckDB's TIME holds 00:00:00 to 24:00:00)"
    return f"a value does not match its declared type: cannot read {kind.upper()} value {value!r}"


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The result in fedq's declared types, by position (decimal text parsed, unsigned widened,
    large binary narrowed, timestamps read in the UTC session marked UTC). Raises on overflow."""
    if table.num_columns != len(schema):
        raise ReadError(f"expected {len(schema)} columns, got {table.num_columns}")
    columns = []
    for column, target in zip(table.columns, schema):
        if column.type != target.type:
            column = column.cast(target.type)  # safe casts: an out-of-range value raises
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
