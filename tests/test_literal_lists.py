"""Issue 14, item 3: long literal IN lists plan as one node (engine/literal_lists.py) and answer the same.

The unit tests check that the collapse is invisible: a statement parsed through it has the same tree
as sqlglot's own parse, for lists inside strings, comments, quoted names, PIVOT and the like (where
it must not touch them). The differential tests run long IN / NOT IN lists of integers, decimals
and strings over PostgreSQL, MariaDB, SQLite, Parquet, CSV and JSON, pushdown on and off, against a
reference DuckDB holding the same rows.
"""
from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas
from fedq.engine.literal_lists import MIN_ITEMS, collapse, literal_list
from fedq.engine.statements import parse_sql
from test_differential import assert_same_rows

PG_SCHEMA, MY_TABLE = "fedq_inlist", "fedq_inlist_w"
N = MIN_ITEMS * 3


def _numbers(count: int = N, start: int = -50, step: int = 3) -> str:
    return ", ".join(str(start + i * step) for i in range(count))


def _strings(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _same_tree(sql: str) -> None:
    mine = parse_sql(sql)
    theirs = sqlglot.parse_one(sql, read="duckdb")
    assert sqlglot.parse_one(mine.sql("duckdb"), read="duckdb") == sqlglot.parse_one(theirs.sql("duckdb"), read="duckdb")


# -- the collapse, as a parse ------------------------------------------------------------------------
LONG = _numbers()
TEXTS = _strings([f"v{i}, w" for i in range(N)])
SHAPES = [
    f"SELECT * FROM t WHERE x IN ({LONG})",
    f"SELECT * FROM t WHERE x NOT IN ({LONG}) AND y in({TEXTS})",
    f"SELECT x IN ({_numbers(N, 0, 1).replace(', 1,', ', 1.25,')}) AS b FROM t",
    f"SELECT * FROM t WHERE x IN ({LONG}) OR y IN ({_numbers(MIN_ITEMS - 1)})",  # the short one stays as it is
    f"SELECT 'x IN ({LONG})' AS s, x FROM t WHERE x IN ({LONG})",  # a list inside a string stays text
    f"SELECT E'it\\'s x IN ({LONG})' AS s FROM t",
    f"SELECT $$ x IN ({LONG}) $$ AS s, $tag$ IN ({LONG}) $tag$ AS u FROM t",
    f"SELECT x FROM t -- WHERE x IN ({LONG})\nWHERE x IN ({LONG})",
    f"SELECT x FROM t /* x IN ({LONG}) */ WHERE x IN ({LONG})",
    f'SELECT "IN ({LONG})" FROM t',
    f"SELECT * FROM t WHERE x IN ({LONG}, 'a')",  # mixed kinds: not collapsed
    f"SELECT * FROM t WHERE x IN ({LONG}, ?)",
    f"SELECT * FROM t WHERE x IN (1e3, {LONG})",
    "SELECT * FROM t WHERE s IN (" + _strings(["it''s"] + [str(i) for i in range(N)]) + ")",
    f"SELECT * FROM t PIVOT (sum(v) FOR x IN ({LONG}))",
    f"SELECT * FROM t WHERE (x, y) IN ({LONG})",
    f"SELECT * FROM t WHERE x IN (SELECT 1) AND y IN ({LONG})",
]


@pytest.mark.parametrize("sql", SHAPES, ids=range(len(SHAPES)))
def test_collapsed_parse_is_sqlglots_parse(sql: str) -> None:
    _same_tree(sql)


def test_a_long_list_becomes_one_node_with_its_kind_and_count() -> None:
    tree = parse_sql(f"SELECT * FROM t WHERE x IN ({LONG}) AND s IN ({TEXTS}) AND d IN (1.5, {LONG})")
    lists = [literal_list(v) for v in tree.find_all(exp.Var)]
    assert sorted((v.kind, v.count, v.decimal) for v in lists if v) == [("number", N, False), ("number", N + 1, True),
                                                                         ("text", N, False)]
    assert not list(tree.find_all(exp.Literal))


@pytest.mark.parametrize(("index", "collapsed"), [(4, 1), (5, 0), (6, 0), (7, 1), (8, 1), (9, 0), (10, 0), (11, 0),
                                                  (12, 0), (13, 0), (14, 0), (15, 1), (16, 1)])
def test_only_lists_of_plain_literals_in_code_collapse(index: int, collapsed: int) -> None:
    """Not inside strings, comments or names; not mixed, parameterised, exponent or quote-holding lists; not PIVOT."""
    tree = parse_sql(SHAPES[index])
    assert len([v for v in tree.find_all(exp.Var) if literal_list(v)]) == collapsed


def test_a_syntax_error_points_into_the_text_as_written() -> None:
    sql = f"SELECT * FROM t WHERE x IN ({LONG}) GROUPBY x"
    assert collapse(sql) is not None
    with pytest.raises(fedq.ProgrammingError) as raised:
        parse_sql(sql)
    assert "GROUPBY" in str(raised.value) and "__fedq_list" not in str(raised.value)


# -- differential: six source kinds, pushdown on and off ------------------------------------------------
TEXT_VALUES = ["a", "A", "a ", "b", "ä", "x,y", "O'Brien", "", "c\\d", "zz"]


def _table() -> pa.Table:
    ids = list(range(1, 301))
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "n": pa.array([None if i % 17 == 0 else (i * 7) % 500 - 100 for i in ids], pa.int64()),
        "d": pa.array([None if i % 19 == 0 else Decimal(i * 13 % 400) / 4 - 20 for i in ids], pa.decimal128(10, 2)),
        "s": pa.array([None if i % 23 == 0 else TEXT_VALUES[i % len(TEXT_VALUES)] + ("" if i % 3 else str(i % 40))
                       for i in ids], pa.string()),
    })


STRING_LIST = _strings(["a", "b", "ä", "x,y", "", "zz"] + [f"{v}{i}" for v in ("a", "b", "zz", "A") for i in range(40)])
QUERIES = [
    f"SELECT id, n FROM {{w}} WHERE n IN ({_numbers()})",
    f"SELECT id, n FROM {{w}} WHERE n NOT IN ({_numbers()})",
    f"SELECT count(*), sum(n) FROM {{w}} WHERE n IN ({_numbers(N, 400, -5)}) AND id > 20",
    f"SELECT id, d FROM {{w}} WHERE d IN ({', '.join(str(Decimal(i) / 4 - 20) for i in range(0, 400, 3))})",
    f"SELECT id, n IN ({_numbers()}) AS hit FROM {{w}}",
    f"SELECT id, s FROM {{w}} WHERE s IN ({STRING_LIST})",
    f"SELECT id, s FROM {{w}} WHERE s NOT IN ({STRING_LIST})",
    f"SELECT s, count(*) FROM {{w}} WHERE s IN ({STRING_LIST}) OR n IN ({_numbers()}) GROUP BY s",
    f"SELECT n % 10 AS k, count(*) FROM {{w}} GROUP BY k HAVING sum(n) IN ({_numbers(N, -2000, 23)})",
    f"SELECT id FROM {{w}} WHERE id IN (SELECT id FROM {{w}} WHERE n IN ({_numbers()})) ORDER BY id LIMIT 15",
]
KINDS = {"postgres": f"pg.{PG_SCHEMA}.w", "mariadb": f"my.test.{MY_TABLE}", "sqlite": "lite.w",
         "parquet": "lake.w_parquet", "csv": "lake.w_csv", "json": "lake.w_json"}


@pytest.fixture(scope="module")
def sources(request, pg_dsn, pg_admin_dsn, mysql_dsn, mysql_admin_dsn, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The table ``w (id, n, d, s)`` in six kinds of source, and a reference DuckDB holding it."""
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, PG_SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, MY_TABLE))
    table = _table()
    rows = [tuple(r.values()) for r in table.to_pylist()]
    root: Path = tmp_path_factory.mktemp("inlist")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        cur.execute(f"CREATE TABLE {PG_SCHEMA}.w (id bigint, n bigint, d numeric(10, 2), s text)")
        cur.executemany(f"INSERT INTO {PG_SCHEMA}.w VALUES ($1, $2, $3, $4)", rows)
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id BIGINT, n BIGINT, d DECIMAL(10, 2), s VARCHAR(40)) "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")  # case-insensitive, PAD SPACE
        cur.executemany(f"INSERT INTO {MY_TABLE} VALUES (%s, %s, %s, %s)", rows)
    with sqlite3.connect(root / "lite.sqlite") as con:
        con.execute("CREATE TABLE w (id INTEGER, n INTEGER, d DECIMAL(10, 2), s TEXT)")
        con.executemany("INSERT INTO w VALUES (?, ?, ?, ?)", [(i, n, None if d is None else str(d), s) for i, n, d, s in rows])
    con.close()
    lake = root / "lake"
    lake.mkdir()
    pq.write_table(table, lake / "w_parquet.parquet", row_group_size=64)
    pacsv.write_csv(table, lake / "w_csv.csv")
    (lake / "w_json.json").write_text(json.dumps([{**r, "d": None if r["d"] is None else float(r["d"])}
                                                  for r in table.to_pylist()]), encoding="utf-8")

    def connect(pushdown: bool) -> fedq.Connection:
        connection = fedq.connect(pushdown=pushdown)
        connection.attach("pg", "postgres", dsn=pg_dsn)
        connection.attach("my", "mysql", dsn=mysql_dsn)
        connection.attach("lite", "sqlite", path=str(root / "lite.sqlite"))
        connection.attach("lake", "files", url=str(lake))
        return connection

    opened = {"pushdown": connect(True), "local": connect(False)}
    reference = duckdb.connect()
    reference.register("__incoming", table)
    reference.execute('CREATE TABLE w AS SELECT * FROM __incoming')
    reference.execute('CREATE TABLE w_json AS SELECT * FROM read_json(?)', [str(lake / "w_json.json")])
    yield {"connections": opened, "reference": reference}
    reference.close()
    for connection in opened.values():
        connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("sql", QUERIES, ids=range(len(QUERIES)))
def test_long_in_lists_answer_as_duckdb_does(sources, kind: str, sql: str) -> None:
    reference_table = "w_json" if kind == "json" else "w"  # JSON holds the decimals as numbers
    expected = sources["reference"].execute(sql.format(w=reference_table)).fetchall()
    for mode, connection in sources["connections"].items():
        got = connection.execute(sql.format(w=KINDS[kind])).fetchall()
        assert_same_rows(got, expected, "ORDER BY" in sql, f"{mode} {kind}: {sql[:120]}")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_long_list_is_still_pushed_to_the_source(sources, kind: str) -> None:
    plan = sources["connections"]["pushdown"].plan(QUERIES[0].format(w=KINDS[kind]))
    sent = " ".join(f.remote_sql or "" for f in plan.fragments)
    assert "IN (-50, -47, -44" in sent and sent.count(",") >= N - 1, sent[:300]
