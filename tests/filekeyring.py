"""The test suite's keyring backend: a JSON file per test (``$FEDQ_TEST_KEYRING_FILE``).

Tests must not touch the user's keyring, and fedq refuses to write secrets to keyrings.alt's
plaintext backend, so the ``fedq_home`` fixture selects this class (``PYTHON_KEYRING_BACKEND``) and
trusts it explicitly (``FEDQ_TRUSTED_KEYRING``), the opt-in a user has for a backend they vetted.
The file is re-read on every call, so each test (and its subprocesses, which get ``tests/`` on
``PYTHONPATH``) sees only its own entries. It keeps secrets in clear: a test fixture, never for use.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

FILE_ENV = "FEDQ_TEST_KEYRING_FILE"
NAME = f"{__name__}.FileKeyring"


class FileKeyring(KeyringBackend):
    """Entries ``{"service\\x00user": password}`` in the file named by ``$FEDQ_TEST_KEYRING_FILE``."""

    priority = 1  # type: ignore[assignment]  # only ever chosen by name

    @staticmethod
    def _path() -> Path:
        return Path(os.environ[FILE_ENV])

    def _entries(self) -> dict[str, str]:
        try:
            return json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}

    def _write(self, entries: dict[str, str]) -> None:
        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries))
        temporary.replace(path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._write({**self._entries(), f"{service}\x00{username}": password})

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}\x00{username}", None) is None:
            raise PasswordDeleteError(f"no entry for {service}/{username}")
        self._write(entries)
