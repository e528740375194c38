"""The fedq console script, run as a real subprocess."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import fedq


def _fedq(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedq.repl.cli", *args], capture_output=True, text=True, timeout=60)


def test_version():
    result = _fedq("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fedq {fedq.__version__}"


def test_one_shot_query_over_a_catalog_prints_csv(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as con:
        con.execute("CREATE TABLE t (id INTEGER, name TEXT)")
        con.executemany("INSERT INTO t VALUES (?, ?)", [(1, "Ann"), (2, "Émile")])
    (tmp_path / "catalog.toml").write_text('[sources.crm]\ntype = "sqlite"\npath = "crm.sqlite"\n')
    result = _fedq(str(tmp_path / "catalog.toml"), "--format", "csv", "-c", "SELECT name FROM crm.t WHERE id > 0 ORDER BY id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["name", "Ann", "Émile"]


def test_errors_exit_non_zero_without_a_traceback():
    result = _fedq("-c", "SELECT * FROM nowhere.t")
    assert result.returncode == 1
    assert result.stderr.strip() == "ERROR: unknown source 'nowhere'"
