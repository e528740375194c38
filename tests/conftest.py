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


def _mysql_error() -> str | None:
    try:
        import pymysql

        from fedq.sources.mysql import _parse_dsn

        with pymysql.connect(connect_timeout=3, **_parse_dsn(MYSQL_DSN)) as con:
            with con.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
    except Exception as error:  # any failure means: no usable server
        return str(error).splitlines()[0]
    return None


def _require_server(name: str, dsn: str, error: str | None) -> str:
    """``dsn`` if the server answers; else skip the test with the reason (a failure under CI=true)."""
    if error:
        reason = f"{name} is not reachable ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return dsn


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """DSN of the test PostgreSQL (FEDQ_TEST_PG_DSN)."""
    return _require_server("PostgreSQL", PG_DSN, _postgres_error())


@pytest.fixture(scope="session")
def mysql_dsn() -> str:
    """DSN of the test MySQL/MariaDB (FEDQ_TEST_MYSQL_DSN)."""
    return _require_server("MySQL/MariaDB", MYSQL_DSN, _mysql_error())


# -- the differential-test data set (see tests/diffdata.py) ------------------------------------
@pytest.fixture(scope="session")
def diff_dataset(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    """One data set placed across PostgreSQL (schema fedq_diff), SQLite, DuckDB, Parquet/CSV/JSON files and REST.

    Rebuilt from scratch each session: the PostgreSQL schema is dropped and recreated, files are
    written under a fresh pytest temporary folder.
    """
    from diffdata import build_dataset, make_nation, nation_route
    from rest_server import ApiServer

    api = ApiServer()  # a real HTTP server on 127.0.0.1 serving the REST table
    api.route("/api/nation", nation_route(make_nation().to_pylist()))
    try:
        yield build_dataset(pg_dsn, tmp_path_factory.mktemp("diff"), rest_url=api.url + "/api")
    finally:
        api.close()


@pytest.fixture(scope="session")
def diff_reference(diff_dataset):
    """The reference: an in-memory DuckDB (TimeZone UTC) with the same tables under plain names."""
    from diffdata import reference_database

    database = reference_database(diff_dataset)
    yield database
    database.close()


# -- isolation from the user's own catalog ------------------------------------------------------
@pytest.fixture(autouse=True)
def fedq_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test gets an empty home catalog (FEDQ_HOME) and a file-backed keyring of its own, so no
    test reads or writes the user's real catalog or keyring (subprocesses inherit both)."""
    home = tmp_path_factory.mktemp("fedq-home")
    monkeypatch.setenv("FEDQ_HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    return home
