"""What the tests create on the shared servers, and removing it: the PostgreSQL and MariaDB ``test``
databases are shared by every run (and by ``fedq demo``), so each fixture drops what it made and
tests/conftest.py fails a CI run that leaves a schema or table behind (issue 14, item 8)."""
from __future__ import annotations

from sqlglot import exp


def drop_pg_schemas(admin_dsn: str, *schemas: str) -> None:
    """DROP SCHEMA … CASCADE for each of ``schemas`` that exists (through the admin DSN)."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(admin_dsn, autocommit=True) as con, con.cursor() as cur:
        for schema in schemas:
            cur.execute(f"DROP SCHEMA IF EXISTS {exp.to_identifier(schema, quoted=True).sql('postgres')} CASCADE")


def drop_pg_tables(admin_dsn: str, *tables: str) -> None:
    """DROP TABLE for each of ``tables`` (``schema.table`` or a name in ``public``) that exists."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(admin_dsn, autocommit=True) as con, con.cursor() as cur:
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {exp.to_table(table).sql('postgres')} CASCADE")


def drop_mysql_tables(admin_dsn: str, *tables: str) -> None:
    """DROP TABLE for each of ``tables`` that exists in the DSN's database."""
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(autocommit=True, **_parse_dsn(admin_dsn)) as con, con.cursor() as cur:
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {exp.to_identifier(table, quoted=True).sql('mysql')}")


def pg_objects(admin_dsn: str) -> set[str]:
    """The user schemas of the PostgreSQL test database, and the tables and views in its ``public``."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(admin_dsn) as con, con.cursor() as cur:
        cur.execute("SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname NOT IN ('information_schema', 'public') "
                    "UNION ALL SELECT 'table public.' || relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')")
        return {row[0] for row in cur.fetchall()}


def mysql_objects(admin_dsn: str) -> set[str]:
    """The tables and views of the MariaDB test database."""
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with pymysql.connect(**_parse_dsn(admin_dsn)) as con, con.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        return {f"table {row[0]}" for row in cur.fetchall()}
