"""What a remote session may change: only ``[server] admins`` attach, detach, define views, register
data or COPY to a file, and a non-admin session's home catalog is read-only."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sqlglot import exp

from fedq.catalog.home import CatalogHome
from fedq.dbapi import Connection
from fedq.server.sqlstate import PermissionDenied


class ReadOnlyHome(CatalogHome):
    """The home catalog as a non-admin session sees it: read, never written."""

    def __init__(self, home: CatalogHome, refuse: Callable[[str], None]) -> None:
        super().__init__(home.directory)
        self._refuse = refuse

    def update(self, change: Callable[[Any], None]) -> None:
        self._refuse("changing the home catalog")


class ServedConnection(Connection):
    """A remote session's fedq connection. Every statement that changes the catalog (ATTACH, DETACH,
    CREATE/DROP VIEW, with or without PERSISTENT/TEMP) ends in one of the methods below, whatever its
    spelling, comments or case, so the admin check sits here rather than on the SQL text; and the home
    catalog of a non-admin session is read-only, so no other path can write it either."""

    def __init__(self, catalog_path: str | None, *, user: str, admin: bool, timeout: float | None,
                 users: bool) -> None:
        self.user, self.admin, self._has_users = user, admin, users
        super().__init__(catalog_path, timeout=timeout)
        if not admin and self.home is not None:
            self.home = ReadOnlyHome(self.home, self._require_admin)

    def _require_admin(self, action: str) -> None:
        if self.admin:
            return
        how = (f'add "{self.user}" to admins = [...] in the catalog file\'s [server] section' if self._has_users
               else "a server without [server] users has no admins: add users and admins = [...] to [server]")
        raise PermissionDenied(f"permission denied for {action}: only [server] admins may change fedq serve's "
                               f"catalog; {how}")

    def attach(self, name: str, type: str, *, persistent: bool = False, **options: Any) -> Any:  # noqa: A002
        self._require_admin(f"ATTACH … AS {name}" + (" (PERSISTENT)" if persistent else ""))
        return super().attach(name, type, persistent=persistent, **options)

    def detach(self, name: str) -> None:
        self._require_admin(f"DETACH {name}")
        super().detach(name)

    def create_view(self, name: str, sql: str, *, replace: bool = False, temporary: bool = False) -> Any:
        self._require_admin(f"CREATE {'TEMP ' if temporary else ''}VIEW {name}")
        return super().create_view(name, sql, replace=replace, temporary=temporary)

    def _create_view(self, name: str, body: exp.Expression, replace: bool, temporary: bool) -> Any:
        self._require_admin(f"CREATE {'TEMP ' if temporary else ''}VIEW {name}")
        return super()._create_view(name, body, replace, temporary)

    def drop_view(self, name: str, *, if_exists: bool = False) -> None:
        self._require_admin(f"DROP VIEW {name}")
        super().drop_view(name, if_exists=if_exists)

    def _check_file_write(self, path: Path) -> None:
        """COPY … TO a file would write on the server's machine, as PostgreSQL's COPY TO a file does only
        for superusers: here only for admins. A client writes a result on its own side (psql's \\o) instead."""
        if not self.admin:
            raise PermissionDenied(f"permission denied for COPY … TO '{path}': it would write a file on the fedq serve "
                                   "machine, which only [server] admins may do; write the result on your side instead (psql's \\o FILE)")

    def register(self, name: str, obj: Any) -> None:
        self._require_admin(f"registering memory.{name}")
        super().register(name, obj)

    def unregister(self, name: str) -> None:
        self._require_admin(f"unregistering memory.{name}")
        super().unregister(name)
