"""The interactive REPL on prompt-toolkit: highlighting, completion, multi-line input ended by
``;``, persistent history (secrets redacted) with Ctrl-R search, and Ctrl-C / Ctrl-D as in psql."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import platformdirs
from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.search import accept_search
from pygments.lexers.sql import SqlLexer

import fedq
from fedq.errors import redact
from fedq.repl.commands import Settings
from fedq.repl.completion import FedqCompleter, MetadataRefresher
from fedq.repl.runner import Runner


def history_path() -> Path:
    """``$FEDQ_HISTORY`` or the user's data directory."""
    if os.environ.get("FEDQ_HISTORY"):
        return Path(os.environ["FEDQ_HISTORY"])
    return Path(platformdirs.user_data_dir("fedq")) / "history"


class RedactedFileHistory(FileHistory):
    """File history that never stores a password typed into a DSN."""

    def store_string(self, string: str) -> None:
        super().store_string(redact(string))


def key_bindings() -> KeyBindings:
    """Enter runs the buffer once it is a complete statement; otherwise it starts a new line."""
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: Any) -> None:
        """Accept a completion if one is selected; run a finished statement; else newline. In a
        Ctrl-R search, Enter first takes the statement found (as pgcli does), so it runs at once."""
        if event.app.layout.is_searching:
            accept_search()  # back in the main buffer, holding the history entry found
        buffer = event.app.current_buffer
        state = buffer.complete_state
        if state and state.current_completion:
            buffer.apply_completion(state.current_completion)
            return
        text = buffer.text.strip()
        if not text or text.startswith("\\") or text.endswith(";") or text.lower() in ("quit", "exit"):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    return bindings


def continuation(width: int, line_number: int, wrap_count: int) -> str:
    """The prompt of a new line of the statement; a soft-wrapped long line gets blanks, since it
    is no new line."""
    return " " * width if wrap_count else "-> ".rjust(width)


def build_session(connection: fedq.Connection, *, history: History | None = None, input: Any = None,
                  output: Any = None) -> tuple[PromptSession, MetadataRefresher]:
    refresher = MetadataRefresher(connection)
    refresher.refresh()
    if history is None:
        path = history_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        history = RedactedFileHistory(str(path))
    session: PromptSession = PromptSession(
        lexer=PygmentsLexer(SqlLexer),
        completer=FedqCompleter(refresher.current),
        complete_while_typing=True,
        history=history,
        enable_history_search=False,
        multiline=True,
        key_bindings=key_bindings(),
        prompt_continuation=continuation,
        input=input,
        output=output,
    )
    return session, refresher


def run_repl(connection: fedq.Connection, banner: str | None = None, *, out: TextIO = sys.stdout,
             err: TextIO | None = None, input: Any = None, output: Any = None, history: History | None = None,
             settings: Settings | None = None) -> int:
    """Read-eval-print until ``\\q`` or Ctrl-D. Returns the process exit status."""
    session, refresher = build_session(connection, history=history, input=input, output=output)
    asker: PromptSession = PromptSession(input=input, output=output)  # its own: no history, no completion

    def confirm(question: str) -> bool:
        return asker.prompt(question).strip().lower() in ("y", "yes")

    runner = Runner(connection, out=out, err=err or out, settings=settings, interactive=input is None, confirm=confirm)
    if banner:
        out.write(banner + "\n")
        out.flush()
    while not runner.quit:
        try:
            text = session.prompt("fedq> ")
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, as in psql
        except EOFError:
            break
        if text.strip().lower() in ("quit", "exit"):
            break
        if text.strip():
            before = runner.settings.last_query
            try:
                runner.run_script(text)
            except KeyboardInterrupt:  # between queries (a meta command): back to the prompt
                err_stream = err or out
                err_stream.write("ERROR: cancelled\n")
                err_stream.flush()
            if text.strip().startswith("\\refresh"):
                refresher.refresh()
            if text.strip().split()[0] == "\\e" and runner.settings.last_query not in (None, before):
                session.history.append_string(runner.settings.last_query + ";")  # the edited query is recalled with Up
    return 0


__all__ = ["InMemoryHistory", "run_repl", "history_path"]
