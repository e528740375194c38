"""The home catalog: a directory whose ``catalog.toml`` keeps persistent sources and views.

The directory is ``connect(home=…)``, else ``$FEDQ_HOME``, else the user's config directory. Every
change is a read-modify-write of the whole file under an exclusive lock, written to a temporary file
and renamed into place, so two processes changing the catalog at once lose neither change and a
crash never leaves half a file. Definitions are written with their ``${…}`` references and with
clear-text secrets moved to the keyring (:mod:`fedq.catalog.secrets`).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import platformdirs
import tomli_w

from fedq.catalog.config import CatalogDocument, read_catalog_document
from fedq.catalog.secrets import protect
from fedq.errors import OperationalError

CATALOG_FILE = "catalog.toml"
HEADER = "# fedq home catalog: written by fedq (ATTACH … (PERSISTENT), CREATE VIEW, DROP VIEW, DETACH).\n"


def home_directory(home: str | os.PathLike[str] | None) -> Path:
    """Where the home catalog lives: the argument, else ``$FEDQ_HOME``, else the user config dir."""
    if home is not None:
        return Path(home).expanduser()
    if os.environ.get("FEDQ_HOME"):
        return Path(os.environ["FEDQ_HOME"]).expanduser()
    return Path(platformdirs.user_config_dir("fedq"))


def to_toml(document: CatalogDocument) -> str:
    """A catalog document as TOML (sources, views, server), secrets already protected."""
    data: dict[str, Any] = {}
    if document.sources:
        data["sources"] = document.sources
    if document.views:
        data["views"] = document.views
    if document.server:
        data["server"] = document.server
    return tomli_w.dumps(data)


def protected_source(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A source definition safe to write: ``type`` first, clear-text secrets moved to the keyring."""
    rest = {k: v for k, v in options.items() if k != "type"}
    return {"type": options["type"], **protect(name, rest)}


class CatalogHome:
    """Reads and changes ``<directory>/catalog.toml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / CATALOG_FILE

    def load(self) -> CatalogDocument:
        if not self.path.exists():
            return CatalogDocument(self.path)
        return read_catalog_document(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self.directory / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield
        except OSError as error:
            raise OperationalError(f"home catalog {self.directory}: cannot write: {error.strerror or error}") from None

    def update(self, change: Callable[[CatalogDocument], None]) -> None:
        """Apply ``change`` to the current file contents and write the result atomically."""
        with self._locked():
            document = self.load()
            change(document)
            text = HEADER + to_toml(document)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".catalog-", suffix=".toml")
            try:
                with os.fdopen(handle, "w") as out:
                    out.write(text)
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
