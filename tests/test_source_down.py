"""One source that is down must not break listings of the others (issue 14, item 6).

SHOW TABLES, the REPL's ``\\tables`` and information_schema list every source that answers and name
each one left out, with the reason, as a warning: ``Cursor.messages`` (PEP 249) for SQL, a
``WARNING:`` line on the REPL's error stream. The down sources are real: PostgreSQL and MariaDB
DSNs pointing at a closed port on 127.0.0.1, a SQLite file that vanished, a REST server that stopped.
"""
from __future__ import annotations

import io
import socket
import sqlite3
from pathlib import Path

import pytest

import fedq
from fedq.repl.runner import Runner
from rest_server import ApiServer, cursor_orders

PASSWORD = "Pw-never-shown-42"


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def federation(tmp_path: Path):
    """A reachable SQLite source ``crm`` next to three that are down: PostgreSQL and MariaDB on a closed
    port (with a password in the DSN) and a SQLite file deleted after attaching."""
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    with sqlite3.connect(tmp_path / "gone.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER)")
    con = fedq.connect()
    con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
    con.attach("pgdown", "postgres", dsn=f"postgresql://fedq_reader:{PASSWORD}@127.0.0.1:{closed_port()}/test")
    con.attach("mydown", "mysql", dsn=f"mysql://fedq_reader:{PASSWORD}@127.0.0.1:{closed_port()}/test")
    con.attach("gone", "sqlite", path=str(tmp_path / "gone.sqlite"))
    (tmp_path / "gone.sqlite").unlink()
    yield con
    con.close()


DOWN = {"pgdown": "(postgres) is left out: could not connect", "mydown": "(mysql) is left out: could not connect",
        "gone": "(sqlite) is left out: could not open"}


def assert_names_each_down_source(warnings: list[str]) -> None:
    assert len(warnings) == len(DOWN), warnings
    for name, reason in DOWN.items():
        assert any(w.startswith(f"source '{name}' {reason}") for w in warnings), (name, warnings)
    assert not any(PASSWORD in w for w in warnings)


def test_show_tables_lists_the_sources_that_answer_and_warns_about_each_down_one(federation):
    cursor = federation.cursor()
    assert cursor.execute("SHOW TABLES").fetchall() == [("crm", "main", "customers")]
    assert all(kind is fedq.Warning and isinstance(w, fedq.Warning) for kind, w in cursor.messages)
    assert_names_each_down_source([str(w) for _, w in cursor.messages])
    cursor.execute("SHOW SOURCES")
    assert cursor.messages == []  # execute() clears them, as PEP 249 says


def test_show_tables_from_a_down_source_is_an_error_naming_it(federation):
    with pytest.raises(fedq.OperationalError, match=r"source 'pgdown' \(postgres\): could not connect") as caught:
        federation.execute("SHOW TABLES FROM pgdown")
    assert PASSWORD not in str(caught.value)


def test_repl_tables_prints_the_others_and_a_warning_line_per_down_source(federation):
    out, err = io.StringIO(), io.StringIO()
    runner = Runner(federation, out=out, err=err)
    assert runner.run_script("\\tables\nSHOW TABLES;")
    assert out.getvalue().count("customers") == 2
    lines = err.getvalue().splitlines()
    assert all(line.startswith("WARNING: ") for line in lines), lines
    assert_names_each_down_source([line.removeprefix("WARNING: ") for line in lines[:3]])
    assert_names_each_down_source([line.removeprefix("WARNING: ") for line in lines[3:]])
    assert "ERROR" not in out.getvalue() + err.getvalue()


def test_information_schema_warns_about_each_source_it_leaves_out(federation):
    cursor = federation.cursor()
    rows = cursor.execute("SELECT table_catalog, table_name FROM information_schema.tables").fetchall()
    assert rows == [("crm", "customers")]
    assert_names_each_down_source([str(w) for _, w in cursor.messages])
    rows = cursor.execute("SELECT column_name FROM information_schema.columns ORDER BY ordinal_position").fetchall()
    assert rows == [("id",), ("name",)]
    assert_names_each_down_source([str(w) for _, w in cursor.messages])


def test_a_stopped_rest_server_leaves_its_columns_out_of_information_schema_with_a_warning(tmp_path):
    api = ApiServer()
    api.route("/api/orders", cursor_orders())
    table = {"path": "/orders", "records": "data.items",
             "pagination": {"style": "cursor", "param": "after", "next": "data.next"}}
    options = {"base_url": api.url + "/api", "tables": {"orders": table}, "max_requests_per_second": 0,
               "retry_base_seconds": 0.01, "max_attempts": 1}
    sql = "SELECT table_catalog, count(*) FROM information_schema.columns GROUP BY 1"
    with fedq.connect() as con:
        con.attach("shop", "rest", **options)
        up = con.cursor()
        assert up.execute(sql).fetchall() and up.messages == []  # its columns are read from the server
    api.close()
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    with fedq.connect() as con:
        con.attach("shop", "rest", **options)
        con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
        cursor = con.cursor()
        assert cursor.execute(sql).fetchall() == [("crm", 1)]
        [(kind, warning)] = cursor.messages
        assert kind is fedq.Warning
        assert str(warning).startswith("source 'shop' (rest) is left out: ") and "(table main.orders)" in str(warning)
        assert con.execute("SHOW TABLES FROM shop").fetchall() == [("shop", "main", "orders")]  # declared in the catalog
