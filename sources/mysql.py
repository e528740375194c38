"""MySQL and MariaDB through PyMySQL: unbuffered fetch into Arrow, read-only UTC sessions.

MySQL compares text by the column's collation, and the defaults are case-insensitive and PAD SPACE
(``'ann' = 'Ann '`` is true). Each text column's collation is read at discovery (hazards 1, 2, 4):
only binary NO PAD collations over a Unicode or ASCII character set (MariaDB ``utf8mb4_nopad_bin``,
MySQL ``utf8mb4_0900_bin``) compare and sort like DuckDB. Every other text column is *unsafe*: the
planner never sends a whole subquery over its table, and a scan filter on it is pushed only as an
``=``/``IN`` pre-filter (a superset DuckDB re-checks). Unsigned integers are unsafe too: MySQL
raises "out of range" for unsigned arithmetic that goes negative, where DuckDB returns a value.

Sessions pin what changes the meaning of SQL text: ``time_zone = '+00:00'`` (hazard 9), a known
``sql_mode`` (backslash escapes on, as sqlglot's mysql generator writes ``'a\\\\b'`` for ``a\\b``;
no ``PIPES_AS_CONCAT``, ``ANSI_QUOTES`` or ``HIGH_NOT_PRECEDENCE``), a binary NO PAD connection
collation (so literal-to-literal comparisons are exact), and a read-only transaction mode. Every
statement runs in its own ``START TRANSACTION READ ONLY`` (which also proves a pooled connection
alive); a healthy lease is released with COM_RESET_CONNECTION (which ends the transaction and drops
user variables, session settings, temporary tables, prepared statements and GET_LOCK locks) and one
SET that pins fedq's settings again, so nothing a statement does outlives it. The account's grants
are checked on the first connection (sources/privileges.py).

Readers: a table scan without bind values, over a base table of at most mysql_cx.MAX_TABLE_BYTES
whose columns connectorx reads exactly, goes through connectorx (sources/mysql_cx.py: the same SET
on its connection, decimals as text, KILL QUERY by a tag); pushed queries, scans with binds, views,
bigger tables and other column types stream through PyMySQL. ``reader = "pymysql"`` keeps every read
on PyMySQL. Scans are not split over several connections: separate sessions cannot share one
snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT per session is one snapshot each).
"""
from __future__ import annotations

import datetime as dt
import math
import queue
import re
import secrets
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Annotated, Any, Hashable, Iterator
from urllib.parse import quote, unquote, urlsplit

import pyarrow as pa
from sqlglot import exp

from fedq.engine.capabilities import CAPABILITIES, type_family, why_not_pushable
from fedq.errors import OperationalError
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, SourceLimits, SQLSource, TableName
from fedq.sources.privileges import PrivilegeGate, mysql_findings, privileged_role_error
from fedq.sources import mysql_cx
from fedq.sources.settings import AT_LEAST_ONE, POSITIVE, OneOf

BATCH_ROWS = 32_768
UTC = dt.timezone.utc
SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
# Binary NO PAD collations for the connection, the first the server knows is used.
CONNECTION_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
# Character sets whose byte order is code-point order (latin1 is cp1252 in MySQL: it is not).
CODE_POINT_CHARSETS = {"utf8mb4", "utf8mb3", "utf8", "ascii"}
# Deadlines at the server: MariaDB runs each statement as SET STATEMENT max_statement_time=<s> FOR
# ..., MySQL gets the session's max_execution_time (ms, SELECT only). Reads wait at most the time
# left plus a grace; without a deadline they wait as long as the statement takes, and TCP keepalives
# (idle 10 s, 3 probes 5 s apart) and tcp_user_timeout (30 s) notice a dead path.
STATEMENT_TIMEOUT_GRACE = 0.25  # the server stops a statement this long after the query's deadline
READ_TIMEOUT_GRACE = 1.0  # a read waits this long past the deadline, so the server's own error arrives first
KILL_TIMEOUT = 2.0  # connect and read timeout of the connection that sends KILL QUERY
KEEPALIVE = (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3), ("TCP_USER_TIMEOUT", 30_000))
COM_RESET_CONNECTION = 0x1F  # MySQL 5.7 / MariaDB 10.2 and later; PyMySQL names the code COM_END
START_READ_ONLY = "START TRANSACTION READ ONLY"
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Div, exp.Mod, exp.IntDiv)

# Column kinds (why a column is unsafe, if it is).
SAFE = "safe"
TEXT_COLLATED = "text-collated"  # case-insensitive or PAD SPACE: = / IN only as a pre-filter
UNSIGNED = "unsigned"  # comparisons yes, arithmetic no
OPAQUE = "opaque"  # values DuckDB sees differently (bit, spatial, wide decimals): never filtered remotely


@dataclass(frozen=True)
class _Column:
    name: str
    dtype: pa.DataType
    kind: str
    data_type: str = ""  # MySQL's DATA_TYPE, lower case (which reader can read it: sources/mysql_cx.py)


def _parse_dsn(dsn: str) -> dict[str, Any]:
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise ValueError(f"expected a mysql:// DSN, got scheme '{parts.scheme}'")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError("the DSN names no database (mysql://user@host:3306/database)")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username) if parts.username else "root",
        "password": unquote(parts.password) if parts.password else "",
        "database": database,
    }


# -- type mapping --------------------------------------------------------------------------
_SIGNED = {"tinyint": pa.int8(), "smallint": pa.int16(), "mediumint": pa.int32(), "int": pa.int32(),
           "integer": pa.int32(), "bigint": pa.int64()}
_UNSIGNED = {"tinyint": pa.int16(), "smallint": pa.int32(), "mediumint": pa.int32(), "int": pa.int64(),
             "integer": pa.int64(), "bigint": pa.uint64()}
_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


def mysql_to_arrow(data_type: str, column_type: str, precision: Any, scale: Any) -> tuple[pa.DataType, str | None]:
    """Arrow type of a column and, for types DuckDB would see differently, the unsafe kind."""
    name = data_type.lower()
    unsigned = "unsigned" in column_type.lower()
    if name in _SIGNED:
        return (_UNSIGNED if unsigned else _SIGNED)[name], UNSIGNED if unsigned else None
    if name in ("decimal", "numeric"):
        p, s = int(precision or 10), int(scale or 0)
        if p > 38:
            return pa.string(), OPAQUE  # wider than DuckDB's DECIMAL: text, never rounded to float
        return pa.decimal128(p, s), UNSIGNED if unsigned else None
    if name == "float":
        return pa.float32(), UNSIGNED if unsigned else None
    if name in ("double", "real", "double precision"):
        return pa.float64(), UNSIGNED if unsigned else None
    if name == "year":
        return pa.int16(), None
    if name == "bit":
        return pa.int64(), OPAQUE
    if name == "date":
        return pa.date32(), None
    if name == "datetime":
        return pa.timestamp("us"), None
    if name == "timestamp":
        return pa.timestamp("us", tz="UTC"), None
    if name == "time":
        return pa.time64("us"), None
    if name in _TEXT:
        return pa.string(), None  # safety decided by the collation
    if name == "json":  # MySQL 8's JSON type compares as JSON ('"x"' = 'x'); MariaDB's JSON is longtext
        return pa.string(), OPAQUE
    if name in _BINARY:
        return pa.binary(), None
    if name in ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
                "multipolygon", "geometrycollection", "geomcollection"):
        return pa.binary(), OPAQUE
    return pa.string(), OPAQUE  # uuid, inet4/6, vector, ...: read as text, filtered locally


def collation_is_code_point(collation: str | None, charset: str | None, pad_attribute: str | None) -> bool:
    """True for binary NO PAD collations over a character set whose byte order is code-point order."""
    if not collation:
        return False
    name = collation.lower()
    charset = (charset or name.split("_", 1)[0]).lower()
    if charset not in CODE_POINT_CHARSETS or not name.endswith("_bin"):
        return False
    if pad_attribute is not None:  # MySQL 8 says so
        return pad_attribute.upper() == "NO PAD"
    return "_nopad_" in name  # MariaDB: utf8mb4_nopad_bin; utf8mb4_bin is PAD SPACE


# -- values --------------------------------------------------------------------------------
def _time_micros(text: str) -> int:
    match = re.fullmatch(r"(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?", text)
    if not match:
        raise ValueError(f"cannot read TIME value {text!r}")
    sign, hours, minutes, seconds, fraction = match.groups()
    micros = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000 + int((fraction or "0").ljust(6, "0"))
    if sign or micros >= 86_400 * 1_000_000:
        raise ValueError(f"TIME value {text!r} is not a time of day (DuckDB's TIME holds 00:00:00 to 24:00:00)")
    return micros


def _bit_int(value: Any) -> Any:
    return int.from_bytes(value, "big") if isinstance(value, (bytes, bytearray)) else value


def build_array(values: list[Any], dtype: pa.DataType) -> pa.Array:
    """One Arrow column from PyMySQL values (decimals and temporals arrive as their text)."""
    if pa.types.is_decimal(dtype) or pa.types.is_date(dtype):
        return pa.array(values, pa.string()).cast(dtype)
    if pa.types.is_timestamp(dtype):
        naive = pa.array(values, pa.string()).cast(pa.timestamp(dtype.unit))
        return naive.cast(dtype) if dtype.tz else naive  # the session runs in UTC
    if pa.types.is_time(dtype):
        return pa.array([None if v is None else _time_micros(v) for v in values], pa.int64()).cast(dtype)
    if pa.types.is_string(dtype):
        return pa.array([v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else v for v in values], dtype)
    if pa.types.is_integer(dtype):
        return pa.array([_bit_int(v) for v in values], dtype)
    if pa.types.is_floating(dtype):
        return pa.array(values, pa.float64()).cast(dtype)  # float32 columns are fetched widened to DOUBLE
    return pa.array(values, dtype)


def _result_type(field: Any) -> pa.DataType:
    """Arrow type of a result column of a pushed query, from the wire's column definition."""
    from pymysql.constants import FIELD_TYPE, FLAG

    code, unsigned = field.type_code, bool(field.flags & FLAG.UNSIGNED)
    binary = field.charsetnr == 63
    if code in (FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
        precision = field.length - (0 if unsigned else 1) - (1 if field.scale else 0)
        return pa.decimal128(min(max(precision, field.scale, 1), 38), field.scale)
    if code in (FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.INT24, FIELD_TYPE.LONG, FIELD_TYPE.YEAR):
        return pa.int64()
    if code == FIELD_TYPE.LONGLONG:
        return pa.uint64() if unsigned else pa.int64()
    if code in (FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE):
        return pa.float64()
    if code in (FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE):
        return pa.date32()
    if code == FIELD_TYPE.DATETIME:
        return pa.timestamp("us")
    if code == FIELD_TYPE.TIMESTAMP:
        return pa.timestamp("us", tz="UTC")
    if code == FIELD_TYPE.TIME:
        return pa.time64("us")
    if code == FIELD_TYPE.NULL:
        return pa.null()
    if code == FIELD_TYPE.BIT:
        return pa.int64()
    if code in (FIELD_TYPE.GEOMETRY,) or (binary and code != FIELD_TYPE.JSON):
        return pa.binary()
    return pa.string()


def _converters() -> dict:
    """PyMySQL decoders: decimals and temporals stay text (Arrow parses them, exactly and fast)."""
    from pymysql import converters
    from pymysql.constants import FIELD_TYPE

    conv = dict(converters.conversions)
    for code in (FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.DATE, FIELD_TYPE.NEWDATE,
                 FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TIME):
        conv[code] = converters.through
    return conv


T = exp.DataType.Type
_DATETIME6 = exp.DataType.build("DATETIME(6)", dialect="mysql")
_DATE = exp.DataType.build("DATE")


def bind(value: Any, target: exp.DataType | None) -> tuple[Any, exp.DataType | None]:
    """A bind value as MySQL must see it, and the type to CAST its marker to (None: no CAST).

    DuckDB compares a bound value in the common type of the value and the column, so a value keeps
    its own type: numbers are sent as number literals (``2.5e0`` is not rounded to an integer column's
    ``3``), a datetime stays a datetime against a DATE column. Only a string takes the column's type,
    as DuckDB casts it. Temporal casts use DATETIME(6) (plain DATETIME drops the microseconds), and
    zoned instants are sent as UTC wall time (the session's zone; PyMySQL would drop their tzinfo).
    """
    kind = target.this if target is not None else None
    zoned = kind is not None and type_family(kind) == "zoned"
    if isinstance(value, str) and zoned:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            value = parsed
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value, _DATETIME6
    if isinstance(value, dt.date):
        return value, _DATE
    if isinstance(value, str) and kind is not None:
        if kind == T.DATE:
            return value, _DATE
        if type_family(kind) in ("time", "zoned"):
            return value, _DATETIME6
    return value, None  # numbers, text (a CAST AS CHAR would carry the connection collation), bytes


def escape_percent(sql: str) -> str:
    """Double every ``%`` except the ``%s`` bind markers, so PyMySQL's ``%`` formatting keeps them.

    Inside quoted strings and identifiers every ``%`` is literal text; outside them only the
    markers appear (``%`` as modulo is never pushed).
    """
    out: list[str] = []
    i, n = 0, len(sql)
    quote: str | None = None
    while i < n:
        ch = sql[i]
        if quote:
            if ch == "%":
                out.append("%%")
            elif ch == "\\" and quote != "`" and i + 1 < n:
                out.append(ch + ("%%" if sql[i + 1] == "%" else sql[i + 1]))
                i += 1
            elif ch == quote:
                if i + 1 < n and sql[i + 1] == quote:
                    out.append(ch * 2)
                    i += 1
                else:
                    out.append(ch)
                    quote = None
            else:
                out.append(ch)
        elif ch in ("'", '"', "`"):
            quote = ch
            out.append(ch)
        elif ch == "%" and not sql.startswith("%s", i):
            out.append("%%")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class _Lease:
    """One borrowed connection; released exactly once (also if its reader is dropped unread)."""

    def __init__(self, source: "MySQLSource", connection: Any) -> None:
        self.source, self.connection, self.done = source, connection, False

    def release(self, healthy: bool) -> None:
        if not self.done:
            self.done = True
            self.source._release(self.connection, healthy)


def server_sql(tree: exp.Expression) -> str:
    """``tree`` in sqlglot's MySQL dialect, writing only what MySQL and MariaDB both run: ``x REGEXP y``
    rather than ``REGEXP_LIKE(x, y)``, which MariaDB does not have (passthrough text is regenerated).
    A tree rewrite, not a Generator subclass: compiled sqlglot (sqlglotc) refuses those."""
    def regexp(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.RegexpLike) and node.args.get("flag") is None:
            return exp.Var(this=f"{server_sql(node.this)} REGEXP {server_sql(node.expression)}")
        return node
    return tree.transform(regexp).sql("mysql", comments=False)


@dataclass(eq=False)
class MySQLSource(SQLSource):
    """A MySQL or MariaDB database reached by a ``mysql://user:password@host:port/database`` DSN."""

    dsn: str = field(default="mysql://root@127.0.0.1:3306/test", repr=False)  # may hold a password
    connect_timeout: Annotated[float, POSITIVE] = 10.0
    max_concurrent_reads: Annotated[int, AT_LEAST_ONE] = 16  # sessions one query opens at once (engine/executor._turns)
    allow_privileged_role: bool = False  # skip the privilege check (sources/privileges.py)
    reader: Annotated[str, OneOf(("auto", "pymysql"))] = "auto"  # "auto": table scans through connectorx where it reads exactly (sources/mysql_cx.py)
    type_name = "mysql"
    dialect = "mysql"
    limits = SourceLimits(max_columns=4096, max_parameters=65535, max_statement_bytes=16 << 20)  # columns, placeholders, default max_allowed_packet
    render_native = staticmethod(server_sql)  # how regenerated native SQL is written for the server
    _idle: "queue.LifoQueue[Any]" = field(default_factory=queue.LifoQueue, init=False, repr=False)
    _active: set = field(default_factory=set, init=False, repr=False)
    _cx_tags: set = field(default_factory=set, init=False, repr=False)  # tags of running connectorx reads
    # Re-entrant: a lease may be released by a finalizer that runs while this thread holds the lock.
    _pool_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _columns: dict = field(default_factory=dict, init=False, repr=False)
    _server: dict = field(default_factory=dict, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _gate: PrivilegeGate = field(default_factory=PrivilegeGate, init=False, repr=False)

    # -- identity ---------------------------------------------------------------------
    @property
    def _params(self) -> dict[str, Any]:
        try:
            return _parse_dsn(self.dsn)
        except ValueError as error:
            raise self.operational_error("bad DSN", error) from None

    @property
    def default_schema(self) -> str:  # type: ignore[override]
        return self._params["database"]

    def context(self) -> Hashable:
        p = self._params
        return ("mysql", p["host"], p["port"], p["database"], p["user"])

    def describe_source(self) -> str:
        p = self._params
        return f"mysql {p['user']}@{p['host']}:{p['port']}/{p['database']}"

    def secrets(self) -> tuple[str, ...]:
        try:
            password = _parse_dsn(self.dsn)["password"]
        except ValueError:
            password = unquote(urlsplit(self.dsn).password or "")
        return (password, quote(password, safe="")) if password else ()  # raw, and as connectorx's URL holds it

    # -- connections ------------------------------------------------------------------
    def _open(self, timeout: float | None = None) -> Any:
        """A new connection whose connect, handshake and reads wait at most ``timeout`` (default:
        connect_timeout; :meth:`_acquire` sets the read timeout of each lease from its deadline).
        PyMySQL's handshake read would otherwise wait for ever on a path that accepts and goes silent."""
        import pymysql

        p = self._params
        try:
            connection = pymysql.connect(
                host=p["host"], port=p["port"], user=p["user"], password=p["password"], database=p["database"],
                connect_timeout=timeout or self.connect_timeout, read_timeout=timeout or self.connect_timeout,
                write_timeout=timeout or self.connect_timeout,
                charset="utf8mb4", autocommit=True, conv=_converters(),
            )
        except Exception as error:  # driver errors vary; all mean "cannot reach"
            raise self.operational_error("could not connect", error) from None
        for option, value in KEEPALIVE:  # PyMySQL turns SO_KEEPALIVE on; these make it notice within a minute
            if hasattr(socket, option) and connection._sock is not None and connection._sock.family != socket.AF_UNIX:
                try:
                    connection._sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
                except OSError:
                    pass
        return connection

    def _connect(self) -> Any:
        connection = self._open()
        try:
            with connection.cursor() as cursor:
                if "collation" not in self._server:
                    cursor.execute("SELECT COLLATION_NAME FROM information_schema.COLLATIONS")
                    known = {r[0] for r in cursor.fetchall()}
                    self._server["collation"] = next((c for c in CONNECTION_COLLATIONS if c in known), None)
                    cursor.execute(
                        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' "
                        "AND TABLE_NAME = 'COLLATIONS' AND COLUMN_NAME = 'PAD_ATTRIBUTE'"
                    )
                    self._server["pad_attribute"] = bool(cursor.fetchone()[0])
                self._server.setdefault("mariadb", "mariadb" in connection.get_server_info().lower())
                cursor.execute(self._session_settings())
        except Exception as error:
            connection.close()
            raise self.operational_error("could not set up the session", error) from None
        if not self.allow_privileged_role:
            try:
                self._gate.check(lambda: self._privilege_verdict(connection))
            except BaseException:
                self._discard(connection)
                raise
        return connection

    def _session_settings(self) -> str:
        """One SET pinning everything that changes how the server reads fedq's SQL (module docstring)."""
        collation = self._server["collation"]
        read_only = "tx_read_only" if self._server["mariadb"] else "transaction_read_only"
        return (f"SET NAMES utf8mb4{f' COLLATE {collation}' if collation else ''}, time_zone = '+00:00', "
                f"sql_mode = '{SQL_MODE}', autocommit = 1, {read_only} = 1")

    def _privilege_verdict(self, connection: Any) -> OperationalError | None:
        """None if the account only reads, else the refusal (sources/privileges.py)."""
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return [tuple(_text(v) for v in row) for row in cursor.fetchall()]

        try:
            account, findings = mysql_findings(fetch)
        except Exception as error:
            raise self.operational_error("could not check the account's privileges", error) from None
        return privileged_role_error(self.name, self.type_name, f"account {account}", findings) if findings else None

    def _acquire(self, deadline_seconds: float | None = None) -> _Lease:
        """A pooled or new session in a read-only transaction, whose reads (and, on MySQL, SELECTs) are
        bounded by the caller's deadline. Starting the transaction proves a pooled connection alive."""
        while True:
            try:
                connection, pooled = self._idle.get_nowait(), True
            except queue.Empty:
                connection, pooled = self._connect(), False
            try:
                connection._read_timeout = KILL_TIMEOUT  # a silent pooled connection does not hang here
                with connection.cursor() as cursor:
                    cursor.execute(START_READ_ONLY)
                break
            except Exception as error:
                self._discard(connection)
                if not pooled:
                    raise self.operational_error("could not start a read-only transaction", error) from None
        with self._pool_lock:
            self._active.add(connection)
        lease = _Lease(self, connection)
        connection._read_timeout = None if deadline_seconds is None else deadline_seconds + READ_TIMEOUT_GRACE
        if not self._server.get("mariadb"):  # MySQL: the session's max_execution_time, reset to 0 without a deadline
            wanted = 0 if deadline_seconds is None else max(1, math.ceil((deadline_seconds + STATEMENT_TIMEOUT_GRACE) * 1000))
            current = getattr(connection, "_fedq_max_execution_time", 0)
            close_enough = wanted and current and wanted <= current <= wanted + 1000  # at most 1 s longer: kept
            if current != wanted and not close_enough:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET SESSION max_execution_time = {wanted}")
                except Exception as error:
                    lease.release(healthy=False)
                    raise self.operational_error("query failed", error) from None
                connection._fedq_max_execution_time = wanted
        return lease

    def _release(self, connection: Any, healthy: bool) -> None:
        """A healthy session is reset (its transaction ends) and pinned again before it is pooled; a
        failure there, or any other session, is closed."""
        with self._pool_lock:
            self._active.discard(connection)
        if healthy and not self._closed:
            try:
                self._reset(connection)
            except Exception:
                healthy = False
        if healthy and not self._closed:
            self._idle.put(connection)
        else:
            self._discard(connection)

    def _reset(self, connection: Any) -> None:
        """COM_RESET_CONNECTION, then fedq's session settings (two round trips)."""
        connection._read_timeout = KILL_TIMEOUT
        connection._execute_command(COM_RESET_CONNECTION, b"")
        connection._read_ok_packet()
        connection._fedq_max_execution_time = None  # back to the server's default
        with connection.cursor() as cursor:
            cursor.execute(self._session_settings())

    @staticmethod
    def _discard(connection: Any) -> None:
        try:
            connection._force_close() if hasattr(connection, "_force_close") else connection.close()
        except Exception:
            pass

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        lease = self._acquire()
        try:
            with lease.connection.cursor() as cursor:
                cursor.execute(sql, params or None)
                rows = list(cursor.fetchall())
        except Exception as error:
            lease.release(healthy=False)
            raise self.operational_error("metadata query failed", error) from None
        lease.release(healthy=True)
        return rows

    # -- metadata ---------------------------------------------------------------------
    def list_tables(self) -> list[TableName]:
        schema = self.default_schema
        rows = self._rows(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME",
            (schema,),
        )
        return [TableName(schema, r[0]) for r in rows]

    def _describe(self, table: TableName) -> list[_Column]:
        if not self._server:
            self._acquire().release(healthy=True)  # learns the server's collation metadata
        pad = "k.PAD_ATTRIBUTE" if self._server.get("pad_attribute") else "NULL"
        rows = self._rows(
            "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, "
            f"c.CHARACTER_SET_NAME, c.COLLATION_NAME, {pad} "
            "FROM information_schema.COLUMNS c "
            "LEFT JOIN information_schema.COLLATIONS k ON k.COLLATION_NAME = c.COLLATION_NAME "
            "WHERE c.TABLE_SCHEMA = %s AND c.TABLE_NAME = %s ORDER BY c.ORDINAL_POSITION",
            (table.schema, table.name),
        )
        columns = []
        for name, data_type, column_type, precision, scale, charset, collation, pad_attribute in rows:
            dtype, kind = mysql_to_arrow(_text(data_type), _text(column_type), precision, scale)
            if kind is None and pa.types.is_string(dtype):
                code_point = collation_is_code_point(_text(collation), _text(charset), _text(pad_attribute))
                enum_like = _text(data_type).lower() in ("enum", "set")  # ENUM sorts by index
                kind = SAFE if code_point and not enum_like else TEXT_COLLATED
            columns.append(_Column(_text(name), dtype, kind or SAFE, _text(data_type).lower()))
        with self._pool_lock:
            self._columns[table] = columns
        return columns

    def _column_kinds(self, table: TableName) -> dict[str, str]:
        columns = self._columns.get(table)
        if columns is None:
            columns = self._describe(table)
        return {c.name: c.kind for c in columns}

    def table_schema(self, table: TableName) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.dtype) for c in self._describe(table)])

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        """``information_schema.TABLES.TABLE_ROWS`` (an estimate for InnoDB); ``exact`` counts the rows."""
        if exact:
            quoted = ".".join(exp.to_identifier(p, quoted=True).sql("mysql") for p in (table.schema, table.name))
            return int(self._rows(f"SELECT COUNT(*) FROM {quoted}")[0][0])
        rows = self._rows("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                          (table.schema, table.name))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def statistics(self, table: TableName, exact: bool = False) -> Any:
        """Rows from :meth:`row_count`; distinct counts of columns that lead an index
        (``information_schema.STATISTICS.CARDINALITY``, kept by MariaDB and MySQL alike)."""
        from fedq.catalog.statistics import ColumnStatistics, TableStatistics

        rows = self.row_count(table, exact)
        found = self._rows(
            "SELECT COLUMN_NAME, MAX(CARDINALITY) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s AND SEQ_IN_INDEX = 1 AND CARDINALITY IS NOT NULL GROUP BY COLUMN_NAME",
            (table.schema, table.name))
        columns = {_text(name): ColumnStatistics(distinct=int(cardinality)) for name, cardinality in found}
        return TableStatistics(rows=rows, columns=columns, exact=exact)

    def unsafe_columns(self, table: TableName) -> frozenset[str]:
        """Text with a case-insensitive or PAD SPACE collation, unsigned integers, opaque types."""
        return frozenset(name for name, kind in self._column_kinds(table).items() if kind != SAFE)

    # -- pushdown ---------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        return self._classify(term, self._column_kinds(table))

    def _classify(self, node: exp.Expression, kinds: dict[str, str]) -> Pushdown:
        touched = {kinds.get(c.name, SAFE) for c in node.find_all(exp.Column)} - {SAFE}
        if not touched:
            return Pushdown.UNSUPPORTED if why_not_pushable(node, self.dialect) else Pushdown.EXACT
        if isinstance(node, exp.Paren):
            return self._classify(node.this, kinds)
        if isinstance(node, (exp.And, exp.Or)):
            verdicts = {self._classify(node.this, kinds), self._classify(node.expression, kinds)}
            if Pushdown.UNSUPPORTED in verdicts:
                return Pushdown.UNSUPPORTED
            return Pushdown.INEXACT if Pushdown.INEXACT in verdicts else Pushdown.EXACT
        if touched == {UNSIGNED} and not any(node.find_all(*ARITHMETIC)):
            return Pushdown.UNSUPPORTED if why_not_pushable(node, self.dialect) else Pushdown.EXACT
        if touched == {TEXT_COLLATED} and _collated_equality(node, kinds) and not why_not_pushable(node, self.dialect):
            return Pushdown.INEXACT  # the collation's = holds for every exactly-equal pair: a superset
        return Pushdown.UNSUPPORTED

    def placeholder(self, index: int) -> exp.Expression:
        return exp.var("%s")

    def render(self, tree: exp.Expression, params: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """Remote SQL and bind values: float outputs widened to DOUBLE, binds typed as :func:`bind` says."""
        from fedq.engine import sqlgen

        tree = tree.copy()
        caps = CAPABILITIES[self.dialect]
        if caps.text_order_collation:
            sqlgen._apply_collation(tree, caps.text_order_collation)
        if caps.like_escape is not None:
            sqlgen._apply_like_escape(tree, caps.like_escape)
        _widen_float_outputs(tree)
        _derive_limited_in_subqueries(tree)
        # %s markers are positional, so values must follow the order the rendered text shows them,
        # which neither breadth- nor depth-first tree order guarantees: render a unique token per
        # placeholder, then read the order off the text.
        nonce = secrets.token_hex(4)
        typed: dict[str, Any] = {}
        for index, placeholder in enumerate(list(tree.find_all(exp.Placeholder))):
            value, cast = bind(params[placeholder.name], sqlgen.compared_type(placeholder))
            token = f"fedq_bind_{nonce}_{index}"
            typed[token] = value
            marker = exp.var(token)
            sqlgen.replace_in_place(placeholder, exp.cast(marker, cast) if cast is not None else marker)  # O(1), not O(list)
        sql = tree.sql(dialect=self.dialect, identify=True, copy=False)
        if not typed:
            return sql, ()
        pattern = re.compile(rf"fedq_bind_{nonce}_\d+")
        values = tuple(typed[m.group(0)] for m in pattern.finditer(sql))
        return pattern.sub("%s", sql), values

    def render_scan(self, request: ScanRequest) -> tuple[str, tuple[Any, ...]]:
        from fedq.engine.sqlgen import remote_table

        projections: list[exp.Expression] = []
        for name in request.columns:
            column = exp.column(name, quoted=True)
            if pa.types.is_float32(request.schema.field(name).type):  # the text protocol rounds FLOAT to 6 digits
                column = exp.alias_(exp.cast(column, "DOUBLE"), name, quoted=True)
            projections.append(column)
        if not projections:
            projections = [exp.alias_(exp.Literal.number(1), "__fedq_one")]
        select = exp.select(*projections).from_(remote_table(request.table.schema, request.table.name))
        if request.filters:
            select = select.where(exp.and_(*[f.copy() for f in request.filters]))
        return self.render(select, request.params)

    # -- execution --------------------------------------------------------------------
    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        schema = request.schema if request.columns else pa.schema([pa.field("__fedq_one", pa.int64())])
        sql = self._cx_scan_sql(request)
        if sql is not None:
            return self._cx_stream(sql, stats, schema)
        sql, values = self.render_scan(request)
        return self._stream(sql, values, stats, schema)

    def _cx_scan_sql(self, request: ScanRequest) -> str | None:
        """The scan's SQL for connectorx, or None when it goes through PyMySQL: ``reader = "pymysql"``,
        no connectorx, bind values, a column type connectorx cannot read exactly, or a view or table
        whose size is unknown or above mysql_cx.MAX_TABLE_BYTES (its result is held whole)."""
        if self.reader != "auto" or request.params or not mysql_cx.available():
            return None
        columns = {c.name: c for c in self._columns.get(request.table) or self._describe(request.table)}
        if any(columns[name].data_type not in mysql_cx.READABLE for name in request.columns):
            return None
        size = self._rows("SELECT DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                          "AND TABLE_NAME = %s AND TABLE_TYPE = 'BASE TABLE'", (request.table.schema, request.table.name))
        if not size or size[0][0] is None or int(size[0][0]) > mysql_cx.MAX_TABLE_BYTES:
            return None
        from fedq.engine.sqlgen import remote_table

        projections = [mysql_cx.projection(name, columns[name].data_type) for name in request.columns]
        select = exp.select(*(projections or [exp.alias_(exp.Literal.number(1), "__fedq_one")]))
        select = select.from_(remote_table(request.table.schema, request.table.name))
        if request.filters:
            select = select.where(exp.and_(*[f.copy() for f in request.filters]))
        sql, values = self.render(select, request.params)
        return None if values else sql

    def _cx_stream(self, sql: str, stats: FetchStats, schema: pa.Schema) -> pa.RecordBatchReader:
        """A reader whose first batch runs the connectorx read (in the consumer's thread, GIL released)."""
        self.record(sql)
        return pa.RecordBatchReader.from_batches(schema, self._cx_batches(sql, stats, schema))

    def _cx_batches(self, sql: str, stats: FetchStats, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        started = time.perf_counter()
        if not self._server:
            self._acquire().release(healthy=True)  # the privilege check and the server's collation
        deadline = stats.remaining()
        setup = self._session_settings()
        if deadline is not None:
            timeout = deadline + STATEMENT_TIMEOUT_GRACE
            setup += (f", max_statement_time = {timeout:.3f}" if self._server.get("mariadb")
                      else f", max_execution_time = {max(1, math.ceil(timeout * 1000))}")
        tag = mysql_cx.new_tag()
        with self._pool_lock:
            self._cx_tags.add(tag)
        timer = None
        if deadline is not None:  # the server stops the statement; this is the backstop
            timer = threading.Timer(deadline + READ_TIMEOUT_GRACE, self._kill, args=([], [tag]))
            timer.daemon = True
            timer.start()
        try:
            table = mysql_cx.conform(mysql_cx.read(mysql_cx.url(self._params), sql, tag, [setup]), schema)
        except mysql_cx.ReadError as error:
            raise self.operational_error("query failed", error) from None
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise self.operational_error("a value does not match its declared type", error) from None
        finally:
            if timer is not None:
                timer.cancel()
            with self._pool_lock:
                self._cx_tags.discard(tag)
        stats.seconds += time.perf_counter() - started
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            stats.rows += batch.num_rows
            stats.bytes += batch.nbytes
            yield batch

    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """Run a pushed query; column types come from the result's column definitions."""
        return self._stream(sql, params, stats, None)

    def _stream(
        self, sql: str, params: tuple[Any, ...], stats: FetchStats, schema: pa.Schema | None
    ) -> pa.RecordBatchReader:
        import pymysql.cursors

        self.record(sql)
        started = time.perf_counter()
        deadline = stats.remaining()
        lease = self._acquire(deadline)
        cursor = lease.connection.cursor(pymysql.cursors.SSCursor)
        if deadline is not None and self._server.get("mariadb"):  # the deadline travels with the statement
            sql = f"SET STATEMENT max_statement_time = {deadline + STATEMENT_TIMEOUT_GRACE:.3f} FOR {sql}"
        try:
            if params:
                cursor.execute(escape_percent(sql), tuple(params))
            else:
                cursor.execute(sql, None)  # no %-formatting: a literal '%' stays as written
            fields = cursor._result.fields if cursor._result is not None else []
        except Exception as error:
            lease.release(healthy=False)
            raise self.operational_error("query failed", error) from None
        if schema is None:
            schema = pa.schema([pa.field(f.name, _result_type(f)) for f in fields])
        elif len(fields) != len(schema):
            lease.release(healthy=False)
            raise OperationalError(f"source '{self.name}' ({self.type_name}): expected {len(schema)} columns, got {len(fields)}")
        batches = self._batches(lease, cursor, schema, stats, started)
        weakref.finalize(batches, _drop_unread, cursor, lease)  # a reader dropped before its first batch
        return pa.RecordBatchReader.from_batches(schema, batches)

    def _batches(
        self, lease: _Lease, cursor: Any, schema: pa.Schema, stats: FetchStats, started: float
    ) -> Iterator[pa.RecordBatch]:
        finished = False
        try:
            while True:
                try:
                    rows = cursor.fetchmany(BATCH_ROWS)
                except Exception as error:
                    raise self.operational_error("reading results failed", error) from None
                if not rows:
                    finished = True
                    break
                columns = list(zip(*rows))
                try:
                    arrays = [build_array(list(v), f.type) for v, f in zip(columns, schema)]
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError) as error:
                    raise self.operational_error("a value does not match its declared type", error) from None
                batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                stats.rows += batch.num_rows
                stats.bytes += batch.nbytes
                yield batch
        finally:
            stats.seconds += time.perf_counter() - started
            if finished:
                try:
                    cursor.close()
                except Exception:
                    finished = False
            else:
                _abandon(cursor)
            # A result not read to its end cannot be drained cheaply: drop the connection instead.
            lease.release(healthy=finished)

    def cancel(self) -> None:
        """KILL QUERY every running statement, from a fresh connection opened in its own thread
        (bounded by KILL_TIMEOUT: a blackholed path must not hold up the caller)."""
        with self._pool_lock:
            active, tags = list(self._active), list(self._cx_tags)
        if active or tags:
            threading.Thread(target=self._kill, args=(active, tags), name=f"fedq-kill-{self.name}", daemon=True).start()

    def _kill(self, active: list[Any], tags: list[str]) -> None:
        """KILL QUERY the PyMySQL sessions, and the connectorx reads found by their tags in PROCESSLIST
        (looked for until KILL_TIMEOUT: connectorx may still be connecting)."""
        try:
            killer = self._open(timeout=KILL_TIMEOUT)
        except OperationalError:
            return
        try:
            with killer.cursor() as cursor:
                ids = [int(connection.thread_id()) for connection in active]
                waiting, until = set(tags), time.monotonic() + KILL_TIMEOUT
                while waiting and time.monotonic() < until:
                    for tag in list(waiting):
                        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                                       "AND INFO LIKE %s", (f"%/* {tag} */%",))
                        found = [int(r[0]) for r in cursor.fetchall()]
                        with self._pool_lock:
                            running = tag in self._cx_tags
                        if found or not running:
                            ids += found
                            waiting.discard(tag)
                    if waiting:
                        time.sleep(0.05)
                for thread_id in ids:
                    try:
                        cursor.execute(f"KILL QUERY {thread_id}")
                    except Exception:
                        pass
        except Exception:
            pass
        finally:
            killer.close()

    def close(self) -> None:
        """Close every session, leased ones too: a stream dropped unread gives its lease back only
        when the garbage collector finds it, and until then its read-only transaction would hold
        its tables' metadata locks (an ALTER or DROP at the source waits)."""
        self._closed = True
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                break
            self._discard(connection)
        with self._pool_lock:
            leased, self._active = list(self._active), set()
        for connection in leased:
            self._discard(connection)


def _drop_unread(cursor: Any, lease: _Lease) -> None:
    """A result nobody read: forget it (so the cursor's own cleanup does not read from the closed
    connection later, raising inside the garbage collector) and close its connection."""
    if not lease.done:
        _abandon(cursor)
        lease.release(healthy=False)


def _abandon(cursor: Any) -> None:
    """Forget an unbuffered result without reading the rest of it (its connection is closed next)."""
    result = getattr(cursor, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    cursor._result = None
    if cursor.connection is not None:
        cursor.connection._result = None


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def _collated_equality(node: exp.Expression, kinds: dict[str, str]) -> bool:
    """``col = 'x'``, ``'x' = col`` or ``col IN ('x', ...)`` with text literals or bind markers."""
    def value(v: exp.Expression) -> bool:
        return (isinstance(v, exp.Literal) and v.is_string) or isinstance(v, (exp.Placeholder, exp.Null))

    def collated(c: exp.Expression) -> bool:
        return isinstance(c, exp.Column) and kinds.get(c.name) == TEXT_COLLATED

    if isinstance(node, exp.EQ):
        return (collated(node.this) and value(node.expression)) or (collated(node.expression) and value(node.this))
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
        return collated(node.this) and bool(node.expressions) and all(value(v) for v in node.expressions)
    return False


def _derive_limited_in_subqueries(tree: exp.Expression) -> None:
    """``x IN (SELECT ... LIMIT n)`` as ``x IN (SELECT * FROM (SELECT ... LIMIT n) AS t)``: same rows,
    and MariaDB/MySQL reject a LIMIT directly inside an IN subquery (error 1235)."""
    for index, node in enumerate(list(tree.find_all(exp.In))):
        query = node.args.get("query")
        inner = query.this if isinstance(query, exp.Subquery) else query
        if isinstance(inner, (exp.Select, exp.SetOperation)) and inner.args.get("limit") is not None:
            derived = exp.Subquery(this=inner.copy(), alias=exp.TableAlias(this=exp.to_identifier(f"__fedq_in{index}")))
            node.set("query", exp.Subquery(this=exp.select("*").from_(derived)))


def _widen_float_outputs(tree: exp.Expression) -> None:
    """Wrap FLOAT-typed output columns in CAST(... AS DOUBLE): the text protocol prints FLOAT with 6 digits."""
    selects = [tree]
    while selects and isinstance(selects[0], exp.SetOperation):
        node = selects.pop(0)
        selects += [node.this, node.expression]
    for select in selects:
        if not isinstance(select, exp.Select):
            continue
        for projection in select.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if inner.type is not None and inner.type.is_type(exp.DataType.Type.FLOAT):
                widened = exp.cast(inner.copy(), "DOUBLE")
                if isinstance(projection, exp.Alias):
                    inner.replace(widened)
                else:
                    projection.replace(exp.alias_(widened, projection.alias_or_name, quoted=True))
