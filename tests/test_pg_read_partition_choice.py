"""How a whole PostgreSQL table read is split by default (sources/pg_partitions.py): by the table's
size (``parallel_read_min_pages``, 8 MB per partition) within the connections the cores allow, and
the partitioned Arrow read keeps exact decimals and UTC timestamps."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import adbc_driver_postgresql.dbapi as pgdb
import pyarrow as pa
import pytest

from cleanup import drop_pg_schemas

import fedq
from fedq.sources.postgres import PostgresSource

SCHEMA = "fedq_part_choice"


@pytest.fixture(scope="module")
def dsn(request, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.executescript(
            f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
            f"CREATE TABLE {SCHEMA}.small AS SELECT i AS id FROM generate_series(1, 1000) i; "
            # about 2,300 pages (18 MB): at least twice the default 1,024 pages per partition
            f"CREATE TABLE {SCHEMA}.big AS SELECT i AS id, i / 100.0 AS m, (i * 1.5)::numeric(12,2) AS n, "
            "TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '1 second' AS at, repeat('x', 200) AS pad "
            f"FROM generate_series(1, 80000) i")
    return pg_dsn


def test_default_threshold_splits_a_table_of_a_few_partitions_and_not_a_small_one(dsn):
    assert PostgresSource.parallel_read_min_pages == 1024
    con = fedq.connect()
    try:
        con.attach("pg", "postgres", dsn=dsn, max_parallel_reads=2)
        assert con.execute(f"EXPLAIN SELECT * FROM pg.{SCHEMA}.big").fetchall()[0][2] == "remote query (2 partitions)"
        assert con.execute(f"EXPLAIN SELECT * FROM pg.{SCHEMA}.small").fetchall()[0][2] == "remote query"
    finally:
        con.close()


def test_partitioned_arrow_read_keeps_exact_decimals_and_utc(dsn):
    con = fedq.connect()
    try:
        con.attach("pg", "postgres", dsn=dsn, max_parallel_reads=3)
        cursor = con.execute(f"SELECT id, m, n, at FROM pg.{SCHEMA}.big")
        table = cursor.fetch_arrow_table().sort_by("id")
        assert [f.stats.partitions for f in cursor.plan.fragments] == [2]  # the size allows two, not the three connections
    finally:
        con.close()
    assert table.num_rows == 80000
    assert pa.types.is_decimal(table.schema.field("m").type) and table.schema.field("n").type == pa.decimal128(12, 2)
    at = table.schema.field("at").type
    assert pa.types.is_timestamp(at) and at.tz in ("UTC", "Etc/UTC")
    last = table.slice(79999).to_pylist()[0]
    assert last["m"] == Decimal("800.00") and last["n"] == Decimal("120000.00")
    assert last["at"] == dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=80000)
