"""``fedq serve``: fedq behind the PostgreSQL wire protocol, for psql, DBeaver and any PostgreSQL driver.

One thread per client (``socketserver.ThreadingTCPServer``), each with its own ``fedq.connect()``,
so a slow federated query never blocks another client. A client that disconnects, or sends a
CancelRequest, cancels its running query, remote statements included (``cursor.cancel()``).

Passwords come from the catalog's ``[server]`` section and are checked with SCRAM-SHA-256; the
server keeps only SCRAM verifiers. With no users configured it accepts password-less connections
from the loopback only, and refuses to listen anywhere else.

Protocol: startup (SSL and GSSAPI encryption requests are declined), simple query (several statements
per message), extended query (Parse/Bind/Describe/Execute/Close/Sync/Flush, text and simple binary
formats), ErrorResponse with SQLSTATE, CancelRequest, Terminate. Statements are sorted by
:func:`fedq.pg_catalog.classify`: SET/SHOW/BEGIN… are answered by the session, catalog queries by
:class:`fedq.pg_catalog.CatalogEngine`, everything else by fedq.
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
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

import fedq
from fedq import pgwire
from fedq.errors import (
    DataError, Error, IntegrityError, NotSupportedError, OperationalError, ProgrammingError, redact,
)
from fedq.pg_catalog import CatalogEngine, Settings, classify, split_statements

log = logging.getLogger("fedq.server")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5433
WATCH_INTERVAL = 0.2  # seconds between checks that a client with a running query is still there


# -- errors ----------------------------------------------------------------------------------------
def sqlstate(error: BaseException) -> str:
    """The SQLSTATE a PostgreSQL client gets for a fedq error."""
    text = str(error).lower()
    if isinstance(error, OperationalError):
        return "57014" if "cancel" in text or "deadline" in text or "timeout" in text else "08006"
    if isinstance(error, NotSupportedError):
        return "0A000"
    if isinstance(error, DataError):
        return "22000"
    if isinstance(error, IntegrityError):
        return "23000"
    if isinstance(error, ProgrammingError):
        if "syntax error" in text or "cannot read sql" in text:
            return "42601"
        if "unrecognized configuration parameter" in text:
            return "42704"
        if "column" in text and ("does not exist" in text or "unknown" in text or "not found" in text):
            return "42703"
        if "does not exist" in text or "unknown source" in text or "unknown table" in text:
            return "42P01"
        if "parameter" in text:
            return "08P01"
        return "42000"
    return "XX000"


class ClientError(Exception):
    """An error answered to the client with this SQLSTATE; ``fatal`` ends the connection."""

    def __init__(self, sqlstate: str, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.sqlstate, self.fatal = sqlstate, fatal


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Result:
    """A statement's answer: a command tag, and rows for queries (an Arrow stream)."""

    tag: str
    reader: pa.RecordBatchReader | None = None
    on_close: Callable[[], None] | None = None
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
        self.connection = fedq.connect(server.catalog_path, timeout=server.timeout)
        self.settings = Settings(user, database, {"application_name": application})
        self.cursor: fedq.Cursor | None = None  # the running statement's
        self.socket: socket.socket | None = None
        self._catalog: CatalogEngine | None = None
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.in_transaction = False
        self.running = threading.Event()

    @property
    def catalog(self) -> CatalogEngine:
        if self._catalog is None:
            self._catalog = CatalogEngine(self.connection, self.settings, self.process_id)
        return self._catalog

    def cancel(self) -> None:
        cursor = self.cursor
        if cursor is not None and self.running.is_set():
            cursor.cancel()

    def close(self) -> None:
        self.cancel()
        for portal in self.portals.values():
            if portal.result is not None:
                portal.result.close()
        if self._catalog is not None:
            self._catalog.close()
        self.connection.close()

    def execute(self, sql: str, params: list[Any] | None = None) -> Result:
        """Run one statement; errors are fedq errors (or ClientError)."""
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
            return Result("COMMIT" if kind == "commit" else "ROLLBACK")
        if kind == "noop":
            return Result(" ".join(sql.split()[:2]).upper() if sql.split()[0].upper() == "DISCARD" else sql.split()[0].upper())
        if kind == "catalog":
            return _table_result(self.catalog.execute(sql, params))
        sql = split_dotted_schemas(sql)
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
        return Result("SELECT", cursor.fetch_record_batch(), on_close=lambda: self.finish(cursor))

    def finish(self, cursor: "fedq.Cursor") -> None:
        if self.cursor is cursor:
            self.running.clear()
            self.cursor = None
        cursor.close()


class Handler(socketserver.StreamRequestHandler):
    """Speaks the protocol with one client."""

    server: "FedqServer"
    session: Session | None = None

    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out: list[bytes] = []
        self.buffered = 0
        try:
            startup = self.startup()
            if startup is None:
                return
            self.session = Session(self.server, *startup)
            self.session.socket = self.request
            self.server.sessions[self.session.process_id] = self.session
            log.info("session %d: %s connected from %s", self.session.process_id, startup[0], self.client_address[0])
            self.send_welcome()
            self.loop()
        except ClientError as error:
            self.write(pgwire.error_response(error.sqlstate, str(error), "FATAL"))
            self.flush(quiet=True)
        except (EOFError, ConnectionError, OSError):
            pass
        except pgwire.ProtocolError as error:
            self.write(pgwire.error_response("08P01", str(error), "FATAL"))
            self.flush(quiet=True)
        except Exception as error:  # never let one client's surprise take the server down
            log.error("session ended by an internal error: %s: %s", type(error).__name__, self.redact(str(error)))
        finally:
            if self.session is not None:
                try:
                    self.session.close()
                finally:  # only now: shutdown waits for this, so that no source connection outlives the server
                    self.server.sessions.pop(self.session.process_id, None)
                log.info("session %d: disconnected", self.session.process_id)

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
        return redact(text, list(self.server.passwords) + (self.session.connection._secrets() if self.session else []))

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
            code, body = pgwire.read_startup(self.rfile)
            if code in (pgwire.SSL_REQUEST, pgwire.GSSENC_REQUEST):
                self.request.sendall(b"N")
                continue
            if code == pgwire.CANCEL_REQUEST:
                process_id, secret = pgwire.Reader(body).int32(), pgwire.Reader(body[4:]).int32() & 0xFFFFFFFF
                session = self.server.sessions.get(process_id)
                if session is not None and session.secret == secret:
                    log.info("session %d: cancel request", process_id)
                    session.cancel()
                return None
            if code != pgwire.PROTOCOL_3:
                raise ClientError("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}", fatal=True)
            params = pgwire.startup_parameters(body)
            user = params.get("user", "")
            self.authenticate(user)
            return user, params.get("database", user), params.get("application_name", "")

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
        kind, body = pgwire.read_message(self.rfile)
        reader = pgwire.Reader(body)
        if kind != b"p" or reader.cstring() != exchange.MECHANISM:
            raise ClientError("28000", "SCRAM-SHA-256 authentication expected", fatal=True)
        length = reader.int32()
        server_first = exchange.first(reader.bytes(length).decode())
        self.write(pgwire.authentication(11, server_first.encode()))
        self.flush()
        kind, body = pgwire.read_message(self.rfile)
        server_final = exchange.final(body.decode()) if kind == b"p" else None
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
        while True:
            kind, body = pgwire.read_message(self.rfile)
            if kind == b"X":
                return
            if kind == b"Q":
                self.simple_query(body[:-1].decode())
                continue
            if kind == b"S":
                failed = False
                self.ready()
                continue
            if kind == b"H":
                self.flush()
                continue
            if failed:
                continue
            try:
                {b"P": self.parse, b"B": self.bind, b"D": self.describe, b"E": self.execute_portal,
                 b"C": self.close_object}[kind](pgwire.Reader(body))
            except KeyError:
                raise pgwire.ProtocolError(f"unknown message type {kind!r}") from None
            except (ConnectionError, EOFError):
                raise
            except Exception as error:
                self.send_error(error)
                failed = True

    def simple_query(self, sql: str) -> None:
        statements = split_statements(sql)
        if not statements:
            self.write(pgwire.EMPTY_QUERY)
        for statement in statements:
            try:
                result = self.run(statement, None)
                try:
                    if result.reader is not None:
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
        self.write(pgwire.command_complete(f"SELECT {result.sent}" if result.tag.startswith("SELECT") else result.tag))
        return False

    def watching(self) -> "_Watch":
        return _Watch(self.request, self.session)

    # -- extended query ---------------------------------------------------------------------------
    def parse(self, message: pgwire.Reader) -> None:
        name, sql = message.cstring(), message.cstring()
        oids = [message.int32() for _ in range(message.int16())]
        self.session.statements[name] = Prepared(sql, oids)
        self.write(pgwire.PARSE_COMPLETE)

    def bind(self, message: pgwire.Reader) -> None:
        portal, name = message.cstring(), message.cstring()
        statement = self.session.statements.get(name)
        if statement is None:
            raise ClientError("26000", f'prepared statement "{name}" does not exist')
        formats = [message.int16() for _ in range(message.int16())]
        values = []
        for i in range(message.int16()):
            length = message.int32()
            values.append(None if length < 0 else message.bytes(length))
        fmt = (lambda i: formats[i]) if len(formats) > 1 else (lambda i: formats[0] if formats else 0)
        oids = statement.param_oids + [0] * (len(values) - len(statement.param_oids))
        try:
            params = [pgwire.decode_parameter(v, oids[i], fmt(i)) for i, v in enumerate(values)]
        except (ValueError, ArithmeticError, struct.error) as error:
            raise ClientError("22P02", f"invalid parameter value: {error}") from None
        result_formats = [message.int16() for _ in range(message.int16())]
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
        kind, name = message.bytes(1), message.cstring()
        if kind == b"S":
            statement = self.session.statements.get(name)
            if statement is None:
                raise ClientError("26000", f'prepared statement "{name}" does not exist')
            count = max(len(statement.param_oids), _count_parameters(statement.sql))
            oids = [(statement.param_oids[i] if i < len(statement.param_oids) else 0) or 25 for i in range(count)]
            self.write(pgwire.parameter_description(oids))
            self.describe_rows(Portal(statement, [None] * count, []), close=True)
            return
        portal = self.session.portals.get(name)
        if portal is None:
            raise ClientError("34000", f'portal "{name}" does not exist')
        self.describe_rows(portal, close=False)

    def describe_rows(self, portal: Portal, close: bool) -> None:
        """RowDescription (or NoData). Describing a portal starts it: its Execute follows."""
        if classify(portal.statement.sql) in ("fedq", "catalog", "show"):
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
        kind, name = message.bytes(1), message.cstring()
        if kind == b"S":
            self.session.statements.pop(name, None)
        else:
            portal = self.session.portals.pop(name, None)
            if portal is not None and portal.result is not None:
                portal.result.close()
        self.write(pgwire.CLOSE_COMPLETE)


def split_dotted_schemas(sql: str) -> str:
    """``"pg.sales".orders`` (a namespace as psql's \\dt shows it) as fedq's ``pg.sales.orders``."""
    if '"' not in sql:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return sql
    changed = False
    for table in tree.find_all(exp.Table):
        if "." in table.db and not table.catalog:
            source, schema = table.db.split(".", 1)
            table.set("catalog", exp.to_identifier(source))
            table.set("db", exp.to_identifier(schema))
            changed = True
    return tree.sql("duckdb") if changed else sql


def _markers(sql: str) -> list[tuple[int, int, int]]:
    """(start, end, number) of each ``$n`` parameter marker."""
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except SqlglotError:
        return []
    return [(mark.start, number.end, int(number.text)) for mark, number in zip(tokens, tokens[1:])
            if mark.token_type == TokenType.PARAMETER and number.token_type == TokenType.NUMBER
            and number.start == mark.end + 1 and number.text.isdigit()]


def _count_parameters(sql: str) -> int:
    return max((n for _, _, n in _markers(sql)), default=0)


def qmark(sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    """PostgreSQL's ``$n`` markers as fedq's ``?`` (qmark), with the values in marker order."""
    pieces, values, position = [], [], 0
    for start, end, number in _markers(sql):
        if not 1 <= number <= len(params):
            raise ClientError("08P01", f"there is no parameter ${number} ({len(params)} bound)")
        cast_follows = sql[end + 1:].lstrip().startswith("::")
        pieces += [sql[position:start], "(?)" if cast_follows else "?"]  # fedq cannot parse ?::type yet
        values.append(params[number - 1])
        position = end + 1
    pieces.append(sql[position:])
    return "".join(pieces), values


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
        while not self.done.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], WATCH_INTERVAL)
                if readable:
                    peek = self.sock.recv(1, socket.MSG_PEEK)
                    if peek in (b"", b"X"):
                        raise ConnectionResetError
                    self.done.wait(WATCH_INTERVAL)  # the client sent its next message: fine, keep watching
            except (OSError, ValueError):
                if not self.done.is_set():
                    log.info("session %d: client went away; cancelling its query", self.session.process_id)
                    self.session.cancel()
                return


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


# -- the server ---------------------------------------------------------------------------------------
class FedqServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, catalog_path: str | None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 users: dict[str, str] | None = None, timeout: float | None = None) -> None:
        if not users and not _is_loopback(host):
            raise ProgrammingError(f"refusing to listen on {host} without users: add a [server] users table "
                                   "(user = \"${ENV_VAR}\") to the catalog file, or listen on 127.0.0.1")
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.catalog_path, self.timeout = catalog_path, timeout
        self.passwords = [p for p in (users or {}).values() if p]
        self.verifiers = {user: pgwire.ScramVerifier.from_password(str(password)) for user, password in (users or {}).items()}
        self.sessions: dict[int, Session] = {}
        if catalog_path is not None:
            fedq.connect(catalog_path).close()  # a broken catalog fails now, not at the first client
        super().__init__((host, port), Handler)

    def close_sessions(self, wait: float = 10.0) -> None:
        """Cancel every running query and disconnect every client; each handler closes its own
        session (and its connections to the sources). Waits at most ``wait`` seconds."""
        import time

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

    from fedq.catalog.config import load_server_settings

    settings: dict[str, Any] = load_server_settings(catalog_path) if catalog_path else {}
    host = host or settings.get("host") or DEFAULT_HOST
    port = int(port if port is not None else settings.get("port", DEFAULT_PORT))
    users = {str(k): str(v) for k, v in (settings.get("users") or {}).items()}
    timeout = settings.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ProgrammingError(f"[server] timeout must be a positive number of seconds, not {timeout!r}")
    server = FedqServer(catalog_path, host, port, users, timeout=timeout)
    if not users:
        out(f"WARNING: no [server] users in the catalog: accepting password-less connections on {host} only")
    out(f"fedq serve: listening on {host}:{server.server_address[1]} (PostgreSQL protocol; "
        f"psql -h {host} -p {server.server_address[1]}{' -U USER' if users else ''})")

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
