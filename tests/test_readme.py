"""The README runs in order, as written (issue 16 item 5).

Every fenced block is run, in the order it appears, by what its language says:

* ``sh``: each command line (``.venv/bin/python`` is this interpreter, ``fedq`` the installed command)
  must exit 0;
* ``python``: the block runs; a ``print(...)`` followed by a ``# value`` comment (on its line or the
  next) must print that value (a trailing ``...`` means "starts with");
* ``sql``: each statement runs through fedq on examples/catalog.toml;
* ``toml``: the catalog (and its ``[server]`` section) loads and every source attaches;
* ``text`` starting with ``fedq> COMMAND``: the REPL, given COMMAND, prints the rest of the block.

A block that cannot run here says why in the comment line before it,
``<!-- readme-test: skip: REASON -->``, and the reason must name where it is covered instead.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import fedq
from cleanup import drop_pg_schemas
from fedq.catalog.config import load_server_settings
from fedq.server import ServerSettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CATALOG = ROOT / "examples" / "catalog.toml"
FENCE = re.compile(r"(?:<!-- readme-test: (?P<marker>.*?) -->\n)?```(?P<language>\w+)\n(?P<body>.*?)```", re.DOTALL)


@dataclass
class Block:
    language: str
    body: str
    line: int  # where the block starts in README.md
    marker: str | None

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.language})"


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text()
    return [Block(m["language"], m["body"], text.count("\n", 0, m.start("body")), m["marker"]) for m in FENCE.finditer(text)]


# -- runners --------------------------------------------------------------------------------------------
def _env(tmp: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "FEDQ_HOME": str(tmp / "home"),
            "COLUMNS": "80"}  # the plan sample is wrapped at 80 columns


def run_sh(block: Block, tmp: Path) -> None:
    for line in block.body.splitlines():
        command = re.split(r"\s{2,}#", line)[0].strip()
        if not command:
            continue
        command = re.sub(r"^\.venv/bin/python\b", sys.executable, command)
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=_env(tmp), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{block}: {command!r} exited {done.returncode}: {done.stderr[-2000:]}"


def _expected_outputs(source: str) -> dict[int, str]:
    """print statement line -> the value its comment says it prints."""
    lines = source.splitlines()
    expected: dict[int, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"):
            continue
        tail = lines[node.end_lineno - 1][node.end_col_offset:].strip()
        following = lines[node.end_lineno].strip() if node.end_lineno < len(lines) else ""
        comment = tail if tail.startswith("#") else following if following.startswith("#") else ""
        if comment:
            expected[node.lineno] = comment.lstrip("#").strip()
    return expected


class _Prints(ast.NodeTransformer):
    """``print(a, b)`` on line n -> ``__check__(n, a, b)``."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            call.func = ast.Name("__check__", ast.Load())
            call.args.insert(0, ast.Constant(node.lineno))
        return node


def _matches(printed: str, expected: str) -> bool:
    """Equal, or for ``[a, ...]`` the same start and end."""
    if "..." in expected:
        head, tail = expected.split("...", 1)
        return printed.startswith(head.rstrip().rstrip(",")) and printed.endswith(tail)
    return printed == expected


def run_python(block: Block, tmp: Path) -> None:
    expected = _expected_outputs(block.body)
    checked: list[int] = []

    def check(line: int, *values: object) -> None:
        printed = " ".join(str(v) for v in values)
        print(printed)
        if line in expected:
            assert _matches(printed, expected[line]), f"{block}, its line {line}: printed {printed!r}, README says {expected[line]!r}"
            checked.append(line)

    tree = ast.fix_missing_locations(_Prints().visit(ast.parse(block.body)))
    os.chdir(ROOT)
    exec(compile(tree, str(block), "exec"), {"__check__": check})
    assert sorted(checked) == sorted(expected), f"{block}: the prints on lines {sorted(set(expected) - set(checked))} never ran"


def _statements(sql: str) -> list[str]:
    """Statements ended by ';' at the end of a line (a ';' inside a quoted option stays)."""
    parts = re.split(r";[ \t]*(?:--[^\n]*)?\n", sql.strip() + "\n")
    return [p.strip() for p in parts if p.strip() and not all(l.strip().startswith("--") for l in p.strip().splitlines())]


def run_sql(block: Block, tmp: Path) -> None:
    os.chdir(tmp)  # COPY … TO 'file' writes here
    with fedq.connect(str(EXAMPLE_CATALOG), home=str(tmp / "home")) as con:
        for statement in _statements(block.body):
            cursor = con.execute(statement)
            if cursor.description is not None:  # REFRESH answers with no rows
                cursor.fetchall()


def run_toml(block: Block, tmp: Path) -> None:
    path = tmp / "examples" / f"readme-{block.line}.toml"  # beside the example data: relative paths resolve as in examples/
    path.write_text(block.body)
    os.environ.setdefault("FEDQ_ALICE_PASSWORD", "readme-example")
    os.environ.setdefault("SHOP_TOKEN", "readme-example")
    ServerSettings.from_section(load_server_settings(path))
    with fedq.connect(str(path), home=False) as con:
        names = [row[0] for row in con.execute("SHOW SOURCES").fetchall()]
    assert names == re.findall(r"^\[sources\.(\w+)\]", block.body, flags=re.MULTILINE), block


def run_text(block: Block, tmp: Path) -> None:
    first, *shown = block.body.rstrip("\n").splitlines()
    assert first.startswith("fedq> "), f"{block}: a text block shows a REPL session (fedq> …) or says why it is not run"
    done = subprocess.run([sys.executable, "-m", "fedq.repl.cli", str(EXAMPLE_CATALOG)], input=first[6:] + "\n",
                          cwd=ROOT, env=_env(tmp), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    normal = lambda lines: [re.sub(r"__fedq_\d+", "__fedq_N", line.rstrip()) for line in lines if line.strip()]  # noqa: E731
    assert normal(done.stdout.splitlines()) == normal(shown), f"{block}: the REPL printed\n{done.stdout}"


RUNNERS = {"sh": run_sh, "python": run_python, "sql": run_sql, "toml": run_toml, "text": run_text}


# -- the test ----------------------------------------------------------------------------------------
def test_every_block_runs_in_order(request, pg_admin_dsn, tmp_path, monkeypatch):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_example"))  # examples/make_data.py's schema
    monkeypatch.setenv("FEDQ_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(ROOT)
    (tmp_path / "examples").mkdir()  # toml blocks are written here, beside a link to the example data
    (tmp_path / "examples" / "data").symlink_to(ROOT / "examples" / "data", target_is_directory=True)
    blocks = readme_blocks()
    fences = sum(line.startswith("```") for line in (ROOT / "README.md").read_text().splitlines())
    assert len(blocks) * 2 == fences, "a fence the runner does not see (a block without a language?)"
    ran = 0
    for block in blocks:
        if block.marker is not None:
            reason = block.marker.removeprefix("skip:").strip()
            assert block.marker.startswith("skip:") and re.search(r"tests/test_\w+\.py|not fedq", reason), \
                f"{block}: a skipped block names the test that covers it (or says it is not fedq's): {block.marker!r}"
            continue
        assert block.language in RUNNERS, f"{block}: no runner for {block.language!r}; mark it skip with a reason"
        RUNNERS[block.language](block, tmp_path)
        ran += 1
    assert ran >= 10


def test_readme_catalog_matches_the_example_file():
    toml = next(b.body for b in readme_blocks() if b.language == "toml")
    strip = lambda text: [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]  # noqa: E731
    assert strip(toml) == strip(EXAMPLE_CATALOG.read_text())


def test_a_wrong_printed_value_is_caught(tmp_path):
    """The checker itself fails on a README line that no longer prints what it says."""
    block = Block("python", textwrap.dedent("""\
        print(1 + 1)   # 3
        """), 1, None)
    with pytest.raises(AssertionError, match="README says '3'"):
        run_python(block, tmp_path)
    run_python(Block("python", "print([1, 2, 3])   # [1, 2, ...]\nprint('x')\n# x\n", 1, None), tmp_path)
    with pytest.raises(AssertionError, match="README says"):
        run_python(Block("python", "print([1, 3, 3])   # [1, 2, ...]\n", 1, None), tmp_path)
