"""Remote SQL snapshots per dialect (hazard 18): a sqlglot upgrade that changes what a source
receives shows up here as a diff. Regenerate with FEDQ_UPDATE_SNAPSHOTS=1 after reviewing it."""
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
        cur.execute("CREATE TABLE fedq_snap.t (id integer, name text, amount double precision, day date)")
        for row in ROWS:
            cur.execute("INSERT INTO fedq_snap.t VALUES ($1, $2, $3, $4::date)", row)
    return {"sqlite": ("lite", "sqlite", {"path": str(root / "s.sqlite")}, "lite.t"),
            "duckdb": ("duck", "duckdb", {"path": str(root / "d.duckdb")}, "duck.t"),
            "postgres": ("pg", "postgres", {"dsn": pg_dsn}, "pg.fedq_snap.t")}


def _remote_sql(sources) -> dict[str, dict[str, list[str]]]:
    result: dict[str, dict[str, list[str]]] = {}
    for dialect, (name, kind, options, table) in sources.items():
        for pushdown in (True, False):
            con = fedq.connect(pushdown=pushdown)
            con.attach(name, kind, **options)
            rows = {}
            for label, sql in QUERIES.items():
                text = sql.format(t=table)
                rows[pushdown] = con.execute(text, PARAMS.get(label)).fetchall()
                if pushdown:
                    result.setdefault(dialect, {})[label] = list(con.source(name).statements)
                    con.source(name).statements.clear()
            con.close()
    return result


def test_remote_sql_matches_the_snapshots(sources):
    actual = _remote_sql(sources)
    if os.environ.get("FEDQ_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOTS.exists():
        SNAPSHOTS.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(SNAPSHOTS.read_text())


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
