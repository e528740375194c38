"""What each source receives: the remote SQL (or file scan) is pinned, and results equal a run with
pushdown off. Tables: customer in SQLite, orders in PostgreSQL, lineitem as Parquet files."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fedq
from cleanup import drop_pg_schemas

SCHEMA = "fedq_push"


@pytest.fixture(scope="module")
def tpch_like(request, pg_dsn, pg_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    """A tiny TPC-H shaped data set spread over the three source kinds."""
    root = tmp_path_factory.mktemp("push")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(
            f"CREATE TABLE {SCHEMA}.orders (o_orderkey integer, o_custkey integer, o_orderstatus text, "
            "o_totalprice numeric(12,2), o_orderdate date, o_shippriority integer, o_comment text)"
        )
        cur.execute(
            f"INSERT INTO {SCHEMA}.orders SELECT i, i % 20, CASE WHEN i % 3 = 0 THEN 'F' ELSE 'O' END, "
            "i * 10.25, DATE '1995-01-01' + (i * 3), i % 2, 'comment ' || i FROM generate_series(1, 200) i"
        )
        cur.execute(f"CREATE TABLE {SCHEMA}.customer (c_custkey integer, c_name text, c_nationkey integer)")
        cur.execute(f"INSERT INTO {SCHEMA}.customer SELECT i, 'Customer#' || i, i % 5 FROM generate_series(0, 19) i")
    crm = root / "crm.sqlite"
    with sqlite3.connect(crm) as con:
        con.execute("CREATE TABLE customer (c_custkey INTEGER, c_name TEXT, c_mktsegment TEXT, c_acctbal REAL)")
        con.executemany(
            "INSERT INTO customer VALUES (?, ?, ?, ?)",
            [(i, f"Customer#{i}", "BUILDING" if i % 4 == 0 else "MACHINERY", i * 1.5 - 10) for i in range(20)],
        )
    lake = root / "lake" / "lineitem"
    lake.mkdir(parents=True)
    for part in range(2):
        keys = [k for k in range(1, 201) if k % 2 == part]
        pq.write_table(
            pa.table({
                "l_orderkey": pa.array(keys, pa.int32()),
                "l_extendedprice": pa.array([k * 2.5 for k in keys]),
                "l_discount": pa.array([0.05] * len(keys)),
                "l_shipdate": pa.array([dt.date(1995, 1, 1) + dt.timedelta(days=3 * k + 5) for k in keys]),
                "l_comment": pa.array([f"line {k}" for k in keys]),
            }),
            lake / f"part-{part}.parquet",
            row_group_size=25,
        )
    return {"dsn": pg_dsn, "crm": str(crm), "lake": str(root / "lake")}


def _connect(setup, pushdown=True, reader="arrow") -> fedq.Connection:
    """Files through pyarrow (whose scan requests these tests pin) unless ``reader="duckdb"``."""
    con = fedq.connect(pushdown=pushdown)
    con.attach("pg", "postgres", dsn=setup["dsn"])
    con.attach("crm", "sqlite", path=setup["crm"])
    con.attach("lake", "files", url=setup["lake"], reader=reader)
    return con


def _same_rows(setup, sql: str) -> list[tuple]:
    with _connect(setup) as on, _connect(setup, pushdown=False) as off:
        pushed = on.execute(sql).fetchall()
        local = off.execute(sql).fetchall()
    assert pushed == local
    return pushed


Q3 = """
SELECT l.l_orderkey, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue, o.o_orderdate, o.o_shippriority
FROM crm.customer c
JOIN pg.fedq_push.orders o ON c.c_custkey = o.o_custkey
JOIN lake.lineitem l ON l.l_orderkey = o.o_orderkey
WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < DATE '1995-03-15' AND l.l_shipdate > DATE '1995-03-15'
GROUP BY l.l_orderkey, o.o_orderdate, o.o_shippriority
ORDER BY revenue DESC, o.o_orderdate, l.l_orderkey
LIMIT 10
"""


def test_q3_sends_each_source_only_its_columns_and_filters(tpch_like):
    with _connect(tpch_like) as con:
        rows = con.execute(Q3).fetchall()
        assert con.source("pg").statements == [
            'SELECT "o_orderkey", "o_custkey", "o_orderdate", "o_shippriority" FROM "fedq_push"."orders" '
            "WHERE \"o_orderdate\" < CAST('1995-03-15' AS DATE)"
        ]
        assert con.source("crm").statements == [
            'SELECT "c_custkey", "c_mktsegment" FROM "main"."customer" WHERE "c_mktsegment" = \'BUILDING\''
        ]
        assert con.source("lake").statements == [
            "scan main.lineitem columns=[l_orderkey, l_extendedprice, l_discount, l_shipdate] "
            "filter=[\"l_shipdate\" > CAST('1995-03-15' AS DATE)]"
        ]
    assert rows and rows == _same_rows(tpch_like, Q3)


def test_parquet_row_groups_are_pruned_by_the_pushed_filter(tpch_like):
    sql = "SELECT count(*) FROM lake.lineitem WHERE l_orderkey <= 10"
    with _connect(tpch_like) as con:
        cursor = con.execute("EXPLAIN ANALYZE " + sql)
        scan = next(r for r in cursor.fetchall() if r[1] == "lake")
        assert scan[4] == '"l_orderkey" <= 10'
        assert scan[7] < 60  # two files of 100 rows in row groups of 25: only the first group of each is read
        assert con.execute(sql).fetchall() == [(10,)]


def test_single_source_query_is_sent_whole_with_join_and_group_by(tpch_like):
    sql = """
        SELECT c.c_nationkey, count(*) AS orders, sum(o.o_totalprice) AS total
        FROM pg.fedq_push.orders o JOIN pg.fedq_push.customer c ON c.c_custkey = o.o_custkey
        WHERE o.o_orderstatus = 'F'
        GROUP BY c.c_nationkey
        ORDER BY c.c_nationkey
    """
    with _connect(tpch_like) as con:
        rows = con.execute(sql).fetchall()
        assert con.source("pg").statements == [
            'SELECT "c"."c_nationkey" AS "c0", COUNT(*) AS "c1", SUM("o"."o_totalprice") AS "c2" '
            'FROM "fedq_push"."orders" AS "o" JOIN "fedq_push"."customer" AS "c" ON "c"."c_custkey" = "o"."o_custkey" '
            "WHERE \"o\".\"o_orderstatus\" = 'F' GROUP BY \"c\".\"c_nationkey\""
        ]
    assert rows == _same_rows(tpch_like, sql)
    assert all(isinstance(total, Decimal) for _, _, total in rows)


def test_top_n_is_pushed_with_collation_and_explicit_null_order(tpch_like):
    sql = "SELECT o_comment, o_orderkey FROM pg.fedq_push.orders ORDER BY o_comment DESC LIMIT 3"
    with _connect(tpch_like) as con:
        con.execute(sql).fetchall()
        (statement,) = con.source("pg").statements
    assert statement.endswith('ORDER BY "orders"."o_comment" COLLATE "C" DESC NULLS LAST LIMIT 3')
    assert _same_rows(tpch_like, sql) == [("comment 99", 99), ("comment 98", 98), ("comment 97", 97)]


def test_pushed_subquery_keeps_duckdb_names_and_types(tpch_like):
    sql = """
        SELECT s.c_custkey, s.n, s.total FROM crm.customer c
        JOIN (SELECT o_custkey AS c_custkey, count(*) AS n, sum(o_totalprice) AS total
              FROM pg.fedq_push.orders GROUP BY o_custkey) s ON s.c_custkey = c.c_custkey
        ORDER BY 1
    """
    with _connect(tpch_like) as con:
        cursor = con.execute(sql)
        assert [d[0] for d in cursor.description] == ["c_custkey", "n", "total"]
        assert "GROUP BY" in con.source("pg").statements[0]
    _same_rows(tpch_like, sql)


def test_explain_lists_fragments_filters_and_local_query(tpch_like):
    with _connect(tpch_like) as con:
        rows = con.execute("EXPLAIN " + Q3).fetchall()
    by_source = {r[1]: r for r in rows}
    assert set(by_source) == {"pg", "crm", "lake", "duckdb"}
    assert by_source["pg"][4] == "\"o_orderdate\" < CAST('1995-03-15' AS DATE)"
    assert by_source["crm"][4] == "\"c_mktsegment\" = 'BUILDING'"
    assert "JOIN" in by_source["duckdb"][3] and "__fedq_" in by_source["duckdb"][3]


def test_explain_analyze_reports_rows_bytes_seconds(tpch_like):
    with _connect(tpch_like) as con:
        cursor = con.execute("EXPLAIN ANALYZE " + Q3)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    assert names[-3:] == ["rows", "bytes", "seconds"]
    pg_row = next(r for r in rows if r[1] == "pg")
    assert pg_row[7] == 24  # orders before 1995-03-15: days 3..72 step 3
    assert pg_row[8] > 0 and pg_row[9] >= 0


def test_bound_parameters_reach_the_source_as_binds(tpch_like):
    sql = "SELECT o_orderkey FROM pg.fedq_push.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey WHERE o.o_orderkey < ? AND c.c_name = ?"
    with _connect(tpch_like) as con:
        rows = con.execute(sql, [30, "Customer#4"]).fetchall()
        assert con.source("pg").statements == ['SELECT "o_orderkey", "o_custkey" FROM "fedq_push"."orders" WHERE "o_orderkey" < CAST($1 AS INT)']
        assert con.source("crm").statements == ['SELECT "c_custkey", "c_name" FROM "main"."customer" WHERE "c_name" = CAST(?1 AS TEXT)']
    assert sorted(rows) == [(4,), (24,)]


Q1_SHAPED = """
SELECT o_orderstatus, o_shippriority,
       sum(o_totalprice) AS sum_price, avg(o_totalprice) AS avg_price, avg(o_orderkey) AS avg_key,
       count(*) AS count_order, max(o_comment) AS last_comment
FROM pg.fedq_push.orders
WHERE o_orderdate <= DATE '1996-01-01' - INTERVAL 30 DAY
GROUP BY o_orderstatus, o_shippriority
ORDER BY o_orderstatus, o_shippriority
"""


def test_aggregate_with_avg_is_sent_as_one_remote_aggregate_and_moves_one_row_per_group(tpch_like):
    with _connect(tpch_like) as con:
        rows = con.execute("EXPLAIN ANALYZE " + Q1_SHAPED).fetchall()
        (remote,) = [r for r in rows if r[1] == "pg"]
        assert remote[2] == "remote query" and "GROUP BY" in remote[3]
        assert 'SUM("orders"."o_totalprice")' in remote[3] and 'COUNT("orders"."o_totalprice")' in remote[3]
        assert "AVG" not in remote[3]  # AVG travels as SUM and COUNT (hazard 8)
        assert remote[7] == 4  # two statuses x two priorities
    result = _same_rows(tpch_like, Q1_SHAPED)
    assert len(result) == 4 and all(isinstance(r[3], float) for r in result)


def test_functions_the_source_lacks_run_locally_over_the_pushed_aggregate(tpch_like):
    sql = """
        SELECT o_custkey, strftime(max(o_orderdate), '%Y-%m') AS last_month, sum(o_totalprice) / count(*) AS mean
        FROM pg.fedq_push.orders WHERE o_orderkey % 1 = 0 OR o_orderkey > 0
        GROUP BY o_custkey HAVING count(*) > 9 ORDER BY mean DESC, o_custkey LIMIT 5
    """
    with _connect(tpch_like) as con:
        plan = con.plan(sql)
    assert [f.kind for f in plan.fragments] == ["scan"]  # % is never pushed: the WHERE keeps it local
    sql_pushable = sql.replace("WHERE o_orderkey % 1 = 0 OR o_orderkey > 0", "WHERE o_orderkey > 0")
    with _connect(tpch_like) as con:
        plan = con.plan(sql_pushable)
        (fragment,) = plan.fragments
        assert fragment.kind == "query" and "GROUP BY" in fragment.remote and "HAVING" not in fragment.remote
        assert "STRFTIME" in plan.local_sql and "LIMIT 5" in plan.local_sql
    assert len(_same_rows(tpch_like, sql_pushable)) == 5


def test_fact_table_is_pre_aggregated_below_a_cross_source_join(tpch_like):
    sql = """
        SELECT c.c_mktsegment, count(*) AS orders, sum(o.o_totalprice) AS revenue, avg(o.o_totalprice) AS mean,
               max(o.o_orderdate) AS last_order, max(c.c_name) AS some_customer
        FROM pg.fedq_push.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey
        WHERE o.o_orderstatus = 'O'
        GROUP BY c.c_mktsegment ORDER BY 1
    """
    with _connect(tpch_like) as con:
        rows = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
    (remote,) = [r for r in rows if r[1] == "pg"]
    assert remote[3] == (
        'SELECT "o"."o_custkey" AS "o_custkey", COUNT(*) AS "__p0", SUM("o"."o_totalprice") AS "__p1", '
        'SUM("o"."o_totalprice") AS "__p2s", COUNT("o"."o_totalprice") AS "__p2n", MAX("o"."o_orderdate") AS "__p4" '
        'FROM "fedq_push"."orders" AS "o" WHERE "o"."o_orderstatus" = \'O\' GROUP BY "o"."o_custkey"'
    )
    assert remote[7] == 20  # one row per join key instead of 134 order rows
    assert len(_same_rows(tpch_like, sql)) == 2


def test_pre_aggregation_is_skipped_when_the_join_would_distort_it(tpch_like):
    sql = """
        SELECT o.o_orderstatus, sum(c.c_acctbal) AS balance, sum(o.o_totalprice) AS revenue
        FROM pg.fedq_push.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey GROUP BY 1 ORDER BY 1
    """  # each table's SUM would be multiplied by the other's rows
    with _connect(tpch_like) as con:
        plan = con.plan(sql)
    assert [f.kind for f in plan.fragments] == ["scan", "scan"]
    _same_rows(tpch_like, sql)


def test_dynamic_filter_sends_the_filtered_sides_keys_to_the_other_source(tpch_like):
    sql = """
        SELECT o.o_orderkey, c.c_name FROM pg.fedq_push.orders o JOIN crm.customer c ON c.c_custkey = o.o_custkey
        WHERE c.c_mktsegment = 'BUILDING'
    """
    with _connect(tpch_like) as con:
        rows = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
        (statement,) = con.source("pg").statements
    assert statement == 'SELECT "o_orderkey", "o_custkey" FROM "fedq_push"."orders" WHERE "o_custkey" IN ($1, $2, $3, $4, $5)'
    (pg_row,) = [r for r in rows if r[1] == "pg"]
    assert pg_row[5].startswith("dynamic: in-list of 5 keys; 50 rows fetched") and pg_row[7] == 50  # exactly the joining orders
    assert len(_same_rows(tpch_like, sql)) == 50


@pytest.mark.parametrize("join", ["LEFT JOIN", "FULL JOIN"])
def test_no_dynamic_filter_where_unmatched_rows_must_survive(tpch_like, join):
    sql = f"""
        SELECT o.o_orderkey, c.c_name FROM pg.fedq_push.orders o {join} crm.customer c
        ON c.c_custkey = o.o_custkey AND c.c_mktsegment = 'BUILDING'
    """
    with _connect(tpch_like) as con:
        con.execute(sql).fetchall()
        (statement,) = con.source("pg").statements
    assert "IN (" not in statement
    assert len(_same_rows(tpch_like, sql)) >= 200


def test_local_parquet_is_read_by_duckdb_itself_by_default(tpch_like):
    with _connect(tpch_like, reader="duckdb") as con:
        plan = con.plan(Q3)
        (lake,) = [f for f in plan.fragments if f.source.name == "lake"]
        assert lake.kind == "native" and lake.remote.startswith("read by DuckDB: READ_PARQUET([")
        assert "columns=[l_orderkey, l_extendedprice, l_discount, l_shipdate]" in lake.remote
        rows = con.execute(Q3).fetchall()
        assert con.source("lake").statements == []  # no Arrow stream: DuckDB scanned the files
    assert rows == _same_rows(tpch_like, Q3)
