"""Errors point at the problem, name what was meant, refuse writes early and never leak secrets."""
from __future__ import annotations

import re
import sqlite3
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

import fedq

PASSWORD = "s3cretPW"
UNREACHABLE_DSN = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def crm_path(tmp_path):
    path = tmp_path / "crm.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "ann"), (2, "bob")])
    db.execute("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount REAL)")
    db.commit()
    db.close()
    return path


@pytest.fixture
def con(crm_path):
    connection = fedq.connect()
    connection.attach("crm", "sqlite", path=str(crm_path))
    yield connection
    connection.close()


def caret_position(message: str) -> tuple[int, int, str, int]:
    """(line, column) from 'at line L, column N', the echoed SQL line and the caret's 1-based column."""
    match = re.search(r"line (\d+), column (\d+)", message)
    assert match, message
    lines = message.splitlines()
    caret_line = lines[-1]
    echoed = lines[-2]
    assert caret_line.strip() == "^", message
    assert echoed.startswith("  ") and caret_line.startswith("  "), message
    return int(match.group(1)), int(match.group(2)), echoed[2:], caret_line.index("^") - 2 + 1


# -- syntax errors -----------------------------------------------------------------------------
def test_syntax_error_is_a_programming_error_with_line_and_column(con):
    with pytest.raises(fedq.ProgrammingError, match=r"line 1, column \d+"):
        con.execute("SELECT id FROM crm.customers WHERE id = = 1")


def test_syntax_error_caret_sits_under_the_reported_column(con):
    sql = "SELECT id FROM crm.customers WHERE id = = 1"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    line, column, echoed, caret = caret_position(str(info.value))
    assert line == 1
    assert echoed == sql
    assert caret == column
    assert column == sql.index("= =") + 3  # the second '=', 1-based


def test_syntax_error_on_a_later_line_reports_and_echoes_that_line(con):
    sql = "SELECT id,\n  name\nFROM crm.customers WHERE id = = 1"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    line, column, echoed, caret = caret_position(str(info.value))
    assert line == 3
    assert echoed == "FROM crm.customers WHERE id = = 1"
    assert caret == column == echoed.index("= =") + 3


def test_syntax_error_caret_points_into_the_offending_word(con):
    sql = "SELECT (1 + 2 FROM crm.customers"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    _, column, echoed, caret = caret_position(str(info.value))
    start = sql.index("FROM") + 1
    assert caret == column
    assert start <= column < start + len("FROM")
    assert echoed == sql


def test_syntax_error_after_explain_echoes_the_line_as_written(con):
    sql = "EXPLAIN SELECT * FRM x y z"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    _, column, echoed, caret = caret_position(str(info.value))
    assert caret == column
    assert echoed == sql


def test_unterminated_string_literal_is_a_programming_error(con):
    with pytest.raises(fedq.ProgrammingError):
        con.execute("SELECT 'abc")


# -- unknown names ----------------------------------------------------------------------------
def test_unknown_table_suggests_the_closest_table(con):
    with pytest.raises(fedq.ProgrammingError, match=r"did you mean crm\.customers"):
        con.execute("SELECT * FROM crm.customer")


def test_unknown_table_names_the_table_and_source(con):
    with pytest.raises(fedq.ProgrammingError, match=r"crm\.custmers.*source 'crm'"):
        con.execute("SELECT * FROM crm.custmers")


def test_unknown_source_suggests_the_closest_source(con):
    with pytest.raises(fedq.ProgrammingError, match=r"unknown source 'crn'.*did you mean crm"):
        con.execute("SELECT * FROM crn.customers")


def test_unknown_column_names_the_column(con):
    with pytest.raises(fedq.ProgrammingError, match="nme"):
        con.execute("SELECT nme FROM crm.customers")


def test_table_without_source_prefix_asks_for_the_source(con):
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute("SELECT * FROM customers")
    message = str(info.value)
    assert "needs its source" in message
    assert "source.customers" in message
    assert "crm" in message


def test_cte_name_is_not_mistaken_for_a_table_without_source(con):
    rows = con.execute("WITH c AS (SELECT id FROM crm.customers) SELECT count(*) FROM c").fetchall()
    assert rows == [(2,)]


def test_four_part_table_name_gets_the_naming_rule(con):
    with pytest.raises(fedq.ProgrammingError, match=r"source\.table or source\.schema\.table"):
        con.execute("SELECT * FROM crm.main.customers.x")


# -- writes are refused before any source is touched ------------------------------------------
WRITES = {
    "insert": "INSERT INTO crm.customers VALUES (3, 'cid')",
    "insert-select": "INSERT INTO crm.customers SELECT * FROM crm.customers",
    "update": "UPDATE crm.customers SET name = 'x'",
    "delete": "DELETE FROM crm.customers WHERE id = 1",
    "create-table": "CREATE TABLE crm.t2 (a INTEGER)",
    "create-table-as": "CREATE TABLE crm.t3 AS SELECT * FROM crm.customers",
    "drop-table": "DROP TABLE crm.customers",
    "copy-from": "COPY crm.customers FROM '/dev/null'",
    "alter-table": "ALTER TABLE crm.customers ADD COLUMN z INTEGER",
    "truncate": "TRUNCATE crm.customers",
}


@pytest.mark.parametrize("sql", WRITES.values(), ids=WRITES.keys())
def test_write_is_refused_with_not_supported_error(con, sql):
    with pytest.raises(fedq.NotSupportedError, match="only reads"):
        con.execute(sql)


@pytest.mark.parametrize("sql", WRITES.values(), ids=WRITES.keys())
def test_refused_write_leaves_the_sqlite_file_untouched(con, crm_path, sql):
    before = crm_path.read_bytes()
    with pytest.raises(fedq.NotSupportedError):
        con.execute(sql)
    assert crm_path.read_bytes() == before
    assert con.source("crm").statements == []


def test_copy_to_a_file_reads_the_source_and_writes_only_the_file(con, crm_path, tmp_path):
    """COPY … TO is an export (engine/export.py), not a write to a source: the source sees a SELECT only."""
    before, target = crm_path.read_bytes(), tmp_path / "out.csv"
    assert con.execute(f"COPY (SELECT * FROM crm.customers) TO '{target}'").fetchall()[0][0] > 0
    assert target.read_text().splitlines()[0].startswith("id")
    assert crm_path.read_bytes() == before
    assert all(s.lstrip().upper().startswith("SELECT") for s in con.source("crm").statements)


def test_write_to_unreachable_source_is_refused_before_connecting():
    with fedq.connect() as connection:
        connection.attach("pg", "postgres", dsn=UNREACHABLE_DSN)
        with pytest.raises(fedq.NotSupportedError):
            connection.execute("DELETE FROM pg.orders")
        assert connection.source("pg").statements == []


# -- unreachable sources ------------------------------------------------------------------------
@pytest.fixture
def unreachable():
    connection = fedq.connect()
    connection.attach("pg", "postgres", dsn=UNREACHABLE_DSN)
    yield connection
    connection.close()


def test_unreachable_postgres_is_an_operational_error_naming_the_source(unreachable):
    with pytest.raises(fedq.OperationalError, match="source 'pg'"):
        unreachable.execute("SELECT * FROM pg.orders")


def test_unreachable_postgres_fails_within_a_few_seconds(unreachable):
    started = time.monotonic()
    with pytest.raises(fedq.OperationalError):
        unreachable.execute("SELECT * FROM pg.orders")
    assert time.monotonic() - started < 5


def test_unreachable_postgres_error_hides_the_password(unreachable):
    with pytest.raises(fedq.OperationalError) as info:
        unreachable.execute("SELECT * FROM pg.orders")
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value)


def test_explain_against_unreachable_postgres_hides_the_password(unreachable):
    with pytest.raises(fedq.OperationalError, match="source 'pg'") as info:
        unreachable.execute("EXPLAIN SELECT * FROM pg.orders")
    assert PASSWORD not in str(info.value)


def test_attach_statement_error_hides_the_password(unreachable):
    with pytest.raises(fedq.ProgrammingError) as info:
        unreachable.execute(f"ATTACH '{UNREACHABLE_DSN}' AS pg (TYPE postgres)")  # the name is taken
    assert PASSWORD not in str(info.value)


def test_syntax_error_echoing_a_dsn_hides_the_password(unreachable):
    with pytest.raises(fedq.ProgrammingError) as info:
        unreachable.execute(f"ATTACH '{UNREACHABLE_DSN}' AS pg2 (TYPE postgres")
    assert PASSWORD not in str(info.value)


def _with_password(dsn: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{password}@{host}"))


@pytest.fixture
def pg_table(pg_dsn, pg_admin_dsn):
    """A small table public.fedq_err_t on the test server, dropped afterwards."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(pg_admin_dsn, autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS public.fedq_err_t")
        cursor.execute("CREATE TABLE public.fedq_err_t (id integer)")
        cursor.execute("INSERT INTO public.fedq_err_t VALUES (1), (2)")
    yield pg_dsn
    with pg.connect(pg_admin_dsn, autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS public.fedq_err_t")


@pytest.mark.postgres
def test_explain_output_hides_the_password(pg_table):
    with fedq.connect() as connection:
        connection.attach("pg", "postgres", dsn=_with_password(pg_table, PASSWORD))  # trust auth ignores it
        cursor = connection.execute("EXPLAIN SELECT id FROM pg.fedq_err_t WHERE id = 1")
        rows = cursor.fetchall()
        assert any(row[1] == "pg" for row in rows)
        assert PASSWORD not in repr(rows)
        assert PASSWORD not in repr(cursor.description)


@pytest.mark.postgres
def test_explain_analyze_output_hides_the_password(pg_table):
    with fedq.connect() as connection:
        connection.attach("pg", "postgres", dsn=_with_password(pg_table, PASSWORD))
        rows = connection.execute("EXPLAIN ANALYZE SELECT id FROM pg.fedq_err_t").fetchall()
        assert any(row[1] == "pg" for row in rows)
        assert PASSWORD not in repr(rows)


def test_missing_sqlite_file_is_an_operational_error_naming_the_source(tmp_path):
    with fedq.connect() as connection:
        connection.attach("gone", "sqlite", path=str(tmp_path / "missing.sqlite"))
        with pytest.raises(fedq.OperationalError, match="source 'gone'.*missing.sqlite"):
            connection.execute("SELECT * FROM gone.t")


# -- odd inputs -----------------------------------------------------------------------------------
ODD_INPUTS = {
    "none": None,
    "int": 123,
    "bytes": b"SELECT 1",
    "empty": "",
    "whitespace": "   \n ",
    "only-a-comment": "-- nothing here",
    "only-a-block-comment": "/* nothing */",
    "only-semicolons": ";;",
    "two-statements": "SELECT 1; SELECT 2",
    "explain-alone": "EXPLAIN",
    "explain-a-write": "EXPLAIN DELETE FROM crm.customers",
}


@pytest.mark.parametrize("sql", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_odd_input_raises_a_programming_error(con, sql):
    with pytest.raises(fedq.ProgrammingError):
        con.execute(sql)


def test_two_statements_are_refused_with_a_clear_message(con):
    with pytest.raises(fedq.ProgrammingError, match="one statement at a time"):
        con.execute("SELECT 1; SELECT 2")


def test_trailing_semicolon_is_accepted(con):
    assert con.execute("SELECT 1;").fetchall() == [(1,)]


def test_comment_after_the_final_semicolon_is_not_a_second_statement(con):
    assert con.execute("SELECT 1; -- done").fetchall() == [(1,)]


def test_failed_execute_leaves_the_cursor_usable(con):
    cursor = con.cursor()
    with pytest.raises(fedq.ProgrammingError):
        cursor.execute("SELECT * FROM crm.nope")
    assert cursor.description is None
    assert cursor.execute("SELECT count(*) FROM crm.customers").fetchone() == (2,)


# -- binder errors show the user's SQL (issue 14, item 7) -------------------------------------------------
INTERNAL = ('DESCRIBE', '"crm"."main"', "LINE 1", "Candidate bindings", ": :")


def _caret_under(message: str, sql: str, word: str, occurrence: int = 0) -> None:
    """The message echoes the user's line holding ``word`` with the caret under its first letter."""
    line_number, column, echoed, caret = caret_position(message)
    lines = sql.splitlines()
    start = -1
    for _ in range(occurrence + 1):
        start = sql.index(word, start + 1)
    assert lines[line_number - 1] == echoed
    assert line_number == sql[:start].count("\n") + 1
    assert column == caret == start - (sql.rfind("\n", 0, start) + 1) + 1
    assert not any(piece in message for piece in INTERNAL), message


@pytest.mark.parametrize("sql,word,closest", [
    ("SELECT nme FROM crm.customers", "nme", '"name"'),
    ("select id\nfrom crm.customers\nwhere nam = 'ann'", "nam", '"name"'),
    ("SELECT c.nme FROM crm.customers c", "c.nme", '"name"'),
    ("SELECT c.id FROM crm.customers c JOIN crm.orders o ON o.customer = c.id", "o.customer", '"customer_id"'),
    ("EXPLAIN SELECT count(*) FROM crm.customers GROUP BY nmae", "nmae", '"name"'),
    ("SELECT id FROM (SELECT id, name AS label FROM crm.customers) s WHERE labl = 'x'", "labl", '"label"'),
])
def test_unknown_column_shows_the_users_sql_position_and_closest_names(con, sql, word, closest):
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    message = str(info.value)
    column = word.split(".")[-1]
    assert message.startswith(("unknown column", "table")), message
    assert f'"{column}"' in message.splitlines()[0]
    assert f"(closest names: {closest}" in message
    _caret_under(message, sql, word)


def test_unknown_column_after_the_same_word_as_a_literal_points_at_the_column(con):
    sql = "SELECT 'nme' AS x, nme FROM crm.customers"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    _caret_under(str(info.value), sql, "nme", occurrence=1)


def test_unknown_column_in_plan_shows_the_users_sql(con):
    sql = "SELECT nme FROM crm.customers"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.plan(sql)
    _caret_under(str(info.value), sql, "nme")


def test_unknown_function_keeps_duckdbs_suggestion_without_internal_sql(con):
    sql = "SELECT lenght(name) FROM crm.customers"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    message = str(info.value)
    assert "lenght" in message and "did you mean" in message.lower()
    _caret_under(message, sql, "lenght")


def test_binder_message_from_duckdb_has_no_doubled_colon():
    """DuckDB 2.0 writes 'Candidate bindings: : "name"' for a qualified column; fedq's text is read
    from DuckDB's, so this pins the form it must handle."""
    import duckdb

    from fedq.engine.binder import friendly_duckdb_error

    db = duckdb.connect()
    db.execute("CREATE TABLE t (id INTEGER, name TEXT)")
    with pytest.raises(duckdb.BinderException) as info:
        db.execute("DESCRIBE SELECT x.nme FROM t x")
    error = friendly_duckdb_error(info.value)
    assert str(error) == 'table "x" has no column "nme" (closest names: "name", "id")'
    assert error.target == "x.nme"


# -- the syntax-error caret sits at the token's start ---------------------------------------------------------
@pytest.mark.parametrize("sql,word", [
    ("SELECT id FROM crm.customers AS c GROUPBY id", "GROUPBY"),
    ("SELECT id FROM crm.customers c GROUPBY id", "GROUPBY"),
    ("SELECT id,\n  name\nFROM crm.customers AS c ORDERBY name", "ORDERBY"),
    ("SELECT id FROM crm.customers WHERE (id = 1 FROM", "FROM"),
    ("EXPLAIN SELECT id FRM crm.customers x y", "crm.customers"),
])
def test_syntax_error_caret_sits_under_the_first_character_of_the_token(con, sql, word):
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    target = word.split(".")[0]
    start = sql.rindex(target) if word == "FROM" else sql.index(target)
    line_number, column, echoed, caret = caret_position(str(info.value))
    assert line_number == sql[:start].count("\n") + 1
    assert echoed == sql.splitlines()[line_number - 1]
    assert column == caret == start - (sql.rfind("\n", 0, start) + 1) + 1, str(info.value)


def test_a_type_mismatch_lists_only_a_few_of_duckdbs_candidate_functions(con):
    sql = "SELECT id FROM crm.customers WHERE name + 1 > 2"
    with pytest.raises(fedq.ProgrammingError) as info:
        con.execute(sql)
    message = str(info.value)
    assert message.startswith("No function matches the given name and argument types '+(VARCHAR, INTEGER_LITERAL)'")
    assert len(message) < 600 and "more at line 1" in message, message
    _caret_under(message, sql, "+")
