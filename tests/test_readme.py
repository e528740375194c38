"""The README's examples run as written (against the real PostgreSQL)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cleanup import drop_pg_schemas

ROOT = Path(__file__).resolve().parent.parent


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_readme_python_examples_run(request, pg_admin_dsn, monkeypatch, capsys):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_example"))  # examples/make_data.py's schema
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_data.py"), pg_admin_dsn], check=True, capture_output=True)
    monkeypatch.chdir(ROOT)
    blocks = _python_blocks()
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "['name', 'orders', 'revenue', 'units']" in out
    assert "[('Ann', 10, Decimal('650.00'), Decimal('11'))" in out
    assert 'WHERE "ordered_on" >= CAST($1 AS DATE)' in out
    assert "[(1,)]" in out
    assert "['returns', 'sales'] True" in out  # the SQLAlchemy example


def test_readme_catalog_matches_the_example_file():
    readme = (ROOT / "README.md").read_text()
    toml = re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)[0]
    example = (ROOT / "examples" / "catalog.toml").read_text()
    strip = lambda text: [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]  # noqa: E731
    assert strip(toml) == strip(example)
