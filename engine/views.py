"""Views in queries: each reference is replaced by the view's SELECT as a derived table, so the
planner sees exactly the query the user would have written inline and pushes it down the same way.

Before a view is expanded it is checked against its sources: if a table it reads changed shape,
the error names the view and the column rather than a column of some table the user never wrote.
"""
from __future__ import annotations

from sqlglot import exp

from fedq.catalog import Catalog
from fedq.catalog.views import VIEWS_SOURCE, View
from fedq.engine.binder import Binder
from fedq.engine.planner import bind_tables
from fedq.engine.statements import parse_sql
from fedq.errors import ProgrammingError

MAX_NESTING = 16


def view_name(table: exp.Table) -> str | None:
    """The view a table reference may name: ``v`` or ``views.v``."""
    if not isinstance(table.this, exp.Identifier):
        return None
    parts = [p.name for p in table.parts]
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2 and parts[0].lower() == VIEWS_SOURCE:
        return parts[1]
    return None


def referenced_views(tree: exp.Expression, catalog: Catalog) -> list[tuple[exp.Table, View]]:
    """The table references in ``tree`` that name a view (a CTE of the same name hides a view)."""
    hidden = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        name = view_name(table)
        if name is None or (len(table.parts) == 1 and name.lower() in hidden):
            continue
        view = catalog.views.get(name.lower())
        if view is not None:
            found.append((table, view))
        elif len(table.parts) == 2:
            raise ProgrammingError(f"view '{name}' does not exist" + _known(catalog))
    return found


def _known(catalog: Catalog) -> str:
    names = sorted(v.name for v in catalog.views.values())
    return f" (views: {', '.join(names)})" if names else " (no views are defined)"


def expand_views(tree: exp.Expression, catalog: Catalog, binder: Binder | None = None,
                 _path: tuple[str, ...] = ()) -> exp.Expression:
    """``tree`` with every view reference replaced by ``(SELECT …) AS alias``; with a ``binder``,
    each view is first checked against the current shape of its sources."""
    for table, view in referenced_views(tree, catalog):
        key = view.name.lower()
        if key in _path:
            cycle = " -> ".join([*_path, key])
            raise ProgrammingError(f"view '{_path[0]}' refers to itself ({cycle})")
        if len(_path) >= MAX_NESTING:
            raise ProgrammingError(f"views nest more than {MAX_NESTING} deep ({' -> '.join(_path)})")
        body = expand_views(parse_sql(view.sql), catalog, binder, (*_path, key))
        if binder is not None:
            check_view(view, body, catalog, binder)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(view.name))
        replacement = exp.Subquery(this=body, alias=alias.copy())
        if table is tree:
            return replacement
        table.replace(replacement)
    return tree


def describe_query(tree: exp.Expression, catalog: Catalog, binder: Binder) -> list[tuple[str, str]]:
    """Output (column, DuckDB type) pairs of a view-free query, without reading any rows."""
    copy = tree.copy()
    bound = bind_tables(copy, catalog)
    binder.ensure(bound)
    return binder.describe(copy, {})


def check_view(view: View, body: exp.Expression, catalog: Catalog, binder: Binder) -> None:
    """Fail, naming the view and the column, when the view's sources no longer give its columns."""
    try:
        columns = describe_query(body, catalog, binder)
    except ProgrammingError as error:
        raise ProgrammingError(f"view '{view.name}' no longer matches its sources: {error}") from None
    if not view.columns or tuple(columns) == view.columns:
        return
    now = dict(columns)
    for name, type_name in view.columns:
        if name not in now:
            problem = f"column '{name}' ({type_name}) is gone"
            break
        if now[name] != type_name:
            problem = f"column '{name}' was {type_name} and is now {now[name]}"
            break
    else:
        added = [n for n, _ in columns if n not in dict(view.columns)]
        problem = f"column(s) {', '.join(repr(n) for n in added)} appeared" if added else "its columns changed order"
    raise ProgrammingError(
        f"view '{view.name}' no longer matches its sources: {problem} since the view was created; "
        f"recreate it with CREATE OR REPLACE VIEW {view.name} AS …"
    )
