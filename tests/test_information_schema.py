"""information_schema.tables / .columns cover every attached source, so tools that read them work."""
from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq

import fedq


def test_information_schema_lists_every_table_and_column_with_types(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT, joined DATE)")
    (tmp_path / "lake").mkdir()
    pq.write_table(pa.table({"x": [1.5], "tags": [["a"]]}), tmp_path / "lake" / "m.parquet")
    with fedq.connect() as con:
        con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
        con.attach("lake", "files", url=str(tmp_path / "lake"))
        assert con.execute("SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables "
                           "ORDER BY 1, 3").fetchall() == [
            ("crm", "main", "customers", "BASE TABLE"), ("lake", "main", "m", "BASE TABLE")]
        assert con.execute("SELECT table_name, column_name, ordinal_position, data_type FROM information_schema.columns "
                           "ORDER BY table_catalog, ordinal_position").fetchall() == [
            ("customers", "id", 1, "BIGINT"), ("customers", "name", 2, "VARCHAR"), ("customers", "joined", 3, "DATE"),
            ("m", "x", 1, "DOUBLE"), ("m", "tags", 2, "VARCHAR[]")]
        joined = con.execute("SELECT c.column_name FROM information_schema.columns c JOIN crm.customers t ON true "
                             "WHERE c.table_catalog = 'crm'").fetchall()
        assert joined == []  # joins like any table (crm.customers is empty)
        assert [r[0] for r in con.execute("SHOW SOURCES").fetchall()] == ["crm", "lake"]  # built in, not listed


def test_an_unreachable_source_is_left_out_of_information_schema(tmp_path):
    with fedq.connect() as con:
        con.attach("gone", "sqlite", path=str(tmp_path / "missing.sqlite"))
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall() == [(0,)]
