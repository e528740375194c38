"""Issue 5 acceptance: a GROUP BY over a 1-million-row MariaDB table joined with a 25-row SQLite
table moves at most (groups x join keys) rows from MariaDB, and answers like pushdown off."""
from __future__ import annotations

import sqlite3

import pymysql
import pytest

import fedq
from fedq.sources.mysql import _parse_dsn
from cleanup import drop_mysql_tables

ROWS, KEYS = 1_000_000, 25


@pytest.fixture(scope="module")
def setup(request, mysql_dsn, mysql_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, "fedq_big_sales"))
    with pymysql.connect(**_parse_dsn(mysql_admin_dsn), autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_big_sales")
        cur.execute("CREATE TABLE fedq_big_sales (id INT PRIMARY KEY, store_id INT, channel INT, amount DECIMAL(10,2))")
        cur.execute(f"INSERT INTO fedq_big_sales SELECT seq, seq % {KEYS}, seq % 3, (seq % 1000) / 10 FROM seq_1_to_{ROWS}")
    path = tmp_path_factory.mktemp("stores") / "stores.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE stores (id INTEGER, region TEXT)")
        con.executemany("INSERT INTO stores VALUES (?, ?)", [(i, ["north", "south", "east", "west"][i % 4]) for i in range(KEYS)])
    return mysql_dsn, str(path)


SQL = """
SELECT s.region, f.channel, count(*) AS sales, sum(f.amount) AS revenue, avg(f.amount) AS mean, max(f.amount) AS top
FROM my.fedq_big_sales f JOIN crm.stores s ON s.id = f.store_id
GROUP BY s.region, f.channel ORDER BY 1, 2
"""


def _connect(setup, pushdown: bool) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    con.attach("my", "mysql", dsn=setup[0])
    con.attach("crm", "sqlite", path=setup[1])
    return con


def test_group_by_over_a_million_rows_moves_only_groups_times_join_keys(setup):
    with _connect(setup, True) as con:
        cursor = con.execute(SQL)
        pushed = cursor.fetchall()
        (fragment,) = [f for f in cursor.plan.fragments if f.source.name == "my"]
        assert "GROUP BY" in fragment.remote
        groups_times_keys = 3 * KEYS
        assert fragment.stats.rows <= groups_times_keys
    with _connect(setup, False) as con:
        assert con.execute(SQL).fetchall() == pushed
    assert len(pushed) == 12
