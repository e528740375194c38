"""Result columns are named as the all-local DuckDB query names them, for the text the user wrote
(engine/column_names.py): sqlglot renders ``substr`` as SUBSTRING and VARCHAR as TEXT, DuckDB names
an unaliased expression after its own rendering of the user's text."""
from __future__ import annotations

import sqlite3

import duckdb
import pytest

import fedq

SHAPES = [
    "SELECT substr(name, 1, 2), CAST(id AS VARCHAR), id, name AS n FROM {t}",
    "SELECT string_agg(name, ',' ORDER BY name), count(*), sum(id) FROM {t}",
    "SELECT substr(name, 1, 1) FROM {t} UNION ALL SELECT name FROM {t}",
    "WITH c AS (SELECT id, name FROM {t}) SELECT id::varchar, upper(name) FROM c",
    "SELECT t.id + 1, (SELECT max(id) FROM {t}), CASE WHEN id > 2 THEN 'big' END FROM {t} AS t",
    "SELECT * FROM {t}",
    "SELECT id, lower(name) FROM {t} WHERE id > 1 ORDER BY id LIMIT 2",
]


@pytest.fixture
def places(tmp_path):
    rows = [(1, "Ann"), (2, None), (3, "bob"), (4, "Cy")]
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (id INTEGER, name TEXT)")
        con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    local = duckdb.connect()
    local.execute("CREATE SCHEMA s; CREATE TABLE s.t (id BIGINT, name VARCHAR)")  # the same text names the same table
    local.executemany("INSERT INTO s.t VALUES (?, ?)", rows)
    return path, local


@pytest.mark.parametrize("pushdown", [True, False], ids=["pushdown", "local"])
@pytest.mark.parametrize("sql", SHAPES)
def test_names_equal_duckdbs_for_the_text_as_written(places, sql, pushdown):
    path, local = places
    expected = [d[0] for d in local.execute(sql.format(t="s.t")).description]
    with fedq.connect(home=False, pushdown=pushdown) as con:
        con.attach("s", "sqlite", path=str(path))
        for _ in range(2):  # the second run comes from the plan cache
            cursor = con.execute(sql.format(t="s.t"))
            assert [d[0] for d in cursor.description] == expected
            assert cursor.fetch_arrow_table().column_names == expected


def test_a_bound_value_is_named_as_duckdb_names_it(places):
    path, local = places
    sql = "SELECT substr(name, 1, ?) FROM s.t"
    with fedq.connect(home=False) as con:
        con.attach("s", "sqlite", path=str(path))
        assert [d[0] for d in con.execute(sql, [1]).description] == [d[0] for d in local.execute(sql, [1]).description]
