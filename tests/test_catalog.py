"""TOML catalogs, ATTACH/DETACH and table name resolution, over real files made in tmp_path."""
from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import fedq


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path):
    """A catalog folder: db/crm.sqlite, data/sales/{2023,2024}.parquet (2024 adds 'region'), data/returns.csv."""
    root = tmp_path / "project"
    (root / "db").mkdir(parents=True)
    (root / "data" / "sales").mkdir(parents=True)
    db = sqlite3.connect(root / "db" / "crm.sqlite")
    db.execute("CREATE TABLE Customers (id INTEGER, name TEXT)")
    db.executemany("INSERT INTO Customers VALUES (?, ?)", [(1, "ann"), (2, "bob")])
    db.commit()
    db.close()
    pq.write_table(pa.table({"id": [1, 2], "amount": [10.0, 20.0]}), root / "data" / "sales" / "2023.parquet")
    pq.write_table(
        pa.table({"id": [3], "amount": [30.0], "region": ["eu"]}), root / "data" / "sales" / "2024.parquet"
    )
    pacsv.write_csv(pa.table({"id": [1], "reason": ["broken"]}), root / "data" / "returns.csv")
    return root


CATALOG = """
[sources.crm]
type = "sqlite"
path = "db/${FEDQ_TEST_CRM_NAME}.sqlite"

[sources.files]
type = "files"
url = "data"
tables = {sales = "sales/*.parquet", returns = "returns.csv"}

[sources.auto]
type = "files"
url = "data"
"""


@pytest.fixture
def catalog_file(project, monkeypatch):
    monkeypatch.setenv("FEDQ_TEST_CRM_NAME", "crm")
    path = project / "catalog.toml"
    path.write_text(CATALOG)
    return path


@pytest.fixture
def con(catalog_file, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths must not depend on the working directory
    connection = fedq.connect(catalog_file)
    yield connection
    connection.close()


def write_catalog(tmp_path, text: str):
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return path


# -- loading a TOML catalog -----------------------------------------------------------------------
def test_catalog_declares_every_source(con):
    assert sorted(con.catalog.sources) == ["auto", "crm", "files"]


def test_env_var_is_interpolated_into_a_setting(con, project):
    assert con.source("crm").path == str(project / "db" / "crm.sqlite")
    assert con.execute("SELECT name FROM crm.customers ORDER BY id").fetchall() == [("ann",), ("bob",)]


def test_relative_sqlite_path_resolves_against_the_catalog_folder(con, tmp_path):
    assert not (tmp_path / "elsewhere" / "db").exists()
    assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (2,)


def test_relative_files_url_resolves_against_the_catalog_folder(con):
    assert con.execute("SELECT count(*) FROM files.returns").fetchone() == (1,)


def test_tables_mapping_names_a_csv_file(con):
    assert con.execute("SELECT id, reason FROM files.returns").fetchall() == [(1, "broken")]


def test_tables_mapping_glob_reads_every_matching_file(con):
    rows = con.execute("SELECT id, amount FROM files.sales ORDER BY id").fetchall()
    assert rows == [(1, 10.0), (2, 20.0), (3, 30.0)]


def test_glob_over_differing_files_exposes_the_unified_schema(con):
    cursor = con.execute("SELECT * FROM files.sales ORDER BY id")
    assert [d[0] for d in cursor.description] == ["id", "amount", "region"]
    assert cursor.fetchall() == [(1, 10.0, None), (2, 20.0, None), (3, 30.0, "eu")]


def test_column_only_in_a_later_file_can_be_filtered(con):
    assert con.execute("SELECT id FROM files.sales WHERE region = 'eu'").fetchall() == [(3,)]
    assert con.execute("SELECT count(*) FROM files.sales WHERE region IS NULL").fetchone() == (2,)


def test_folder_without_tables_discovers_files_and_folders(con):
    assert sorted(t.name for t in con.source("auto").list_tables()) == ["returns", "sales"]


def test_discovered_folder_table_reads_all_its_files(con):
    rows = con.execute("SELECT id, region FROM auto.sales ORDER BY id").fetchall()
    assert rows == [(1, None), (2, None), (3, "eu")]


def test_discovered_file_table_uses_the_file_stem(con):
    assert con.execute("SELECT reason FROM auto.returns").fetchall() == [("broken",)]


@pytest.mark.postgres
def test_catalog_and_env_var_can_supply_a_postgres_dsn(tmp_path, monkeypatch, pg_dsn):
    monkeypatch.setenv("FEDQ_TEST_PG_DSN_VALUE", pg_dsn)
    path = write_catalog(tmp_path, '[sources.pg]\ntype = "postgres"\ndsn = "${FEDQ_TEST_PG_DSN_VALUE}"\n')
    with fedq.connect(path) as connection:
        assert connection.source("pg").dsn == pg_dsn
        assert connection.execute("SELECT 1 AS one").fetchone() == (1,)


# -- catalog errors -----------------------------------------------------------------------------
def test_missing_env_var_names_the_variable_and_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("FEDQ_TEST_UNSET_VAR", raising=False)
    path = write_catalog(tmp_path, '[sources.crm]\ntype = "sqlite"\npath = "${FEDQ_TEST_UNSET_VAR}/crm.sqlite"\n')
    with pytest.raises(fedq.ProgrammingError) as info:
        fedq.connect(path)
    message = str(info.value)
    assert "FEDQ_TEST_UNSET_VAR" in message
    assert "[sources.crm].path" in message


def test_missing_env_var_in_a_tables_entry_names_that_entry(tmp_path, monkeypatch):
    monkeypatch.delenv("FEDQ_TEST_UNSET_VAR", raising=False)
    path = write_catalog(
        tmp_path, '[sources.f]\ntype = "files"\nurl = "data"\ntables = {sales = "${FEDQ_TEST_UNSET_VAR}.csv"}\n'
    )
    with pytest.raises(fedq.ProgrammingError, match=r"tables\.sales.*FEDQ_TEST_UNSET_VAR"):
        fedq.connect(path)


def test_unknown_setting_is_named(tmp_path):
    path = write_catalog(tmp_path, '[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\ncolour = "red"\n')
    with pytest.raises(fedq.ProgrammingError, match=r"unknown setting.*colour"):
        fedq.connect(path)


def test_unknown_type_lists_the_known_types(tmp_path):
    path = write_catalog(tmp_path, '[sources.ora]\ntype = "oracle"\ndsn = "x"\n')
    with pytest.raises(fedq.ProgrammingError) as info:
        fedq.connect(path)
    message = str(info.value)
    assert "oracle" in message
    assert all(known in message for known in ("files", "postgres", "sqlite"))


def test_missing_type_is_reported(tmp_path):
    path = write_catalog(tmp_path, '[sources.crm]\npath = "crm.sqlite"\n')
    with pytest.raises(fedq.ProgrammingError, match=r"\[sources\.crm\].*'type'"):
        fedq.connect(path)


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    path = write_catalog(tmp_path, '[sources.crm\ntype = "sqlite"\n')
    with pytest.raises(fedq.ProgrammingError, match="invalid TOML") as info:
        fedq.connect(path)
    assert str(path) in str(info.value)


def test_unknown_top_level_section_is_reported(tmp_path):
    path = write_catalog(tmp_path, "[databases.crm]\ntype = 'sqlite'\n")
    with pytest.raises(fedq.ProgrammingError, match=r"databases.*\[sources\.NAME\]"):
        fedq.connect(path)


def test_missing_catalog_file_is_reported_with_its_path(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(fedq.ProgrammingError, match="not found") as info:
        fedq.connect(missing)
    assert str(missing) in str(info.value)


# -- ATTACH and DETACH ---------------------------------------------------------------------------
def test_attach_statement_makes_the_tables_queryable(project):
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS crm (TYPE sqlite)")
        assert connection.execute("SELECT count(*) FROM crm.customers").fetchone() == (2,)


def test_attach_statement_infers_sqlite_from_the_extension(project):
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS crm")
        assert connection.source("crm").type_name == "sqlite"


def test_attach_statement_of_a_files_folder(project):
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'data'}' AS lake (TYPE files)")
        assert connection.execute("SELECT count(*) FROM lake.sales").fetchone() == (3,)


def test_attach_twice_under_one_name_is_refused(project):
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS crm (TYPE sqlite)")
        with pytest.raises(fedq.ProgrammingError, match="already exists"):
            connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS CRM (TYPE sqlite)")


def test_attach_of_an_unknown_type_lists_the_known_types(project):
    with fedq.connect() as connection:
        with pytest.raises(fedq.ProgrammingError, match="known types: .*files.*postgres.*sqlite"):
            connection.execute(f"ATTACH '{project}' AS m (TYPE mongodb)")


def test_detach_then_query_names_the_unknown_source(project):
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS crm (TYPE sqlite)")
        connection.execute("SELECT count(*) FROM crm.customers").fetchall()
        connection.execute("DETACH crm")
        with pytest.raises(fedq.ProgrammingError, match="unknown source 'crm'"):
            connection.execute("SELECT count(*) FROM crm.customers")


def test_detach_of_an_unknown_source_is_a_programming_error():
    with fedq.connect() as connection:
        with pytest.raises(fedq.ProgrammingError, match="unknown source 'crm'"):
            connection.execute("DETACH crm")


def test_name_can_be_attached_again_after_detach(project, tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.execute("INSERT INTO customers VALUES (99)")
    db.commit()
    db.close()
    with fedq.connect() as connection:
        connection.execute(f"ATTACH '{project / 'db' / 'crm.sqlite'}' AS crm (TYPE sqlite)")
        assert connection.execute("SELECT count(*) FROM crm.customers").fetchone() == (2,)
        connection.execute("DETACH crm")
        connection.execute(f"ATTACH '{other}' AS crm (TYPE sqlite)")
        assert connection.execute("SELECT id FROM crm.customers").fetchall() == [(99,)]


# -- name resolution --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["crm.customers", "CRM.CUSTOMERS", "Crm.Customers", "crm.Customers"])
def test_table_names_are_case_insensitive(con, name):
    assert con.execute(f"SELECT count(*) FROM {name}").fetchone() == (2,)


@pytest.mark.parametrize("name", ["crm.main.customers", "CRM.MAIN.Customers"])
def test_source_schema_table_names_resolve(con, name):
    assert con.execute(f"SELECT count(*) FROM {name}").fetchone() == (2,)


def test_wrong_schema_is_an_unknown_table(con):
    with pytest.raises(fedq.ProgrammingError, match="does not exist in source 'crm'"):
        con.execute("SELECT * FROM crm.other.customers")


def test_files_table_resolves_with_the_main_schema(con):
    assert con.execute("SELECT count(*) FROM files.main.sales").fetchone() == (3,)


# -- PostgreSQL: the public schema is the default -------------------------------------------------
@pytest.fixture
def pg_public_table(pg_dsn, pg_admin_dsn):
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(pg_admin_dsn, autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS public.fedq_cat_t")
        cursor.execute("CREATE TABLE public.fedq_cat_t (id integer, label text)")
        cursor.execute("INSERT INTO public.fedq_cat_t VALUES (1, 'one'), (2, 'two')")
    yield pg_dsn
    with pg.connect(pg_admin_dsn, autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS public.fedq_cat_t")


@pytest.mark.postgres
@pytest.mark.parametrize("name", ["pg.fedq_cat_t", "pg.public.fedq_cat_t", "PG.FEDQ_CAT_T"])
def test_postgres_public_table_is_reachable(pg_public_table, name):
    with fedq.connect() as connection:
        connection.attach("pg", "postgres", dsn=pg_public_table)
        rows = connection.execute(f"SELECT id, label FROM {name} ORDER BY id").fetchall()
        assert rows == [(1, "one"), (2, "two")]
