"""PostgreSQL json and jsonb columns read as text with pushdown on and off.

ADBC hands json/jsonb over as the canonical ``arrow.json`` extension type, which is not a
``pa.ExtensionType``: a full scan (pushdown off) once reported "returned an unexpected schema"
where the pushed query answered. Both paths must give the rows DuckDB gives for the same text.
"""
from __future__ import annotations

import psycopg
import pytest

import fedq
from cleanup import drop_pg_schemas

SCHEMA = "fedq_pgjson"
ROWS = [(1, '{"a": 1, "b": [true, null]}', '[1, "é"]'), (2, None, None), (3, '"text"', "{}")]


@pytest.fixture(scope="module")
def json_table(pg_admin_dsn: str):
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {SCHEMA}")
        admin.execute(f"CREATE TABLE {SCHEMA}.docs (id int, jb jsonb, js json)")
        with admin.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {SCHEMA}.docs VALUES (%s, %s, %s)", ROWS)
    yield
    drop_pg_schemas(pg_admin_dsn, SCHEMA)


@pytest.mark.parametrize("pushdown", [True, False], ids=["pushdown", "local"])
@pytest.mark.parametrize("sql", [
    f"SELECT * FROM pg.{SCHEMA}.docs ORDER BY id",
    f"SELECT id, js FROM pg.{SCHEMA}.docs WHERE id > 1 ORDER BY id",
    f"SELECT count(jb), count(js) FROM pg.{SCHEMA}.docs",
])
def test_json_columns_read_the_same_with_pushdown_on_and_off(json_table, pg_dsn: str, pushdown: bool, sql: str):
    with fedq.connect(home=False, pushdown=pushdown) as con:
        con.attach("pg", "postgres", dsn=pg_dsn)
        got = con.execute(sql).fetchall()
    with fedq.connect(home=False, pushdown=not pushdown) as con:
        con.attach("pg", "postgres", dsn=pg_dsn)
        other = con.execute(sql).fetchall()
    assert got == other
    if sql.startswith("SELECT *"):
        assert [row[0] for row in got] == [1, 2, 3] and got[1][1:] == (None, None)
        assert '"é"' in got[0][2] and got[2][1] == '"text"'
