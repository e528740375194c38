"""SQL cursors for ``fedq serve``: ``DECLARE … CURSOR FOR``, ``FETCH``, ``MOVE`` and ``CLOSE``.

psycopg's named cursors (``conn.cursor(name=…)``) and SQLAlchemy's ``stream_results=True`` send these
to read a large result a chunk at a time. A declared cursor keeps the query's Arrow stream open and
each FETCH reads only the rows it asks for from it (slices of the batches as they arrive), so a
client's memory and the server's stay bounded by the chunk size, not the result. Cursors read
forward only (``NO SCROLL``), as fedq's results are streams read once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pyarrow as pa

from fedq.errors import NotSupportedError, ProgrammingError

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_DECLARE = re.compile(
    rf"^\s*DECLARE\s+(?P<name>{_NAME})\s+(?P<options>(?:(?:BINARY|ASENSITIVE|INSENSITIVE|NO\s+SCROLL|SCROLL)\s+)*)"
    r"CURSOR\s+(?:(?P<hold>WITH|WITHOUT)\s+HOLD\s+)?FOR\s+(?P<query>.+?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_FETCH = re.compile(
    rf"^\s*(?P<verb>FETCH|MOVE)\s+(?:(?P<direction>NEXT|PRIOR|FIRST|LAST|ABSOLUTE\s+[-+]?\d+|RELATIVE\s+[-+]?\d+|"
    rf"FORWARD(?:\s+(?:ALL|[-+]?\d+))?|BACKWARD(?:\s+(?:ALL|[-+]?\d+))?|ALL|[-+]?\d+)\s+)?(?:(?:FROM|IN)\s+)?"
    rf"(?P<name>{_NAME})\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_CLOSE = re.compile(rf"^\s*CLOSE\s+(?P<name>ALL|{_NAME})\s*;?\s*$", re.IGNORECASE | re.DOTALL)


class CursorError(ProgrammingError):
    """A cursor statement PostgreSQL would refuse; ``sqlstate`` is PostgreSQL's code for it."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _identifier(text: str) -> str:
    """A cursor name as PostgreSQL folds it: quoted names kept, others lower-cased."""
    return text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()


@dataclass(frozen=True)
class Declare:
    name: str
    query: str
    hold: bool
    binary: bool


def parse_declare(sql: str) -> Declare:
    match = _DECLARE.match(sql)
    if match is None:
        raise CursorError("42601", "syntax error in DECLARE: fedq serve reads DECLARE name [BINARY] [NO SCROLL] "
                                   "CURSOR [WITH HOLD | WITHOUT HOLD] FOR query")
    options = " ".join(match.group("options").upper().split())
    if re.search(r"(?<!NO )SCROLL", options):
        raise NotSupportedError("SCROLL cursors are not supported by fedq serve: a cursor reads its query's result "
                                "stream once, forward only (declare it NO SCROLL, or without SCROLL)")
    return Declare(_identifier(match.group("name")), match.group("query"),
                   (match.group("hold") or "").upper() == "WITH", "BINARY" in options)


def parse_fetch(sql: str) -> tuple[str, str, int | None]:
    """(FETCH or MOVE, cursor name, row count: None for ALL) of a forward FETCH/MOVE."""
    match = _FETCH.match(sql)
    if match is None:
        raise CursorError("42601", "syntax error in FETCH/MOVE: fedq serve reads FETCH [NEXT | FORWARD [n | ALL] | "
                                   "n | ALL] [FROM | IN] cursor")
    verb, words = match.group("verb").upper(), (match.group("direction") or "NEXT").upper().split()
    if words[0] in ("PRIOR", "FIRST", "LAST", "ABSOLUTE", "BACKWARD") or (words[0] == "RELATIVE" and int(words[1]) < 0):
        raise NotSupportedError(f"{verb} {' '.join(words)} is not supported by fedq serve: its cursors are NO SCROLL "
                                "and read forward only (FETCH NEXT, FORWARD n, FORWARD ALL)")
    count = words[-1]
    if count in ("NEXT", "FORWARD"):
        return verb, _identifier(match.group("name")), 1
    if count == "ALL":
        return verb, _identifier(match.group("name")), None
    if int(count) < 0:
        raise NotSupportedError(f"{verb} {count} (backward) is not supported by fedq serve: its cursors read forward only")
    if words[0] == "RELATIVE" and int(count) > 0:
        raise NotSupportedError(f"{verb} RELATIVE {count} is not supported by fedq serve: use MOVE FORWARD {int(count) - 1} "
                                f"then FETCH NEXT")
    return verb, _identifier(match.group("name")), int(count)


def parse_close(sql: str) -> str | None:
    """The cursor name of ``CLOSE name``; None for ``CLOSE ALL``."""
    match = _CLOSE.match(sql)
    if match is None:
        raise CursorError("42601", "syntax error in CLOSE: fedq serve reads CLOSE cursor or CLOSE ALL")
    name = match.group("name")
    return None if name.upper() == "ALL" else _identifier(name)


@dataclass
class DeclaredCursor:
    """A declared cursor over a query's Arrow stream; each FETCH takes the next rows from it."""

    name: str
    reader: pa.RecordBatchReader
    hold: bool
    binary: bool
    on_close: Callable[[], None] | None = None
    cursor: Any = None  # the fedq cursor running the query (for cancel), if any
    _batch: pa.RecordBatch | None = None
    _offset: int = 0
    _done: bool = False

    @property
    def schema(self) -> pa.Schema:
        return self.reader.schema

    def take(self, count: int | None) -> Iterator[pa.RecordBatch]:
        """The next ``count`` rows (None: all the rest) as slices of the stream's batches, read as they are wanted."""
        wanted = count
        while wanted is None or wanted > 0:
            if self._batch is None or self._offset >= self._batch.num_rows:
                if self._done:
                    return
                try:
                    self._batch, self._offset = self.reader.read_next_batch(), 0
                except StopIteration:
                    self._batch, self._done = None, True
                    return
                continue
            size = self._batch.num_rows - self._offset if wanted is None else min(wanted, self._batch.num_rows - self._offset)
            piece = self._batch.slice(self._offset, size)
            self._offset += size
            if wanted is not None:
                wanted -= size
            yield piece

    def close(self) -> None:
        self._batch = None
        if self.on_close is not None:
            self.on_close()
            self.on_close = None
