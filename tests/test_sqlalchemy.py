"""The SQLAlchemy dialect (``fedq.alchemy``, ``fedq://`` URLs) and pandas/polars over real sources:
customers in SQLite, sales (Parquet) and returns (CSV) in a folder, orders in PostgreSQL."""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy", reason="the SQLAlchemy dialect needs pip install 'fedq[sqlalchemy]'")

import adbc_driver_postgresql.dbapi as pgdb  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column, Integer, MetaData, Table, create_engine, event, exc as sa_exc, insert, inspect, select, text,
    types as sqltypes,
)

import fedq  # noqa: E402
from cleanup import drop_pg_schemas  # noqa: E402

SCHEMA = "fedq_sqla"

# who bought what: orders (PostgreSQL) x customers (SQLite) x sales (Parquet), per customer
CROSS_SOURCE = """
    SELECT c.name, count(*) AS orders, sum(o.amount) AS revenue, sum(s.units) AS units
    FROM pg.fedq_sqla.orders o
    JOIN crm.customers c ON c.id = o.customer_id
    LEFT JOIN lake.sales s ON s.order_id = o.id
    GROUP BY c.name
    ORDER BY c.name
"""
CROSS_SOURCE_ROWS = [("Ann", 2, Decimal("57.25"), Decimal("4")), ("Bob", 1, Decimal("20.50"), Decimal("1")),
                     ("Cid", 1, Decimal("99.99"), None)]


@pytest.fixture(scope="module")
def catalog(request, pg_dsn, pg_admin_dsn, tmp_path_factory):
    """catalog.toml next to crm.sqlite and lake/ (sales.parquet, returns.csv); PostgreSQL schema fedq_sqla."""
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    root = tmp_path_factory.mktemp("sqla")
    db = sqlite3.connect(root / "crm.sqlite")
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT, country TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(1, "Ann", "NL"), (2, "Bob", "DE"), (3, "Cid", "NL")])
    db.execute('CREATE TABLE "Order Notes" (order_id INTEGER, note TEXT, qualify INTEGER)')  # names to quote
    db.execute("""INSERT INTO "Order Notes" VALUES (10, 'gift wrap', 1)""")
    db.commit()
    db.close()
    (root / "lake").mkdir()
    pq.write_table(pa.table({"order_id": [10, 11, 12], "units": [3, 1, 1]}), root / "lake" / "sales.parquet")
    pacsv.write_csv(pa.table({"order_id": [11], "reason": ["broken"]}), root / "lake" / "returns.csv")
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE TABLE {SCHEMA}.orders (id integer NOT NULL, customer_id integer, "
                    "amount numeric(10,2), ordered_on date)")
        cur.execute(f"INSERT INTO {SCHEMA}.orders VALUES (10, 1, 50.00, '2026-01-02'), (11, 2, 20.50, '2026-01-03'),"
                    " (12, 1, 7.25, '2026-01-05'), (13, 3, 99.99, '2026-01-06')")
    path = root / "catalog.toml"
    path.write_text(f'[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n\n'
                    f'[sources.lake]\ntype = "files"\nurl = "lake"\n\n'
                    f'[sources.pg]\ntype = "postgres"\ndsn = "{pg_dsn}"\n')
    return path


@pytest.fixture
def engine(catalog):
    engine = create_engine(f"fedq://{catalog}")
    yield engine
    engine.dispose()


# -- engines from URLs -----------------------------------------------------------------------
def test_url_names_the_catalog_file_and_its_settings(catalog):
    engine = create_engine(f"fedq://{catalog}?pushdown=false&timeout=2.5&memory_limit=1GB")
    assert engine.dialect.name == "fedq"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crm.customers")).scalar() == 3
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, fedq.Connection) and raw.pushdown is False and raw.timeout == 2.5
    engine.dispose()


def test_bare_url_opens_the_home_catalog(catalog, fedq_home):
    crm = catalog.parent / "crm.sqlite"
    (fedq_home / "catalog.toml").write_text(f'[sources.crm]\ntype = "sqlite"\npath = "{crm}"\n')
    engine = create_engine("fedq://")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW SOURCES")).fetchall() == [("crm", "sqlite", f"sqlite {crm}")]
    assert sorted(inspect(engine).get_table_names(schema="crm")) == ["Order Notes", "customers"]
    engine.dispose()
    nothing = create_engine("fedq://?home=false")
    with nothing.connect() as conn:
        assert conn.execute(text("SHOW SOURCES")).fetchall() == []
    nothing.dispose()


@pytest.mark.parametrize("url, message", [
    ("fedq:///x/catalog.toml?colour=blue", r"unknown setting\(s\) colour; allowed: pushdown, "),
    ("fedq:///x/catalog.toml?timeout=soon", r"timeout='soon': expected a number of seconds"),
    ("fedq:///x/catalog.toml?pushdown=maybe", r"pushdown='maybe': expected true or false"),
    ("fedq://db.example.com/catalog.toml", r"names a catalog file, not a server"),
])
def test_bad_urls_are_refused_with_the_reason(url, message):
    with pytest.raises(sa_exc.ArgumentError, match=message):
        create_engine(url)


def test_connecting_runs_no_statement_and_transactions_are_no_ops(engine):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *args: statements.append(sql))
    with engine.connect() as conn:
        assert statements == []  # no version/schema/isolation probes
        assert conn.get_isolation_level() == "AUTOCOMMIT"
        conn.execute(text("SELECT 1")).fetchall()
        conn.commit()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name FROM crm.customers WHERE id = 2")).scalar() == "Bob"
    assert statements == ["SELECT 1", "SELECT name FROM crm.customers WHERE id = 2"]
    assert engine.dialect.server_version_info == tuple(int(p) for p in fedq.__version__.split(".")[:3])


# -- pandas ------------------------------------------------------------------------------------
def test_read_sql_joins_postgres_sqlite_and_parquet(engine):
    frame = pd.read_sql(text(CROSS_SOURCE), engine, coerce_float=False)  # keep the Decimals
    assert list(frame.columns) == ["name", "orders", "revenue", "units"]
    rows = [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]
    assert rows == CROSS_SOURCE_ROWS


def test_read_sql_table_from_a_source_and_from_a_schema_of_postgres(engine):
    customers = pd.read_sql_table("customers", engine, schema="crm")
    assert customers.to_dict("list") == {"id": [1, 2, 3], "name": ["Ann", "Bob", "Cid"], "country": ["NL", "DE", "NL"]}
    orders = pd.read_sql_table("orders", engine, schema=f"pg.{SCHEMA}").sort_values("id")
    assert orders["id"].tolist() == [10, 11, 12, 13]
    assert orders["ordered_on"].dt.strftime("%m-%d").tolist() == ["01-02", "01-03", "01-05", "01-06"]
    notes = pd.read_sql_table("Order Notes", engine, schema="crm")
    assert notes.to_dict("list") == {"order_id": [10], "note": ["gift wrap"], "qualify": [1]}


def test_read_sql_query_with_parameters(engine):
    positional = pd.read_sql_query("SELECT name FROM crm.customers WHERE country = ? AND id > ? ORDER BY id",
                                   engine, params=("NL", 1))
    assert positional["name"].tolist() == ["Cid"]
    named = pd.read_sql_query(text("SELECT id, amount FROM pg.fedq_sqla.orders WHERE ordered_on >= :since ORDER BY id"),
                              engine, params={"since": dt.date(2026, 1, 5)})
    assert named["id"].tolist() == [12, 13]


# -- SQLAlchemy Core ---------------------------------------------------------------------------
def test_core_select_with_where_limit_and_offset(engine):
    orders = Table("orders", MetaData(), autoload_with=engine, schema=f"pg.{SCHEMA}")
    query = select(orders.c.id, orders.c.amount).where(orders.c.amount > 10).order_by(orders.c.id).limit(2).offset(1)
    sql = str(query.compile(engine))
    assert "FROM pg.fedq_sqla.orders" in sql and "orders.amount > ?" in sql
    with engine.connect() as conn:
        assert conn.execute(query).fetchall() == [(11, Decimal("20.50")), (13, Decimal("99.99"))]
        assert conn.execute(select(orders.c.id).order_by(orders.c.id).offset(3)).fetchall() == [(13,)]
        in_list = select(orders.c.id).where(orders.c.customer_id.in_([2, 3])).order_by(orders.c.id)
        assert conn.execute(in_list).scalars().all() == [11, 13]
        notes = Table("Order Notes", MetaData(), autoload_with=conn, schema="crm")
        query = select(notes.c.note).where(notes.c.qualify == 1)  # QUALIFY is a DuckDB keyword
        assert " ".join(str(query.compile(engine)).split()) == \
            'SELECT "Order Notes".note FROM crm."Order Notes" WHERE "Order Notes"."qualify" = ?'
        assert conn.execute(query).scalar() == "gift wrap"


def test_writes_fail_with_fedqs_not_supported_error(engine):
    customers = Table("customers", MetaData(), autoload_with=engine, schema="crm")
    with engine.connect() as conn:
        with pytest.raises(sa_exc.NotSupportedError, match="fedq only reads: INSERT") as raised:
            conn.execute(insert(customers).values(id=4, name="Dee", country="BE"))
        assert isinstance(raised.value.orig, fedq.NotSupportedError)
        with pytest.raises(sa_exc.NotSupportedError, match="fedq only reads"):
            conn.execute(text("DELETE FROM crm.customers"))
    with pytest.raises(sa_exc.NotSupportedError, match="fedq only reads"):
        Table("new_table", MetaData(schema="crm"), Column("id", Integer)).create(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crm.customers")).scalar() == 3


# -- introspection -----------------------------------------------------------------------------
def test_schemas_are_sources_and_source_dot_schema(engine):
    schemas = inspect(engine).get_schema_names()
    assert {"crm", "lake", "pg", f"pg.{SCHEMA}"} <= set(schemas)
    assert "crm.main" not in schemas and "lake.main" not in schemas


def test_table_view_and_column_reflection(engine):
    inspector = inspect(engine)
    assert sorted(inspector.get_table_names(schema="crm")) == ["Order Notes", "customers"]
    assert sorted(inspector.get_table_names(schema="crm.main")) == ["Order Notes", "customers"]
    assert sorted(inspector.get_table_names(schema="lake")) == ["returns", "sales"]
    assert inspector.get_table_names(schema=f"pg.{SCHEMA}") == ["orders"]
    assert inspector.get_table_names(schema="nosuch") == []
    assert inspector.get_view_names(schema="crm") == []
    columns = inspector.get_columns("orders", schema=f"pg.{SCHEMA}")
    assert [c["name"] for c in columns] == ["id", "customer_id", "amount", "ordered_on"]
    assert [type(c["type"]) for c in columns] == [sqltypes.Integer, sqltypes.Integer, sqltypes.Numeric, sqltypes.Date]
    assert (columns[2]["type"].precision, columns[2]["type"].scale) == (10, 2)
    assert all(isinstance(c["nullable"], bool) for c in columns)
    assert [(c["name"], type(c["type"])) for c in inspector.get_columns("sales", schema="lake")] == \
        [("order_id", sqltypes.BigInteger), ("units", sqltypes.BigInteger)]
    assert inspector.get_pk_constraint("orders", schema=f"pg.{SCHEMA}")["constrained_columns"] == []
    assert inspector.get_foreign_keys("orders", schema=f"pg.{SCHEMA}") == []
    assert inspector.get_indexes("orders", schema=f"pg.{SCHEMA}") == []
    with pytest.raises(sa_exc.NoSuchTableError):
        inspector.get_columns("nope", schema="crm")


@pytest.mark.parametrize("duckdb_type, expected", [
    ("DECIMAL(10,2)", sqltypes.Numeric(10, 2)), ("BIGINT[]", sqltypes.ARRAY(sqltypes.BigInteger())),
    ("TIMESTAMPTZ", sqltypes.DateTime(timezone=True)), ("TIMESTAMP", sqltypes.DateTime()),
    ("DOUBLE", sqltypes.Double()), ("VARCHAR", sqltypes.String()), ("BLOB", sqltypes.LargeBinary()),
    ('STRUCT("a" BIGINT)', sqltypes.NullType()), ("MAP(VARCHAR, BIGINT)", sqltypes.NullType()),
])
def test_duckdb_type_names_become_sqlalchemy_types(duckdb_type, expected):
    from fedq.alchemy import column_type

    assert repr(column_type(duckdb_type)) == repr(expected)


def test_has_table_true_false_and_missing_source(engine):
    inspector = inspect(engine)
    assert inspector.has_table("customers", schema="crm")
    assert inspector.has_table("CUSTOMERS", schema="crm")  # fedq names are case-insensitive
    assert inspector.has_table("orders", schema=f"pg.{SCHEMA}")
    assert inspector.has_table("returns", schema="lake")
    assert not inspector.has_table("nope", schema="crm")
    assert not inspector.has_table("orders", schema="pg")  # not in PostgreSQL's default schema
    assert not inspector.has_table("customers", schema="nosuch")
    assert not inspector.has_table("customers", schema="nosuch.main")
    assert not inspector.has_table("customers")  # an unqualified name is a view, and there is none


def test_catalog_views_are_views_with_or_without_a_schema(engine):
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMP VIEW nl_customers AS SELECT id, name FROM crm.customers WHERE country = 'NL'"))
        inspector = inspect(conn)
        assert inspector.get_view_names(schema="views") == ["nl_customers"]
        assert inspector.get_view_names() == ["nl_customers"]
        assert inspector.get_table_names(schema="views") == []
        assert "views" in inspector.get_schema_names()
        assert inspector.has_table("nl_customers") and inspector.has_table("nl_customers", schema="views")
        assert [c["name"] for c in inspector.get_columns("nl_customers")] == ["id", "name"]
        assert pd.read_sql_table("nl_customers", conn)["name"].tolist() == ["Ann", "Cid"]


# -- polars over a cross-source result -----------------------------------------------------------
def test_polars_reads_a_cross_source_cursor(catalog):
    pl = pytest.importorskip("polars")
    with fedq.connect(catalog) as con:
        frame = pl.DataFrame(con.execute(CROSS_SOURCE))
        assert frame.columns == ["name", "orders", "revenue", "units"]
        assert frame.rows() == CROSS_SOURCE_ROWS
        again = pl.from_arrow(con.execute(CROSS_SOURCE).fetch_arrow_table())
        assert again.rows() == CROSS_SOURCE_ROWS


# -- columns qualified by source ------------------------------------------------------------------
def test_source_qualified_column_references(catalog):
    with fedq.connect(catalog) as con:
        assert con.execute("SELECT crm.customers.id FROM crm.customers ORDER BY 1").fetchall() == [(1,), (2,), (3,)]
        assert con.execute("SELECT crm.main.customers.id FROM crm.main.customers WHERE crm.customers.id = 2").fetchall() == [(2,)]
