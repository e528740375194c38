"""Keeping secrets out of catalog files: a clear-text password or token in a source definition is
moved into the system keyring and the definition keeps a ``${keyring:fedq/…}`` reference instead.

Used whenever fedq writes a definition (the home catalog, ``fedq catalog export``). A password in
a URL DSN (``postgresql://u:pw@h/db``) or in a libpq key=value DSN (``host=h password=pw``, see
:mod:`fedq.catalog.conninfo`) becomes ``${keyring:fedq/<source>.dsn}`` in place of the password; for
a key=value DSN the keyring holds the value escaped as it stands bare in the DSN (the same text as
the password unless it has spaces, quotes or backslashes), so reading the reference back gives the
DSN as written.

Secrets are written only to a keyring backend that keeps them encrypted or in an OS credential
store (:data:`TRUSTED_KEYRINGS`); another backend (keyrings.alt's PlaintextKeyring, the null and
fail backends, a chain whose first backend is one of those) is refused with an error naming it,
unless ``FEDQ_TRUSTED_KEYRING`` names its class (``module.Class``, comma-separated for several):
an explicit opt-in for a store the user has vetted. Reading a ``${keyring:…}`` reference works
through any backend, because it writes nothing and the user chose where that secret lives.
"""
from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from fedq.catalog import conninfo
from fedq.catalog.config import REFERENCE
from fedq.errors import ProgrammingError

KEYRING_SERVICE = "fedq"
SECRET_KEY = re.compile(r"password|passwd|secret|token|api[_-]?key|authorization|credential", re.IGNORECASE)
SECRET_CONTAINERS = {"headers"}  # every value of these dict settings is a credential (REST auth headers)
CONNINFO_SETTINGS = {"dsn"}  # settings whose value may be a libpq key=value DSN
TRUSTED_KEYRINGS = frozenset({  # backends that encrypt or hand secrets to the OS credential store
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
    "keyrings.alt.file.EncryptedKeyring",
})
TRUSTED_KEYRING_ENV = "FEDQ_TRUSTED_KEYRING"


def _is_reference(value: str) -> bool:
    return REFERENCE.fullmatch(value) is not None


def backend_name(backend: Any) -> str:
    """``module.Class`` of a keyring backend, as ``PYTHON_KEYRING_BACKEND`` spells it."""
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _trusted(backend: Any) -> bool:
    opted_in = {name.strip() for name in os.environ.get(TRUSTED_KEYRING_ENV, "").split(",") if name.strip()}
    return backend_name(backend) in TRUSTED_KEYRINGS | opted_in


def _writer(backend: Any) -> Any | None:
    """The backend a secret would really be written to (a chain writes to its first backend);
    None for an empty chain."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return next(iter(backend.backends), None)
    return backend


def secure_keyring(source: str, setting: str) -> Any:
    """The keyring backend to write ``source``'s secret ``setting`` to; ProgrammingError if there
    is none or it is not trusted to keep secrets (the message names it and how to fix it)."""
    where = f"source '{source}': setting '{setting}' holds a secret and fedq never writes secrets in clear text"
    try:
        import keyring
        from keyring.backends.fail import Keyring as NoKeyring
    except ImportError:
        raise ProgrammingError(f"{where}; the keyring package is not installed (pip install 'fedq[keyring]'), "
                               "so write it as ${ENV_VAR} or ${keyring:service/user}") from None
    backend = _writer(keyring.get_keyring())
    if backend is None or isinstance(backend, NoKeyring):
        raise ProgrammingError(f"{where}; no keyring is available here, so write it as ${{ENV_VAR}} "
                               "or ${keyring:service/user}")
    if not _trusted(backend):
        raise ProgrammingError(
            f"{where}; the keyring backend {backend_name(backend)} is not one fedq trusts to keep secrets "
            "(it may store them unencrypted or discard them). Use a secure backend (Secret Service, KWallet, "
            "macOS Keychain, Windows Credential Locker or keyrings.alt.file.EncryptedKeyring, e.g. with "
            f"PYTHON_KEYRING_BACKEND), set {TRUSTED_KEYRING_ENV}={backend_name(backend)} to trust this one, "
            "or write the setting as ${ENV_VAR} or ${keyring:service/user}")
    return backend


def _store(source: str, setting: str, secret: str) -> str:
    """Put ``secret`` in a trusted keyring and return the reference that reads it back."""
    from keyring.errors import KeyringError

    backend = secure_keyring(source, setting)
    user = f"{source}.{setting}"
    try:
        backend.set_password(KEYRING_SERVICE, user, secret)
    except KeyringError as error:
        raise ProgrammingError(f"source '{source}': setting '{setting}': the keyring refused the secret "
                               f"({type(error).__name__})") from None
    return f"${{keyring:{KEYRING_SERVICE}/{user}}}"


def _protect_url(source: str, setting: str, url: str) -> str:
    """A URL with a clear-text password (``user:pw@`` or a ``password=`` query parameter, which
    libpq reads too) gets a keyring reference in the password's place."""
    parts = urlsplit(url)
    if "://" not in url:
        return url
    if parts.password is not None:
        written = parts.netloc.rpartition("@")[0].partition(":")[2]  # the password as written in the URL
        if not (_is_reference(unquote(written)) or _is_reference(written)):
            reference = _store(source, setting, unquote(written))
            user, _, host = parts.netloc.rpartition("@")
            parts = parts._replace(netloc=f"{user.partition(':')[0]}:{reference}@{host}")
    protected = parts._replace(query=_protect_query(source, setting, parts.query))
    return url if protected == urlsplit(url) else urlunsplit(protected)


def _protect_query(source: str, setting: str, query: str) -> str:
    """A URL query with ``password``/``sslpassword`` values moved to the keyring (as written, still
    percent-encoded, so the reference reads back the same query)."""
    pieces = []
    for piece in query.split("&") if query else []:
        key, equals, value = piece.partition("=")
        keyword = unquote(key)
        if equals and value and keyword in conninfo.SECRET_KEYWORDS and not REFERENCE.search(unquote(value)):
            piece = f"{key}={_store(source, f'{setting}.{keyword}', value)}"
        pieces.append(piece)
    return "&".join(pieces)


def _protect_conninfo(source: str, setting: str, dsn: str) -> str:
    """A key=value DSN whose ``password`` (or ``sslpassword``) is clear text gets a keyring
    reference in the value's place; the rest of the DSN is kept as written."""
    try:
        pairs = conninfo.spans(dsn)
    except ValueError as error:
        raise ProgrammingError(f"source '{source}': setting '{setting}': {error}") from None
    replaced: list[tuple[int, int, str]] = []
    for keyword, value, start, end in pairs:  # in order: a repeated keyword's last value is stored last, as libpq uses it
        if keyword not in conninfo.SECRET_KEYWORDS or not value or REFERENCE.search(value):
            continue  # a value with a ${…} reference in it is read from where the user keeps it
        name = setting if keyword == "password" else f"{setting}.{keyword}"
        replaced.append((start, end, conninfo.quote(_store(source, name, conninfo.escape_bare(value)))))
    for start, end, reference in reversed(replaced):  # from the end, so earlier positions stay valid
        dsn = dsn[:start] + reference + dsn[end:]
    return dsn


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
        elif isinstance(value, str) and key in CONNINFO_SETTINGS and conninfo.is_conninfo(value):
            safe[key] = _protect_conninfo(source, setting, value)
        elif isinstance(value, str):
            safe[key] = _protect_url(source, setting, value)
        else:
            safe[key] = value
    return safe
