"""The fuzzing data set: three small tables, each stored in every source kind, and the oracles' harness.

Every logical table (``t1``, ``t2``, ``t3``; columns ``id k g s t n f d ts``) exists once per
source kind, so a query chooses a *placement* (table -> kind) and is formatted with that
placement's names:

==========  ==========================================  =====================================
kind        fedq name                                   storage
==========  ==========================================  =====================================
postgres    ``pg.fedq_fuzz_<pid>.t1``                   integer, text, numeric(10,2), float8,
                                                        date, timestamp
mariadb     ``my.fedq_fuzz_<pid>_t1``                   INT, ``s`` utf8mb4_general_ci (case-
                                                        insensitive, PAD SPACE), ``t``
                                                        utf8mb4_nopad_bin, DECIMAL, DOUBLE,
                                                        DATE, DATETIME(6)
sqlite      ``lite.t1``                                 declared types, dates as ISO text
duckdb      ``wh.t1``                                   a DuckDB database file
parquet     ``pq.t1``                                   two Parquet files per table
csv         ``csv.t1``                                  pyarrow-written CSV (decimals read
                                                        back as doubles)
json        ``js.t1``                                   one JSON array (decimals as doubles,
                                                        timestamps as ISO text)
rest        ``api.t1``                                  a real HTTP server (tests/rest_server.py),
                                                        page pagination, ``k``/``t`` filters
==========  ==========================================  =====================================

The reference is an in-memory DuckDB holding each (table, kind) as ``t1__postgres`` … with the
Arrow types fedq reads from that kind (so a CSV decimal is a double there too); the data read back
is checked value by value against the generated rows (:attr:`FuzzDataset.round_trip_problems`).

Values: NULLs in every column but ``id`` (unique, a total order), empty strings, mixed case,
non-ASCII (composed and decomposed), trailing/leading spaces, LIKE metacharacters, negative numbers,
decimals, finite doubles, dates and naive timestamps with microseconds. The Parquet copies alone also
hold NaN and ±infinity in ``f`` (:func:`parquet_float`; MariaDB cannot store them, SQLite stores NaN as
NULL), written in row groups of four rows so that some row groups mix NaN with numbers and some have
none: their min/max statistics leave NaN out, which DuckDB's and pyarrow's row-group pruning got wrong
(issue 14).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import fedq

# Distinct per process, so concurrent runs (the suite, tests/fuzz_run.py) never drop each other's tables.
PG_SCHEMA = os.environ.get("FEDQ_FUZZ_PG_SCHEMA", f"fedq_fuzz_{os.getpid()}")
MY_PREFIX = os.environ.get("FEDQ_FUZZ_MY_PREFIX", f"fedq_fuzz_{os.getpid()}_")
KINDS = ("postgres", "mariadb", "sqlite", "duckdb", "parquet", "csv", "json", "rest")
TABLES = {"t1": 36, "t2": 28, "t3": 20}  # name -> rows

# The logical schema: column -> family (what the generator needs to know).
COLUMNS: dict[str, str] = {
    "id": "int", "k": "int", "g": "int", "s": "text", "t": "text",
    "n": "dec", "f": "float", "d": "date", "ts": "ts",
}
ARROW_SCHEMA = pa.schema([
    ("id", pa.int64()), ("k", pa.int64()), ("g", pa.int64()), ("s", pa.string()), ("t", pa.string()),
    ("n", pa.decimal128(10, 2)), ("f", pa.float64()), ("d", pa.date32()), ("ts", pa.timestamp("us")),
])
TEXTS = [
    "apple", "Apple", "APPLE", "Émile", "émile", "e\u0301mile", "ß", "Straße", "日本", "", "trail ", " lead",
    "Zoë", "O'Brien", "100%_done", "back\\slash", "under_score", "mallory", "Mallory", "x", "X", "ab", "aB",
    "İstanbul", "ölfeld", "Ölfeld", "a b", "zed",
]
CATEGORIES = ["a", "A", "b", "B", "b ", "", "é", "É", "zz", "Zz"]
FLOATS = [0.0, 0.1, -0.1, 0.25, -2.5, 1.5, 3.75, 10.0, 0.3, 1e6, -1e-3, 2.0 / 3.0]
PARQUET_ROW_GROUP = 4  # rows per Parquet row group: several per file, with and without NaN


def parquet_float(row_id: int, value: float | None) -> float | None:
    """``f`` as the Parquet copies store it: NaN in one row of five, +inf and -inf now and then."""
    if row_id % 5 == 1:
        return float("nan")
    if row_id % 17 == 3:
        return float("inf")
    if row_id % 19 == 8:
        return float("-inf")
    return value


def with_parquet_floats(table: pa.Table) -> pa.Table:
    floats = [parquet_float(i, v) for i, v in zip(table.column("id").to_pylist(), table.column("f").to_pylist())]
    return table.set_column(table.schema.get_field_index("f"), "f", pa.array(floats, pa.float64()))


def make_table(name: str, rows: int, seed: int) -> pa.Table:
    """``rows`` deterministic rows with NULLs in every column but id."""
    rng = random.Random(seed)
    data = []
    for i in range(1, rows + 1):
        day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
        data.append({
            "id": i,
            "k": None if i % 7 == 0 else rng.randint(-2, 8),
            "g": None if i % 11 == 0 else rng.randint(0, 3),
            "s": None if i % 9 == 0 else rng.choice(TEXTS),
            "t": None if i % 8 == 0 else rng.choice(CATEGORIES),
            "n": None if i % 10 == 0 else Decimal("0.00") if i % 13 == 0 else Decimal(rng.randint(-5000, 50000)) / 100,
            "f": None if i % 6 == 0 else rng.choice(FLOATS) if i % 2 else round(rng.uniform(-100, 100), 3),
            "d": None if i % 12 == 0 else day,
            "ts": None if i % 5 == 0 else dt.datetime.combine(day, dt.time()) + dt.timedelta(
                seconds=rng.randint(0, 86_399), microseconds=rng.choice([0, 0, 500_000, 123_456])),
        })
    return pa.Table.from_pylist(data, schema=ARROW_SCHEMA)


def make_tables() -> dict[str, pa.Table]:
    return {name: make_table(name, rows, seed=1000 + index) for index, (name, rows) in enumerate(TABLES.items())}


# -- placing every table in every source kind ----------------------------------------------------
def _literal_pg(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float, Decimal)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def load_postgres(dsn: str, tables: dict[str, pa.Table]) -> None:
    with pgdb.connect(dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        for name, table in tables.items():
            cur.execute(f"CREATE TABLE {PG_SCHEMA}.{name} (id integer, k integer, g integer, s text, t text, "
                        "n numeric(10,2), f double precision, d date, ts timestamp)")
            values = ",\n".join("(" + ", ".join(_literal_pg(v) for v in row.values()) + ")" for row in table.to_pylist())
            cur.execute(f"INSERT INTO {PG_SCHEMA}.{name} VALUES {values}")


def _mysql(dsn: str) -> Any:
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    return pymysql.connect(autocommit=True, charset="utf8mb4", **_parse_dsn(dsn))


def load_mariadb(dsn: str, tables: dict[str, pa.Table]) -> None:
    with _mysql(dsn) as con, con.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        for name, table in tables.items():
            cur.execute(f"DROP TABLE IF EXISTS {MY_PREFIX}{name}")
            cur.execute(
                f"CREATE TABLE {MY_PREFIX}{name} (id INT, k INT, g INT, "
                "s VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, "
                "t VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin, "
                "n DECIMAL(10,2), f DOUBLE, d DATE, ts DATETIME(6))")
            cur.executemany(f"INSERT INTO {MY_PREFIX}{name} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                            [tuple(row.values()) for row in table.to_pylist()])


def drop_servers(pg_dsn: str, mysql_dsn: str) -> None:
    """Drop the PostgreSQL schema and the MariaDB tables of this process."""
    with _mysql(mysql_dsn) as con, con.cursor() as cur:
        for name in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {MY_PREFIX}{name}")
    with pgdb.connect(pg_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def write_sqlite(path: Path, tables: dict[str, pa.Table]) -> None:
    con = sqlite3.connect(path)
    with con:
        for name, table in tables.items():
            con.execute(f"CREATE TABLE {name} (id INTEGER, k INTEGER, g INTEGER, s TEXT, t TEXT, n DECIMAL(10,2), "
                        "f REAL, d DATE, ts TIMESTAMP)")
            con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [tuple(_sqlite_value(v) for v in row.values()) for row in table.to_pylist()])
    con.close()


def write_duckdb(path: Path, tables: dict[str, pa.Table]) -> None:
    database = duckdb.connect(str(path))
    for name, table in tables.items():
        database.register("__incoming", table)
        database.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    database.close()


def write_files(root: Path, tables: dict[str, pa.Table]) -> None:
    for name, table in tables.items():
        folder = root / "pq" / name
        folder.mkdir(parents=True)
        half = table.num_rows // 2
        stored = with_parquet_floats(table)
        pq.write_table(stored.slice(0, half), folder / "part-0.parquet", row_group_size=PARQUET_ROW_GROUP)
        pq.write_table(stored.slice(half), folder / "part-1.parquet", row_group_size=PARQUET_ROW_GROUP)
        (root / "csv").mkdir(exist_ok=True)
        pacsv.write_csv(table, root / "csv" / f"{name}.csv")
        (root / "js").mkdir(exist_ok=True)
        (root / "js" / f"{name}.json").write_text(json.dumps(
            [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()], ensure_ascii=False),
            encoding="utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def rest_table(name: str) -> dict[str, Any]:
    """The REST source's declaration of one table: page pagination, ``k`` and ``t`` as API filters."""
    return {
        "path": f"/{name}", "records": "items",
        "pagination": {"style": "page", "param": "page", "size_param": "per_page", "size": 8},
        "filters": {"k": "k", "t": "t"},
        "columns": {"id": "bigint", "k": "bigint", "g": "bigint", "s": "varchar", "t": "varchar",
                    "n": "decimal(10,2)", "f": "double", "d": "date", "ts": "timestamp"},
    }


def rest_route(table: pa.Table) -> Any:
    """A tests/rest_server.py handler: exact ?k= and ?t= filters, ?page=&per_page= pages, decimals as text."""
    from rest_server import Reply, Request

    rows = [{k: (str(v) if isinstance(v, Decimal) else _json_value(v)) for k, v in row.items()}
            for row in table.to_pylist()]

    def handler(request: Request) -> Reply:
        key, category = request.arg("k"), request.arg("t")
        found = [r for r in rows if (key is None or (r["k"] is not None and str(r["k"]) == key))
                 and (category is None or r["t"] == category)]
        size, number = int(request.arg("per_page", "8")), int(request.arg("page", "1"))
        return Reply(body={"items": found[(number - 1) * size:number * size]})
    return handler


# -- the placed data set ---------------------------------------------------------------------------
@dataclass
class FuzzDataset:
    """Where each (table, kind) lives, the rows, and the connections of the oracles."""

    pg_dsn: str
    mysql_dsn: str
    root: Path
    rest_url: str
    tables: dict[str, pa.Table]
    read_back: dict[tuple[str, str], pa.Table] = field(default_factory=dict)
    round_trip_problems: list[str] = field(default_factory=list)

    def fedq_name(self, table: str, kind: str) -> str:
        return {
            "postgres": f"pg.{PG_SCHEMA}.{table}", "mariadb": f"my.{MY_PREFIX}{table}", "sqlite": f"lite.{table}",
            "duckdb": f"wh.{table}", "parquet": f"pq.{table}", "csv": f"csv.{table}", "json": f"js.{table}",
            "rest": f"api.{table}",
        }[kind]

    def connect(self, pushdown: bool) -> fedq.Connection:
        connection = fedq.connect(pushdown=pushdown)
        connection.attach("pg", "postgres", dsn=self.pg_dsn)
        connection.attach("my", "mysql", dsn=self.mysql_dsn)
        connection.attach("lite", "sqlite", path=str(self.root / "lite.sqlite"))
        connection.attach("wh", "duckdb", path=str(self.root / "wh.duckdb"))
        connection.attach("pq", "files", url=str(self.root / "pq"))
        connection.attach("csv", "files", url=str(self.root / "csv"))
        connection.attach("js", "files", url=str(self.root / "js"))
        connection.attach("api", "rest", base_url=self.rest_url, tables={t: rest_table(t) for t in self.tables},
                          max_requests_per_second=0, retry_base_seconds=0.01)
        return connection


def build(pg_dsn: str, mysql_dsn: str, root: Path, rest_url: str, pg_admin_dsn: str | None = None,
          mysql_admin_dsn: str | None = None) -> FuzzDataset:
    """Write every table into every kind (``rest_url`` must already route ``/t1`` … via :func:`rest_route`);
    the servers are loaded through the admin DSNs (default: the DSNs fedq attaches with)."""
    tables = make_tables()
    load_postgres(pg_admin_dsn or pg_dsn, tables)
    load_mariadb(mysql_admin_dsn or mysql_dsn, tables)
    write_sqlite(root / "lite.sqlite", tables)
    write_duckdb(root / "wh.duckdb", tables)
    write_files(root, tables)
    return FuzzDataset(pg_dsn, mysql_dsn, root, rest_url, tables)


def read_back(dataset: FuzzDataset, local: fedq.Connection) -> None:
    """Fetch each (table, kind) whole through fedq and check it against the generated rows."""
    from fuzzcheck import rows_match

    for kind in KINDS:
        for table, data in dataset.tables.items():
            got = local.execute(f"SELECT * FROM {dataset.fedq_name(table, kind)}").fetch_arrow_table()
            dataset.read_back[(table, kind)] = got
            problem = rows_match([normalize_row(tuple(r.values())) for r in got.to_pylist()],
                                 [expected_row(kind, tuple(r.values())) for r in data.to_pylist()], ordered=False)
            if got.schema.names != data.schema.names:
                problem = f"columns {got.schema.names}"
            if problem:
                dataset.round_trip_problems.append(f"{table} in {kind}: {problem}")


def expected_row(kind: str, row: tuple) -> tuple:
    """A generated row as fedq reads it from ``kind``: JSON has no date type (pyarrow reads ISO dates as
    timestamp[s] and leaves timestamps with fractions as text); CSV and JSON decimals are doubles."""
    values = list(row)
    if kind == "parquet":
        values[6] = parquet_float(values[0], values[6])
    if kind in ("csv", "json"):
        values[5] = None if values[5] is None else float(values[5])
    if kind == "json":
        values[7] = None if values[7] is None else dt.datetime.combine(values[7], dt.time())
        values[8] = None if values[8] is None else values[8].isoformat()
    return tuple(values)


def normalize_row(row: Sequence[Any]) -> tuple:
    """pandas Timestamps (pyarrow's Python value of a timestamp[ns], e.g. from CSV) as datetimes."""
    return tuple(v.to_pydatetime() if type(v).__name__ == "Timestamp" and hasattr(v, "to_pydatetime") else v
                 for v in row)


def reference_database(dataset: FuzzDataset) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB (TimeZone UTC) with every (table, kind) as ``table__kind``, typed as fedq reads it."""
    database = duckdb.connect()
    database.execute("SET TimeZone = 'UTC'")
    for (table, kind), data in dataset.read_back.items():
        database.register("__incoming", data)
        database.execute(f'CREATE TABLE "{table}__{kind}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    return database


def placement_names(dataset: FuzzDataset, placement: dict[str, str], reference: bool) -> dict[str, str]:
    """``{t1: name, …}`` for formatting a query with ``placement`` (fedq's names, or the reference's)."""
    if reference:
        return {table: f"{table}__{kind}" for table, kind in placement.items()}
    return {table: dataset.fedq_name(table, kind) for table, kind in placement.items()}


def describe_types(dataset: FuzzDataset) -> dict[str, list[str]]:
    """Per kind, the Arrow types fedq reads (for reports)."""
    return {kind: [str(f.type) for f in dataset.read_back[("t1", kind)].schema] for kind in KINDS}


def kinds_of(placement: dict[str, str], tables: Sequence[str]) -> set[str]:
    return {placement[t] for t in tables}
