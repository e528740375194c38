"""Running statements for a person: results printed in the chosen format, errors as one clean
message, live progress per fragment after a second, and Ctrl-C that cancels the query (remote
statements included) instead of killing the program. Shared by the REPL, ``-c`` and stdin."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, TextIO

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

import fedq
from fedq.repl import output
from fedq.repl.commands import Reply, Settings, run_command
from fedq.repl.plan_view import progress_lines

PROGRESS_AFTER_SECONDS = 1.0


def split_statements(text: str) -> list[str]:
    """Statements of a script, in order: a line starting with ``\\`` is a meta command of its own;
    SQL ends at ``;`` outside quotes and comments."""
    statements: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("\\"):
            statements += _split_sql("\n".join(pending))
            pending = []
            statements.append(line.strip())
        else:
            pending.append(line)
    return statements + _split_sql("\n".join(pending))


def _split_sql(sql: str) -> list[str]:
    try:
        tokens = sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return [sql.strip()] if sql.strip() else []
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start:token.start])
            start = token.end + 1
    pieces.append(sql[start:])
    return [p.strip() for p in pieces if p.strip() and not _only_comments(p)]


def _only_comments(sql: str) -> bool:
    try:
        return not sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return False


class Runner:
    """Executes statements for one connection and prints what a person should see."""

    def __init__(self, connection: fedq.Connection, out: TextIO = sys.stdout, err: TextIO | None = None,
                 settings: Settings | None = None, interactive: bool = False) -> None:
        self.connection = connection
        self.out = out
        self.err = err or out
        self.settings = settings or Settings()
        self.interactive = interactive
        self.quit = False

    # -- entry ----------------------------------------------------------------------------
    def run(self, statement: str) -> bool:
        """Run one statement or meta command; False if it failed or was cancelled."""
        try:
            if statement.startswith("\\"):
                reply = run_command(self.connection, self.settings, statement)
                self.quit = reply.quit
                self._print_reply(reply)
                self._warn(reply.warnings)
                return True
            return self._query(statement)
        except fedq.Error as error:
            self._error(str(error))
            return False

    def run_script(self, text: str) -> bool:
        ok = True
        for statement in split_statements(text):
            ok = self.run(statement) and ok
            if self.quit:
                break
        return ok

    # -- queries ------------------------------------------------------------------------
    def _query(self, sql: str) -> bool:
        cursor = self.connection.cursor()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                cursor.execute(sql)
                outcome["rows"] = cursor.fetchall() if cursor.description else None
            except BaseException as error:  # handed to the waiting thread
                outcome["error"] = error

        started = time.perf_counter()
        worker = threading.Thread(target=work, name="fedq-query", daemon=True)
        worker.start()
        shown = 0
        try:
            while worker.is_alive():
                worker.join(0.1)
                elapsed = time.perf_counter() - started
                if self.interactive and elapsed > PROGRESS_AFTER_SECONDS and worker.is_alive():
                    shown = self._progress(cursor, elapsed, shown)
        except KeyboardInterrupt:
            self._clear_progress(shown)
            cursor.cancel()
            worker.join(10)
            self._error("query cancelled")
            return False
        self._clear_progress(shown)
        elapsed = time.perf_counter() - started
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, fedq.Error):
                self._error(str(error))
                return False
            raise error
        warnings = [str(warning) for _, warning in cursor.messages]
        if outcome.get("rows") is None:
            self._write("OK")
            self._warn(warnings)
            return True
        names = [d[0] for d in cursor.description]
        types = output.type_names(cursor.description)
        rows = outcome["rows"]
        text = output.render(self.settings.format, names, types, rows, self._width())
        if self.settings.format == "table":
            text += "\n" + output.status(len(rows), elapsed if self.settings.timing else None)
        self._page(text)
        self._warn(warnings)
        return True

    # -- printing -----------------------------------------------------------------------
    def _print_reply(self, reply: Reply) -> None:
        parts = []
        if reply.title:
            parts.append(reply.title)
        if reply.text:
            parts.append(reply.text)
        if reply.headers:
            parts.append(output.table(reply.headers, None, reply.rows, self._width()) if self.settings.format == "table"
                         else output.render(self.settings.format, reply.headers, [], reply.rows, self._width()))
        if reply.status and (self.settings.format == "table" or not reply.headers):
            parts.append(reply.status)
        if parts:
            self._page("\n".join(parts))

    def _width(self) -> int:
        return shutil.get_terminal_size((120, 40)).columns if self.interactive else 10_000

    def _page(self, text: str) -> None:
        """Print, through a pager when the text is taller than an interactive terminal."""
        height = shutil.get_terminal_size((120, 40)).lines
        if self.interactive and self.out is sys.stdout and sys.stdout.isatty() and text.count("\n") > height - 2:
            pager = os.environ.get("PAGER", "less -SRFX")
            try:
                subprocess.run(pager, shell=True, input=text.encode(), check=False)
                return
            except OSError:
                pass
        self._write(text)

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _warn(self, warnings: list[str]) -> None:
        """Warnings (a source left out of a listing) on the error stream, so results stay clean."""
        for warning in warnings:
            self.err.write(f"WARNING: {warning}\n")
        self.err.flush()

    def _error(self, message: str) -> None:
        self.err.write(f"ERROR: {message}\n")
        self.err.flush()

    def _progress(self, cursor: fedq.Cursor, elapsed: float, shown: int) -> int:
        """Redraw one live line per fragment on stderr (terminals only)."""
        stream = sys.stderr
        if not stream.isatty():
            return 0
        lines = progress_lines(cursor.plan, elapsed)
        if shown:
            stream.write(f"\x1b[{shown}F")
        for line in lines:
            stream.write("\x1b[2K" + line + "\n")
        stream.flush()
        return len(lines)

    def _clear_progress(self, shown: int) -> None:
        if shown:
            sys.stderr.write(f"\x1b[{shown}F\x1b[J")
            sys.stderr.flush()
