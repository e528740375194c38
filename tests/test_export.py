"""COPY (query) TO 'file' (engine/export.py): each format round-trips, existing files are kept
unless OVERWRITE is given, bad formats and options are named, reads are never called writes, and
COPY … FROM is refused. Also ``fedq -c … -o FILE`` and the REPL's ``\\o FILE``."""
from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import fedq
from fedq.repl.app import run_repl

ROWS = [(1, "Ann", Decimal("10.50")), (2, None, Decimal("-3.00")), (3, 'a,"b"\nc', None)]
QUERY = "SELECT id, name, CAST(amount AS DECIMAL(10,2)) AS amount FROM crm.customers ORDER BY id"


@pytest.fixture
def catalog(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT, amount TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(i, n, None if a is None else str(a)) for i, n, a in ROWS])
    path = tmp_path / "catalog.toml"
    path.write_text('[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n')
    return path


@pytest.fixture
def connection(catalog):
    con = fedq.connect(catalog, home=False)
    yield con
    con.close()


def _read_back(path, fmt: str) -> list[tuple]:
    """The rows of an exported file, read by DuckDB as the types it wrote."""
    reader = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}[fmt]
    return duckdb.sql(f"SELECT id, name, CAST(amount AS DECIMAL(10,2)) FROM {reader}('{path}') ORDER BY id").fetchall()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_copy_to_each_format_round_trips_the_rows(connection, tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    assert connection.execute(f"COPY ({QUERY}) TO '{target}' (FORMAT {fmt})").fetchall() == [(3,)]
    assert _read_back(target, fmt) == ROWS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fedq-export-")] == []


def test_format_follows_the_extension_and_options_reach_the_writer(connection, tmp_path):
    connection.execute(f"COPY ({QUERY}) TO '{tmp_path / 'out.parquet'}'")
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3
    connection.execute(f"COPY ({QUERY}) TO '{tmp_path / 'out.txt'}' (HEADER false, DELIMITER '|')")
    assert (tmp_path / "out.txt").read_text().splitlines()[0] == "1|Ann|10.50"
    connection.execute(f"COPY crm.customers TO '{tmp_path / 'whole.csv'}'")  # a table, not only a query
    assert pacsv.read_csv(tmp_path / "whole.csv").num_rows == 3


def test_parameters_bind_inside_the_copied_query(connection, tmp_path):
    connection.execute(f"COPY (SELECT id FROM crm.customers WHERE id > ?) TO '{tmp_path / 'p.csv'}'", [1])
    assert (tmp_path / "p.csv").read_text().splitlines() == ["id", "2", "3"]


def test_an_existing_file_is_kept_unless_overwrite(connection, tmp_path):
    target = tmp_path / "kept.csv"
    target.write_text("precious\n")
    with pytest.raises(fedq.OperationalError, match="the file exists; .*add OVERWRITE"):
        connection.execute(f"COPY ({QUERY}) TO '{target}' (FORMAT csv)")
    assert target.read_text() == "precious\n"
    connection.execute(f"COPY ({QUERY}) TO '{target}' (FORMAT csv, OVERWRITE)")
    assert _read_back(target, "csv") == ROWS
    with pytest.raises(fedq.OperationalError, match="the file exists"):
        connection.execute(f"COPY ({QUERY}) TO '{target}' (FORMAT csv, OVERWRITE false)")


@pytest.mark.parametrize(("options", "message"), [
    ("FORMAT xml", "option FORMAT must be one of csv, parquet, json, not 'xml'"),
    ("FORMAT csv, HEADR false", "option HEADR is not known for FORMAT csv"),
    ("FORMAT parquet, HEADER true", "option HEADER is not known for FORMAT parquet"),
    ("FORMAT csv, HEADER 'maybe'", "option HEADER must be true or false, not 'maybe'"),
    ("FORMAT parquet, ROW_GROUP_SIZE 'big'", "option ROW_GROUP_SIZE must be a whole number"),
    ("FORMAT csv, OVERWRITE 'sometimes'", "option OVERWRITE must be true or false"),
])
def test_bad_formats_and_options_are_named(connection, tmp_path, options, message):
    with pytest.raises(fedq.ProgrammingError, match=message.replace("(", r"\(")):
        connection.execute(f"COPY ({QUERY}) TO '{tmp_path / 'x.csv'}' ({options})")
    assert not (tmp_path / "x.csv").exists()


def test_copy_from_and_remote_targets_are_refused(connection, tmp_path):
    with pytest.raises(fedq.NotSupportedError, match="COPY crm.customers FROM …: fedq only reads, sources are read-only"):
        connection.execute(f"COPY crm.customers FROM '{tmp_path / 'x.csv'}'")
    with pytest.raises(fedq.NotSupportedError, match="local files only"):
        connection.execute(f"COPY ({QUERY}) TO 's3://bucket/x.csv'")
    with pytest.raises(fedq.OperationalError, match="does not exist"):
        connection.execute(f"COPY ({QUERY}) TO '{tmp_path / 'no' / 'x.csv'}'")


def test_a_failed_read_is_reported_as_the_read_and_leaves_no_file(connection, tmp_path):
    target = tmp_path / "bad.csv"
    with pytest.raises(fedq.DataError) as caught:  # fails while the rows stream, after the writer started
        connection.execute(f"COPY (SELECT CAST(name AS INTEGER) FROM crm.customers) TO '{target}'")
    assert "writ" not in str(caught.value).lower() and "Could not convert" in str(caught.value)
    assert list(tmp_path.glob("*.csv")) == [] and list(tmp_path.glob(".fedq-export-*")) == []
    with pytest.raises(fedq.ProgrammingError, match="does not exist"):
        connection.execute(f"COPY (SELECT * FROM crm.nowhere) TO '{target}'")


def _fedq(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedq.repl.cli", *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


def test_dash_o_writes_the_result_in_the_format_of_its_extension(catalog, tmp_path):
    result = _fedq(str(catalog), "-c", QUERY, "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert _read_back(tmp_path / "out.csv", "csv") == ROWS
    again = _fedq(str(catalog), "-c", QUERY, "-o", str(tmp_path / "out.csv"))
    assert again.returncode == 1 and "output file" in again.stderr and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    assert _fedq(str(catalog), "-c", QUERY, "-o", str(tmp_path / "out.csv"), "--overwrite", "--format", "json").returncode == 0
    lines = [json.loads(line) for line in (tmp_path / "out.csv").read_text().splitlines()]
    assert lines[0] == {"id": 1, "name": "Ann", "amount": "10.50"}
    parquet = _fedq(str(catalog), "-c", QUERY, "-o", str(tmp_path / "out.parquet"))
    assert parquet.returncode != 0 and "COPY (query) TO" in parquet.stderr


def test_backslash_o_sends_results_to_a_file_and_back(connection, tmp_path):
    target = tmp_path / "results.csv"
    out = io.StringIO()
    keys = (f"\\format csv\r\\o {target}\r{QUERY};\r\\o\rSELECT 42 AS answer;\r"
            f"\\o {target}\r\\q\r")
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(connection, out=out, input=pipe, output=DummyOutput(), history=InMemoryHistory())
    text = out.getvalue()
    assert "answer\n42" in text and "Ann" not in text
    assert "exists; fedq does not replace it" in text  # the second \o of the same file
    assert _read_back(target, "csv") == ROWS
