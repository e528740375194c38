"""Deadlines: a query that runs too long is cancelled — locally and at the source — with a clear error."""
from __future__ import annotations

import time

import adbc_driver_postgresql.dbapi as pgdb
import pytest

import fedq
from cleanup import drop_pg_schemas


@pytest.fixture(scope="module")
def big(request, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_deadline"))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_deadline")
        cur.execute("DROP TABLE IF EXISTS fedq_deadline.big")
        cur.execute("CREATE TABLE fedq_deadline.big AS SELECT i AS id FROM generate_series(1, 200000) i")
    return pg_dsn


SLOW = "SELECT count(*) FROM pg.fedq_deadline.big a, pg.fedq_deadline.big b WHERE a.id < b.id"


def _active(dsn: str) -> list:
    with pgdb.connect(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT query FROM pg_stat_activity WHERE application_name = 'fedq' AND state = 'active'")
        return cur.fetchall()


@pytest.mark.parametrize("per", ["connection", "cursor"])
def test_a_slow_remote_query_stops_at_its_deadline_and_at_the_source(big, per):
    con = fedq.connect(timeout=1.0 if per == "connection" else None)
    con.attach("pg", "postgres", dsn=big)
    cursor = con.cursor()
    if per == "cursor":
        cursor.timeout = 1.0
    started = time.monotonic()
    with pytest.raises(fedq.OperationalError, match="exceeded its deadline of 1 s"):
        cursor.execute(SLOW).fetchall()
    assert time.monotonic() - started < 6
    deadline = time.monotonic() + 10
    while _active(big) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _active(big) == []
    assert cursor.execute("SELECT count(*) FROM pg.fedq_deadline.big").fetchall() == [(200000,)]  # the session goes on
    con.close()


def test_a_fast_query_is_not_disturbed_by_its_deadline(big):
    with fedq.connect(timeout=30) as con:
        con.attach("pg", "postgres", dsn=big)
        assert con.execute("SELECT max(id) FROM pg.fedq_deadline.big").fetchall() == [(200000,)]
