"""A query never asks one source for more sessions at once than its ``max_concurrent_reads``.

A long UNION computed locally reads the same table once per branch. Each read used to open its own
session at once, so 128 branches over PostgreSQL ran into ``max_connections`` (CI saw "remaining
connection slots are reserved"). Here the server itself enforces the bound: the role may open only
``ROLE_LIMIT`` sessions, so the query answers only if fedq keeps to fewer.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import adbc_driver_postgresql.dbapi as pgdb
import pytest

import fedq
from cleanup import drop_pg_schemas
from conftest import as_user

SCHEMA = "fedq_turns"
ROLE = "fedq_turns_reader"
ROLE_LIMIT = 3
BRANCHES = 12


@pytest.fixture(scope="module")
def capped_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A read-only role with CONNECTION LIMIT 3 and a table it may read; both dropped afterwards."""
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.executescript(
            f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; DROP ROLE IF EXISTS {ROLE}; "
            f"CREATE ROLE {ROLE} LOGIN CONNECTION LIMIT {ROLE_LIMIT}; CREATE SCHEMA {SCHEMA}; "
            f"CREATE TABLE {SCHEMA}.t AS SELECT i AS id, i % 5 AS v FROM generate_series(1, 200) i; "
            f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROLE}; GRANT SELECT ON {SCHEMA}.t TO {ROLE}")
    yield as_user(pg_admin_dsn, ROLE)
    drop_pg_schemas(pg_admin_dsn, SCHEMA)
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.executescript(f"DROP ROLE IF EXISTS {ROLE}")


def _chain(table: str) -> str:
    return " UNION ALL ".join(f"SELECT id, v FROM {table} WHERE v = {i % 5} AND id > {i}" for i in range(BRANCHES))


def _answer(dsn: str, reads: int) -> list[tuple]:
    with fedq.connect(pushdown=False) as con:  # every branch its own scan of pg
        con.attach("pg", "postgres", dsn=dsn, max_concurrent_reads=reads, max_parallel_reads=1)
        return sorted(con.execute(f"SELECT v, count(*), sum(id) FROM ({_chain(f'pg.{SCHEMA}.t')}) u GROUP BY v").fetchall())


@pytest.mark.postgres
def test_reads_take_turns_within_the_bound(capped_dsn: str) -> None:
    expected = [(v, sum(1 for i in range(BRANCHES) if i % 5 == v for id_ in range(i + 1, 201) if id_ % 5 == v),
                 sum(id_ for i in range(BRANCHES) if i % 5 == v for id_ in range(i + 1, 201) if id_ % 5 == v))
                for v in range(5)]
    assert _answer(capped_dsn, reads=ROLE_LIMIT - 1) == expected
    assert _answer(capped_dsn, reads=1) == expected


@pytest.mark.postgres
def test_the_bound_is_what_keeps_the_query_answering(capped_dsn: str) -> None:
    """Without a bound below the role's limit the same query fails: the test above proves the turns."""
    with pytest.raises(fedq.OperationalError, match="too many connections for role"):
        _answer(capped_dsn, reads=BRANCHES)


@pytest.mark.postgres
def test_reads_waiting_for_a_turn_end_with_the_deadline(capped_dsn: str) -> None:
    """The first read is slow (pg_sleep runs at the server); the deadline reaches the reads still
    waiting for their turn, and none of them is left running."""
    with fedq.connect(pushdown=True, timeout=0.5) as con:
        con.attach("pg", "postgres", dsn=capped_dsn, max_concurrent_reads=1, max_parallel_reads=1)
        branches = [f"SELECT id FROM pg.{SCHEMA}.t WHERE id > {i} LIMIT {i + 1}" for i in range(6)]
        slow = f"SELECT id FROM pg.{SCHEMA}.t WHERE pg_sleep(5) IS NOT NULL"
        query = f"SELECT count(*) FROM ({slow} UNION ALL " + " UNION ALL ".join(f"({b})" for b in branches) + ") u"
        assert len(con.plan(query).fragments) > 1
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="deadline"):
            con.execute(query).fetchall()
        assert time.monotonic() - started < 3
    time.sleep(0.3)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("fedq-__fedq_")]
