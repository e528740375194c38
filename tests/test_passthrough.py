"""query('source', 'native SQL'): a read-only native query as a table."""
from __future__ import annotations

import sqlite3

import pytest

import fedq


@pytest.fixture
def con(tmp_path, pg_dsn):
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, "Bob")])
    connection = fedq.connect()
    connection.attach("pg", "postgres", dsn=pg_dsn)
    connection.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
    yield connection
    connection.close()


def test_native_postgres_sql_joins_with_another_source(con):
    native = "SELECT g AS id, g * 10 AS score FROM generate_series(1, 3) AS g"  # a PostgreSQL-only function
    rows = con.execute(f"SELECT c.name, q.score FROM query('pg', '{native}') AS q "
                       "JOIN crm.customers c ON c.id = q.id ORDER BY 1").fetchall()
    assert rows == [("Ann", 10), ("Bob", 20)]
    assert con.source("pg").statements[-1] == native


def test_native_sqlite_sql(con):
    assert con.execute("SELECT * FROM query('crm', 'SELECT upper(name) AS n FROM customers WHERE id = 2')").fetchall() == [("BOB",)]


@pytest.mark.parametrize("native", ["DELETE FROM customers", "SELECT 1; DROP TABLE customers", "UPDATE customers SET id = 3"])
def test_anything_but_one_select_is_refused_before_reaching_the_source(con, native):
    with pytest.raises(fedq.NotSupportedError, match="runs only one read-only SELECT"):
        con.execute(f"SELECT * FROM query('crm', '{native}')")
    assert con.source("crm").statements == []


def test_query_needs_a_sql_source_and_string_arguments(con, tmp_path):
    con.attach("lake", "files", url=str(tmp_path))
    with pytest.raises(fedq.ProgrammingError, match="does not run SQL"):
        con.execute("SELECT * FROM query('lake', 'SELECT 1')")
    with pytest.raises(fedq.ProgrammingError, match="unknown source 'nope'"):
        con.execute("SELECT * FROM query('nope', 'SELECT 1')")
