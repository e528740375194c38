"""Shared fixtures: real servers only. A missing PostgreSQL or MySQL/MariaDB skips (or, with CI=true, fails) its tests.

Two accounts per server: the *admin* DSN (FEDQ_TEST_PG_ADMIN_DSN / FEDQ_TEST_MYSQL_ADMIN_DSN, the
servers' postgres / root users by default) only sets up and removes test data; fedq itself attaches
with the *reader* DSN (``pg_dsn`` / ``mysql_dsn``: FEDQ_TEST_PG_DSN / FEDQ_TEST_MYSQL_DSN, by default
the role fedq_reader, which the session fixtures create idempotently through the admin DSN with only
read grants, as the README section "A read-only role for fedq" describes).
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

import filekeyring
from cleanup import drop_pg_schemas, mysql_objects, pg_objects

# Python processes the tests start (the fedq command, examples, benchmarks) must import the installed
# fedq, not the repository's fedq/ folder from their working directory: that folder holds only the
# public API (fedq.engine, fedq.catalog… are installed from engine/, catalog/…), so with a
# non-editable install it would shadow them. The Makefile runs pytest itself with -P for the same reason.
os.environ.setdefault("PYTHONSAFEPATH", "1")

READER = "fedq_reader"
PG_ADMIN_DSN = os.environ.get("FEDQ_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_DSN = os.environ.get("FEDQ_TEST_MYSQL_ADMIN_DSN", "mysql://root@127.0.0.1:3306/test")


def as_user(dsn: str, user: str) -> str:
    """``dsn`` with ``user`` (and no password) instead of its own account."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


PG_DSN = os.environ.get("FEDQ_TEST_PG_DSN", as_user(PG_ADMIN_DSN, READER))
MYSQL_DSN = os.environ.get("FEDQ_TEST_MYSQL_DSN", as_user(MYSQL_ADMIN_DSN, READER))


def _postgres_error(dsn: str) -> str | None:
    try:
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(dsn + ("&" if "?" in dsn else "?") + "connect_timeout=3") as con:
            with con.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
    except Exception as error:  # any failure means: no usable server
        return str(error).splitlines()[0]
    return None


def _mysql_error(dsn: str) -> str | None:
    try:
        import pymysql

        from fedq.sources.mysql import _parse_dsn

        with pymysql.connect(connect_timeout=3, **_parse_dsn(dsn)) as con:
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


def create_pg_reader(admin_dsn: str, role: str = READER) -> None:
    """A login role that reads every table (pg_read_all_data) and may turn on its own statement log
    (test_security reads it), created or brought up to date."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = $1", parameters=(role,))
        if not cur.fetchall()[0][0]:
            try:
                cur.executescript(f'CREATE ROLE "{role}" LOGIN')
            except Exception:  # created meanwhile by another test run
                pass
        cur.executescript(f'GRANT pg_read_all_data TO "{role}"; GRANT SET ON PARAMETER log_statement TO "{role}"')


def create_mysql_reader(admin_dsn: str, user: str = READER) -> None:
    """An account with SELECT and SHOW VIEW on the test database, from 127.0.0.1 and localhost."""
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    params = _parse_dsn(admin_dsn)
    with pymysql.connect(autocommit=True, **params) as con, con.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s", (user, host))
            cur.execute(f"GRANT SELECT, SHOW VIEW ON `{params['database']}`.* TO %s@%s", (user, host))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """DSN of the test PostgreSQL's admin account (FEDQ_TEST_PG_ADMIN_DSN): set-up only, never for fedq."""
    return _require_server("PostgreSQL", PG_ADMIN_DSN, _postgres_error(PG_ADMIN_DSN))


@pytest.fixture(scope="session")
def mysql_admin_dsn() -> str:
    """DSN of the test MySQL/MariaDB's admin account (FEDQ_TEST_MYSQL_ADMIN_DSN): set-up only."""
    return _require_server("MySQL/MariaDB", MYSQL_ADMIN_DSN, _mysql_error(MYSQL_ADMIN_DSN))


@pytest.fixture(scope="session")
def pg_dsn(pg_admin_dsn: str) -> str:
    """DSN fedq attaches the test PostgreSQL with: the read-only role (FEDQ_TEST_PG_DSN)."""
    if "FEDQ_TEST_PG_DSN" not in os.environ:
        create_pg_reader(pg_admin_dsn)
    return _require_server("PostgreSQL (read-only role)", PG_DSN, _postgres_error(PG_DSN))


@pytest.fixture(scope="session")
def mysql_dsn(mysql_admin_dsn: str) -> str:
    """DSN fedq attaches the test MySQL/MariaDB with: the read-only account (FEDQ_TEST_MYSQL_DSN)."""
    if "FEDQ_TEST_MYSQL_DSN" not in os.environ:
        create_mysql_reader(mysql_admin_dsn)
    return _require_server("MySQL/MariaDB (read-only account)", MYSQL_DSN, _mysql_error(MYSQL_DSN))


# -- nothing left behind on the shared servers ---------------------------------------------------
_BEFORE = pytest.StashKey[dict[str, set[str]]]()  # what the servers held when the run started


def _server_objects() -> dict[str, set[str]]:
    """Schemas and tables now on each reachable test server (a server that does not answer is left out)."""
    found: dict[str, set[str]] = {}
    for name, dsn, error, objects in (("PostgreSQL", PG_ADMIN_DSN, _postgres_error, pg_objects),
                                      ("MariaDB", MYSQL_ADMIN_DSN, _mysql_error, mysql_objects)):
        if error(dsn) is None:
            found[name] = objects(dsn)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _server_objects()


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown (the runner's sessionfinish)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Name every schema or table the run created and left on a shared server; under CI=true that fails the
    run. (Other runs against the same servers at the same time show up here too: CI runs alone.)"""
    before = session.config.stash.get(_BEFORE, {})
    after = _server_objects()
    left = [f"{server}: {item}" for server, items in after.items() for item in sorted(items - before.get(server, set()))]
    if not left:
        return
    ci = os.environ.get("CI", "").lower() == "true"
    report = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (f"{'ERROR' if ci else 'WARNING'}: the tests left {len(left)} schema(s)/table(s) on the shared test "
               f"servers (each fixture must drop what it creates): {', '.join(left)}")
    if report is not None:
        report.write_line(message, red=ci, yellow=not ci)
    if ci:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- the differential-test data set (see tests/diffdata.py) ------------------------------------
@pytest.fixture(scope="session")
def diff_dataset(pg_dsn: str, pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    """One data set placed across PostgreSQL (schema fedq_diff), SQLite, DuckDB, Parquet/CSV/JSON files and REST.

    Rebuilt from scratch each session: the PostgreSQL schema is dropped and recreated (and dropped at the
    end), files are written under a fresh pytest temporary folder.
    """
    from diffdata import PG_SCHEMA, build_dataset, make_nation, nation_route
    from rest_server import ApiServer

    api = ApiServer()  # a real HTTP server on 127.0.0.1 serving the REST table
    api.route("/api/nation", nation_route(make_nation().to_pylist()))
    try:
        yield build_dataset(pg_dsn, tmp_path_factory.mktemp("diff"), rest_url=api.url + "/api", admin_dsn=pg_admin_dsn)
    finally:
        api.close()
        drop_pg_schemas(pg_admin_dsn, PG_SCHEMA)


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
    test reads or writes the user's real catalog or keyring (subprocesses inherit both). The keyring
    is tests/filekeyring.py, trusted through FEDQ_TRUSTED_KEYRING (fedq refuses plaintext backends)."""
    home = tmp_path_factory.mktemp("fedq-home")
    monkeypatch.setenv("FEDQ_HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", filekeyring.NAME)
    monkeypatch.setenv("FEDQ_TRUSTED_KEYRING", filekeyring.NAME)
    monkeypatch.setenv(filekeyring.FILE_ENV, str(home / "data" / "keyring.json"))
    tests = os.path.dirname(os.path.abspath(__file__))  # subprocesses import filekeyring from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    return home
