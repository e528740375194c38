"""``fedq serve`` permissions and resource limits (issue 20, item 5), against real server processes on
127.0.0.1: psycopg 3 clients doing the real startup and SCRAM, and raw sockets for what no driver sends
(a trickled startup, a 1 GiB length claim, a Query without its NUL, malformed messages).

Two servers: ``guarded`` has users (alice, and root who is admin), a cap of CAP connections and a 2 s
startup timeout; ``loopback`` has no users (password-less, loopback only, nobody is admin), a 1 s idle
timeout and a 1 MB message limit, and its PostgreSQL source logs every statement, so that a test can
tell from PostgreSQL's own log whether a query ran.
"""
from __future__ import annotations

import glob
import os
import socket
import sqlite3
import struct
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

import fedq
from served import start_server, stop_server
from fedq.server import ServerSettings

psycopg = pytest.importorskip("psycopg", reason="the server tests speak to fedq serve with psycopg 3 (pip install 'fedq[test]')")

PASSWORD, ROOT_PASSWORD = "al-" + uuid.uuid4().hex[:10], "rt-" + uuid.uuid4().hex[:10]
IDLE_SESSIONS, CAP = 300, 305
STARTUP_TIMEOUT, IDLE_TIMEOUT, ENGINE_IDLE = 2, 1, 1
PG_SCHEMA = "fedq_srv_limits"
MARK = "fedq_lim_" + uuid.uuid4().hex[:8]
pytestmark = pytest.mark.timeout(180)


# -- servers ----------------------------------------------------------------------------------------
def _start(catalog: Path, home: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    return start_server(catalog, env={"FEDQ_HOME": str(home), **env})


def _status(process: subprocess.Popen) -> tuple[int, int]:
    """(threads, resident kB) of a server process."""
    with open(f"/proc/{process.pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-limits")
    db = sqlite3.connect(folder / "crm.sqlite")
    db.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                     "INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cy');")
    db.commit()
    db.close()
    sqlite3.connect(folder / "other.sqlite").close()
    return folder


@pytest.fixture(scope="module")
def guarded(folder: Path):
    """Users alice and root (admin); a home catalog holding one view."""
    home = folder / "home-guarded"
    home.mkdir()
    (home / "catalog.toml").write_text('[views.seeded]\nsql = "SELECT 42 AS answer"\n\n[views.seeded.columns]\nanswer = "INTEGER"\n')
    catalog = folder / "guarded.toml"
    catalog.write_text(f"""
[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[server]
users = {{ alice = "${{FEDQ_LIM_ALICE}}", root = "${{FEDQ_LIM_ROOT}}" }}
admins = ["root"]
max_connections = {CAP}
startup_timeout = {STARTUP_TIMEOUT}
idle_timeout = 0
engine_idle_timeout = {ENGINE_IDLE}
""")
    process, port = _start(catalog, home, {"FEDQ_LIM_ALICE": PASSWORD, "FEDQ_LIM_ROOT": ROOT_PASSWORD})
    try:
        yield {"process": process, "port": port, "home": home / "catalog.toml"}
    finally:
        stop_server(process)


def _pg_log_path() -> str | None:
    path = os.environ.get("FEDQ_TEST_PG_LOG")
    candidates = [path] if path else sorted(glob.glob("/var/log/postgresql/postgresql-*.log"), key=os.path.getmtime)
    return next((c for c in reversed(candidates) if c and os.access(c, os.R_OK)), None)


@pytest.fixture(scope="module")
def loopback(folder: Path, pg_dsn: str, pg_admin_dsn: str):
    """No users; idle timeout 1 s; 1 MB messages; a PostgreSQL source whose statements are all logged."""
    with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        con.execute(f"CREATE TABLE {PG_SCHEMA}.t (id integer, v text)")
        con.execute(f"INSERT INTO {PG_SCHEMA}.t VALUES (1, 'a')")
    logged = pg_dsn + ("&" if "?" in pg_dsn else "?") + "options=" + quote("-c log_statement=all")
    catalog = folder / "loopback.toml"
    catalog.write_text(f"""
[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[sources.pg]
type = "postgres"
dsn = "{logged}"

[server]
idle_timeout = {IDLE_TIMEOUT}
max_message_size = "1MB"
""")
    home = folder / "home-loopback"
    home.mkdir()
    process, port = _start(catalog, home, {})
    try:
        yield {"process": process, "port": port}
    finally:
        stop_server(process)
        with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def _connect(port: int, user: str = "alice", password: str | None = PASSWORD):
    return psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="fedq",
                           connect_timeout=5, autocommit=True)


# -- raw protocol -------------------------------------------------------------------------------------
def _packet(body: bytes) -> bytes:
    return struct.pack("!i", len(body) + 4) + body


def _startup_body(**params: str) -> bytes:
    return struct.pack("!i", 196608) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"


def _raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(5)
    return sock


def _receive(sock: socket.socket, seconds: float = 5, until: bytes = b"Z") -> list[tuple[bytes, bytes]]:
    """Backend messages until one of type ``until``, the end of the connection, or ``seconds``."""
    data, messages, deadline = b"", [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        while len(data) >= 5 and len(data) >= 1 + struct.unpack("!i", data[1:5])[0]:
            length = struct.unpack("!i", data[1:5])[0]
            messages.append((data[:1], data[5:1 + length]))
            data = data[1 + length:]
            if messages[-1][0] == until:
                return messages
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            messages.append((b"", b""))  # the server closed the connection
            return messages
        data += chunk
    return messages


def _error_fields(body: bytes) -> dict[str, str]:
    return {chunk[:1].decode(): chunk[1:].decode() for chunk in body.split(b"\0") if chunk}


def _errors(messages: list[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    return [_error_fields(body) for kind, body in messages if kind == b"E"]


def _trust_session(port: int) -> socket.socket:
    """A logged-in raw session on the password-less server (startup, AuthenticationOk … ReadyForQuery)."""
    sock = _raw(port)
    sock.sendall(_packet(_startup_body(user="raw", database="fedq")))
    assert _receive(sock)[-1][0] == b"Z"
    return sock


def _closed(sock: socket.socket, seconds: float) -> bool:
    return _receive(sock, seconds, until=b"\xff")[-1:] == [(b"", b"")]


# -- settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("section, message", [
    ({"max_conections": 5}, "unknown [server] setting 'max_conections'; did you mean 'max_connections'?"),
    ({"max_connections": 0}, "[server] max_connections must be a whole number from 1"),
    ({"max_connections": "many"}, "[server] max_connections must be a whole number"),
    ({"startup_timeout": 0}, "[server] startup_timeout must be a positive number of seconds"),
    ({"idle_timeout": -1}, "[server] idle_timeout must be a number of seconds (0: no limit)"),
    ({"max_message_size": "64 parsecs"}, "[server] max_message_size must be a size"),
    ({"max_message_size": 100}, "[server] max_message_size must be a size from 10kB"),
    ({"admins": ["root"]}, "[server] admins needs [server] users"),
    ({"users": {"alice": "x"}, "admins": ["bob"]}, "[server] admins: 'bob' is not one of the [server] users (alice)"),
    ({"users": {"alice": "x"}, "admins": "alice"}, "[server] admins must be a list of user names"),
])
def test_server_settings_are_validated(section, message):
    with pytest.raises(fedq.ProgrammingError) as refused:
        ServerSettings.from_section(section)
    assert message in str(refused.value)


def test_server_settings_defaults_and_sizes():
    defaults = ServerSettings.from_section({})
    assert (defaults.max_connections, defaults.startup_timeout, defaults.idle_timeout, defaults.max_message_size) \
        == (500, 10.0, 3600.0, 64 << 20)
    assert ServerSettings.from_section({"max_message_size": "2MB"}).max_message_size == 2 << 20
    assert "secret-pw" not in repr(ServerSettings.from_section({"users": {"alice": "secret-pw"}}))


# -- permissions --------------------------------------------------------------------------------------
def _refused_statements(folder: Path) -> list[str]:
    other = folder / "other.sqlite"
    return [
        "ATTACH '/etc' AS etc (TYPE files)",
        f"ATTACH '{other}' AS other (TYPE sqlite)",
        f"ATTACH '{other}' AS other (TYPE sqlite, PERSISTENT)",
        f"/* a comment */ aTtAcH '{other}' -- and another\n AS other (TYPE sqlite)",
        "ATTACH 'postgresql://postgres@127.0.0.1:5432/test' AS pg2 (TYPE postgres)",
        "DETACH crm",
        "detach DATABASE crm",
        "CREATE VIEW v AS SELECT 1 AS a",
        "CREATE OR REPLACE VIEW seeded AS SELECT 1 AS a",
        "CREATE TEMP VIEW v AS SELECT 1 AS a",
        "DROP VIEW seeded",
        "DROP VIEW IF EXISTS seeded",
    ]


def test_non_admins_cannot_change_the_catalog(guarded, folder):
    before = guarded["home"].read_bytes()
    with _connect(guarded["port"]) as con:
        for sql in _refused_statements(folder):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                con.execute(sql)
            message = str(refused.value)
            assert refused.value.sqlstate == "42501", (sql, message)
            assert "only [server] admins" in message and '"alice" to admins' in message, (sql, message)
        with pytest.raises(psycopg.errors.FeatureNotSupported):  # pg_catalog answers queries only
            con.execute("CREATE TABLE pg_catalog.mine (a int)")
        assert con.execute("SHOW SOURCES").fetchall()[0][0] == "crm"  # nothing was attached or detached
        assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (3,)
        assert con.execute("SELECT answer FROM seeded").fetchone() == (42,)  # the home catalog is read
        assert [row[0] for row in con.execute("SHOW VIEWS").fetchall()] == ["seeded"]  # none created or dropped
    assert guarded["home"].read_bytes() == before


def test_password_less_sessions_are_never_admins(loopback, folder):
    with _connect(loopback["port"], user="anyone", password=None) as con:
        for sql in ("ATTACH '/etc' AS etc (TYPE files)", "CREATE VIEW v AS SELECT 1 AS a", "DETACH crm"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="a server without \\[server\\] users has no admins"):
                con.execute(sql)
        assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (3,)


def test_an_admin_can_change_the_catalog(guarded, folder):
    home = guarded["home"]
    before = home.read_bytes()
    other = folder / "other.sqlite"
    try:
        with _connect(guarded["port"], "root", ROOT_PASSWORD) as con:
            con.execute(f"ATTACH '{other}' AS other (TYPE sqlite, PERSISTENT)")
            con.execute("CREATE VIEW admin_view AS SELECT name FROM crm.customers WHERE id = 2")
            written = home.read_text()
            assert "[sources.other]" in written and "[views.admin_view]" in written
            assert con.execute("SELECT name FROM admin_view").fetchone() == ("Bob",)
            con.execute("CREATE TEMP VIEW scratch AS SELECT 1 AS a")
            con.execute("DROP VIEW scratch")
            con.execute("DROP VIEW admin_view")
            con.execute("DETACH other")
        with _connect(guarded["port"]) as con:  # a non-admin session reads what the admin kept, while it is kept
            assert con.execute("SELECT answer FROM seeded").fetchone() == (42,)
        assert "admin_view" not in home.read_text() and "[sources.other]" not in home.read_text()
    finally:
        home.write_bytes(before)


def test_copy_to_a_server_file_is_for_admins_only(guarded, loopback, folder):
    """COPY … TO writes on the server's machine: refused for a user and a password-less session, done for an admin."""
    target = folder / "copied.csv"
    for port, user, password in ((guarded["port"], "alice", PASSWORD), (loopback["port"], "anyone", None)):
        with _connect(port, user, password) as con:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only \\[server\\] admins") as refused:
                con.execute(f"COPY (SELECT name FROM crm.customers) TO '{target}' (FORMAT csv)")
            assert refused.value.sqlstate == "42501" and "psql's \\o" in str(refused.value)
            assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (3,)  # the session goes on
        assert not target.exists()
    try:
        with _connect(guarded["port"], "root", ROOT_PASSWORD) as con:
            con.execute(f"COPY (SELECT name FROM crm.customers ORDER BY id) TO '{target}' (FORMAT csv)")
        assert target.read_text().splitlines() == ["name", "Ann", "Bob", "Cy"]
    finally:
        target.unlink(missing_ok=True)


# -- limits -------------------------------------------------------------------------------------------
def test_idle_sessions_do_not_starve_a_client_and_the_cap_refuses_cleanly(guarded):
    process, port = guarded["process"], guarded["port"]
    threads_before, rss_before = _status(process)
    idle = []
    try:
        for _ in range(IDLE_SESSIONS):
            idle.append(_connect(port))
        time.sleep(0.5)
        threads, rss = _status(process)
        per_thread = (threads - threads_before) / IDLE_SESSIONS
        per_kb = (rss - rss_before) / IDLE_SESSIONS
        print(f"\n{IDLE_SESSIONS} idle logged-in sessions: {per_thread:.2f} threads and {per_kb:.0f} kB each")
        assert per_thread <= 1.05, f"{threads - threads_before} threads for {IDLE_SESSIONS} idle sessions"
        assert per_kb < 512, f"{rss - rss_before} kB for {IDLE_SESSIONS} idle sessions"

        started = time.monotonic()
        with _connect(port) as con:
            assert con.execute("SELECT name FROM crm.customers WHERE id = 3").fetchone() == ("Cy",)
        assert time.monotonic() - started < 2, "a legitimate client waited more than 2 s"

        while len(idle) < CAP:
            idle.append(_connect(port))
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            _connect(port)
        sock = _raw(port)  # what the driver saw, field by field
        try:
            sock.sendall(_packet(_startup_body(user="alice", database="fedq")))
            messages = _receive(sock, until=b"\xff")
            assert [(e["S"], e["C"]) for e in _errors(messages)] == [("FATAL", "53300")]
            assert "[server] max_connections" in _errors(messages)[0]["M"] and messages[-1] == (b"", b"")
        finally:
            sock.close()
        idle.pop().close()  # a slot frees up: the next client is admitted
        deadline = time.monotonic() + 5
        while True:
            try:
                with _connect(port) as con:
                    assert con.execute("SELECT 1").fetchone() == (1,)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "a freed slot was not given to the next client"
                time.sleep(0.1)
    finally:
        for con in idle:
            con.close()
    deadline = time.monotonic() + 10
    while _status(process)[0] > threads_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _status(process)[0] <= threads_before + 2, "session threads outlived their clients"


def _threads_settle(process: subprocess.Popen, low: int, high: int, seconds: float = 10) -> int:
    deadline = time.monotonic() + seconds
    while not low <= (threads := _status(process)[0]) <= high and time.monotonic() < deadline:
        time.sleep(0.2)
    return threads


def test_an_idle_session_gives_its_engine_back_and_an_admin_keeps_its_own(guarded):
    process, port = guarded["process"], guarded["port"]
    base = _status(process)[0]
    with _connect(port) as con:
        assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (3,)
        busy = _status(process)[0]
        assert busy > base + 2, "the first query opened no engine"  # DuckDB's threads
        assert _threads_settle(process, 0, base + 1) <= base + 1, "the idle session kept its engine"
        assert con.execute("SELECT name FROM crm.customers WHERE id = 1").fetchone() == ("Ann",)  # a fresh one
    with _connect(port, "root", ROOT_PASSWORD) as con:  # an admin's session may hold state: it is kept
        con.execute("CREATE TEMP VIEW mine AS SELECT 7 AS seven")
        time.sleep(ENGINE_IDLE + 1)
        assert con.execute("SELECT seven FROM mine").fetchone() == (7,)


def test_a_slowloris_startup_is_dropped_after_the_startup_timeout(guarded):
    sock = _raw(guarded["port"])
    try:
        packet = _packet(_startup_body(user="alice", database="fedq"))
        started, sent = time.monotonic(), 0
        while time.monotonic() - started < STARTUP_TIMEOUT + 4 and sent < len(packet):
            try:
                sock.sendall(packet[sent:sent + 1])  # one byte every 0.4 s: each recv is quick, the whole is not
            except OSError:
                break
            sent += 1
            time.sleep(0.4)
            sock.setblocking(False)
            try:
                if sock.recv(65536, socket.MSG_PEEK) is not None:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                sock.settimeout(5)
        messages = _receive(sock, 3, until=b"\xff")
        elapsed = time.monotonic() - started
        assert sent < len(packet), "the slow client got to send its whole startup packet"
        assert STARTUP_TIMEOUT - 0.5 < elapsed < STARTUP_TIMEOUT + 3, elapsed
        assert [e["C"] for e in _errors(messages)] == ["57014"] and "[server] startup_timeout" in _errors(messages)[0]["M"]
        assert messages[-1] == (b"", b"")
    finally:
        sock.close()


def test_a_huge_length_claim_before_authentication_is_refused_unread(guarded):
    process, port = guarded["process"], guarded["port"]
    _, rss_before = _status(process)
    claims = []
    try:
        startup = _raw(port)  # a startup packet claiming 1 GiB
        claims.append(startup)
        startup.sendall(struct.pack("!i", 1 << 30) + b"\0" * 1000)
        assert [e["C"] for e in _errors(_receive(startup, until=b"\xff"))] == ["08P01"]
        for _ in range(3):  # a SASL response claiming 1 GiB, after AuthenticationSASL
            sock = _raw(port)
            claims.append(sock)
            sock.sendall(_packet(_startup_body(user="alice", database="fedq")))
            assert _receive(sock, until=b"R")[-1][0] == b"R"
            sock.sendall(b"p" + struct.pack("!i", 1 << 30) + b"x" * 60_000)
            messages = _receive(sock, until=b"\xff")
            errors = _errors(messages)
            assert [e["C"] for e in errors] == ["08P01"] and "over the limit of 10000 bytes" in errors[0]["M"]
            assert messages[-1] == (b"", b"")
    finally:
        for sock in claims:
            sock.close()
    _, rss_after = _status(process)
    assert rss_after - rss_before < 64 * 1024, f"the server grew by {rss_after - rss_before} kB"


def test_a_message_over_the_limit_after_authentication_ends_the_connection(loopback):
    sock = _trust_session(loopback["port"])
    try:
        sock.sendall(b"Q" + struct.pack("!i", (1 << 30) + 4) + b"SELECT 1")
        messages = _receive(sock, until=b"\xff")
        errors = _errors(messages)
        assert [e["C"] for e in errors] == ["08P01"], errors
        assert "over the limit of 1048576 bytes ([server] max_message_size)" in errors[0]["M"]
        assert messages[-1] == (b"", b"")
    finally:
        sock.close()


def test_an_idle_session_is_closed_after_the_idle_timeout(loopback):
    sock = _trust_session(loopback["port"])
    try:
        started = time.monotonic()
        messages = _receive(sock, IDLE_TIMEOUT + 4, until=b"\xff")
        assert IDLE_TIMEOUT - 0.2 < time.monotonic() - started < IDLE_TIMEOUT + 3
        assert [e["C"] for e in _errors(messages)] == ["57P05"] and "[server] idle_timeout" in _errors(messages)[0]["M"]
        assert messages[-1] == (b"", b"")
    finally:
        sock.close()
    with _connect(loopback["port"], user="anyone", password=None) as con:  # a session that keeps talking stays
        for _ in range(3):
            assert con.execute("SELECT 1").fetchone() == (1,)
            time.sleep(IDLE_TIMEOUT / 2)


def _query(sql: bytes) -> bytes:
    return b"Q" + struct.pack("!i", len(sql) + 4) + sql


def _wait_for_log(path: str, offset: int, marker: str, seconds: float = 10) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        with open(path, encoding="utf-8", errors="replace") as log:
            log.seek(offset)
            lines = [line for line in log if MARK in line]
        if any(marker in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_a_query_without_its_nul_is_a_protocol_error_and_never_runs(loopback):
    log_path = _pg_log_path()
    if log_path is None:
        pytest.skip("the PostgreSQL server log is not readable here (set FEDQ_TEST_PG_LOG)")
    offset = os.path.getsize(log_path)
    query = f"SELECT id FROM pg.{PG_SCHEMA}.t WHERE v = '{MARK}_{{}}' ".encode()
    sock = _trust_session(loopback["port"])
    try:
        sock.sendall(_query(query.replace(b"{}", b"control") + b"\0"))
        answer = _receive(sock)
        assert [kind for kind, _ in answer] == [b"T", b"C", b"Z"], answer  # the control ran (no rows match)
        sock.sendall(_query(query.replace(b"{}", b"nul")))  # the same, without its NUL
        messages = _receive(sock, until=b"\xff")
        assert [kind for kind, _ in messages] == [b"E", b""], messages  # nothing but the error, then the end
        assert _errors(messages)[0]["C"] == "08P01" and "NUL" in _errors(messages)[0]["M"]
    finally:
        sock.close()
    sock = _trust_session(loopback["port"])  # a later query, so the log has moved past the one refused
    try:
        sock.sendall(_query(query.replace(b"{}", b"after") + b"\0"))
        assert _receive(sock)[-1][0] == b"Z"
    finally:
        sock.close()
    lines = _wait_for_log(log_path, offset, f"{MARK}_after")
    assert any(f"{MARK}_control" in line for line in lines), "the PostgreSQL log did not record the control query"
    assert any(f"{MARK}_after" in line for line in lines), "the PostgreSQL log did not record the later query"
    assert not any(f"{MARK}_nul" in line for line in lines), [line for line in lines if "_nul" in line]


@pytest.mark.parametrize("name, message", [
    ("Parse without NUL", b"P" + struct.pack("!i", 4 + 9) + b"\0SELECT 1"),
    ("Bind with trailing bytes", b"B" + struct.pack("!i", 4 + 11) + b"\0\0" + struct.pack("!hhh", 0, 0, 0) + b"zzz"),
    ("Describe of a bad object type", b"D" + struct.pack("!i", 4 + 2) + b"Q\0"),
    ("Execute too short", b"E" + struct.pack("!i", 4 + 3) + b"\0\0\0"),
    ("Sync with a body", b"S" + struct.pack("!i", 4 + 1) + b"x"),
    ("an unknown message type", b"F" + struct.pack("!i", 4)),
    ("Query that is not UTF-8", _query(b"SELECT '\xff'\0")),
])
def test_malformed_messages_are_protocol_errors(loopback, name, message):
    sock = _trust_session(loopback["port"])
    try:
        sock.sendall(message + b"S" + struct.pack("!i", 4))
        messages = _receive(sock, until=b"\xff")
        errors = _errors(messages)
        assert [(e["S"], e["C"]) for e in errors] == [("FATAL", "08P01")], (name, messages)
        assert messages[-1] == (b"", b"") and not any(kind in (b"1", b"2", b"T", b"D") for kind, _ in messages), name
    finally:
        sock.close()


@pytest.mark.parametrize("body, code", [
    (struct.pack("!i", 196608) + b"user\0raw\0database\0fedq\0", "08P01"),  # no final NUL
    (struct.pack("!i", 196608) + b"user\0raw\0database\0\0", "08P01"),  # a name without its value
    (struct.pack("!i", 196608) + b"user\0a\0user\0b\0\0", "08P01"),  # a repeated name
    (struct.pack("!i", 196608) + b"database\0fedq\0\0", "28000"),  # no user
    (struct.pack("!i", 80877102) + b"\0\0\0\1", "08P01"),  # a CancelRequest too short
])
def test_malformed_startup_packets_are_refused(loopback, body, code):
    sock = _raw(loopback["port"])
    try:
        sock.sendall(_packet(body))
        messages = _receive(sock, until=b"\xff")
        assert [e["C"] for e in _errors(messages)] == [code], messages
        assert not any(kind == b"R" for kind, _ in messages)
    finally:
        sock.close()
