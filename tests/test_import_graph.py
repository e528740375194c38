"""Layering of the installed fedq packages (issue 17 item 5), read with ast from the files Python would
import (editable or not): no import cycle between packages, and fedq.errors imports no fedq module.

Imports are counted wherever they are written: at module level, inside functions, under TYPE_CHECKING.
An import inside a function does not make a dependency go away, so it cannot hide a cycle either.
"""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ("fedq.engine", "fedq.catalog", "fedq.sources", "fedq.repl", "fedq.server")
CORE = "fedq"  # the public API: connect, dbapi, alchemy, result_types (fedq.errors is checked on its own)
ERRORS = "fedq.errors"

# Imports that close a cycle between packages and that this change could not remove, as
# (importing file, imported module) -> why it is still there. Each entry must still exist: fix one, remove it.
# catalog <-> sources: fedq.catalog.catalog builds sources through the registry (fedq.sources.source_class);
# these sources read catalog's value modules. Breaking it moves types/statistics next to the sources, an
# edit in source modules owned by other work (issue 17 item 3: each source owns its type mapping).
# engine <-> sources: the planner drives sources, and these sources reach back into engine/ for the
# central capability table, SQL rendering and the sandbox (issue 17 item 3 moves dialect rules into the sources).
KNOWN_CYCLES: dict[tuple[str, str], str] = {
    ("sources/base.py", "fedq.catalog.statistics"): "Source.statistics returns TableStatistics (catalog <-> sources)",
    ("sources/files.py", "fedq.catalog.statistics"): "Parquet footer statistics (catalog <-> sources)",
    ("sources/mysql.py", "fedq.catalog.statistics"): "ANALYZE through information_schema (catalog <-> sources)",
    ("sources/postgres.py", "fedq.catalog.statistics"): "ANALYZE through pg_stats (catalog <-> sources)",
    ("sources/sqlite.py", "fedq.catalog.statistics"): "ANALYZE by scanning (catalog <-> sources)",
    ("sources/postgres.py", "fedq.catalog.types"): "postgres_to_arrow lives in catalog/types.py (catalog <-> sources)",
    ("sources/sqlite.py", "fedq.catalog.types"): "sqlite_to_arrow lives in catalog/types.py (catalog <-> sources)",
    ("sources/rest.py", "fedq.catalog.types"): "arrow_to_duckdb for JSON schemas (catalog <-> sources)",
    ("sources/information_schema.py", "fedq.catalog.types"): "arrow_to_duckdb for data_type (catalog <-> sources)",
    ("sources/information_schema.py", "fedq.catalog.views"): "lists views as VIEWS_SOURCE (catalog <-> sources)",
    ("sources/postgres.py", "fedq.catalog.conninfo"): "libpq conninfo parsing (catalog <-> sources)",
    ("sources/base.py", "fedq.engine.sqlgen"): "SQLSource.render / render_scan (engine <-> sources)",
    ("sources/mysql.py", "fedq.engine.sqlgen"): "MySQL rendering on top of sqlgen (engine <-> sources)",
    ("sources/mysql.py", "fedq.engine.capabilities"): "central CAPABILITIES table (engine <-> sources)",
    ("sources/postgres.py", "fedq.engine.capabilities"): "why_not_pushable (engine <-> sources)",
    ("sources/sqlite.py", "fedq.engine.capabilities"): "why_not_pushable (engine <-> sources)",
    ("sources/duckdb_file.py", "fedq.engine.capabilities"): "why_not_pushable (engine <-> sources)",
    ("sources/duckdb_file.py", "fedq.engine.sandbox"): "the file is opened in a sandboxed DuckDB (engine <-> sources)",
    ("sources/files.py", "fedq.engine.sandbox"): "files are read by a sandboxed DuckDB (engine <-> sources)",
    ("sources/information_schema.py", "fedq.engine.introspection"): "tables listed as SHOW TABLES does (engine <-> sources)",
}


def _package_files() -> dict[str, Path]:
    """Module name -> file, for every module of fedq and its packages, where the interpreter finds them."""
    files: dict[str, Path] = {}
    for package in (CORE, *PACKAGES):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
        for file in Path(next(iter(spec.submodule_search_locations))).glob("*.py"):
            files[package if file.stem == "__init__" else f"{package}.{file.stem}"] = file
    return files


def _label(file: Path) -> str:
    """'sources/base.py': the file as the repository names it (folder of the package, file name)."""
    folders = {"fedq.engine": "engine", "fedq.catalog": "catalog", "fedq.sources": "sources",
               "fedq.repl": "repl", "fedq.server": "server"}
    for module, path in _package_files().items():
        if path == file:
            package = next((p for p in PACKAGES if module == p or module.startswith(p + ".")), CORE)
            return f"{folders.get(package, 'fedq')}/{file.name}"
    raise AssertionError(file)


def _imports(file: Path, modules: set[str] = frozenset()) -> set[str]:
    """Every fedq module ``file`` imports, anywhere in it. ``from fedq.catalog import conninfo`` counts as
    fedq.catalog.conninfo when that is one of ``modules``, else as fedq.catalog (a name from its module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{file}: relative import (fedq uses absolute ones)"
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                      for a in node.names}
    return {name for name in found if name == "fedq" or name.startswith("fedq.")}


def _package(module: str) -> str:
    if module == ERRORS:
        return ERRORS
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), CORE)


def _edges() -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(package, package) -> the (file, module) imports behind that dependency."""
    files = _package_files()
    modules = set(files)
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for module, file in files.items():
        label = _label(file)
        for imported in _imports(file, modules):
            a, b = _package(module), _package(imported)
            if a != b:
                edges[(a, b)].add((label, imported))
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return path[path.index(successor):] + [successor]
            if successor not in state and (found := visit(successor)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_between_packages():
    edges = _edges()
    graph: dict[str, set[str]] = defaultdict(set)
    for (a, b), imports in edges.items():
        if imports - set(KNOWN_CYCLES):
            graph[a].add(b)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle) + "; imports: " + "; ".join(
        f"{file} imports {module}" for a, b in zip(cycle, cycle[1:]) for file, module in sorted(edges[(a, b)] - set(KNOWN_CYCLES)))


def test_known_cycles_still_exist():
    """A cycle someone removed leaves the allow-list too, so it cannot come back unnoticed."""
    present = set().union(*_edges().values())
    assert sorted(set(KNOWN_CYCLES) - present) == []


def test_known_cycles_really_are_cycles():
    """Each allowed import points against a dependency that exists the other way (else it needs no entry)."""
    edges = _edges()
    for file, module in KNOWN_CYCLES:
        (a, b), = [pair for pair, imports in edges.items() if (file, module) in imports]
        assert edges.get((b, a)), f"{file} -> {module}: no import back from {b} to {a}"


def test_errors_imports_no_fedq_module():
    assert _imports(_package_files()[ERRORS]) == set()


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_errors_alone_loads_no_other_fedq_module():
    """Every package imports fedq.errors, and so fedq/__init__.py first: it loads the DB-API lazily."""
    loaded = _run("import sys, fedq.errors; print(sorted(m for m in sys.modules if m.startswith('fedq')))")
    assert loaded.strip() == "['fedq', 'fedq._version', 'fedq.errors']"


def test_each_module_imports_first():
    """Any fedq module can be the first one imported (an import cycle between modules fails here):
    each is imported with no fedq module loaded before it."""
    modules = sorted(_package_files())
    failed = _run(f"""
import importlib, sys
failed = []
for module in {modules!r}:
    for name in [n for n in sys.modules if n == "fedq" or n.startswith("fedq.")]:
        del sys.modules[name]
    try:
        importlib.import_module(module)
    except Exception as error:
        failed.append(f"{{module}}: {{type(error).__name__}}: {{error}}")
print("\\n".join(failed))
""")
    assert failed.strip() == ""


def test_the_graph_sees_in_function_imports(tmp_path):
    """The reader counts an import written inside a function, as one written at the top."""
    file = tmp_path / "m.py"
    file.write_text("import os\n\ndef f():\n    from fedq.engine.sqlgen import render\n    return render\n")
    assert _imports(file, {"fedq.engine.sqlgen"}) == {"fedq.engine.sqlgen"}


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
