"""The REPL's psql/pgcli features: Ctrl-R then Enter, \\x, output formats and \\pset, \\e, \\i, \\watch,
\\conninfo, \\?, ``fedq -f``, soft-wrapped input, display widths and DuckDB's column names.

In-process through prompt-toolkit's pipe input or the Runner, and through a real terminal in tmux."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from wcwidth import wcswidth

import fedq
from fedq.repl import output
from fedq.repl.app import continuation, run_repl
from fedq.repl.commands import COMMANDS, Settings
from fedq.repl.plan_view import progress_lines, scan_totals
from fedq.repl.runner import Runner

from cleanup import drop_pg_schemas
from faultproxy import FaultProxy
from test_repl_tmux import FEDQ, Pane

ENTER = "\r"
CTRL_R = "\x12"
tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def crm(tmp_path):
    """A SQLite file with awkward values: NULL, a tab, a newline, a backslash, an emoji, CJK text."""
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?)",
                        [(1, "Ann"), (2, None), (3, "tab\there"), (4, "new\nline"), (5, "back\\slash"), (6, "😀 smile"),
                         (7, "漢字")])
    return path


@pytest.fixture
def connection(crm):
    con = fedq.connect(home=False)
    con.attach("crm", "sqlite", path=str(crm))
    yield con
    con.close()


def _session(connection, keys: str, history=None, settings=None) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(connection, banner="welcome", out=out, input=pipe, output=DummyOutput(),
                 history=history or InMemoryHistory(), settings=settings)
    return out.getvalue()


def _run(connection, *statements: str, settings: Settings | None = None) -> tuple[str, str, Runner]:
    out, err = io.StringIO(), io.StringIO()
    runner = Runner(connection, out=out, err=err, settings=settings)
    for statement in statements:
        runner.run_script(statement)
    return out.getvalue(), err.getvalue(), runner


# -- Ctrl-R ---------------------------------------------------------------------------------
def test_ctrl_r_then_enter_runs_the_statement_found(connection):
    history = InMemoryHistory()
    history.append_string("SELECT 'needle' || 'found' AS hit;")
    history.append_string("SELECT 1 AS other;")
    text = _session(connection, CTRL_R + "needle" + ENTER + "SELECT 40 + 2 AS after;" + ENTER + "\\q" + ENTER,
                    history=history)
    assert "needlefound" in text, "the statement found by Ctrl-R did not run"
    assert "│ after   │" in text and "42" in text, "the prompt after the search did not take new input"


@tmux
def test_ctrl_r_then_enter_in_a_real_terminal(crm, tmp_path):
    history = tmp_path / "history"
    pane = Pane(f"{FEDQ} --no-pushdown", {"FEDQ_HISTORY": str(history), "TERM": "xterm-256color", "FEDQ_HOME": str(tmp_path / "home")})
    try:
        pane.wait_for("fedq>")
        pane.type("SELECT 'needle' || 'found' AS hit;")
        pane.press("Enter")
        pane.wait_for("needlefound")
        pane.type("SELECT 2 AS other;")
        pane.press("Enter")
        _wait_count(pane, "(1 row", 2)
        pane.press("C-l")  # clear the screen, so what follows is only what Ctrl-R brings back
        time.sleep(0.3)
        pane.press("C-r")
        pane.wait_for("I-search backward")
        pane.type("needle")
        pane.wait_for("needle' ||")
        pane.press("Enter")
        screen = pane.wait_for("needlefound")
        assert "(1 row" in screen
        time.sleep(0.3)
        assert "I-search" not in pane.screen(), "search mode is still on"
        pane.type("SELECT 40 + 2 AS after;")
        pane.press("Enter")
        screen = pane.wait_for("42")
        assert "after" in screen and "ERROR" not in screen
    finally:
        pane.close()


def _wait_count(pane: Pane, text: str, count: int, timeout: float = 20) -> str:
    """The screen once ``text`` shows ``count`` times (a second result, not the first again)."""
    deadline = time.monotonic() + timeout
    while (screen := pane.screen()).count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} never showed {count} times; screen was:\n{screen}"
        time.sleep(0.1)
    return screen


# -- \x and formats -------------------------------------------------------------------------
def test_backslash_x_toggles_records_and_auto_folds_only_when_wider(connection):
    query = "SELECT id, name FROM crm.customers WHERE id = 1;"
    text, _, _ = _run(connection, "\\x", query, "\\x", query)
    first, second = text.split("expanded display is off")
    assert "expanded display is on" in first and "-[ RECORD 1 ]" in first and "name │ Ann" in first
    assert "RECORD" not in second and "│ id     │ name    │" in second
    wide = [("x" * 50, "y" * 50)]
    assert output.table(["a", "b"], ["VARCHAR", "VARCHAR"], wide, width=60, expand="auto").startswith("-[ RECORD 1 ]")
    assert output.table(["a", "b"], ["VARCHAR", "VARCHAR"], wide, width=60, expand="off").startswith("┌")
    assert output.table(["a"], ["VARCHAR"], [("x",)], width=60, expand="auto").startswith("┌")
    assert _run(connection, "\\x auto")[0].strip() == "expanded display is auto"


def test_bad_expanded_and_pset_values_are_one_line_errors_naming_them(connection):
    _, err, _ = _run(connection, "\\x sideways", "\\pset format xml", "\\pset colour red", "\\pset null 'a' 'b'",
                     "\\format yaml")
    assert err.splitlines() == [
        "ERROR: \\x: expanded must be on, off or auto, not 'sideways'",
        f"ERROR: \\pset format: unknown format 'xml'; choose one of {', '.join(output.FORMATS)}",
        "ERROR: \\pset: unknown option 'colour'; known: format, null, expanded",
        "ERROR: \\pset null: one value, not 2 (quote a value with spaces)",
        f"ERROR: \\format: unknown format 'yaml'; choose one of {', '.join(output.FORMATS)}",
    ]


QUERY = "SELECT id, name FROM crm.customers ORDER BY id;"


def test_tsv_escapes_tabs_newlines_and_backslashes_and_matches_the_streamed_text(connection):
    text, err, _ = _run(connection, "\\pset format tsv", QUERY)
    assert err == ""
    lines = text.splitlines()
    assert lines[0] == "format is tsv" and lines[1] == "id\tname"
    assert lines[2:] == ["1\tAnn", "2\t", "3\ttab\\there", "4\tnew\\nline", "5\tback\\\\slash", "6\t😀 smile", "7\t漢字"]
    rows = fedq_rows(connection, QUERY)
    assert output.as_tsv(["id", "name"], rows).splitlines() == lines[1:]  # Python (replies) and DuckDB agree
    streamed, _, _ = _run(connection, QUERY, settings=Settings(format="tsv", row_limit=2))
    assert streamed.splitlines() == lines[1:]


def fedq_rows(connection, sql: str) -> list[tuple]:
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def test_jsonl_is_one_object_per_line(connection):
    text, _, _ = _run(connection, QUERY, settings=Settings(format="jsonl"))
    records = [json.loads(line) for line in text.splitlines()]
    assert records == [{"id": i, "name": n} for i, n in fedq_rows(connection, QUERY)]


def test_html_escapes_and_keeps_one_table_when_streamed(connection):
    text, _, _ = _run(connection, "\\pset null (none)", "\\pset format html", QUERY)
    body = text[text.index("<table>"):]
    assert body.count("<table>") == 1 and body.rstrip().endswith("</table>")
    assert "<tr><th>id</th><th>name</th></tr>" in body
    assert '<tr><td align="right">2</td><td>(none)</td></tr>' in body
    streamed, _, _ = _run(connection, QUERY, settings=Settings(format="html", row_limit=2, null="(none)"))
    assert streamed.strip() == body.strip()
    assert output.as_html(["a"], ["VARCHAR"], [("<b>&</b>",)]).splitlines()[2] == "  <tr><td>&lt;b&gt;&amp;&lt;/b&gt;</td></tr>"


def test_vertical_numbers_records_on_across_streamed_blocks(connection):
    sql = "SELECT i, i * 2 AS twice FROM range(2500) t(i) ORDER BY i;"
    text, _, _ = _run(connection, sql, settings=Settings(format="vertical", row_limit=10))
    assert text.count("-[ RECORD ") == 2500
    assert text.count("-[ RECORD 1001 ]") == 1 and "-[ RECORD 2500 ]" in text
    record = text[text.index("-[ RECORD 1001 ]"):].splitlines()[:3]
    assert record[1:] == ["i     │ 1000", "twice │ 2000"]


def test_pset_null_changes_display_formats_only(connection):
    sql = "SELECT name FROM crm.customers WHERE id = 2;"
    table, _, _ = _run(connection, "\\pset null ¤", sql)
    assert 'null display is "¤"' in table and "│ ¤       │" in table
    csv, _, _ = _run(connection, sql, settings=Settings(format="csv", null="¤"))
    assert csv.splitlines() == ["name", ""]
    shown, _, _ = _run(connection, "\\pset")
    assert "│ null     │ <null> │" in shown and "│ format   │ table  │" in shown
    kept, _, _ = _run(connection, "\\pset null ''", "\\pset null", sql)
    assert kept.splitlines()[:2] == ['null display is ""', 'null display is ""'] and "│         │" in kept


# -- \e, \i, \watch, \conninfo --------------------------------------------------------------
def _editor(tmp_path, script: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_backslash_e_edits_the_last_query_then_runs_it(connection, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDQ_EDITOR", _editor(tmp_path, 'sed -i "s/id = 1/id = 3/" "$1"'))
    history = InMemoryHistory()
    text = _session(connection, "SELECT name FROM crm.customers WHERE id = 1;" + ENTER + "\\e" + ENTER + "\\q" + ENTER,
                    history=history)
    assert "Ann" in text and "tab\\there" in text
    assert "SELECT name FROM crm.customers WHERE id = 3;" in list(history.load_history_strings())


def test_backslash_e_reports_a_failing_editor_and_runs_nothing(connection, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDQ_EDITOR", _editor(tmp_path, "exit 3"))
    text, err, _ = _run(connection, "SELECT 1 AS one;", "\\e")
    assert text.count("│ one") == 1
    assert err.strip() == f"ERROR: \\e: the editor '{os.environ['FEDQ_EDITOR']}' exited with status 3; nothing was run"


def test_backslash_e_file_edits_that_file(connection, tmp_path, monkeypatch):
    monkeypatch.setenv("FEDQ_EDITOR", _editor(tmp_path, 'echo "SELECT 6 * 7 AS answer;" > "$1"'))
    target = tmp_path / "q.sql"
    text, err, _ = _run(connection, f"\\e {target}")
    assert err == "" and "42" in text and target.read_text() == "SELECT 6 * 7 AS answer;\n"


def test_backslash_i_runs_a_file_and_nested_files(connection, tmp_path):
    inner = tmp_path / "inner file.sql"
    inner.write_text("SELECT count(*) AS n FROM crm.customers;\n")
    outer = tmp_path / "outer.sql"
    outer.write_text(f"\\format csv\nSELECT 'from outer' AS src;\n\\i '{inner}'\n")
    text, err, _ = _run(connection, f"\\i {outer}")
    assert err == ""
    assert text.splitlines() == ["format is csv", "src", "from outer", "n", "7"]


def test_backslash_i_errors_name_the_file(connection, tmp_path):
    loop = tmp_path / "loop.sql"
    loop.write_text(f"\\i {loop}\n")
    _, err, _ = _run(connection, f"\\i {tmp_path / 'missing.sql'}", "\\i", f"\\i {loop}")
    lines = err.splitlines()
    assert lines[0] == f"ERROR: \\i: cannot read file '{tmp_path / 'missing.sql'}': No such file or directory"
    assert lines[1] == "ERROR: usage: \\i FILE (one file; quote a name with spaces)"
    assert lines[2:] == ["ERROR: \\i: files include each other more than 16 deep; stopped"]


def test_watch_repeats_the_last_query(connection, tmp_path):
    counter = tmp_path / "counter.sqlite"
    with sqlite3.connect(counter) as con:
        con.execute("CREATE TABLE t (v INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
    connection.attach("c", "sqlite", path=str(counter))
    started = time.monotonic()
    text, err, _ = _run(connection, "SELECT sum(v) AS total FROM c.t;", "\\watch 0.2 count=3")
    assert err == "" and time.monotonic() - started >= 0.4
    assert len(re.findall(r"\(every 0\.2 s\)", text)) == 3
    assert text.count("│ total ") == 4


def test_watch_errors(connection):
    _, err, _ = _run(connection, "\\watch")
    assert err.strip() == "ERROR: \\watch: no query to repeat yet; run one first"
    _, err, _ = _run(connection, "SELECT 1;", "\\watch soon", "\\watch 0", "\\watch 1 count=x")
    assert err.splitlines() == ["ERROR: \\watch: the interval must be a number of seconds above 0, not 'soon'",
                                "ERROR: \\watch: the interval must be a number of seconds above 0, not '0'",
                                "ERROR: \\watch: count must be a whole number above 0, not 'x'"]


@tmux
def test_watch_stops_on_ctrl_c_in_a_real_terminal(tmp_path):
    pane = Pane(f"{FEDQ}", {"FEDQ_HISTORY": str(tmp_path / "history"), "TERM": "xterm-256color", "FEDQ_HOME": str(tmp_path / "home")})
    try:
        pane.wait_for("fedq>")
        pane.type("SELECT 'tick' AS t;")
        pane.press("Enter")
        pane.wait_for("(1 row")
        pane.type("\\watch 0.3")
        pane.press("Enter")
        _wait_count(pane, "(every 0.3 s)", 3)
        pane.press("C-c")
        time.sleep(0.5)
        pane.type("SELECT 'after' || 'watch' AS done;")  # not a number: the titles' clock could show it
        pane.press("Enter")
        screen = pane.wait_for("afterwatch")
        assert "Traceback" not in screen
        time.sleep(1)
        assert pane.screen() == screen, "the watch did not stop"
    finally:
        pane.close()


def test_conninfo_names_the_catalog_and_sources_without_secrets(crm, tmp_path, pg_dsn):
    parts = urlsplit(pg_dsn)
    user, host = parts.netloc.rsplit("@", 1)
    with_password = urlunsplit(parts._replace(netloc=f"{user.split(':')[0]}:s3cretpw@{host}"))  # trust: any password
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[sources.crm]\ntype = "sqlite"\npath = "{crm}"\n\n[sources.pg]\ntype = "postgres"\n'
                       f'dsn = "{with_password}"\n')
    with fedq.connect(catalog, home=False) as con:
        text, err, _ = _run(con, "\\conninfo", settings=Settings(catalog_file=str(catalog)))
    assert err == "" and "s3cretpw" not in text
    assert f"│ catalog file │ {catalog.resolve()}" in text
    assert "│ home catalog │ off" in text
    assert f"│ source crm   │ sqlite {crm}" in text and "│ source pg    │ postgres " in text


def test_help_lists_every_command(connection):
    text, _, _ = _run(connection, "\\?")
    for name, (_, usage, _) in COMMANDS.items():
        assert usage in text, f"{name} is missing from \\?"
    assert text == _run(connection, "\\help")[0]


# -- the command line -----------------------------------------------------------------------
def _fedq(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FEDQ_HOME": str(cwd or "/nonexistent-fedq-home")}
    return subprocess.run([sys.executable, "-m", "fedq.repl.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env, check=False)


def test_dash_f_runs_a_file_in_order_with_dash_c(tmp_path):
    script = tmp_path / "script.sql"
    script.write_text("SELECT 'file' AS src;\n-- a comment\nSELECT 2 AS n;\n")
    result = _fedq("--format", "csv", "-c", "SELECT 'first' AS src", "-f", str(script), "-c", "SELECT 'last' AS src",
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["src", "first", "src", "file", "n", "2", "src", "last"]


def test_dash_f_missing_file_is_one_line_and_status_1(tmp_path):
    result = _fedq("-f", str(tmp_path / "nope.sql"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"ERROR: -f: cannot read file '{tmp_path / 'nope.sql'}': No such file or directory"


def test_help_lists_the_subcommands(tmp_path):
    result = _fedq("--help", cwd=tmp_path)
    assert result.returncode == 0
    for line in ("fedq serve [CATALOG]", "fedq catalog export", "fedq demo", "fedq bench [ARGS]", "-f FILE, --file FILE"):
        assert line in result.stdout
    assert re.search(r"^  --format \{", result.stdout, re.MULTILINE), "--format keeps its long form only"


# -- input and widths -----------------------------------------------------------------------
def test_soft_wrapped_lines_get_no_continuation_prompt():
    assert continuation(6, 1, 0) == "    -> "[-6:]
    assert continuation(6, 0, 1) == "      "
    assert continuation(6, 2, 3) == "      "


@tmux
def test_long_input_soft_wraps_without_a_false_continuation_prompt(tmp_path):
    pane = Pane(f"{FEDQ}", {"FEDQ_HISTORY": str(tmp_path / "history"), "TERM": "xterm-256color", "FEDQ_HOME": str(tmp_path / "home")})
    try:
        pane.wait_for("fedq>")
        pane.type("SELECT " + ", ".join(f"{i} AS column_number_{i}" for i in range(12)))  # ~250 columns, one line
        time.sleep(0.5)
        screen = pane.screen()
        assert "column_number_11" in screen and "->" not in screen, screen
        pane.press("Enter")  # no ';': a new line of the statement
        time.sleep(0.3)
        assert "   ->" in pane.screen().splitlines(), pane.screen()  # (tmux drops the trailing blank)
        pane.press("C-c")
    finally:
        pane.close()


@tmux
def test_auto_expanded_follows_the_terminal_width(tmp_path):
    pane = Pane(f"{FEDQ}", {"FEDQ_HISTORY": str(tmp_path / "history"), "TERM": "xterm-256color", "FEDQ_HOME": str(tmp_path / "home")})
    try:
        pane.wait_for("fedq>")
        pane.type("\\x auto")
        pane.press("Enter")
        pane.wait_for("expanded display is auto")
        pane.type("SELECT repeat('a', 100) AS wide_a, repeat('b', 100) AS wide_b;")  # wider than the 160-column pane
        pane.press("Enter")
        pane.wait_for("-[ RECORD 1 ]")
        pane.type("SELECT 'narrow' AS n;")
        pane.press("Enter")
        screen = pane.wait_for("│ narrow  │")
        assert screen.count("-[ RECORD") == 1
    finally:
        pane.close()


def test_wide_characters_line_up(connection):
    text, _, _ = _run(connection, "SELECT id, name FROM crm.customers WHERE id IN (1, 6, 7) ORDER BY id;")
    lines = [line for line in text.splitlines() if line.startswith(("│", "┌", "├", "└"))]
    assert any("😀" in line for line in lines) and any("漢字" in line for line in lines)
    assert len({wcswidth(line) for line in lines}) == 1, "\n".join(lines)


@pytest.mark.parametrize("expression", ["1 + 1", "count(*)", "upper(name)", "max(id) - min(id)", "name || '!'",
                                        "coalesce(name, 'none')", "length(name)", "CAST(id AS VARCHAR)",
                                        "substr(name, 1, 1)", "string_agg(name, ',')", "id::varchar", "sum(id) + 0"])
def test_result_columns_are_named_as_duckdb_names_them(connection, crm, expression):
    local = duckdb.connect()
    rows = fedq_rows(connection, "SELECT id, name FROM crm.customers")
    local.execute("CREATE TABLE customers (id BIGINT, name VARCHAR)")
    local.executemany("INSERT INTO customers VALUES (?, ?)", rows)
    grouped = " GROUP BY name" if expression in ("name || '!'", "upper(name)", "coalesce(name, 'none')", "length(name)",
                                                 "substr(name, 1, 1)") else ""
    grouped = " GROUP BY id, name" if expression == "CAST(id AS VARCHAR)" else grouped
    expected = local.execute(f"SELECT {expression} FROM customers{grouped}").description[0][0]
    cursor = connection.cursor()
    cursor.execute(f"SELECT {expression} FROM crm.customers{grouped}")
    assert cursor.description[0][0] == expected
    text, _, _ = _run(connection, f"SELECT {expression} FROM crm.customers{grouped} LIMIT 1;")
    assert f"│ {expected}" in text


# -- progress -------------------------------------------------------------------------------
PROGRESS_SCHEMA = "fedq_h3_progress"


@pytest.fixture
def analyzed_pg_table(request, pg_admin_dsn, pg_dsn):
    """A PostgreSQL table of 200,000 rows with fresh statistics (pg_class.reltuples)."""
    import adbc_driver_postgresql.dbapi as pgdb

    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, PROGRESS_SCHEMA))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {PROGRESS_SCHEMA} CASCADE")
        cur.execute(f"CREATE SCHEMA {PROGRESS_SCHEMA}")
        cur.execute(f"CREATE TABLE {PROGRESS_SCHEMA}.big AS SELECT i AS id FROM generate_series(1, 200000) i")
        cur.execute(f"ANALYZE {PROGRESS_SCHEMA}.big")
        cur.execute(f"GRANT USAGE ON SCHEMA {PROGRESS_SCHEMA} TO {urlsplit(pg_dsn).username}")
        cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {PROGRESS_SCHEMA} TO {urlsplit(pg_dsn).username}")
    return f"pg.{PROGRESS_SCHEMA}.big"


PROGRESS_QUERY = "SELECT count(*) AS n FROM {table} b JOIN crm.customers c ON b.id % 7 = c.id"


def test_progress_shows_percent_of_a_whole_table_scan_with_statistics(connection, analyzed_pg_table, pg_dsn):
    connection.attach("pg", "postgres", dsn=pg_dsn)
    sql = PROGRESS_QUERY.format(table=analyzed_pg_table)
    cursor = connection.cursor()
    cursor.execute(sql)
    assert cursor.fetchall() == [(sum(1 for i in range(1, 200001) if 1 <= i % 7 <= 7),)]
    plan = cursor.plan
    totals = scan_totals(connection.catalog, plan)
    views = {f.source.name: f.view for f in plan.fragments}
    assert totals == {views["pg"]: 200000, views["crm"]: 7}  # both read whole: reltuples, and SQLite's count
    lines = progress_lines(plan, 2.0, totals)
    assert sum("100% of ~200,000" in line for line in lines) == 1 and sum("100% of ~7" in line for line in lines) == 1, lines
    halfway = next(f for f in plan.fragments if f.source.name == "pg")
    halfway.stats.rows = 50_000
    assert any(line.endswith("  25% of ~200,000, ~6 s left") for line in progress_lines(plan, 2.0, totals))
    filtered = connection.plan(f"SELECT count(*) FROM {analyzed_pg_table} WHERE id < 10")
    assert scan_totals(connection.catalog, filtered) == {}, "a filtered scan has no known total"


@tmux
def test_progress_percent_in_a_real_terminal(crm, tmp_path, analyzed_pg_table, pg_dsn):
    with FaultProxy(urlsplit(pg_dsn).port or 5432) as proxy:
        parts = urlsplit(pg_dsn)
        proxied = urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{proxy.port}"))
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(f'[sources.crm]\ntype = "sqlite"\npath = "{crm}"\n\n[sources.pg]\ntype = "postgres"\n'
                           f'dsn = "{proxied}"\n')
        pane = Pane(f"{FEDQ} {catalog}", {"FEDQ_HISTORY": str(tmp_path / "history"), "TERM": "xterm-256color",
                                          "FEDQ_HOME": str(tmp_path / "home")})
        try:
            pane.wait_for("fedq>")
            proxy.set("latency", delay=0.05)  # about 0.05 s per 16 KB from PostgreSQL: the scan takes seconds
            pane.type(PROGRESS_QUERY.format(table=analyzed_pg_table) + ";")
            pane.press("Enter")
            screen = pane.wait_for("% of ~200,000", timeout=30)
            line = next(line for line in screen.splitlines() if "% of ~200,000" in line)
            assert re.search(r"pg +scan +[\d,]+ rows +[\d.]+ s +\d+% of ~200,000(, ~\d+ s left)?$", line.rstrip()), line
            pane.press("C-c")
            pane.wait_for("ERROR: query cancelled", timeout=15)
        finally:
            pane.close()


def test_conninfo_from_the_command_line_names_the_catalog_file(crm, tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[sources.crm]\ntype = "sqlite"\npath = "{crm}"\n')
    result = _fedq(str(catalog), "--format", "csv", "-c", "\\conninfo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"catalog file,{catalog.resolve()}" in result.stdout.splitlines()
    assert f"source crm,sqlite {crm}" in result.stdout.splitlines()


@pytest.mark.parametrize(("name", "expected"), [("out.tsv", "a\tb\n1\tx y\n"),
                                                ("out.html", "<table>\n  <tr><th>a</th><th>b</th></tr>\n"
                                                             '  <tr><td align="right">1</td><td>x y</td></tr>\n</table>\n')])
def test_dash_o_takes_tsv_and_html_from_the_extension(tmp_path, name, expected):
    result = _fedq("-c", "SELECT 1 AS a, 'x y' AS b", "-o", str(tmp_path / name), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_text() == expected


def test_auto_expanded_decides_once_for_a_streamed_result(connection):
    """The first block is wide, later ones are narrow: every record is numbered in one sequence."""
    sql = "SELECT i, CASE WHEN i < 10 THEN repeat('w', 11000) ELSE 'n' END AS text FROM range(2500) t(i) ORDER BY i;"
    text, _, _ = _run(connection, sql, settings=Settings(row_limit=10))
    assert text.count("-[ RECORD ") == 2500 and "-[ RECORD 2500 ]" in text and "┌" not in text
