"""Issue 15 item 4, wider function pushdown (engine/capabilities.py ``_function_rule``): each function
pushed to a dialect is (1) seen in the SQL sent to the source and (2) gives the same rows and column
types as the same query with pushdown off, over adversarial data: NULLs, empty strings, spaces and
tabs, non-ASCII text ('é', 'ß', 'İ', emoji), halves for ROUND in decimal and double columns, month,
year and leap-day dates, timestamps with fractional seconds. What is kept local (docs/PUSHDOWN_HAZARDS.md,
"Functions") is checked to stay local, and still to give the same rows.

Data: PostgreSQL schema fedq_fp (table t), MariaDB table fedq_fp_t, one SQLite file."""
from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import pymysql
import pytest

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas
from fedq.sources.mysql import _parse_dsn

SCHEMA = "fedq_fp"
MY_TABLE = "fedq_fp_t"
MY_UNSAFE = "fedq_fp_u"  # case-insensitive text and a zoned TIMESTAMP: the source keeps its table out of queries

TEXTS = [None, "", " ", "abc", " lead", "trail ", "\tTab\t", "  both  ", "é", " é ", "ß", "İstanbul", "😀x",
         "naïve café", "a%b_c", "a\\b", "ABC", "x"]
DECIMALS = [Decimal(v) if v is not None else None
            for v in ("0.5", "1.5", "2.5", "-2.5", "-0.5", "0.25", "1.25", "2.45", "-1.25", "15.00", "25.00",
                      "-25.00", None, "0.00", "99999999.99", "-0.05")]
FLOATS = [0.5, 1.5, 2.5, -2.5, -0.5, 0.25, 1.25, 2.45, -1.25, 15.0, 25.0, None, 0.0, 1e15 + 0.5]
DATES = [dt.date(2024, 2, 29), dt.date(2023, 12, 31), dt.date(2024, 1, 31), dt.date(2000, 1, 1),
         dt.date(1999, 12, 31), None, dt.date(2023, 2, 28), dt.date(2024, 3, 1), dt.date(2100, 12, 31)]
STAMPS = [dt.datetime(2024, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 2, 29, 12, 30, 45, 500000),
          dt.datetime(2023, 1, 1), None, dt.datetime(1999, 12, 31, 23, 0, 0, 1), dt.datetime(2024, 6, 30, 0, 59, 0, 250000)]
ROWS = 24


def _column(values: list, offset: int = 0) -> list:
    return list(itertools.islice(itertools.cycle(values), offset, offset + ROWS))


def _rows() -> list[tuple]:
    return list(zip(range(1, ROWS + 1), _column(TEXTS), _column(TEXTS, 5), _column(DECIMALS), _column(FLOATS),
                    _column(DATES), _column(STAMPS)))


@pytest.fixture(scope="module")
def setup(request, pg_dsn, pg_admin_dsn, mysql_dsn, mysql_admin_dsn, tmp_path_factory):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, MY_TABLE, MY_UNSAFE))
    rows = _rows()
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.t (id integer, s text, c char(6), n numeric(10,2), f double precision, "
                    "d date, ts timestamp, tz timestamptz)")
        for row in rows:
            zoned = None if row[6] is None else row[6].replace(tzinfo=dt.timezone.utc)
            cur.execute(f"INSERT INTO {SCHEMA}.t VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        parameters=(*row[:2], None if row[2] is None else row[2][:6], *row[3:], zoned))
    with pymysql.connect(**_parse_dsn(mysql_admin_dsn), autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"DROP TABLE IF EXISTS {MY_UNSAFE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id INT, s VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin, "
                    "c VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin, n DECIMAL(10,2), f DOUBLE, "
                    "d DATE, ts DATETIME(6))")
        cur.executemany(f"INSERT INTO {MY_TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        cur.execute(f"CREATE TABLE {MY_UNSAFE} (id INT, ci VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, "
                    "tz TIMESTAMP(6) NULL)")
        cur.executemany(f"INSERT INTO {MY_UNSAFE} VALUES (%s, %s, %s)", [(row[0], row[1], row[6]) for row in rows])
    path = tmp_path_factory.mktemp("fp") / "fp.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (id INTEGER, s TEXT, c TEXT, k INTEGER, f REAL, n NUMERIC(10,2), d DATE)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(r[0], r[1], r[2], None if r[0] % 5 == 0 else r[0] % 4, r[4], None if r[3] is None else float(r[3]),
                          None if r[5] is None else r[5].isoformat()) for r in rows])
    con.close()
    return {"pg": pg_dsn, "my": mysql_dsn, "lite": str(path)}


def _connect(setup, pushdown: bool = True) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    con.attach("pg", "postgres", dsn=setup["pg"])
    con.attach("my", "mysql", dsn=setup["my"])
    con.attach("lite", "sqlite", path=setup["lite"])
    return con


@pytest.fixture(scope="module")
def engines(setup):
    on, off = _connect(setup), _connect(setup, pushdown=False)
    yield on, off
    on.close()
    off.close()


TABLES = {"pg": f"pg.{SCHEMA}.t AS t", "my": f"my.{MY_TABLE} AS t", "lite": "lite.t AS t"}


def _sql(source: str, sql: str) -> str:
    return sql.replace("{t}", TABLES[source]).replace("{u}", f"my.{MY_UNSAFE}")


def _remote(con: fedq.Connection, source: str, sql: str) -> list[str]:
    return [f.remote_sql for f in con.plan(sql).fragments if f.source.name == source]


def _same_rows(engines, sql: str) -> list[tuple]:
    on, off = engines
    pushed, local = on.execute(sql), off.execute(sql)
    assert [d[:2] for d in pushed.description] == [d[:2] for d in local.description]
    rows, expected = pushed.fetchall(), local.fetchall()
    assert sorted(rows, key=repr) == sorted(expected, key=repr)
    return rows


# (source, query, texts the SQL sent to the source must contain)
PUSHED = [
    # PostgreSQL
    ("pg", "SELECT id, substring(s, 2, 3) AS a, substr(s, 1, 1) AS b, substring(s, 3) AS c, substring(s, 1, 0) AS z, "
           "substring(s, 30, 2) AS past FROM {t} WHERE substring(s, 1, 1) IN ('é', ' ', '😀', 'İ') OR substring(s, 2) <> ''",
     ["SUBSTRING(\"t\".\"s\" FROM 2 FOR 3)", "SUBSTRING(\"t\".\"s\" FROM 3)", "FROM 1 FOR 0"]),
    ("pg", "SELECT id, substring(c, 2, 4) AS a, length(substring(c, 1, 6)) AS l FROM {t} WHERE substring(c, 1, 3) <> 'x'",
     ["SUBSTRING(\"t\".\"c\" FROM 2 FOR 4)"]),
    ("pg", "SELECT id, '[' || trim(s) || ']' AS a, '[' || ltrim(s) || ']' AS b, '[' || rtrim(s) || ']' AS c, "
           "trim(both ' ' from s) AS d, trim(c) AS e FROM {t} WHERE trim(s) <> s OR ltrim(s) = '' OR rtrim(s) = 'é'",
     ["TRIM(\"t\".\"s\")", "LTRIM(\"t\".\"s\")", "RTRIM(\"t\".\"s\")", "TRIM(BOTH ' ' FROM"]),
    ("pg", "SELECT id, coalesce(s, 'none') AS a, nullif(s, '') AS b, coalesce(n, 0) AS c, nullif(n, 2.5) AS e, "
           "coalesce(d, DATE '1970-01-01') AS g, coalesce(c, s) AS h FROM {t} "
           "WHERE coalesce(s, '') = '' OR nullif(trim(s), '') IS NULL OR coalesce(n, 0) > 1",
     ["COALESCE(\"t\".\"s\", 'none')", "NULLIF(\"t\".\"s\", '')", "NULLIF(TRIM(\"t\".\"s\"), '')", "COALESCE(\"t\".\"n\", 0) > 1"]),
    ("pg", "SELECT id, s FROM {t} WHERE coalesce(s, '') > 'a' AND nullif(s, 'x') < 'ß'",
     ["COALESCE(\"t\".\"s\", '') COLLATE \"C\" > 'a' COLLATE \"C\"", "NULLIF(\"t\".\"s\", 'x') COLLATE \"C\""]),
    ("pg", "SELECT min(coalesce(s, 'zzz')) AS lo, max(coalesce(s, '')) AS hi, max(nullif(s, '😀x')) AS m FROM {t}",
     ["MIN(COALESCE(\"t\".\"s\", 'zzz') COLLATE \"C\")"]),
    ("pg", "SELECT id, n, round(n) AS r0, round(n, 1) AS r1, round(n, -1) AS rm, round(n, 2) AS r2, round(n, 4) AS r4 "
           "FROM {t} WHERE round(n) <> 0 OR round(n, 1) = 0.3 OR n IS NULL",
     ["ROUND(\"t\".\"n\")", "ROUND(\"t\".\"n\", 1)", "ROUND(\"t\".\"n\", -1)"]),
    ("pg", "SELECT id, extract(year from d) AS y, extract(month from d) AS m, extract(day from d) AS dd, year(ts) AS ty, "
           "month(ts) AS tm, day(ts) AS td, extract(hour from ts) AS h, extract(minute from ts) AS mi FROM {t} "
           "WHERE extract(month from d) IN (2, 12) OR extract(day from ts) = 31 OR d IS NULL",
     ["EXTRACT(YEAR FROM \"t\".\"d\")", "EXTRACT(MINUTE FROM \"t\".\"ts\")", "EXTRACT(MONTH FROM \"t\".\"ts\")"]),
    ("pg", "SELECT id, d + 1 AS a, d - 1 AS b, d + INTERVAL 1 MONTH AS c, d - INTERVAL '1 year' AS e, "
           "ts + INTERVAL '1 day' AS g, d - DATE '2024-01-01' AS h FROM {t} WHERE d + 1 > DATE '2024-01-01'",
     ["\"t\".\"d\" + 1", "INTERVAL '1 MONTH'", "- CAST('2024-01-01' AS DATE)"]),
    ("pg", "SELECT id, CASE WHEN n > 1 THEN 'big' WHEN n IS NULL THEN NULL ELSE s END AS k, "
           "CASE s WHEN '' THEN 'empty' WHEN ' ' THEN 'space' END AS e FROM {t} "
           "WHERE CASE WHEN s = '' THEN TRUE ELSE n > 0 END",
     ["CASE WHEN \"t\".\"n\" > 1 THEN 'big'", "WHERE CASE WHEN"]),
    ("pg", "SELECT id, s FROM {t} WHERE s NOT LIKE '%é%' AND s NOT LIKE '_'", ["NOT LIKE '%é%'"]),
    ("pg", "SELECT id, s FROM {t} WHERE s LIKE 'a!%%' ESCAPE '!' OR s LIKE '%\\%' OR s LIKE 'a_b%'",
     ["LIKE 'a!%%' ESCAPE '!'"]),
    # MariaDB (s is utf8mb4_nopad_bin: compares like DuckDB)
    ("my", "SELECT id, coalesce(s, 'none') AS a, nullif(s, '') AS b, coalesce(n, 0) AS c, nullif(n, 2.5) AS e, "
           "coalesce(f, -1) AS g FROM {t} WHERE coalesce(n, 0) > 1 OR nullif(s, 'abc') IS NULL",
     ["COALESCE(`t`.`s`, 'none')", "NULLIF(`t`.`n`, 2.5)", "COALESCE(`t`.`n`, 0) > 1"]),
    ("my", "SELECT id, n, round(n) AS r0, round(n, 1) AS r1, round(n, -1) AS rm, round(n, 4) AS r4 FROM {t} "
           "WHERE round(n) <> 0 OR n IS NULL",
     ["ROUND(`t`.`n`)", "ROUND(`t`.`n`, 1)", "ROUND(`t`.`n`, -1)"]),
    ("my", "SELECT id, extract(year from d) AS y, extract(month from d) AS m, extract(day from d) AS dd, year(ts) AS ty, "
           "month(ts) AS tm, day(ts) AS td, extract(hour from ts) AS h, extract(minute from ts) AS mi, "
           "extract(second from ts) AS sec FROM {t} WHERE extract(month from d) IN (2, 12) OR d IS NULL",
     ["EXTRACT(YEAR FROM `t`.`d`)", "EXTRACT(SECOND FROM `t`.`ts`)", "YEAR(`t`.`ts`)"]),
    ("my", "SELECT id, substring(s, 2, 3) AS a, substring(s, 3) AS c, substring(s, 1, 0) AS z FROM {t} "
           "WHERE substring(s, 1, 1) IN ('é', ' ', '😀', 'İ') OR substring(s, 2) <> ''",
     ["SUBSTRING(`t`.`s`, 2, 3)", "SUBSTRING(`t`.`s`, 1, 1) IN"]),
    ("my", "SELECT id, CASE WHEN n > 1 THEN 'big' ELSE s END AS k FROM {t} WHERE CASE WHEN n IS NULL THEN TRUE ELSE n < 0 END",
     ["CASE WHEN `t`.`n` > 1"]),
    # SQLite
    ("lite", "SELECT id, coalesce(s, 'none') AS a, nullif(s, '') AS b, coalesce(k, -1) AS c, nullif(k, 2) AS e, "
             "coalesce(f, 0) AS g FROM {t} WHERE coalesce(k, 0) > 1 OR nullif(s, 'abc') IS NULL",
     ["COALESCE(\"t\".\"s\", 'none')", "NULLIF(\"t\".\"k\", 2)", "COALESCE(\"t\".\"k\", 0) > 1"]),
    ("lite", "SELECT id, coalesce(n, 0) AS a, nullif(n, 2.5) AS b FROM {t} WHERE coalesce(n, 0) > 1 OR nullif(n, 0) IS NULL",
     ["COALESCE(\"t\".\"n\", 0) > 1", "NULLIF(\"t\".\"n\", 2.5)"]),
    ("lite", "SELECT id, CASE WHEN k > 1 THEN 'big' ELSE s END AS e FROM {t} WHERE CASE WHEN k IS NULL THEN 1 ELSE k END > 1",
     ["CASE WHEN \"t\".\"k\" > 1"]),
]

# (source, query, text that must not reach the source): decided to stay local, docs/PUSHDOWN_HAZARDS.md
LOCAL = [
    ("pg", "SELECT id, upper(s) AS u FROM {t}", "UPPER"),  # 'ß' -> 'ẞ' in DuckDB, 'ß' at PostgreSQL
    ("pg", "SELECT id, lower(s) AS l FROM {t} WHERE lower(s) = 'abc'", "LOWER"),
    ("pg", "SELECT id FROM {t} WHERE s ILIKE 'É%' OR s ILIKE 'abc'", "ILIKE"),
    ("pg", "SELECT id, round(f) AS r0, round(f, 1) AS r1 FROM {t}", "ROUND"),  # half to even at PostgreSQL
    ("pg", "SELECT id, extract(second from ts) AS sec FROM {t}", "EXTRACT"),  # 59.999999 at PostgreSQL
    ("pg", "SELECT id, extract(year from tz) AS y, extract(hour from tz) AS h FROM {t}", "EXTRACT"),
    ("pg", "SELECT id, extract(dow from d) AS w, extract(week from d) AS k FROM {t}", "EXTRACT"),
    ("pg", "SELECT id, extract(hour from d) AS h FROM {t}", "EXTRACT"),  # PostgreSQL refuses HOUR of a date
    ("pg", "SELECT id, substring(s, 0, 2) AS a, substring(s, -1) AS b FROM {t}", "SUBSTRING"),
    ("pg", "SELECT id, substring(s, 2, -1) AS a FROM {t}", "SUBSTRING"),  # an error at PostgreSQL
    ("pg", "SELECT id, substring(s, id, 2) AS a FROM {t}", "SUBSTRING"),
    ("pg", "SELECT id, trim(s, 'a ') AS a FROM {t}", "TRIM"),
    ("pg", "SELECT id, date_part('year', d) AS y FROM {t}", "DATE_PART"),
    ("my", "SELECT id, round(f) AS r0, round(f, 1) AS r1 FROM {t}", "ROUND"),
    ("my", "SELECT id, substring(s, 0) AS a, substring(s, -2, 1) AS b FROM {t}", "SUBSTRING"),
    ("my", "SELECT id, substring(ci, 1, 2) AS a FROM {u} WHERE substring(ci, 1, 1) = 'a'", "SUBSTRING"),
    ("my", "SELECT id, nullif(ci, 'abc') AS a FROM {u} WHERE nullif(ci, 'abc') IS NULL", "NULLIF"),
    ("my", "SELECT id, extract(year from tz) AS y FROM {u} WHERE extract(hour from tz) = 23", "EXTRACT"),
    ("my", "SELECT id, d + 1 AS a FROM {t}", "+ 1"),
    ("my", "SELECT id, trim(s) AS a, upper(s) AS u FROM {t}", "TRIM"),
    ("pg", "SELECT id, coalesce(ts, tz) AS a FROM {t}", "COALESCE"),  # naive and zoned (hazard 9)
    ("lite", "SELECT id, round(f, 1) AS r FROM {t}", "ROUND"),
    ("lite", "SELECT id, coalesce(n, 0) * 3 AS a FROM {t} WHERE coalesce(n, 0) * 3 > 1", "COALESCE"),  # decimals as floats
    ("lite", "SELECT id FROM {t} WHERE coalesce(d, DATE '2000-01-01') > DATE '2020-01-01'", "COALESCE"),  # dates as text
    ("lite", "SELECT id, substring(s, 2, 2) AS a, trim(s) AS b, upper(s) AS u FROM {t}", "SUBSTR"),
    ("lite", "SELECT id FROM {t} WHERE s LIKE 'a%'", "LIKE"),
]


def _id(case) -> str:
    return f"{case[0]}:{case[1][7:60]}"


@pytest.mark.parametrize("case", PUSHED, ids=_id)
def test_the_function_is_sent_to_the_source(engines, case):
    source, sql, texts = case
    remote = _remote(engines[0], source, _sql(source, sql))
    assert len(remote) == 1, remote
    for text in texts:
        assert text in remote[0], f"{text!r} not in {remote[0]}"
    notes = engines[0].execute("EXPLAIN " + _sql(source, sql)).fetchall()[-1][6]
    assert "allowlist" not in (notes or "") and "not pushed" not in (notes or ""), notes


@pytest.mark.parametrize("case", PUSHED, ids=_id)
def test_pushed_function_gives_the_local_answer(engines, case):
    source, sql, _ = case
    assert _same_rows(engines, _sql(source, sql))


@pytest.mark.parametrize("case", LOCAL, ids=_id)
def test_kept_local(engines, case):
    source, sql, text = case
    remote = _remote(engines[0], source, _sql(source, sql))
    assert remote and not any(text in r.upper() for r in remote), remote
    assert _same_rows(engines, _sql(source, sql))


def test_round_halves_away_from_zero_at_both_sources(engines):
    """The halves themselves: DECIMAL rounds 0.5 -> 1, 2.5 -> 3, -2.5 -> -3, 0.25 -> 0.3 at the sources
    as in DuckDB, and a DOUBLE would not at PostgreSQL (which is why its ROUND stays local)."""
    for source in ("pg", "my"):
        rows = dict(_same_rows(engines, _sql(source, "SELECT n, round(n) AS r FROM {t} WHERE n IS NOT NULL")))
        assert rows[Decimal("0.50")] == 1 and rows[Decimal("2.50")] == 3 and rows[Decimal("-2.50")] == -3
        rows = dict(_same_rows(engines, _sql(source, "SELECT n, round(n, 1) AS r FROM {t} WHERE n IS NOT NULL")))
        assert rows[Decimal("0.25")] == Decimal("0.3") and rows[Decimal("-1.25")] == Decimal("-1.3")
    rows = dict(_same_rows(engines, _sql("pg", "SELECT f, round(f) AS r FROM {t} WHERE f IS NOT NULL")))
    assert rows[2.5] == 3.0 and rows[0.5] == 1.0  # DuckDB's answer, computed locally


def test_leap_day_and_month_ends(engines):
    rows = _same_rows(engines, _sql("pg", "SELECT d, extract(day from d) AS dd, d + INTERVAL 1 MONTH AS next, "
                                          "d + 1 AS tomorrow FROM {t} WHERE extract(month from d) = 1 AND extract(day from d) = 31"))
    assert rows and all(r[2] == dt.datetime(r[0].year, 2, 29 if r[0].year % 4 == 0 else 28) for r in rows)
    rows = _same_rows(engines, _sql("my", "SELECT d FROM {t} WHERE extract(month from d) = 2 AND extract(day from d) = 29"))
    assert {r[0] for r in rows} == {dt.date(2024, 2, 29)}


BOUND = [
    ("pg", "SELECT id FROM {t} WHERE substring(s, 1, 2) = ? OR coalesce(n, 0) > ? OR nullif(s, 'abc') = ?",
     [" é", 1.5, "x"], ["SUBSTRING(\"t\".\"s\" FROM 1 FOR 2) =", "NULLIF(\"t\".\"s\", 'abc') ="]),
    ("pg", "SELECT id, round(n, 1) AS r FROM {t} WHERE extract(year from d) = ? AND trim(s) <> ?", [2024, ""],
     ["EXTRACT(YEAR FROM \"t\".\"d\") =", "TRIM(\"t\".\"s\") <>"]),
    ("my", "SELECT id FROM {t} WHERE substring(s, 1, 2) = ? OR coalesce(n, 0) > ? OR extract(day from d) = ?",
     [" é", 1.5, 31], ["SUBSTRING(`t`.`s`, 1, 2) =", "EXTRACT(DAY FROM `t`.`d`) ="]),
    # plain columns: %s markers are positional, the values must follow the text's order (sources/mysql.py)
    ("my", "SELECT id FROM {t} WHERE s = ? OR n > ? OR id = ? OR (d BETWEEN ? AND ? AND round(n, 1) = ?)",
     [" é", 1.5, 3, dt.date(2024, 1, 1), dt.date(2024, 12, 31), Decimal("2.5")], ["`t`.`s` = %s OR"]),
    ("lite", "SELECT id FROM {t} WHERE coalesce(k, 0) = ? OR nullif(s, 'abc') = ? OR k = ?", [2, "x", 3],
     ["COALESCE(\"t\".\"k\", 0) =", "NULLIF(\"t\".\"s\", 'abc') ="]),
]


@pytest.mark.parametrize("case", BOUND, ids=_id)
def test_bound_values_in_pushed_functions(engines, case):
    source, sql, params, texts = case
    sql = _sql(source, sql)
    (remote,) = [f.remote_sql for f in engines[0].plan(sql, params).fragments if f.source.name == source]
    assert all(text in remote for text in texts), remote
    on, off = engines
    pushed, local = on.execute(sql, params).fetchall(), off.execute(sql, params).fetchall()
    assert pushed and sorted(pushed, key=repr) == sorted(local, key=repr)


def test_substring_of_a_bound_start_stays_local(engines):
    sql = _sql("pg", "SELECT id, substring(s, ?, 2) AS a FROM {t}")
    remote = [f.remote_sql for f in engines[0].plan(sql, [0]).fragments]
    assert remote and not any("SUBSTRING" in r for r in remote)
    for start in (0, -1, 2):
        on, off = engines
        assert sorted(on.execute(sql, [start]).fetchall(), key=repr) == sorted(off.execute(sql, [start]).fetchall(), key=repr)
