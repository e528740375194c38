"""A DuckDB mirror of the catalog with empty tables: DuckDB's own binder checks queries before any
source is contacted, names result columns exactly as DuckDB would, and re-checks each local plan.

Validating against the mirror means a misspelt column gets DuckDB's message (with its candidate
bindings) and costs nothing remote; and because the mirror has the real types, the names and
types it reports for a pushed-down subquery are those the all-local reference query would have.
"""
from __future__ import annotations

import re
import threading
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from fedq.catalog import BoundTable
from fedq.engine.column_names import names_as_written
from fedq.engine.sandbox import sandbox_refusal, sandboxed_duckdb
from fedq.engine.literal_lists import binding_sql
from fedq.errors import ProgrammingError

def _quoted(*parts: str) -> str:
    return ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in parts)


class BindError(ProgrammingError):
    """A query DuckDB's binder refused. The text never shows the SQL fedq gave the binder (its
    rewritten table names, ``DESCRIBE``); ``target`` is the text DuckDB marked in it, so
    engine/statements.py's ``point_at`` can put the caret in the SQL the user wrote."""

    target: str | None = None


_LINE = re.compile(r"\n*(?P<line>LINE \d+: .*)\n(?P<pad> *)(?P<mark>\^+)\s*$")
SHOWN_HINTS = 4  # lines of DuckDB's advice kept after its message
_PREFIX = re.compile(r"^(?:Binder|Catalog|Parser) Error: ")
_CANDIDATES = re.compile(r"\s*Candidate bindings:(?:\s*:)?\s*(?P<names>.*)$", re.DOTALL)
_MESSAGES = (  # DuckDB's wording -> fedq's
    (re.compile(r'^Referenced column (?P<column>"[^"]*") not found in FROM clause!?$'), "unknown column {column}"),
    (re.compile(r'^Table (?P<table>"[^"]*") does not have a column named (?P<column>"[^"]*")$'),
     "table {table} has no column {column}"),
)


def friendly_duckdb_error(error: duckdb.Error) -> BindError:
    """DuckDB's binder message in fedq's words: no class prefix, no excerpt of fedq's internal SQL,
    the candidate names as ``(closest names: …)`` (DuckDB 2.0 writes ``Candidate bindings: : "name"``)."""
    text = str(error).strip()
    target = None
    line = _LINE.search(text)
    if line:  # the excerpt of fedq's SQL and DuckDB's marks under it: only the marked text is kept
        pad, mark = len(line.group("pad")), len(line.group("mark"))
        target = line.group("line")[pad:pad + mark].strip() or None
        text = text[:line.start()]
    text = _PREFIX.sub("", text).strip()
    candidates = _CANDIDATES.search(text)
    names = candidates.group("names").strip() if candidates else ""
    if candidates:
        text = text[:candidates.start()].strip()
    first, _, rest = text.partition("\n")
    for pattern, wording in _MESSAGES:
        match = pattern.match(first.strip())
        if match:
            first = wording.format(**match.groupdict())
    hints = [h.strip()[0].lower() + h.strip()[1:] for h in rest.splitlines() if h.strip()]  # "did you mean …?"
    if len(hints) > SHOWN_HINTS:  # "candidate functions:" lists every overload of "+"
        hints = [*hints[:SHOWN_HINTS], f"and {len(hints) - SHOWN_HINTS} more"]
    message = first.rstrip("!") + (f" (closest names: {names})" if names else "") + "".join(f"; {h}" for h in hints)
    bind_error = BindError(message)
    bind_error.target = target
    return bind_error


class Binder:
    """Owns the mirror database (sandboxed like the local engine); thread-safe."""

    def __init__(self, allowed_directories: tuple[str, ...] = ()) -> None:
        self._db = self._open(allowed_directories)
        self._allowed = allowed_directories
        self._known: dict[tuple[str, str, str], pa.Schema] = {}  # mirrored table -> the schema it mirrors
        self._lock = threading.Lock()

    @staticmethod
    def _open(allowed_directories: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
        return sandboxed_duckdb(config={"threads": 1}, allowed_directories=allowed_directories)

    def allow(self, directories: tuple[str, ...]) -> None:
        """Let the mirror read the local engine's native-read folders (local plans read Parquet there).

        A locked sandbox cannot be widened, so a new mirror database replaces the old one (its mirror
        tables are made again on demand); a describe still running keeps its cursor of the old one."""
        with self._lock:
            if directories == self._allowed:
                return
            self._db, self._allowed, self._known = self._open(directories), directories, {}

    def close(self) -> None:
        """Close the mirror database now: left to the garbage collector, its DuckDB threads outlive
        the connection (a served session would keep them while idle)."""
        with self._lock:
            self._db.close()

    def ensure(self, tables: list[BoundTable]) -> None:
        """Create empty mirror tables for ``tables`` (again when a table's schema has changed)."""
        with self._lock:
            for bound in tables:
                key = tuple(p.lower() for p in bound.qualified)
                if self._known.get(key) == bound.schema:
                    continue
                source, schema, name = bound.qualified
                catalogs = {r[0].lower() for r in self._db.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
                if source.lower() not in catalogs:
                    self._db.execute(f"ATTACH ':memory:' AS {_quoted(source)}")
                self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(source, schema)}")
                empty = pa.table({f.name: pa.array([], f.type) for f in bound.schema}) if len(bound.schema) else None
                if empty is None:
                    self._db.execute(f"CREATE OR REPLACE TABLE {_quoted(source, schema, name)} (__fedq_empty INTEGER)")
                else:
                    self._db.register("__fedq_mirror", empty)
                    self._db.execute(f"CREATE OR REPLACE TABLE {_quoted(source, schema, name)} AS SELECT * FROM __fedq_mirror")
                    self._db.unregister("__fedq_mirror")
                self._known[key] = bound.schema

    def forget(self, source: str) -> None:
        with self._lock:
            self._known = {k: v for k, v in self._known.items() if k[0] != source.lower()}
            try:
                self._db.execute(f"DETACH {_quoted(source)}")
            except duckdb.Error:
                pass

    def describe(self, query: exp.Expression | str, params: dict[str, Any],
                 views: dict[str, pa.Schema] | None = None) -> list[tuple[str, str]]:
        """Bind ``query`` (no rows are read) and return its output (name, DuckDB type) pairs.

        ``query`` may be DuckDB SQL text already rendered for binding (literal lists cut, see
        engine/literal_lists.binding_sql), so a caller that has the text does not render it twice.

        ``views`` registers empty stand-ins for fragment views, to check a local query.
        Raises :class:`ProgrammingError` with DuckDB's message when the query does not bind.
        """
        with self._lock:
            cursor = self._db.cursor()
        try:
            for name, schema in (views or {}).items():
                cursor.register(name, pa.table({f.name: pa.array([], f.type) for f in schema}))
            text = query if isinstance(query, str) else binding_sql(query)
            relation = cursor.execute(f"DESCRIBE {text}", params or None)
            return [(row[0], row[1]) for row in relation.fetchall()]
        except duckdb.Error as error:
            raise sandbox_refusal(error) or friendly_duckdb_error(error) from None
        finally:
            cursor.close()

    def names_as_written(self, sql: str, names: list[str]) -> list[str]:
        """``names`` with each unaliased computed output named as DuckDB names it in the text ``sql``
        (engine/column_names.py): the planner's names come from sqlglot's rendering of it."""
        with self._lock:
            cursor = self._db.cursor()
        try:
            return names_as_written(cursor, sql, names)
        finally:
            cursor.close()
