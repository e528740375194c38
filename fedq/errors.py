"""PEP 249 exception hierarchy, plus helpers that make fedq's errors point at the problem.

Every error a user sees is one of these classes. Driver errors are wrapped, never re-raised raw,
and their text passes through :func:`redact` so credentials never leak.
"""
from __future__ import annotations

import re


class Warning(Exception):  # noqa: A001 - the name is mandated by PEP 249
    """Important warnings, such as data truncation."""


class Error(Exception):
    """Base class of every fedq error."""


class InterfaceError(Error):
    """Misuse of the DB-API itself, such as fetching from a closed cursor."""


class DatabaseError(Error):
    """Errors related to the federated database."""


class DataError(DatabaseError):
    """A value could not be processed: bad cast, out of range, corrupt file."""


class OperationalError(DatabaseError):
    """A source could not be reached or failed while answering."""


class IntegrityError(DatabaseError):
    """Relational integrity problems (fedq is read-only, so rarely raised)."""


class InternalError(DatabaseError):
    """fedq itself reached a state it should not; please report it."""


class ProgrammingError(DatabaseError):
    """The SQL or its use is wrong: syntax, unknown names, wrong parameter count."""


class NotSupportedError(DatabaseError):
    """The statement is valid SQL but fedq does not run it (for example writes to a source)."""


# Bounded repeats: an unbounded scheme made redacting a long run of letters (a 100 kB literal
# echoed in a syntax error) take minutes, as the regex retried the run from every position.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]{0,40}://[^:/@\s]{0,256}):[^@\s]{0,1024}@")
# A libpq value: quoted (backslash escapes; inside a SQL literal the quotes are doubled, so it ends
# at a quote followed by a space, ',', ')', ';' or the end; never closed: the rest of the line) or
# bare (a backslash escapes a space).
_KEY_VALUE_PASSWORD = re.compile(
    r"(?i)\b((?:ssl)?password|passwd|pwd|token|secret)\s*=\s*"
    r"('{1,2}(?:\\.|[^\\]){0,1024}?'+(?=[\s,);]|$)|'[^']{0,1024}'|\"[^\"]{0,1024}\"|'[^\n]{0,1024}|(?:\\.|[^\s'\\]|'(?![\s,);]|$)){1,1024})")


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Remove passwords from DSNs, ``password=...`` pairs and any known secret value."""
    text = _URL_PASSWORD.sub(r"\g<scheme>:***@", text)
    text = _KEY_VALUE_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


CARET_CONTEXT = 60  # characters echoed either side of the caret on a long line


def caret_message(sql: str, line: int, col: int, message: str) -> str:
    """Format ``message`` with the offending SQL line and a caret under column ``col`` (1-based)."""
    lines = sql.splitlines() or [""]
    line = min(max(line, 1), len(lines))
    text = lines[line - 1]
    col = min(max(col, 1), len(text) + 1)
    shown, caret = text, col
    if len(text) > 2 * CARET_CONTEXT:  # a window around the caret, not a 100 kB line
        start = max(0, col - 1 - CARET_CONTEXT)
        shown = ("…" if start else "") + text[start:start + 2 * CARET_CONTEXT] + ("…" if start + 2 * CARET_CONTEXT < len(text) else "")
        caret = col - start + (1 if start else 0)
    return f"{message} at line {line}, column {col}\n  {shown}\n  {' ' * (caret - 1)}^"
