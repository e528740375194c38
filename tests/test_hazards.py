"""Regression tests for docs/PUSHDOWN_HAZARDS.md rules 5 (NULL order), 9 (time zones),
11 (LIMIT placement) and 12 (outer-join ON predicates), plus the text-collation, LIKE and NaN
rules the capability table relies on. Every query runs with pushdown on and off; rows must match,
and what reached the source is asserted."""
from __future__ import annotations

import datetime as dt
import sqlite3

import adbc_driver_postgresql.dbapi as pgdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fedq
from cleanup import drop_pg_schemas

SCHEMA = "fedq_hazards"


@pytest.fixture(scope="module")
def setup(request, pg_dsn, pg_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    root = tmp_path_factory.mktemp("hazards")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.t (id integer, v integer, name text, f double precision, "
                    "naive timestamp, zoned timestamptz)")
        cur.execute(
            f"INSERT INTO {SCHEMA}.t VALUES "
            "(1, 10, 'apple', 1.5, '2024-03-31 01:30:00', '2024-03-31 01:30:00+00'),"
            "(2, NULL, 'Banana', 'NaN', '2024-03-31 02:30:00', '2024-03-31 02:30:00+02'),"
            "(3, -5, 'Émile', '-Infinity', NULL, '2024-10-27 00:59:59-05'),"
            "(4, 0, NULL, 'Infinity', '2024-01-01 00:00:00', NULL),"
            "(5, 7, 'a_b', NULL, '2023-12-31 23:59:59', '2023-12-31 23:59:59+00'),"
            "(6, NULL, 'a\\b', 0, '2024-06-01 12:00:00', '2024-06-01 12:00:00+09'),"
            "(7, 3, 'zebra', -0.5, '2024-02-29 00:00:00', '2024-02-29 00:00:00-08')"
        )
        cur.execute(f"CREATE TABLE {SCHEMA}.o (id integer, cust integer, total integer, note text)")
        cur.execute(f"INSERT INTO {SCHEMA}.o VALUES (1, 1, 50, 'x'), (2, 1, 150, NULL), (3, 2, 300, 'y'), "
                    "(4, 3, 20, NULL), (5, 9, 500, 'orphan')")
    crm = root / "crm.sqlite"
    with sqlite3.connect(crm) as con:
        con.execute("CREATE TABLE c (id INTEGER, name TEXT, v INTEGER)")
        con.executemany("INSERT INTO c VALUES (?, ?, ?)",
                        [(1, "Ann", 3), (2, "bob", None), (3, "Émile", 1), (4, None, 2), (5, "ann", None)])
    lake = root / "lake"
    lake.mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3, 4, 5], "x": [1.0, float("nan"), float("inf"), None, -2.0]}), lake / "f.parquet")
    return {"dsn": pg_dsn, "crm": str(crm), "lake": str(lake)}


def _connect(setup, pushdown=True) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    con.attach("pg", "postgres", dsn=setup["dsn"])
    con.attach("crm", "sqlite", path=setup["crm"])
    con.attach("lake", "files", url=setup["lake"], reader="arrow")  # pins the pyarrow filter semantics
    return con


def _run(setup, sql: str, params=None, ordered: bool = True):
    """Rows with pushdown on (and what each source received) after checking them against pushdown off."""
    with _connect(setup) as on, _connect(setup, pushdown=False) as off:
        pushed = on.execute(sql, params).fetchall()
        local = off.execute(sql, params).fetchall()
        sent = {name: list(on.source(name).statements) for name in ("pg", "crm", "lake")}
    key = lambda row: tuple((v is None, repr(v)) for v in row)  # noqa: E731
    assert (pushed if ordered else sorted(pushed, key=key)) == (local if ordered else sorted(local, key=key))
    return pushed, sent


# -- rule 5: NULL ordering ------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("nulls", ["NULLS FIRST", "NULLS LAST", ""])
@pytest.mark.parametrize("table", ["pg.fedq_hazards.t", "crm.c"])
def test_rule5_null_order_in_pushed_top_n(setup, table, direction, nulls):
    sql = f"SELECT id, v FROM {table} ORDER BY v {direction} {nulls}, id LIMIT 4"
    rows, sent = _run(setup, sql)
    source = "pg" if table.startswith("pg") else "crm"
    (statement,) = sent[source]
    assert "LIMIT 4" in statement  # the Top-N was pushed ...
    nulls_first = nulls == "NULLS FIRST"
    assert (rows[0][1] is None) == nulls_first  # ... and NULLs land where DuckDB puts them


# -- rule 9: time zones ----------------------------------------------------------------------
def test_rule9_sessions_run_in_utc_and_instants_come_back_as_utc(setup):
    with _connect(setup) as con:
        cursor = con.execute("SELECT zoned FROM pg.fedq_hazards.t WHERE id = 2")
        dtype = cursor.description[0][1]
        assert pa.types.is_timestamp(dtype) and dtype.tz in ("UTC", "Etc/UTC")
        assert cursor.fetchall() == [(dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.timezone.utc),)]
        connection = con.source("pg")._connect()
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('TimeZone'), current_setting('default_transaction_read_only')")
            assert cur.fetchall() == [("UTC", "on")]
        connection.close()


def test_rule9_naive_column_is_never_compared_with_a_zoned_literal_remotely(setup):
    sql = ("SELECT t.id FROM pg.fedq_hazards.t t JOIN crm.c c ON c.id = t.id "
           "WHERE t.naive > TIMESTAMPTZ '2024-03-31 01:00:00+02'")
    rows, sent = _run(setup, sql, ordered=False)
    assert "WHERE" not in sent["pg"][0]
    with _connect(setup) as con:
        plan = con.plan(sql)
    (scan,) = [f for f in plan.fragments if f.source.name == "pg"]
    assert scan.local_only and not scan.exact


def test_rule9_zoned_column_against_zoned_literal_is_pushed(setup):
    sql = ("SELECT t.id FROM pg.fedq_hazards.t t JOIN crm.c c ON c.id = t.id "
           "WHERE t.zoned >= TIMESTAMPTZ '2024-03-31 00:00:00+00'")
    rows, sent = _run(setup, sql, ordered=False)
    assert "WHERE" in sent["pg"][0]
    assert sorted(rows) == [(1,), (2,), (3,)]


# -- rule 11: LIMIT across filters and joins ----------------------------------------------------
def test_rule11_limit_not_pushed_when_a_filter_stays_local(setup):
    sql = "SELECT id FROM pg.fedq_hazards.t WHERE id % 2 = 1 ORDER BY id LIMIT 2"  # % is never pushed
    rows, sent = _run(setup, sql)
    assert rows == [(1,), (3,)]
    assert "LIMIT" not in sent["pg"][0]


def test_rule11_limit_not_pushed_below_a_cross_source_join(setup):
    sql = "SELECT o.id, c.name FROM pg.fedq_hazards.o o JOIN crm.c c ON c.id = o.cust ORDER BY o.id LIMIT 2"
    rows, sent = _run(setup, sql)
    assert rows == [(1, "Ann"), (2, "Ann")]
    assert all("LIMIT" not in s for s in sent["pg"] + sent["crm"])


def test_rule11_filter_above_a_limit_is_not_merged_into_it(setup):
    sql = "SELECT s.id FROM (SELECT id, v FROM pg.fedq_hazards.t ORDER BY id LIMIT 4) s WHERE s.v > 0 ORDER BY s.id"
    rows, sent = _run(setup, sql)
    assert rows == [(1,)]  # ids 1..4 first, then v > 0 — not the first four rows with v > 0
    (statement,) = sent["pg"]
    inner = statement[statement.index("(") : statement.rindex(")")]
    assert "LIMIT 4" in inner and '"v" > 0' not in inner


def test_rule11_offset_is_applied_locally_after_a_pushed_limit(setup):
    sql = "SELECT id FROM pg.fedq_hazards.t ORDER BY id LIMIT 2 OFFSET 3"
    rows, sent = _run(setup, sql)
    assert rows == [(4,), (5,)]
    assert sent["pg"][0].endswith("LIMIT 5") and "OFFSET" not in sent["pg"][0]


def test_rule11_file_scans_never_take_a_limit(setup):
    rows, sent = _run(setup, "SELECT id FROM lake.f WHERE x < 5 ORDER BY id LIMIT 1")
    assert rows == [(1,)]
    assert "limit" not in sent["lake"][0].lower()


# -- rule 12: outer-join ON predicates -------------------------------------------------------------
def test_rule12_on_predicate_pushed_only_to_the_nullable_side(setup):
    sql = ("SELECT c.id, o.id FROM crm.c c LEFT JOIN pg.fedq_hazards.o o "
           "ON o.cust = c.id AND o.total > 100 AND c.name = 'Ann'")
    rows, sent = _run(setup, sql, ordered=False)
    assert sent["pg"][0].endswith('WHERE "total" > 100')
    assert "WHERE" not in sent["crm"][0]  # the preserved side keeps every row
    assert sorted(rows, key=lambda r: (r[0], r[1] or 0)) == [(1, 2), (2, None), (3, None), (4, None), (5, None)]


def test_rule12_where_on_the_nullable_side_is_not_pushed(setup):
    sql = "SELECT c.id FROM crm.c c LEFT JOIN pg.fedq_hazards.o o ON o.cust = c.id WHERE o.note IS NULL"
    rows, sent = _run(setup, sql, ordered=False)
    assert "WHERE" not in sent["pg"][0]
    assert sorted(rows) == [(1,), (3,), (4,), (5,)]


def test_rule12_full_join_on_predicates_stay_local(setup):
    sql = "SELECT c.id, o.id FROM crm.c c FULL JOIN pg.fedq_hazards.o o ON o.cust = c.id AND o.total > 100"
    rows, sent = _run(setup, sql, ordered=False)
    assert "WHERE" not in sent["pg"][0] and "WHERE" not in sent["crm"][0]
    assert len(rows) == 8  # two matches, three unmatched on each side


# -- collation, LIKE and NaN rules the capability table relies on -----------------------------------
def test_text_ranges_and_min_max_use_code_point_order(setup):
    rows, sent = _run(setup, "SELECT min(name), max(name), count(*) FROM pg.fedq_hazards.t WHERE name > 'Z'")
    assert rows == [("a\\b", "Émile", 5)]  # code-point order: 'a…' and 'É…' sort after 'Z'
    assert sent["pg"][0].count('COLLATE "C"') == 4


def test_like_gets_an_explicit_escape_at_postgres(setup):
    sql = "SELECT DISTINCT t.id FROM pg.fedq_hazards.t t JOIN lake.f f ON f.id <= t.id WHERE t.name LIKE 'a\\%'"
    rows, sent = _run(setup, sql, ordered=False)
    assert "ESCAPE ''" in sent["pg"][0]
    assert rows == [(6,)]


def test_like_is_not_pushed_to_sqlite(setup):
    rows, sent = _run(setup, "SELECT id FROM crm.c WHERE name LIKE 'a%' ORDER BY id")
    assert rows == [(5,)]  # SQLite's LIKE would also match 'Ann'
    assert "LIKE" not in sent["crm"][0]


def test_float_comparisons_keep_nan_semantics_in_files(setup):
    rows, sent = _run(setup, "SELECT id FROM lake.f WHERE x > 0 ORDER BY id")
    assert rows == [(1,), (2,), (3,)]  # DuckDB: NaN is greater than every number
    assert "filter" not in sent["lake"][0]


def test_float_comparisons_with_nan_are_pushed_to_postgres(setup):
    rows, sent = _run(setup, "SELECT id FROM pg.fedq_hazards.t WHERE f > 1 ORDER BY id")
    assert rows == [(1,), (2,), (4,)]
    assert '"f" > 1' in sent["pg"][0]


@pytest.mark.parametrize("join", ["RIGHT", "FULL"])
def test_rule12_where_on_the_from_table_of_a_right_or_full_join_is_not_pushed(setup, join):
    sql = f"SELECT c.id, o.id FROM crm.c c {join} JOIN pg.fedq_hazards.o o ON o.cust = c.id WHERE c.id IS NULL OR c.id < 2"
    rows, sent = _run(setup, sql, ordered=False)
    assert "WHERE" not in sent["crm"][0]
    assert sorted(rows, key=lambda r: (r[0] or 0, r[1])) == [(None, 5), (1, 1), (1, 2)]


def test_explain_says_why_each_filter_and_subquery_stays_local(setup):
    sql = ("SELECT t.id FROM pg.fedq_hazards.t t JOIN crm.c c ON c.id = t.id JOIN lake.f f ON f.id = t.id "
           "WHERE t.v % 2 = 1 AND c.name LIKE 'A%' AND f.x > 0 AND t.naive > TIMESTAMPTZ '2024-01-01 00:00:00+00'")
    with _connect(setup) as con:
        plan = con.plan(sql)
    local = {f.source.name: f.local_only for f in plan.fragments}
    assert local["pg"] == [
        '"v" % 2 = 1 (not pushed: Mod is not on the postgres allowlist)',
        "\"naive\" > CAST('2024-01-01 00:00:00+00' AS TIMESTAMPTZ) "
        "(not pushed: comparison between a naive timestamp and a zoned value (hazard 9))",
    ]
    assert local["crm"] == ["\"name\" LIKE 'A%' (not pushed: Like is not on the sqlite allowlist)"]
    assert local["lake"] == ['"x" > 0 (not pushed: no Arrow filter has DuckDB\'s meaning for it (NaN order, view types, casts))']
    assert any("joins sources crm, lake, pg" in note for note in plan.notes)


def test_bound_values_are_not_rounded_or_truncated_by_a_cast_at_the_source(setup):
    import datetime as dt

    rows, sent = _run(setup, "SELECT id FROM pg.fedq_hazards.t WHERE v = ?", [2.5], ordered=False)
    assert rows == [] and sent["pg"][-1].endswith('"v" = $1')  # CAST(2.5 AS INT) would match v = 2 or 3
    rows, sent = _run(setup, "SELECT id FROM pg.fedq_hazards.t WHERE naive < ? ORDER BY id",
                      [dt.datetime(2024, 1, 1, 12)])
    assert rows == [(4,), (5,)]
    rows, _ = _run(setup, "SELECT id FROM pg.fedq_hazards.t WHERE v = ?", [7])
    assert rows == [(5,)]


def test_parenthesized_set_operation_operands(setup):
    sql = ("(SELECT id FROM crm.c ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM crm.c ORDER BY id DESC LIMIT 1) "
           "ORDER BY 1")
    rows, _ = _run(setup, sql)
    assert rows == [(1,), (2,), (5,)]
    pg = sql.replace("crm.c", "pg.fedq_hazards.t")
    rows, sent = _run(setup, pg)
    assert rows == [(1,), (2,), (7,)] and "UNION ALL" in sent["pg"][0]
