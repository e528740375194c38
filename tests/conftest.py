"""Shared fixtures: real servers only. A missing PostgreSQL or MySQL/MariaDB skips (or, with CI=true, fails) its tests."""
from __future__ import annotations

import os

import pytest

PG_DSN = os.environ.get("FEDQ_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_DSN = os.environ.get("FEDQ_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/test")


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


def _mysql_error() -> str | None:
    try:
        import pymysql

        from fedq.sources.mysql import _parse_dsn

        params = _parse_dsn(MYSQL_DSN)
        with pymysql.connect(connect_timeout=3, **params) as con:
            with con.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
    except Exception as error:  # any failure means: no usable server
        return str(error).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def mysql_dsn() -> str:
    """DSN of the test MySQL/MariaDB; skips the test when the server is down (fails under CI=true)."""
    error = _mysql_error()
    if error:
        reason = f"MySQL/MariaDB at 127.0.0.1:3306 is not reachable ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return MYSQL_DSN


# -- the differential-test data set (see tests/diffdata.py) ------------------------------------
@pytest.fixture(scope="session")
def diff_dataset(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    """One data set placed across PostgreSQL (schema fedq_diff), SQLite and Parquet/CSV files.

    Rebuilt from scratch each session: the PostgreSQL schema is dropped and recreated, files are
    written under a fresh pytest temporary folder.
    """
    from diffdata import build_dataset

    return build_dataset(pg_dsn, tmp_path_factory.mktemp("diff"))


@pytest.fixture(scope="session")
def diff_reference(diff_dataset):
    """The reference: an in-memory DuckDB (TimeZone UTC) with the same tables under plain names."""
    from diffdata import reference_database

    database = reference_database(diff_dataset)
    yield database
    database.close()
