"""JDBC against ``fedq serve`` (issue 16 item 3): Debian's PostgreSQL JDBC driver (package
libpostgresql-jdbc-java, .ci/run installs it) and Java run tests/jdbc/Probe.java, which uses a
PreparedStatement with setDate/setString/setInt, reads numeric and date columns, and walks
DatabaseMetaData (getTables, getColumns, getPrimaryKeys, getImportedKeys, getTypeInfo).
Without Java or the driver the test is skipped with the reason (under CI=true it fails).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from cleanup import drop_pg_schemas
from served import start_server, stop_server

psycopg = pytest.importorskip("psycopg", reason="the set-up uses psycopg 3 (pip install 'fedq[test]')")

DRIVER = Path("/usr/share/java/postgresql.jar")
PROBE = Path(__file__).resolve().parent / "jdbc" / "Probe.java"
PASSWORD = "jdbc-test-password"
SCHEMA = "fedq_jdbc"


def _require_java() -> None:
    missing = [what for what, ok in (("java", shutil.which("java")), (str(DRIVER), DRIVER.is_file())) if not ok]
    if missing:
        reason = f"JDBC test needs {' and '.join(missing)} (apt-get install default-jre-headless libpostgresql-jdbc-java)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(request, pg_dsn: str, pg_admin_dsn: str, tmp_path_factory):
    _require_java()
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    with psycopg.connect(pg_admin_dsn, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(f"CREATE TABLE {SCHEMA}.orders (id integer PRIMARY KEY, customer_id integer, amount numeric(10,2), ordered_on date)")
        con.execute(f"INSERT INTO {SCHEMA}.orders VALUES (1, 1, 10.50, '2026-01-01'), (2, 1, 20.00, '2026-01-02'), "
                    f"(3, 2, 7.25, '2026-01-03'), (4, 3, 99.99, '2026-01-04')")
    folder = tmp_path_factory.mktemp("jdbc")
    db = sqlite3.connect(folder / "crm.sqlite")
    db.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);"
                     "INSERT INTO customers VALUES (1, 'Ann', 'NL'), (2, 'Bob', 'DE'), (3, 'Cy', 'NL');")
    db.commit()
    db.close()
    catalog = folder / "catalog.toml"
    catalog.write_text(f"""
[sources.pg]
type = "postgres"
dsn = "{pg_dsn}"

[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[server]
users = {{ alice = "${{FEDQ_JDBC_TEST_PASSWORD}}" }}
""")
    process, port = start_server(catalog, env={"FEDQ_JDBC_TEST_PASSWORD": PASSWORD})
    yield port
    stop_server(process)


def test_a_jdbc_program_queries_and_reads_metadata(server: int) -> None:
    done = subprocess.run(["java", "-cp", str(DRIVER), str(PROBE), f"jdbc:postgresql://127.0.0.1:{server}/fedq",
                           "alice", PASSWORD], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "product: PostgreSQL" in lines
    assert [line for line in lines if line.startswith("row: ")] == [
        "row: 2|Ann|20.00|2026-01-02", "row: 4|Cy|99.99|2026-01-04"]
    tables = {line.removeprefix("table: ") for line in lines if line.startswith("table: ")}
    assert {"crm.customers", f"pg.{SCHEMA}.orders"} <= tables, tables
    assert [line for line in lines if line.startswith("column: ")] == [
        "column: id int8", "column: name text", "column: country text"]
    assert "primary keys: 0" in lines and "imported keys: 0" in lines  # fedq declares no keys
    assert "type info: true numeric true" in lines
    assert "error: 42P01" in lines and "after error: 3" in lines
