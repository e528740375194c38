"""The plan cache (engine/plan_cache.py): a repeated ``execute(sql, params)`` reuses its plan with the
new values bound and gives the rows a fresh plan gives; anything the plan depends on (REFRESH,
ANALYZE, ATTACH/DETACH, views, a schema change, settings, the values' types) plans again."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fedq.engine.plan_cache import PlanCache, signature

import fedq

JOIN = ("SELECT c.name, sum(o.amount) AS total FROM lake.orders o JOIN lite.customers c ON c.id = o.customer_id "
        "WHERE c.id <= ? AND o.amount > ? GROUP BY c.name ORDER BY c.name")


@pytest.fixture
def places(tmp_path):
    """Customers in SQLite, orders in Parquet (enough rows for a dynamic filter)."""
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(i, f"c{i:03d}", i / 4) for i in range(1, 201)])
    (tmp_path / "lake").mkdir()
    pq.write_table(pa.table({"id": list(range(4000)), "customer_id": [i % 200 + 1 for i in range(4000)],
                             "amount": [Decimal(i % 97) / 4 for i in range(4000)]}), tmp_path / "lake" / "orders.parquet")
    return {"lite": str(path), "lake": str(tmp_path / "lake")}


def _connect(places: dict[str, str], **settings) -> fedq.Connection:
    con = fedq.connect(home=False, **settings)
    con.attach("lite", "sqlite", path=places["lite"])
    con.attach("lake", "files", url=places["lake"])
    return con


def _fresh_rows(places: dict[str, str], sql: str, params) -> list[tuple]:
    """The rows a connection that has never seen the statement gives."""
    with _connect(places) as con:
        return con.execute(sql, params).fetchall()


@pytest.mark.parametrize("sql, values", [
    ("SELECT id, name FROM lite.customers WHERE id BETWEEN ? AND ? ORDER BY id", [(3, 9), (150, 152), (7, 2)]),
    (JOIN, [(10, Decimal("15.00")), (180, Decimal("20.25")), (1, Decimal("13.50"))]),  # one DECIMAL(4,2) signature
    ("SELECT name FROM lite.customers WHERE name = ? OR id = ?", [("c007", 9), ("c100", 100), ("none", -1)]),
])
def test_a_hit_gives_the_rows_of_a_fresh_plan(places, sql, values):
    with _connect(places) as con:
        for index, params in enumerate(values):
            cursor = con.execute(sql, list(params))
            assert cursor.fetchall() == _fresh_rows(places, sql, list(params)), params
            assert con._plans.hits == index  # the first execution planned, every later one reused
        assert con._plans.misses == 1


def test_a_hit_binds_the_new_values_at_the_source(places):
    sql = "SELECT id FROM lite.customers WHERE id > ? AND score < ?"
    with _connect(places) as con:
        con.execute(sql, [10, 4.0]).fetchall()
        cursor = con.execute(sql, [20, 6.0])
        assert cursor.fetchall() == [(i,) for i in range(21, 24)]
        assert cursor.plan.fragments[0].remote_params == (20, 6.0)
        assert con._plans.hits == 1


def test_dynamic_filters_are_decided_again_on_every_run(places, tmp_path):
    shop = tmp_path / "shop.sqlite"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
        db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i % 200 + 1) for i in range(4000)])
    sql = "SELECT o.id, c.name FROM lite.customers c JOIN shop.orders o ON o.customer_id = c.id WHERE c.id <= ? ORDER BY o.id"

    def connect() -> fedq.Connection:
        con = _connect(places)
        con.attach("shop", "sqlite", path=str(shop))
        return con

    with connect() as con, connect() as fresh:
        runs = []
        for limit in (5, 150):
            cursor = con.execute(sql, [limit])
            assert cursor.fetchall() == fresh.execute(sql, [limit]).fetchall() != []
            fresh.refresh()  # plans again on every run: the reference
            dynamic = [f.dynamic for f in cursor.plan.fragments if f.dynamic is not None]
            assert len(dynamic) == 1, [f.remote for f in cursor.plan.fragments]
            runs.append(dynamic[0])
        assert con._plans.hits == 1
        assert [d.keys for d in runs] == [5, 150] and runs[0] is not runs[1]


@pytest.mark.parametrize("first, other", [
    (5, "5"),  # a string compared with an integer column is cast by DuckDB, never pushed
    (5, 2**40),  # INTEGER vs BIGINT
    (5, 5.0),
    (Decimal("1.5"), Decimal("12.25")),  # DECIMAL(2,1) vs DECIMAL(4,2)
    ("2024-01-02", "abc"),  # an ISO date string counts as a time, others as text
    (dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)),
    (None, 5),
])
def test_values_of_another_type_do_not_reuse_a_plan(places, first, other):
    sql = "SELECT id, ? AS given FROM lite.customers WHERE id < 3 ORDER BY id"
    assert signature([first]) != signature([other])
    with _connect(places) as con:
        con.execute(sql, [first]).fetchall()
        rows = con.execute(sql, [other]).fetchall()
        assert con._plans.hits == 0 and con._plans.misses == 2
        assert rows == _fresh_rows(places, sql, [other])


def test_refresh_analyze_and_register_plan_again(places):
    sql = "SELECT count(*) FROM lite.customers WHERE id > ?"
    with _connect(places) as con:
        for statement in ("REFRESH", "REFRESH lite", "ANALYZE lite.customers"):
            con.execute(sql, [1]).fetchall()
            assert len(con._plans) == 1
            con.execute(statement)
            assert len(con._plans) == 0, statement
        con.execute(sql, [1]).fetchall()
        con.register("extra", pa.table({"x": [1]}))
        assert len(con._plans) == 0


def test_detach_and_attach_of_another_source_plans_again(places, tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        db.execute("INSERT INTO customers VALUES (1, 'only', 0.5)")
    sql = "SELECT name FROM lite.customers WHERE id = ?"
    with _connect(places) as con:
        assert con.execute(sql, [1]).fetchall() == [("c001",)]
        con.execute("DETACH lite")
        con.execute(f"ATTACH '{other}' AS lite (TYPE sqlite)")
        assert con.execute(sql, [1]).fetchall() == [("only",)]
        assert con._plans.hits == 0


def test_a_changed_view_plans_again(places):
    sql = "SELECT n FROM v WHERE n > ? ORDER BY n"
    with _connect(places) as con:
        con.execute("CREATE TEMP VIEW v AS SELECT id AS n FROM lite.customers WHERE id <= 3")
        assert con.execute(sql, [1]).fetchall() == [(2,), (3,)]
        con.execute("CREATE OR REPLACE TEMP VIEW v AS SELECT id * 10 AS n FROM lite.customers WHERE id <= 3")
        assert con.execute(sql, [1]).fetchall() == [(10,), (20,), (30,)]
        con.execute("DROP VIEW v")
        with pytest.raises(fedq.ProgrammingError):
            con.execute(sql, [1])


def test_a_schema_change_plans_again(places):
    sql = "SELECT * FROM lite.customers WHERE id = ?"
    with _connect(places) as con:
        assert con.execute(sql, [2]).fetchall() == [(2, "c002", 0.5)]
        with sqlite3.connect(places["lite"]) as db:
            db.execute("ALTER TABLE customers ADD COLUMN tier TEXT DEFAULT 'gold'")
        con.execute("REFRESH lite")  # what the metadata TTL running out does, now
        assert con.execute(sql, [2]).fetchall() == [(2, "c002", 0.5, "gold")]
        assert con._plans.hits == 0


def test_an_expired_schema_is_read_again_before_a_hit(places):
    sql = "SELECT * FROM lite.customers WHERE id = ?"
    with fedq.connect(home=False) as con:
        con.attach("lite", "sqlite", path=places["lite"], metadata_ttl=0)
        assert con.execute(sql, [2]).fetchall() == [(2, "c002", 0.5)]
        with sqlite3.connect(places["lite"]) as db:
            db.execute("ALTER TABLE customers ADD COLUMN tier TEXT DEFAULT 'gold'")
        assert con.execute(sql, [2]).fetchall() == [(2, "c002", 0.5, "gold")]
        assert con._plans.hits == 0


def test_settings_are_part_of_the_key(places):
    sql = "SELECT id FROM lite.customers WHERE id < ? ORDER BY id"
    with _connect(places) as con:
        con.execute(sql, [3]).fetchall()
        con.pushdown = False
        cursor = con.execute(sql, [3])
        assert cursor.fetchall() == [(1,), (2,)]
        assert cursor.plan.fragments[0].request.filters == ()  # planned again, nothing pushed
        assert con._plans.hits == 0


def test_values_that_cannot_be_told_apart_are_not_kept(places):
    sql = "SELECT id FROM lite.customers WHERE id >= ? AND id <= ? ORDER BY id"
    same = 7
    with _connect(places) as con:
        assert con.execute(sql, [same, same]).fetchall() == [(7,)]
        assert len(con._plans) == 0
        assert con.execute(sql, [3, 4]).fetchall() == [(3,), (4,)]


def test_other_statements_are_not_cached(places):
    with fedq.connect(home=False) as con:
        con.attach("lite", "sqlite", path=places["lite"], passthrough=True)
        con.execute("EXPLAIN SELECT id FROM lite.customers WHERE id = ?", [1]).fetchall()
        con.execute("SELECT * FROM query('lite', 'SELECT id FROM customers WHERE id = 1')").fetchall()
        assert len(con._plans) == 0


def test_the_cache_is_bounded(places):
    with _connect(places) as con:
        con._plans = PlanCache(size=2)
        for n in range(4):
            con.execute(f"SELECT id FROM lite.customers WHERE id = ? + {n}", [1]).fetchall()
        assert len(con._plans) == 2
        con.execute("SELECT id FROM lite.customers WHERE id = ? + 3", [1]).fetchall()
        assert con._plans.hits == 1
