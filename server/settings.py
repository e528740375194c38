"""The ``[server]`` section of a catalog file, validated: address, users and admins, and the limits that
keep an exposed server safe (connections, startup and idle deadlines, message sizes)."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from fedq.errors import ProgrammingError
from fedq.server import pgwire

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5433
_SIZE = re.compile(r"^\s*(\d+)\s*(B|kB|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}


@dataclass(frozen=True)
class ServerSettings:
    """The ``[server]`` section, validated. Every limit has a default that is safe for an exposed server."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    users: dict[str, str] = field(default_factory=dict, repr=False)  # user -> password (references resolved)
    admins: frozenset[str] = frozenset()  # users whose sessions may change the catalog
    timeout: float | None = None  # each query's deadline, seconds
    max_connections: int = 500  # open client connections, authenticated or not
    startup_timeout: float = 10.0  # seconds from TCP accept to authenticated
    idle_timeout: float = 3600.0  # seconds a logged-in client may send nothing; 0 = no limit
    max_message_size: int = 64 << 20  # bytes of one message after authentication (before: 10,000)
    engine_idle_timeout: float = 60.0  # seconds after which an idle non-admin session closes its engine; 0 = never

    @classmethod
    def from_section(cls, section: dict[str, Any], host: str | None = None, port: int | None = None) -> "ServerSettings":
        """Settings from a ``[server]`` table; ``host``/``port`` (the command line) win over the file's.
        Unknown names and wrong values are errors naming the setting."""
        known = set(cls.__dataclass_fields__)
        for name in section:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                raise ProgrammingError(f"unknown [server] setting '{name}'" + (f"; did you mean '{close[0]}'?" if close
                                       else f"; the settings are {', '.join(sorted(known))}"))
        users = section.get("users") or {}
        if not isinstance(users, dict):
            raise ProgrammingError("[server] users must be a table of user = \"password\" (normally \"${ENV_VAR}\")")
        for user, password in users.items():
            if not isinstance(password, str):
                raise ProgrammingError(f"[server] users: the password of '{user}' must be a text (normally \"${{ENV_VAR}}\"), "
                                       f"not {type(password).__name__} (value not shown)")
        if not isinstance(section.get("host", DEFAULT_HOST), str):
            raise ProgrammingError(f"[server] host must be a text (an address such as \"127.0.0.1\"), not {section['host']!r}")
        admins = section.get("admins", [])
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise ProgrammingError(f"[server] admins must be a list of user names, e.g. admins = [\"alice\"], not {admins!r}")
        if admins and not users:
            raise ProgrammingError("[server] admins needs [server] users: a server without users has no admins")
        for admin in admins:
            if admin not in users:
                raise ProgrammingError(f"[server] admins: '{admin}' is not one of the [server] users ({', '.join(sorted(users))})")
        timeout = section.get("timeout")
        return cls(
            host=str(host or section.get("host") or DEFAULT_HOST),
            port=_whole(port if port is not None else section.get("port", DEFAULT_PORT), "port", 0, 65535),
            users=users, admins=frozenset(admins),
            timeout=None if timeout is None else _seconds(timeout, "timeout", allow_zero=False),
            max_connections=_whole(section.get("max_connections", cls.max_connections), "max_connections", 1, 100_000),
            startup_timeout=_seconds(section.get("startup_timeout", cls.startup_timeout), "startup_timeout", allow_zero=False),
            idle_timeout=_seconds(section.get("idle_timeout", cls.idle_timeout), "idle_timeout", allow_zero=True),
            max_message_size=_size(section.get("max_message_size", cls.max_message_size), "max_message_size"),
            engine_idle_timeout=_seconds(section.get("engine_idle_timeout", cls.engine_idle_timeout),
                                         "engine_idle_timeout", allow_zero=True),
        )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProgrammingError(f"[server] {name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _seconds(value: Any, name: str, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        kind = "a number of seconds (0: no limit)" if allow_zero else "a positive number of seconds"
        raise ProgrammingError(f"[server] {name} must be {kind}, not {value!r}")
    return float(value)


def _size(value: Any, name: str) -> int:
    """Bytes, as a whole number or a text like ``"64MB"``."""
    match = _SIZE.match(value) if isinstance(value, str) else None
    size = value if isinstance(value, int) and not isinstance(value, bool) else \
        int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()] if match else None
    if size is None or not pgwire.MAX_STARTUP_MESSAGE <= size <= 1 << 30:
        raise ProgrammingError(f"[server] {name} must be a size from 10kB to 1GB (bytes, or a text like \"64MB\"), not {value!r}")
    return size
