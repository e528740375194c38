"""Backslash meta commands, in one registry (pgcli's special commands).

Each handler takes the session state and its argument text and returns a :class:`Reply`; one
printer shows every reply, so commands never write to the terminal themselves.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
import shlex
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pyarrow as pa

import fedq
from fedq.engine import introspection
from fedq.repl import output
from fedq.repl.plan_view import plan_tree


@dataclass
class Settings:
    """What the user can change from the prompt."""

    timing: bool = True
    format: str = "table"
    row_limit: int = 1_000  # pgcli's: a longer result on the terminal asks before it is shown
    output: BinaryIO | None = None  # \\o FILE: results go there
    output_name: str | None = None


@dataclass
class Reply:
    title: str | None = None
    rows: list[tuple] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    status: str | None = None
    text: str | None = None  # preformatted (plan pictures)
    warnings: list[str] = field(default_factory=list)  # printed as WARNING lines (a source left out)
    quit: bool = False


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


@command("\\format", "\\format table|csv|json|markdown", "choose how results are printed")
def _format(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    if arg:
        if arg not in output.FORMATS:
            raise fedq.ProgrammingError(f"unknown format '{arg}'; choose one of {', '.join(output.FORMATS)}")
        settings.format = arg
    return Reply(status=f"format is {settings.format}")


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


@command("\\help", "\\help", "this list")
def _help(con: fedq.Connection, settings: Settings, arg: str) -> Reply:
    rows = [(usage, text) for _, usage, text in COMMANDS.values()]
    rows.append(("SQL;", "run a query (end it with ;) — EXPLAIN [ANALYZE] and ATTACH work too"))
    return Reply(rows=rows, headers=["command", "does"])


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
