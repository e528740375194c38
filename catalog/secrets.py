"""Keeping secrets out of catalog files: a clear-text password or token in a source definition is
moved into the system keyring and the definition keeps a ``${keyring:fedq/…}`` reference instead.

Used whenever fedq writes a definition (the home catalog, ``fedq catalog export``); if no keyring
is available the write is refused, because fedq never writes a secret in clear text.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from fedq.catalog.config import REFERENCE
from fedq.errors import ProgrammingError

KEYRING_SERVICE = "fedq"
SECRET_KEY = re.compile(r"password|passwd|secret|token|api[_-]?key|authorization|credential", re.IGNORECASE)
SECRET_CONTAINERS = {"headers"}  # every value of these dict settings is a credential (REST auth headers)


def _is_reference(value: str) -> bool:
    return REFERENCE.fullmatch(value) is not None


def _store(source: str, setting: str, secret: str) -> str:
    """Put ``secret`` in the keyring and return the reference that reads it back."""
    user = f"{source}.{setting}"
    try:
        import keyring
        from keyring.backends.fail import Keyring as NoKeyring
        from keyring.errors import KeyringError
    except ImportError:
        keyring = None
    if keyring is None or isinstance(keyring.get_keyring(), NoKeyring):
        raise ProgrammingError(
            f"source '{source}': setting '{setting}' holds a secret and fedq never writes secrets in clear text; "
            f"no keyring is available here, so write it as ${{ENV_VAR}} or ${{keyring:service/user}}"
        )
    try:
        keyring.set_password(KEYRING_SERVICE, user, secret)
    except KeyringError as error:
        raise ProgrammingError(f"source '{source}': setting '{setting}': the keyring refused the secret "
                               f"({type(error).__name__})") from None
    return f"${{keyring:{KEYRING_SERVICE}/{user}}}"


def _protect_url(source: str, setting: str, url: str) -> str:
    """A URL with a clear-text password gets a keyring reference in the password's place."""
    parts = urlsplit(url)
    if "://" not in url or parts.password is None:
        return url
    written = parts.netloc.rpartition("@")[0].partition(":")[2]  # the password as written in the URL
    if _is_reference(unquote(written)) or _is_reference(written):
        return url
    reference = _store(source, setting, unquote(written))
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:{reference}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _secret(source: str, setting: str, value: Any) -> Any:
    if not isinstance(value, str) or not value or _is_reference(value):
        return value
    return _store(source, setting, value)


def protect(source: str, options: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``options`` as they may be written to a file: clear-text secrets replaced by keyring references."""
    safe: dict[str, Any] = {}
    for key, value in options.items():
        setting = f"{prefix}{key}"
        if isinstance(value, dict) and key in SECRET_CONTAINERS:
            safe[key] = {k: _secret(source, f"{setting}.{k}", v) for k, v in value.items()}
        elif isinstance(value, dict):
            safe[key] = protect(source, value, f"{setting}.")
        elif isinstance(value, str) and SECRET_KEY.search(key):
            safe[key] = _secret(source, setting, value)
        elif isinstance(value, str):
            safe[key] = _protect_url(source, setting, value)
        else:
            safe[key] = value
    return safe
