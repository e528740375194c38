"""MySQL/MariaDB source against the real server: type mapping, collation safety, sessions, pushdown.

Every differential query runs with pushdown on and off (``fedq.connect(pushdown=...)``); the rows
must be equal. The tables (``test.fedq_my_*``) are rebuilt once per module.
"""
from __future__ import annotations

import datetime as dt
import math
import sqlite3
import threading
import time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from sqlglot import exp

import fedq
from fedq.sources.base import FetchStats, Pushdown, TableName
from fedq.sources.mysql import MySQLSource

pytestmark = [pytest.mark.timeout(120)]

UTC = dt.timezone.utc

PEOPLE = [
    # id, name (general_ci), tag (utf8mb4_bin: binary but PAD SPACE), city, big (unsigned), joined, seen, stamp, score, balance
    (1, "ann", "x", "Oslo", 5, "2024-01-01", "2024-01-01 08:00:00.250000", "2024-01-01 08:00:00", 1.5, "10.25"),
    (2, "Ann", "x ", "oslo", 18446744073709551615, "2024-02-29", "2024-02-29 23:59:59", "2024-03-01 00:30:00", -2.25, "-3.10"),
    (3, "ANN", "X", "Bergen", 0, "2023-12-31", "2023-12-31 23:59:59.999999", "2023-12-31 23:00:00", 0.0, "0.00"),
    (4, "ann ", "x\t", "Oslo ", 9223372036854775808, "2024-06-15", "2024-06-15 12:00:00", "2024-06-15 04:00:00", 1e-3, "999.99"),
    (5, "Ánn", "y", "Tromsø", 42, None, None, None, None, None),
    (6, "bob", "y ", "tromsø", 7, "2024-01-02", "2024-01-02 00:00:00", "2024-01-02 12:00:00", -1e10, "-0.01"),
    (7, "Bob ", "", "Bergen", None, "2024-01-03", "2024-01-03 10:00:00", "2024-01-03 10:00:00", 3.75, "12.00"),
    (8, "Émile", "Émile", "Oslo", 3, "2024-05-05", "2024-05-05 05:05:05", "2024-05-05 05:05:05", 2.5, "7.77"),
    (9, "émile", "émile", "oslo", 2, "2024-05-06", "2024-05-06 06:06:06", "2024-05-06 06:06:06", -0.5, "-7.77"),
    (10, None, None, None, None, "2024-07-01", "2024-07-01 00:00:00", "2024-07-01 00:00:00", 1.0, "1.00"),
    (11, "", "", "", 1, "2024-07-02", "2024-07-02 00:00:00", "2024-07-02 00:00:00", 100.0, "100.00"),
    (12, "back\\slash", "back\\slash", "Oslo", 8, "2024-08-01", "2024-08-01 01:02:03", "2024-08-01 01:02:03", 8.0, "8.00"),
    (13, "100%", "100%", "Bergen", 9, "2024-09-01", "2024-09-01 09:09:09", "2024-09-01 09:09:09", 9.0, "9.00"),
    (14, "zoë", "ZOË", "Tromsø", 10, "2024-10-01", "2024-10-01 10:10:10", "2024-10-01 10:10:10", -10.0, "-10.00"),
]
CODES = [
    # id, person_id, code (utf8mb4_nopad_bin), amount, qty, ratio, day, at, f (FLOAT)
    (1, 1, "a", "1.10", 3, 0.5, "2024-01-01", "2024-01-01 01:00:00", 1.2345678),
    (2, 1, "a ", "2.20", -1, -0.25, "2024-01-02", "2024-01-02 02:00:00", 16777217.0),
    (3, 2, "a\t", "-3.30", 0, 1e300, "2024-01-03", "2024-01-03 03:00:00", -0.1),
    (4, 2, "B", "4.40", 7, -1e-300, "2024-01-04", "2024-01-04 04:00:00", 3.0),
    (5, 3, "b", "-5.50", 2, 2.5, None, None, None),
    (6, 3, "é", "6.60", 5, -7.5, "2024-01-06", "2024-01-06 06:00:00", 0.3),
    (7, 4, "e\u0301", "7.70", 1, 3.25, "2024-01-07", "2024-01-07 07:00:00", -2.5),
    (8, 4, None, None, None, None, "2024-01-08", "2024-01-08 08:00:00", 0.0),
    (9, 5, "a\\b", "9.90", 4, 4.75, "2024-01-09", "2024-01-09 09:00:00", 9.5),
    (10, 5, "100%", "10.00", -3, -9.5, "2024-01-10", "2024-01-10 10:00:00", 10.25),
    (11, 6, "Zed", "11.11", 6, 6.125, "2024-01-11", "2024-01-11 11:00:00", 11.0),
    (12, 7, "", "0.00", 0, 0.0, "2024-01-12", "2024-01-12 12:00:00", 12.0),
]
ORDERS = [
    # id, code_id, person_id, total, placed
    (1, 1, 1, "10.00", "2024-03-01 10:00:00"),
    (2, 1, 1, "5.50", "2024-03-02 11:00:00"),
    (3, 2, 1, "-2.25", "2024-03-03 12:00:00"),
    (4, 3, 2, "100.00", "2024-03-04 13:00:00"),
    (5, 4, 2, "0.01", "2024-03-05 14:00:00"),
    (6, 6, 3, "33.33", "2024-03-06 15:00:00"),
    (7, 7, 4, None, "2024-03-07 16:00:00"),
    (8, 9, 5, "12.34", None),
    (9, 11, 6, "99.99", "2024-03-09 18:00:00"),
    (10, 99, 7, "1.00", "2024-03-10 19:00:00"),
]
TAGS = [(1, "a"), (2, "a "), (3, "a\t"), (4, "A"), (5, "b"), (6, None)]  # utf8mb4_bin: binary, but PAD SPACE
REGIONS = [(1, "north"), (2, "south"), (3, "north"), (4, "west"), (5, "east"), (6, "south"), (8, "east")]


TABLES = ("fedq_my_people", "fedq_my_codes", "fedq_my_orders", "fedq_my_tags")


def _mysql(dsn: str):
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    return pymysql.connect(autocommit=True, charset="utf8mb4", **_parse_dsn(dsn))


@pytest.fixture(scope="module")
def mysql_data(mysql_dsn: str, mysql_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    """The fedq_my_* tables in MariaDB and a SQLite file with regions; returns (dsn, sqlite path)."""
    with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(
            "CREATE TABLE fedq_my_people (id INT PRIMARY KEY, "
            "name VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, "
            "tag VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, "
            "city VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, "
            "big BIGINT UNSIGNED, joined DATE, seen DATETIME(6), stamp TIMESTAMP(6) NULL DEFAULT NULL, "
            "score DOUBLE, balance DECIMAL(12,2))"
        )
        cur.executemany("INSERT INTO fedq_my_people VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", PEOPLE)
        cur.execute(
            "CREATE TABLE fedq_my_codes (id INT PRIMARY KEY, person_id INT, "
            "code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin, "
            "amount DECIMAL(12,2), qty SMALLINT, ratio DOUBLE, day DATE, at DATETIME, f FLOAT)"
        )
        cur.executemany("INSERT INTO fedq_my_codes VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", CODES)
        cur.execute("CREATE TABLE fedq_my_orders (id INT PRIMARY KEY, code_id INT, person_id INT, "
                    "total DECIMAL(12,2), placed DATETIME)")
        cur.executemany("INSERT INTO fedq_my_orders VALUES (%s, %s, %s, %s, %s)", ORDERS)
        cur.execute("CREATE TABLE fedq_my_tags (id INT, tag VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin)")
        cur.executemany("INSERT INTO fedq_my_tags VALUES (%s, %s)", TAGS)
    path = tmp_path_factory.mktemp("mysql") / "lite.sqlite"
    with sqlite3.connect(path) as lite:
        lite.execute("CREATE TABLE regions (person_id INTEGER, region TEXT)")
        lite.executemany("INSERT INTO regions VALUES (?, ?)", REGIONS)
    yield mysql_dsn, str(path)
    with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")


def _connect(data, pushdown: bool) -> fedq.Connection:
    dsn, path = data
    con = fedq.connect(pushdown=pushdown)
    con.attach("my", "mysql", dsn=dsn)
    con.attach("lite", "sqlite", path=path)
    return con


@pytest.fixture(scope="module")
def on(mysql_data):
    con = _connect(mysql_data, True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def off(mysql_data):
    con = _connect(mysql_data, False)
    yield con
    con.close()


# -- comparison ----------------------------------------------------------------------------
def _key(value: Any) -> tuple:
    if value is None:
        return (0,)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return (1, float(value))
    return (2, str(type(value)), str(value))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-300)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a == b and (a.tzinfo is None) == (b.tzinfo is None)
    return type(a) is type(b) and a == b


def _rows_equal(left: list[tuple], right: list[tuple], ordered: bool) -> bool:
    if not ordered:
        left = sorted(left, key=lambda r: tuple(_key(v) for v in r))
        right = sorted(right, key=lambda r: tuple(_key(v) for v in r))
    return len(left) == len(right) and all(
        len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b)) for a, b in zip(left, right)
    )


def run_both(on: fedq.Connection, off: fedq.Connection, sql: str, params: list | None = None, ordered: bool = False):
    """Rows with pushdown on and off (they must agree) and the statements the query sent to MySQL."""
    source = on.source("my")
    before = len(source.statements)
    pushed = on.execute(sql, params).fetchall()
    sent = source.statements[before:]
    local = off.execute(sql, params).fetchall()
    assert _rows_equal(pushed, local, ordered), f"pushdown changed the answer of {sql}\non:  {pushed}\noff: {local}\nsent: {sent}"
    return pushed, sent


P, C, O, G = "my.fedq_my_people", "my.fedq_my_codes", "my.fedq_my_orders", "my.fedq_my_tags"

DIFFERENTIAL = [
    # (id, sql, params, ordered)
    ("ci-equality", f"SELECT id, name FROM {P} WHERE name = 'ann'", None, False),
    ("ci-in", f"SELECT id FROM {P} WHERE name IN ('bob', 'Émile', 'zoe')", None, False),
    ("ci-trailing-space", f"SELECT id FROM {P} WHERE name = 'ann ' OR city = 'Oslo '", None, False),
    ("padspace-bin-equality", f"SELECT id FROM {P} WHERE tag = 'x '", None, False),
    ("padspace-bin-distinct", f"SELECT DISTINCT tag FROM {G}", None, False),
    ("padspace-bin-group", f"SELECT tag, count(*) FROM {G} GROUP BY tag", None, False),
    ("padspace-bin-order-limit", f"SELECT id, tag FROM {G} WHERE tag IS NOT NULL ORDER BY tag LIMIT 2", None, True),
    ("padspace-bin-equality-only", f"SELECT id FROM {G} WHERE tag = 'a'", None, False),
    ("ci-not-equal", f"SELECT id FROM {P} WHERE name <> 'ann'", None, False),
    ("ci-range", f"SELECT id FROM {P} WHERE name > 'ann' AND name < 'bob'", None, False),
    ("ci-group-by", f"SELECT name, count(*) FROM {P} GROUP BY name", None, False),
    ("ci-distinct", f"SELECT DISTINCT city FROM {P}", None, False),
    ("ci-min-max", f"SELECT min(name), max(name), min(tag), max(tag), min(city) FROM {P}", None, False),
    ("ci-order-limit", f"SELECT id, name FROM {P} WHERE name IS NOT NULL ORDER BY name, id LIMIT 4", None, True),
    ("bin-order-limit", f"SELECT id, code FROM {C} ORDER BY code LIMIT 5", None, True),
    ("bin-order-desc-nulls-first", f"SELECT id, code FROM {C} ORDER BY code DESC NULLS FIRST LIMIT 4", None, True),
    ("bin-min-max", f"SELECT min(code), max(code), count(DISTINCT code) FROM {C}", None, False),
    ("bin-distinct", f"SELECT DISTINCT code FROM {C}", None, False),
    ("bin-range", f"SELECT id FROM {C} WHERE code >= 'a' AND code < 'b'", None, False),
    ("bin-trailing-space", f"SELECT id FROM {C} WHERE code = 'a ' OR code = 'a'", None, False),
    ("backslash-bin", f"SELECT id FROM {C} WHERE code = 'a\\b'", None, False),
    ("backslash-ci", f"SELECT id FROM {P} WHERE name = 'back\\slash'", None, False),
    ("backslash-param", f"SELECT id FROM {C} WHERE code = ? OR code = '100%'", ["a\\b"], False),
    ("percent-literal", f"SELECT id FROM {C} WHERE code = '100%'", None, False),
    ("numeric-join-group", f"SELECT c.person_id, count(*), sum(o.total), min(o.total) FROM {C} c "
                           f"JOIN {O} o ON o.code_id = c.id GROUP BY c.person_id", None, False),
    ("numeric-left-join", f"SELECT c.id, o.id, o.total FROM {C} c LEFT JOIN {O} o ON o.code_id = c.id AND o.total > 1", None, False),
    ("union", f"SELECT person_id FROM {C} UNION SELECT person_id FROM {O}", None, False),
    ("sqlite-join", f"SELECT r.region, count(*), sum(p.balance) FROM {P} p JOIN lite.regions r "
                    f"ON r.person_id = p.id GROUP BY r.region", None, False),
    ("sqlite-join-ci-filter", f"SELECT p.id, r.region FROM {P} p JOIN lite.regions r ON r.person_id = p.id "
                              f"WHERE p.name = 'Ann'", None, False),
    ("sqlite-join-orders", f"SELECT r.region, sum(o.total) FROM {O} o LEFT JOIN lite.regions r "
                           f"ON r.person_id = o.person_id GROUP BY r.region", None, False),
    ("doubles-negative", f"SELECT sum(ratio), min(ratio), max(ratio), count(ratio) FROM {C} WHERE ratio < 0", None, False),
    ("doubles-top-n", f"SELECT id, ratio FROM {C} ORDER BY ratio DESC NULLS LAST LIMIT 4", None, True),
    ("doubles-top-n-nulls-first", f"SELECT id, ratio FROM {C} ORDER BY ratio NULLS FIRST LIMIT 3", None, True),
    ("decimals", f"SELECT id, balance FROM {P} WHERE balance < 0 OR balance >= 100", None, False),
    ("decimal-arith", f"SELECT id, amount * 2 + qty FROM {C} WHERE amount * 2 > 5", None, False),
    ("avg-split", f"SELECT person_id, avg(amount), sum(qty) FROM {C} GROUP BY person_id HAVING count(*) > 1", None, False),
    ("float-column", f"SELECT id, f FROM {C} WHERE id < 5", None, False),
    ("float-min-max", f"SELECT min(f), max(f), sum(f) FROM {C}", None, False),
    ("unsigned-compare", f"SELECT id, big FROM {P} WHERE big > 9223372036854775807 OR big = 5", None, False),
    ("unsigned-arith", f"SELECT id, big * 2 FROM {P} WHERE big < 100 AND big * 2 > 10", None, False),
    ("dates", f"SELECT id FROM {P} WHERE joined >= DATE '2024-02-29' AND joined < DATE '2024-07-01'", None, False),
    ("date-param", f"SELECT id FROM {C} WHERE day BETWEEN ? AND ?", [dt.date(2024, 1, 3), dt.date(2024, 1, 8)], False),
    ("datetime-param", f"SELECT id, seen FROM {P} WHERE seen < ?", [dt.datetime(2024, 1, 1, 8, 0, 0, 250000)], False),
    ("timestamp-zoned-param", f"SELECT id, stamp FROM {P} WHERE stamp >= ?",
     [dt.datetime(2024, 3, 1, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))], False),
    ("timestamp-zoned-string-param", f"SELECT id FROM {P} WHERE stamp < ?", ["2024-01-02T13:00:00+01:00"], False),
    ("timestamp-extract", f"SELECT id, stamp, seen, joined FROM {P} WHERE id IN (1, 2, 3, 4)", None, False),
    ("literal-collation", f"SELECT count(*) FROM {C} WHERE 'a' = 'A' OR 'a' = 'a '", None, False),
    ("float-param-int-column", f"SELECT id, qty FROM {C} WHERE qty = ? OR qty > ?", [2.5, 6.5], False),
    ("decimal-param", f"SELECT id FROM {C} WHERE amount > ? AND amount <> ?", [Decimal("1.104"), 4.4], False),
    ("datetime-param-date-column", f"SELECT id FROM {C} WHERE day < ?", [dt.datetime(2024, 1, 2, 12)], False),
    ("datetime-fraction-param", f"SELECT id FROM {P} WHERE seen < ?", [dt.datetime(2024, 1, 1, 8, 0, 0, 300000)], False),
    ("string-param-datetime-column", f"SELECT id FROM {C} WHERE at < ?", ["2024-01-02 02:00:00.5"], False),
    ("like-stays-local", f"SELECT id FROM {C} WHERE code LIKE 'a%' OR code LIKE '%\\%'", None, False),
    ("in-subquery-limit", f"SELECT id FROM {C} WHERE person_id IN (SELECT person_id FROM {O} ORDER BY total DESC LIMIT 2)",
     None, False),
    ("set-operations", f"SELECT id FROM {C} INTERSECT SELECT code_id FROM {O} EXCEPT SELECT 4", None, False),
    ("case-coalesce-top-n", f"SELECT id, CASE WHEN qty > 2 THEN 'big' ELSE coalesce(code, 'none') END AS k FROM {C} "
                            "ORDER BY k, id LIMIT 5", None, True),
    ("exists-subquery", f"SELECT c.id FROM {C} c WHERE EXISTS (SELECT 1 FROM {O} o WHERE o.code_id = c.id AND o.total > 10)",
     None, False),
]


@pytest.mark.parametrize("sql, params, ordered", [d[1:] for d in DIFFERENTIAL], ids=[d[0] for d in DIFFERENTIAL])
def test_differential(on, off, sql, params, ordered):
    rows, _ = run_both(on, off, sql, params, ordered)
    assert rows is not None




def test_parenthesized_set_operation_branches(on, off):
    run_both(on, off, f"(SELECT id FROM {C} ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM {O} ORDER BY id DESC LIMIT 2)")


# -- what reached the server -----------------------------------------------------------------
def test_ci_equality_is_a_prefilter_and_duckdb_rechecks(on, off):
    rows, sent = run_both(on, off, f"SELECT id, name FROM {P} WHERE name = 'ann'")
    assert rows == [(1, "ann")]  # MariaDB alone would also return Ann, ANN and 'ann '
    assert sent == ["SELECT `id`, `name` FROM `test`.`fedq_my_people` WHERE `name` = 'ann'"]
    explain = on.execute(f"EXPLAIN SELECT id FROM {P} WHERE name = 'ann'").fetchall()
    scan = next(row for row in explain if row[1] == "my")
    assert scan[4] == "" and "ann" in scan[5]  # inexact, not exact


def test_group_by_on_ci_column_is_not_pushed(on, off):
    rows, sent = run_both(on, off, f"SELECT name, count(*) FROM {P} GROUP BY name")
    assert len(sent) == 1 and "GROUP BY" not in sent[0].upper()
    assert sorted(r for r in rows if r[0] is not None and r[0].lower().startswith("ann")) == [
        ("ANN", 1), ("Ann", 1), ("ann", 1), ("ann ", 1)]


def test_ci_order_limit_is_not_pushed(on, off):
    _, sent = run_both(on, off, f"SELECT id, name FROM {P} ORDER BY name LIMIT 3", ordered=False)
    assert "LIMIT" not in sent[0].upper() and "ORDER BY" not in sent[0].upper()


def test_bin_order_limit_is_pushed(on, off):
    rows, sent = run_both(on, off, f"SELECT id, code FROM {C} ORDER BY code LIMIT 5", ordered=True)
    assert sent == ["SELECT `fedq_my_codes`.`id` AS `c0`, `fedq_my_codes`.`code` AS `c1` FROM `test`.`fedq_my_codes` AS "
                    "`fedq_my_codes` ORDER BY CASE WHEN `fedq_my_codes`.`code` IS NULL THEN 1 ELSE 0 END, "
                    "`fedq_my_codes`.`code` LIMIT 5"]
    # code-point order: '' < '100%' < 'B' < 'Zed' < 'a' (a PAD SPACE collation would tie 'a' and 'a ')
    assert [r[1] for r in rows] == ["", "100%", "B", "Zed", "a"]


def test_single_source_join_group_by_is_one_query(on, off):
    sql = (f"SELECT c.person_id, count(*), sum(o.total) FROM {C} c JOIN {O} o ON o.code_id = c.id "
           f"WHERE c.qty >= 0 GROUP BY c.person_id")
    rows, sent = run_both(on, off, sql)
    assert len(sent) == 1
    assert "JOIN" in sent[0] and "GROUP BY" in sent[0] and "`fedq_my_orders`" in sent[0]
    assert sorted(rows) == [(1, 2, Decimal("15.50")), (2, 2, Decimal("100.01")), (3, 1, Decimal("33.33")),
                            (4, 1, None), (5, 1, Decimal("12.34")), (6, 1, Decimal("99.99"))]


def test_backslash_literal_reaches_mariadb_escaped(on, off):
    rows, sent = run_both(on, off, f"SELECT id FROM {C} WHERE code = 'a\\b'")
    assert rows == [(9,)]
    assert sent == ["SELECT `fedq_my_codes`.`id` AS `c0` FROM `test`.`fedq_my_codes` AS `fedq_my_codes` "
                    "WHERE `fedq_my_codes`.`code` = 'a\\\\b'"]


def test_percent_with_and_without_binds(on, off):
    rows, sent = run_both(on, off, f"SELECT id FROM {C} WHERE code = ? OR code = '100%'", ["a\\b"])
    assert sorted(rows) == [(9,), (10,)]
    assert sent[0].endswith("WHERE `fedq_my_codes`.`code` = %s OR `fedq_my_codes`.`code` = '100%'")


def test_zoned_bind_is_sent_as_utc(on, off):
    value = dt.datetime(2024, 3, 1, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))  # 00:00 UTC
    rows, sent = run_both(on, off, f"SELECT id FROM {P} WHERE stamp >= ?", [value])
    assert "WHERE `stamp` >= CAST(%s AS DATETIME(6))" in sent[0]
    assert sorted(rows) == [(2,), (4,), (8,), (9,), (10,), (11,), (12,), (13,), (14,)]


def test_float_columns_keep_their_precision(on, off):
    rows, sent = run_both(on, off, f"SELECT id, f FROM {C} WHERE id IN (1, 2)")
    assert "CAST(`fedq_my_codes`.`f` AS DOUBLE) AS `c1`" in sent[0]
    values = dict(rows)
    assert values[1] == float(pa.array([1.2345678], pa.float32())[0].as_py())
    assert values[2] == 16777216.0  # MariaDB's text protocol would say 16777200


# -- types and metadata ------------------------------------------------------------------------
def test_schema_and_collation_safety(on, mysql_data):
    source = on.source("my")
    assert source.default_schema == "test"
    assert TableName("test", "fedq_my_people") in source.list_tables()
    people = source.table_schema(TableName("test", "fedq_my_people"))
    assert people.field("big").type == pa.uint64()
    assert people.field("balance").type == pa.decimal128(12, 2)
    assert people.field("stamp").type == pa.timestamp("us", tz="UTC")
    assert people.field("seen").type == pa.timestamp("us")
    assert people.field("joined").type == pa.date32()
    assert people.field("score").type == pa.float64()
    assert source.unsafe_columns(TableName("test", "fedq_my_people")) == {"name", "tag", "city", "big"}
    codes = source.table_schema(TableName("test", "fedq_my_codes"))
    assert codes.field("f").type == pa.float32() and codes.field("qty").type == pa.int16()
    assert source.unsafe_columns(TableName("test", "fedq_my_codes")) == frozenset()


def test_type_mapping_and_values(on, mysql_admin_dsn):
    with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_my_types")
        cur.execute(
            "CREATE TABLE fedq_my_types (flag TINYINT(1), e ENUM('b', 'a'), y YEAR, bits BIT(8), data BLOB, "
            "js JSON, opens TIME(6), mi MEDIUMINT UNSIGNED, ti TINYINT UNSIGNED, wide DECIMAL(40, 5), ch CHAR(5), "
            "lat VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin, nb VARCHAR(10) COLLATE utf8mb4_nopad_bin)"
        )
        cur.execute("INSERT INTO fedq_my_types VALUES (1, 'a', 2024, b'101', x'00ff', '{\"k\": [1, 2]}', "
                    "'23:59:59.5', 16777215, 255, 123456789012345678901234567890.12345, 'ab  ', 'é', 'nb')")
        cur.execute("INSERT INTO fedq_my_types VALUES (NULL, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    try:
        on.refresh("my")
        source = on.source("my")
        table = TableName("test", "fedq_my_types")
        schema = source.table_schema(table)
        assert [(f.name, f.type) for f in schema] == [
            ("flag", pa.int8()), ("e", pa.string()), ("y", pa.int16()), ("bits", pa.int64()), ("data", pa.binary()),
            ("js", pa.string()), ("opens", pa.time64("us")), ("mi", pa.int32()), ("ti", pa.int16()),
            ("wide", pa.string()), ("ch", pa.string()), ("lat", pa.string()), ("nb", pa.string())]
        # ENUM sorts by index, latin1 is cp1252 (not code-point order), BIT and wide decimals are opaque
        assert source.unsafe_columns(table) == {"e", "bits", "js", "mi", "ti", "wide", "ch", "lat"}
        rows = on.execute("SELECT * FROM my.fedq_my_types ORDER BY e").fetchall()
        assert rows[1] == (None, "b", None, None, None, None, None, None, None, None, None, None, None)
        assert rows[0] == (1, "a", 2024, 5, b"\x00\xff", '{"k": [1, 2]}', dt.time(23, 59, 59, 500000), 16777215, 255,
                           "123456789012345678901234567890.12345", "ab", "é", "nb")
    finally:
        with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS fedq_my_types")
        on.refresh("my")


def test_values_duckdb_cannot_hold_are_errors_not_guesses(on, mysql_admin_dsn):
    with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_my_odd")
        cur.execute("CREATE TABLE fedq_my_odd (id INT, span TIME, d DATE)")
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO fedq_my_odd VALUES (1, '-01:00:00', '2024-01-01'), (2, '12:00:00', '0000-00-00')")
    try:
        on.refresh("my")
        with pytest.raises(fedq.OperationalError, match=r"source 'my' \(mysql\).*not a time of day"):
            on.execute("SELECT span FROM my.fedq_my_odd").fetchall()
        with pytest.raises(fedq.OperationalError, match=r"source 'my' \(mysql\).*0000-00-00"):
            on.execute("SELECT d FROM my.fedq_my_odd").fetchall()
        assert on.execute("SELECT id FROM my.fedq_my_odd WHERE id = 1").fetchall() == [(1,)]
    finally:
        with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS fedq_my_odd")
        on.refresh("my")


def test_reader_closed_early_drops_its_connection(off, mysql_admin_dsn):
    with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_my_big")
        cur.execute("CREATE TABLE fedq_my_big AS SELECT seq AS id, REPEAT('x', 200) AS pad FROM seq_1_to_300000")
    try:
        off.refresh("my")
        source = off.source("my")
        started = time.monotonic()
        for _ in range(3):  # pushdown off: the whole table is scanned, DuckDB stops after 3 rows
            cursor = off.execute("SELECT id, pad FROM my.fedq_my_big LIMIT 3")
            assert len(cursor.fetchall()) == 3
            cursor.close()
            assert not source._active  # the unfinished result's connection was dropped, not drained
        assert time.monotonic() - started < 20
        assert off.execute("SELECT count(*) FROM my.fedq_my_big").fetchall() == [(300000,)]
    finally:
        with _mysql(mysql_admin_dsn) as con, con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS fedq_my_big")
        off.refresh("my")


def test_classify_filter(on):
    source = on.source("my")
    table = TableName("test", "fedq_my_people")
    schema = source.table_schema(table)

    def verdict(sql: str) -> Pushdown:
        from sqlglot.optimizer.annotate_types import annotate_types
        from sqlglot.optimizer.qualify import qualify

        from fedq.catalog.types import arrow_to_duckdb

        types = {"t": {f.name: arrow_to_duckdb(f.type) for f in schema}}
        tree = qualify(exp.select("*").from_("t").where(sql, dialect="duckdb"), schema=types, dialect="duckdb")
        term = annotate_types(tree, schema=types, dialect="duckdb").args["where"].this
        for column in term.find_all(exp.Column):
            column.set("table", None)  # scan filters reach the source over bare column names
        return source.classify_filter(term, schema, table)

    assert verdict("name = 'ann'") is Pushdown.INEXACT
    assert verdict("name IN ('a', 'b')") is Pushdown.INEXACT
    assert verdict("(name = 'a' OR tag = 'b') AND score > 1") is Pushdown.INEXACT
    assert verdict("name <> 'ann'") is Pushdown.UNSUPPORTED
    assert verdict("name < 'b'") is Pushdown.UNSUPPORTED
    assert verdict("NOT name = 'ann'") is Pushdown.UNSUPPORTED
    assert verdict("name = 'a' OR name LIKE 'b%'") is Pushdown.UNSUPPORTED
    assert verdict("big > 5") is Pushdown.EXACT
    assert verdict("big - 10 < 0") is Pushdown.UNSUPPORTED
    assert verdict("score > 1") is Pushdown.EXACT


def test_escape_percent():
    from fedq.sources.mysql import escape_percent

    assert escape_percent("SELECT `a%` FROM t WHERE x = %s AND y = '100%' AND z = 'it''s %s' AND w = 'a\\'%'") == (
        "SELECT `a%%` FROM t WHERE x = %s AND y = '100%%' AND z = 'it''s %%s' AND w = 'a\\'%%'")


# -- sessions ------------------------------------------------------------------------------------
def test_session_is_read_only_and_utc(on, mysql_admin_dsn):
    source = on.source("my")
    settings = source.query("SELECT @@session.time_zone, @@session.tx_read_only, @@session.sql_mode, "
                            "@@collation_connection", (), FetchStats()).read_all().to_pylist()[0]
    assert list(settings.values())[:2] == ["+00:00", 1]
    assert "NO_BACKSLASH_ESCAPES" not in list(settings.values())[2]
    source = MySQLSource(name="root", dsn=mysql_admin_dsn, allow_privileged_role=True)  # may write: the session refuses
    with pytest.raises(fedq.OperationalError, match="READ ONLY"):
        source.query("INSERT INTO fedq_my_orders VALUES (100, 1, 1, 1.00, NULL)", (), FetchStats()).read_all()
    with pytest.raises(fedq.OperationalError, match="READ ONLY"):
        source.query("CREATE TABLE fedq_my_never (a INT)", (), FetchStats()).read_all()
    count = source.query("SELECT COUNT(*) FROM fedq_my_orders", (), FetchStats()).read_all().column(0)[0].as_py()
    source.close()
    assert count == len(ORDERS)


def test_unreachable_dsn_names_the_source_without_password():
    con = fedq.connect()
    con.attach("far", "mariadb", dsn="mysql://root:s3cret-pw@127.0.0.1:1/test", connect_timeout=3)
    with pytest.raises(fedq.OperationalError) as caught:
        con.execute("SELECT * FROM far.anything").fetchall()
    message = str(caught.value)
    assert "source 'far' (mysql)" in message and "s3cret-pw" not in message
    assert "s3cret-pw" not in con.source("far").describe_source()
    con.close()


def test_cancel_kills_the_running_statement(on):
    source = on.source("my")
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["rows"] = source.query("SELECT SLEEP(20) AS s", (), FetchStats()).read_all().to_pylist()
        except Exception as error:
            outcome["error"] = error

    started = time.monotonic()
    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(1.0)
    source.cancel()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 10
    # KILL QUERY ends SLEEP() early: MariaDB returns 1 for it, or reports the interruption
    assert outcome.get("rows") == [{"s": 1}] or isinstance(outcome.get("error"), fedq.OperationalError), outcome
