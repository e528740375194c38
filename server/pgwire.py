"""The PostgreSQL frontend/backend protocol (version 3.0), the subset ``fedq serve`` speaks.

Message framing, the messages the server sends, SCRAM-SHA-256 password checks, and the mapping
from Arrow types to PostgreSQL type OIDs with their text (and simple binary) encodings.
Nothing here knows about fedq's engine; :mod:`fedq.server.server` puts the pieces together.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import hmac
import json
import math
import os
import re
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import pyarrow as pa
import pyarrow.compute as pc

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


class ProtocolError(Exception):
    """The client sent something this server cannot read or does not support."""


class MalformedMessage(ProtocolError):
    """A message that breaks the framing or its own format (a field past its end, a string without
    its NUL, bytes left over, a length over the limit): it is never acted on, and the connection ends."""


class Timeout(Exception):
    """The client did not send what was due before its deadline."""


MAX_STARTUP_MESSAGE = 10_000  # bytes: the startup packet and the password messages, before authentication


# -- framing ----------------------------------------------------------------------------------
class SocketStream:
    """Buffered reads from a client socket against a deadline (``None``: none). The deadline covers the
    whole wait, not each ``recv``, so a client that trickles one byte at a time cannot outlast it; and
    nothing is allocated for a length a client merely claims."""

    CHUNK = 1 << 16

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer, self.deadline = sock, bytearray(), None
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def wait(self, until: float) -> bool:
        """True once input is there (buffered or arriving) before ``until`` (a monotonic time)."""
        return bool(self.buffer) or bool(self.poller.poll(max(0, int((until - time.monotonic()) * 1000))))

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill(n - len(self.buffer))
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def _fill(self, wanted: int) -> None:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not self.poller.poll(max(1, int(remaining * 1000))):
                raise Timeout
        chunk = self.sock.recv(max(self.CHUNK, min(wanted, 1 << 22)))
        if not chunk:
            raise EOFError("the client closed the connection")
        self.buffer += chunk


def read_exact(stream: BinaryIO | SocketStream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise EOFError("the client closed the connection")
    return data


def read_startup(stream: BinaryIO | SocketStream) -> tuple[int, bytes]:
    """(code, body) of an untyped startup-phase message."""
    (length,) = struct.unpack("!i", read_exact(stream, 4))
    if not 8 <= length <= MAX_STARTUP_MESSAGE:
        raise MalformedMessage(f"invalid startup packet length {length} (8 to {MAX_STARTUP_MESSAGE} bytes)")
    body = read_exact(stream, length - 4)
    return struct.unpack("!i", body[:4])[0], body[4:]


def read_message(stream: BinaryIO | SocketStream, limit: int, setting: str = "") -> tuple[bytes, bytes]:
    """(type byte, body) of a regular message; a body over ``limit`` bytes is refused unread."""
    kind = read_exact(stream, 1)
    (length,) = struct.unpack("!i", read_exact(stream, 4))
    if length < 4:
        raise MalformedMessage(f"invalid message length {length}")
    if length - 4 > limit:
        where = f" ({setting})" if setting else ""
        raise MalformedMessage(f"message {kind.decode('latin-1')!r} of {length - 4} bytes is over the limit "
                               f"of {limit} bytes{where}")
    return kind, read_exact(stream, length - 4)


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstring(text: str) -> bytes:
    return text.encode() + b"\0"


class Reader:
    """Reads fields out of one message body, strictly: a field past the end is a :class:`MalformedMessage`."""

    def __init__(self, body: bytes, name: str = "message") -> None:
        self.body, self.pos, self.name = body, 0, name

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.body):
            raise MalformedMessage(f"{self.name} is too short for its fields")
        value = self.body[self.pos:self.pos + n]
        self.pos += n
        return value

    def int16(self) -> int:
        return struct.unpack("!h", self._take(2))[0]

    def int32(self) -> int:
        return struct.unpack("!i", self._take(4))[0]

    def bytes(self, n: int) -> bytes:
        return self._take(n)

    def cstring(self) -> str:
        end = self.body.find(b"\0", self.pos)
        if end < 0:
            raise MalformedMessage(f"{self.name}: a string without its terminating NUL")
        value = self.body[self.pos:end]
        self.pos = end + 1
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise MalformedMessage(f"{self.name}: a string that is not UTF-8") from None

    def end(self) -> None:
        """Every byte must have been read: trailing bytes mean the client and server disagree on the format."""
        if self.pos != len(self.body):
            raise MalformedMessage(f"{self.name} has {len(self.body) - self.pos} unexpected bytes after its fields")


def startup_parameters(body: bytes) -> dict[str, str]:
    """The startup packet's ``name NUL value NUL … NUL`` list, strictly (names unique and non-empty)."""
    if not body.endswith(b"\0"):
        raise MalformedMessage("startup packet: the parameter list does not end with a NUL")
    parts = body[:-1].split(b"\0")
    if parts[-1] != b"":
        raise MalformedMessage("startup packet: the parameter list does not end with a NUL")
    parts = parts[:-1]
    if len(parts) % 2:
        raise MalformedMessage("startup packet: a parameter without a value")
    try:
        pairs = [(parts[i].decode(), parts[i + 1].decode()) for i in range(0, len(parts), 2)]
    except UnicodeDecodeError:
        raise MalformedMessage("startup packet: a parameter that is not UTF-8") from None
    params = dict(pairs)
    if "" in params or len(params) != len(pairs):
        raise MalformedMessage("startup packet: an empty or repeated parameter name")
    return params


# -- messages the server sends ------------------------------------------------------------------
def authentication(code: int, payload: bytes = b"") -> bytes:
    return message(b"R", struct.pack("!i", code) + payload)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstring(name) + cstring(value))


def backend_key_data(process_id: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!iI", process_id, secret))


def ready_for_query(status: bytes) -> bytes:
    return message(b"Z", status)


def command_complete(tag: str) -> bytes:
    return message(b"C", cstring(tag))


def error_response(sqlstate: str, text: str, severity: str = "ERROR", hint: str | None = None) -> bytes:
    fields = b"S" + cstring(severity) + b"V" + cstring(severity) + b"C" + cstring(sqlstate) + b"M" + cstring(text)
    if hint:
        fields += b"H" + cstring(hint)
    return message(b"E", fields + b"\0")


def notice_response(text: str) -> bytes:
    return message(b"N", b"S" + cstring("NOTICE") + b"V" + cstring("NOTICE") + b"C" + cstring("00000")
                   + b"M" + cstring(text) + b"\0")


def parameter_description(oids: list[int]) -> bytes:
    return message(b"t", struct.pack(f"!h{len(oids)}i", len(oids), *oids))


def row_description(columns: list["Column"], formats: list[int]) -> bytes:
    body = struct.pack("!h", len(columns))
    for column, fmt in zip(columns, formats):
        body += cstring(column.name) + struct.pack("!ihihih", 0, 0, column.pg.oid, column.pg.size, column.typmod, fmt)
    return message(b"T", body)


def data_row(values: list[bytes | None]) -> bytes:
    parts = [struct.pack("!h", len(values))]
    for value in values:
        if value is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(struct.pack("!i", len(value)))
            parts.append(value)
    body = b"".join(parts)
    return b"D" + struct.pack("!i", len(body) + 4) + body


PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")
EMPTY_QUERY = message(b"I")


# -- SCRAM-SHA-256 (RFC 5802 / 7677), as PostgreSQL does it ---------------------------------------
SCRAM_ITERATIONS = 4096


@dataclass(frozen=True)
class ScramVerifier:
    """What the server keeps of a password: salt, stored key and server key (never the password)."""

    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, salt: bytes | None = None) -> "ScramVerifier":
        salt = salt or os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        return cls(salt, hashlib.sha256(client_key).digest(), hmac.digest(salted, b"Server Key", "sha256"))


class ScramExchange:
    """One server-side SCRAM-SHA-256 exchange. ``verifier`` None (unknown user) runs the exchange
    with a throw-away salt and fails at the end, so user names cannot be probed."""

    MECHANISM = "SCRAM-SHA-256"

    def __init__(self, verifier: ScramVerifier | None) -> None:
        self.verifier = verifier or ScramVerifier.from_password(os.urandom(16).hex())
        self.known = verifier is not None
        self.client_first_bare = self.server_first = self.nonce = ""

    def first(self, client_first: str) -> str:
        parts = client_first.split(",", 2)
        if len(parts) < 3 or parts[0] not in ("n", "y"):
            raise ProtocolError("SCRAM channel binding is not supported")
        bare = parts[2]
        attributes = dict(item.split("=", 1) for item in bare.split(",") if "=" in item)
        if "r" not in attributes:
            raise ProtocolError("SCRAM client-first-message without a nonce")
        self.client_first_bare = bare
        self.nonce = attributes["r"] + base64.b64encode(os.urandom(18)).decode()
        salt = base64.b64encode(self.verifier.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={SCRAM_ITERATIONS}"
        return self.server_first

    def final(self, client_final: str) -> str | None:
        """The server-final-message if the proof is right, else None."""
        without_proof, _, proof = client_final.rpartition(",p=")
        attributes = dict(item.split("=", 1) for item in without_proof.split(",") if "=" in item)
        if attributes.get("r") != self.nonce or not proof:
            return None
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(self.verifier.stored_key, auth_message, "sha256")
        try:
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
        except ValueError:
            return None
        if not self.known or not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.verifier.stored_key):
            return None
        server_signature = hmac.digest(self.verifier.server_key, auth_message, "sha256")
        return "v=" + base64.b64encode(server_signature).decode()


# -- types ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PgType:
    oid: int
    name: str      # pg_type.typname
    display: str   # format_type()
    size: int      # typlen (-1: variable)
    category: str  # typcategory
    array_oid: int = 0


TYPES = {t.name: t for t in [
    PgType(16, "bool", "boolean", 1, "B", 1000),
    PgType(17, "bytea", "bytea", -1, "U", 1001),
    PgType(18, "char", '"char"', 1, "Z", 1002),
    PgType(19, "name", "name", 64, "S", 1003),
    PgType(20, "int8", "bigint", 8, "N", 1016),
    PgType(21, "int2", "smallint", 2, "N", 1005),
    PgType(23, "int4", "integer", 4, "N", 1007),
    PgType(25, "text", "text", -1, "S", 1009),
    PgType(26, "oid", "oid", 4, "N", 1028),
    PgType(114, "json", "json", -1, "U", 199),
    PgType(700, "float4", "real", 4, "N", 1021),
    PgType(701, "float8", "double precision", 8, "N", 1022),
    PgType(705, "unknown", "unknown", -2, "X"),
    PgType(1043, "varchar", "character varying", -1, "S", 1015),
    PgType(1082, "date", "date", 4, "D", 1182),
    PgType(1083, "time", "time without time zone", 8, "D", 1183),
    PgType(1114, "timestamp", "timestamp without time zone", 8, "D", 1115),
    PgType(1184, "timestamptz", "timestamp with time zone", 8, "D", 1185),
    PgType(1186, "interval", "interval", 16, "T", 1187),
    PgType(1700, "numeric", "numeric", -1, "N", 1231),
    PgType(2950, "uuid", "uuid", 16, "U", 2951),
    PgType(1000, "_bool", "boolean[]", -1, "A"),
    PgType(1001, "_bytea", "bytea[]", -1, "A"),
    PgType(1005, "_int2", "smallint[]", -1, "A"),
    PgType(1007, "_int4", "integer[]", -1, "A"),
    PgType(1016, "_int8", "bigint[]", -1, "A"),
    PgType(1021, "_float4", "real[]", -1, "A"),
    PgType(1022, "_float8", "double precision[]", -1, "A"),
    PgType(1009, "_text", "text[]", -1, "A"),
    PgType(1015, "_varchar", "character varying[]", -1, "A"),
    PgType(1028, "_oid", "oid[]", -1, "A"),
    PgType(1231, "_numeric", "numeric[]", -1, "A"),
    PgType(1182, "_date", "date[]", -1, "A"),
    PgType(1183, "_time", "time without time zone[]", -1, "A"),
    PgType(1115, "_timestamp", "timestamp without time zone[]", -1, "A"),
    PgType(1185, "_timestamptz", "timestamp with time zone[]", -1, "A"),
    PgType(2951, "_uuid", "uuid[]", -1, "A"),
]}
BY_OID = {t.oid: t for t in TYPES.values()}
ELEMENT_OF = {t.array_oid: t.oid for t in TYPES.values() if t.array_oid}  # array type OID -> element type OID


def pg_type(arrow: pa.DataType) -> PgType:
    """The PostgreSQL type a column of this Arrow type is announced as."""
    t = pa.types
    if t.is_boolean(arrow):
        return TYPES["bool"]
    if t.is_int8(arrow) or t.is_int16(arrow) or t.is_uint8(arrow):
        return TYPES["int2"]
    if t.is_int32(arrow) or t.is_uint16(arrow):
        return TYPES["int4"]
    if t.is_int64(arrow) or t.is_uint32(arrow):
        return TYPES["int8"]
    if t.is_uint64(arrow) or t.is_decimal(arrow):
        return TYPES["numeric"]
    if t.is_float16(arrow) or t.is_float32(arrow):
        return TYPES["float4"]
    if t.is_float64(arrow):
        return TYPES["float8"]
    if t.is_date(arrow):
        return TYPES["date"]
    if t.is_time(arrow):
        return TYPES["time"]
    if t.is_timestamp(arrow):
        return TYPES["timestamptz"] if arrow.tz else TYPES["timestamp"]
    if t.is_duration(arrow) or t.is_interval(arrow):
        return TYPES["interval"]
    if t.is_binary(arrow) or t.is_large_binary(arrow) or t.is_fixed_size_binary(arrow) or t.is_binary_view(arrow):
        return TYPES["bytea"]
    if t.is_list(arrow) or t.is_large_list(arrow) or t.is_fixed_size_list(arrow) or t.is_list_view(arrow):
        element = pg_type(arrow.value_type)
        return BY_OID.get(element.array_oid, TYPES["_text"])
    if t.is_struct(arrow) or t.is_map(arrow):
        return TYPES["json"]
    return TYPES["text"]


def typmod(arrow: pa.DataType) -> int:
    """atttypmod: numeric(p, s) keeps its precision and scale, everything else -1."""
    if pa.types.is_decimal(arrow):
        return ((arrow.precision << 16) | arrow.scale) + 4
    return -1


@dataclass(frozen=True)
class Column:
    name: str
    arrow: pa.DataType
    pg: PgType
    typmod: int

    @classmethod
    def of(cls, field: pa.Field) -> "Column":
        return cls(field.name, field.type, pg_type(field.type), typmod(field.type))


def _text_scalar(value: Any) -> str:
    """PostgreSQL's text output of one Python value (for the types without a vectorised path)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        if value.tzinfo is not None and text.endswith(":00") and text[-6] in "+-":
            text = text[:-3]  # +00:00 -> +00, as PostgreSQL prints it
        return text
    if isinstance(value, (dt.date, dt.time, decimal.Decimal)):
        return str(value) if not isinstance(value, dt.time) else value.isoformat()
    if isinstance(value, dt.timedelta):
        return _interval(0, 0, (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if hasattr(value, "days") and hasattr(value, "months"):  # pyarrow's MonthDayNano (a named tuple)
        return _interval(value.months, value.days, int(value.nanoseconds / 1000))
    if isinstance(value, (list, tuple)):
        return "{" + ",".join("NULL" if v is None else _array_element(_text_scalar(v)) for v in value) + "}"
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _interval(months: int, days: int, micros: int) -> str:
    """An interval as PostgreSQL prints it (IntervalStyle postgres): ``1 year 2 mons 3 days 04:05:06.5``."""
    parts = []
    sign = "-" if months < 0 else ""
    years, months = divmod(abs(months), 12)
    for amount, unit in ((years, "year"), (months, "mon"), (days, "day")):
        if amount:
            parts.append(f"{sign if unit != 'day' else ''}{amount} {unit}{'s' if abs(amount) != 1 else ''}")
    if micros or not parts:
        negative, micros = micros < 0, abs(micros)
        seconds, fraction = divmod(micros, 1_000_000)
        clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        parts.append(("-" if negative else "") + clock + (f".{fraction:06d}".rstrip("0") if fraction else ""))
    return " ".join(parts)


def _array_element(text: str) -> str:
    if text == "" or any(c in text for c in ' ,{}"\\') or text.upper() == "NULL":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def text_values(array: pa.Array) -> list[bytes | None]:
    """One column of a batch in PostgreSQL's text format."""
    kind = array.type
    if (pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind) or pa.types.is_date(kind) or pa.types.is_string_view(kind)):
        strings = array if pa.types.is_string(kind) else pc.cast(array, pa.string())
        return [None if v is None else v.encode() for v in strings.to_pylist()]
    if pa.types.is_struct(kind) or pa.types.is_map(kind):
        return [None if v is None else json.dumps(dict(v) if pa.types.is_map(kind) else v, default=str).encode()
                for v in array.to_pylist()]
    return [None if v is None else _text_scalar(v).encode() for v in array.to_pylist()]


_PG_EPOCH = dt.date(2000, 1, 1)
_PG_EPOCH_TS = dt.datetime(2000, 1, 1)


def _binary_scalar(oid: int, value: Any) -> bytes:
    if oid == 16:
        return b"\x01" if value else b"\x00"
    if oid == 21:
        return struct.pack("!h", value)
    if oid == 23:
        return struct.pack("!i", value)
    if oid == 20:
        return struct.pack("!q", value)
    if oid == 700:
        return struct.pack("!f", value)
    if oid == 701:
        return struct.pack("!d", value)
    if oid == 1082:
        return struct.pack("!i", (value - _PG_EPOCH).days)
    if oid in (1114, 1184):
        naive = value.replace(tzinfo=None) - (value.utcoffset() or dt.timedelta()) if value.tzinfo else value
        delta = naive - _PG_EPOCH_TS
        return struct.pack("!q", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if oid == 17:
        return bytes(value)
    if oid == 1700:
        return _numeric_to_binary(decimal.Decimal(value))
    if oid == 1083:
        return struct.pack("!q", ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond)
    if oid == 1186:
        if isinstance(value, dt.timedelta):
            return struct.pack("!qii", value.seconds * 1_000_000 + value.microseconds, value.days, 0)
        return struct.pack("!qii", int(value.nanoseconds // 1000), value.days, value.months)  # MonthDayNano
    if oid == 2950:
        return value.bytes if hasattr(value, "bytes") else bytes.fromhex(str(value).replace("-", ""))
    if oid in ELEMENT_OF:
        return _binary_array_value(ELEMENT_OF[oid], value)
    return _text_scalar(value).encode()  # text-like types (text, varchar, name, json): the binary form is the UTF-8 text


def _numeric_to_binary(value: decimal.Decimal) -> bytes:
    """``numeric_send``: base-10000 digits with a weight, a sign and the display scale."""
    if value.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    sign, digits, exponent = value.as_tuple()
    scale = max(0, -exponent)
    text = ("".join(map(str, digits)) + "0" * max(0, exponent)).rjust(scale + 1, "0")  # an integer of 10**-scale
    whole, fraction = (text[:-scale] if scale else text) or "0", text[-scale:] if scale else ""
    whole = whole.lstrip("0")
    whole = "0" * (-len(whole) % 4) + whole
    fraction = fraction + "0" * (-len(fraction) % 4)
    groups = [int(whole[i:i + 4]) for i in range(0, len(whole), 4)] + [int(fraction[i:i + 4]) for i in range(0, len(fraction), 4)]
    weight = len(whole) // 4 - 1
    while groups and groups[0] == 0:  # leading zero groups lower the weight; trailing ones are dropped
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f"!hhHh{len(groups)}H", len(groups), weight, 0x4000 if sign else 0, scale, *groups)


def _binary_array_value(element: int, values: list[Any]) -> bytes:
    """``array_send`` of a one-dimensional list."""
    if element not in BINARY_OIDS:
        raise ProtocolError(f"binary results are not supported for arrays of type OID {element}")
    parts = [struct.pack("!iiiii", 1, int(any(v is None for v in values)), element, len(values), 1)]
    for item in values:
        if item is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            if isinstance(item, (list, tuple)):
                raise ProtocolError("binary results are not supported for nested arrays; ask for text")
            encoded = _binary_scalar(element, item)
            parts.append(struct.pack("!i", len(encoded)) + encoded)
    return b"".join(parts)


BINARY_OIDS = {16, 17, 19, 20, 21, 23, 25, 114, 700, 701, 1043, 1082, 1083, 1114, 1184, 1186, 1700, 2950}
BINARY_OIDS |= {array for array, element in ELEMENT_OF.items() if element in BINARY_OIDS}


def binary_values(array: pa.Array, column: Column) -> list[bytes | None]:
    """One column in PostgreSQL's binary format (only for :data:`BINARY_OIDS`)."""
    if column.pg.oid in (25, 1043, 114):
        return text_values(array)
    return [None if v is None else _binary_scalar(column.pg.oid, v) for v in array.to_pylist()]


def encoder(column: Column, fmt: int) -> Callable[[pa.Array], list[bytes | None]]:
    if fmt == 1:
        if column.pg.oid not in BINARY_OIDS:
            raise ProtocolError(f"binary results are not supported for type {column.pg.name}")
        return lambda array: binary_values(array, column)
    return text_values


# -- parameters -----------------------------------------------------------------------------------
def decode_parameter(raw: bytes | None, oid: int, fmt: int) -> Any:
    """A bound parameter value as the Python value fedq expects (qmark parameters)."""
    if raw is None:
        return None
    if oid in ELEMENT_OF:
        return _binary_array(raw, ELEMENT_OF[oid]) if fmt == 1 else text_array(raw.decode(), ELEMENT_OF[oid])
    if fmt == 1:
        if oid == 16:
            return raw != b"\x00"
        if oid in (21, 23, 20, 26):
            return int.from_bytes(raw, "big", signed=oid != 26)
        if oid == 700:
            return struct.unpack("!f", raw)[0]
        if oid == 701:
            return struct.unpack("!d", raw)[0]
        if oid == 1082:
            return _PG_EPOCH + dt.timedelta(days=struct.unpack("!i", raw)[0])
        if oid in (1114, 1184):
            value = _PG_EPOCH_TS + dt.timedelta(microseconds=struct.unpack("!q", raw)[0])
            return value.replace(tzinfo=dt.timezone.utc) if oid == 1184 else value
        if oid == 1700:
            return _numeric_from_binary(raw)
        if oid == 17:
            return bytes(raw)
        if oid in (0, 25, 705, 1043, 19):
            return raw.decode()
        raise ProtocolError(f"binary parameters of type OID {oid} are not supported; send them as text")
    text = raw.decode()
    if oid in (0, 705) and _UNTYPED_DATE.match(text):
        return dt.date.fromisoformat(text[:10])  # JDBC's setDate: untyped 'yyyy-mm-dd +hh', a date wherever PostgreSQL infers one
    if oid == 16:
        return text.lower() in ("t", "true", "1", "y", "yes", "on")
    if oid in (20, 21, 23, 26):
        return int(text)
    if oid in (700, 701):
        return float(text)
    if oid == 1700:
        return decimal.Decimal(text)
    if oid == 1082:
        return dt.date.fromisoformat(text)
    if oid in (1114, 1184):
        value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        return value
    if oid == 17:
        return bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode()
    return text


_UNTYPED_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} [+-]\d{2}(:\d{2})?$")


def _numeric_from_binary(raw: bytes) -> decimal.Decimal:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", raw)
    if sign == 0xC000:
        return decimal.Decimal("NaN")
    digits = struct.unpack_from(f"!{ndigits}H", raw, 8)
    value = decimal.Decimal(0)
    for i, digit in enumerate(digits):
        value += decimal.Decimal(digit).scaleb(4 * (weight - i))
    value = value.quantize(decimal.Decimal(1).scaleb(-dscale)) if dscale else value.to_integral_value()
    return -value if sign == 0x4000 else value


def _binary_array(raw: bytes, element: int) -> list[Any]:
    """An array parameter in binary format (``array_send``): dimensions, then each element in its own binary format."""
    try:
        return _read_binary_array(Reader(raw, "array parameter"), element)
    except MalformedMessage as error:  # a bad value, not a bad message: the statement fails, the session goes on
        raise ValueError(str(error)) from None


def _read_binary_array(message: Reader, element: int) -> list[Any]:
    dimensions, _, sent_element = message.int32(), message.int32(), message.int32()
    if not 0 <= dimensions <= 6:
        raise ValueError(f"an array of {dimensions} dimensions")
    if dimensions and sent_element != element:
        raise ValueError(f"array elements of type OID {sent_element} in an array of type OID {element}")
    sizes = [(message.int32(), message.int32())[0] for _ in range(dimensions)]
    values = []
    for _ in range(math.prod(sizes) if sizes else 0):
        length = message.int32()
        values.append(None if length == -1 else decode_parameter(message.bytes(length), element, 1))
    message.end()
    for size in reversed(sizes[1:]):  # nest the flat elements, innermost dimension first
        values = [values[i:i + size] for i in range(0, len(values), size)]
    return values


def text_array(text: str, element: int) -> list[Any]:
    """An array in PostgreSQL's text form (``{1,2}``, ``{"a b",NULL}``, ``{{1,2},{3,4}}``), its elements decoded
    as text parameters of type ``element``."""
    position = 0

    def items() -> list[Any]:
        nonlocal position
        if text[position:position + 1] != "{":
            raise ValueError(f"malformed array literal: {text!r} (expected '{{' at position {position + 1})")
        position += 1
        values: list[Any] = []
        while True:
            if text[position:position + 1] == "}" and not values:
                position += 1
                return values
            if text[position:position + 1] == "{":
                values.append(items())
            elif text[position:position + 1] == '"':
                end, chunk = position + 1, []
                while end < len(text) and text[end] != '"':
                    if text[end] == "\\":
                        end += 1
                    chunk.append(text[end:end + 1])
                    end += 1
                if end >= len(text):
                    raise ValueError(f"malformed array literal: {text!r} (an unterminated quoted element)")
                values.append(decode_parameter("".join(chunk).encode(), element, 0))
                position = end + 1
            else:
                end = position
                while end < len(text) and text[end] not in ",}":
                    end += 1
                word = text[position:end].strip()
                if not word or "{" in word:
                    raise ValueError(f"malformed array literal: {text!r} (an empty or misplaced element at position {position + 1})")
                values.append(None if word.upper() == "NULL" else decode_parameter(word.encode(), element, 0))
                position = end
            separator = text[position:position + 1]
            position += 1
            if separator == "}":
                return values
            if separator != ",":
                raise ValueError(f"malformed array literal: {text!r} (expected ',' or '}}' at position {position})")

    values = items()
    if text[position:].strip():
        raise ValueError(f"malformed array literal: {text!r} (text after the closing '}}')")
    return values
