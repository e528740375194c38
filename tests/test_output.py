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


def test_widths_of_ascii_emoji_cjk_combining_and_control_text():
    assert output.width_of("plain text") == 10
    assert output.width_of("🦆 duck") == 7  # the emoji takes two columns
    assert output.width_of("東京") == 4
    assert output.width_of("e\u0301") == 1  # a combining accent takes none
    assert output.width_of("a\x07b") == 2  # a control character takes none, as prompt-toolkit measures it


def test_measuring_cells_keeps_nothing_per_value():
    """prompt-toolkit's get_cwidth caches every string it measures; a streamed table of distinct
    values must not fill that cache (it held a 1 GB result's every cell: 3.7 GB RSS)."""
    from prompt_toolkit.utils import _CHAR_SIZES_CACHE

    before = len(_CHAR_SIZES_CACHE)
    rows = [(i, f"name_{i}", f"東京_{i}") for i in range(20_000)]
    text = output.table(["id", "name", "city"], ["BIGINT", "VARCHAR", "VARCHAR"], rows, width=200)
    assert "東京_19999" in text
    assert len(_CHAR_SIZES_CACHE) - before < 100  # single characters only


def test_arrow_table_blocks_are_what_the_python_table_prints():
    """The streamed table format (repl/arrow_table.py, Arrow kernels) draws exactly what output.table
    draws from Python rows, for every kind of value a result can hold."""
    from fedq.repl.arrow_table import table_block

    block = pa.table({
        "i": pa.array([1, -20, None, 2**62], pa.int64()),
        "u": pa.array([0, 255, 7, None], pa.uint8()),
        "s": pa.array(["plain", "tab\there", None, "new\nline"]),
        "wide": pa.array(["🦆 duck", "東京", "e\u0301", "a\x07b"]),
        "b": pa.array([True, False, None, True]),
        "d": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
        "f": pa.array([1.5, 123456.0, float("nan"), 1e20]),
        "dec": pa.array([Decimal("1.50"), Decimal("-0.01"), None, Decimal("12345678901234567890.12")], pa.decimal128(22, 2)),
        "ts": pa.array([dt.datetime(2024, 1, 1, 12, 30), None, dt.datetime(2024, 1, 1, 0, 0, 0, 5), dt.datetime(1970, 1, 1)]),
        "bin": pa.array([b"\x00\xff", None, b"", b"abc"]),
        "empty": pa.array(["", "", "", ""]),
    })
    types = output.type_names([(name, field.type) for name, field in zip(block.column_names, block.schema)])
    names = ["i", "u", "s", "wide name 🦆", "b", "d", "f", "dec", "ts", "bin", "empty"]
    rows = list(zip(*[column.to_pylist() for column in block.columns]))
    for null in (output.NULL, "∅", ""):
        assert table_block(names, types, block, null) == output.table(names, types, rows, null=null, expand="off")
    assert table_block(names, types, block.slice(0, 0)) == output.table(names, types, [], expand="off")
