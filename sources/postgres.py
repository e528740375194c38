"""PostgreSQL through ADBC's libpq driver: Arrow-native COPY-binary fetch, binds and cancel.

Sessions are read-only and run in UTC (hazard 9); every connection honours a connect timeout so
an unreachable server fails fast with an error naming the source. Every statement fedq sends runs
in its own ``BEGIN READ ONLY`` transaction (one round trip, with the statement's timeout), which
the lease's release commits; in the same round trip the release puts the session back as it was
connected (DISCARD ALL's steps, then fedq's settings), so nothing a statement does outlives it.
The source's role is checked on its first connection (sources/privileges.py).
"""
from __future__ import annotations

import math
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Annotated, Any, Hashable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from fedq.catalog import conninfo
from fedq.catalog.types import postgres_to_arrow
from fedq.engine.capabilities import why_not_pushable
from fedq.errors import OperationalError
from fedq.sources.arrow_util import conform_array, with_exact_decimals
from fedq.sources.base import FetchStats, Pushdown, ScanRequest, SourceLimits, SQLSource, TableName
from fedq.sources.pg_partitions import (default_parallel_reads, partition_count, partitioned_query, partitioned_scan,
                                        query_partitions)
from fedq.sources.privileges import PrivilegeGate, postgres_findings, privileged_role_error
from fedq.sources.settings import AT_LEAST_ONE, POSITIVE

SESSION_SETUP = (
    "SET default_transaction_read_only = on",
    "SET TimeZone = 'UTC'",
    "SET standard_conforming_strings = on",  # how the server reads fedq's own string literals
    "SET application_name = 'fedq'",
)
# DISCARD ALL's steps (DISCARD ALL itself refuses to run in a multi-statement string): the session's
# settings go back to the role's and the DSN's defaults (search_path included), then fedq's are set.
SESSION_RESET = ("CLOSE ALL", "SET SESSION AUTHORIZATION DEFAULT", "RESET ALL", "DEALLOCATE ALL", "UNLISTEN *",
                 "SELECT pg_advisory_unlock_all()", "DISCARD PLANS", "DISCARD TEMP", "DISCARD SEQUENCES")
BEGIN_READ_ONLY = "BEGIN READ ONLY"
RELEASE = "; ".join(("COMMIT", *SESSION_RESET, *SESSION_SETUP))  # one round trip
# A dead network path is noticed without a deadline too: TCP keepalives (idle 10 s, then 3 probes
# 5 s apart) and 30 s for sent data to be acknowledged. A DSN's own values win.
NETWORK_DEFAULTS = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
                    "keepalives_count": "3", "tcp_user_timeout": "30000"}
STATEMENT_TIMEOUT_GRACE = 0.25  # seconds the server-side statement_timeout adds to the query's deadline


def _with_connect_timeout(dsn: str, seconds: float) -> str:
    """``dsn`` with a connect timeout and the network defaults it does not set itself, added in the
    DSN's own syntax: URL query parameters, or libpq ``key=value`` pairs (a ValueError, naming a
    position but no text, for a malformed one)."""
    if conninfo.is_conninfo(dsn):
        return conninfo.with_defaults(dsn, {"connect_timeout": str(max(1, int(seconds))), **NETWORK_DEFAULTS})
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query.setdefault("connect_timeout", str(max(1, int(seconds))))
    for key, value in NETWORK_DEFAULTS.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))  # libpq reads no "+" as a space


@dataclass(eq=False)
class PostgresSource(SQLSource):
    """A PostgreSQL database reached by a ``postgresql://`` DSN."""

    dsn: str = field(default="", repr=False)  # may hold a password
    connect_timeout: Annotated[float, POSITIVE] = 10.0
    max_parallel_reads: Annotated[int, AT_LEAST_ONE] = field(default_factory=default_parallel_reads)  # connections a large table scan is split over (1: never)
    max_concurrent_reads: Annotated[int, AT_LEAST_ONE] = 16  # sessions one query opens at once, below max_connections (engine/executor._turns)
    parallel_read_min_pages: Annotated[int, AT_LEAST_ONE] = 1024  # 8 kB pages each partition reads at least (8 MB; benchmarks/read_table.py); smaller tables: one stream
    allow_privileged_role: bool = False  # skip the privilege check (sources/privileges.py)
    schemas: list[str] = field(default_factory=list)  # only these schemas' tables are attached (empty: every schema)
    type_name = "postgres"
    dialect = "postgres"
    limits = SourceLimits(max_columns=1664, max_parameters=65535, max_statement_bytes=(1 << 30) - 1)  # target-list entries, protocol int16 count, MaxAllocSize
    binds_arrays = True  # ADBC binds an Arrow list as one array parameter: ``col = ANY($1)``
    default_schema = "public"
    _idle: "queue.LifoQueue[Any]" = field(default_factory=queue.LifoQueue, init=False, repr=False)
    _active: set = field(default_factory=set, init=False, repr=False)
    _gate: PrivilegeGate = field(default_factory=PrivilegeGate, init=False, repr=False)

    def context(self) -> Hashable:
        return ("postgres", self.dsn)

    def describe_source(self) -> str:
        if conninfo.is_conninfo(self.dsn):
            return f"postgres {conninfo.describe(self.dsn)}"
        parts = urlsplit(self.dsn)
        return f"postgres {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    def secrets(self) -> tuple[str, ...]:
        if conninfo.is_conninfo(self.dsn):
            return conninfo.secret_values(self.dsn)
        return conninfo.url_secret_values(self.dsn)

    # -- connections ------------------------------------------------------------------
    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi as pg

        try:
            connection = pg.connect(_with_connect_timeout(self.dsn, self.connect_timeout), autocommit=True)
            with connection.cursor() as cursor:
                cursor.executescript("; ".join(SESSION_SETUP))
        except Exception as error:  # driver errors vary; all mean "cannot reach"
            raise self.operational_error("could not connect", error) from None
        if not self.allow_privileged_role:
            try:
                self._gate.check(lambda: self._privilege_verdict(connection))
            except BaseException:
                _close(connection)
                raise
        return connection

    def _privilege_verdict(self, connection: Any) -> OperationalError | None:
        """None if the role only reads, else the refusal (sources/privileges.py)."""
        def fetch(sql: str) -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()

        try:
            role, findings = postgres_findings(fetch)
        except Exception as error:
            raise self.operational_error("could not check the role's privileges", error) from None
        return privileged_role_error(self.name, self.type_name, f"role {role}", findings) if findings else None

    def _acquire(self, deadline_seconds: float | None = None, begin: str = BEGIN_READ_ONLY) -> Any:
        """A pooled or new session inside a read-only transaction (``begin``) whose ``statement_timeout``
        is the caller's deadline (none: the session's default), in one round trip."""
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        with self._lock:
            self._active.add(connection)
        try:
            with connection.cursor() as cursor:
                cursor.executescript("; ".join((begin, *_statement_timeout(deadline_seconds))))
        except Exception as error:
            self._release(connection, healthy=False)
            raise self.operational_error("query failed", error) from None
        return connection

    def _release(self, connection: Any, healthy: bool) -> None:
        """A healthy session commits its transaction and is reset before it goes back to the pool
        (a failure there closes it); any other is closed, which ends its transaction."""
        with self._lock:
            self._active.discard(connection)
        if healthy:
            try:
                with connection.cursor() as cursor:
                    cursor.executescript(RELEASE)
            except Exception:
                healthy = False
        if healthy:
            self._idle.put(connection)
        else:
            _close(connection)

    def _fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> pa.Table:
        connection = self._acquire()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters=params or None)
                table = cursor.fetch_arrow_table()
        except Exception as error:
            self._release(connection, healthy=False)
            raise self.operational_error("metadata query failed", error) from None
        self._release(connection, healthy=True)
        return table

    # -- metadata ---------------------------------------------------------------------
    def list_tables(self) -> list[TableName]:
        rows = self._fetch_all(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).to_pylist()
        return [TableName(r["table_schema"], r["table_name"]) for r in rows
                if not self.schemas or r["table_schema"] in self.schemas]

    def table_schema(self, table: TableName) -> pa.Schema:
        rows = self._fetch_all(
            "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (table.schema, table.name),
        ).to_pylist()
        return pa.schema([pa.field(r["name"], postgres_to_arrow(r["type"])) for r in rows])

    def row_count(self, table: TableName, exact: bool = False) -> int | None:
        """``pg_class.reltuples`` (maintained by ANALYZE and autovacuum, -1 when never analyzed);
        ``exact`` counts the rows."""
        if exact:
            quoted = ".".join(exp.to_identifier(p, quoted=True).sql("postgres") for p in (table.schema, table.name))
            return self._fetch_all(f"SELECT count(*) AS n FROM {quoted}").to_pylist()[0]["n"]
        rows = self._fetch_all(
            "SELECT c.reltuples::bigint AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2", (table.schema, table.name)).to_pylist()
        return rows[0]["n"] if rows and rows[0]["n"] is not None and rows[0]["n"] >= 0 else None

    def statistics(self, table: TableName, exact: bool = False) -> Any:
        """Rows from :meth:`row_count`; per column ``pg_stats``: ``n_distinct`` (negative: a fraction of
        the rows), ``null_frac``, and min/max over the histogram bounds and most common values."""
        from fedq.catalog.statistics import ColumnStatistics, TableStatistics, typed_value

        rows = self.row_count(table, exact)
        found = self._fetch_all(
            "SELECT s.attname::text AS name, s.n_distinct::float8 AS n_distinct, s.null_frac::float8 AS null_frac, "
            "s.histogram_bounds::text::text[] AS bounds, s.most_common_vals::text::text[] AS common "
            "FROM pg_stats s WHERE s.schemaname = $1 AND s.tablename = $2 ORDER BY s.inherited",
            (table.schema, table.name)).to_pylist()
        types = {f.name: f.type for f in self.table_schema(table)}
        columns: dict[str, ColumnStatistics] = {}
        for row in found:
            if row["name"] in columns or row["name"] not in types:
                continue
            distinct = row["n_distinct"]
            if distinct is not None and distinct < 0:
                distinct = -distinct * rows if rows is not None else None
            values = [typed_value(v, types[row["name"]]) for v in (row["bounds"] or []) + (row["common"] or [])]
            values = [v for v in values if v is not None]
            columns[row["name"]] = ColumnStatistics(
                distinct=None if distinct is None else max(1, round(distinct)), min=min(values, default=None),
                max=max(values, default=None), null_fraction=row["null_frac"])
        return TableStatistics(rows=rows, columns=columns, exact=exact)

    # -- pushdown ---------------------------------------------------------------------
    def classify_filter(self, term: exp.Expression, schema: pa.Schema, table: TableName) -> Pushdown:
        return Pushdown.UNSUPPORTED if why_not_pushable(term, self.dialect) else Pushdown.EXACT

    def placeholder(self, index: int) -> exp.Expression:
        return exp.var(f"${index}")

    # -- execution --------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """A row-wise read of one large table is split over several connections (pg_partitions)."""
        partitioned = partitioned_query(self, sql, params, stats, _conformer)
        return partitioned if partitioned is not None else self._stream(sql, params, stats)

    def _stream(self, sql: str, params: tuple[Any, ...], stats: FetchStats) -> pa.RecordBatchReader:
        """One statement over one connection."""
        self.record(sql)
        connection = self._acquire(stats.remaining())
        started = time.perf_counter()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, parameters=params or None)
            reader = cursor.fetch_record_batch()
        except Exception as error:
            self._release(connection, healthy=False)
            raise self.operational_error("query failed", error) from None
        schema, convert = _conformer(reader.schema)
        once = threading.Lock()

        def release(healthy: bool) -> None:
            """Give the session back exactly once: at the stream's end, or (unhealthy) when a reader
            that was never read is dropped, as the planner's LIMIT 0 probe of query() is."""
            if once.acquire(blocking=False):
                if not healthy:
                    try:
                        cursor.close()
                    except Exception:
                        pass
                self._release(connection, healthy)

        def batches():
            healthy = False
            try:
                for batch in reader:
                    out = convert(batch)
                    stats.rows += out.num_rows
                    stats.bytes += out.nbytes
                    yield out
                healthy = True
            except OperationalError:
                raise
            except Exception as error:
                raise self.operational_error("reading results failed", error) from None
            finally:
                stats.seconds += time.perf_counter() - started
                try:
                    cursor.close()
                except Exception:
                    healthy = False
                release(healthy)

        stream = batches()
        weakref.finalize(stream, release, False)
        return pa.RecordBatchReader.from_batches(schema, stream)

    def scan(self, request: ScanRequest, stats: FetchStats) -> pa.RecordBatchReader:
        """A large table is read in ctid ranges over several connections in one snapshot (pg_partitions)."""
        partitioned = partitioned_scan(self, request, stats, _conformer)
        return self._as_declared(partitioned if partitioned is not None else self._stream(*self.render_scan(request), stats),
                                 request)

    def _as_declared(self, reader: pa.RecordBatchReader, request: ScanRequest) -> pa.RecordBatchReader:
        """A scan's unconstrained ``numeric`` columns (fetched as exact text) as the decimal the catalog declares."""
        return with_exact_decimals(reader, request.schema, lambda field, error: self.operational_error(
            "a value does not match its declared type",
            ValueError(f"{request.table} column '{field.name}' as {field.type}: {error}")))

    def scan_partitions(self, request: ScanRequest) -> int:
        try:
            return partition_count(self, request.table)[0]
        except OperationalError:
            return 1

    def query_partitions(self, sql: str) -> int:
        try:
            return query_partitions(self, sql)
        except OperationalError:
            return 1

    def cancel(self) -> None:
        """Send a cancel request for every running statement, each from its own thread: libpq's
        cancel opens a new connection and waits for the server to close it, which never happens
        when the path to the server is blackholed (the statement_timeout then stops it there)."""
        with self._lock:
            active = list(self._active)
        for connection in active:
            threading.Thread(target=_cancel, args=(connection,), name=f"fedq-cancel-{self.name}", daemon=True).start()

    def close(self) -> None:
        """Close every session, leased ones too: a stream dropped unread (an error elsewhere in its
        query) gives its session back only when the garbage collector finds it, and until then its
        read-only transaction would hold its table locks (a DROP or ALTER at the source waits)."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                break
            _close(connection)
        with self._lock:
            leased, self._active = list(self._active), set()
        for connection in leased:
            _cancel(connection)
            _close(connection)


def _conformer(fetched: pa.Schema) -> tuple[pa.Schema, Any]:
    """The schema fetched batches are converted to, and the conversion of one batch."""
    schema = pa.schema([pa.field(f.name, _fetched_type(f)) for f in fetched])
    padded = [(f.metadata or {}).get(b"POSTGRESQL:type") == b"bpchar" for f in fetched]
    if not any(padded) and all(f.type.equals(t) for f, t in zip(fetched, schema.types)):
        return schema, lambda batch: batch  # every column already as planned: no per-batch rebuild

    def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = [_unpad(conform_array(a, f.type)) if pad else conform_array(a, f.type)
                  for a, f, pad in zip(batch.columns, schema, padded)]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    return schema, convert


def _statement_timeout(seconds: float | None) -> tuple[str, ...]:
    """The statement's deadline for the server (``statement_timeout``, plus a grace so the local
    deadline normally ends the query first), so it stops the statement by itself even when no cancel
    request reaches it; and as ``idle_in_transaction_session_timeout``, so a transaction whose client
    stopped answering (a stalled path: the connection cannot be closed under its reader) does not
    hold its locks past the deadline. (A statement that failed aborts its transaction, which holds
    nothing then and reverts both settings.) ``SET LOCAL`` ends with the transaction:
    a pooled session never keeps an earlier query's timeouts, and without a deadline the session's
    own defaults (DSN, role) hold."""
    if seconds is None:
        return ()
    milliseconds = max(1, math.ceil((seconds + STATEMENT_TIMEOUT_GRACE) * 1000))
    return (f"SET LOCAL statement_timeout = {milliseconds}",
            f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds}")


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:
        pass


def _cancel(connection: Any) -> None:
    try:
        connection.adbc_connection.cancel()
    except Exception:
        pass


def _unpad(array: pa.Array) -> pa.Array:
    """CHAR(n) values without their pad spaces: PostgreSQL ignores them in comparisons, so the local
    path must too (hazard 3: one trimming rule for pushed and local evaluation)."""
    return pc.utf8_rtrim(array, characters=" ")


def _fetched_type(field: pa.Field) -> pa.DataType:
    """Arrow type a fetched column is converted to: numeric(p,s) becomes decimal; an unconstrained
    numeric stays exact text (its scale is unbounded), which DuckDB casts to the type it planned;
    bpchar is trimmed later."""
    metadata = field.metadata or {}
    pg_type = metadata.get(b"POSTGRESQL:type", b"").decode()
    if pg_type == "numeric":
        typmod = int(metadata.get(b"POSTGRESQL:typmod", b"-1"))
        if typmod >= 4:
            precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
            return postgres_to_arrow(f"numeric({precision},{scale})")
        return pa.string()
    if isinstance(field.type, pa.UuidType):
        return pa.string()  # the catalog reads uuid as text: the same text PostgreSQL prints
    if isinstance(field.type, pa.BaseExtensionType):  # arrow.json (json, jsonb) is a canonical extension, not a pa.ExtensionType
        return field.type.storage_type
    return field.type
