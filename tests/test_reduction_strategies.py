"""Dynamic-filter reduction strategies (engine/reduction.py) and the join order fedq writes for
DuckDB (engine/join_order.py), differentially: every query gives the same rows with pushdown on,
with dynamic_filtering=False, with pushdown=False, and in a DuckDB database holding all the data.

The probe side is a table in PostgreSQL (schema fedq_reduce; binds arrays) and in MariaDB
(fedq_reduce_facts; no arrays); the build side is in-memory data filtered by the query. Keys come
as integers, text, dates and decimals, with NULLs and duplicates on both sides. The thresholds are
lowered per test (module constants) so that a few dozen keys exercise every strategy.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pymysql
import pytest

import fedq
from fedq.engine import reduction
from fedq.sources.mysql import _parse_dsn
from cleanup import drop_mysql_tables, drop_pg_schemas

SCHEMA = "fedq_reduce"
ROWS = 3000
SPAN = 700  # facts' keys cycle through 0..SPAN-1


def _key(i: int) -> dict:
    return {"k_int": i, "k_text": f"t{i:04d}", "k_date": dt.date(2020, 1, 1) + dt.timedelta(days=i),
            "k_dec": Decimal(i) / 4}


def _facts() -> pa.Table:
    rows = []
    for i in range(1, ROWS + 1):
        key = _key(i % SPAN)
        if i % 97 == 0:
            key = {k: None for k in key}  # NULL join keys on the probe side
        rows.append({"id": i, **key, "k2": i % 3, "payload": f"p{i}"})
    schema = pa.schema([("id", pa.int32()), ("k_int", pa.int32()), ("k_text", pa.string()), ("k_date", pa.date32()),
                        ("k_dec", pa.decimal128(10, 2)), ("k2", pa.int32()), ("payload", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def _dims() -> pa.Table:
    rows = []
    for j in range(SPAN):
        rows.append({"j": j, **_key(j), "k2": j % 3, "grp": j % 7})
        if j % 10 == 0:
            rows.append({"j": j, **_key(j), "k2": (j + 1) % 3, "grp": 99})  # duplicate build keys
    rows.append({"j": 0, "k_int": None, "k_text": None, "k_date": None, "k_dec": None, "k2": None, "grp": 5})  # NULL key
    schema = pa.schema([("j", pa.int64()), ("k_int", pa.int64()), ("k_text", pa.string()), ("k_date", pa.date32()),
                        ("k_dec", pa.decimal128(10, 2)), ("k2", pa.int64()), ("grp", pa.int64())])
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture(scope="module")
def data(request, pg_dsn, mysql_dsn, pg_admin_dsn, mysql_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, "fedq_reduce_facts"))
    facts = _facts()
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.facts (id integer, k_int integer, k_text text, k_date date, "
                    "k_dec numeric(10,2), k2 integer, payload text)")
        cur.adbc_ingest("facts", facts, mode="append", db_schema_name=SCHEMA)
        cur.execute(f"ANALYZE {SCHEMA}.facts")
    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_reduce_facts")
        cur.execute("CREATE TABLE fedq_reduce_facts (id INT, k_int INT, k_text VARCHAR(20), k_date DATE, "
                    "k_dec DECIMAL(10,2), k2 INT, payload VARCHAR(20), INDEX (k_int))")
        cur.executemany("INSERT INTO fedq_reduce_facts VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [tuple(r.values()) for r in facts.to_pylist()])
        cur.execute("ANALYZE TABLE fedq_reduce_facts")
        cur.fetchall()
    reference = duckdb.connect()
    reference.register("facts_arrow", facts)
    reference.register("dims_arrow", _dims())
    reference.execute("CREATE TABLE facts AS SELECT * FROM facts_arrow; CREATE TABLE dims AS SELECT * FROM dims_arrow")
    yield {"pg": pg_dsn, "mysql": mysql_dsn, "reference": reference}
    reference.close()


@pytest.fixture
def small_limits(monkeypatch):
    """Lists of 8 keys, batches up to 40 keys, arrays up to 60 keys: dozens of keys reach every strategy."""
    monkeypatch.setattr(reduction, "IN_LIST_MAX_KEYS", 8)
    monkeypatch.setattr(reduction, "BATCHED_IN_MAX_KEYS", 40)
    monkeypatch.setattr(reduction, "ARRAY_MAX_KEYS", 60)


def _connect(data, **options) -> fedq.Connection:
    con = fedq.connect(home=False, **options)
    con.attach("pg", "postgres", dsn=data["pg"])
    con.attach("my", "mysql", dsn=data["mysql"])
    con.register("dims", _dims())
    return con


PROBES = {"pg": f"pg.{SCHEMA}.facts", "my": "my.fedq_reduce_facts"}


def _sql(probe: str, key: str, condition: str, columns: str = "f.id, f.payload, d.grp") -> str:
    return f"SELECT {columns} FROM {PROBES[probe]} f JOIN memory.dims d ON f.{key} = d.{key} WHERE {condition}"


def _reference_sql(sql: str) -> str:
    for name in PROBES.values():
        sql = sql.replace(name, "facts")
    return sql.replace("memory.dims", "dims")


def _normalize(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: json.dumps(r, default=str))


def _differential(data, sql: str) -> tuple[list[tuple], list[tuple]]:
    """Rows and EXPLAIN ANALYZE rows of ``sql``; asserts the four runs agree."""
    with _connect(data) as con:
        rows = _normalize(con.execute(sql).fetchall())
        analyzed = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
    for options in ({"dynamic_filtering": False}, {"pushdown": False}):
        with _connect(data, **options) as con:
            assert _normalize(con.execute(sql).fetchall()) == rows, options
    assert _normalize(data["reference"].execute(_reference_sql(sql)).fetchall()) == rows
    return rows, analyzed


def _dynamic(analyzed: list[tuple], source: str) -> tuple[str, int]:
    (row,) = [r for r in analyzed if r[1] == source]
    (text,) = [t for t in row[5].split(" AND ") if t.startswith("dynamic: ")] or [""]
    return text, row[7]


CASES = [
    # probe, key, build keys (d.j < n), expected strategy
    ("pg", "k_int", 5, "in-list"),
    ("pg", "k_text", 5, "in-list"),
    ("my", "k_date", 5, "in-list"),
    ("pg", "k_int", 30, "array"),
    ("pg", "k_text", 30, "array"),
    ("pg", "k_date", 30, "array"),
    ("pg", "k_dec", 30, "array"),
    ("my", "k_int", 30, "batched in-lists"),
    ("my", "k_text", 30, "batched in-lists"),
    ("my", "k_dec", 30, "batched in-lists"),
    ("my", "k_int", 50, "range"),
    ("my", "k_date", 50, "range"),
    ("pg", "k_int", 100, "range"),  # 0..99 spans 14% of the column's 0..699 (pg_stats)
    ("pg", "k_dec", 100, "range"),
    ("pg", "k_int", 500, "none"),  # 0..499 spans 71%: a range saves too little
    ("my", "k_text", 50, "none"),  # text: no list fits and no safe range
    ("pg", "k_int", 0, "empty"),
    ("my", "k_text", 0, "empty"),
]


@pytest.mark.parametrize("probe, key, keys, strategy", CASES, ids=[f"{p}-{k}-{n}-{s}" for p, k, n, s in CASES])
def test_strategy(data, small_limits, probe, key, keys, strategy):
    sql = _sql(probe, key, f"d.j < {keys}")
    rows, analyzed = _differential(data, sql)
    text, fetched = _dynamic(analyzed, probe)
    distinct = len({j for j in range(keys)})
    assert text.startswith(f"dynamic: {strategy} of {distinct} keys"), text
    joining = len({r[0] for r in rows})
    if strategy in ("in-list", "array", "batched in-lists", "empty"):
        assert fetched == joining  # exactly the probe rows that join
    elif strategy == "range":
        assert joining <= fetched < ROWS
    else:
        assert fetched == ROWS
    assert re.search(rf"{fetched} rows fetched, ~\d+ estimated without reduction", text) or probe == "my"


def test_array_is_one_bound_parameter(data, small_limits):
    with _connect(data) as con:
        con.execute(_sql("pg", "k_text", "d.j < 30")).fetchall()
        statement = con.source("pg").statements[-1]
    assert statement.endswith('WHERE CAST("k_text" AS TEXT) = ANY($1)')  # one bound array


def test_batches_are_one_statement_of_or_ed_lists(data, small_limits):
    with _connect(data) as con:
        con.execute(_sql("my", "k_int", "d.j < 30")).fetchall()
        statement = con.source("my").statements[-1]
    assert statement.count(" IN (") == 4 and statement.count(" OR ") == 3  # 30 keys: 8 + 8 + 8 + 6


def test_default_limits_send_700_keys_as_one_list(data):
    """Default limits: 700 distinct keys are one IN list (<= 1,000); PostgreSQL returns only joining rows."""
    rows, analyzed = _differential(data, _sql("pg", "k_int", "d.grp <> 99"))
    text, fetched = _dynamic(analyzed, "pg")
    assert text.startswith("dynamic: in-list of 700 keys") and fetched == len({r[0] for r in rows}) < ROWS


@pytest.mark.parametrize("probe", ["pg", "my"])
def test_multi_column_key_goes_as_row_values(data, small_limits, probe):
    """A two-column key goes as ``(k_int, k_text) IN ((…), …)`` where the source takes row values
    (PostgreSQL, MariaDB), batched above the list limit like single keys."""
    for keys, strategy in ((5, "in-list"), (30, "batched in-lists")):
        sql = (f"SELECT f.id, d.grp FROM {PROBES[probe]} f JOIN memory.dims d "
               f"ON f.k_int = d.k_int AND f.k_text = d.k_text WHERE d.j < {keys}")
        rows, analyzed = _differential(data, sql)
        text, fetched = _dynamic(analyzed, probe)
        assert text.startswith(f"dynamic: {strategy} of {keys} keys (on (k_int, k_text)"), text
        assert rows and fetched == len({r[0] for r in rows})


def test_multi_column_key_above_the_row_limit_reduces_on_its_most_selective_column(data, small_limits):
    """Over 40 composite keys (the lowered batch limit) fall back to one column's keys: the one with
    more distinct values (pg_stats: k_int 700, k2 3), whichever the ON clause names first."""
    sql = ("SELECT f.id, d.grp FROM pg.fedq_reduce.facts f JOIN memory.dims d "
           "ON f.k2 = d.k2 AND f.k_int = d.k_int WHERE d.j < 50")
    rows, analyzed = _differential(data, sql)
    text, fetched = _dynamic(analyzed, "pg")
    assert text.startswith("dynamic: array of 50 keys"), text
    assert rows and fetched == len([i for i in range(1, ROWS + 1) if i % SPAN < 50 and i % 97])


def test_sqlite_gets_one_column_of_a_composite_key(tmp_path):
    """SQLite takes row values only from a subquery: a composite key reduces on one column there."""
    import sqlite3

    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER, a INTEGER, b TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, i % 10, f"b{i % 3}") for i in range(100)])
    sql = "SELECT t.id FROM lite.t t JOIN memory.keys k ON k.a = t.a AND k.b = t.b WHERE k.flag = 1 ORDER BY 1"
    results = []
    for options in ({}, {"pushdown": False}):
        with fedq.connect(home=False, **options) as con:
            con.attach("lite", "sqlite", path=str(tmp_path / "c.sqlite"))
            con.register("keys", pa.table({"a": [1, 2, 3], "b": ["b1", "b2", "b0"], "flag": [1, 1, 0]}))
            results.append(con.execute(sql).fetchall())
            if options == {}:
                (statement,) = con.source("lite").statements
                assert statement.endswith('WHERE "a" IN (?1, ?2)')
    assert results[0] == results[1] == [(i,) for i in range(100) if (i % 10, i % 3) in ((1, 1), (2, 2))]


def test_duplicate_and_null_keys_join_like_duckdb(data, small_limits):
    # j % 10 == 0 rows appear twice in dims, NULL keys on both sides never join
    rows, _ = _differential(data, _sql("pg", "k_int", "d.j < 25 OR d.k_int IS NULL", "f.id, f.k_int, d.grp"))
    assert all(r[1] is not None for r in rows)
    assert len([r for r in rows if r[1] == 0]) == 2 * len([i for i in range(1, ROWS + 1) if i % SPAN == 0 and i % 97])


# -- join order and build sides ------------------------------------------------------------------
def _duckdb_build_side(plan, sql: str, materialized: dict[str, int]) -> str:
    """Which input DuckDB hashes ('facts' or 'dims') for ``sql`` over ``plan``'s views, when the views
    in ``materialized`` are registered as Arrow tables of that many rows (size known) and the others
    as streams (DuckDB: ~1 row), as the executor does."""
    database = duckdb.connect()
    for fragment in plan.fragments:
        if fragment.view in materialized:
            rows = [{n: None for n in fragment.schema.names}] * materialized[fragment.view]
            database.register(fragment.view, pa.Table.from_pylist(rows, schema=fragment.schema))
        else:
            database.register(fragment.view, pa.RecordBatchReader.from_batches(fragment.schema, []))
    node = json.loads(database.execute("EXPLAIN (FORMAT JSON) " + sql).fetchall()[0][1])[0]
    database.close()
    while "JOIN" not in node.get("name", ""):
        node = node["children"][0]
    build = json.dumps(node["children"][1])  # DuckDB's right child is the build side
    return "facts" if "payload" in build else "dims"


def test_join_order_puts_the_smaller_input_on_the_build_side(data, monkeypatch):
    from fedq.engine import planner

    monkeypatch.setattr(planner, "SMALL_TABLE_ROWS", 1000)  # facts (3,000 rows) stream, dims (771) would be a table
    sql = ("SELECT * FROM memory.dims d JOIN pg.fedq_reduce.facts f ON f.k_int = d.k_int")
    with _connect(data) as con:
        plan = con.cursor().execute("EXPLAIN " + sql).plan
        analyzed = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
    facts = next(f for f in plan.fragments if f.source.name == "pg")
    dims = next(f for f in plan.fragments if f.source.name == "memory")
    notes = analyzed[-1][6]
    assert "join order: f ~3000 rows (probe) ⋈ d ~771 (build)" in notes
    assert plan.local_sql.startswith(f"SELECT d.*, f.* FROM {facts.view} AS f JOIN {dims.view} AS d")
    assert not dims.small  # streamed like facts, so DuckDB's estimates tie and the written order holds
    assert _duckdb_build_side(plan, plan.local_sql, {}) == "dims"
    # before: dims as a table (its size known), facts as a stream (~1 row), written order: DuckDB hashed facts
    before = f"SELECT * FROM {dims.view} AS d JOIN {facts.view} AS f ON f.k_int = d.k_int"
    assert _duckdb_build_side(plan, before, {dims.view: 771}) == "facts"
    # and the written order alone would not do while dims is a table
    assert _duckdb_build_side(plan, plan.local_sql, {dims.view: 771}) == "facts"
    rows, _ = _differential(data, sql)
    with _connect(data) as con:
        cursor = con.execute(sql)
        assert [d[0] for d in cursor.description] == ["j", "k_int", "k_text", "k_date", "k_dec", "k2", "grp",
                                                      "id", "k_int", "k_text", "k_date", "k_dec", "k2", "payload"]


def test_join_order_keeps_outer_joins_as_written(data, monkeypatch):
    from fedq.engine import planner

    monkeypatch.setattr(planner, "SMALL_TABLE_ROWS", 1000)
    sql = "SELECT d.j, f.id FROM memory.dims d LEFT JOIN pg.fedq_reduce.facts f ON f.k_int = d.k_int"
    with _connect(data) as con:
        plan = con.cursor().execute("EXPLAIN " + sql).plan
    assert not any(n.startswith("join order") for n in plan.notes)
    _differential(data, sql)


def test_three_way_join_order_and_rows(data, monkeypatch, small_limits):
    from fedq.engine import planner

    monkeypatch.setattr(planner, "SMALL_TABLE_ROWS", 1000)
    sql = ("SELECT f.id, d.grp, m.payload FROM memory.dims d, pg.fedq_reduce.facts f, my.fedq_reduce_facts m "
           "WHERE f.k_int = d.k_int AND m.id = f.id AND d.grp = 3")
    with _connect(data) as con:
        plan = con.cursor().execute("EXPLAIN " + sql).plan
    (note,) = [n for n in plan.notes if n.startswith("join order")]
    # MariaDB's table (nothing narrows it) probes; facts (narrowed by d's keys) joins it; d joins facts only
    assert note.startswith("join order: m ~") and " ⋈ f ~" in note and note.split(" ⋈ ")[-1].startswith("d ~")
    assert plan.local_sql.startswith("SELECT f.id, d.grp, m.payload FROM ") and " AS m, " in plan.local_sql
    _differential(data, sql)


def test_text_keys_reach_a_postgresql_uuid_column_as_text(data, pg_admin_dsn):
    """uuid (and json) columns read as text have no ``= text`` operator at PostgreSQL: the keys are
    compared with CAST(col AS TEXT), a no-op on text/varchar columns that keeps their index."""
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.uuids")
        cur.execute(f"CREATE TABLE {SCHEMA}.uuids AS SELECT i AS id, md5(i::text)::uuid AS u FROM generate_series(1, 100) i")
    import hashlib
    import uuid

    wanted = [str(uuid.UUID(hashlib.md5(str(i).encode()).hexdigest())) for i in (3, 7, 9)]
    with _connect(data) as con:
        con.register("wanted", pa.table({"u": wanted, "flag": [1, 1, 0]}))
        sql = f"SELECT x.id FROM pg.{SCHEMA}.uuids x JOIN memory.wanted w ON w.u = x.u WHERE w.flag = 1"
        try:
            rows = sorted(con.execute(sql).fetchall())
        finally:
            statement = con.source("pg").statements[-1]
        assert 'WHERE CAST("u" AS TEXT) IN (' in statement
        assert con.execute(f"SELECT x.u FROM pg.{SCHEMA}.uuids x JOIN memory.wanted w ON w.u = x.u "
                           "ORDER BY x.id").fetchall() == [(u,) for u in wanted]  # uuids read as PostgreSQL prints them
    assert rows == [(3,), (7,)]


def test_sqlite_column_of_mixed_storage_classes_gets_no_keys(tmp_path):
    """A SQLite column without a declared type holding the integer 5 and the text 'x' is read as text
    ('5', 'x'); SQLite would compare k IN ('5') without conversion and miss the integer row, so no
    dynamic filter goes there (the join finds both rows)."""
    import sqlite3

    with sqlite3.connect(tmp_path / "mixed.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER, k)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(1, 5), (2, "x"), (3, "y")])
        assert db.execute("SELECT count(*) FROM t WHERE k IN ('5', 'x')").fetchone()[0] == 1  # the trap
    sql = "SELECT t.id FROM lite.t t JOIN memory.keys w ON w.k = t.k WHERE w.flag = 1 ORDER BY 1"
    for options in ({}, {"pushdown": False}):
        with fedq.connect(home=False, **options) as con:
            con.attach("lite", "sqlite", path=str(tmp_path / "mixed.sqlite"))
            con.register("keys", pa.table({"k": ["5", "x", "y"], "flag": [1, 1, 0]}))
            assert con.execute(sql).fetchall() == [(1,), (2,)], options
            assert all(" IN (" not in s for s in con.source("lite").statements)
