"""Remote SQL generation: sqlglot trees rendered in a source's dialect with DuckDB's semantics.

The only place remote SQL text is produced. Before rendering it applies the per-dialect
transforms the capability table asks for: code-point collation on text ranges, sorts and
MIN/MAX; an explicit ESCAPE on LIKE; bind-parameter markers for ``$pN`` placeholders; and the
source's own spelling of table and column names.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from fedq.engine.capabilities import CAPABILITIES, RANGE_COMPARISONS, needs_code_point_collation
from fedq.engine.tree_copy import copy_tree


def _collate(node: exp.Expression, collation: str) -> exp.Expression:
    return exp.Collate(this=node.copy(), expression=exp.Identifier(this=collation, quoted=True))


def _apply_collation(tree: exp.Expression, collation: str) -> None:
    """Wrap text operands of ranges, sorts and MIN/MAX in ``COLLATE "C"`` (hazards 1 and 4).

    BETWEEN's bounds are parenthesized: PostgreSQL's grammar takes no COLLATE there
    (``x BETWEEN ('a' COLLATE "C") AND …``)."""
    targets: list[exp.Expression] = []
    for node in tree.walk():
        if isinstance(node, RANGE_COMPARISONS):
            operands = [node.this, node.args.get("expression"), node.args.get("low"), node.args.get("high")]
            if any(o is not None and needs_code_point_collation(o) for o in operands):
                targets += [o for o in operands if o is not None]
        elif isinstance(node, exp.Ordered) and needs_code_point_collation(node.this):
            targets.append(node.this)
        elif isinstance(node, (exp.Min, exp.Max)) and needs_code_point_collation(node.this):
            targets.append(node.this)
    for target in targets:
        if not isinstance(target.parent, exp.Collate):
            bound = isinstance(target.parent, exp.Between) and target.arg_key in ("low", "high")
            collated = _collate(target, collation)
            target.replace(exp.Paren(this=collated) if bound else collated)


def _apply_like_escape(tree: exp.Expression, escape: str) -> None:
    """Give every LIKE an explicit ESCAPE so the source does not treat backslash specially (hazard 14)."""
    for like in list(tree.find_all(exp.Like)):
        if not isinstance(like.parent, exp.Escape):
            like.replace(exp.Escape(this=like.copy(), expression=exp.Literal.string(escape)))


def bind_placeholders(
    tree: exp.Expression, params: dict[str, Any], marker: Callable[[int], exp.Expression]
) -> tuple[Any, ...]:
    """Replace ``$pN`` placeholders by the source's markers; return the values in marker order."""
    values: list[Any] = []
    for placeholder in list(tree.find_all(exp.Placeholder)):
        value = params[placeholder.name]
        values.append(value)
        target = compared_type(placeholder)
        bound = marker(len(values))
        replace_in_place(placeholder, exp.cast(bound, target) if target is not None and _cast_like_duckdb(value, target) else bound)
    return tuple(values)


def replace_in_place(node: exp.Expression, new: exp.Expression) -> None:
    """``node.replace(new)`` in O(depth): sqlglot's re-parents every sibling in a list argument, so
    replacing each of an IN list's n items took O(n²) (40,000 bound values: minutes)."""
    parent, key, index = node.parent, node.arg_key, node.index
    if parent is None or index is None:
        node.replace(new)
        return
    parent.args[key][index] = new
    new.parent, new.arg_key, new.index = parent, key, index
    node.parent, node.arg_key, node.index = None, None, None
    ancestor = parent
    while ancestor is not None and ancestor._hash is not None:  # what Expression.set does: cached hashes go stale
        ancestor._hash = None
        ancestor = ancestor.parent


def _cast_like_duckdb(value: Any, target: exp.DataType) -> bool:
    """Cast a bound value to its column's type only where DuckDB would convert it the same way:
    strings (parsed as the column's type) and integers compared with integers. A float against an
    integer column, or a timestamp against a date, is compared as given (no rounding, no truncation)."""
    if isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and target.this in exp.DataType.INTEGER_TYPES


def compared_type(placeholder: exp.Placeholder) -> exp.DataType | None:
    """The type DuckDB would cast a parameter to: that of the column it is compared with."""
    parent = placeholder.parent
    if isinstance(parent, exp.Tuple):
        parent = parent.parent
    if not isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between)):
        return None
    for operand in (parent.this, parent.args.get("expression")):
        if operand is not None and operand is not placeholder and operand.type and not operand.type.is_type(
            exp.DataType.Type.UNKNOWN
        ):
            return operand.type.copy()
    return None


def render(
    tree: exp.Expression,
    dialect: str,
    params: dict[str, Any],
    marker: Callable[[int], exp.Expression],
) -> tuple[str, tuple[Any, ...]]:
    """Render a remote query (already using remote names) for ``dialect``; returns SQL and bind values."""
    tree = copy_tree(tree)  # the transforms below change the copy's nodes, never a type annotation
    caps = CAPABILITIES[dialect]
    if caps.text_order_collation:
        _apply_collation(tree, caps.text_order_collation)
    if caps.like_escape is not None:
        _apply_like_escape(tree, caps.like_escape)
    values = bind_placeholders(tree, params, marker)
    return tree.sql(dialect=dialect, identify=True, comments=False, copy=False), values  # the user's comments stay here; the tree is this call's copy


def remote_table(schema: str, name: str, alias: str | None = None) -> exp.Table:
    """A table reference spelled as the source spells it."""
    table = exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True))
    if alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return table


def scan_query(
    schema: str, name: str, columns: list[str], filters: list[exp.Expression]
) -> exp.Select:
    """``SELECT columns FROM schema.name WHERE f1 AND f2 ...`` over bare column names."""
    projections = [exp.column(c, quoted=True) for c in columns] or [exp.alias_(exp.Literal.number(1), "__fedq_one")]
    select = exp.select(*projections).from_(remote_table(schema, name))
    if filters:
        select = select.where(exp.and_(*[f.copy() for f in filters]))
    return select
