"""query('source', 'native SQL'): a read-only native query as a table, only where the catalog allows it.

What reaches the source is sqlglot's regeneration of the native text (comments dropped), so the
differential tests below run each native query twice: through fedq, and as written straight at the
source with its own driver; the rows must be the same.
"""
from __future__ import annotations

import sqlite3
from decimal import Decimal

import duckdb
import pytest

import fedq
from fedq.engine.capabilities import why_not_pushable

from sqlglot import parse_one


@pytest.fixture
def con(tmp_path, pg_dsn):
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, "Bob")])
    db.close()
    connection = fedq.connect()
    connection.attach("pg", "postgres", dsn=pg_dsn, passthrough=True)
    connection.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"), passthrough=True)
    yield connection
    connection.close()


def test_native_postgres_sql_joins_with_another_source(con):
    native = "SELECT g AS id, g * 10 AS score FROM generate_series(1, 3) AS g -- a PostgreSQL-only function"
    rows = con.execute(f"SELECT c.name, q.score FROM query('pg', '{native}') AS q "
                       "JOIN crm.customers c ON c.id = q.id ORDER BY 1").fetchall()
    assert rows == [("Ann", 10), ("Bob", 20)]
    sent = con.source("pg").statements[-2:]
    assert sent[-1] == "SELECT g AS id, g * 10 AS score FROM GENERATE_SERIES(1, 3) AS g"  # regenerated, no comment
    assert sent[0] == f"SELECT * FROM ({sent[-1]}) AS fedq_probe LIMIT 0"  # the probe is built from the same tree


def test_native_sqlite_sql(con):
    assert con.execute("SELECT * FROM query('crm', 'SELECT upper(name) AS n FROM customers WHERE id = 2')").fetchall() == [("BOB",)]


@pytest.mark.parametrize("native", ["DELETE FROM customers", "SELECT 1; DROP TABLE customers", "UPDATE customers SET id = 3",
                                    "VALUES (1)", "PRAGMA table_info(customers)"])
def test_anything_but_one_select_is_refused_before_reaching_the_source(con, native):
    with pytest.raises(fedq.NotSupportedError, match=r"query\('crm', …\) runs only one read-only SELECT"):
        con.execute(f"SELECT * FROM query('crm', '{native}')")
    assert con.source("crm").statements == []


def test_query_needs_a_sql_source_and_string_arguments(con, tmp_path):
    con.attach("lake", "files", url=str(tmp_path))
    with pytest.raises(fedq.ProgrammingError, match="does not run SQL"):
        con.execute("SELECT * FROM query('lake', 'SELECT 1')")
    with pytest.raises(fedq.ProgrammingError, match="unknown source 'nope'"):
        con.execute("SELECT * FROM query('nope', 'SELECT 1')")


# -- off unless the catalog turns it on ------------------------------------------------------------
def test_passthrough_is_off_by_default_and_the_error_says_how_to_turn_it_on(tmp_path, pg_dsn):
    (tmp_path / "c.toml").write_text(f'[sources.pg]\ntype = "postgres"\ndsn = "{pg_dsn}"\n')
    with fedq.connect(catalog=str(tmp_path / "c.toml"), home=False) as connection:
        with pytest.raises(fedq.NotSupportedError, match=r"passthrough is off for source 'pg'; .*set passthrough = true "
                                                         r"in its catalog entry \(\[sources\.pg\]\)"):
            connection.execute("SELECT * FROM query('pg', 'SELECT 1 AS x')")
        assert connection.source("pg").statements == []
    (tmp_path / "c.toml").write_text(f'[sources.pg]\ntype = "postgres"\ndsn = "{pg_dsn}"\npassthrough = true\n')
    with fedq.connect(catalog=str(tmp_path / "c.toml"), home=False) as connection:
        assert connection.execute("SELECT * FROM query('pg', 'SELECT 1 AS x')").fetchall() == [(1,)]


def test_attach_statement_turns_passthrough_on(tmp_path):
    sqlite3.connect(tmp_path / "a.sqlite").close()
    with fedq.connect(home=False) as connection:
        connection.execute(f"ATTACH '{tmp_path / 'a.sqlite'}' AS a (TYPE sqlite, PASSTHROUGH true)")
        connection.execute(f"ATTACH '{tmp_path / 'a.sqlite'}' AS b (TYPE sqlite, PASSTHROUGH false)")
        assert connection.execute("SELECT * FROM query('a', 'SELECT 7 AS x')").fetchall() == [(7,)]
        with pytest.raises(fedq.NotSupportedError, match="passthrough is off for source 'b'"):
            connection.execute("SELECT * FROM query('b', 'SELECT 7 AS x')")


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_passthrough_must_be_a_boolean(tmp_path, value):
    with fedq.connect(home=False) as connection:
        with pytest.raises(fedq.ProgrammingError, match=rf"source 'a' \(sqlite\): setting 'passthrough' must be a boolean "
                                                        rf"\(true or false\), not {value!r}"):
            connection.attach("a", "sqlite", path=str(tmp_path / "a.sqlite"), passthrough=value)
    toml = tmp_path / "c.toml"
    toml.write_text(f'[sources.a]\ntype = "sqlite"\npath = "a.sqlite"\npassthrough = "{value}"\n')
    with pytest.raises(fedq.ProgrammingError, match="setting 'passthrough' must be a boolean"):
        fedq.connect(catalog=str(toml), home=False)


# -- differential: the regenerated text returns what the original text returns ------------------------
PG_NATIVE = [
    "SELECT g AS id, g * 10 AS score FROM generate_series(1, 5) AS g WHERE g % 2 = 1",
    "SELECT n, sqrt(n)::numeric(10, 4) AS r, n::text || 'x' AS t FROM generate_series(1, 4) AS n ORDER BY n DESC",
    "SELECT string_agg(x, ',' ORDER BY x) AS s, count(DISTINCT x) AS d FROM unnest(ARRAY['b', 'a', 'b']) AS x",
    "SELECT 'it''s' AS a, $$dollar 'quoted'$$ AS b, E'tab\\there' AS c, 'back\\slash' AS d, U&'\\0041\\00e9' AS e",
    "SELECT U&\"d\\0061ta\".v FROM (SELECT 1 AS v) AS U&\"d\\0061ta\"",
    "SELECT n, row_number() OVER (ORDER BY n DESC) AS rn, sum(n) OVER () AS total FROM generate_series(1, 3) AS n",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT n FROM r /* a comment */",
    "SELECT upper(s) AS u, length(s) AS l, substring(s FROM 2 FOR 2) AS sub, position('b' IN s) AS p "
    "FROM (VALUES ('abc'), ('xbz')) AS v(s)",
    "SELECT date_trunc('month', DATE '2024-02-17')::date AS m, extract(year FROM DATE '2024-02-17') AS y, "
    "DATE '2024-01-31' + INTERVAL '1 month' AS plus",
    "SELECT CASE WHEN n > 1 THEN 'big' ELSE 'small' END AS size, coalesce(NULL, n) AS c, greatest(n, 2) AS g "
    "FROM generate_series(1, 3) AS n",
    "SELECT j ->> 'a' AS a, jsonb_array_length(j -> 'b') AS n FROM (SELECT '{\"a\": \"x\", \"b\": [1, 2]}'::jsonb AS j) AS t",
    "SELECT 1 AS x UNION ALL SELECT 2 EXCEPT SELECT 2 ORDER BY 1",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median, count(*) FILTER (WHERE n > 2) AS big "
    "FROM generate_series(1, 5) AS n",
    "SELECT current_setting('TimeZone') AS tz",
]


def _pg_rows(dsn: str, sql: str) -> list[tuple]:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("native", PG_NATIVE)
def test_postgres_regenerated_sql_returns_the_same_rows_as_the_original(con, pg_dsn, native):
    fedq_rows = con.execute("SELECT * FROM query('pg', ?)".replace("?", _duck_literal(native))).fetchall()
    direct = _pg_rows(pg_dsn, native)
    assert _normal(fedq_rows) == _normal(direct), con.source("pg").statements[-1]
    assert con.source("pg").statements[-1] != native or "--" not in native


SQLITE_NATIVE = [
    "SELECT id, upper(name) AS n, length(name) AS l FROM customers ORDER BY id DESC",
    "SELECT group_concat(name, '|') AS names, count(*) AS c, total(id) AS t FROM customers",
    "SELECT printf('%05d', id) AS p, iif(id > 1, 'b', 'a') AS i, substr(name, 2) AS s FROM customers -- trailing",
    "SELECT strftime('%Y-%m', '2024-02-17') AS ym, date('2024-01-31', '+1 month') AS d, json_extract('{\"a\": 3}', '$.a') AS j",
    "WITH c AS (SELECT id FROM customers) SELECT count(*) AS n FROM c WHERE id IN (SELECT id FROM customers)",
    "SELECT name, type FROM sqlite_master ORDER BY name",
]


@pytest.mark.parametrize("native", SQLITE_NATIVE)
def test_sqlite_regenerated_sql_returns_the_same_rows_as_the_original(con, tmp_path, native):
    fedq_rows = con.execute(f"SELECT * FROM query('crm', {_duck_literal(native)})").fetchall()
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        direct = db.execute(native).fetchall()
    db.close()
    assert _normal(fedq_rows) == _normal(direct), con.source("crm").statements[-1]


MYSQL_NATIVE = [
    "SELECT 'it''s' AS a, 'back\\\\slash' AS b, \"double\" AS c, CONCAT('x', 1) AS d # a comment",
    "SELECT IF(1 > 2, 'y', 'n') AS i, IFNULL(NULL, 3) AS f, DATE_FORMAT('2024-02-17', '%Y/%m') AS d, "
    "DATE_ADD('2024-01-31', INTERVAL 1 MONTH) AS plus",
    "SELECT GROUP_CONCAT(x ORDER BY x SEPARATOR '-') AS g, COUNT(*) AS n FROM (SELECT 2 AS x UNION ALL SELECT 1) AS t",
    "SELECT `x`, ROW_NUMBER() OVER (ORDER BY `x` DESC) AS rn FROM (SELECT 1 AS `x` UNION ALL SELECT 2) AS t -- c",
    # sqlglot reads REGEXP as REGEXP_LIKE, which MariaDB lacks: the server gets the operator back
    "SELECT 'abc' REGEXP 'b' AS m, 'abc' NOT REGEXP '^b' AS n, 'ABC' RLIKE 'B' AS r",
]


@pytest.mark.parametrize("native", MYSQL_NATIVE)
def test_mariadb_regenerated_sql_returns_the_same_rows_as_the_original(mysql_dsn, native):
    import pymysql

    from fedq.sources.mysql import SQL_MODE, _parse_dsn

    with fedq.connect(home=False) as connection:
        connection.attach("my", "mysql", dsn=mysql_dsn, passthrough=True)
        fedq_rows = connection.execute(f"SELECT * FROM query('my', {_duck_literal(native)})").fetchall()
    with pymysql.connect(**_parse_dsn(mysql_dsn)) as db, db.cursor() as cursor:
        cursor.execute(f"SET SESSION sql_mode = '{SQL_MODE}'")
        cursor.execute(native)
        direct = [tuple(row) for row in cursor.fetchall()]
    assert _normal(fedq_rows) == _normal(direct)


def test_duckdb_file_regenerated_sql_returns_the_same_rows_as_the_original(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE t AS SELECT range AS id, 'v' || range AS v FROM range(5)")
    native = "SELECT id, list_transform([id, 1], lambda x: x * 2) AS l, v FROM t WHERE id > 1 ORDER BY id -- c"
    with fedq.connect(home=False) as connection:
        connection.attach("wh", "duckdb", path=str(path), passthrough=True)
        fedq_rows = connection.execute(f"SELECT * FROM query('wh', {_duck_literal(native)})").fetchall()
    with duckdb.connect(str(path), read_only=True) as db:
        direct = db.execute(native).fetchall()
    assert fedq_rows == direct and len(direct) == 3


def _duck_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _normal(rows: list[tuple]) -> list[tuple]:
    """Compare values, not driver types: decimals and floats as text, everything else as is."""
    return [tuple(str(v) if isinstance(v, (Decimal, float)) else v for v in row) for row in rows]


# -- the non-passthrough path: only allowlisted functions are rendered into remote SQL ----------------
@pytest.mark.parametrize("call", ["txid_current()", "current_setting('threads')", "getenv('HOME')",
                                  "read_text('/etc/hostname')", "nextval('s')", "today()", "uuidv7()", "random()"])
def test_duckdb_functions_not_on_the_allowlist_are_never_pushed(call):
    expression = parse_one(f"SELECT {call} FROM t", read="duckdb").expressions[0]
    assert why_not_pushable(expression, "duckdb") is not None
    assert why_not_pushable(parse_one("SELECT upper(v) FROM t", read="duckdb").expressions[0], "duckdb") is None


def test_a_duckdb_function_not_on_the_allowlist_stays_local(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE t AS SELECT range AS id FROM range(3)")
    with fedq.connect(home=False) as connection:
        connection.attach("wh", "duckdb", path=str(path), reader="arrow")  # the pushed path (attached files push nothing)
        for call in ("current_setting('TimeZone')", "txid_current()"):
            sql = f"SELECT id, {call} AS x, upper('x') AS u FROM wh.t WHERE id > 0 ORDER BY id"
            assert [r[0] for r in connection.execute(sql).fetchall()] == [1, 2]
            plan = connection.plan(sql)
            remote = " ".join(f.remote for f in plan.fragments).lower()
            assert call.split("(")[0] not in remote and call.split("(")[0] in plan.local_sql.lower(), (remote, plan.local_sql)
        allowed = connection.plan("SELECT id, upper('x') AS u FROM wh.t WHERE id > 0")  # control: an allowlisted one is pushed
        assert "upper" in " ".join(f.remote for f in allowed.fragments).lower()
