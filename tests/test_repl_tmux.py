"""What a person sees: the real ``fedq`` command in a tmux pane, driven with send-keys.

Checks completion of a column name and that Ctrl-C cancels a slow query — at the source too —
and returns to the prompt."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import adbc_driver_postgresql.dbapi as pgdb
import pytest

from cleanup import drop_pg_schemas

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
FEDQ = str(Path(sys.executable).parent / "fedq")


class Pane:
    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.name = f"fedq-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "45", f"env {exports} {command}"], check=True)

    def type(self, text: str) -> None:
        """Type ``text`` literally (tmux would read a trailing ';' as a command separator)."""
        if text.endswith(";"):
            text = text[:-1] + "\\;"
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def press(self, key: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def catalog(request, tmp_path, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_repl"))
    with sqlite3.connect(tmp_path / "crm.sqlite") as con:
        con.execute("CREATE TABLE customers (id INTEGER, customer_name TEXT)")
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, "Bob")])
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_repl CASCADE")
        cur.execute("CREATE SCHEMA fedq_repl")
        cur.execute("CREATE TABLE fedq_repl.big AS SELECT i AS id FROM generate_series(1, 200000) i")
    path = tmp_path / "catalog.toml"
    path.write_text(f'[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n\n[sources.pg]\ntype = "postgres"\ndsn = "{pg_dsn}"\n')
    return path


def _active_fedq_queries(dsn: str) -> list[str]:
    with pgdb.connect(dsn) as con, con.cursor() as cur:
        cur.execute("SELECT query FROM pg_stat_activity WHERE application_name = 'fedq' AND state = 'active'")
        return [row[0] for row in cur.fetchall()]


def test_completion_and_ctrl_c_in_a_real_terminal(catalog, tmp_path, pg_dsn):
    pane = Pane(f"{FEDQ} {catalog}", {"FEDQ_HISTORY": str(tmp_path / "history"), "TERM": "xterm-256color"})
    try:
        pane.wait_for("fedq>")
        pane.type("SELECT * FROM crm.customers WHERE customer_na")
        time.sleep(1.0)  # the background metadata refresh fills the completer
        pane.press("Tab")
        pane.wait_for("WHERE customer_name")
        pane.type(" = 'Ann';")
        pane.press("Enter")
        screen = pane.wait_for("(1 row")
        assert "│  1 │ Ann" in screen.replace("│      1", "│  1") or "Ann" in screen

        pane.type("SELECT count(*) FROM pg.fedq_repl.big a, pg.fedq_repl.big b WHERE a.id < b.id;")
        pane.press("Enter")
        pane.wait_for("rows", timeout=10)  # the live progress line appears after about a second
        assert _active_fedq_queries(pg_dsn), "the slow query should be running at PostgreSQL"
        pane.press("C-c")
        pane.wait_for("ERROR: query cancelled", timeout=15)
        deadline = time.monotonic() + 10
        while _active_fedq_queries(pg_dsn) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _active_fedq_queries(pg_dsn) == []

        pane.type("SELECT 40 + 2 AS answer;")
        pane.press("Enter")
        pane.wait_for("42")
        pane.type("\\q")
        pane.press("Enter")
        deadline = time.monotonic() + 10
        while subprocess.run(["tmux", "has-session", "-t", pane.name], capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "fedq did not exit on \\q"
            time.sleep(0.1)
    finally:
        pane.close()


@pytest.fixture
def demo_schema_dropped():
    """`fedq demo` loads its schema into the default PostgreSQL when that answers: drop it afterwards."""
    import adbc_driver_manager

    from fedq.repl.demo import DEFAULT_POSTGRES_DSN, PG_SCHEMA

    yield
    try:
        drop_pg_schemas(DEFAULT_POSTGRES_DSN, PG_SCHEMA)
    except adbc_driver_manager.OperationalError:
        pass  # PostgreSQL not reachable: the demo loaded nothing there


def test_fedq_demo_opens_the_repl_and_its_banner_queries_return_rows(tmp_path, demo_schema_dropped):
    from fedq.repl.demo import BANNER_QUERIES

    pane = Pane(f"{FEDQ} demo", {"FEDQ_DEMO_DIR": str(tmp_path / "demo"), "FEDQ_HISTORY": str(tmp_path / "history"),
                                 "TERM": "xterm-256color", "PAGER": "cat"})
    try:
        pane.wait_for("Type \\help for commands.", timeout=60)
        pane.wait_for("fedq>")
        title, sql = BANNER_QUERIES[0]
        pane.type(" ".join(sql.split()) + ";")
        pane.press("Enter")
        screen = pane.wait_for(" rows, ", timeout=30)
        assert "country" in screen and "ERROR" not in screen
    finally:
        pane.close()
