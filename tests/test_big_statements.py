"""Issue 14 items 3 and 4: big statements, and source limits that keep work local.

A pushed query that would exceed one of its source's limits (sources/base.py SourceLimits: result
columns, bind parameters, statement length) is not sent: its tables are scanned and DuckDB computes
the rest, so the answer equals the all-local one (pushdown off) and EXPLAIN says which limit.
Planning cost is checked by counting work (tree copies), never by timing (benchmarks/planning_size.py
measures time and memory).
"""
from __future__ import annotations

import inspect
import sqlite3

import pytest
from fedq.engine.planner import OverLimit, _check_limits
from fedq.sources.mysql import MySQLSource
from fedq.sources.postgres import PostgresSource
from fedq.sources.sqlite import SQLiteSource
from sqlglot import exp

import fedq

ROWS = 20


@pytest.fixture(scope="module")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("big") / "big.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", ((i, i % 7, f"v{i}") for i in range(ROWS)))
    return str(path)


def _answers(attach, sql: str, params=None) -> tuple[list, fedq.engine.planner.Plan]:
    """Rows with pushdown on and off (they must match) and the pushdown plan."""
    results = []
    for pushdown in (True, False):
        con = fedq.connect(home=False, pushdown=pushdown)
        attach(con)
        results.append(sorted(con.execute(sql, params).fetchall()))
        if pushdown:
            plan = con.plan(sql, params)
        con.close()
    assert results[0] == results[1]
    return results[0], plan


def _computed(count: int, table: str) -> str:
    return "SELECT " + ", ".join(f"id + {i} AS c{i}" for i in range(count)) + f" FROM {table} WHERE id < 5"


# -- item 4: source limits -----------------------------------------------------------------------
def test_2500_computed_columns_over_sqlite_answer_and_stay_local(sqlite_path):
    rows, plan = _answers(lambda con: con.attach("lite", "sqlite", path=sqlite_path), _computed(2500, "lite.t"))
    assert len(rows) == 5 and len(rows[0]) == 2500 and rows[3][2499] == 3 + 2499
    assert any("2,500 result columns" in n and "sqlite takes (2,000)" in n for n in plan.notes), plan.notes
    (fragment,) = plan.fragments
    assert fragment.kind == "scan" and fragment.request.columns == ("id",)  # only the column, not 2,500 expressions
    con = fedq.connect(home=False)
    con.attach("lite", "sqlite", path=sqlite_path)
    explained = con.execute("EXPLAIN " + _computed(2500, "lite.t")).fetchall()
    local = next(row for row in explained if row[0] == "local")
    assert "kept local" in local[-1] and "2,500 result columns, more than sqlite takes (2,000)" in local[-1]
    assert all("+ 2499" not in row[3] for row in explained if row[0] != "local")  # no source receives the expressions
    con.close()


def test_2000_computed_columns_still_push_to_sqlite(sqlite_path):
    rows, plan = _answers(lambda con: con.attach("lite", "sqlite", path=sqlite_path), _computed(2000, "lite.t"))
    assert len(rows[0]) == 2000
    (fragment,) = plan.fragments
    assert fragment.kind == "query" and not any("result columns" in n for n in plan.notes)


def test_bound_values_over_sqlites_parameter_limit_are_filtered_by_duckdb(sqlite_path):
    values = list(range(40_000))
    sql = "SELECT id, s FROM lite.t WHERE id IN (" + ",".join("?" for _ in values) + ")"
    rows, plan = _answers(lambda con: con.attach("lite", "sqlite", path=sqlite_path), sql, values)
    assert len(rows) == ROWS
    (fragment,) = plan.fragments
    assert fragment.kind == "scan" and not fragment.remote_params and " IN " not in fragment.remote_sql
    assert "40,000 bind parameters, more than sqlite takes (32,766)" in fragment.local_only[0]
    assert any("40,000 bind parameters" in n for n in plan.notes)


def test_the_check_names_each_limit():
    source = SQLiteSource(name="lite", path="unused.sqlite")
    wide = exp.select(*[exp.column(f"c{i}") for i in range(2001)]).from_("t")
    with pytest.raises(OverLimit, match="lite would have 2,001 result columns, more than sqlite takes"):
        _check_limits(source, wide)
    with pytest.raises(OverLimit, match="32,767 bind parameters"):
        _check_limits(source, None, "SELECT 1", 32_767)
    placeholders = exp.select("*").from_("t").where(exp.In(this=exp.column("a"), expressions=[
        exp.Placeholder(this=f"p{i}") for i in range(32_767)]))
    with pytest.raises(OverLimit, match="32,767 bind parameters"):
        _check_limits(source, placeholders)
    _check_limits(source, exp.select(*[exp.column(f"c{i}") for i in range(2000)]).from_("t"), "SELECT …", 32_766)
    mysql = MySQLSource(name="my", dsn="mysql://nobody@127.0.0.1:1/none")
    with pytest.raises(OverLimit, match="bytes of SQL, more than mysql takes"):
        _check_limits(mysql, None, "x" * (16 << 20) + "é")
    _check_limits(mysql, None, "x" * (16 << 20))
    assert PostgresSource.limits.max_columns == 1664 and PostgresSource.limits.max_parameters == 65535


def test_over_1664_computed_columns_over_postgres(pg_dsn, pg_admin_dsn):
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.executescript("DROP SCHEMA IF EXISTS fedq_big CASCADE; CREATE SCHEMA fedq_big; "
                          "CREATE TABLE fedq_big.t AS SELECT g AS id FROM generate_series(1, 20) g")
    try:
        rows, plan = _answers(lambda con: con.attach("pg", "postgres", dsn=pg_dsn), _computed(1700, "pg.fedq_big.t"))
        assert len(rows) == 4 and len(rows[0]) == 1700
        assert any("1,700 result columns, more than postgres takes (1,664)" in n for n in plan.notes), plan.notes
    finally:
        with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
            cur.executescript("DROP SCHEMA fedq_big CASCADE")


def test_over_4096_computed_columns_over_mariadb(mysql_dsn, mysql_admin_dsn):
    import pymysql
    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_big_t")
        cur.execute("CREATE TABLE fedq_big_t (id INT PRIMARY KEY)")
        cur.executemany("INSERT INTO fedq_big_t VALUES (%s)", [(i,) for i in range(ROWS)])
    try:
        sql = "SELECT DISTINCT " + _computed(4200, "my.fedq_big_t")[len("SELECT "):]
        rows, plan = _answers(lambda con: con.attach("my", "mysql", dsn=mysql_dsn), sql)
        assert len(rows) == 5 and len(rows[0]) == 4200
        assert any("4,200 result columns, more than mysql takes (4,096)" in n for n in plan.notes), plan.notes
    finally:
        with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
            cur.execute("DROP TABLE fedq_big_t")


# -- item 3: planning work grows linearly ---------------------------------------------------------
class _Work:
    """Counts the planner's tree work: nodes deep-copied, and nodes re-parented by sqlglot's
    ``Expression.set`` (a replace inside an n-item list re-parents all n: O(n²) over the list).

    With compiled sqlglot (sqlglotc, fedq's default) sqlglot's own calls of ``_set_parent`` run in
    C and bypass the patch: only fedq's calls are counted then (``reparents_seen`` is False)."""

    reparents_seen = inspect.isfunction(exp.Expression._set_parent)

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.copied = self.reparented = 0
        copy, set_parent = exp.Expression.copy, exp.Expression._set_parent

        def counting_copy(node):
            self.copied += sum(1 for _ in node.walk())
            return copy(node)

        def counting_set_parent(node, key, value, index=None):
            self.reparented += len(value) if isinstance(value, list) else 1
            return set_parent(node, key, value, index)

        monkeypatch.setattr(exp.Expression, "copy", counting_copy)
        monkeypatch.setattr(exp.Expression, "_set_parent", counting_set_parent)

    def of(self, con: fedq.Connection, sql: str, params=None) -> tuple[int, int]:
        self.copied = self.reparented = 0
        con.plan(sql, params)
        return self.copied, self.reparented


@pytest.mark.parametrize("bound", [False, True], ids=["literals", "bound values"])
def test_planning_an_in_list_does_linear_work(sqlite_path, monkeypatch, bound):
    con = fedq.connect(home=False)
    con.attach("lite", "sqlite", path=sqlite_path)
    work = _Work(monkeypatch)
    measured = {}
    for n in (1_000, 4_000):
        sql = "SELECT id, k FROM lite.t WHERE id IN (" + ",".join("?" if bound else str(i) for i in range(n)) + ")"
        measured[n] = work.of(con, sql, list(range(n)) if bound else None)
    (copied_small, moved_small), (copied_big, moved_big) = measured[1_000], measured[4_000]
    assert copied_big < 4.4 * copied_small, measured  # quadratic would be ~16x
    assert moved_big < 4.4 * moved_small or not _Work.reparents_seen, measured
    assert copied_big / 4_000 <= (11 if bound else 7), measured  # whole-tree copies per plan: bounded, not growing
    con.close()
