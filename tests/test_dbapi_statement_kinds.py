"""The cursor's statement-kind registry (fedq/dbapi.py CATALOG_STATEMENTS, PLANNED_STATEMENTS): every kind
engine.statements.prepare gives has exactly one handler, and each handler answers its statement over a
real SQLite file."""
from __future__ import annotations

import sqlite3

import pytest

import fedq
from fedq.dbapi import CATALOG_STATEMENTS, PLANNED_STATEMENTS
from fedq.engine.statements import prepare

# kind -> (statement, check of (cursor, connection, tmp_path) after it ran)
STATEMENTS = {
    "attach": ("ATTACH '{crm}' AS crm2 (TYPE sqlite)", lambda c, con, p: "crm2" in con.catalog.sources),
    "detach": ("DETACH crm", lambda c, con, p: "crm" not in con.catalog.sources),
    "show_sources": ("SHOW SOURCES", lambda c, con, p: "crm" in [r[0] for r in c.fetchall()]),
    "show_tables": ("SHOW TABLES FROM crm", lambda c, con, p: "customers" in str(c.fetchall())),
    "show_views": ("SHOW VIEWS", lambda c, con, p: c.fetchall() == []),
    "analyze": ("ANALYZE crm.main.customers", lambda c, con, p: len(c.fetchall()) == 1),
    "describe": ("DESCRIBE crm.main.customers", lambda c, con, p: [r[0] for r in c.fetchall()] == ["id", "name"]),
    "create_view": ("CREATE TEMP VIEW v AS SELECT id FROM crm.main.customers",
                    lambda c, con, p: "v" in con.catalog.views),
    "drop_view": ("DROP VIEW IF EXISTS nothing_here", lambda c, con, p: "nothing_here" not in con.catalog.views),
    "refresh": ("REFRESH crm", lambda c, con, p: "crm" in con.catalog.sources),
    "query": ("SELECT name FROM crm.main.customers WHERE id = 2", lambda c, con, p: c.fetchall() == [("bob",)]),
    "explain": ("EXPLAIN SELECT id FROM crm.main.customers", lambda c, con, p: "customers" in str(c.fetchall())),
    "explain_analyze": ("EXPLAIN ANALYZE SELECT id FROM crm.main.customers",
                        lambda c, con, p: "customers" in str(c.fetchall())),
    "copy": ("COPY (SELECT id FROM crm.main.customers) TO '{out}' (FORMAT csv)",
             lambda c, con, p: (p / "out.csv").read_text().split() == ["id", "1", "2"]),
}


@pytest.fixture
def crm_path(tmp_path):
    path = tmp_path / "crm.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "ann"), (2, "bob")])
    db.commit()
    db.close()
    return path


def test_every_kind_has_one_handler():
    assert not set(CATALOG_STATEMENTS) & set(PLANNED_STATEMENTS)
    assert set(CATALOG_STATEMENTS) | set(PLANNED_STATEMENTS) == set(STATEMENTS)


@pytest.mark.parametrize("kind", sorted(STATEMENTS))
def test_handler_answers_its_kind(kind, crm_path, tmp_path):
    sql, check = STATEMENTS[kind]
    sql = sql.format(crm=crm_path, out=tmp_path / "out.csv")
    assert prepare(sql).kind == kind
    with fedq.connect(home=False) as con:
        con.attach("crm", "sqlite", path=str(crm_path))
        cursor = con.cursor()
        cursor.execute(sql)
        assert check(cursor, con, tmp_path)
