"""Source settings checked against their declarations, before a source is made.

A source's settings are its dataclass fields: the field's type (``str``, ``bool``, ``int``, ``float``,
``dict[str, str]`` …) says what a value must be, and ``Annotated[…, Range(…)]`` / ``OneOf(…)`` add
the allowed values. :func:`check_settings` applies those declarations to whatever a catalog file,
``Connection.attach`` or SQL ``ATTACH`` gives, so every setting of every source type gets the same
error, naming the source, the key, the expected type and the value, instead of a TypeError deep
inside a driver (``path = 5``) or a value silently accepted (``metadata_ttl = -5``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from fedq.errors import ProgrammingError, redact

SHOWN_VALUE = 80  # characters of a wrong value echoed in the error


@dataclass(frozen=True)
class Range:
    """A number's allowed interval: ``low``/``high`` bounds (None: unbounded), ``above``: ``low`` excluded."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def allows(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        low = None if self.low is None else f"{'above' if self.above else 'at least'} {self.low:g}"
        high = None if self.high is None else f"at most {self.high:g}"
        return " and ".join(p for p in (low, high) if p)


@dataclass(frozen=True)
class OneOf:
    """A text's allowed values."""

    values: tuple[str, ...]

    def allows(self, value: str) -> bool:
        return value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


POSITIVE = Range(0, above=True)  # seconds, rates: more than 0
NOT_NEGATIVE = Range(0)  # 0 means "no limit" or "never cache"
AT_LEAST_ONE = Range(1)  # counts of connections, attempts, pages


@dataclass
class CatalogSettings:
    """Settings the catalog keeps for every source, whatever its type."""

    metadata_ttl: Annotated[float, NOT_NEGATIVE] = 300.0  # seconds a table list and schemas are trusted


@dataclass
class ConnectionSettings:
    """The engine settings of ``fedq.connect()`` (fedq/dbapi.py Connection, where the defaults are),
    checked like a source's."""

    pushdown: bool
    dynamic_filtering: bool
    memory_limit: str | None  # DuckDB's syntax ("4GB"); DuckDB itself reads the text
    temp_directory: str | None
    timeout: Annotated[float, POSITIVE] | None  # seconds; None: no deadline
    max_statement_length: Annotated[int, AT_LEAST_ONE]  # characters


def check_connection_settings(**settings: Any) -> dict[str, Any]:
    """``fedq.connect()``'s keyword settings checked against :class:`ConnectionSettings`."""
    return check_values("fedq.connect()", declared(ConnectionSettings), settings)


def _describe(hint: Any) -> str:
    """The expected type in words, for the error message."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        rules = [a.describe() for a in hint.__metadata__ if isinstance(a, (Range, OneOf))]
        return " ".join([_describe(args[0]), *([f"({', '.join(rules)})"] if rules else [])])
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is dict:
        inner = args[1] if args else Any
        return "a table of settings" if inner is Any else f"a table whose values are each {_describe(inner)}"
    if origin is list:
        inner = args[0] if args else Any
        return "a list" if inner is Any else f"a list whose items are each {_describe(inner)}"
    return {bool: "a boolean (true or false)", int: "a whole number", float: "a number", str: "a text"}.get(hint, str(hint))


def _conform(value: Any, hint: Any) -> tuple[bool, Any]:
    """(whether ``value`` is what ``hint`` declares, the value to use: ints become floats where a
    float is declared)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True, value
    if origin is Annotated:
        ok, value = _conform(value, args[0])
        return (ok and all(rule.allows(value) for rule in hint.__metadata__ if isinstance(rule, (Range, OneOf)))), value
    if origin in (Union, types.UnionType):
        for option in args:
            ok, conformed = _conform(value, option)
            if ok:
                return True, conformed
        return False, value
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        key_hint, value_hint = args or (Any, Any)
        pairs = [(_conform(k, key_hint), _conform(v, value_hint)) for k, v in value.items()]
        return all(k[0] and v[0] for k, v in pairs), {k[1]: v[1] for k, v in pairs}
    if origin is list:
        if not isinstance(value, list):
            return False, value
        items = [_conform(v, args[0] if args else Any) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if hint is type(None):
        return value is None, value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and not math.isnan(value), float(value) if ok else value  # NaN is no setting
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if isinstance(hint, type):
        return isinstance(value, hint), value
    return True, value


def source_settings(cls: type) -> dict[str, tuple[Any, bool]]:
    """:func:`declared` for a source class: its fields plus the catalog's own settings."""
    return declared(cls, CatalogSettings)


@functools.cache
def declared(*owners: type) -> dict[str, tuple[Any, bool]]:
    """Setting name -> (declared type, whether its value is secret: a ``repr=False`` field), for the
    fields of the dataclasses ``owners``."""
    result: dict[str, tuple[Any, bool]] = {}
    for owner in owners:
        hints = typing.get_type_hints(owner, include_extras=True)
        for f in dataclasses.fields(owner):
            if f.init and f.name != "name" and not f.name.startswith("_"):
                result[f.name] = (hints[f.name], not f.repr)
    return result


KINDS = {bool: "a boolean", int: "a whole number", float: "a number", str: "a text", dict: "a table", list: "a list"}


def _shown(value: Any, secret: bool) -> str:
    """The wrong value as the error shows it: its repr, shortened and without passwords; a secret
    setting's value only by its kind."""
    if secret:
        return f"{KINDS.get(type(value), type(value).__name__)} (value not shown)"
    text = redact(repr(value))
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + "…"


def check_settings(cls: type, source: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``cls``'s declarations (and the catalog's own settings); floats
    for ints where a number is declared. A ProgrammingError names the source, the setting, the
    expected type and the value (secret settings: only its type)."""
    return check_values(f"source '{source}' ({cls.type_name})", source_settings(cls), options)


def check_values(where: str, known: dict[str, tuple[Any, bool]], options: dict[str, Any]) -> dict[str, Any]:
    """:func:`check_settings` for any declarations (``where`` starts the error text)."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ProgrammingError(f"{where}: unknown setting(s) {unknown}; allowed: {sorted(known)}")
    checked = {}
    for key, value in options.items():
        hint, secret = known[key]
        ok, checked[key] = _conform(value, hint)
        if not ok:
            raise ProgrammingError(f"{where}: setting '{key}' must be {_describe(hint)}, not {_shown(value, secret)}")
    return checked


def from_sql_text(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """SQL ``ATTACH`` options, whose values are literals (``MAX_PARALLEL_READS '4'``, ``PASSTHROUGH 'on'``),
    converted to the declared scalar types where the text reads as one; anything else is left for
    :func:`check_settings` to refuse with its message."""
    known = source_settings(cls)
    return {key: _from_text(value, known[key][0]) if key in known else value for key, value in options.items()}


_TRUE, _FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def _from_text(value: Any, hint: Any) -> Any:
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if hint is bool:
        return True if text in _TRUE else False if text in _FALSE else value
    try:
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        return value
    return value
