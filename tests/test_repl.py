"""The REPL end to end through prompt-toolkit's pipe input (no terminal)."""
from __future__ import annotations

import io
import sqlite3

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import fedq
from fedq.repl.app import RedactedFileHistory, run_repl

ENTER = "\r"


@pytest.fixture
def connection(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, None), (3, "Émile")])
    con = fedq.connect()
    con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
    yield con
    con.close()


def _session(connection, keys: str, history=None) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(connection, banner="welcome", out=out, input=pipe, output=DummyOutput(),
                 history=history or InMemoryHistory())
    return out.getvalue()


def test_query_prints_an_aligned_table_with_types_nulls_and_row_count(connection):
    text = _session(connection, "SELECT id, name FROM crm.customers ORDER BY id;" + ENTER + "\\q" + ENTER)
    assert text.startswith("welcome\n")
    assert "│ BIGINT │ VARCHAR │" in text
    assert "│  2 │ <null>  │" in text.replace("│      2", "│  2")
    assert "(3 rows" in text


def test_multi_line_input_runs_only_after_the_semicolon(connection):
    text = _session(connection, "SELECT count(*) AS n" + ENTER + "FROM crm.customers" + ENTER + ";" + ENTER + "\\q" + ENTER)
    assert "│ n      │" in text and "(1 row" in text


def test_meta_commands(connection):
    keys = "".join(k + ENTER for k in ["\\sources", "\\tables crm", "\\d crm.customers", "\\format csv",
                                       "SELECT name FROM crm.customers WHERE id = 1;", "\\timing off", "\\help", "\\q"])
    text = _session(connection, keys)
    assert "│ crm    │ sqlite │" in text
    assert "│ crm    │ main   │ customers │" in text
    assert "│ name   │ VARCHAR │ yes      │" in text
    assert "format is csv" in text and "name\nAnn\n" in text
    assert "timing is off" in text and "\\explain [analyze] QUERY" in text


def test_errors_are_one_line_and_the_session_goes_on(connection):
    text = _session(connection, "SELECT * FROM crm.custmers;" + ENTER + "SELECT 1 AS ok;" + ENTER + "\\q" + ENTER)
    assert "ERROR: table 'crm.custmers' does not exist in source 'crm'; did you mean crm.customers?" in text
    assert "Traceback" not in text and "│ ok      │\n│ INTEGER │" in text


def test_explain_draws_the_plan_tree(connection):
    text = _session(connection, "\\explain SELECT name FROM crm.customers WHERE id > 1" + ENTER + "\\q" + ENTER)
    assert "DuckDB (local)" in text
    assert "└── __fedq_" in text and ": crm (sqlite) query" in text
    assert 'SELECT "customers"."name" AS "c0" FROM "main"."customers" AS "customers"' in text


def test_ctrl_d_exits(connection):
    assert _session(connection, "\x04").startswith("welcome")


def test_history_is_persistent_and_redacts_passwords(connection, tmp_path):
    path = tmp_path / "history"
    keys = "ATTACH 'postgresql://u:hunter22@127.0.0.1:1/db' AS x (TYPE postgres);" + ENTER + "\\q" + ENTER
    _session(connection, keys, history=RedactedFileHistory(str(path)))
    saved = path.read_text()
    assert "ATTACH 'postgresql://u:***@127.0.0.1:1/db'" in saved and "hunter22" not in saved
    assert [entry for entry in RedactedFileHistory(str(path)).load_history_strings()][0].startswith("\\q")
