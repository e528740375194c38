"""Virtual views: a name for a SELECT over any sources, stored as SQL text (no data is copied).

A view remembers the columns it had when it was created, so a source table that later changes
shape is reported against the view and its column instead of surfacing as a puzzling error
deep inside the expanded query.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VIEWS_SOURCE = "views"  # views are named ``v`` or ``views.v``; no source may take this name


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) when the view was created
    persistent: bool = True  # kept in the home catalog (CREATE VIEW) or this session only (CREATE TEMP VIEW)

    def definition(self) -> dict[str, Any]:
        """The view as a catalog file writes it."""
        return {"sql": self.sql, "columns": dict(self.columns)}

    @classmethod
    def from_definition(cls, name: str, options: dict[str, Any], persistent: bool) -> "View":
        columns = options.get("columns", {})
        return cls(name, options["sql"], tuple((str(n), str(t)) for n, t in dict(columns).items()), persistent)
