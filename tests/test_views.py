"""Views across sources and the home catalog: CREATE/DROP VIEW, persistence across processes, the
same pushdown as the inline query, shape changes named against the view, and REFRESH / TTL."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading

import adbc_driver_postgresql.dbapi as pgdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fedq
from cleanup import drop_pg_schemas

VIEW_360 = ("SELECT c.name, o.total, r.region FROM pg.fedq_views.orders o JOIN crm.customers c ON c.id = o.customer_id "
            "JOIN lake.regions r ON r.customer_id = c.id WHERE o.total > 10")
INLINE_360 = f"SELECT name, total FROM ({VIEW_360}) AS customer_360 WHERE region = 'north' ORDER BY total"


@pytest.fixture
def places(request, tmp_path, pg_dsn, pg_admin_dsn):
    """Orders in PostgreSQL, customers in SQLite, regions in Parquet."""
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_views"))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_views CASCADE")
        cur.execute("CREATE SCHEMA fedq_views")
        cur.execute("CREATE TABLE fedq_views.orders (id integer, customer_id integer, total numeric(10,2))")
        cur.execute("INSERT INTO fedq_views.orders VALUES (1, 1, 25.50), (2, 2, 5.00), (3, 2, 99.99), (4, 3, 12.00)")
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, "Bob"), (3, "Cy")])
    (tmp_path / "lake").mkdir()
    pq.write_table(pa.table({"customer_id": [1, 2, 3], "region": ["north", "north", "south"]}),
                   tmp_path / "lake" / "regions.parquet")
    return {"pg": pg_dsn, "pg_admin": pg_admin_dsn, "crm": str(tmp_path / "crm.sqlite"), "lake": str(tmp_path / "lake")}


def _attach_all(con: fedq.Connection, places: dict[str, str], persistent: bool = True) -> None:
    con.attach("pg", "postgres", dsn=places["pg"], persistent=persistent)
    con.attach("crm", "sqlite", path=places["crm"], persistent=persistent)
    con.attach("lake", "files", url=places["lake"], persistent=persistent)


def _remote(con: fedq.Connection, sql: str) -> list[tuple[str, str]]:
    return sorted((f.source.name, f.remote) for f in con.plan(sql).fragments)


FRESH_PROCESS = """
import json, sys, fedq
con = fedq.connect()
rows = con.execute(sys.argv[1]).fetchall()
plan = sorted((f.source.name, f.remote) for f in con.plan(sys.argv[1]).fragments)
print(json.dumps({"rows": [[str(v) for v in r] for r in rows], "plan": plan}))
"""


def test_a_view_over_three_sources_is_queried_in_a_fresh_process_with_the_inline_pushdown(places):
    with fedq.connect() as con:
        _attach_all(con, places)
        con.execute(f"CREATE VIEW customer_360 AS {VIEW_360}")
        inline_plan = _remote(con, INLINE_360)
        inline_rows = con.execute(INLINE_360).fetchall()
    query = "SELECT name, total FROM customer_360 WHERE region = 'north' ORDER BY total"
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, query], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout)
    assert fresh["rows"] == [["Ann", "25.50"], ["Bob", "99.99"]] == [[str(v) for v in r] for r in inline_rows]
    assert [tuple(p) for p in fresh["plan"]] == inline_plan
    assert any(source == "pg" and "fedq_views" in remote and "10" in remote for source, remote in inline_plan)


def test_views_on_views_drop_and_replace(places):
    with fedq.connect() as con:
        _attach_all(con, places, persistent=False)
        con.execute(f"CREATE TEMP VIEW customer_360 AS {VIEW_360}")
        con.execute("CREATE TEMP VIEW big_north AS SELECT name FROM customer_360 WHERE region = 'north' AND total > 50")
        assert con.execute("SELECT * FROM big_north").fetchall() == [("Bob",)]
        assert con.execute("SELECT count(*) FROM views.big_north b JOIN customer_360 c ON b.name = c.name").fetchall() == [(1,)]
        with pytest.raises(fedq.ProgrammingError, match="view 'big_north' already exists; use CREATE OR REPLACE"):
            con.execute("CREATE TEMP VIEW big_north AS SELECT 1 AS x")
        con.execute("CREATE OR REPLACE TEMP VIEW big_north AS SELECT name FROM customer_360 WHERE total > 20")
        assert sorted(con.execute("SELECT * FROM big_north").fetchall()) == [("Ann",), ("Bob",)]
        with pytest.raises(fedq.ProgrammingError, match=r"refers to itself \(customer_360 -> big_north -> customer_360\)"):
            con.execute("CREATE OR REPLACE TEMP VIEW customer_360 AS SELECT name, 1 AS total, 'x' AS region FROM big_north")
        con.execute("DROP VIEW big_north")
        con.execute("DROP VIEW IF EXISTS big_north")
        with pytest.raises(fedq.ProgrammingError, match="view 'big_north' does not exist"):
            con.execute("DROP VIEW big_north")
        with pytest.raises(fedq.ProgrammingError, match="needs its source"):
            con.execute("SELECT * FROM big_north")
        with pytest.raises(fedq.ProgrammingError, match=r"view 'nope' does not exist \(views: customer_360\)"):
            con.execute("SELECT * FROM views.nope")


def test_a_cte_hides_a_view_of_the_same_name(places):
    with fedq.connect() as con:
        _attach_all(con, places, persistent=False)
        con.execute(f"CREATE TEMP VIEW customer_360 AS {VIEW_360}")
        assert con.execute("WITH customer_360 AS (SELECT 7 AS x) SELECT * FROM customer_360").fetchall() == [(7,)]


def test_views_are_kept_in_the_home_catalog_and_temp_views_are_not(places, fedq_home):
    with fedq.connect() as con:
        _attach_all(con, places)
        con.execute(f"CREATE VIEW customer_360 AS {VIEW_360}")
        con.execute("CREATE TEMP VIEW scratch AS SELECT 1 AS one")
        assert con.execute("SHOW VIEWS").fetchall() == [
            ("customer_360", True, "name VARCHAR, total DECIMAL(10,2), region VARCHAR", con.catalog.views["customer_360"].sql),
            ("scratch", False, "one INTEGER", "SELECT 1 AS one")]
    text = (fedq_home / "catalog.toml").read_text()
    assert "[views.customer_360]" in text and "scratch" not in text and "[sources.pg]" in text
    with fedq.connect() as con:
        assert sorted(con.catalog.views) == ["customer_360"]
        con.execute("DROP VIEW customer_360")
        con.detach("crm")
    text = (fedq_home / "catalog.toml").read_text()
    assert "customer_360" not in text and "[sources.crm]" not in text and "[sources.lake]" in text


def test_views_in_information_schema_show_tables_and_describe(places):
    with fedq.connect() as con:
        _attach_all(con, places, persistent=False)
        con.execute(f"CREATE TEMP VIEW customer_360 AS {VIEW_360}")
        assert con.execute("SELECT table_catalog, table_type FROM information_schema.tables "
                           "WHERE table_name = 'customer_360'").fetchall() == [("views", "VIEW")]
        assert con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'views' "
                           "ORDER BY ordinal_position").fetchall() == [
            ("name", "VARCHAR"), ("total", "DECIMAL(10,2)"), ("region", "VARCHAR")]
        assert ("views", "main", "customer_360") in con.execute("SHOW TABLES").fetchall()
        assert con.execute("SHOW TABLES FROM views").fetchall() == [("views", "main", "customer_360")]
        assert con.execute("DESCRIBE customer_360").fetchall()[1] == ("total", "DECIMAL(10,2)", "yes")


def test_concurrent_connections_keep_every_view(places, fedq_home):
    def create(index: int) -> None:
        with fedq.connect(home=fedq_home) as con:
            con.execute(f"CREATE VIEW v{index} AS SELECT {index} AS n")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with fedq.connect() as con:
        assert sorted(con.catalog.views) == [f"v{i}" for i in range(6)]


def test_a_source_table_that_changed_shape_is_named_against_the_view(places):
    with fedq.connect() as con:
        _attach_all(con, places, persistent=False)
        con.execute(f"CREATE TEMP VIEW customer_360 AS {VIEW_360}")
        with pgdb.connect(places["pg_admin"], autocommit=True) as pg, pg.cursor() as cur:
            cur.execute("ALTER TABLE fedq_views.orders ALTER COLUMN total TYPE double precision")
        con.execute("REFRESH pg")
        with pytest.raises(fedq.ProgrammingError, match=r"view 'customer_360' no longer matches its sources: column 'total' "
                                                        r"was DECIMAL\(10,2\) and is now DOUBLE"):
            con.execute("SELECT * FROM customer_360")
        with pgdb.connect(places["pg_admin"], autocommit=True) as pg, pg.cursor() as cur:
            cur.execute("ALTER TABLE fedq_views.orders RENAME COLUMN customer_id TO client_id")
        con.execute("REFRESH")
        with pytest.raises(fedq.ProgrammingError, match=r"view 'customer_360' no longer matches its sources: .*customer_id"):
            con.execute("SELECT * FROM customer_360")


def test_a_table_that_changes_between_queries_is_reported_and_refreshed(tmp_path):
    path = tmp_path / "a.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER, name TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'a')")
    with fedq.connect() as con:
        con.attach("lite", "sqlite", path=str(path))
        assert con.execute("SELECT id, name FROM lite.t").fetchall() == [(1, "a")]
        with sqlite3.connect(path) as db:
            db.execute("ALTER TABLE t RENAME COLUMN name TO label")
        with pytest.raises(fedq.OperationalError, match=r"source table lite.main.t changed shape since fedq read its schema: "
                                                        r"column 'name' was removed; column 'label' was added"):
            con.execute("SELECT id, name FROM lite.t").fetchall()
        assert con.execute("SELECT id, label FROM lite.t").fetchall() == [(1, "a")]  # planned with the new shape


def test_metadata_is_cached_for_the_ttl_and_refresh_forgets_it(tmp_path):
    path = tmp_path / "a.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER)")
    with fedq.connect() as con:
        con.attach("cached", "sqlite", path=str(path))
        con.attach("live", "sqlite", path=str(path), metadata_ttl=0)
        assert con.execute("SELECT count(*) FROM cached.t").fetchall() == [(0,)]
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE u (id INTEGER)")
        assert con.execute("SELECT count(*) FROM live.u").fetchall() == [(0,)]  # TTL 0: always read again
        with pytest.raises(fedq.ProgrammingError, match="table 'cached.u' does not exist"):
            con.execute("SELECT count(*) FROM cached.u")
        con.execute("REFRESH cached")
        assert con.execute("SELECT count(*) FROM cached.u").fetchall() == [(0,)]
        with pytest.raises(fedq.ProgrammingError, match="unknown source 'cachd'; did you mean cached"):
            con.execute("REFRESH cachd")
        with pytest.raises(fedq.ProgrammingError, match=r"source 'bad' \(sqlite\): setting 'metadata_ttl' must be a number \(at least 0\), not 'soon'"):
            con.attach("bad", "sqlite", path=str(path), metadata_ttl="soon")


def test_views_need_a_home_unless_temporary(tmp_path):
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError, match=r"no home catalog \(home=False\); use CREATE TEMP VIEW"):
            con.execute("CREATE VIEW v AS SELECT 1 AS x")
        con.execute("CREATE TEMP VIEW v AS SELECT 1 AS x")
        assert con.execute("SELECT * FROM v").fetchall() == [(1,)]
        with pytest.raises(fedq.NotSupportedError, match="materialized views are not supported"):
            con.execute("CREATE MATERIALIZED VIEW m AS SELECT 1 AS x")
        with pytest.raises(fedq.ProgrammingError, match="a view is named NAME or views.NAME"):
            con.execute("CREATE TEMP VIEW pg.v AS SELECT 1 AS x")
        with pytest.raises(fedq.ProgrammingError, match="reserved for views"):
            con.attach("views", "sqlite", path=str(tmp_path / "x.sqlite"))


def test_catalog_export_recreates_sources_and_views(places, tmp_path, fedq_home):
    with fedq.connect() as con:
        _attach_all(con, places)
        con.execute(f"CREATE VIEW customer_360 AS {VIEW_360}")
        expected = con.execute("SELECT * FROM customer_360 ORDER BY total").fetchall()
    exported = tmp_path / "exported.toml"
    done = subprocess.run([sys.executable, "-m", "fedq.repl.cli", "catalog", "export", "-o", str(exported)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with fedq.connect(exported, home=tmp_path / "another-home") as con:
        assert sorted(con.catalog.sources) == ["crm", "lake", "pg"]
        assert con.execute("SELECT * FROM customer_360 ORDER BY total").fetchall() == expected


def test_views_from_a_catalog_file_and_in_the_repl(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.execute("INSERT INTO customers VALUES (1, 'Ann')")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n\n'
                       '[views.named]\nsql = "SELECT upper(name) AS name FROM crm.customers"\n')
    done = subprocess.run([sys.executable, "-m", "fedq.repl.cli", str(catalog), "--format", "csv",
                           "-c", "SELECT * FROM named", "-c", "\\views"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["name", "ANN"]
    assert "named,false,,SELECT upper(name) AS name FROM crm.customers" in done.stdout  # from the file, not the home catalog


def test_a_column_whose_type_changed_under_a_cached_schema_is_caught_before_it_is_read(request, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_drift"))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as pg, pg.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_drift CASCADE")
        cur.execute("CREATE SCHEMA fedq_drift")
        cur.execute("CREATE TABLE fedq_drift.t (id integer, code integer)")
        cur.execute("INSERT INTO fedq_drift.t VALUES (1, 9), (2, 10)")
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=pg_dsn)
        con.register("one", pa.table({"k": [1]}))  # another source: the PostgreSQL table is a plain scan
        query = "SELECT code FROM pg.fedq_drift.t t, memory.one o ORDER BY code"
        assert con.execute(query).fetchall() == [(9,), (10,)]
        with pgdb.connect(pg_admin_dsn, autocommit=True) as pg, pg.cursor() as cur:
            cur.execute("ALTER TABLE fedq_drift.t ALTER COLUMN code TYPE text")  # '10' < '9' as text
        with pytest.raises(fedq.OperationalError, match=r"source table pg.fedq_drift.t changed shape since fedq read its "
                                                        r"schema: column 'code' changed type from INTEGER to VARCHAR"):
            con.execute(query).fetchall()
        assert con.execute(query).fetchall() == [("10",), ("9",)]  # planned again with the new type


def test_view_definitions_fedq_cannot_keep_are_clear_errors(tmp_path):
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.NotSupportedError, match="CREATE VIEW with a column list is not supported"):
            con.execute("CREATE TEMP VIEW v (a) AS SELECT 1 AS x")
        with pytest.raises(fedq.NotSupportedError, match=r"view 'p': query\('source', '…'\) passthrough cannot be part of a view"):
            con.execute("CREATE TEMP VIEW p AS SELECT * FROM query('crm', 'SELECT 1')")
        with pytest.raises(fedq.ProgrammingError, match="view 'q': the statement has 1 parameter marker"):
            con.create_view("q", "SELECT ? AS x", temporary=True)
        with pytest.raises(fedq.ProgrammingError, match="view 'r': the view's body must be a query without parameters"):
            con.create_view("r", "SHOW SOURCES", temporary=True)
        assert "v" not in con.catalog.views and "p" not in con.catalog.views
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[views.broken]\nquery = "SELECT 1"\n')
    with pytest.raises(fedq.ProgrammingError, match=r"\[views.broken\]: a view has sql = \"SELECT …\""):
        fedq.connect(catalog, home=False)
    catalog.write_text('[sourcez.x]\ntype = "sqlite"\n')
    with pytest.raises(fedq.ProgrammingError, match=r"unknown section\(s\) \['sourcez'\]; expected \[sources.NAME\], "
                                                    r"\[views.NAME\] or \[server\]"):
        fedq.connect(catalog, home=False)


def test_decimal_text_that_does_not_fit_is_an_error_not_a_rounded_value():
    from fedq.sources.arrow_util import decimal_from_text

    exact = decimal_from_text(pa.array(["0.33333333333333333333", "-0.00000000005", None, "7"]), pa.decimal128(38, 10))
    assert [str(v) if v is not None else None for v in exact.to_pylist()] == ["0.3333333333", "-1E-10", None, "7.0000000000"]
    with pytest.raises(pa.ArrowInvalid):
        decimal_from_text(pa.array(["1" + "0" * 30]), pa.decimal128(38, 10))  # 31 integer digits: no DECIMAL(38,10)
