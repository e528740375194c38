"""``fedq serve``: real clients (the psql binary and psycopg 3) against a real server process over
SQLite, Parquet and PostgreSQL (schema fedq_srv)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cleanup import drop_pg_schemas
from served import start_server, stop_server

psycopg = pytest.importorskip("psycopg", reason="the server tests speak to fedq serve with psycopg 3 (pip install 'fedq[test]')")

PSQL = shutil.which("psql")
PASSWORD = "s3cret-" + uuid.uuid4().hex[:8]
pytestmark = pytest.mark.timeout(60)


ROLE = "fedq_srv"  # the server reaches PostgreSQL as this role, so its sessions can be told from other fedq runs


def _pg(pg_dsn: str):
    return psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5)


def _as_role(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{ROLE}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))


@pytest.fixture(scope="module")
def catalog(request: pytest.FixtureRequest, pg_dsn: str, pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_srv"))
    folder = tmp_path_factory.mktemp("serve")
    with _pg(pg_admin_dsn) as con:
        con.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
                    f"THEN CREATE ROLE {ROLE} LOGIN; END IF; END $$")
        con.execute("DROP SCHEMA IF EXISTS fedq_srv CASCADE")
        con.execute("CREATE SCHEMA fedq_srv")
        con.execute(f"GRANT USAGE ON SCHEMA fedq_srv TO {ROLE}")
        con.execute("CREATE TABLE fedq_srv.orders (id integer PRIMARY KEY, customer_id integer NOT NULL, amount numeric(10,2))")
        con.execute("INSERT INTO fedq_srv.orders VALUES (1, 1, 10.50), (2, 1, 20.00), (3, 2, 7.25), (4, 3, 99.99)")
        for seconds in (30, 60):  # slow statements for SLOW: passthrough itself refuses pg_sleep
            con.execute(f"CREATE VIEW fedq_srv.sleep_{seconds} AS SELECT 1 AS x FROM pg_sleep({seconds})")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA fedq_srv TO {ROLE}")
    db = sqlite3.connect(folder / "crm.sqlite")
    db.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);"
                     "INSERT INTO customers VALUES (1, 'Ann', 'NL'), (2, 'Bob', 'DE'), (3, 'Cy', 'NL');")
    db.commit()
    db.close()
    (folder / "lake").mkdir()
    pq.write_table(pa.table({"order_id": pa.array([1, 2, 4], pa.int64()), "units": pa.array([2, 3, 1], pa.int32())}),
                   folder / "lake" / "sales.parquet")
    path = folder / "catalog.toml"
    path.write_text(f"""
[sources.pg]
type = "postgres"
dsn = "{_as_role(pg_admin_dsn)}"
passthrough = true

[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[sources.lake]
type = "files"
url = "lake"

[server]
users = {{ alice = "${{FEDQ_SRV_TEST_PASSWORD}}" }}
""")
    return path


@pytest.fixture(scope="module")
def server(catalog: Path):
    process, port = start_server(catalog, "-v", env={"FEDQ_SRV_TEST_PASSWORD": PASSWORD}, stdout=subprocess.PIPE)
    try:
        yield {"port": port, "process": process, "log": []}
    finally:
        stop_server(process)


def _connect(server, user: str = "alice", password: str = PASSWORD, **kwargs):
    return psycopg.connect(host="127.0.0.1", port=server["port"], user=user, password=password, dbname="fedq",
                           connect_timeout=5, autocommit=True, **kwargs)


def _psql(server, *commands: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    if PSQL is None:
        pytest.skip("the psql binary is not installed")
    args = [PSQL, "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-d", "fedq", "-X"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"},
                          capture_output=True, text=True, timeout=30)


# -- psql ---------------------------------------------------------------------------------------
def test_psql_dt_lists_every_source_table(server):
    result = _psql(server, r"\dt")
    assert result.returncode == 0, result.stderr
    rows = {tuple(part.strip() for part in line.split("|")[:3]) for line in result.stdout.splitlines() if "|" in line}
    assert {("crm", "customers", "table"), ("lake", "sales", "table"), ("pg.fedq_srv", "orders", "table")} <= rows


def test_psql_describe_table(server):
    result = _psql(server, r"\d crm.customers", r'\d "pg.fedq_srv".orders')
    assert result.returncode == 0, result.stderr
    assert 'Table "crm.customers"' in result.stdout
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "id | bigint | | |" in lines and "name | text | | |" in lines
    assert 'Table "pg.fedq_srv.orders"' in result.stdout
    assert "amount | numeric(10,2) | | |" in lines and "customer_id | integer | | |" in lines
    # the namespace as \dt shows it also works in queries
    result = _psql(server, 'SELECT count(*) AS n FROM "pg.fedq_srv".orders')
    assert result.returncode == 0 and " n \n---\n 4\n" in result.stdout, result.stderr


def test_psql_server_functions_and_settings(server):
    result = _psql(server, "SELECT version()", "SHOW server_version", "SET extra_float_digits = 3",
                   "SELECT current_schema(), current_database()")
    assert result.returncode == 0, result.stderr
    assert "PostgreSQL 15.0 (fedq" in result.stdout and "15.0" in result.stdout and "SET" in result.stdout
    assert "fedq" in result.stdout.split("current_database")[1]


def test_psql_error_is_clean_and_the_session_goes_on(server):
    result = _psql(server, "SELEC 1", "SELECT count(*) AS n FROM crm.customers")
    assert "ERROR:  syntax error" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert " n \n---\n 3\n" in result.stdout


def test_psql_wrong_password_is_refused(server):
    result = _psql(server, "SELECT 1", password="wrong")
    assert result.returncode == 2
    assert 'password authentication failed for user "alice"' in result.stderr


# -- psycopg ------------------------------------------------------------------------------------
def test_cross_source_join_with_parameters(server):
    with _connect(server) as con:
        rows = con.execute("""
            SELECT c.name, o.id, o.amount, s.units
            FROM pg.fedq_srv.orders o
            JOIN crm.customers c ON c.id = o.customer_id
            LEFT JOIN lake.sales s ON s.order_id = o.id
            WHERE c.country = %s AND o.amount > %s
            ORDER BY o.id""", ["NL", Decimal("10")]).fetchall()
    assert rows == [("Ann", 1, Decimal("10.50"), 2), ("Ann", 2, Decimal("20.00"), 3), ("Cy", 4, Decimal("99.99"), 1)]


def test_psycopg_types_and_casts(server):
    with _connect(server) as con:
        cur = con.execute("SELECT %s::int + 1 AS n, %s AS s, %s::date AS d, TRUE AS b, 1.5::double AS f, NULL AS z",
                          [41, "x", "2026-01-05"])
        assert cur.fetchall() == [(42, "x", dt.date(2026, 1, 5), True, 1.5, None)]
        assert [c.type_code for c in cur.description] == [23, 25, 1082, 16, 701, 25]
        cur = con.execute("SELECT INTERVAL '26 hours' AS i, INTERVAL '1 year 2 months' AS m, TIME '10:00:01' AS t, "
                          "TIMESTAMPTZ '2026-01-01 10:00:00+00' AS tz, {'a': 1} AS j, 'x'::BLOB AS b, [1, NULL] AS l")
        assert cur.fetchall() == [(dt.timedelta(hours=26), dt.timedelta(days=425), dt.time(10, 0, 1),
                                   dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.timezone.utc), {"a": 1}, b"x", [1, None])]
        assert [c.type_code for c in cur.description] == [1186, 1186, 1083, 1184, 114, 17, 1007]


def test_errors_carry_sqlstate_and_the_session_stays_usable(server):
    with _connect(server) as con:
        with pytest.raises(psycopg.errors.SyntaxError) as syntax:
            con.execute("SELEC 1")
        assert syntax.value.diag.sqlstate == "42601" and "Traceback" not in str(syntax.value)
        with pytest.raises(psycopg.errors.UndefinedTable, match="does not exist in source 'crm'; did you mean crm.customers"):
            con.execute("SELECT * FROM crm.customer")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            con.execute("DELETE FROM crm.customers")
        assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (3,)


def test_clients_cannot_read_the_servers_files(server):
    with _connect(server) as con:
        for sql in ("SELECT * FROM read_text('/etc/hostname')",  # fedq's engine
                    "SELECT c.relname, t.content FROM pg_catalog.pg_class c, read_text('/etc/hostname') t"):  # catalog
            with pytest.raises(psycopg.Error) as caught:
                con.execute(sql).fetchall()
            assert caught.value.sqlstate in ("0A000", "42000"), (sql, caught.value.sqlstate, str(caught.value))
        assert con.execute("SELECT 1").fetchone() == (1,)


def test_wrong_password_and_unknown_user_are_refused(server):
    for user, password in [("alice", "wrong"), ("mallory", PASSWORD)]:
        with pytest.raises(psycopg.OperationalError) as refused:
            _connect(server, user=user, password=password)
        assert "password authentication failed" in str(refused.value)
        assert password not in str(refused.value)


def test_non_autocommit_transactions_are_accepted(server):
    with psycopg.connect(host="127.0.0.1", port=server["port"], user="alice", password=PASSWORD, dbname="fedq",
                         connect_timeout=5) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
        con.commit()
        assert con.execute("SELECT name FROM crm.customers WHERE id = %s", [2]).fetchone() == ("Bob",)


SLOW = "SELECT * FROM query('pg', 'SELECT x AS {marker} FROM fedq_srv.sleep_{seconds}')"


def _remote_statements(pg_dsn: str, marker: str) -> int:
    with _pg(pg_dsn) as con:
        return con.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fedq' "
                           "AND state = 'active' AND query LIKE %s", [f"%{marker}%"]).fetchone()[0]


def _server_sessions(pg_dsn: str) -> int:
    """Sessions fedq serve holds open at PostgreSQL (the role is only used by this module's server)."""
    with _pg(pg_dsn) as con:
        return con.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fedq' AND usename = %s",
                           [ROLE]).fetchone()[0]


def _wait(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_slow_query_does_not_block_another_client_and_cancel_request_stops_it(server, pg_admin_dsn):
    marker = f"fedq_srv_{uuid.uuid4().hex[:8]}"
    slow = _connect(server)
    outcome: list[BaseException | object] = []

    def run_slow():
        try:
            outcome.append(slow.execute(SLOW.format(seconds=30, marker=marker)).fetchall())
        except BaseException as error:  # noqa: BLE001 - the cancellation is the expected outcome
            outcome.append(error)

    thread = threading.Thread(target=run_slow)
    thread.start()
    try:
        assert _wait(lambda: _remote_statements(pg_admin_dsn, marker) == 1), "the slow statement never reached PostgreSQL"
        started = time.monotonic()
        with _connect(server) as fast:
            for _ in range(3):
                assert fast.execute("SELECT count(*) FROM crm.customers c JOIN lake.sales s ON s.order_id = c.id").fetchone() == (2,)
        assert time.monotonic() - started < 10 and thread.is_alive()
        slow.cancel()  # a CancelRequest on a new connection
        thread.join(timeout=15)
        assert not thread.is_alive()
        assert isinstance(outcome[0], psycopg.errors.QueryCanceled), outcome
        assert _wait(lambda: _remote_statements(pg_admin_dsn, marker) == 0)
        assert slow.execute("SELECT 1").fetchone() == (1,)
    finally:
        slow.close()


def test_a_client_that_disconnects_cancels_its_remote_statement(server, pg_admin_dsn):
    if PSQL is None:
        pytest.skip("the psql binary is not installed")
    marker = f"fedq_srv_{uuid.uuid4().hex[:8]}"
    client = subprocess.Popen([PSQL, "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-d", "fedq", "-X",
                               "-c", SLOW.format(seconds=60, marker=marker)],
                              env={**os.environ, "PGPASSWORD": PASSWORD}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait(lambda: _remote_statements(pg_admin_dsn, marker) == 1), "the slow statement never reached PostgreSQL"
        client.kill()  # no Terminate, no CancelRequest: the socket just closes
        client.wait(timeout=5)
        assert _wait(lambda: _remote_statements(pg_admin_dsn, marker) == 0), "the remote statement outlived its client"
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=5)


# -- where it listens ------------------------------------------------------------------------------
def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6 (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_listens_on_the_loopback_only_by_default(server):
    addresses = _listening_addresses(server["port"])
    if Path("/proc/net/tcp").exists():
        assert addresses == {"0100007F"}  # 127.0.0.1, and nothing else
    address = _non_loopback_address()
    if address is not None:
        with pytest.raises(OSError):
            socket.create_connection((address, server["port"]), timeout=2).close()


def test_refuses_a_non_loopback_address_without_users(tmp_path, capsys):
    from fedq.repl.cli import main

    catalog = tmp_path / "catalog.toml"
    catalog.write_text("")
    assert main(["serve", str(catalog), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "refusing to listen on 0.0.0.0 without users" in capsys.readouterr().err


def test_shutdown_closes_every_source_session_and_logs_no_password(server, pg_admin_dsn):
    """Runs last: it stops the module's server."""
    _psql(server, "SELECT 1", password="wrong-" + PASSWORD)
    idle = _connect(server)
    assert idle.execute("SELECT count(*) FROM pg.fedq_srv.orders").fetchone() == (4,)
    assert _server_sessions(pg_admin_dsn) >= 1
    process = server["process"]
    process.terminate()
    _, log = process.communicate(timeout=20)
    idle.close()
    assert process.returncode == 0 and "fedq serve: stopped" in log, log
    assert 'password authentication failed for user \'alice\'' in log
    assert PASSWORD not in log and "Traceback" not in log
    assert _wait(lambda: _server_sessions(pg_admin_dsn) == 0), "fedq serve left sessions open at PostgreSQL"


# -- the pieces, without a server -------------------------------------------------------------------
def test_statements_are_sorted_between_session_catalog_and_fedq():
    from fedq.server.pg_catalog import classify, split_statements

    assert [classify(s) for s in ["SET extra_float_digits = 3", "SHOW server_version", "SHOW TABLES FROM crm",
                                  "BEGIN", "COMMIT", "ROLLBACK", "DISCARD ALL", "SELECT version()",
                                  "SELECT * FROM pg_catalog.pg_class", "SELECT 'crm.customers'::regclass",
                                  "SELECT * FROM crm.customers", "SELECT 1", ""]] == [
        "set", "show", "fedq", "begin", "commit", "rollback", "noop", "catalog", "catalog", "catalog", "fedq", "fedq", "empty"]
    assert split_statements("SELECT ';' AS a; SELECT 2;") == ["SELECT ';' AS a", " SELECT 2"]


def test_postgres_parameters_become_qmarks():
    from fedq.server.statement_text import qmark

    assert qmark("SELECT $2, $1, '$3', $1::int", ["a", "b"]) == ("SELECT ?, ?, '$3', (?)::int", ["b", "a", "a"])


def test_values_are_sent_in_postgres_text_format():
    from fedq.server.pgwire import text_values

    assert text_values(pa.array([True, False, None])) == [b"t", b"f", None]
    assert text_values(pa.array([1.5, float("inf"), float("nan")])) == [b"1.5", b"Infinity", b"NaN"]
    assert text_values(pa.array([dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone.utc)])) == [b"2026-01-05 10:00:00+00"]
    assert text_values(pa.array([["a", "b c", None]])) == [b'{a,"b c",NULL}']
    assert text_values(pa.array([b"\x01"], pa.binary())) == [b"\\x01"]
