"""Issue 14, item 1: NaN over Parquet.

Parquet writers (pyarrow here) leave NaN out of a column's min/max statistics, as the format asks.
DuckDB 2.0's ``read_parquet`` assumes the opposite and skips every row group whose statistics say no
row can match — losing the NaN rows of ``isnan(x)``, ``x > 2``, ``x = 'NaN'``, ``x IN (…, 'NaN')``,
``x BETWEEN 2 AND 'NaN'``, ``x IS NOT DISTINCT FROM 'NaN'``, of a join on ``x`` and of a Top-N on
``x DESC`` (its own dynamic filters). Its ``can_have_nan = true`` option reads all of these right, but
then answers MIN/MAX of the column from the statistics as NaN even where no NaN is stored. pyarrow's
dataset scanner prunes row groups the same way for the filters a NaN makes true (``x <> 1``,
``NOT (x < 2)``). fedq's guards (sources/files.py): ``read_parquet(…, can_have_nan = true)``; a query
with MIN/MAX over a floating-point column streams the table through pyarrow instead; on Parquet,
fedq pushes to pyarrow only the float comparisons a NaN makes false.

The ``*_still_*`` tests run the bad shapes in a plain DuckDB / pyarrow and fail once a release
fixes them, saying which guard can then go. The rest are differential: fedq (both Parquet readers,
pushdown on and off) against a reference DuckDB over the same rows as in-memory Arrow tables, and
NaN literals and isnan() over PostgreSQL, SQLite, MariaDB, Parquet, CSV and JSON.
"""
from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas
from test_differential import assert_same_rows

NAN, INF = float("nan"), float("inf")
ROW_GROUP = 3
# Row groups of three: NaN beside numbers (so min/max leave it out), a NaN-only group, one without NaN.
X = [1.0, NAN, 2.0, None, NAN, 3.0, -1.0, INF, 0.0, NAN, NAN, NAN, 5.0, 4.5, -INF,
     2.5, NAN, 1.5, 7.0, 8.0, 9.0, NAN, None, -3.0, 6.0, NAN, 0.5, 1.0, 1.0, 1.0]
CLEAN = [1.0, 2.0, -3.0, None, 4.0, 0.5, 7.0, -1.0]  # no NaN at all
NAN_SHAPES = [  # every filter shape a NaN row can satisfy, and those it cannot
    "isnan(x)", "NOT isnan(x)", "x = 'NaN'", "x <> 'NaN'", "x > 'NaN'", "x < 'NaN'", "x >= 'NaN'", "x <= 'NaN'",
    "'NaN' > x", "'NaN' <= x", "x > 2", "x >= 3", "x < 1", "x <= 1", "2 < x", "x <> 1", "x = 1",
    "x IN (1.0, 'NaN')", "x IN (1.0, 2.5)", "x NOT IN (1.0, 2.5)", "x NOT IN (1.0, 'NaN')",
    "x BETWEEN 2 AND 'NaN'", "x BETWEEN 1 AND 2", "x NOT BETWEEN 0 AND 2", "x BETWEEN 'NaN' AND 'NaN'",
    "x IS DISTINCT FROM 'NaN'", "x IS NOT DISTINCT FROM 'NaN'", "x IS DISTINCT FROM 1", "x > 'Infinity'",
    "x >= 'Infinity'", "NOT (x < 2)", "NOT (x <= 1.5)", "NOT (x = 1)", "NOT (x > 2)", "x IS NULL",
    "isnan(x) OR x = 1", "isinf(x) OR isnan(x)", "NOT isfinite(x)", "x > 2 AND x < 'NaN'", "x + 1 > 3",
    "abs(x) > 4", "coalesce(x, 0) >= 3", "greatest(x, 2) = x",
]
# The shapes DuckDB 2.0.x's read_parquet answers wrong on these files (without can_have_nan).
DUCKDB_WRONG = ["isnan(x)", "x = 'NaN'", "x >= 'NaN'", "x > 2", "x >= 3", "x IN (1.0, 'NaN')",
                "x BETWEEN 2 AND 'NaN'", "x IS NOT DISTINCT FROM 'NaN'", "x > 'Infinity'"]
GUARD = "sources/files.py: FilesSource.native_table's can_have_nan = true"


# -- the files -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``nums``: two Parquet files in row groups of three (one with a page index); ``clean``: no NaN."""
    root = tmp_path_factory.mktemp("nan_lake")
    nums = pa.table({"id": pa.array(range(1, len(X) + 1), pa.int64()), "x": pa.array(X, pa.float64())})
    clean = pa.table({"id": pa.array(range(1, len(CLEAN) + 1), pa.int64()), "x": pa.array(CLEAN, pa.float64())})
    (root / "nums").mkdir()
    half = nums.num_rows // 2
    pq.write_table(nums.slice(0, half), root / "nums" / "part-0.parquet", row_group_size=ROW_GROUP)
    pq.write_table(nums.slice(half), root / "nums" / "part-1.parquet", row_group_size=ROW_GROUP, write_page_index=True)
    pq.write_table(clean, root / "clean.parquet", row_group_size=ROW_GROUP)
    files = sorted(str(p) for p in (root / "nums").glob("*.parquet"))
    return {"root": root, "files": files, "clean": str(root / "clean.parquet"), "tables": {"nums": nums, "clean": clean}}


@pytest.fixture(scope="module")
def reference(lake: dict[str, Any]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB holding the same rows as its own tables (no Parquet statistics involved)."""
    database = duckdb.connect()
    for name, table in lake["tables"].items():
        database.register("__incoming", table)
        database.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    yield database
    database.close()


def _parquet(lake: dict[str, Any], options: str = "") -> str:
    return "read_parquet([" + ", ".join(f"'{f}'" for f in lake["files"]) + f"]{options})"


def _ids(database: duckdb.DuckDBPyConnection, source: str, shape: str) -> list[int]:
    return [r[0] for r in database.execute(f"SELECT id FROM {source} WHERE {shape} ORDER BY id").fetchall()]


# -- the engine bugs, still there? ----------------------------------------------------------------
@pytest.mark.parametrize("shape", DUCKDB_WRONG)
def test_duckdb_read_parquet_still_loses_nan_rows(lake, reference, shape: str) -> None:
    got = _ids(reference, _parquet(lake), shape)
    want = _ids(reference, "nums", shape)
    assert got != want, (f"DuckDB {duckdb.__version__} now reads WHERE {shape} right over Parquet statistics without "
                         f"NaN: the guard ({GUARD}) may be dropped once every shape here passes")
    assert set(got) < set(want)  # rows lost, never invented


def test_duckdb_read_parquet_still_loses_nan_in_joins_and_top_n(lake, reference) -> None:
    source = _parquet(lake)
    join = f"SELECT count(*) FROM {source} a JOIN (SELECT 'NaN'::DOUBLE AS k) b ON a.x = b.k"
    top = "SELECT id FROM {} ORDER BY x DESC NULLS LAST, id LIMIT 3"
    wrong = [reference.execute(join).fetchall() != reference.execute(join.replace(source, "nums")).fetchall(),
             reference.execute(top.format(source)).fetchall() != reference.execute(top.format("nums")).fetchall()]
    assert any(wrong), f"DuckDB {duckdb.__version__} now keeps NaN rows in join and Top-N filters: ({GUARD}) may go"


def test_duckdb_can_have_nan_still_answers_max_from_statistics(lake, reference) -> None:
    """With the option, MAX of a NaN-free file is NaN; without it, MAX of a file with NaN is a number."""
    with_option = reference.execute(f"SELECT max(x) FROM read_parquet('{lake['clean']}', can_have_nan = true)").fetchall()
    without = reference.execute(f"SELECT max(x) FROM {_parquet(lake)}").fetchall()
    assert math.isnan(with_option[0][0]) or not math.isnan(without[0][0]), (
        f"DuckDB {duckdb.__version__} now answers MAX right over Parquet statistics: FilesSource.nan_hazard "
        "(MIN/MAX streams the table through pyarrow) may be dropped")


def test_pyarrow_dataset_still_prunes_nan_rows(lake) -> None:
    dataset = ds.dataset(lake["files"], format="parquet")
    table = lake["tables"]["nums"]
    lost = [name for name, predicate in [("x <> 1", pc.field("x") != 1), ("NOT (x < 2)", ~(pc.field("x") < 2))]
            if sorted(dataset.to_table(filter=predicate)["id"].to_pylist()) != sorted(table.filter(predicate)["id"].to_pylist())]
    assert lost, (f"pyarrow {pa.__version__} no longer skips NaN rows by Parquet statistics: the nan_safe rule of "
                  "sources/files.py's to_arrow_filter may be dropped")


@pytest.mark.parametrize("shape", NAN_SHAPES)
def test_duckdb_can_have_nan_reads_every_shape(lake, reference, shape: str) -> None:
    """The premise of the guard: with can_have_nan = true every filter shape keeps its NaN rows."""
    assert _ids(reference, _parquet(lake, ", union_by_name = true, can_have_nan = true"), shape) == _ids(reference, "nums", shape)


# -- fedq over Parquet: both readers, pushdown on and off, against the reference ------------------
QUERIES = [f"SELECT id, x FROM {{nums}} WHERE {shape}" for shape in NAN_SHAPES] + [
    "SELECT sum(x) FILTER (WHERE NOT isnan(x)) AS s, count(*) AS n FROM {nums} WHERE NOT isnan(x)",
    "SELECT sum(x) AS s FROM {nums} WHERE NOT isnan(x) AND x < 'Infinity' AND x > '-Infinity'",
    "SELECT max(x) AS hi, min(x) AS lo, count(x) AS n FROM {nums}",
    "SELECT max(x) AS hi, min(x) AS lo FROM {clean}",
    "SELECT max(x) AS hi FROM {clean} WHERE id > 0",
    "SELECT id, x FROM {nums} ORDER BY x DESC NULLS LAST, id LIMIT 5",
    "SELECT id, x FROM {nums} ORDER BY x ASC NULLS FIRST, id LIMIT 5",
    "SELECT count(*) AS n FROM {nums} a JOIN {nums} b ON a.x = b.x",
    "SELECT a.id, b.id AS other FROM {nums} a JOIN {clean} b ON a.x > b.x AND b.x > 5",
    "SELECT id FROM {nums} WHERE x IN (SELECT x FROM {nums} WHERE isnan(x) OR x > 8)",
    "SELECT id FROM {nums} WHERE x >= (SELECT max(x) FROM {nums})",
    "SELECT isnan(x) AS nan, count(*) AS n FROM {nums} GROUP BY ALL",
    "SELECT x, count(*) AS n FROM {nums} GROUP BY x HAVING x > 4",
]


def _fedq(lake: dict[str, Any], reader: str, pushdown: bool) -> fedq.Connection:
    connection = fedq.connect(pushdown=pushdown)
    connection.attach("lake", "files", url=str(lake["root"]), reader=reader)
    return connection


@pytest.fixture(scope="module")
def connections(lake) -> Iterator[dict[tuple[str, bool], fedq.Connection]]:
    opened = {(reader, pushdown): _fedq(lake, reader, pushdown) for reader in ("duckdb", "arrow") for pushdown in (True, False)}
    yield opened
    for connection in opened.values():
        connection.close()


@pytest.mark.parametrize("sql", QUERIES)
def test_fedq_parquet_nan_matches_reference(connections, reference, sql: str) -> None:
    expected = reference.execute(sql.format(nums="nums", clean="clean")).fetchall()
    for (reader, pushdown), connection in connections.items():
        got = connection.execute(sql.format(nums="lake.nums", clean="lake.clean")).fetchall()
        assert_same_rows(got, expected, "ORDER BY" in sql, f"reader={reader} pushdown={pushdown}: {sql}")


def _explain(connection: fedq.Connection, sql: str) -> list[dict[str, str]]:
    cursor = connection.execute("EXPLAIN " + sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_explain_shows_the_nan_guards(connections) -> None:
    native = _explain(connections[("duckdb", True)], "SELECT id FROM lake.nums WHERE isnan(x)")
    assert "can_have_nan = TRUE" in native[0]["remote"]
    streamed = _explain(connections[("duckdb", True)], "SELECT max(x) FROM lake.nums")
    assert not streamed[0]["remote"].startswith("read by DuckDB")
    assert "MIN/MAX would come from Parquet statistics, which leave NaN out" in streamed[-1]["local_filters"]
    plain = _explain(connections[("duckdb", True)], "SELECT sum(x) FROM lake.nums")  # no MIN/MAX: DuckDB reads it
    assert plain[0]["remote"].startswith("read by DuckDB")
    scan = _explain(connections[("arrow", True)], "SELECT id FROM lake.nums WHERE x <> 1 AND x < 5 AND id > 2")
    assert scan[0]["exact_filters"] == '"x" < 5 AND "id" > 2'
    assert "x\" <> 1 (not pushed: a NaN makes it true, and pyarrow skips Parquet row groups by min/max statistics" \
        in scan[0]["local_filters"]


# -- NaN in every source kind ---------------------------------------------------------------------
PG_SCHEMA, MY_TABLE = "fedq_nan", "fedq_nan_m"
STORED = [1.5, NAN, -2.0, None, INF, 0.0, NAN, 3.25, -INF, 10.0]  # PostgreSQL, Parquet and CSV keep NaN and ±inf
FINITE = [1.5, None, -2.0, None, 99.0, 0.0, None, 3.25, -99.0, 10.0]  # SQLite (NaN -> NULL), MariaDB, JSON
KIND_VALUES = {"postgres": STORED, "parquet": STORED, "csv": STORED, "sqlite": FINITE, "mariadb": FINITE, "json": FINITE}
KIND_NAMES = {"postgres": f"pg.{PG_SCHEMA}.m", "parquet": "lake.m_parquet", "csv": "lake.m_csv", "sqlite": "lite.m",
              "mariadb": f"my.{MY_TABLE}", "json": "lake.m_json"}
KIND_QUERIES = [
    "SELECT id FROM {m} WHERE isnan(x)", "SELECT id FROM {m} WHERE NOT isnan(x)",
    "SELECT id FROM {m} WHERE x = 'NaN'::DOUBLE", "SELECT id FROM {m} WHERE x <> 'NaN'::DOUBLE",
    "SELECT id FROM {m} WHERE x < 'NaN'::DOUBLE", "SELECT id FROM {m} WHERE x >= 'NaN'::DOUBLE",
    "SELECT id FROM {m} WHERE 'NaN'::DOUBLE > x", "SELECT id FROM {m} WHERE x > 2",
    "SELECT id FROM {m} WHERE x <> 1.5", "SELECT id FROM {m} WHERE NOT (x < 2)",
    "SELECT id FROM {m} WHERE x IN (1.5, 'NaN'::DOUBLE)", "SELECT id FROM {m} WHERE x NOT IN (1.5, 'NaN'::DOUBLE)",
    "SELECT id FROM {m} WHERE x BETWEEN 0 AND 'NaN'::DOUBLE", "SELECT id FROM {m} WHERE x IS DISTINCT FROM 'NaN'::DOUBLE",
    "SELECT id FROM {m} WHERE x IS NOT DISTINCT FROM 'NaN'::DOUBLE", "SELECT id FROM {m} WHERE x > 'Infinity'::DOUBLE",
    "SELECT id FROM {m} WHERE isnan(x - x)", "SELECT id, greatest(x, 'NaN'::DOUBLE) AS g FROM {m} WHERE x IS NOT NULL",
    "SELECT sum(x) AS s, count(*) AS n FROM {m} WHERE NOT isnan(x)", "SELECT max(x) AS hi, min(x) AS lo FROM {m}",
    "SELECT id, x FROM {m} ORDER BY x DESC NULLS LAST, id LIMIT 4",
]


def _kind_table(values: list[float | None]) -> pa.Table:
    return pa.table({"id": pa.array(range(1, len(values) + 1), pa.int64()), "x": pa.array(values, pa.float64())})


@pytest.fixture(scope="module")
def kinds(request, pg_dsn, pg_admin_dsn, mysql_dsn, mysql_admin_dsn, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The table ``m (id, x double)`` in PostgreSQL, SQLite, MariaDB, Parquet, CSV and JSON."""
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, PG_SCHEMA))
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, MY_TABLE))
    root: Path = tmp_path_factory.mktemp("nan_kinds")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        cur.execute(f"CREATE TABLE {PG_SCHEMA}.m (id bigint, x double precision)")
        cur.executemany(f"INSERT INTO {PG_SCHEMA}.m VALUES ($1, $2)", list(enumerate(STORED, start=1)))
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id BIGINT, x DOUBLE)")
        cur.executemany(f"INSERT INTO {MY_TABLE} VALUES (%s, %s)", list(enumerate(FINITE, start=1)))
    with sqlite3.connect(root / "lite.sqlite") as con:
        con.execute("CREATE TABLE m (id INTEGER, x REAL)")
        con.executemany("INSERT INTO m VALUES (?, ?)", list(enumerate(FINITE, start=1)))
    con.close()
    lake = root / "lake"
    lake.mkdir()
    pq.write_table(_kind_table(STORED), lake / "m_parquet.parquet", row_group_size=ROW_GROUP)
    pacsv.write_csv(_kind_table(STORED), lake / "m_csv.csv")
    (lake / "m_json.json").write_text(json.dumps(_kind_table(FINITE).to_pylist()), encoding="utf-8")

    def connect(pushdown: bool) -> fedq.Connection:
        connection = fedq.connect(pushdown=pushdown)
        connection.attach("pg", "postgres", dsn=pg_dsn)
        connection.attach("my", "mysql", dsn=mysql_dsn)
        connection.attach("lite", "sqlite", path=str(root / "lite.sqlite"))
        connection.attach("lake", "files", url=str(lake))
        return connection

    opened = {"pushdown": connect(True), "local": connect(False)}
    database = duckdb.connect()
    for kind, values in KIND_VALUES.items():
        database.register("__incoming", _kind_table(values))
        database.execute(f'CREATE TABLE "{kind}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    yield {"connections": opened, "reference": database}
    database.close()
    for connection in opened.values():
        connection.close()


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(KIND_NAMES))
def test_round_trip_of_nan_per_kind(kinds, kind: str) -> None:
    expected = kinds["reference"].execute(f'SELECT id, x FROM "{kind}"').fetchall()
    for mode, connection in kinds["connections"].items():
        got = connection.execute(f"SELECT id, x FROM {KIND_NAMES[kind]}").fetchall()
        assert_same_rows(got, expected, False, f"{mode} {kind}")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(KIND_NAMES))
@pytest.mark.parametrize("sql", KIND_QUERIES)
def test_nan_predicates_per_kind(kinds, kind: str, sql: str) -> None:
    expected = kinds["reference"].execute(sql.format(m=f'"{kind}"')).fetchall()
    for mode, connection in kinds["connections"].items():
        got = connection.execute(sql.format(m=KIND_NAMES[kind])).fetchall()
        assert_same_rows(got, expected, "ORDER BY" in sql, f"{mode} {kind}: {sql}")
