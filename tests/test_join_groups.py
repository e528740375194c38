"""Issue 18 item 1, joins inside one source: in a query over several sources, the tables of one source
that join each other by column = column conditions go to that source as ONE query (engine/planner.py
``_join_groups``), and each answer equals the same query with pushdown off.

Data: a star (fact ``f`` and four dimensions) and two timestamp tables in PostgreSQL schema fedq_jg,
two MariaDB tables ``fedq_jg_*``, one SQLite file; join keys hold NULLs and duplicates."""
from __future__ import annotations

import re
import sqlite3

import adbc_driver_postgresql.dbapi as pgdb
import pymysql
import pytest

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas
from fedq.engine.planner import Planner
from fedq.sources.mysql import _parse_dsn

SCHEMA = "fedq_jg"
MY_TABLES = ("fedq_jg_region", "fedq_jg_ma", "fedq_jg_mb", "fedq_jg_mc")


@pytest.fixture(scope="module")
def setup(request, pg_dsn, pg_admin_dsn, mysql_dsn, mysql_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, *MY_TABLES))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        # 400 facts; every 7th has a NULL d1 key, every 11th a NULL d2 key
        cur.execute(f"CREATE TABLE {SCHEMA}.f (id integer, d1 integer, d2 integer, d3 integer, d4 integer, "
                    "amount numeric(10,2), qty double precision)")
        cur.execute(f"INSERT INTO {SCHEMA}.f SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 10 END, "
                    "CASE WHEN i % 11 = 0 THEN NULL ELSE i % 5 END, i % 4, i % 3, i * 1.25, i / 8.0 "
                    "FROM generate_series(1, 400) i")
        for name, keys in (("d1", 10), ("d2", 5), ("d3", 4), ("d4", 3)):
            cur.execute(f"CREATE TABLE {SCHEMA}.{name} (k integer, name text, m integer)")
            cur.execute(f"INSERT INTO {SCHEMA}.{name} SELECT i, '{name}-' || i, i % 3 FROM generate_series(0, {keys - 1}) i")
            cur.execute(f"INSERT INTO {SCHEMA}.{name} VALUES (NULL, '{name}-null', NULL)")  # a NULL key: joins nothing
        cur.execute(f"INSERT INTO {SCHEMA}.d2 VALUES (1, 'd2-1 again', 1)")  # a duplicate key: doubles its facts
        cur.execute(f"CREATE TABLE {SCHEMA}.typed (k integer, n numeric, u uuid, ts timestamptz, d date, b boolean, "
                    "iv interval, bits bytea, r real)")
        cur.execute(f"INSERT INTO {SCHEMA}.typed SELECT i % 4, i * 1.000001, md5(i::text)::uuid, "
                    "timestamptz '2024-01-01 00:00+00' + i * interval '1 hour', date '2024-01-01' + i, i % 2 = 0, "
                    "i * interval '1 minute', "
                    "decode(md5(i::text), 'hex'), i / 3.0 FROM generate_series(1, 12) i")
        cur.execute(f"INSERT INTO {SCHEMA}.typed (k) VALUES (1)")  # NULLs of every type
        cur.execute(f"CREATE TABLE {SCHEMA}.naive (id integer, at timestamp)")
        cur.execute(f"CREATE TABLE {SCHEMA}.zoned (id integer, at timestamptz)")
        cur.execute(f"INSERT INTO {SCHEMA}.naive VALUES (1, '2024-01-01 10:00'), (2, '2024-01-02 10:00')")
        cur.execute(f"INSERT INTO {SCHEMA}.zoned VALUES (1, '2024-01-01 10:00+00'), (2, '2024-01-02 12:00+02')")
    with pymysql.connect(**_parse_dsn(mysql_admin_dsn), autocommit=True) as con, con.cursor() as cur:
        for table in MY_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute("CREATE TABLE fedq_jg_region (m INT, label INT)")
        cur.execute("INSERT INTO fedq_jg_region VALUES (0, 100), (1, 101), (1, 111), (2, 102), (NULL, 103)")
        cur.execute("CREATE TABLE fedq_jg_ma (k INT, v INT)")
        cur.execute("INSERT INTO fedq_jg_ma VALUES (1, 10), (2, 20), (2, 21), (3, 30), (NULL, 40)")
        cur.execute("CREATE TABLE fedq_jg_mb (k INT, w INT)")
        cur.execute("INSERT INTO fedq_jg_mb VALUES (1, 5), (2, 6), (NULL, 7), (4, 8)")
        cur.execute("CREATE TABLE fedq_jg_mc (k INT, name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci)")
        cur.execute("INSERT INTO fedq_jg_mc VALUES (1, 'Ann'), (2, 'ann '), (2, 'Bob'), (NULL, 'x')")
    path = tmp_path_factory.mktemp("jg") / "tags.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE tags (k INTEGER, tag TEXT)")
        con.executemany("INSERT INTO tags VALUES (?, ?)", [(i % 50, f"tag{i % 3}") for i in range(60)] + [(None, "none")])
    return {"pg": pg_dsn, "my": mysql_dsn, "crm": str(path)}


def _connect(setup, pushdown: bool = True) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    con.attach("pg", "postgres", dsn=setup["pg"])
    con.attach("my", "mysql", dsn=setup["my"])
    con.attach("crm", "sqlite", path=setup["crm"])
    return con


def _run(setup, sql: str, params=None):
    """Rows with pushdown on and the plan, after checking they equal pushdown off (as multisets, and in
    order when the query has ORDER BY), with the same column names and types."""
    with _connect(setup) as on, _connect(setup, pushdown=False) as off:
        cursor = on.execute(sql, params) if params else on.execute(sql)
        pushed, plan, described = cursor.fetchall(), cursor.plan, [d[:2] for d in cursor.description]
        notes = on.execute("EXPLAIN " + sql, params).fetchall()[-1][6] if params else on.execute("EXPLAIN " + sql).fetchall()[-1][6]
        other = off.execute(sql, params) if params else off.execute(sql)
        local = other.fetchall()
        assert described == [d[:2] for d in other.description]
    assert sorted(pushed, key=repr) == sorted(local, key=repr)
    if "ORDER BY" in sql.upper():
        assert pushed == local
    return pushed, plan, notes


def _queries(plan, source: str) -> list[str]:
    return [f.remote_sql for f in plan.fragments if f.source.name == source and f.kind == "query"]


STAR = f"""
SELECT f.id, d1.name AS n1, d2.name AS n2, d3.name AS n3, d4.name AS n4, f.amount, r.label
FROM pg.{SCHEMA}.f f
JOIN pg.{SCHEMA}.d1 d1 ON f.d1 = d1.k
JOIN pg.{SCHEMA}.d2 d2 ON f.d2 = d2.k
JOIN pg.{SCHEMA}.d3 d3 ON f.d3 = d3.k
JOIN pg.{SCHEMA}.d4 d4 ON f.d4 = d4.k
JOIN my.fedq_jg_region r ON r.m = d4.m
WHERE f.amount > 10 AND d1.name <> 'd1-3'
ORDER BY f.id, n2, r.label
"""


def test_five_table_star_join_goes_to_postgres_as_one_query(setup):
    rows, plan, notes = _run(setup, STAR)
    (remote,) = _queries(plan, "pg")
    assert remote.count(" JOIN ") == 4 and '"f"."d1" = "d1"."k"' in remote
    assert "WHERE" in remote and '> 10' in remote and "'d1-3'" in remote  # the filters went with it
    assert not [f for f in plan.fragments if f.source.name == "pg" and f.kind == "scan"]
    assert "joined at pg as one query: pg.fedq_jg.f f, pg.fedq_jg.d1 d1, pg.fedq_jg.d2 d2" in notes
    assert len(rows) > 100


def test_filters_and_aggregates_above_the_join(setup):
    sql = f"""
        SELECT r.label, d3.name, count(*) AS n, sum(f.amount) AS total, avg(f.qty) AS mean, count(d2.k) AS keyed
        FROM pg.{SCHEMA}.f f, pg.{SCHEMA}.d2 d2, pg.{SCHEMA}.d3 d3, my.fedq_jg_region r
        WHERE f.d2 = d2.k AND d3.k = f.d3 AND r.m = d2.m AND f.id % 2 = 0
        GROUP BY r.label, d3.name HAVING count(*) > 1 ORDER BY 1, 2
    """
    rows, plan, notes = _run(setup, sql)
    (remote,) = _queries(plan, "pg")
    assert remote.count(" JOIN ") == 2
    assert rows and all(total is not None for _, _, _, total, _, _ in rows)


def test_null_keys_and_duplicates_keep_their_rows(setup):
    sql = f"""
        SELECT f.id, f.d1, f.d2, d2.name, r.label FROM pg.{SCHEMA}.f f
        JOIN pg.{SCHEMA}.d2 d2 ON f.d2 = d2.k
        JOIN my.fedq_jg_region r ON r.m = d2.m
    """
    rows, plan, _ = _run(setup, sql)
    (remote,) = _queries(plan, "pg")
    assert " JOIN " in remote
    assert not any(d2 is None for _, _, d2, _, _ in rows)  # NULL keys join nothing, at the source as locally
    assert sum(1 for _, _, d2, _, _ in rows if d2 == 1) == 2 * 2 * sum(1 for i in range(1, 401) if i % 11 and i % 5 == 1)


def test_bound_parameters_and_the_other_sources_scan(setup):
    sql = f"""
        SELECT f.id, d1.name, t.tag FROM pg.{SCHEMA}.f f JOIN crm.tags t ON t.k = f.id
        JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1 WHERE f.amount < ? AND t.tag = 'tag1'
    """
    rows, plan, _ = _run(setup, sql, (40,))
    (remote,) = _queries(plan, "pg")
    assert " JOIN " in remote and "$1" in remote
    (scan,) = [f for f in plan.fragments if f.source.name == "crm"]
    assert scan.kind == "scan" and scan.exact  # the SQLite table's filter still reaches its scan
    assert rows


def test_a_filtered_group_narrows_the_other_sources_scan(setup):
    """The group's query is the build side of a dynamic filter: MariaDB receives its keys."""
    sql = f"""
        SELECT f.id, d1.name, ma.v FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1
        JOIN my.fedq_jg_ma ma ON ma.k = f.id WHERE d1.name = 'd1-2' ORDER BY 1, 3
    """
    rows, plan, notes = _run(setup, sql)
    (group,) = [f for f in plan.fragments if f.source.name == "pg"]
    (scan,) = [f for f in plan.fragments if f.source.name == "my"]
    assert group.kind == "query" and " JOIN " in group.remote_sql
    assert scan.dynamic is not None and scan.dynamic.build is group and scan.dynamic.probe_column == "k"
    assert re.search(r"dynamic filter: __fedq_\d+\.k IN keys of __fedq_\d+\.c\d", notes)
    assert scan.stats.rows == 2  # of 5: the group's ids are 2, 12, 22…, and only k = 2 (twice) is among them
    assert rows == [(2, "d1-2", 20), (2, "d1-2", 21)]


def test_a_group_in_each_of_two_servers(setup):
    sql = f"""
        SELECT ma.v, mb.w, f.id, d1.name
        FROM my.fedq_jg_ma ma JOIN my.fedq_jg_mb mb ON ma.k = mb.k
        JOIN pg.{SCHEMA}.f f ON f.id = ma.k JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1
        ORDER BY 1, 2, 3
    """
    rows, plan, notes = _run(setup, sql)
    (pg_remote,) = _queries(plan, "pg")
    (my_remote,) = _queries(plan, "my")
    assert " JOIN " in pg_remote and " JOIN " in my_remote
    assert "joined at my as one query" in notes and "joined at pg as one query" in notes
    assert rows == [(10, 5, 1, "d1-1"), (20, 6, 2, "d1-2"), (21, 6, 2, "d1-2")]


def test_a_group_inside_a_subquery_of_a_larger_query(setup):
    sql = f"""
        SELECT t.tag, count(*) AS n, sum(s.label) AS labels
        FROM crm.tags t
        JOIN (SELECT f.id, d3.name, r.label FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d3 d3 ON d3.k = f.d3
              JOIN my.fedq_jg_region r ON r.m = d3.m WHERE d3.name <> 'd3-0') s ON s.id = t.k
        GROUP BY t.tag ORDER BY t.tag
    """
    rows, plan, notes = _run(setup, sql)
    (remote,) = _queries(plan, "pg")
    assert " JOIN " in remote and "'d3-0'" in remote
    assert "joined at pg as one query" in notes
    assert len(rows) == 3


def test_outer_joined_table_is_not_grouped_and_explain_says_why(setup):
    sql = f"""
        SELECT f.id, d1.name, r.label FROM pg.{SCHEMA}.f f LEFT JOIN pg.{SCHEMA}.d1 d1 ON f.d1 = d1.k
        JOIN my.fedq_jg_region r ON r.m = f.d4 WHERE f.id < 50
    """
    rows, plan, notes = _run(setup, sql)
    assert not _queries(plan, "pg")  # each pg table scanned on its own
    assert "not joined at pg: pg.fedq_jg.d1 d1: it is on the NULL-supplying side of an outer join" in notes
    assert any(name is None for _, name, _ in rows)


def test_right_join_in_the_select_keeps_every_table_out(setup):
    sql = f"""
        SELECT f.id, d1.name, r.label FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d1 d1 ON f.d1 = d1.k
        RIGHT JOIN my.fedq_jg_region r ON r.m = f.d4
    """
    _, plan, notes = _run(setup, sql)
    assert not _queries(plan, "pg")
    assert "not joined at pg (pg.fedq_jg.f f, pg.fedq_jg.d1 d1): a RIGHT join in the SELECT" in notes


def test_tables_not_joined_to_each_other_are_not_grouped(setup):
    sql = f"""
        SELECT f.id, d3.name, r.label FROM pg.{SCHEMA}.f f, pg.{SCHEMA}.d3 d3, my.fedq_jg_region r
        WHERE f.d4 = r.m AND d3.m = r.m AND f.id < 20
    """
    _, plan, notes = _run(setup, sql)
    assert not _queries(plan, "pg")
    assert "not joined at pg: pg.fedq_jg.d3 d3: it is not joined to another pg table by a column = column condition" in notes


def test_join_condition_the_source_cannot_run_is_not_grouped(setup):
    sql = f"""
        SELECT n.id, z.id AS zid, r.label FROM pg.{SCHEMA}.naive n JOIN pg.{SCHEMA}.zoned z ON n.at = z.at
        JOIN my.fedq_jg_region r ON r.m = n.id
    """
    _, plan, notes = _run(setup, sql)
    assert not _queries(plan, "pg")
    assert 'not joined at pg: pg.fedq_jg.naive n: its join condition n."at" = z."at" is not sent: ' \
           "comparison between a naive timestamp and a zoned value (hazard 9)" in notes


def test_grouping_moves_fewer_rows_than_scanning_each_table(setup, monkeypatch):
    """The star join with selective dimension filters: PostgreSQL returns the joined, filtered rows
    instead of five scans (even with dynamic filters narrowing the fact table's scan)."""
    sql = STAR.replace("d1.name <> 'd1-3'", "d1.name = 'd1-3' AND d2.name = 'd2-3'")

    def pg_rows() -> tuple[int, list[tuple]]:
        with _connect(setup) as con:
            cursor = con.execute(sql)
            rows = cursor.fetchall()
            return sum(f.stats.rows for f in cursor.plan.fragments if f.source.name == "pg"), rows

    grouped, rows = pg_rows()
    monkeypatch.setattr(Planner, "_join_groups", lambda self, select, bound: None)  # the plan before join groups
    scanned, before = pg_rows()
    assert rows == before and rows
    assert grouped < scanned


SHAPES = {
    "star expansion": f"SELECT * FROM pg.{SCHEMA}.d3 d3 JOIN pg.{SCHEMA}.d4 d4 ON d3.m = d4.k JOIN my.fedq_jg_region r ON r.m = d4.m",
    "distinct and order by": f"""SELECT DISTINCT d1.name, r.label FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1
        JOIN my.fedq_jg_region r ON r.m = f.d4 ORDER BY d1.name, r.label""",
    "window above the join": f"""SELECT f.id, d2.name, row_number() OVER (PARTITION BY d2.name ORDER BY f.id, r.label) AS rn,
        sum(f.amount) OVER (PARTITION BY r.label) AS s FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d2 d2 ON d2.k = f.d2
        JOIN my.fedq_jg_region r ON r.m = f.d3 ORDER BY f.id, d2.name, r.label""",
    "no column of the group needed": f"""SELECT count(*) FROM pg.{SCHEMA}.d3 a CROSS JOIN my.fedq_jg_region r
        JOIN pg.{SCHEMA}.d4 b ON b.k = a.m""",
    "self join": f"""SELECT a.id, b.id, r.label FROM pg.{SCHEMA}.f a JOIN pg.{SCHEMA}.f b ON a.d1 = b.id
        JOIN my.fedq_jg_region r ON r.m = b.d4 WHERE a.id < 30 ORDER BY 1, 2, 3""",
    "group joined to the other source first": f"""SELECT r.label, d1.name, f.id FROM my.fedq_jg_region r
        JOIN pg.{SCHEMA}.f f ON f.d4 = r.m JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1 AND d1.m = r.m ORDER BY 1, 2, 3""",
    "left join of another source after the group": f"""SELECT f.id, d1.name, r.label FROM pg.{SCHEMA}.f f
        JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1 LEFT JOIN my.fedq_jg_region r ON r.m = d1.m AND f.amount > 100
        WHERE f.id < 60 ORDER BY 1, 2, 3""",
    "group by an expression and having": f"""SELECT d1.k % 2 AS parity, max(d2.name) AS top, count(*) AS n
        FROM pg.{SCHEMA}.f f JOIN pg.{SCHEMA}.d1 d1 ON d1.k = f.d1 JOIN pg.{SCHEMA}.d2 d2 ON d2.k = f.d2
        JOIN crm.tags t ON t.k = f.id GROUP BY d1.k % 2 HAVING count(*) > 2 ORDER BY 1""",
    "postgres types through the group's query": f"""SELECT t.*, d3.name, r.label FROM pg.{SCHEMA}.typed t
        JOIN pg.{SCHEMA}.d3 d3 ON d3.k = t.k JOIN my.fedq_jg_region r ON r.m = d3.m WHERE t.b OR t.b IS NULL
        ORDER BY t.ts NULLS FIRST, r.label""",
    "mariadb group and a postgres table": """SELECT ma.v, mb.w, d3.name FROM my.fedq_jg_ma ma, my.fedq_jg_mb mb,
        pg.fedq_jg.d3 d3 WHERE ma.k = mb.k AND d3.k = mb.k ORDER BY 1, 2, 3""",
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_query_shapes_answer_as_with_pushdown_off(setup, name):
    _, plan, notes = _run(setup, SHAPES[name])
    assert "joined at " in notes and " as one query" in notes, notes
    assert any(" JOIN " in sql for source in ("pg", "my") for sql in _queries(plan, source))


def test_case_insensitive_text_keeps_its_table_out_only_when_used(setup):
    """MariaDB compares utf8mb4_general_ci text case-insensitively: a table whose such column the query
    uses is scanned on its own; the same table is grouped when the query does not touch the column."""
    used = """SELECT ma.v, mc.name, d3.name AS d FROM my.fedq_jg_ma ma JOIN my.fedq_jg_mc mc ON mc.k = ma.k
        JOIN pg.fedq_jg.d3 d3 ON d3.k = ma.k ORDER BY 1, 2"""
    _, plan, notes = _run(setup, used)
    assert not _queries(plan, "my")
    assert "not joined at my: my.test.fedq_jg_mc mc: its column(s) name may not match their declared type or collation" in notes
    unused = used.replace("mc.name", "mc.k AS name")
    _, plan, notes = _run(setup, unused)
    (remote,) = _queries(plan, "my")
    assert " JOIN " in remote
