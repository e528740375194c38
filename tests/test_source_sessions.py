"""Source sessions are read-only by construction, and privileged roles are refused (issue 20, items 2 and 3).

1. Every statement fedq sends to PostgreSQL and MariaDB runs in its own read-only transaction, and
   whatever one statement changes in its session (settings, user variables, advisory locks) is gone
   for the next lease of the same pooled connection. The statements run straight through the
   source object (passthrough SQL refuses set_config and the like before anything is sent).
2. On a source's first connection (not at catalog load), a role that may do more than read is
   refused with an error naming the source, the role, what was found and the README section; the
   verdict is cached per source; ``allow_privileged_role = true`` lets it through; the read-only
   test roles are accepted. Roles and users created here are dropped afterwards.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import adbc_driver_postgresql.dbapi as pgdb
import pymysql
import pytest

import fedq
from conftest import as_user
from fedq.sources.base import FetchStats
from fedq.sources.mysql import MySQLSource, _parse_dsn
from fedq.sources.postgres import PostgresSource

SCHEMA = "fedq_sessions"
MY_TABLE = "fedq_sessions_t"
PG_WRITER = "fedq_sessions_writer"  # a role that may INSERT into one table
MY_FILE_USER = "fedq_sessions_file"  # an account with FILE
PASSWORD = "s3cret-session-pw"
README_POINTER = 'README section "A read-only role for fedq"'


def _pg_admin(dsn: str):
    return pgdb.connect(dsn, autocommit=True)


def _with_password(dsn: str, password: str) -> str:
    return dsn.replace("@", f":{password}@", 1)  # trust authentication ignores it


@pytest.fixture(scope="module")
def pg_table(pg_admin_dsn: str):
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.executescript(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
                          f"CREATE TABLE {SCHEMA}.t (id integer); INSERT INTO {SCHEMA}.t VALUES (1), (2)")
    yield f"{SCHEMA}.t"
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.executescript(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


@pytest.fixture
def pg_writer(pg_admin_dsn: str, pg_table: str):
    """A login role that reads everything and may also INSERT into one table; dropped afterwards."""
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.executescript(f"DROP ROLE IF EXISTS {PG_WRITER}; CREATE ROLE {PG_WRITER} LOGIN; "
                          f"GRANT pg_read_all_data TO {PG_WRITER}; GRANT INSERT ON {pg_table} TO {PG_WRITER}")
    yield as_user(pg_admin_dsn, PG_WRITER)
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.executescript(f"DROP OWNED BY {PG_WRITER}; DROP ROLE {PG_WRITER}")


def _rows(connection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


# -- 1. read-only transactions, nothing outlives a statement -------------------------------------
def test_postgres_statements_run_in_a_read_only_transaction(pg_admin_dsn, pg_table):
    """Even a superuser's session (allowed here on purpose) cannot write: the transaction refuses it."""
    source = PostgresSource(name="pg", dsn=pg_admin_dsn, allow_privileged_role=True)
    try:
        reader = source.query("SELECT current_setting('transaction_read_only') AS ro, "
                              "xact_start < query_start AS explicit FROM pg_stat_activity "
                              "WHERE pid = pg_backend_pid()", (), FetchStats())
        assert reader.read_all().to_pylist() == [{"ro": "on", "explicit": True}]  # begun before the statement
        connection = source._acquire()
        try:
            _rows(connection, "SELECT set_config('default_transaction_read_only', 'off', false)")
            with pytest.raises(Exception, match="read-only transaction"):  # the transaction itself is read-only
                _rows(connection, f"WITH i AS (INSERT INTO {pg_table} VALUES (3) RETURNING 1) SELECT count(*) FROM i")
        finally:
            source._release(connection, healthy=False)
    finally:
        source.close()


def test_closing_the_source_ends_a_transaction_left_by_a_stream_read_never(pg_dsn, pg_admin_dsn, pg_table):
    """A stream dropped unread keeps its lease until the garbage collector finds it; its read-only
    transaction holds the table's lock, so closing the source must end it (a DROP at the source waits)."""
    source = PostgresSource(name="pg", dsn=pg_dsn)
    kept = source.query(f"SELECT id FROM {pg_table}", (), FetchStats())  # never read, still referenced
    with _pg_admin(pg_admin_dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 't' "
                    f"AND c.relnamespace = '{SCHEMA}'::regnamespace")
        assert cur.fetchone()[0] >= 1  # the lease's transaction holds it
        source.close()
        cur.execute("SET lock_timeout = '5s'")
        cur.execute(f"ALTER TABLE {pg_table} ADD COLUMN extra integer")  # waits (then fails) while a lock is held
    del kept


def test_postgres_session_changes_are_gone_for_the_next_lease(pg_dsn, pg_admin_dsn):
    source = PostgresSource(name="pg", dsn=pg_dsn)
    try:
        first = source._acquire(30.0)
        assert _rows(first, "SELECT set_config('default_transaction_read_only', 'off', false), "
                            "set_config('standard_conforming_strings', 'off', false), "
                            "set_config('TimeZone', 'America/New_York', false), "
                            "set_config('search_path', 'pg_catalog', false), "
                            "set_config('statement_timeout', '1', false) IS NOT NULL, pg_advisory_lock(872341)")[0][:4] \
            == ("off", "off", "America/New_York", "pg_catalog")
        pid = _rows(first, "SELECT pg_backend_pid()")[0][0]
        source._release(first, healthy=True)

        second = source._acquire()
        assert second is first  # the same pooled session
        assert _rows(second, "SELECT current_setting('default_transaction_read_only'), "
                             "current_setting('transaction_read_only'), current_setting('standard_conforming_strings'), "
                             "current_setting('TimeZone'), current_setting('search_path'), "
                             "current_setting('statement_timeout'), current_setting('application_name')") \
            == [("on", "on", "on", "UTC", '"$user", public', "0", "fedq")]
        source._release(second, healthy=True)
        with _pg_admin(pg_admin_dsn) as admin:
            assert _rows(admin, f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = {pid}") == [(0,)]
    finally:
        source.close()


def test_postgres_statement_timeout_ends_with_its_transaction(pg_dsn):
    source = PostgresSource(name="pg", dsn=pg_dsn)
    try:
        with_deadline = source._acquire(2.0)
        assert _rows(with_deadline, "SELECT current_setting('statement_timeout')") == [("2250ms",)]
        source._release(with_deadline, healthy=True)
        without = source._acquire()
        assert without is with_deadline
        assert _rows(without, "SELECT current_setting('statement_timeout')") == [("0",)]
        source._release(without, healthy=True)
    finally:
        source.close()


@pytest.fixture(scope="module")
def my_table(mysql_admin_dsn: str):
    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")
        cur.execute(f"CREATE TABLE {MY_TABLE} (id INT)")
        cur.execute(f"INSERT INTO {MY_TABLE} VALUES (1), (2)")
    yield MY_TABLE
    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MY_TABLE}")


def test_closing_a_mariadb_source_ends_a_transaction_left_by_a_stream_read_never(mysql_dsn, mysql_admin_dsn, my_table):
    source = MySQLSource(name="my", dsn=mysql_dsn)
    kept = source.query(f"SELECT id FROM {my_table}", (), FetchStats())  # never read, still referenced
    source.close()
    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 5")
        cur.execute(f"ALTER TABLE {my_table} ADD COLUMN extra INT")  # waits (then fails) on a held metadata lock
    del kept


def test_mariadb_statements_run_in_a_read_only_transaction(mysql_admin_dsn, my_table):
    """Even root's session (allowed here on purpose) cannot write: the transaction refuses it."""
    source = MySQLSource(name="my", dsn=mysql_admin_dsn, allow_privileged_role=True)
    try:
        reader = source.query("SELECT @@in_transaction AS t, @@tx_read_only AS ro", (), FetchStats())
        assert reader.read_all().to_pylist() == [{"t": 1, "ro": 1}]
        lease = source._acquire()
        try:
            with lease.connection.cursor() as cursor:
                cursor.execute("SET SESSION tx_read_only = 0")  # the transaction itself stays read-only
                with pytest.raises(pymysql.Error, match="READ ONLY"):
                    cursor.execute(f"INSERT INTO {my_table} VALUES (3)")
        finally:
            lease.release(healthy=False)
    finally:
        source.close()


def test_mariadb_session_changes_are_gone_for_the_next_lease(mysql_dsn, mysql_admin_dsn, my_table):
    source = MySQLSource(name="my", dsn=mysql_dsn)
    try:
        first = source._acquire()
        with first.connection.cursor() as cursor:
            cursor.execute("SET @fedq_left = 5, SESSION sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT', "
                           "SESSION time_zone = '+05:00', SESSION tx_read_only = 0")
            cursor.execute("SELECT GET_LOCK('fedq_sessions_lock', 0), CONNECTION_ID()")
            locked, thread = cursor.fetchone()
        assert locked == 1
        connection = first.connection
        first.release(healthy=True)

        second = source._acquire()
        assert second.connection is connection
        with second.connection.cursor() as cursor:
            cursor.execute("SELECT @fedq_left, @@sql_mode, @@time_zone, @@tx_read_only, @@collation_connection, "
                           "@@autocommit, IS_USED_LOCK('fedq_sessions_lock'), CONNECTION_ID()")
            left, mode, zone, read_only, collation, autocommit, lock_holder, same_thread = cursor.fetchone()
        second.release(healthy=True)
        assert (left, zone, read_only, autocommit, lock_holder) == (None, "+00:00", 1, 1, None)
        assert same_thread == thread and "ANSI_QUOTES" not in mode and "PIPES_AS_CONCAT" not in mode
        assert collation in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
    finally:
        source.close()


# -- 2. the privilege check ------------------------------------------------------------------------
def _refusal(source_type: str, dsn: str, table: str, **options) -> fedq.Error:
    with fedq.connect() as con:
        con.attach("src", source_type, dsn=dsn, **options)  # attaching connects to nothing
        with pytest.raises(fedq.OperationalError) as caught:
            con.execute(f"SELECT count(*) FROM src.{table}").fetchall()
    return caught.value


def test_a_postgres_superuser_is_refused_with_a_message_that_says_what_to_do(pg_admin_dsn, pg_table):
    dsn = _with_password(pg_admin_dsn, PASSWORD)
    message = str(_refusal("postgres", dsn, pg_table))
    role = urlsplit(pg_admin_dsn).username
    assert message.startswith(f"source 'src' (postgres): role {role} may do more than read (superuser (rolsuper);")
    assert README_POINTER in message and "allow_privileged_role = true" in message
    assert PASSWORD not in message and dsn not in message and "127.0.0.1" not in message


def test_a_postgres_role_that_may_insert_into_one_table_is_refused(pg_writer, pg_table):
    message = str(_refusal("postgres", pg_writer, pg_table))
    assert f"role {PG_WRITER} may do more than read (INSERT on table {pg_table})" in message


def test_the_verdict_is_cached_per_source_and_taken_at_the_first_connection(pg_writer, pg_table, pg_admin_dsn, tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[sources.src]\ntype = "postgres"\ndsn = "{pg_writer}"\n')
    with fedq.connect(catalog) as con:  # loading the catalog checks nothing
        with pytest.raises(fedq.OperationalError, match="INSERT on table"):
            con.execute(f"SELECT count(*) FROM src.{pg_table}").fetchall()
        with _pg_admin(pg_admin_dsn) as admin, admin.cursor() as cur:
            cur.executescript(f"REVOKE INSERT ON {pg_table} FROM {PG_WRITER}")  # a reader now
        with pytest.raises(fedq.OperationalError, match="INSERT on table"):  # this source keeps its verdict
            con.execute(f"SELECT count(*) FROM src.{pg_table}").fetchall()
    with fedq.connect(catalog) as again:  # a new source checks again
        assert again.execute(f"SELECT count(*) FROM src.{pg_table}").fetchall() == [(2,)]


def test_a_privileged_role_is_allowed_when_the_catalog_says_so(pg_admin_dsn, pg_table, tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[sources.src]\ntype = "postgres"\ndsn = "{pg_admin_dsn}"\nallow_privileged_role = true\n')
    with fedq.connect(catalog) as con:
        assert con.execute(f"SELECT count(*) FROM src.{pg_table}").fetchall() == [(2,)]


def test_the_read_only_roles_are_accepted(pg_dsn, mysql_dsn, pg_table, my_table):
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=pg_dsn)
        con.attach("my", "mysql", dsn=mysql_dsn)
        assert con.execute(f"SELECT (SELECT count(*) FROM pg.{pg_table}), (SELECT count(*) FROM my.{my_table})"
                           ).fetchall() == [(2, 2)]


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_allow_privileged_role_must_be_a_bool(pg_dsn, value):
    with fedq.connect() as con:
        with pytest.raises(fedq.ProgrammingError) as caught:
            con.attach("src", "postgres", dsn=pg_dsn, allow_privileged_role=value)
    assert str(caught.value) == (f"source 'src' (postgres): setting 'allow_privileged_role' must be a boolean "
                                 f"(true or false), not {value!r}")


def test_mariadb_root_is_refused_and_allowed_when_the_catalog_says_so(mysql_admin_dsn, my_table):
    message = str(_refusal("mysql", mysql_admin_dsn, my_table))
    assert message.startswith(f"source 'src' (mysql): account {urlsplit(mysql_admin_dsn).username}@")
    assert "ALL PRIVILEGES on *.*" in message and "GRANT OPTION on *.*" in message and README_POINTER in message
    with fedq.connect() as con:
        con.attach("src", "mysql", dsn=mysql_admin_dsn, allow_privileged_role=True)
        assert con.execute(f"SELECT count(*) FROM src.{my_table}").fetchall() == [(2,)]


@pytest.fixture
def my_file_user(mysql_admin_dsn: str, mysql_dsn: str):
    """An account that may read the test database and, globally, FILE; dropped afterwards."""
    params = _parse_dsn(mysql_admin_dsn)
    with pymysql.connect(autocommit=True, **params) as con, con.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'127.0.0.1'", (MY_FILE_USER,))
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (MY_FILE_USER, PASSWORD))
        cur.execute(f"GRANT SELECT ON `{params['database']}`.* TO %s@'127.0.0.1'", (MY_FILE_USER,))
        cur.execute("GRANT FILE ON *.* TO %s@'127.0.0.1'", (MY_FILE_USER,))
    yield _with_password(as_user(mysql_dsn, MY_FILE_USER), PASSWORD)
    with pymysql.connect(autocommit=True, **params) as con, con.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'127.0.0.1'", (MY_FILE_USER,))


def test_a_mariadb_account_with_file_is_refused_and_its_password_never_shown(my_file_user, my_table):
    message = str(_refusal("mysql", my_file_user, my_table))
    assert f"account {MY_FILE_USER}@127.0.0.1 may do more than read (FILE on *.*)" in message
    assert PASSWORD not in message and README_POINTER in message
