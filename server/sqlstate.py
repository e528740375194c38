"""Errors as a PostgreSQL client sees them: the SQLSTATE of a fedq error, and the server's own errors."""
from __future__ import annotations

from fedq.errors import DataError, IntegrityError, NotSupportedError, OperationalError, ProgrammingError
from fedq.server.cursors import CursorError


def sqlstate(error: BaseException) -> str:
    """The SQLSTATE a PostgreSQL client gets for a fedq error."""
    text = str(error).lower()
    if isinstance(error, CursorError):
        return error.sqlstate
    if isinstance(error, PermissionDenied):
        return "42501"
    if isinstance(error, OperationalError):
        return "57014" if "cancel" in text or "deadline" in text or "timeout" in text else "08006"
    if isinstance(error, NotSupportedError):
        return "0A000"
    if isinstance(error, DataError):
        return "22000"
    if isinstance(error, IntegrityError):
        return "23000"
    if isinstance(error, ProgrammingError):
        if "syntax error" in text or "cannot read sql" in text:
            return "42601"
        if "unrecognized configuration parameter" in text:
            return "42704"
        if "column" in text and ("does not exist" in text or "unknown" in text or "not found" in text):
            return "42703"
        if "does not exist" in text or "unknown source" in text or "unknown table" in text:
            return "42P01"
        if "parameter" in text:
            return "08P01"
        return "42000"
    return "XX000"


class PermissionDenied(ProgrammingError):
    """A remote session tried to change the catalog without being a ``[server]`` admin (SQLSTATE 42501)."""


class ClientError(Exception):
    """An error answered to the client with this SQLSTATE; ``fatal`` ends the connection."""

    def __init__(self, sqlstate: str, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.sqlstate, self.fatal = sqlstate, fatal
