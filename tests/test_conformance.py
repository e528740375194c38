"""One conformance suite for every SQL source (Trino-style): the same adversarial table in
PostgreSQL, MariaDB, SQLite and a DuckDB file, and one query per rule of
docs/PUSHDOWN_HAZARDS.md, each run with pushdown on and off. Rows must be identical.

Rules that are about one engine only (NaN: only PostgreSQL stores it; SQLite affinity) add
their own rows where the source can hold them; rule 18 (snapshots) lives in
test_remote_sql_snapshots.py."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pymysql
import pytest

import fedq
from fedq.sources.mysql import _parse_dsn
from cleanup import drop_mysql_tables, drop_pg_schemas

NAMES = ["abc", "ABC", "abc ", "Émile", "€uro", "", None, "a%b", "a_b", "a\\b", "zeta", "éclair", "Zeta", "b"]
ROWS = [
    (i + 1, name, ["x", "x ", "yy", None][i % 4], Decimal(f"{(i - 6) * 2.5:.2f}") if i != 5 else None,
     [1.5, -2.0, 0.0, 3.25, None][i % 5], dt.date(2024, 3, 25) + dt.timedelta(days=i),
     dt.datetime(2024, 3, 31, 0, 30) + dt.timedelta(hours=i))
    for i, name in enumerate(NAMES)
]
COLUMNS = "id, name, code, price, f, d, ts"

RULES = {
    "r01_case_insensitive_equality": "SELECT id FROM {t} WHERE name = 'abc'",
    "r01_case_insensitive_group_by": "SELECT name, count(*) FROM {t} GROUP BY name",
    "r01_case_insensitive_distinct_minmax": "SELECT count(DISTINCT name), min(name), max(name) FROM {t}",
    "r02_pad_space_equality": "SELECT id FROM {t} WHERE name = 'abc ' OR code = 'x'",
    "r03_char_padding": "SELECT id, code FROM {t} WHERE code IN ('x', 'x ') ORDER BY id",
    "r04_text_order_limit": "SELECT name FROM {t} WHERE name IS NOT NULL ORDER BY name LIMIT 6",
    "r04_text_range": "SELECT id FROM {t} WHERE name > 'Z' AND name < 'é'",
    "r05_nulls_first_desc": "SELECT id, price FROM {t} ORDER BY price DESC NULLS FIRST, id LIMIT 4",
    "r05_nulls_last_asc": "SELECT id, f FROM {t} ORDER BY f ASC NULLS LAST, id LIMIT 12",
    "r06_float_comparisons": "SELECT id FROM {t} WHERE f > 0 OR f <= -2",
    "r07_division_and_modulo": "SELECT id, price / 2, id % 3, id / 4 FROM {t} WHERE id % 2 = 1 AND -id % 3 <> 0",
    "r07_divide_by_zero_guarded": "SELECT id, CASE WHEN f = 0 THEN NULL ELSE price / f END FROM {t}",
    "r08_decimal_avg_sum": "SELECT code, avg(price), sum(price), count(price) FROM {t} GROUP BY code",
    "r09_timestamp_range": "SELECT id FROM {t} WHERE ts >= TIMESTAMP '2024-03-31 02:00:00' AND ts < TIMESTAMP '2024-03-31 05:00:00'",
    "r10_non_deterministic": "SELECT id FROM {t} WHERE random() < 2 AND d <= current_date",
    "r11_limit_after_local_filter": "SELECT id FROM {t} WHERE lower(name) = 'abc' ORDER BY id LIMIT 1",
    "r11_offset": "SELECT id FROM {t} ORDER BY id LIMIT 3 OFFSET 4",
    "r12_outer_join_on": "SELECT a.id, b.id FROM {t} a LEFT JOIN {t} b ON b.id = a.id + 1 AND b.price > 0 AND a.f > 0",
    "r13_union_vs_union_all": "SELECT name FROM {t} UNION SELECT upper(name) FROM {t}",
    "r13_union_all": "SELECT code FROM {t} WHERE id < 5 UNION ALL SELECT code FROM {t} WHERE id < 3",
    "r14_like_escapes": "SELECT id FROM {t} WHERE name LIKE 'a\\%' OR name LIKE 'a%b' OR name LIKE 'a_b'",
    "r15_like_case": "SELECT id FROM {t} WHERE name LIKE 'ab%' OR name ILIKE 'zeta'",
    "r16_character_functions": "SELECT id, length(name), lower(name), upper(name) FROM {t}",
    "r17_date_parts": "SELECT dayofweek(d), isodow(d), week(d), count(*) FROM {t} GROUP BY ALL",
    "r19_literal_types": "SELECT id FROM {t} WHERE id = 3 OR price = 5 OR d = DATE '2024-03-27'",
    "r20_empty_string_vs_null": "SELECT id, name = '', name IS NULL FROM {t} WHERE name = '' OR name IS NULL",
}


@pytest.fixture(scope="module")
def sources(request, tmp_path_factory, pg_dsn, mysql_dsn, pg_admin_dsn, mysql_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_conf"))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, "fedq_conf_hz"))
    root = tmp_path_factory.mktemp("conformance")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_conf CASCADE")
        cur.execute("CREATE SCHEMA fedq_conf")
        cur.execute("CREATE TABLE fedq_conf.hz (id integer, name text, code char(2), price numeric(10,2), "
                    "f double precision, d date, ts timestamp)")
        for row in ROWS:
            cur.execute("INSERT INTO fedq_conf.hz VALUES ($1, $2, $3, $4, $5, $6, $7)", row)
    with pymysql.connect(**_parse_dsn(mysql_admin_dsn), autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_conf_hz")
        cur.execute("CREATE TABLE fedq_conf_hz (id int, name varchar(20), code char(2), price decimal(10,2), "
                    "f double, d date, ts datetime) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci")
        cur.executemany("INSERT INTO fedq_conf_hz VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS)
    with sqlite3.connect(root / "hz.sqlite") as con:
        con.execute("CREATE TABLE hz (id INTEGER, name TEXT, code TEXT, price DECIMAL(10,2), f REAL, d DATE, ts TIMESTAMP)")
        con.executemany("INSERT INTO hz VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(r[0], r[1], r[2], None if r[3] is None else float(r[3]), r[4], r[5].isoformat(),
                          r[6].isoformat(sep=" ")) for r in ROWS])
    with duckdb.connect(str(root / "hz.duckdb")) as con:
        con.execute("CREATE TABLE hz (id INTEGER, name VARCHAR, code VARCHAR, price DECIMAL(10,2), f DOUBLE, d DATE, ts TIMESTAMP)")
        con.executemany("INSERT INTO hz VALUES (?, ?, ?, ?, ?, ?, ?)", ROWS)
    return {
        "postgres": ("postgres", {"dsn": pg_dsn}, "src.fedq_conf.hz"),
        "mariadb": ("mysql", {"dsn": mysql_dsn}, "src.fedq_conf_hz"),
        "sqlite": ("sqlite", {"path": str(root / "hz.sqlite")}, "src.hz"),
        "duckdb": ("duckdb", {"path": str(root / "hz.duckdb")}, "src.hz"),
    }


def _rows(kind: str, options: dict, sql: str, pushdown: bool) -> list[tuple]:
    with fedq.connect(pushdown=pushdown) as con:
        con.attach("src", kind, **options)
        rows = con.execute(sql).fetchall()
    return rows if "ORDER BY" in sql else sorted(rows, key=lambda r: tuple((v is None, repr(v)) for v in r))


def _normal(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, Decimal):
        return round(float(value), 9)
    return value


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("source", ["postgres", "mariadb", "sqlite", "duckdb"])
def test_hazard_rule_gives_the_same_rows_with_pushdown_on_and_off(sources, source, rule):
    kind, options, table = sources[source]
    sql = RULES[rule].format(t=table)
    pushed, local = (_rows(kind, options, sql, pushdown) for pushdown in (True, False))
    assert [tuple(map(_normal, r)) for r in pushed] == [tuple(map(_normal, r)) for r in local]


@pytest.mark.parametrize("source", ["postgres", "mariadb", "sqlite", "duckdb"])
def test_non_deterministic_functions_never_reach_the_source(sources, source):
    kind, options, table = sources[source]
    with fedq.connect() as con:
        con.attach("src", kind, **options)
        con.execute(RULES["r10_non_deterministic"].format(t=table)).fetchall()
        assert not any("rand" in s.lower() or "current_date" in s.lower() or "now()" in s.lower()
                       for s in con.source("src").statements)


def test_every_rule_of_the_hazard_list_has_a_conformance_query():
    """docs/PUSHDOWN_HAZARDS.md and RULES stay in step: a rule added there needs a query here."""
    import re
    from pathlib import Path

    hazards = (Path(__file__).resolve().parent.parent / "docs" / "PUSHDOWN_HAZARDS.md").read_text()
    listed = {int(n) for n in re.findall(r"^\| (\d+) \|", hazards, flags=re.MULTILINE)}
    covered = {int(name[1:3]) for name in RULES} | {18}  # 18, transpiler drift: test_remote_sql_snapshots.py
    assert listed == set(range(1, 21)) and listed == covered
