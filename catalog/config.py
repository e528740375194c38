"""Reading a catalog file: TOML, ``${ENV_VAR}`` and ``${keyring:service/user}`` references,
paths relative to the file.

A catalog file has three sections, all optional: ``[sources.NAME]`` (a ``type`` and its
settings), ``[views.NAME]`` (``sql = "SELECT …"``) and ``[server]`` (settings of ``fedq serve``).
References are resolved when the file is read, so the file itself never needs a secret in clear text.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from fedq.errors import ProgrammingError

REFERENCE = re.compile(r"\$\{(?:keyring:(?P<service>[^/}]+)/(?P<user>[^}]+)|(?P<env>[A-Za-z_][A-Za-z0-9_]*))\}")
PATH_OPTIONS = {"path"}
URL_OPTIONS = {"url"}
SECTIONS = {"sources", "views", "server"}


def keyring_secret(service: str, user: str, where: str) -> str:
    """The password stored in the system keyring under ``service``/``user``."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise ProgrammingError(f"{where}: ${{keyring:{service}/{user}}} needs the keyring package "
                               "(pip install 'fedq[keyring]')") from None
    try:
        secret = keyring.get_password(service, user)
    except KeyringError as error:
        raise ProgrammingError(f"{where}: the keyring cannot be read ({type(error).__name__})") from None
    if secret is None:
        raise ProgrammingError(f"{where}: no keyring entry for service '{service}', user '{user}'")
    return secret


def interpolate(value: Any, where: str) -> Any:
    """Replace ``${NAME}`` with the environment variable's value and ``${keyring:service/user}``
    with the keyring entry, in every string of ``value``."""
    if isinstance(value, str):
        def lookup(match: re.Match[str]) -> str:
            if match.group("env"):
                name = match.group("env")
                if name not in os.environ:
                    raise ProgrammingError(f"{where}: environment variable ${{{name}}} is not set")
                return os.environ[name]
            return keyring_secret(match.group("service"), match.group("user"), where)

        return REFERENCE.sub(lookup, value)
    if isinstance(value, dict):
        return {k: interpolate(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, where) for v in value]
    return value


def resolve_relative(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make ``path`` and scheme-less ``url`` options relative to the catalog file's folder."""
    resolved = dict(options)
    for key in PATH_OPTIONS & resolved.keys():
        if not isinstance(resolved[key], str):
            continue  # not a path: the source's settings check names it (sources/settings.py)
        path = Path(resolved[key]).expanduser()
        resolved[key] = str(path if path.is_absolute() else (base / path).resolve())
    for key in URL_OPTIONS & resolved.keys():
        url = resolved[key]
        if isinstance(url, str) and "://" not in url:
            path = Path(url).expanduser()
            resolved[key] = str(path if path.is_absolute() else (base / path).resolve())
    return resolved


@dataclass
class CatalogDocument:
    """A catalog file as written: sources and server settings keep their ``${…}`` references
    (``resolved_sources`` / ``resolved_server`` fill them in); views are SQL text."""

    path: Path
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {sql, columns: {name: type, …}}
    server: dict[str, Any] = field(default_factory=dict)

    def resolved_source(self, name: str) -> dict[str, Any]:
        where = f"catalog file {self.path}, [sources.{name}]"
        return resolve_relative(interpolate(self.sources[name], where), self.path.parent.resolve())

    def resolved_server(self) -> dict[str, Any]:
        return interpolate(self.server, f"catalog file {self.path}, [server]")


def read_catalog_document(path: str | os.PathLike[str]) -> CatalogDocument:
    """Parse and check a catalog file without resolving its references."""
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ProgrammingError(f"catalog file not found: {file}") from None
    except tomllib.TOMLDecodeError as error:
        raise ProgrammingError(f"catalog file {file}: invalid TOML: {error}") from None
    unknown = set(document) - SECTIONS
    if unknown:
        raise ProgrammingError(f"catalog file {file}: unknown section(s) {sorted(unknown)}; "
                               "expected [sources.NAME], [views.NAME] or [server]")
    result = CatalogDocument(file)
    for name, options in document.get("sources", {}).items():
        if not isinstance(options, dict) or "type" not in options:
            raise ProgrammingError(f"catalog file {file}, [sources.{name}]: missing setting 'type'")
        result.sources[name] = dict(options)
    for name, options in document.get("views", {}).items():
        if (not isinstance(options, dict) or not isinstance(options.get("sql"), str)
                or not set(options) <= {"sql", "columns"} or not isinstance(options.get("columns", {}), dict)):
            raise ProgrammingError(f"catalog file {file}, [views.{name}]: a view has sql = \"SELECT …\" "
                                   "(and optionally the columns it had when it was created)")
        result.views[name] = dict(options)
    server = document.get("server", {})
    if not isinstance(server, dict):
        raise ProgrammingError(f"catalog file {file}: [server] must be a table of settings")
    result.server = dict(server)
    return result


def load_server_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[server]`` section of a catalog file (for ``fedq serve``), references resolved.

    Known settings: ``host`` (default 127.0.0.1), ``port`` and ``users`` (a table of
    user name -> password, normally ``"${ENV}"`` or ``"${keyring:service/user}"`` references)."""
    return read_catalog_document(path).resolved_server()
