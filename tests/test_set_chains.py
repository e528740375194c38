"""Issue 14, item 3: long UNION chains are balanced after parsing (engine/set_chains.py).

Balancing must be invisible: the same SQL in every dialect fedq sends to, and the same rows, pushdown
on and off, as DuckDB gives for the chain as written.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

import fedq
from cleanup import drop_pg_schemas
from fedq.engine.set_chains import MIN_BRANCHES
from fedq.engine.statements import parse_sql
from test_differential import assert_same_rows

PG_SCHEMA = "fedq_chains"
N = MIN_BRANCHES * 4


def _chain(count: int, operator: str = "UNION ALL", table: str = "t", tail: str = "") -> str:
    return f" {operator} ".join(f"SELECT id, v FROM {table} WHERE v = {i % 7} AND id > {i}" for i in range(count)) + tail


def _depth(node: exp.Expression) -> int:
    depth = 0
    while isinstance(node, exp.Union):
        node, depth = node.this, depth + 1
    return depth


SHAPES = {
    "union all": _chain(N),
    "union": _chain(N, "UNION"),
    "order and limit": _chain(N, tail=" ORDER BY id DESC, v LIMIT 7 OFFSET 2"),
    "in a subquery": f"SELECT count(*) FROM ({_chain(N)}) AS u WHERE id IN ({_chain(N, 'UNION').replace('id, v', 'id')})",
    "with": f"WITH c AS ({_chain(N)}) SELECT * FROM c",
    "mixed": _chain(N // 2) + " UNION " + _chain(N // 2),
    "by name": _chain(N, "UNION ALL BY NAME"),
    "short": _chain(MIN_BRANCHES - 1),
    "intersect": _chain(N, "INTERSECT"),
}


@pytest.mark.parametrize("sql", list(SHAPES.values()), ids=list(SHAPES))
def test_balanced_chain_renders_as_written_in_every_dialect(sql: str) -> None:
    mine, theirs = parse_sql(sql), sqlglot.parse_one(sql, read="duckdb")
    for dialect in ("duckdb", "postgres", "mysql", "sqlite"):
        assert mine.sql(dialect) == theirs.sql(dialect), dialect


@pytest.mark.parametrize(("shape", "balanced"), [("union all", True), ("union", True), ("order and limit", True),
                                                 ("mixed", False), ("by name", False), ("short", False)])
def test_only_single_operator_chains_are_balanced(shape: str, balanced: bool) -> None:
    tree, parsed = parse_sql(SHAPES[shape]), sqlglot.parse_one(SHAPES[shape], read="duckdb")
    assert (_depth(tree) <= N.bit_length() + 1) is balanced
    assert _depth(tree) < _depth(parsed) if balanced else _depth(tree) == _depth(parsed)


def test_the_root_keeps_its_order_and_limit() -> None:
    tree = parse_sql(SHAPES["order and limit"])
    assert tree.args["limit"] is not None and tree.args["order"] is not None and tree.args["offset"] is not None
    assert not any(u.args.get("limit") for u in tree.find_all(exp.Union) if u is not tree)


# -- differential -----------------------------------------------------------------------------------
ROWS = pa.table({"id": pa.array(range(1, 401), pa.int64()),
                 "v": pa.array([None if i % 29 == 0 else i % 11 for i in range(1, 401)], pa.int64())})
KINDS = {"postgres": f"pg.{PG_SCHEMA}.t", "sqlite": "lite.t", "parquet": "lake.t"}
QUERIES = [SHAPES["union all"], SHAPES["union"], SHAPES["order and limit"],
           f"SELECT v, count(*) FROM ({_chain(N)}) AS u GROUP BY v", SHAPES["mixed"]]


@pytest.fixture(scope="module")
def sources(request, pg_dsn, pg_admin_dsn, tmp_path_factory) -> Iterator[dict[str, Any]]:
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, PG_SCHEMA))
    root: Path = tmp_path_factory.mktemp("chains")
    rows = [tuple(r.values()) for r in ROWS.to_pylist()]
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        cur.execute(f"CREATE TABLE {PG_SCHEMA}.t (id bigint, v bigint)")
        cur.executemany(f"INSERT INTO {PG_SCHEMA}.t VALUES ($1, $2)", rows)
    with sqlite3.connect(root / "lite.sqlite") as con:
        con.execute("CREATE TABLE t (id INTEGER, v INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.close()
    (root / "lake").mkdir()
    pq.write_table(ROWS, root / "lake" / "t.parquet", row_group_size=50)

    def connect(pushdown: bool) -> fedq.Connection:
        connection = fedq.connect(pushdown=pushdown)
        connection.attach("pg", "postgres", dsn=pg_dsn)
        connection.attach("lite", "sqlite", path=str(root / "lite.sqlite"))
        connection.attach("lake", "files", url=str(root / "lake"))
        return connection

    opened = {"pushdown": connect(True), "local": connect(False)}
    reference = duckdb.connect()
    reference.register("t", ROWS)
    yield {"connections": opened, "reference": reference}
    reference.close()
    for connection in opened.values():
        connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("sql", QUERIES, ids=range(len(QUERIES)))
def test_long_chains_answer_as_duckdb_does(sources, kind: str, sql: str) -> None:
    expected = sources["reference"].execute(sql).fetchall()
    for mode, connection in sources["connections"].items():
        got = connection.execute(sql.replace("FROM t ", f"FROM {KINDS[kind]} ")).fetchall()
        assert_same_rows(got, expected, "ORDER BY" in sql, f"{mode} {kind}")


@pytest.mark.postgres
def test_a_long_chain_is_still_one_query_at_its_source(sources) -> None:
    plan = sources["connections"]["pushdown"].plan(SHAPES["union all"].replace("FROM t ", f"FROM {KINDS['sqlite']} "))
    assert [f.kind for f in plan.fragments] == ["query"] and plan.fragments[0].remote_sql.count("UNION ALL") == N - 1
