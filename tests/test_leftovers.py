"""The session check of tests/conftest.py: a run that leaves a schema on the shared PostgreSQL fails
under CI=true and warns locally (issue 14, item 8). It runs a real pytest in a subprocess with the
suite's conftest as a plugin, on a test that creates a schema and forgets it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cleanup import drop_pg_schemas

TESTS = Path(__file__).parent
LEAK = '''
import adbc_driver_postgresql.dbapi as pg


def test_forgets_its_schema(pg_admin_dsn):
    with pg.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA {schema}")
'''


def _run(folder: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q",
                           str(folder / "test_leak.py")], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_a_schema_left_behind_fails_the_run_under_ci_and_warns_locally(tmp_path, pg_admin_dsn):
    schema = f"fedq_leak_{os.getpid()}"
    (tmp_path / "test_leak.py").write_text(LEAK.format(schema=schema))
    try:
        for ci, status, word in (("true", 1, "ERROR"), ("false", 0, "WARNING")):
            drop_pg_schemas(pg_admin_dsn, schema)
            run = _run(tmp_path, ci)
            assert run.returncode == status, run.stdout + run.stderr
            assert "1 passed" in run.stdout
            assert f"{word}: the tests left" in run.stdout and f"PostgreSQL: schema {schema}" in run.stdout, run.stdout
    finally:
        drop_pg_schemas(pg_admin_dsn, schema)
