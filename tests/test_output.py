"""Terminal rendering: pure functions of rows."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa

from fedq.repl import output
from fedq.repl.plan_view import progress_lines
from fedq.repl.runner import split_statements

NAMES = ["id", "name", "amount"]
TYPES = ["BIGINT", "VARCHAR", "DECIMAL(10,2)"]
ROWS = [(1, "Ann", Decimal("10.50")), (22, None, Decimal("-3.00")), (3, "NULL", None)]


def test_table_aligns_numbers_right_and_shows_types_and_null_distinctly():
    text = output.table(NAMES, TYPES, ROWS)
    lines = text.splitlines()
    assert lines[1] == "│ id     │ name    │ amount        │"
    assert lines[2] == "│ BIGINT │ VARCHAR │ DECIMAL(10,2) │"
    assert lines[4] == "│      1 │ Ann     │         10.50 │"
    assert lines[5] == "│     22 │ <null>  │         -3.00 │"
    assert lines[6] == "│      3 │ NULL    │        <null> │"


def test_wide_results_fold_into_records():
    text = output.table(["a", "b"], ["VARCHAR", "VARCHAR"], [("x" * 50, "y" * 50)], width=60)
    assert text.splitlines() == ["-[ RECORD 1 ]", "a │ " + "x" * 50, "b │ " + "y" * 50]


def test_csv_json_markdown():
    assert output.as_csv(NAMES, ROWS).splitlines() == ["id,name,amount", "1,Ann,10.50", "22,,-3.00", "3,NULL,"]
    lines = [json.loads(line) for line in output.as_json(NAMES, ROWS).splitlines()]
    assert lines[1] == {"id": 22, "name": None, "amount": "-3.00"}
    assert output.as_markdown(["a|b"], [("x|y",)]).splitlines() == ["| a\\|b |", "|---|", "| x\\|y |"]


def test_cells_for_dates_floats_and_bytes():
    assert output.cell(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert output.cell(float("nan")) == "nan" and output.cell(True) == "true"
    assert output.cell(b"\x01\xff") == "\\x01ff"
    assert output.cell("two\nlines") == "two\\nlines"


def test_type_names_come_from_arrow_types():
    description = [("a", pa.int32(), None, None, None, None, True), ("b", pa.timestamp("us", tz="UTC"), None, None, None, None, True)]
    assert output.type_names(description) == ["INTEGER", "TIMESTAMPTZ"]


def test_status_line():
    assert output.status(1, 0.0123) == "(1 row, 0.012 s)"
    assert output.status(12345, None) == "(12,345 rows)"


def test_split_statements_keeps_order_and_ignores_semicolons_in_strings_and_comments():
    script = "SELECT ';' AS a;\n\\sources\nSELECT 2 -- trailing; comment\n;\n-- only a comment"
    assert split_statements(script) == ["SELECT ';' AS a", "\\sources", "SELECT 2 -- trailing; comment"]


def test_progress_lines_before_planning():
    assert progress_lines(None, 1.25) == ["planning… 1.2 s"]
