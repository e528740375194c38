"""``COPY (query) TO STDOUT`` for ``fedq serve``: the rows as PostgreSQL's COPY text, CSV or binary format.

psql's ``\\copy … TO file`` sends this, and the ADBC PostgreSQL driver reads every result as
``COPY (query) TO STDOUT (FORMAT binary)``. Rows are encoded a batch at a time from the query's Arrow
stream with the server's value encoders (:mod:`fedq.server.pgwire`), so a COPY is streamed, not materialized.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa

from fedq.server import pgwire
from fedq.errors import NotSupportedError, ProgrammingError

_COPY = re.compile(r"^\s*COPY\s+(?:\((?P<query>.+)\)|(?P<table>[\w.\"]+)(?:\s*\((?P<columns>[^)]*)\))?)\s+TO\s+STDOUT\b"
                   r"(?P<options>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_IS_COPY_TO_STDOUT = re.compile(r"^\s*COPY\b.*\bTO\s+STDOUT\b", re.IGNORECASE | re.DOTALL)
BINARY_HEADER = b"PGCOPY\n\xff\r\n\0" + struct.pack("!ii", 0, 0)
BINARY_TRAILER = struct.pack("!h", -1)


def is_copy_to_stdout(sql: str) -> bool:
    return bool(_IS_COPY_TO_STDOUT.match(sql))


@dataclass(frozen=True)
class CopyOut:
    """A parsed ``COPY … TO STDOUT``: the query to run and how to write its rows."""

    query: str
    format: str = "text"  # text, csv or binary
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'

    @property
    def binary(self) -> bool:
        return self.format == "binary"


def parse_copy(sql: str) -> CopyOut:
    match = _COPY.match(sql)
    if match is None:
        raise ProgrammingError("syntax error in COPY: fedq serve reads COPY (query) TO STDOUT [WITH] (FORMAT text | csv | "
                               "binary, HEADER, DELIMITER 'c', NULL 'text') and COPY table [(columns)] TO STDOUT")
    query = match.group("query") or f"SELECT {match.group('columns') or '*'} FROM {match.group('table')}"
    options = _options(match.group("options").strip())
    fmt = options.pop("format", "text").lower()
    if fmt not in ("text", "csv", "binary"):
        raise ProgrammingError(f"COPY format \"{fmt}\" not recognized (text, csv or binary)")
    values = {"query": query, "format": fmt}
    if fmt == "csv":
        values.update(delimiter=",", null="")
    for name, value in options.items():
        if name in ("delimiter", "null", "quote"):
            if fmt == "binary":
                raise ProgrammingError(f"cannot specify {name.upper()} in BINARY mode")
            if name != "null" and len(value) != 1:
                raise ProgrammingError(f"COPY {name} must be a single one-byte character")
            values[name] = value
        elif name == "header":
            if fmt != "csv":
                raise NotSupportedError("COPY HEADER is available only in CSV mode in fedq serve")
            values["header"] = value.lower() not in ("false", "off", "0")
        else:
            raise NotSupportedError(f"COPY option \"{name}\" is not supported by fedq serve (FORMAT, HEADER, DELIMITER, "
                                    "NULL, QUOTE are)")
    return CopyOut(**values)


def _options(text: str) -> dict[str, str]:
    """``(FORMAT csv, HEADER)``, ``WITH (…)`` or the old ``WITH CSV HEADER DELIMITER ','`` / ``BINARY``."""
    text = re.sub(r"(?i)^WITH\b", "", text).strip()
    if text.startswith("(") and text.endswith(")"):
        items = [part.strip() for part in _split_commas(text[1:-1]) if part.strip()]
        return {name.lower(): _unquote(value) for name, _, value in (item.partition(" ") for item in items)}
    options: dict[str, str] = {}
    words = re.findall(r"'(?:[^']|'')*'|\S+", text)
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in ("csv", "binary"):
            options["format"] = word
        elif word == "header":
            options["header"] = "true"
        elif word in ("delimiter", "null", "quote"):
            i += 1 + (i + 1 < len(words) and words[i + 1].lower() == "as")
            if i >= len(words):
                raise ProgrammingError(f"COPY {word.upper()} needs a value")
            options[word] = _unquote(words[i])
        else:
            raise NotSupportedError(f"COPY option \"{words[i]}\" is not supported by fedq serve")
        i += 1
    return options


def _split_commas(text: str) -> list[str]:
    return re.findall(r"(?:'(?:[^']|'')*'|[^,'])+", text)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value or "true"


def copy_rows(copy: CopyOut, reader: pa.RecordBatchReader) -> Iterator[bytes]:
    """The CopyData payloads of the result, one per row; in binary the file header comes with the first
    payload (as PostgreSQL sends it: ADBC's reader expects a row after the header) and the trailer is the last."""
    columns = [pgwire.Column.of(f) for f in reader.schema]
    if copy.binary:
        encoders = [pgwire.encoder(c, 1) for c in columns]
        header = BINARY_HEADER
        for batch in reader:
            values = [encode(array) for encode, array in zip(encoders, batch.columns)]
            for row in zip(*values) if values else [() for _ in range(batch.num_rows)]:
                yield header + struct.pack("!h", len(row)) + b"".join(
                    b"\xff\xff\xff\xff" if v is None else struct.pack("!i", len(v)) + v for v in row)
                header = b""
        yield header + BINARY_TRAILER
        return
    field = _csv_field(copy) if copy.format == "csv" else _text_field(copy)
    if copy.header:
        yield copy.delimiter.join(field(c.name.encode()) for c in columns).encode() + b"\n"
    for batch in reader:
        values = [pgwire.text_values(array) for array in batch.columns]
        for row in zip(*values) if values else [() for _ in range(batch.num_rows)]:
            yield copy.delimiter.join(copy.null if v is None else field(v) for v in row).encode() + b"\n"


def _text_field(copy: CopyOut) -> Callable[[bytes], str]:
    specials = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", copy.delimiter: "\\" + copy.delimiter}
    pattern = re.compile("|".join(re.escape(c) for c in specials))

    def field(value: bytes) -> str:
        return pattern.sub(lambda m: specials[m.group(0)], value.decode())
    return field


def _csv_field(copy: CopyOut) -> Callable[[bytes], str]:
    quote = copy.quote

    def field(value: bytes) -> str:
        text = value.decode()
        if text == copy.null or any(c in text for c in (copy.delimiter, quote, "\n", "\r")) or text.startswith("\\."):
            return quote + text.replace(quote, quote + quote) + quote
        return text
    return field
