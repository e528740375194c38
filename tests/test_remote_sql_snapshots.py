"""Remote SQL snapshots per dialect (hazard 18): a sqlglot upgrade that changes what a source
receives shows up here as a diff. Regenerate with FEDQ_UPDATE_SNAPSHOTS=1 after reviewing it. A missing
snapshot fails under CI=true (deleting the file must not make the test pass); locally it is written
and the test is skipped with a message to review and commit it."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pytest

import fedq

SNAPSHOTS = Path(__file__).parent / "snapshots" / "remote_sql.json"
QUERIES = {
    "filters": "SELECT id, name FROM {t} WHERE id BETWEEN 2 AND 9 AND name > 'B' AND amount IS NOT NULL",
    "in_list_and_or": "SELECT id FROM {t} WHERE id IN (1, 2, 3) OR (amount < -1.5 AND NOT name = 'x')",
    "top_n_text_nulls_first": "SELECT name, id FROM {t} ORDER BY name DESC NULLS FIRST, id LIMIT 3",
    "group_having_split": "SELECT name, avg(amount) AS a, count(*) AS n FROM {t} GROUP BY name HAVING count(*) > 1 ORDER BY 1",
    "self_join_distinct": "SELECT DISTINCT a.name FROM {t} a JOIN {t} b ON a.id = b.id + 1 WHERE b.amount >= 0",
    "union_all": "SELECT id FROM {t} WHERE id < 3 UNION ALL SELECT id FROM {t} WHERE id > 8",
    "date_interval": "SELECT id FROM {t} WHERE day >= DATE '2024-01-01' + INTERVAL 1 MONTH",
    "like": "SELECT id FROM {t} WHERE name LIKE 'a%' AND id > 0",
    "parameters": "SELECT id FROM {t} WHERE id > ? AND name = ?",
}
PARAMS = {"parameters": [1, "Ann"]}
ROWS = [(i, name, amount, f"2024-0{1 + i % 9}-01") for i, name, amount in
        [(1, "Ann", 1.5), (2, "bob", -2.0), (3, "Émile", None), (4, None, 0.0), (5, "Ann", 3.25)]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory, pg_dsn, pg_admin_dsn):
    root = tmp_path_factory.mktemp("snap")
    with sqlite3.connect(root / "s.sqlite") as con:
        con.execute("CREATE TABLE t (id INTEGER, name TEXT, amount REAL, day DATE)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    with duckdb.connect(str(root / "d.duckdb")) as con:
        con.execute("CREATE TABLE t (id INTEGER, name VARCHAR, amount DOUBLE, day DATE)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_snap CASCADE")
        cur.execute("CREATE SCHEMA fedq_snap")
        try:
            cur.execute("CREATE TABLE fedq_snap.t (id integer, name text, amount double precision, day date)")
            for row in ROWS:
                cur.execute("INSERT INTO fedq_snap.t VALUES ($1, $2, $3, $4::date)", row)
            yield {"sqlite": ("lite", "sqlite", {"path": str(root / "s.sqlite")}, "lite.t"),
                   "duckdb": ("duck", "duckdb", {"path": str(root / "d.duckdb"), "reader": "arrow"}, "duck.t"),
                   "postgres": ("pg", "postgres", {"dsn": pg_dsn}, "pg.fedq_snap.t")}
        finally:
            cur.execute("DROP SCHEMA IF EXISTS fedq_snap CASCADE")


def _remote_sql(sources) -> dict[str, dict[str, list[str]]]:
    result: dict[str, dict[str, list[str]]] = {}
    for dialect, (name, kind, options, table) in sources.items():
        for pushdown in (True, False):
            con = fedq.connect(pushdown=pushdown)
            con.attach(name, kind, **options)
            for label, sql in QUERIES.items():
                con.execute(sql.format(t=table), PARAMS.get(label)).fetchall()
                if pushdown:
                    result.setdefault(dialect, {})[label] = list(con.source(name).statements)
                    con.source(name).statements.clear()
            con.close()
    return result


def check_snapshot(actual: dict, path: Path) -> None:
    """``actual`` must equal the snapshot at ``path``. FEDQ_UPDATE_SNAPSHOTS=1 rewrites it; a missing one
    fails under CI=true and is written locally (the test then skips, asking for a review)."""
    if os.environ.get("FEDQ_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    elif not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"snapshot {path} is missing: regenerate it locally with FEDQ_UPDATE_SNAPSHOTS=1, review the "
                        "remote SQL and commit it (CI=true never writes snapshots)", pytrace=False)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        pytest.skip(f"snapshot {path} was missing and has been written: review the remote SQL in it and commit it")
    assert actual == json.loads(path.read_text())


def test_remote_sql_matches_the_snapshots(sources):
    check_snapshot(_remote_sql(sources), SNAPSHOTS)


SAMPLE = {"sqlite": {"filters": ["SELECT 1"]}}


def test_a_missing_snapshot_fails_under_ci_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("FEDQ_UPDATE_SNAPSHOTS", raising=False)
    with pytest.raises(pytest.fail.Exception, match=r"snapshot .*missing\.json is missing: regenerate it locally"):
        check_snapshot(SAMPLE, tmp_path / "missing.json")
    assert not (tmp_path / "missing.json").exists()


def test_a_missing_snapshot_is_written_locally_and_the_test_skips_asking_for_review(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "false")
    monkeypatch.delenv("FEDQ_UPDATE_SNAPSHOTS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="was missing and has been written: review"):
        check_snapshot(SAMPLE, tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text()) == SAMPLE
    check_snapshot(SAMPLE, tmp_path / "new.json")  # now it is there, and equal
    with pytest.raises(AssertionError):
        check_snapshot({"sqlite": {"filters": ["SELECT 2"]}}, tmp_path / "new.json")


@pytest.mark.parametrize("label", sorted(QUERIES))
@pytest.mark.parametrize("dialect", ["sqlite", "duckdb", "postgres"])
def test_snapshot_queries_give_the_same_rows_with_pushdown_off(sources, dialect, label):
    name, kind, options, table = sources[dialect]
    results = []
    for pushdown in (True, False):
        with fedq.connect(pushdown=pushdown) as con:
            con.attach(name, kind, **options)
            rows = con.execute(QUERIES[label].format(t=table), PARAMS.get(label)).fetchall()
            results.append(rows if "ORDER BY" in QUERIES[label] else sorted(rows, key=repr))
    assert results[0] == results[1]
