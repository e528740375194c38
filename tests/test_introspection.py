"""SHOW SOURCES, SHOW TABLES [FROM source], DESCRIBE source.table as SQL statements."""
from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq

import fedq


def _con(tmp_path) -> fedq.Connection:
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT, joined DATE)")
    (tmp_path / "lake").mkdir()
    pq.write_table(pa.table({"x": [1.5]}), tmp_path / "lake" / "m.parquet")
    con = fedq.connect()
    con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
    con.attach("lake", "files", url=str(tmp_path / "lake"))
    return con


def test_show_sources_and_tables(tmp_path):
    with _con(tmp_path) as con:
        assert [r[:2] for r in con.execute("SHOW SOURCES").fetchall()] == [("crm", "sqlite"), ("lake", "files")]
        assert con.execute("SHOW TABLES").fetchall() == [("crm", "main", "customers"), ("lake", "main", "m")]
        assert con.execute("SHOW TABLES FROM lake").fetchall() == [("lake", "main", "m")]


def test_describe_table(tmp_path):
    with _con(tmp_path) as con:
        cursor = con.execute("DESCRIBE crm.customers")
        assert [d[0] for d in cursor.description] == ["column", "type", "nullable"]
        assert cursor.fetchall() == [("id", "BIGINT", "yes"), ("name", "VARCHAR", "yes"), ("joined", "DATE", "yes")]


def test_unknown_names_in_introspection_get_suggestions(tmp_path):
    with _con(tmp_path) as con:
        try:
            con.execute("DESCRIBE crm.custmers")
        except fedq.ProgrammingError as error:
            assert "did you mean crm.customers" in str(error)
        else:
            raise AssertionError("expected an error")
