"""The differential-test data set: one deterministic set of tables spread over every source kind.

- ``crm.customers`` (SQLite): dates/timestamps stored as ISO text, DECIMAL(12,2) stored as REAL
- ``crm.flags`` (SQLite): a BOOLEAN column stored as 0/1
- ``crm.legacy`` (SQLite): an INTEGER column that also holds text (fedq reads it as text)
- ``pg.fedq_diff.orders`` (PostgreSQL): numeric(12,2), NaN/±inf doubles, timestamptz written with offsets
- ``pg.fedq_diff.products`` (PostgreSQL): a real (float4) column and a mixed-case column "Sku"
- ``pg.fedq_diff.ratios`` (PostgreSQL): an unconstrained numeric holding 1/3
- ``lake.lineitem`` (3 Parquet files): decimal, NaN/±inf, float32, naive and UTC timestamps
- ``lake.events`` (2 Parquet files): the file schemas differ (a column added, columns reordered)
- ``lake.nation``, ``lake.returns`` (CSV): ints, text ('' vs NULL), dates, finite doubles
- ``wh.products_d`` (DuckDB database file): a copy of ``products`` (int32, decimal, float32, "Sku")
- ``lake.returns_j`` (JSON array file): a copy of ``returns``; ``r_date`` (ISO text) reads as timestamp[s]
- ``lake.lineitem_h`` (hive-partitioned Parquet, ``year=YYYY/`` folders): ``lineitem`` plus a BIGINT
  ``year`` taken from ``ship_date`` (rows without a ship date sit in ``year=0``)
- ``api.nation_api`` (REST, a real HTTP server on 127.0.0.1, page pagination): ``nation`` with
  declared column types and ``region``/``n_id`` as pushable query-parameter filters

Every table exists twice: in its source, and as an Arrow table whose types are exactly what fedq
reads back (PostgreSQL integer -> int32, numeric(12,2) -> decimal128(12,2), timestamptz ->
timestamp[us, UTC]; SQLite INTEGER -> int64, declared DATE/TIMESTAMP -> date32/timestamp[us]; CSV
columns as pyarrow infers them). The Arrow tables feed the reference DuckDB database.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as pgdb
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

PG_SCHEMA = os.environ.get("FEDQ_TEST_PG_SCHEMA", "fedq_diff")  # distinct per concurrent test run
NAN, INF = float("nan"), float("inf")
UTC = dt.timezone.utc

# Text that trips collations, case folding, trimming and LIKE: mixed case, non-ASCII (composed and
# decomposed), empty, leading/trailing spaces, quotes, and LIKE's own metacharacters.
TRICKY_TEXT = [
    "apple", "Banana", "Émile", "émile", "ß", "日本", "", "trail  ", "  lead", "Zoë", "mallory",
    "MALLORY", "Mallory", "Ángel", "zed", "O'Brien", "100%_done", "back\\slash", "under_score",
    "e\u0301clair", "Straße", "İstanbul", "M", "m", "Ölfeld",
]
OFFSETS = [dt.timezone(dt.timedelta(hours=h, minutes=m)) for h, m in
           [(0, 0), (5, 30), (-8, 0), (9, 0), (-3, -30), (14, 0), (-12, 0), (1, 0)]]


@dataclass(frozen=True)
class TableSpec:
    """One table of the data set: where fedq finds it and its rows as Arrow."""

    name: str
    fedq_name: str  # how a fedq query names it, e.g. ``pg.fedq_diff.orders``
    data: pa.Table


@dataclass(frozen=True)
class DiffDataset:
    """The placed data set: source locations and every table's Arrow rows."""

    pg_dsn: str
    sqlite_path: Path
    lake_path: Path
    tables: dict[str, TableSpec]
    duckdb_path: Path | None = None
    rest_url: str | None = None  # base URL of the REST API serving ``nation_api``

    def fedq_names(self) -> dict[str, str]:
        return {name: spec.fedq_name for name, spec in self.tables.items()}

    def reference_names(self) -> dict[str, str]:
        return {name: name for name in self.tables}


# -- generation -------------------------------------------------------------------------------
def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount with two decimals, between low and high (whole units)."""
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _pick_float(i: int, rng: random.Random) -> float | None:
    """A double that is sometimes NULL, NaN, +inf, -inf, zero or negative."""
    if i % 13 == 0:
        return None
    if i % 23 == 0:
        return NAN
    if i % 29 == 0:
        return INF
    if i % 31 == 0:
        return -INF
    if i % 11 == 0:
        return 0.0
    if i % 7 == 0:
        return -round(rng.uniform(0.001, 0.2), 4)
    return round(rng.uniform(0.0, 0.1), 4)


def make_customers(rng: random.Random) -> pa.Table:
    """60 customers plus one with a NULL key; text covers TRICKY_TEXT."""
    segments = ["BUILDING", "machinery", "Household", "AUTOMOBILE ", "", None]
    rows: list[dict[str, Any]] = []
    specials = [Decimal("0.10"), Decimal("0.20"), Decimal("0.00"), Decimal("-0.05")]
    for i in range(1, 61):
        name = TRICKY_TEXT[i - 1] if i - 1 < len(TRICKY_TEXT) else f"{rng.choice(['Cust', 'cust', 'KUNDE', 'Čust'])}{i:03d}"
        signup = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))
        seen = dt.datetime(2023, 1, 1) + dt.timedelta(seconds=rng.randint(0, 30_000_000),
                                                      microseconds=rng.choice([0, 0, 250_000, 123_456]))
        rows.append({
            "c_id": i,
            "name": None if i % 13 == 0 else name,
            "segment": segments[i % len(segments)],
            "nation_id": None if i % 9 == 0 else i % 11,
            "balance": None if i % 7 == 0 else 0.0 if i % 10 == 0 else round(rng.uniform(-1000, 5000), 2),
            "credit": None if i % 8 == 0 else specials[i // 8 % 4] if i % 5 == 0 else _money(rng, -500, 5000),
            "signup": None if i % 12 == 0 else signup,
            "last_seen": None if i % 10 == 3 else seen,
        })
    rows.append({"c_id": None, "name": "ghost", "segment": "BUILDING", "nation_id": 1, "balance": -1.5,
                 "credit": Decimal("1.00"), "signup": dt.date(2020, 2, 29), "last_seen": None})
    schema = pa.schema([
        ("c_id", pa.int64()), ("name", pa.string()), ("segment", pa.string()), ("nation_id", pa.int64()),
        ("balance", pa.float64()), ("credit", pa.decimal128(12, 2)), ("signup", pa.date32()),
        ("last_seen", pa.timestamp("us")),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def make_flags() -> pa.Table:
    """A SQLite BOOLEAN column (stored, as SQLite does, as 0/1 integers) with NULLs."""
    ids = list(range(1, 61))
    return pa.table({
        "c_id": pa.array(ids, pa.int64()),
        "vip": pa.array([None if i % 5 == 0 else i % 3 == 0 for i in ids], pa.bool_()),
    })


LEGACY_QTY: list[Any] = [5, "n/a", 12, None, "", -3, "7 pcs", 0]  # stored as-is in an INTEGER column


def make_legacy() -> pa.Table:
    """A SQLite INTEGER column that also holds text: fedq reads such a column as text (hazard 19)."""
    return pa.table({
        "id": pa.array(range(1, len(LEGACY_QTY) + 1), pa.int64()),
        "qty": pa.array([None if v is None else str(v) for v in LEGACY_QTY], pa.string()),
    })


def make_events(rng: random.Random) -> tuple[pa.Table, list[pa.Table]]:
    """40 events in two Parquet files whose schemas differ: the second file adds ``tag`` and reorders columns.

    Returns the unified table (what fedq should read: ``tag`` is NULL for the first file's rows) and the
    two file tables.
    """
    kinds = ["click", "View", "", None, "Ärger", "日本"]
    rows = [{
        "e_id": i,
        "kind": kinds[i % len(kinds)],
        "at": dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 100_000)),
        "tag": None if i <= 20 or i % 3 == 0 else rng.choice(["a", "B", "ß"]),
    } for i in range(1, 41)]
    unified = pa.Table.from_pylist(rows, schema=pa.schema(
        [("e_id", pa.int64()), ("kind", pa.string()), ("at", pa.timestamp("us")), ("tag", pa.string())]))
    first = unified.slice(0, 20).select(["e_id", "kind", "at"])
    second = unified.slice(20).select(["tag", "at", "kind", "e_id"])
    return unified, [first, second]


def make_products(rng: random.Random) -> pa.Table:
    """40 products; weight is a double with NaN and ±inf, score a PostgreSQL real, "Sku" a mixed-case name."""
    scores = [0.1, 0.5, None, -1.25, 2.7, NAN, 0.0, 0.3]
    categories = ["tools", "Toys", "garden", "TOYS", "", None, "électronique"]
    rows = []
    for i in range(1, 41):
        name = TRICKY_TEXT[(i * 7) % len(TRICKY_TEXT)] if i % 3 == 0 else f"{rng.choice(['Prod', 'prod', 'PRÖD'])} {i}"
        rows.append({
            "p_id": i,
            "p_name": None if i % 17 == 0 else name,
            "category": categories[i % len(categories)],
            "price": None if i % 19 == 0 else Decimal("0.00") if i % 10 == 0 else _money(rng, -20, 900),
            "weight": _pick_float(i + 3, rng),
            "active": None if i % 6 == 0 else i % 4 != 0,
            "launched": None if i % 9 == 0 else dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 1500)),
            "score": scores[i % len(scores)],
            "Sku": None if i % 8 == 0 else f"{'SK' if i % 2 else 'sk'}-{i:03d}",
        })
    schema = pa.schema([
        ("p_id", pa.int32()), ("p_name", pa.string()), ("category", pa.string()), ("price", pa.decimal128(12, 2)),
        ("weight", pa.float64()), ("active", pa.bool_()), ("launched", pa.date32()), ("score", pa.float32()),
        ("Sku", pa.string()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def make_ratios() -> pa.Table:
    """A PostgreSQL ``numeric`` column without precision/scale (read as decimal(38,10))."""
    return pa.table({
        "r_id": pa.array([1, 2, 3, 4, 5, 6], pa.int32()),
        "ratio": pa.array([Decimal("0.3333333333"), Decimal("2.5"), Decimal("-7"), None, Decimal("12345.6789"),
                           Decimal("0.1")], pa.decimal128(38, 10)),
    })


RATIO_LITERALS = ["1.0/3", "2.5", "-7", "NULL", "12345.6789", "0.1"]  # what PostgreSQL stores: 1/3 to 20 places


def make_orders(rng: random.Random) -> pa.Table:
    """200 orders; paid_at is timestamptz written with many UTC offsets."""
    statuses = ["O", "F", "F", "P", "f ", "", None, "O"]
    notes = TRICKY_TEXT + [None, "urgent", "Urgent!", "a\\b", "50% off", "x_y"]
    rows = []
    for i in range(1, 201):
        o_date = None if i % 21 == 0 else dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
        created = None if o_date is None or i % 16 == 0 else dt.datetime.combine(o_date, dt.time()) + dt.timedelta(
            seconds=rng.randint(0, 86_399), microseconds=rng.choice([0, 500_000, 1]))
        paid = None
        if i % 9 != 0:
            base = dt.datetime(2023, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=rng.randint(0, 1_000_000))
            paid = base.astimezone(OFFSETS[i % len(OFFSETS)])
        rows.append({
            "o_id": i,
            "c_id": None if i % 17 == 0 else rng.randint(1, 65),
            "p_id": None if i % 15 == 0 else rng.randint(1, 45),
            "status": statuses[i % len(statuses)],
            "total": None if i % 19 == 0 else Decimal("0.00") if i % 25 == 0 else _money(rng, -500, 9000),
            "discount": _pick_float(i, rng),
            "o_date": o_date,
            "created_at": created,
            "paid_at": paid,
            "priority": None if i % 14 == 0 else rng.randint(-2, 5),
            "note": notes[(i * 5) % len(notes)],
        })
    schema = pa.schema([
        ("o_id", pa.int32()), ("c_id", pa.int32()), ("p_id", pa.int32()), ("status", pa.string()),
        ("total", pa.decimal128(12, 2)), ("discount", pa.float64()), ("o_date", pa.date32()),
        ("created_at", pa.timestamp("us")), ("paid_at", pa.timestamp("us", tz="UTC")),
        ("priority", pa.int16()), ("note", pa.string()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def make_lineitem(rng: random.Random) -> pa.Table:
    """300 line items referencing orders 1..210 (some missing) and products 1..42; weight is a float32."""
    weights = [0.1, 0.5, 0.3, NAN, None, -1.25, 2.7, 0.0, INF]
    rows = []
    for i in range(1, 301):
        ship = dt.date(2023, 1, 15) + dt.timedelta(days=rng.randint(0, 720))
        ts = dt.datetime.combine(ship, dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)))
        rows.append({
            "l_id": i,
            "o_id": None if i % 37 == 0 else rng.randint(1, 210),
            "p_id": None if i % 41 == 0 else rng.randint(1, 42),
            "qty": None if i % 43 == 0 else 0 if i % 20 == 0 else rng.randint(-3, 50),
            "price": None if i % 47 == 0 else _money(rng, -10, 2000),
            "disc": _pick_float(i + 1, rng),
            "ship_date": None if i % 39 == 0 else ship,
            "ship_ts": None if i % 27 == 0 else ts,
            "recv_at": None if i % 26 == 0 else (ts + dt.timedelta(hours=rng.randint(1, 200))).replace(tzinfo=UTC),
            "comment": None if i % 18 == 0 else TRICKY_TEXT[i % len(TRICKY_TEXT)] if i % 4 == 0 else f"item {i} ok",
            "weight": weights[i % len(weights)],
        })
    schema = pa.schema([
        ("l_id", pa.int64()), ("o_id", pa.int32()), ("p_id", pa.int32()), ("qty", pa.int64()),
        ("price", pa.decimal128(12, 2)), ("disc", pa.float64()), ("ship_date", pa.date32()),
        ("ship_ts", pa.timestamp("us")), ("recv_at", pa.timestamp("us", tz="UTC")), ("comment", pa.string()),
        ("weight", pa.float32()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def make_nation() -> pa.Table:
    """12 nations: keys 0..9 and 11, one NULL key; names include '' and NULL."""
    names = ["ALGERIA", "argentina", "Brasil", "Émirats", "日本", "", "Deutschland ", None, "zanzibar",
             "Österreich", "MALLORY", "ghost"]
    regions = ["AFRICA", "America", "AMERICA", "ASIA", "ASIA", "europe", "EUROPE", "", None, "EUROPE", "x", "y"]
    keys = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, None]
    return pa.table({
        "n_id": pa.array(keys, pa.int64()),
        "n_name": pa.array(names, pa.string()),
        "region": pa.array(regions, pa.string()),
    })


def make_returns(rng: random.Random) -> pa.Table:
    """60 returns of line items (some unknown); amount is a finite double."""
    reasons = ["damaged", "Late", "wrong ITEM", "", None, "Émile said no", "trail "]
    rows = []
    for i in range(1, 61):
        rows.append({
            "r_id": i,
            "l_id": None if i % 11 == 0 else rng.randint(1, 320),
            "r_date": None if i % 10 == 0 else dt.date(2023, 3, 1) + dt.timedelta(days=rng.randint(0, 700)),
            "reason": reasons[i % len(reasons)],
            "amount": None if i % 9 == 0 else 0.0 if i % 15 == 0 else round(rng.uniform(-50, 500), 2) + 0.25 * (i % 2),
        })
    schema = pa.schema([("r_id", pa.int64()), ("l_id", pa.int64()), ("r_date", pa.date32()),
                        ("reason", pa.string()), ("amount", pa.float64())])
    return pa.Table.from_pylist(rows, schema=schema)


# -- placing tables in sources --------------------------------------------------------------------
PG_TYPES: dict[str, dict[str, str]] = {
    "orders": {
        "o_id": "integer", "c_id": "integer", "p_id": "integer", "status": "text", "total": "numeric(12,2)",
        "discount": "double precision", "o_date": "date", "created_at": "timestamp", "paid_at": "timestamptz",
        "priority": "smallint", "note": "text",
    },
    "products": {
        "p_id": "integer", "p_name": "text", "category": "text", "price": "numeric(12,2)",
        "weight": "double precision", "active": "boolean", "launched": "date", "score": "real", '"Sku"': "text",
    },
}


def pg_literal(value: Any, pg_type: str) -> str:
    """A PostgreSQL literal for one Python value, typed explicitly (timestamptz keeps its offset)."""
    if value is None:
        return f"NULL::{pg_type}"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::float8"
        if math.isinf(value):
            return "'Infinity'::float8" if value > 0 else "'-Infinity'::float8"
        return repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return f"'{value.isoformat(sep=' ') if isinstance(value, dt.datetime) else value.isoformat()}'::{pg_type}"
    return "'" + str(value).replace("'", "''") + "'"


def load_postgres(dsn: str, rows_by_table: dict[str, list[dict[str, Any]]]) -> None:
    """(Re)create schema PG_SCHEMA with the PostgreSQL tables; rows are inserted as typed literals."""
    with pgdb.connect(dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        for name, types in PG_TYPES.items():
            columns = ", ".join(f"{column} {pg_type}" for column, pg_type in types.items())
            cur.execute(f"CREATE TABLE {PG_SCHEMA}.{name} ({columns})")
            values = ",\n".join(
                "(" + ", ".join(pg_literal(row[c.strip('"')], t) for c, t in types.items()) + ")"
                for row in rows_by_table[name]
            )
            cur.execute(f"INSERT INTO {PG_SCHEMA}.{name} VALUES {values}")
        cur.execute(f"CREATE TABLE {PG_SCHEMA}.ratios (r_id integer, ratio numeric)")
        ratios = ", ".join(f"({i}, {literal})" for i, literal in enumerate(RATIO_LITERALS, start=1))
        cur.execute(f"INSERT INTO {PG_SCHEMA}.ratios VALUES {ratios}")


def _sqlite_value(value: Any) -> Any:
    """SQLite storage of a value: dates and timestamps as ISO text, decimals as text (NUMERIC affinity)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


SQLITE_TYPES: dict[str, dict[str, str]] = {
    "customers": {
        "c_id": "INTEGER", "name": "TEXT", "segment": "TEXT", "nation_id": "INTEGER", "balance": "REAL",
        "credit": "DECIMAL(12,2)", "signup": "DATE", "last_seen": "TIMESTAMP",
    },
    "flags": {"c_id": "INTEGER", "vip": "BOOLEAN"},
    "legacy": {"id": "INTEGER", "qty": "INTEGER"},
}


def load_sqlite(path: Path, rows_by_table: dict[str, list[dict[str, Any]]]) -> None:
    """Write the SQLite tables into a fresh database file."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    with con:
        for name, columns in SQLITE_TYPES.items():
            con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
            con.executemany(
                f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})",
                [tuple(_sqlite_value(row[c]) for c in columns) for row in rows_by_table[name]],
            )
    con.close()


def write_lake(root: Path, lineitem: pa.Table, events: list[pa.Table], nation: pa.Table, returns: pa.Table) -> None:
    """lineitem and events as folders of Parquet files; nation and returns as pyarrow-written CSV."""
    folder = root / "lineitem"
    folder.mkdir(parents=True, exist_ok=True)
    step = math.ceil(lineitem.num_rows / 3)
    for part in range(3):
        pq.write_table(lineitem.slice(part * step, step), folder / f"part-{part}.parquet")
    folder = root / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for part, table in enumerate(events):
        pq.write_table(table, folder / f"part-{part}.parquet")
    pacsv.write_csv(nation, root / "nation.csv")
    pacsv.write_csv(returns, root / "returns.csv")


def write_duckdb(path: Path, tables: dict[str, pa.Table]) -> None:
    """A fresh DuckDB database file holding ``tables`` with their Arrow types."""
    path.unlink(missing_ok=True)
    database = duckdb.connect(str(path))
    for name, table in tables.items():
        database.register("__incoming", table)
        database.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    database.close()


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def write_json(path: Path, table: pa.Table) -> None:
    """``table`` as one JSON array of objects (dates as ISO text)."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def with_year(lineitem: pa.Table) -> pa.Table:
    """lineitem plus ``year`` (BIGINT) from ship_date; 0 when ship_date is NULL."""
    years = [0 if d is None else d.year for d in lineitem.column("ship_date").to_pylist()]
    return lineitem.append_column("year", pa.array(years, pa.int64()))


def write_hive(folder: Path, table: pa.Table, column: str) -> None:
    """``table`` as ``folder/column=value/part-N.parquet`` (the partition column left out of the files)."""
    values = sorted(set(table.column(column).to_pylist()))
    for value in values:
        mask = pc.equal(table.column(column), pa.scalar(value, table.schema.field(column).type))
        part = table.filter(mask).drop_columns([column])
        target = folder / f"{column}={value}"
        target.mkdir(parents=True, exist_ok=True)
        step = max(1, math.ceil(part.num_rows / 2))
        for index in range(0, part.num_rows, step):
            pq.write_table(part.slice(index, step), target / f"part-{index // step}.parquet")


# The REST table: nation served page by page, with region and n_id as API filters.
REST_NATION = {
    "path": "/nation", "records": "items",
    "pagination": {"style": "page", "param": "page", "size_param": "per_page", "size": 5},
    "filters": {"region": "region", "n_id": "id"},
    "columns": {"n_id": "bigint", "n_name": "varchar", "region": "varchar"},
}


def nation_route(rows: list[dict[str, Any]]) -> Any:
    """A handler for tests/rest_server.py: ?region=&id= filters (exact match), ?page=&per_page= pages."""
    from rest_server import Reply, Request

    def handler(request: Request) -> Reply:
        region, key = request.arg("region"), request.arg("id")
        found = [r for r in rows if (region is None or r["region"] == region)
                 and (key is None or (r["n_id"] is not None and str(r["n_id"]) == key))]
        size, number = int(request.arg("per_page", "5")), int(request.arg("page", "1"))
        return Reply(body={"items": found[(number - 1) * size:number * size]})
    return handler


def build_dataset(pg_dsn: str, root: Path, rest_url: str | None = None, admin_dsn: str | None = None) -> DiffDataset:
    """Generate the data set, place it in PostgreSQL, SQLite, DuckDB, files and the REST API, and describe it.

    ``rest_url`` is the base URL of a server already routing ``/nation`` (see :func:`nation_route`);
    without it the REST table is left out. PostgreSQL is loaded through ``admin_dsn`` (default
    ``pg_dsn``); fedq attaches with ``pg_dsn``.
    """
    rng = random.Random(20240611)
    customers, products, orders = make_customers(rng), make_products(rng), make_orders(rng)
    lineitem, nation, returns = make_lineitem(rng), make_nation(), make_returns(rng)
    flags, legacy = make_flags(), make_legacy()
    events, event_files = make_events(rng)

    load_postgres(admin_dsn or pg_dsn, {"orders": orders.to_pylist(), "products": products.to_pylist()})
    sqlite_path = root / "crm.sqlite"
    legacy_rows = [{"id": i, "qty": v} for i, v in enumerate(LEGACY_QTY, start=1)]
    load_sqlite(sqlite_path, {"customers": customers.to_pylist(), "flags": flags.to_pylist(), "legacy": legacy_rows})
    lake = root / "lake"
    write_lake(lake, lineitem, event_files, nation, returns)
    write_json(lake / "returns_j.json", returns)
    # JSON has no date type: pyarrow's JSON reader (as for CSV, fedq keeps its inference) reads ISO dates as timestamp[s]
    json_returns = returns.set_column(2, "r_date", returns.column("r_date").cast(pa.timestamp("s")))
    lineitem_h = with_year(lineitem)
    write_hive(lake / "lineitem_h", lineitem_h, "year")
    duckdb_path = root / "warehouse.duckdb"
    write_duckdb(duckdb_path, {"products_d": products})

    specs = [
        TableSpec("customers", "crm.customers", customers),
        TableSpec("flags", "crm.flags", flags),
        TableSpec("legacy", "crm.legacy", legacy),
        TableSpec("orders", f"pg.{PG_SCHEMA}.orders", orders),
        TableSpec("products", f"pg.{PG_SCHEMA}.products", products),
        TableSpec("ratios", f"pg.{PG_SCHEMA}.ratios", make_ratios()),
        TableSpec("lineitem", "lake.lineitem", lineitem),
        TableSpec("events", "lake.events", events),
        TableSpec("nation", "lake.nation", nation),
        TableSpec("returns", "lake.returns", returns),
        TableSpec("products_d", "wh.products_d", products),
        TableSpec("returns_j", "lake.returns_j", json_returns),
        TableSpec("lineitem_h", "lake.lineitem_h", lineitem_h),
    ]
    if rest_url is not None:
        specs.append(TableSpec("nation_api", "api.nation_api", nation))
    return DiffDataset(pg_dsn, sqlite_path, lake, {s.name: s for s in specs}, duckdb_path, rest_url)


def reference_database(dataset: DiffDataset) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (TimeZone UTC) holding every table under its plain name."""
    database = duckdb.connect()
    database.execute("SET TimeZone = 'UTC'")
    for name, spec in dataset.tables.items():
        database.register("__incoming", spec.data)
        database.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
        database.unregister("__incoming")
    return database
