"""A statement's deadline, from the moment ``execute()`` is called until its last row.

Parsing, view expansion and planning (sqlglot's qualify and annotate, the binder's DESCRIBE,
metadata reads) run before any fragment starts, so a deadline that only timed execution let a
million-literal IN list plan for two minutes. The cursor makes a :class:`Deadline` current for the
statement; the planner calls :func:`checkpoint` at its stage boundaries and inside its loops.
Execution then inherits the same deadline,
so the whole statement gets the ``timeout`` it was given, and one error text (which fedq serve
reports as SQLSTATE 57014).
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from typing import Iterator

from fedq.errors import OperationalError

_current: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar("fedq_deadline", default=None)


class Deadline:
    """``timeout`` seconds from now (None: no limit), and a cancel request (``Cursor.cancel``)."""

    def __init__(self, timeout: float | None, cancelled: threading.Event | None = None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout
        self.cancelled = cancelled or threading.Event()

    def remaining(self) -> float | None:
        """Seconds left (0 once passed), or None without a deadline."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def check(self, stage: str) -> None:
        """Raise the deadline (or cancel) error if the statement must stop now; ``stage`` names
        what it was doing, for the message."""
        if self.cancelled.is_set():
            raise OperationalError("query cancelled")
        if self.passed():
            raise self.error(stage)

    def error(self, stage: str | None = None, late: list[str] | None = None) -> OperationalError:
        """The error of a statement stopped by its deadline; ``late`` names sources still reading."""
        named = ", ".join(late) + ": " if late else ""
        where = f" while {stage}" if stage else ""
        return OperationalError(f"{named}query exceeded its deadline of {self.timeout:g} s{where} and was cancelled "
                                "(remote statements included)")

    @contextlib.contextmanager
    def current(self) -> Iterator["Deadline"]:
        """Make this the deadline :func:`checkpoint` sees in this thread."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def checkpoint(stage: str) -> None:
    """Stop the current statement here if its deadline passed or it was cancelled (no-op outside one)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check(stage)
