"""Shared fixtures: real servers only. A missing PostgreSQL skips (or, with CI=true, fails) its tests."""
from __future__ import annotations

import os

import pytest

PG_DSN = os.environ.get("FEDQ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_error() -> str | None:
    try:
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(PG_DSN + ("&" if "?" in PG_DSN else "?") + "connect_timeout=3") as con:
            with con.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
    except Exception as error:  # any failure means: no usable server
        return str(error).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the test PostgreSQL; skips the test when the server is down (fails under CI=true)."""
    error = _postgres_error()
    if error:
        reason = f"PostgreSQL at 127.0.0.1:5432 is not reachable ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return PG_DSN
