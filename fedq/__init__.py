"""fedq: one SQL statement over PostgreSQL, SQLite and files, finished in DuckDB over Arrow.

    import fedq
    con = fedq.connect("catalog.toml")
    con.execute("SELECT ... FROM pg.orders JOIN crm.customers ...").fetchall()
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fedq._version import __version__
from fedq.errors import (
    DatabaseError, DataError, Error, IntegrityError, InterfaceError, InternalError, NotSupportedError,
    OperationalError, ProgrammingError, Warning,
)

if TYPE_CHECKING:
    from fedq.dbapi import (
        BINARY, DATETIME, NUMBER, ROWID, STRING, Binary, Connection, Cursor, Date, DateFromTicks, Time,
        TimeFromTicks, Timestamp, TimestampFromTicks, apilevel, connect, paramstyle, threadsafety,
    )

# The DB-API names come from fedq.dbapi, which loads the engine, the catalog and the sources: it is
# imported on first use (PEP 562), so that importing a package of fedq (each imports fedq.errors, and
# so this module first) does not load all of fedq with it.
_DBAPI = frozenset({
    "BINARY", "DATETIME", "NUMBER", "ROWID", "STRING", "Binary", "Connection", "Cursor", "Date", "DateFromTicks",
    "Time", "TimeFromTicks", "Timestamp", "TimestampFromTicks", "apilevel", "connect", "paramstyle", "threadsafety",
})


def __getattr__(name: str) -> Any:
    if name == "dbapi" or name in _DBAPI:
        module = importlib.import_module("fedq.dbapi")
        return module if name == "dbapi" else getattr(module, name)
    raise AttributeError(f"module 'fedq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BINARY", "DATETIME", "NUMBER", "ROWID", "STRING", "Binary", "Connection", "Cursor", "DataError",
    "DatabaseError", "Date", "DateFromTicks", "Error", "IntegrityError", "InterfaceError", "InternalError",
    "NotSupportedError", "OperationalError", "ProgrammingError", "Time", "TimeFromTicks", "Timestamp",
    "TimestampFromTicks", "Warning", "__version__", "apilevel", "connect", "paramstyle", "threadsafety",
]
