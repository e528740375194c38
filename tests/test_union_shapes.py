"""Issue 14, item 3: a long UNION ALL of one shape is planned from one branch (engine/union_shapes.py).

The fast path must never change an answer: every query here runs with pushdown on (the fast path when it
applies) and off, and against DuckDB over the same rows; the plan's notes say whether it was taken.
Data: PostgreSQL schema fedq_ushapes (table t), MariaDB tables fedq_us_bin (binary collation) and
fedq_us_ci (case-insensitive), one SQLite file.
"""
from __future__ import annotations

import math
import re
import sqlite3

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pymysql
import pytest

import fedq
import fedq.engine.union_shapes as union_shapes
from cleanup import drop_mysql_tables, drop_pg_schemas
from fedq.sources.mysql import _parse_dsn
from test_differential import assert_same_rows

pytestmark = pytest.mark.postgres

SCHEMA, MY_BIN, MY_CI = "fedq_ushapes", "fedq_us_bin", "fedq_us_ci"
N = 40  # branches: above MIN_BRANCHES (32)
NOTE = "1 shape: planned once"
ROWS = [(i, i % 50, ("V" if i % 7 == 0 else "v") + str(i % 20), math.nan if i % 11 == 0 else i / 4) for i in range(1, 301)]
TABLE = pa.table({"id": pa.array([r[0] for r in ROWS], pa.int64()), "k": pa.array([r[1] for r in ROWS], pa.int32()),
                  "s": pa.array([r[2] for r in ROWS], pa.string()), "d": pa.array([r[3] for r in ROWS], pa.float64())})
TABLES = {"lite": "lite.t", "pg": f"pg.{SCHEMA}.t", "my": f"my.{MY_BIN}"}


@pytest.fixture(scope="module")
def engines(request, pg_dsn, pg_admin_dsn, mysql_dsn, mysql_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, MY_BIN, MY_CI))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.t (id bigint, k integer, s text, d double precision)")
        cur.executemany(f"INSERT INTO {SCHEMA}.t VALUES ($1, $2, $3, $4)", ROWS)
    with pymysql.connect(**_parse_dsn(mysql_admin_dsn), autocommit=True) as con, con.cursor() as cur:
        for table, collation in ((MY_BIN, "utf8mb4_nopad_bin"), (MY_CI, "utf8mb4_general_ci")):
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} (id BIGINT, k INT, s VARCHAR(20) CHARACTER SET utf8mb4 COLLATE {collation}, d DOUBLE)")
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", [r[:3] + (None if math.isnan(r[3]) else r[3],) for r in ROWS])
    path = tmp_path_factory.mktemp("ushapes") / "t.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (id INTEGER, k INTEGER, s TEXT, d REAL)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [r[:3] + (None if math.isnan(r[3]) else r[3],) for r in ROWS])
    con.close()

    def connect(pushdown: bool) -> fedq.Connection:
        connection = fedq.connect(pushdown=pushdown)
        connection.attach("pg", "postgres", dsn=pg_dsn)
        connection.attach("my", "mysql", dsn=mysql_dsn)
        connection.attach("lite", "sqlite", path=str(path))
        return connection

    on, off = connect(True), connect(False)
    yield on, off
    on.close()
    off.close()


def _reference(sql: str, nan_is_null: bool) -> list[tuple]:
    """DuckDB's answer over the same rows (SQLite and MariaDB store NaN as NULL)."""
    table = TABLE
    if nan_is_null:
        table = table.set_column(3, "d", pa.array([None if math.isnan(r[3]) else r[3] for r in ROWS], pa.float64()))
    with duckdb.connect() as con:
        con.register("t", table)
        return con.execute(sql).fetchall()


def _chain(branch: str, count: int = N, operator: str = "UNION ALL") -> str:
    return f" {operator} ".join(branch.format(i=i) for i in range(count))


def _check(engines, sql: str, table: str, fast: bool, local: bool = True) -> fedq.engine.Plan:
    """Same rows pushdown on and (``local``) off and in DuckDB; the fast path taken exactly when ``fast``."""
    on, off = engines
    real = sql.replace("FROM t", f"FROM {table}")
    plan = on.plan(real)
    assert any(NOTE in note for note in plan.notes) is fast, plan.notes
    expected = _reference(sql, not table.startswith("pg."))
    for label, connection in (("pushdown", on), ("local", off))[:2 if local else 1]:
        assert_same_rows(connection.execute(real).fetchall(), expected, False, f"{label} {table}")
    return plan


# -- taken ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["k = {i}", "k = {i} AND s <> 'w{i}' AND {i} < id", "s = 'v{i}' OR k >= {i}",
                                   "k = {i} AND d IS NOT NULL", "k = 3 AND id > {i}",
                                   "id > k"])
@pytest.mark.parametrize("source", list(TABLES))
def test_uniform_branches_are_planned_once_with_the_same_answers(engines, source: str, where: str) -> None:
    plan = _check(engines, _chain("SELECT id, k, s FROM t WHERE " + where), TABLES[source], fast=True)
    assert [f.kind for f in plan.fragments] == ["query"]
    assert plan.fragments[0].remote_sql.count(" UNION ALL ") == N - 1


@pytest.mark.parametrize("source", list(TABLES))
def test_the_remote_sql_differs_from_the_whole_plan_only_in_the_branches_output_names(engines, source: str, monkeypatch) -> None:
    """The general planner names only the first branch's outputs c0, c1…; the others keep theirs (the
    union's names come from the first)."""
    sql = _chain("SELECT id, k FROM t WHERE k = {i}").replace("FROM t", f"FROM {TABLES[source]}")
    fast = engines[0].plan(sql).fragments[0].remote_sql
    monkeypatch.setattr(union_shapes, "MIN_BRANCHES", 10**9)
    whole = engines[0].plan(sql).fragments[0].remote_sql
    first, rest = whole.split(" UNION ALL ", 1)
    renamed = [re.sub(r' AS ([`"])k\1', r" AS \1c1\1", re.sub(r' AS ([`"])id\1', r" AS \1c0\1", branch))
               for branch in rest.split(" UNION ALL ")]
    assert fast == " UNION ALL ".join([first, *renamed])


def test_sqlite_gets_at_most_500_branches_per_query(engines) -> None:
    """SQLite refuses a compound SELECT of more than 500 terms; the planned whole would be refused."""
    plan = _check(engines, _chain("SELECT id, k FROM t WHERE k = {i}", 1_234), "lite.t", fast=True, local=False)
    assert [f.remote_sql.count(" UNION ALL ") + 1 for f in plan.fragments] == [500, 500, 234]


def test_a_long_chain_at_postgres_is_one_query(engines) -> None:
    plan = _check(engines, _chain("SELECT id, s FROM t WHERE k = {i} AND s = 'v{i}'", 3_000), TABLES["pg"], fast=True,
                  local=False)
    assert len(plan.fragments) == 1


def test_explain_says_the_union_was_planned_once(engines) -> None:
    sql = _chain("SELECT id FROM t WHERE k = {i}").replace("FROM t", "FROM lite.t")
    local = engines[0].execute("EXPLAIN " + sql).fetch_arrow_table().to_pylist()[-1]
    assert f"UNION ALL of {N} branches, 1 shape: planned once" in local["local_filters"]


# -- not taken -----------------------------------------------------------------------------------------
NOT_TAKEN = {
    "another shape": _chain("SELECT id, k FROM t WHERE k = {i}", N - 1) + " UNION ALL SELECT id, k FROM t WHERE k > 3",
    "spaces": _chain("SELECT id, s FROM t WHERE s = 'v {i}'"),
    "trailing spaces": _chain("SELECT id, s FROM t WHERE s = 'v{i} '"),
    "quotes": _chain("SELECT id, s FROM t WHERE s = 'v''{i}'"),
    "unicode": _chain("SELECT id, s FROM t WHERE s = 'vé{i}'"),
    "digits only": _chain("SELECT id, s FROM t WHERE s = '{i}'"),
    "beyond 32 bits": _chain("SELECT id FROM t WHERE id < 4294967296 + {i}"),
    "negative": _chain("SELECT id FROM t WHERE k = -{i}"),
    "decimals": _chain("SELECT id, d FROM t WHERE d > {i}.5"),
    "union distinct": _chain("SELECT id, k FROM t WHERE k = {i}", operator="UNION"),
    "a literal in the projection": _chain("SELECT id, {i} AS branch FROM t WHERE k = 1"),
    "a function kept local": _chain("SELECT id, s FROM t WHERE upper(s) = 'V{i}'"),
    "order by": _chain("SELECT id, k FROM t WHERE k = {i}") + " ORDER BY id",
}


@pytest.mark.parametrize("sql", list(NOT_TAKEN.values()), ids=list(NOT_TAKEN))
@pytest.mark.parametrize("source", list(TABLES))
def test_other_statements_are_planned_whole_with_the_same_answers(engines, source: str, sql: str) -> None:
    _check(engines, sql, TABLES[source], fast=False)


def test_nan_against_a_double_column_is_planned_whole(engines) -> None:
    _check(engines, _chain("SELECT id FROM t WHERE d = 'NaN' AND k = {i}"), TABLES["pg"], fast=False)


def test_a_branch_over_another_source_is_planned_whole(engines) -> None:
    sql = _chain("SELECT id, k FROM lite.t WHERE k = {i}", N - 1) + f" UNION ALL SELECT id, k FROM {TABLES['pg']} WHERE k = 5"
    plan = engines[0].plan(sql)
    assert not any(NOTE in note for note in plan.notes)
    expected = _reference(_chain("SELECT id, k FROM t WHERE k = {i}", N - 1) + " UNION ALL SELECT id, k FROM t WHERE k = 5", True)
    for connection in engines:
        assert_same_rows(connection.execute(sql).fetchall(), expected, False, "mixed sources")


def test_bound_values_are_planned_whole(engines) -> None:
    sql = _chain("SELECT id FROM lite.t WHERE k = ? AND id > {i}")
    plan = engines[0].plan(sql, [3] * N)
    assert not any(NOTE in note for note in plan.notes)
    assert_same_rows(engines[0].execute(sql, [3] * N).fetchall(), _reference(_chain("SELECT id FROM t WHERE k = 3 AND id > {i}"), True),
                     False, "bound")


def test_mariadb_case_insensitive_text_answers_like_duckdb(engines) -> None:
    """fedq_us_ci compares 'v3' = 'V3' as equal; DuckDB does not. A table with such a column is never pushed
    as one query (sources/mysql.py unsafe_columns), so the representative branch is not either."""
    _check(engines, _chain("SELECT id, s FROM t WHERE s = 'v{i}'"), f"my.{MY_CI}", fast=False)
    _check(engines, _chain("SELECT id, s FROM t WHERE k = {i} AND s > 'v{i}'"), f"my.{MY_CI}", fast=False)
