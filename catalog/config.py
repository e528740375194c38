"""Reading a catalog file: TOML, ``${ENV_VAR}`` references, paths relative to the file."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from fedq.errors import ProgrammingError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PATH_OPTIONS = {"path"}
URL_OPTIONS = {"url"}


def interpolate(value: Any, where: str) -> Any:
    """Replace ``${NAME}`` in every string of ``value`` with the environment variable's value."""
    if isinstance(value, str):
        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ProgrammingError(f"{where}: environment variable ${{{name}}} is not set")
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {k: interpolate(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, where) for v in value]
    return value


def resolve_relative(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make ``path`` and scheme-less ``url`` options relative to the catalog file's folder."""
    resolved = dict(options)
    for key in PATH_OPTIONS & resolved.keys():
        path = Path(resolved[key]).expanduser()
        resolved[key] = str(path if path.is_absolute() else (base / path).resolve())
    for key in URL_OPTIONS & resolved.keys():
        url = str(resolved[key])
        if "://" not in url:
            path = Path(url).expanduser()
            resolved[key] = str(path if path.is_absolute() else (base / path).resolve())
    return resolved


def load_catalog_file(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Source definitions (name -> options including ``type``) from a TOML catalog file."""
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ProgrammingError(f"catalog file not found: {file}") from None
    except tomllib.TOMLDecodeError as error:
        raise ProgrammingError(f"catalog file {file}: invalid TOML: {error}") from None
    unknown = set(document) - {"sources"}
    if unknown:
        raise ProgrammingError(f"catalog file {file}: unknown section(s) {sorted(unknown)}; expected [sources.NAME]")
    sources: dict[str, dict[str, Any]] = {}
    for name, options in document.get("sources", {}).items():
        where = f"catalog file {file}, [sources.{name}]"
        if not isinstance(options, dict) or "type" not in options:
            raise ProgrammingError(f"{where}: missing setting 'type'")
        sources[name] = resolve_relative(interpolate(options, where), file.parent.resolve())
    return sources
