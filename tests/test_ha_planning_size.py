"""Issue 14 item 3: what makes big statements plan faster keeps plans and answers the same.

engine/tree_copy.copy_tree must copy exactly what sqlglot's copy does (same SQL, same tags, parents
that point back, an independent tree); engine/gc_pause must give the collector its thresholds back,
also when planning fails or planners nest; a query pushed whole, one over its source's column limit
(scanned instead) and one that falls back to full scans still answer what DuckDB answers."""
from __future__ import annotations

import gc
import sqlite3
import threading

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

import fedq
from fedq.engine.gc_pause import PLANNING_THRESHOLD, fewer_collections
from fedq.engine.tree_copy import copy_tree

QUERIES = [
    "SELECT a, b + 1 AS c FROM t WHERE a > 1 AND b IN (1, 2, 3) ORDER BY 1 NULLS FIRST LIMIT 3 /* note */",
    "WITH x AS (SELECT a FROM t) SELECT * FROM x JOIN t USING (a) WHERE EXISTS (SELECT 1 FROM t AS t2 WHERE t2.a = x.a)",
    "SELECT date_trunc('month', d), count(*) FILTER (WHERE a > 1) FROM t GROUP BY ALL",
    "SELECT a FROM t UNION ALL SELECT b FROM t EXCEPT SELECT 3",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_copy_tree_is_sqlglots_copy_with_shared_types(sql):
    tree = annotate_types(qualify(sqlglot.parse_one(sql, read="duckdb"), schema={"t": {"a": "INT", "b": "INT", "d": "DATE"}},
                                  dialect="duckdb"))
    tree.find(exp.Column).meta["fedq_table"] = 7
    copied = copy_tree(tree)
    assert copied == tree == tree.copy()
    assert copied.sql("duckdb", comments=True) == tree.sql("duckdb", comments=True)
    for original, node in zip(tree.walk(), copied.walk()):
        assert node is not original and type(node) is type(original)
        assert node.type is original.type and node.meta == original.meta and node.comments == original.comments
        assert node.parent is None or (node.parent.args[node.arg_key] if node.index is None
                                       else node.parent.args[node.arg_key][node.index]) is node
    assert copied.parent is None
    copied.find(exp.Column).set("this", exp.to_identifier("renamed"))
    copied.find(exp.Column).meta["fedq_table"] = 8
    assert "renamed" not in tree.sql() and tree.find(exp.Column).meta["fedq_table"] == 7


def test_copy_tree_of_a_subtree_is_detached():
    tree = sqlglot.parse_one("SELECT a FROM t WHERE a > 1", read="duckdb")
    where = copy_tree(tree.args["where"])
    assert where.parent is None and where.arg_key is None and where.sql() == "WHERE a > 1"
    assert tree.args["where"].parent is tree


def test_thresholds_come_back_after_errors_and_nesting():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="planning failed"):
        with fewer_collections():
            assert gc.get_threshold()[0] == max(before[0], PLANNING_THRESHOLD)
            with fewer_collections():
                pass
            assert gc.get_threshold()[0] == max(before[0], PLANNING_THRESHOLD)  # the outer planner still holds it
            raise RuntimeError("planning failed")
    assert gc.get_threshold() == before


def test_concurrent_planners_share_one_setting():
    before = gc.get_threshold()
    inside, leave = threading.Barrier(3), threading.Event()

    def plan() -> None:
        with fewer_collections():
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=plan) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert gc.get_threshold()[0] == max(before[0], PLANNING_THRESHOLD)
    leave.set()
    for thread in threads:
        thread.join()
    assert gc.get_threshold() == before


def test_automatic_collection_switched_off_stays_off():
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "b.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)")
        con.executemany("INSERT INTO b VALUES (?, ?, ?)", [(i, i % 7 if i % 5 else None, f"v{i % 3}") for i in range(300)])
    return str(path)


def _reference(path: str, sql: str) -> list[tuple]:
    """The answer of DuckDB holding the same rows (SQLite INTEGER is read as BIGINT)."""
    with sqlite3.connect(path) as source:
        rows = source.execute("SELECT id, k, s FROM b").fetchall()
    with duckdb.connect() as con:
        con.execute("ATTACH ':memory:' AS sq")
        con.execute("CREATE TABLE sq.main.b (id BIGINT, k BIGINT, s VARCHAR)")
        con.executemany("INSERT INTO sq.main.b VALUES (?, ?, ?)", rows)
        return sorted(con.execute(sql).fetchall(), key=repr)


CASES = {
    "union chain pushed whole": " UNION ALL ".join(f"SELECT id, k FROM sq.b WHERE k = {i}" for i in range(40)),
    "union chain pushed whole, ordered": " UNION ALL ".join(f"SELECT id, s FROM sq.b WHERE k = {i % 3}" for i in range(40))
    + " ORDER BY 1 NULLS LAST, 2 LIMIT 50",
    "over the column limit: scanned": "SELECT " + ", ".join(f"id + {i} AS c{i}" for i in range(2100)) + " FROM sq.b WHERE k = 3",
    "split and partial units": "SELECT k, count(*), sum(id) FROM sq.b AS x WHERE id > 10 GROUP BY k HAVING count(*) > 1",
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("pushdown", [True, False])
def test_answers_equal_duckdbs(sqlite_file, name, pushdown):
    sql = CASES[name]
    with fedq.connect(home=False, pushdown=pushdown) as con:
        con.attach("sq", "sqlite", path=sqlite_file)
        plan = con.plan(sql)
        rows = sorted(con.execute(sql).fetchall(), key=repr)
    assert rows == _reference(sqlite_file, sql)
    if pushdown and name.startswith("union"):
        assert [f.kind for f in plan.fragments] == ["query"]
    if pushdown and name.startswith("over"):
        assert [f.kind for f in plan.fragments] == ["scan"] and any("2,100 result columns" in n for n in plan.notes)


def test_a_failed_pushdown_attempt_plans_full_scans_of_the_whole_query(sqlite_file, monkeypatch):
    """The planner no longer copies the tree before trying pushdown: the fallback must see it whole."""
    from fedq.engine import planner

    def refuse(*args, **kwargs):
        raise sqlglot.errors.OptimizeError("refused for the test")

    sql = "SELECT x.k, count(*) FROM sq.b AS x JOIN sq.b AS y ON x.id = y.id + 1 WHERE x.k > 2 GROUP BY x.k"
    with fedq.connect(home=False) as con:
        con.attach("sq", "sqlite", path=sqlite_file)
        monkeypatch.setattr(planner, "annotate_types", refuse)
        plan = con.plan(sql)
        rows = sorted(con.execute(sql).fetchall(), key=repr)
    assert any("pushdown analysis skipped: refused for the test" in n for n in plan.notes)
    assert [f.kind for f in plan.fragments] == ["scan", "scan"]
    assert rows == _reference(sqlite_file, sql)
