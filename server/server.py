"""``fedq serve``: fedq behind the PostgreSQL wire protocol, for psql, DBeaver and any PostgreSQL driver.

One thread per client (``socketserver.ThreadingTCPServer``), each with its own fedq connection, opened
on the client's first statement that needs one (an idle session holds one thread and no engine), so a
slow federated query never blocks another client. A client that disconnects, or sends a CancelRequest,
cancels its running query, remote statements included (``cursor.cancel()``).

Limits (``[server]``, see :class:`ServerSettings`): a connection cap, a deadline from accept to
authenticated, an idle timeout, message size limits before and after authentication, and strict
message parsing (a malformed message is never acted on: 08P01, the connection ends). Only users listed
in ``[server] admins`` may change the catalog (ATTACH, DETACH, CREATE/DROP VIEW): see
:class:`ServedConnection`.

Passwords come from the catalog's ``[server]`` section and are checked with SCRAM-SHA-256; the
server keeps only SCRAM verifiers. With no users configured it accepts password-less connections
from the loopback only, and refuses to listen anywhere else.

Protocol: startup (SSL and GSSAPI encryption requests are declined), simple query (several statements
per message), extended query (Parse/Bind/Describe/Execute/Close/Sync/Flush, text and simple binary
formats), ErrorResponse with SQLSTATE, CancelRequest, Terminate. Statements are sorted by
:func:`fedq.server.pg_catalog.classify`: SET/SHOW/BEGIN… are answered by the session, catalog queries by
:class:`fedq.server.pg_catalog.CatalogEngine`, everything else by fedq.
"""
from __future__ import annotations

import ipaddress
import itertools
import logging
import secrets
import select
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pyarrow as pa

import fedq
from fedq.catalog.config import load_server_settings
from fedq.engine.statements import QUERY_TYPES
from fedq.errors import Error, NotSupportedError, ProgrammingError, redact
from fedq.server import pgwire
from fedq.server.copy_out import CopyOut, copy_rows, is_copy_to_stdout, parse_copy
from fedq.server.cursors import CursorError, DeclaredCursor, parse_close, parse_declare, parse_fetch
from fedq.server.permissions import ServedConnection
from fedq.server.pg_catalog import CatalogEngine, Settings, classify, parse_postgres, split_statements
from fedq.server.settings import ServerSettings
from fedq.server.sqlstate import ClientError, sqlstate
from fedq.server.statement_text import array_arguments, count_parameters, qmark, split_dotted_schemas, within_source

log = logging.getLogger("fedq.server")
WATCH_INTERVAL = 0.2  # seconds between checks that a client with a running query is still there
REFUSING = 16  # clients over max_connections answered at once (each by a short-lived thread); more are just closed
REFUSE_WAIT = 2.0  # seconds a refused client has to send its startup packet before it is closed without an answer


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Result:
    """A statement's answer: a command tag, and rows for queries (an Arrow stream)."""

    tag: str
    reader: pa.RecordBatchReader | None = None
    on_close: Callable[[], None] | None = None
    cursor: "fedq.Cursor | None" = None  # the fedq cursor that runs the query, if any
    copy: CopyOut | None = None  # COPY … TO STDOUT: the rows go out as CopyData
    notice: str | None = None
    sent: int = 0
    _rows: Iterator[list[bytes | None]] | None = None

    @property
    def columns(self) -> list[pgwire.Column]:
        return [pgwire.Column.of(f) for f in self.reader.schema] if self.reader is not None else []

    def rows(self, formats: list[int]) -> Iterator[list[bytes | None]]:
        """Encoded rows, resumable (an Execute with a row limit stops, the next one continues)."""
        if self._rows is None:
            self._rows = self._encode(formats)
        return self._rows

    def _encode(self, formats: list[int]) -> Iterator[list[bytes | None]]:
        encoders = [pgwire.encoder(c, f) for c, f in zip(self.columns, formats)]
        for batch in self.reader:
            columns = [encode(array) for encode, array in zip(encoders, batch.columns)]
            for row in zip(*columns) if columns else [[] for _ in range(batch.num_rows)]:
                yield list(row)

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()
            self.on_close = None


def _table_result(table: pa.Table, tag: str = "SELECT") -> Result:
    return Result(f"{tag} {table.num_rows}" if tag == "SELECT" else tag, table.to_reader())


@dataclass
class Prepared:
    sql: str
    param_oids: list[int]


@dataclass
class Portal:
    statement: Prepared
    params: list[Any]
    result_formats: list[int]
    result: Result | None = None


# -- one client -------------------------------------------------------------------------------------
class Session:
    """A client's state: its fedq connection, settings, prepared statements and portals."""

    ids = itertools.count(1)

    def __init__(self, server: "FedqServer", user: str, database: str, application: str) -> None:
        self.server, self.process_id, self.secret = server, next(Session.ids), secrets.randbits(32)
        self.user, self.admin = user, bool(server.settings.users) and user in server.settings.admins
        self._connection: ServedConnection | None = None
        self.settings = Settings(user, database, {"application_name": application})
        self.cursor: fedq.Cursor | None = None  # the running statement's
        self.socket: socket.socket | None = None
        self._catalog: CatalogEngine | None = None
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.cursors: dict[str, DeclaredCursor] = {}  # DECLAREd, by name
        self.in_transaction = False
        self.running = threading.Event()

    @property
    def connection(self) -> ServedConnection:
        """Opened by the first statement that needs it (SET, SHOW and BEGIN do not): an idle session
        holds no local engine, no source connections and no threads of its own."""
        if self._connection is None:
            settings = self.server.settings
            self._connection = ServedConnection(self.server.catalog_path, user=self.user, admin=self.admin,
                                                timeout=settings.timeout, users=bool(settings.users))
        return self._connection

    def secrets(self) -> list[str]:
        return self._connection._secrets() if self._connection is not None else []

    @property
    def catalog(self) -> CatalogEngine:
        if self._catalog is None:
            self._catalog = CatalogEngine(self.connection, self.settings, self.process_id)
        return self._catalog

    def release_engine(self) -> bool:
        """Close the fedq connection of an idle session that cannot have changed it (not an admin, no
        open result): the next statement opens a fresh one. True if one was closed."""
        if self._connection is None or self.admin or self.cursors or any(p.result is not None for p in self.portals.values()):
            return False
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        self._connection.close()
        self._connection = None
        return True

    def cancel(self) -> None:
        cursor = self.cursor
        if cursor is not None and self.running.is_set():
            cursor.cancel()

    def close(self) -> None:
        self.cancel()
        for portal in self.portals.values():
            if portal.result is not None:
                portal.result.close()
        self.close_cursors(everything=True)
        if self._catalog is not None:
            self._catalog.close()
        if self._connection is not None:
            self._connection.close()

    def execute(self, sql: str, params: list[Any] | None = None) -> Result:
        """Run one statement; errors are fedq errors (or ClientError)."""
        if is_copy_to_stdout(sql):
            copy = parse_copy(sql)
            result = self.execute(copy.query, params)
            if result.reader is None:
                result.close()
                raise ProgrammingError("COPY (query) TO STDOUT needs a query that returns rows (SELECT …)")
            return Result("COPY", result.reader, on_close=result.close, cursor=result.cursor, copy=copy)
        kind = classify(sql)
        if kind == "empty":
            return Result("EMPTY")
        if kind == "set":
            changed = self.settings.apply_set(sql)
            notice = None
            if changed == "timezone" and self.settings.values["timezone"].upper() not in ("UTC", "ETC/UTC", "GMT", "Z"):
                notice = "fedq computes in UTC: the TimeZone setting is kept for SHOW but does not change results"
            return Result("SET" if sql.lstrip()[:3].upper() == "SET" else "RESET", notice=notice)
        if kind == "show":
            return _table_result(self.settings.show(sql), tag="SHOW")
        if kind == "begin":
            self.in_transaction = True
            return Result("BEGIN")
        if kind in ("commit", "rollback"):
            self.in_transaction = False
            self.close_cursors(everything=False)  # a transaction's cursors end with it; WITH HOLD ones stay
            return Result("COMMIT" if kind == "commit" else "ROLLBACK")
        if kind == "declare":
            return self.declare(sql, params)
        if kind in ("fetch", "move"):
            return self.fetch(sql)
        if kind == "close":
            name = parse_close(sql)
            if name is None:
                self.close_cursors(everything=True)
                return Result("CLOSE CURSOR ALL")
            if name not in self.cursors:
                raise CursorError("34000", f'cursor "{name}" does not exist')
            self.cursors.pop(name).close()
            return Result("CLOSE CURSOR")
        if kind == "noop":
            return Result(" ".join(sql.split()[:2]).upper() if sql.split()[0].upper() == "DISCARD" else sql.split()[0].upper())
        if kind == "catalog":
            if not isinstance(parse_postgres(sql), QUERY_TYPES):
                raise NotSupportedError("fedq serve answers only queries (SELECT …) on pg_catalog; its catalog tables are read-only")
            return _table_result(self.catalog.execute(sql, params))
        sql = split_dotted_schemas(sql)
        if self.settings.database in self.connection.catalog.sources:
            sql = within_source(sql, self.settings.database, set(self.connection.catalog.sources))
        if params is not None:
            sql, params = qmark(sql, params)
        cursor = self.cursor = self.connection.cursor()
        self.running.set()
        try:
            cursor.execute(sql, params)
        except BaseException:
            self.finish(cursor)
            raise
        if cursor.description is None:
            self.finish(cursor)
            return Result("OK")
        return Result("SELECT", cursor.fetch_record_batch(), on_close=lambda: self.finish(cursor), cursor=cursor)

    # -- cursors ---------------------------------------------------------------------------------
    def declare(self, sql: str, params: list[Any] | None) -> Result:
        """``DECLARE name CURSOR FOR query``: start the query and keep its stream for FETCH."""
        declare = parse_declare(sql)
        if not declare.hold and not self.in_transaction:
            raise CursorError("25P01", "DECLARE CURSOR can only be used in transaction blocks (or declare it WITH HOLD)")
        if declare.name in self.cursors:
            raise CursorError("42P03", f'cursor "{declare.name}" already exists')
        if classify(declare.query) not in ("fedq", "catalog", "show"):
            raise CursorError("42601", "DECLARE CURSOR needs a query that returns rows (SELECT …)")
        result = self.execute(declare.query, params)
        if result.reader is None:
            result.close()
            raise CursorError("42601", "DECLARE CURSOR needs a query that returns rows (SELECT …)")
        if result.cursor is not None and self.cursor is result.cursor:
            self.running.clear()  # the query waits between FETCHes: nothing runs until the next one
            self.cursor = None
        self.cursors[declare.name] = DeclaredCursor(declare.name, result.reader, declare.hold, declare.binary,
                                                    on_close=result.close, cursor=result.cursor)
        return Result("DECLARE CURSOR")

    def fetch(self, sql: str) -> Result:
        """``FETCH``/``MOVE`` forward: the next rows of the cursor's stream, read only now."""
        verb, name, count = parse_fetch(sql)
        declared = self.cursors.get(name)
        if declared is None:
            raise CursorError("34000", f'cursor "{name}" does not exist')
        if declared.cursor is not None:  # a CancelRequest or a client gone while the rows are read cancels the query
            self.cursor = declared.cursor
            self.running.set()

        def pause() -> None:
            if self.cursor is declared.cursor:
                self.running.clear()
                self.cursor = None

        if verb == "MOVE":
            try:
                moved = sum(batch.num_rows for batch in declared.take(count))
            finally:
                pause()
            return Result(f"MOVE {moved}")
        reader = pa.RecordBatchReader.from_batches(declared.schema, declared.take(count))
        return Result("FETCH", reader, on_close=pause)

    def close_cursors(self, everything: bool) -> None:
        """Close the cursors a transaction's end closes (all of them when the session ends)."""
        for name, cursor in list(self.cursors.items()):
            if everything or not cursor.hold:
                cursor.close()
                del self.cursors[name]

    def finish(self, cursor: "fedq.Cursor") -> None:
        if self.cursor is cursor:
            self.running.clear()
            self.cursor = None
        cursor.close()


class Handler(socketserver.BaseRequestHandler):
    """Speaks the protocol with one client."""

    server: "FedqServer"
    session: Session | None = None

    def __init__(self, request: socket.socket, client_address: Any, server: "FedqServer",
                 admitted: bool = True, accepted: float | None = None) -> None:
        self.admitted, self.accepted = admitted, accepted if accepted is not None else time.monotonic()
        super().__init__(request, client_address, server)

    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out: list[bytes] = []
        self.buffered = 0
        self.stream = pgwire.SocketStream(self.request)
        limits = self.server.settings
        try:
            if not self.admitted:
                self.refuse()
                return
            self.stream.deadline = self.accepted + limits.startup_timeout
            startup = self.startup()
            if startup is None:
                return
            self.session = Session(self.server, *startup)
            self.session.socket = self.request
            self.server.sessions[self.session.process_id] = self.session
            log.info("session %d: %s connected from %s", self.session.process_id, startup[0], self.client_address[0])
            self.send_welcome()
            self.loop()
        except pgwire.Timeout:
            if self.session is None:
                self.fatal("57014", "canceling authentication due to timeout: the client did not finish its startup and "
                           f"authentication within {limits.startup_timeout:g} s ([server] startup_timeout)")
            else:
                log.info("session %d: idle for %g s; disconnecting", self.session.process_id, limits.idle_timeout)
                self.fatal("57P05", "terminating connection due to idle-session timeout: nothing received for "
                           f"{limits.idle_timeout:g} s ([server] idle_timeout)")
        except ClientError as error:
            self.fatal(error.sqlstate, str(error))
        except (EOFError, ConnectionError, OSError):
            pass
        except pgwire.ProtocolError as error:
            log.info("%s: protocol error: %s", self.client_address[0], error)
            self.fatal("08P01", str(error))
        except Exception as error:  # never let one client's surprise take the server down
            log.error("session ended by an internal error: %s: %s", type(error).__name__, self.redact(str(error)))
        finally:
            if self.session is not None:
                try:
                    self.session.close()
                finally:  # only now: shutdown waits for this, so that no source connection outlives the server
                    self.server.sessions.pop(self.session.process_id, None)
                log.info("session %d: disconnected", self.session.process_id)

    def fatal(self, sqlstate: str, text: str) -> None:
        """A FATAL ErrorResponse, sent without waiting long for a client that does not read."""
        self.write(pgwire.error_response(sqlstate, text, "FATAL"))
        self.request.settimeout(1.0)
        self.flush(quiet=True)
        self._linger()

    def _linger(self) -> None:
        """Drop what the client still sends, briefly (at most 0.5 s and 1 MB): closing a socket with
        unread input resets the connection, and the client could lose the error before reading it."""
        try:
            self.request.shutdown(socket.SHUT_WR)
            deadline, received = time.monotonic() + 0.5, 0
            while received < 1 << 20 and (remaining := deadline - time.monotonic()) > 0:
                self.request.settimeout(remaining)
                chunk = self.request.recv(1 << 16)
                if not chunk:
                    return
                received += len(chunk)
        except OSError:
            pass

    def refuse(self) -> None:
        """Over max_connections: read the client's startup packet (briefly) and answer 53300, as
        PostgreSQL does; a CancelRequest is still honoured."""
        self.stream.deadline = time.monotonic() + min(REFUSE_WAIT, self.server.settings.startup_timeout)
        while True:
            code, body = pgwire.read_startup(self.stream)
            if code in (pgwire.SSL_REQUEST, pgwire.GSSENC_REQUEST):
                self.request.sendall(b"N")
                continue
            if code == pgwire.CANCEL_REQUEST:
                self.cancel_request(body)
                return
            log.warning("refusing a client from %s: %d connections open ([server] max_connections)",
                        self.client_address[0], self.server.settings.max_connections)
            self.fatal("53300", f"sorry, too many clients already: fedq serve allows "
                       f"{self.server.settings.max_connections} connections ([server] max_connections)")
            return

    # -- output -------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self.out.append(data)
        self.buffered += len(data)
        if self.buffered > 1 << 16:
            self.flush()

    def flush(self, quiet: bool = False) -> None:
        data, self.out, self.buffered = b"".join(self.out), [], 0
        try:
            self.request.sendall(data)
        except OSError:
            if not quiet:
                raise

    def redact(self, text: str) -> str:
        return redact(text, list(self.server.passwords) + (self.session.secrets() if self.session else []))

    def send_error(self, error: BaseException) -> None:
        if isinstance(error, ClientError):
            self.write(pgwire.error_response(error.sqlstate, str(error)))
            return
        if isinstance(error, Error):
            self.write(pgwire.error_response(sqlstate(error), self.redact(str(error))))
            return
        if isinstance(error, pgwire.ProtocolError):
            self.write(pgwire.error_response("0A000", str(error)))
            return
        log.error("internal error: %s: %s", type(error).__name__, self.redact(str(error)))
        self.write(pgwire.error_response("XX000", self.redact(f"internal error: {type(error).__name__}: {error}")))

    # -- startup and authentication -------------------------------------------------------------
    def startup(self) -> tuple[str, str, str] | None:
        while True:
            code, body = pgwire.read_startup(self.stream)
            if code in (pgwire.SSL_REQUEST, pgwire.GSSENC_REQUEST):
                if body:
                    raise pgwire.MalformedMessage("an encryption request with a body")
                self.request.sendall(b"N")
                continue
            if code == pgwire.CANCEL_REQUEST:
                self.cancel_request(body)
                return None
            if code != pgwire.PROTOCOL_3:
                raise ClientError("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}", fatal=True)
            params = pgwire.startup_parameters(body)
            user = params.get("user", "")
            if not user:
                raise ClientError("28000", "no user name in the startup packet", fatal=True)
            self.authenticate(user)
            return user, params.get("database", user), params.get("application_name", "")

    def cancel_request(self, body: bytes) -> None:
        message = pgwire.Reader(body, "CancelRequest")
        process_id, secret = message.int32(), message.int32() & 0xFFFFFFFF
        message.end()
        session = self.server.sessions.get(process_id)
        if session is not None and secrets.compare_digest(session.secret.to_bytes(4, "big"), secret.to_bytes(4, "big")):
            log.info("session %d: cancel request", process_id)
            session.cancel()

    def authenticate(self, user: str) -> None:
        users = self.server.verifiers
        if not users:
            if not _is_loopback(self.client_address[0]):
                raise ClientError("28000", "fedq serve without [server] users accepts only loopback clients", fatal=True)
            self.write(pgwire.authentication(0))
            return
        exchange = pgwire.ScramExchange(users.get(user))
        self.write(pgwire.authentication(10, pgwire.cstring(exchange.MECHANISM) + b"\0"))
        self.flush()
        kind, body = pgwire.read_message(self.stream, pgwire.MAX_STARTUP_MESSAGE, "before authentication")
        reader = pgwire.Reader(body, "SASLInitialResponse")
        if kind != b"p" or reader.cstring() != exchange.MECHANISM:
            raise ClientError("28000", "SCRAM-SHA-256 authentication expected", fatal=True)
        length = reader.int32()
        server_first = exchange.first(_text(reader.bytes(length), "SASLInitialResponse"))
        reader.end()
        self.write(pgwire.authentication(11, server_first.encode()))
        self.flush()
        kind, body = pgwire.read_message(self.stream, pgwire.MAX_STARTUP_MESSAGE, "before authentication")
        server_final = exchange.final(_text(body, "SASLResponse")) if kind == b"p" else None
        if server_final is None:
            log.warning("password authentication failed for user %r from %s", user, self.client_address[0])
            raise ClientError("28P01", f'password authentication failed for user "{user}"', fatal=True)
        self.write(pgwire.authentication(12, server_final.encode()))
        self.write(pgwire.authentication(0))

    def send_welcome(self) -> None:
        session = self.session
        for name, value in session.settings.reported():
            self.write(pgwire.parameter_status(name, value))
        self.write(pgwire.backend_key_data(session.process_id, session.secret))
        self.ready()

    def ready(self) -> None:
        self.write(pgwire.ready_for_query(b"T" if self.session.in_transaction else b"I"))
        self.flush()

    # -- the message loop -------------------------------------------------------------------------
    def loop(self) -> None:
        failed = False  # after an error in the extended protocol, skip to the next Sync
        limits = self.server.settings
        handlers = {b"P": self.parse, b"B": self.bind, b"D": self.describe, b"E": self.execute_portal,
                    b"C": self.close_object}
        while True:
            self.stream.deadline = time.monotonic() + limits.idle_timeout if limits.idle_timeout else None
            self.release_when_idle()
            kind, body = pgwire.read_message(self.stream, limits.max_message_size, "[server] max_message_size")
            self.stream.deadline = None
            if kind in (b"X", b"S", b"H") and body:
                raise pgwire.MalformedMessage(f"message {kind.decode()!r} has a body")
            if kind == b"X":
                return
            if kind == b"Q":
                message = pgwire.Reader(body, "Query message")
                sql = message.cstring()
                message.end()
                self.simple_query(sql)
                continue
            if kind == b"S":
                failed = False
                self.ready()
                continue
            if kind == b"H":
                self.flush()
                continue
            if kind not in handlers:
                raise pgwire.MalformedMessage(f"unknown message type {kind!r}")
            if failed:
                continue
            message = pgwire.Reader(body, f"message {kind.decode()!r}")
            try:
                handlers[kind](message)
            except (ConnectionError, EOFError, pgwire.MalformedMessage):
                raise
            except Exception as error:
                self.send_error(error)
                failed = True

    def release_when_idle(self) -> None:
        """Wait for the next message; past engine_idle_timeout, give the session's engine back first
        (its DuckDB threads and memory), so that a session that once queried and now idles costs one thread."""
        wait = self.server.settings.engine_idle_timeout
        if not wait or self.session._connection is None:
            return
        release_at = time.monotonic() + wait
        if self.stream.deadline is not None and self.stream.deadline <= release_at:
            return
        if not self.stream.wait(release_at) and self.session.release_engine():
            log.info("session %d: idle for %g s; its engine is closed until its next statement", self.session.process_id, wait)

    def simple_query(self, sql: str) -> None:
        statements = split_statements(sql)
        if not statements:
            self.write(pgwire.EMPTY_QUERY)
        for statement in statements:
            try:
                result = self.run(statement, None)
                try:
                    if result.reader is not None and result.copy is None:
                        self.write(pgwire.row_description(result.columns, [0] * len(result.columns)))
                    self.send_rows(result, [0] * len(result.columns), 0)
                finally:
                    result.close()
            except (ConnectionError, EOFError):
                raise
            except Exception as error:
                self.send_error(error)
                break
        self.ready()

    def run(self, sql: str, params: list[Any] | None) -> Result:
        """Execute, watching the socket meanwhile: a client that goes away cancels its query."""
        log.debug("session %d: %s", self.session.process_id, self.redact(sql))  # the statement log (DEBUG)
        with self.watching():
            return self.session.execute(sql, params)

    def send_rows(self, result: Result, formats: list[int], limit: int) -> bool:
        """Send DataRows (and CommandComplete unless suspended); True if the portal is suspended."""
        if result.notice:
            self.write(pgwire.notice_response(result.notice))
            result.notice = None
        if result.reader is None:
            self.write(pgwire.command_complete(result.tag) if result.tag != "EMPTY" else pgwire.EMPTY_QUERY)
            return False
        if result.copy is not None:
            self.send_copy(result)
            return False
        count = 0
        with self.watching():
            for row in result.rows(formats):
                self.write(pgwire.data_row(row))
                count += 1
                if limit and count >= limit:
                    result.sent += count
                    self.write(pgwire.PORTAL_SUSPENDED)
                    return True
        result.sent += count
        verb = result.tag.split()[0]  # SELECT and FETCH count the rows sent; other tags are as they are
        self.write(pgwire.command_complete(f"{verb} {result.sent}" if verb in ("SELECT", "FETCH") else result.tag))
        return False

    def send_copy(self, result: Result) -> None:
        """CopyOutResponse, a CopyData per row (and the format's header and trailer), CopyDone, ``COPY n``."""
        copy, count = result.copy, len(result.reader.schema)
        self.write(pgwire.message(b"H", struct.pack(f"!bh{count}h", int(copy.binary), count, *[int(copy.binary)] * count)))
        payloads = 0
        with self.watching():
            for payload in copy_rows(copy, result.reader):
                self.write(pgwire.message(b"d", payload))
                payloads += 1
        self.write(pgwire.message(b"c"))
        self.write(pgwire.command_complete(f"COPY {payloads - (1 if copy.binary else int(copy.header))}"))

    def watching(self) -> "_Watch":
        return _Watch(self.request, self.session)

    # -- extended query ---------------------------------------------------------------------------
    def parse(self, message: pgwire.Reader) -> None:
        name, sql = message.cstring(), message.cstring()
        oids = [message.int32() for _ in range(message.int16())]
        message.end()
        self.session.statements[name] = Prepared(sql, oids)
        self.write(pgwire.PARSE_COMPLETE)

    def bind(self, message: pgwire.Reader) -> None:
        portal, name = message.cstring(), message.cstring()
        formats = [message.int16() for _ in range(message.int16())]
        values = []
        for _ in range(message.int16()):
            length = message.int32()
            values.append(None if length == -1 else message.bytes(length))
        result_formats = [message.int16() for _ in range(message.int16())]
        message.end()
        statement = self.session.statements.get(name)
        if statement is None:
            raise ClientError("26000", f'prepared statement "{name}" does not exist')
        fmt = (lambda i: formats[i]) if len(formats) > 1 else (lambda i: formats[0] if formats else 0)
        oids = statement.param_oids + [0] * (len(values) - len(statement.param_oids))
        for number in array_arguments(statement.sql):  # an untyped '{…}' in = ANY($n) is an array, as PostgreSQL infers
            if number <= len(values) and oids[number - 1] in (0, 705) and fmt(number - 1) == 0 \
                    and (values[number - 1] or b"").startswith(b"{"):
                oids[number - 1] = pgwire.TYPES["_text"].oid
        try:
            params = [pgwire.decode_parameter(v, oids[i], fmt(i)) for i, v in enumerate(values)]
        except (ValueError, ArithmeticError, struct.error) as error:
            raise ClientError("22P02", f"invalid parameter value: {error}") from None
        old = self.session.portals.pop(portal, None)
        if old is not None and old.result is not None:
            old.result.close()
        self.session.portals[portal] = Portal(statement, params, result_formats)
        self.write(pgwire.BIND_COMPLETE)

    def _portal_result(self, portal: Portal) -> Result:
        if portal.result is None:
            portal.result = self.run(portal.statement.sql, portal.params or None)
        return portal.result

    def _formats(self, portal: Portal, count: int) -> list[int]:
        formats = portal.result_formats
        return formats if len(formats) == count else [formats[0] if formats else 0] * count

    def describe(self, message: pgwire.Reader) -> None:
        kind, name = _object_kind(message), message.cstring()
        message.end()
        if kind == b"S":
            statement = self.session.statements.get(name)
            if statement is None:
                raise ClientError("26000", f'prepared statement "{name}" does not exist')
            count = max(len(statement.param_oids), count_parameters(statement.sql))
            oids = [(statement.param_oids[i] if i < len(statement.param_oids) else 0) or 25 for i in range(count)]
            self.write(pgwire.parameter_description(oids))
            self.describe_rows(Portal(statement, [None] * count, []), close=True)
            return
        portal = self.session.portals.get(name)
        declared = self.session.cursors.get(name) if portal is None else None
        if declared is not None:  # a DECLAREd cursor is a portal too: psycopg learns a named cursor's columns so
            columns = [pgwire.Column.of(f) for f in declared.schema]
            self.write(pgwire.row_description(columns, [int(declared.binary)] * len(columns)))
            return
        if portal is None:
            raise ClientError("34000", f'portal "{name}" does not exist')
        self.describe_rows(portal, close=False)

    def describe_rows(self, portal: Portal, close: bool) -> None:
        """RowDescription (or NoData). Describing a portal starts it: its Execute follows."""
        kind = classify(portal.statement.sql)
        if kind == "fetch":  # the cursor's columns, without taking rows (a described statement is never executed)
            name = parse_fetch(portal.statement.sql)[1]
            declared = self.session.cursors.get(name)
            if declared is None:
                raise CursorError("34000", f'cursor "{name}" does not exist')
            columns = [pgwire.Column.of(f) for f in declared.schema]
            self.write(pgwire.row_description(columns, self._formats(portal, len(columns))))
            return
        if kind in ("fedq", "catalog", "show") and not is_copy_to_stdout(portal.statement.sql):
            result = self._portal_result(portal)
            if result.reader is not None:
                columns = result.columns
                self.write(pgwire.row_description(columns, self._formats(portal, len(columns))))
                if close:
                    result.close()
                return
        self.write(pgwire.NO_DATA)

    def execute_portal(self, message: pgwire.Reader) -> None:
        name, limit = message.cstring(), message.int32()
        message.end()
        portal = self.session.portals.get(name)
        if portal is None:
            raise ClientError("34000", f'portal "{name}" does not exist')
        result = self._portal_result(portal)
        try:
            suspended = self.send_rows(result, self._formats(portal, len(result.columns)), limit)
        except BaseException:
            result.close()
            raise
        if not suspended:
            result.close()
            portal.result = None

    def close_object(self, message: pgwire.Reader) -> None:
        kind, name = _object_kind(message), message.cstring()
        message.end()
        if kind == b"S":
            self.session.statements.pop(name, None)
        else:
            portal = self.session.portals.pop(name, None)
            if portal is not None and portal.result is not None:
                portal.result.close()
        self.write(pgwire.CLOSE_COMPLETE)



class _Watch:
    """While a statement runs, cancel it if the client disconnects (or sends Terminate)."""

    def __init__(self, sock: socket.socket, session: Session) -> None:
        self.sock, self.session, self.done = sock, session, threading.Event()

    def __enter__(self) -> "_Watch":
        self.thread = threading.Thread(target=self._watch, daemon=True, name=f"fedq-watch-{self.session.process_id}")
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()

    def _watch(self) -> None:
        poller = select.poll()  # not select(): a server with many clients has descriptors past FD_SETSIZE
        try:
            poller.register(self.sock, select.POLLIN)
        except (OSError, ValueError):
            return  # the socket is already closed: the handler is ending the session anyway
        while not self.done.is_set():
            try:
                if poller.poll(WATCH_INTERVAL * 1000):
                    peek = self.sock.recv(1, socket.MSG_PEEK)
                    if peek in (b"", b"X"):
                        raise ConnectionResetError
                    self.done.wait(WATCH_INTERVAL)  # the client sent its next message: fine, keep watching
            except (OSError, ValueError):
                if not self.done.is_set():
                    log.info("session %d: client went away; cancelling its query", self.session.process_id)
                    self.session.cancel()
                return


def _object_kind(message: pgwire.Reader) -> bytes:
    """Describe/Close name a prepared statement (S) or a portal (P)."""
    kind = message.bytes(1)
    if kind not in (b"S", b"P"):
        raise pgwire.MalformedMessage(f"{message.name}: object type {kind!r} is neither 'S' nor 'P'")
    return kind


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise pgwire.MalformedMessage(f"{what}: not UTF-8") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


# -- the server ---------------------------------------------------------------------------------------
class FedqServer(socketserver.ThreadingTCPServer):
    """Accepts clients up to ``max_connections``; each gets one thread (:class:`Handler`)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # a burst of clients waits in the kernel's queue instead of being dropped

    def __init__(self, catalog_path: str | None, settings: ServerSettings | None = None) -> None:
        settings = settings or ServerSettings()
        if not settings.users and not _is_loopback(settings.host):
            raise ProgrammingError(f"refusing to listen on {settings.host} without users: add a [server] users table "
                                   "(user = \"${ENV_VAR}\") to the catalog file, or listen on 127.0.0.1")
        self.address_family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        self.catalog_path, self.settings = catalog_path, settings
        self.passwords = [p for p in settings.users.values() if p]
        self.verifiers = {user: pgwire.ScramVerifier.from_password(password) for user, password in settings.users.items()}
        self.sessions: dict[int, Session] = {}
        self.connections = self.refusing = 0  # admitted clients, and clients being told there is no room
        self._count = threading.Lock()
        if catalog_path is not None:
            fedq.connect(catalog_path, home=False).close()  # a broken catalog fails now, not at the first client
        super().__init__((settings.host, settings.port), Handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        """Admit the client if there is room, else answer it 53300 (at most :data:`REFUSING` at a time)."""
        accepted = time.monotonic()
        with self._count:
            admitted = self.connections < self.settings.max_connections
            if admitted:
                self.connections += 1
            elif self.refusing < REFUSING:
                self.refusing += 1
            else:
                self.shutdown_request(request)
                return
        try:
            threading.Thread(target=self._serve, args=(request, client_address, admitted, accepted), daemon=True,
                             name=f"fedq-client-{client_address[1] if isinstance(client_address, tuple) else ''}").start()
        except RuntimeError:  # no thread to be had: this client is closed, the others go on
            self._release(admitted)
            self.shutdown_request(request)

    def _serve(self, request: socket.socket, client_address: Any, admitted: bool, accepted: float) -> None:
        try:
            Handler(request, client_address, self, admitted, accepted)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._release(admitted)
            self.shutdown_request(request)

    def _release(self, admitted: bool) -> None:
        with self._count:
            if admitted:
                self.connections -= 1
            else:
                self.refusing -= 1

    def close_sessions(self, wait: float = 10.0) -> None:
        """Cancel every running query and disconnect every client; each handler closes its own
        session (and its connections to the sources). Waits at most ``wait`` seconds."""
        for session in list(self.sessions.values()):
            session.cancel()
            try:
                session.socket.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        deadline = time.monotonic() + wait
        while self.sessions and time.monotonic() < deadline:
            time.sleep(0.05)


def serve(catalog_path: str | None, host: str | None = None, port: int | None = None,
          out: Callable[[str], None] = print) -> int:
    """Run ``fedq serve`` until interrupted (SIGINT/SIGTERM); returns the exit status."""
    import signal

    settings = ServerSettings.from_section(load_server_settings(catalog_path) if catalog_path else {}, host, port)
    _raise_file_limit(settings.max_connections)
    server = FedqServer(catalog_path, settings)
    host = settings.host
    if not settings.users:
        out(f"WARNING: no [server] users in the catalog: accepting password-less connections on {host} only")
    out(f"fedq serve: listening on {host}:{server.server_address[1]} (PostgreSQL protocol; "
        f"psql -h {host} -p {server.server_address[1]}{' -U USER' if settings.users else ''}; "
        f"at most {settings.max_connections} clients)")

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.close_sessions()
        out("fedq serve: stopped")
    return 0


def _raise_file_limit(clients: int) -> None:
    """Each client needs a descriptor, and its sources more: raise the soft limit toward the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = clients * 4 + 256
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform, or not allowed: the cap still holds
