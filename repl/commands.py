"""Backslash meta commands, in one registry (pgcli's special commands).

Each handler takes the session state and its argument text and returns a :class:`Reply`; one
printer shows every reply, so commands never write to the terminal themselves.
"""
from __future__ import annotations

import contextlib
import math
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pyarrow as pa

import fedq
from fedq.engine import introspection
from fedq.errors import redact
from fedq.repl import output
from fedq.repl.plan_view import plan_tree


@dataclass
class Settings:
    """What the user can change from the prompt."""

    timing: bool = True
    format: str = "table"
    null: str = output.NULL  # \\pset null: how NULL shows in the display formats
    expanded: str = "auto"  # \\x: on, off, or auto (records when the table is wider than the terminal)
    row_limit: int = 1_000  # pgcli's: a longer result on the terminal asks before it is shown
    output: BinaryIO | None = None  # \\o FILE: results go there
    output_name: str | None = None
    catalog_file: str | None = None  # for \\conninfo: the catalog the session was opened on
    last_query: str | None = None  # the last SQL statement run, for \\e and \\watch


@dataclass
class Watch:
    """\\watch: repeat the last query every ``seconds`` (``count`` times, or until Ctrl-C when None)."""

    sql: str
    seconds: float
    count: int | None


@dataclass
class Reply:
    title: str | None = None
    rows: list[tuple] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    status: str | None = None
    text: str | None = None  # preformatted (plan pictures)
    warnings: list[str] = field(default_factory=list)  # printed as WARNING lines (a source left out)
    quit: bool = False
    run: str | None = None  # statements the runner runs next (\\i, \\e)
    watch: Watch | None = None


Handler = Callable[[fedq.Connection, Settings, str], Reply]
COMMANDS: dict[str, tuple[Handler, str, str]] = {}


def command(name: str, usage: str, help_text: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (handler, usage, help_text)
        return handler

    return register


def _reply(table: pa.Table, title: str | None = None) -> Reply:
    rows = list(zip(*[column.to_pylist() for column in table.columns])) if table.num_columns else []
    return Reply(title=title, rows=rows, headers=table.column_names, status=output.status(len(rows), None))


@command("\\sources", "\\sources", "list attached sources")
def _sources(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    return _reply(introspection.sources_table(con.catalog))


@command("\\tables", "\\tables [source]", "list tables, of one source or all")
def _tables(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    listing = introspection.tables_table(con.catalog, arg or None)
    reply = _reply(listing.table)
    reply.warnings = listing.warnings
    return reply


@command("\\views", "\\views", "list views: name, kept in the home catalog or not, columns, SELECT")
def _views(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    return _reply(introspection.views_table(con.catalog))


@command("\\d", "\\d source.[schema.]table", "describe a table's columns and types")
def _describe(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    if not arg:
        return _tables(con, settings, "")
    title, table = introspection.columns_table(con.catalog, [p.strip('"') for p in arg.split(".")])
    return _reply(table, title)


@command("\\explain", "\\explain [analyze] QUERY", "show the plan as a tree: fragments, remote SQL, pushed filters")
def _explain(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    analyze = arg.lower().startswith("analyze ")
    sql = arg[len("analyze "):] if analyze else arg
    if not sql.strip():
        raise fedq.ProgrammingError("\\explain needs a query")
    cursor = con.cursor()
    if analyze:
        cursor.execute("EXPLAIN ANALYZE " + sql)
        plan = cursor.plan
    else:
        plan = con.plan(sql)
    return Reply(text=plan_tree(plan, analyzed=analyze))


@command("\\timing", "\\timing [on|off]", "show elapsed time under results")
def _timing(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    settings.timing = {"on": True, "off": False}.get(arg.lower(), not settings.timing)
    return Reply(status=f"timing is {'on' if settings.timing else 'off'}")


@command("\\format", "\\format " + "|".join(output.FORMATS), "choose how results are printed")
def _format(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    if arg:
        _set_format(settings, arg, "\\format")
    return Reply(status=f"format is {settings.format}")


def _set_format(settings: Settings, value: str, where: str) -> None:
    if value.lower() not in output.FORMATS:
        raise fedq.ProgrammingError(f"{where}: unknown format '{value}'; choose one of {', '.join(output.FORMATS)}")
    settings.format = value.lower()


def _set_expanded(settings: Settings, value: str, where: str) -> None:
    if value.lower() not in output.EXPANDED:
        raise fedq.ProgrammingError(f"{where}: expanded must be on, off or auto, not '{value}'")
    settings.expanded = value.lower()


@command("\\x", "\\x [on|off|auto]", "expanded output: one record per block (alone: toggle; auto: when wider than the terminal)")
def _expanded(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    if arg:
        _set_expanded(settings, arg, "\\x")
    else:
        settings.expanded = "off" if settings.expanded == "on" else "on"
    return Reply(status=f"expanded display is {settings.expanded}")


PSET_OPTIONS = ("format", "null", "expanded")


@command("\\pset", "\\pset [format F | null TEXT | expanded on|off|auto]",
         "printing options (alone: show them); null applies to table, vertical, markdown, html")
def _pset(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    try:
        words = shlex.split(arg)
    except ValueError as error:
        raise fedq.ProgrammingError(f"\\pset: cannot read the value: {error}") from None
    if not words:
        return Reply(rows=[("format", settings.format), ("null", settings.null), ("expanded", settings.expanded)],
                     headers=["option", "value"])
    option, values = words[0].lower(), words[1:]
    if option not in PSET_OPTIONS:
        raise fedq.ProgrammingError(f"\\pset: unknown option '{words[0]}'; known: {', '.join(PSET_OPTIONS)}")
    if len(values) > 1:
        raise fedq.ProgrammingError(f"\\pset {option}: one value, not {len(values)} (quote a value with spaces)")
    if option == "format":
        if values:
            _set_format(settings, values[0], "\\pset format")
        return Reply(status=f"format is {settings.format}")
    if option == "expanded":
        if values:
            _set_expanded(settings, values[0], "\\pset expanded")
        else:
            settings.expanded = "off" if settings.expanded == "on" else "on"
        return Reply(status=f"expanded display is {settings.expanded}")
    if values:  # alone, it shows the setting (as psql does)
        settings.null = values[0]
    return Reply(status=f'null display is "{settings.null}"')


MAX_INCLUDE_DEPTH = 16  # \\i files that include each other stop here instead of recursing forever


@command("\\i", "\\i FILE", "run the statements in FILE")
def _include(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    name = _one_path(arg, "\\i")
    try:
        return Reply(run=Path(name).expanduser().read_text(encoding="utf-8"))
    except OSError as error:
        raise fedq.ProgrammingError(f"\\i: cannot read file '{name}': {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise fedq.ProgrammingError(f"\\i: file '{name}' is not UTF-8 text") from None


def _one_path(arg: str, where: str) -> str:
    try:
        words = shlex.split(arg)
    except ValueError as error:
        raise fedq.ProgrammingError(f"{where}: cannot read the file name: {error}") from None
    if len(words) != 1:
        raise fedq.ProgrammingError(f"usage: {where} FILE (one file; quote a name with spaces)")
    return words[0]


def editor() -> str:
    """The editor command, chosen as psql does: $FEDQ_EDITOR (psql's $PSQL_EDITOR), $VISUAL, $EDITOR, then vi."""
    return os.environ.get("FEDQ_EDITOR") or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


@command("\\e", "\\e [FILE]", "edit the last query (or FILE) in $EDITOR, then run what was saved")
def _edit(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    if arg:
        path, temporary = Path(_one_path(arg, "\\e")).expanduser(), False
    else:
        handle, name = tempfile.mkstemp(prefix="fedq-", suffix=".sql")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write((settings.last_query + ";\n") if settings.last_query else "")
        path, temporary = Path(name), True
    try:
        command_line = f"{editor()} {shlex.quote(str(path))}"
        try:
            status = subprocess.run(command_line, shell=True, check=False).returncode
        except OSError as error:
            raise fedq.OperationalError(f"\\e: cannot start the editor '{editor()}': {error.strerror}") from None
        if status != 0:
            raise fedq.OperationalError(f"\\e: the editor '{editor()}' exited with status {status}; nothing was run")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise fedq.ProgrammingError(f"\\e: cannot read file '{path}': {error.strerror}") from None
    finally:
        if temporary:
            path.unlink(missing_ok=True)
    if not text.strip():
        return Reply(status="nothing to run")
    return Reply(run=text)


@command("\\watch", "\\watch [SECONDS] [count=N]", "run the last query again every SECONDS (default 2) until Ctrl-C")
def _watch(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    seconds, count = 2.0, None
    for word in arg.split():
        key, equals, value = word.partition("=")
        if equals and key.lower() in ("c", "count"):
            if not value.isdigit() or int(value) < 1:
                raise fedq.ProgrammingError(f"\\watch: count must be a whole number above 0, not '{value}'")
            count = int(value)
            continue
        text = value if equals and key.lower() in ("i", "interval") else word
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not (math.isfinite(seconds) and seconds > 0):
            raise fedq.ProgrammingError(f"\\watch: the interval must be a number of seconds above 0, not '{word}'")
    if not settings.last_query:
        raise fedq.ProgrammingError("\\watch: no query to repeat yet; run one first")
    return Reply(watch=Watch(settings.last_query, seconds, count))


@command("\\conninfo", "\\conninfo", "the catalog file, home catalog and sources of this session (no secrets)")
def _conninfo(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    rows = [("catalog file", str(Path(settings.catalog_file).resolve()) if settings.catalog_file else "none"),
            ("home catalog", str(con.home.path) if con.home is not None else "off"),
            ("pushdown", "on" if con.pushdown else "off")]
    rows += [(f"source {s.name}", redact(s.describe_source(), s.secrets())) for s in con.catalog.sources.values()]
    return Reply(rows=rows, headers=["item", "value"])


def open_output(name: str, overwrite: bool = False) -> BinaryIO:
    """A file for results (``\\o``, ``-o``): an existing file is replaced only when asked."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise fedq.ProgrammingError(f"output '{name}' is a folder; name a file")
    try:
        return path.open("wb" if overwrite else "xb")
    except FileExistsError:
        raise fedq.ProgrammingError(f"output file '{name}' exists; fedq does not replace it unless asked "
                                    f"(\\o {name} overwrite, or -o {name} --overwrite)") from None
    except OSError as error:
        raise fedq.OperationalError(f"cannot write output file '{name}': {error.strerror}") from None


def close_output(settings: Settings) -> None:
    if settings.output is not None:
        with contextlib.suppress(OSError):
            settings.output.close()
    settings.output, settings.output_name = None, None


@command("\\o", "\\o [FILE [overwrite]]", "send query results to FILE (\\o alone: back to the terminal)")
def _output(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    try:
        words = shlex.split(arg)
    except ValueError as error:
        raise fedq.ProgrammingError(f"\\o: cannot read the file name: {error}") from None
    if len(words) > 2 or (len(words) == 2 and words[1].lower() != "overwrite"):
        raise fedq.ProgrammingError("usage: \\o [FILE [overwrite]] (quote a name with spaces)")
    if not words:
        name = settings.output_name
        close_output(settings)
        return Reply(status=f"results go to the terminal{f' (closed {name})' if name else ''}")
    handle = open_output(words[0], overwrite=len(words) == 2)
    close_output(settings)
    settings.output, settings.output_name = handle, words[0]
    return Reply(status=f"results go to {words[0]} (\\o alone: back to the terminal)")


@command("\\refresh", "\\refresh [source]", "forget cached table lists and schemas")
def _refresh(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    con.refresh(arg or None)
    return Reply(status=f"refreshed {arg or 'all sources'}")


@command("\\help", "\\help or \\?", "this list")
def _help(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    rows = [(usage, text) for name, (_, usage, text) in COMMANDS.items() if name != "\\?"]
    rows.append(("SQL;", "run a query (end it with ;) — EXPLAIN [ANALYZE] and ATTACH work too"))
    rows.append(("Ctrl-R", "search the history; Enter runs the statement found"))
    return Reply(rows=rows, headers=["command", "does"])


command("\\?", "\\?", "this list")(_help)


@command("\\q", "\\q", "quit (or Ctrl-D)")
def _quit(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    return Reply(quit=True)


def run_command(con: fedq.Connection, settings: Settings, line: str) -> Reply:
    """Dispatch ``\\name args``; unknown commands get the list of known ones."""
    name, _, arg = line.strip().rstrip(";").partition(" ")
    if name not in COMMANDS:
        raise fedq.ProgrammingError(f"unknown command {name}; known: {', '.join(COMMANDS)}")
    handler: Any = COMMANDS[name][0]
    return handler(con, settings, arg.strip())
