"""A long UNION ALL of branches that differ only in compared literals is planned once, not once per branch.

Generated SQL often repeats one SELECT with another value: ``SELECT id, k FROM t WHERE k = 0 UNION ALL
SELECT id, k FROM t WHERE k = 1 …``. Planning such a chain whole costs ~1 ms per branch (qualifying,
typing, the pushdown checks and rendering walk every branch). :func:`plan_union_by_shape` computes
each branch's *shape*: its tree with the literals that are direct operands of a WHERE comparison
against a column abstracted to a *value class*, namely integers of 32 bits (no sign, no leading zeros) and strings
of letters, digits and ``_`` that start with a letter (not ``nan``, ``inf``, ``true``… which DuckDB reads as other
types). Within a class the planner's rules are typed, not valued (engine/capabilities.py asks for an
operand's type family), so every branch of one shape gets the same plan with only those literals changed.

When every branch has one shape, one representative branch is planned the normal way with distinctive
sentinel values in place of its abstracted literals (``1000000007``, ``'fedqlit<nonce>x0'``). Its plan is
used only if it is fully pushed (one SQL query fragment, no bound values, a local query that only
projects it) and each sentinel appears exactly once in the remote SQL and not in the local SQL; then
the last branch is planned the normal way too, and putting its literals into the representative's
remote SQL must give exactly its remote SQL. The union's remote SQL is then the branches' texts joined
by `` UNION ALL `` (the text sqlglot writes for a chain: no parentheses), checked against the source's
statement-length limit. SQLite takes at most 500 terms in one compound SELECT
(SQLITE_MAX_COMPOUND_SELECT), so there the branches go in fragments of 500 that the local query
unions.

``SELECT id, k FROM t WHERE k = 0 UNION ALL … WHERE k = 4999`` (5,000 branches) sends
``SELECT "b"."id" AS "c0", "b"."k" AS "c1" FROM "main"."b" AS "b" WHERE "b"."k" = 0 UNION ALL …`` and
runs ``SELECT CAST(f.c0 AS BIGINT) AS "id", CAST(f.c1 AS BIGINT) AS "k" FROM f`` locally.

Anything else (another operator, BY NAME, ORDER BY/LIMIT/WITH, a branch of another shape, bound
values, a plan that is not fully pushed) returns None and the statement is planned as a whole.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Callable

from sqlglot import exp

from fedq.engine.deadline import checkpoint
from fedq.engine.gc_pause import fewer_collections
from fedq.engine.planner import Fragment, OverLimit, Plan, _check_limits, _view_ids
from fedq.engine.set_chains import MIN_BRANCHES
from fedq.engine.tree_copy import copy_tree
from fedq.sources import FetchStats

SQLITE_MAX_COMPOUND_SELECT = 500  # "too many terms in compound SELECT" above it (compile-time default)
INT_SENTINEL = 1_000_000_007  # + the literal's position in the branch: 32-bit, like the values it stands for

_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_QUERIES = (exp.Select, exp.SetOperation, exp.Subquery)
_UNION_ARGS = {"this", "expression", "distinct"}
_BRANCH_ARGS = {"expressions", "from_", "joins", "where", "group", "having", "distinct"}
_INT = re.compile(r"0|[1-9][0-9]{0,9}")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_OTHER_TYPES = frozenset({  # words DuckDB or a source reads as a number, boolean or date when cast
    "nan", "inf", "infinity", "true", "false", "null", "t", "f", "y", "n", "yes", "no", "on", "off",
    "epoch", "today", "now", "tomorrow", "yesterday", "allballs",
})
_MAX_INT = 2**31 - 1
_POSITIONS = frozenset({"line", "col", "start", "end"})


def plan_union_by_shape(tree: exp.Expression, params: dict, plan_branch: Callable[[exp.Expression], Plan]) -> Plan | None:
    """The plan of a long UNION ALL of one shape, or None (plan it as a whole). ``plan_branch`` plans
    one branch (a copy it may take over) the normal way; ``tree`` is not changed."""
    with fewer_collections():  # engine/gc_pause.py: the walk allocates ~10 objects per node of a big tree
        return _plan_union(tree, params, plan_branch)


def _plan_union(tree: exp.Expression, params: dict, plan_branch: Callable[[exp.Expression], Plan]) -> Plan | None:
    if params or not isinstance(tree, exp.Union):
        return None
    branches = _branches(tree)
    if branches is None or len(branches) < MIN_BRANCHES:
        return None
    first, literals = _shape(branches[0])
    values = [literals]
    for branch in branches[1:]:
        key, found = _shape(branch)
        if key != first:
            return None
        values.append(found)
    checkpoint("planning (union branches)")
    nonce = secrets.token_hex(4)
    sentinels = [str(INT_SENTINEL + j) if kind == "int" else f"fedqlit{nonce}x{j}" for j, (kind, _) in enumerate(literals)]
    representative = copy_tree(branches[0])
    _, stand_ins = _shape(representative, nodes=True)
    for node, sentinel in zip(stand_ins, sentinels):
        node.set("this", sentinel)
    sample = _pushed(plan_branch, representative)
    if sample is None:
        return None
    template = _template(sample.remote_sql, sentinels, values[0])
    if template is None or any(s in sample.local_sql for s in sentinels):
        return None
    check = _pushed(plan_branch, copy_tree(branches[-1]))  # a real branch, planned the normal way
    if check is None or check.remote_sql != _fill(template, values[-1]) or check.local("v") != sample.local("v") \
            or check.fragment.schema != sample.fragment.schema or check.fragment.source is not sample.fragment.source \
            or check.plan.columns != sample.plan.columns:
        return None
    source = sample.fragment.source
    texts = [_fill(template, found) for found in values]
    size = SQLITE_MAX_COMPOUND_SELECT if source.dialect == "sqlite" else len(texts)
    fragments, projections = [], []
    for start in range(0, len(texts), size):
        remote_sql = " UNION ALL ".join(texts[start:start + size])
        try:
            _check_limits(source, None, remote_sql)
        except OverLimit:
            return None  # the general planner keeps it local, with its note
        view = f"__fedq_{next(_view_ids)}"
        fragments.append(dataclasses.replace(sample.fragment, view=view, remote_sql=remote_sql, stats=FetchStats(),
                                             exact=[], inexact=[], local_only=[]))
        projections.append(sample.local(view))
    note = f"UNION ALL of {len(branches):,} branches, 1 shape: planned once (engine/union_shapes.py)" + (
        f", sent in {len(fragments)} queries of at most {size} branches (SQLite's compound SELECT limit)" if len(fragments) > 1 else "")
    return Plan(fragments, " UNION ALL ".join(projections), {}, drafts=[note], tables=sample.plan.tables,
                columns=sample.plan.columns)


@dataclasses.dataclass
class _Pushed:
    """A branch's plan that is one pushed query and a local projection of it."""

    plan: Plan
    fragment: Fragment

    @property
    def remote_sql(self) -> str:
        return self.fragment.remote_sql or ""

    @property
    def local_sql(self) -> str:
        return self.plan.local_sql

    def local(self, view: str) -> str:
        """The local query with the fragment's view renamed to ``view``."""
        return re.sub(rf"(?<![\w$]){re.escape(self.fragment.view)}(?![\w$])", view, self.plan.local_sql)


def _branches(root: exp.Union) -> list[exp.Select] | None:
    """The SELECTs of a chain of plain UNION ALL nodes (any nesting), left to right, or None."""
    found: list[exp.Select] = []
    stack: list[exp.Expression] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Union):
            if node.comments or node.args.get("distinct") is not False or any(
                    v is not None and v is not False and v != [] for k, v in node.args.items() if k not in _UNION_ARGS):
                return None
            stack += [node.expression, node.this]
        elif isinstance(node, exp.Select) and not any(
                v is not None and v != [] for k, v in node.args.items() if k not in _BRANCH_ARGS):
            found.append(node)
        else:
            return None
    return found


def _shape(branch: exp.Select, nodes: bool = False) -> tuple[list, list]:
    """A branch's structure (a flat list: equal lists, equal trees but for the abstracted literals)
    and its abstracted literals in walk order, as (class, text), or as the nodes themselves."""
    key: list = []
    literals: list = []
    stack: list[tuple[exp.Expression, int]] = [(branch, 0)]  # 0: outside WHERE, 1: in it, 2: abstracted
    while stack:
        node, where = stack.pop()
        if where == 2:
            kind = "int" if not node.args.get("is_string") else "text"
            key.append(kind)
            literals.append(node if nodes else (kind, node.args["this"]))
            continue
        key.append(node.__class__)
        if node.comments:
            key.append(tuple(node.comments))
        meta = node._meta
        if meta and meta.keys() - _POSITIONS:  # tags (literal lists…); where the parser found it is no part of it
            key.append(tuple((k, v) for k, v in meta.items() if k not in _POSITIONS))
        if where and isinstance(node, _QUERIES):
            where = 0
        abstracted = _abstracted(node) if where and isinstance(node, _COMPARISONS) else None
        for name, value in node.args.items():
            if isinstance(value, exp.Expression):
                key.append(name)
                flag = 2 if value is abstracted else 1 if (where or (node is branch and name == "where")) else 0
                stack.append((value, flag))
            elif type(value) is list:
                key.append((name, len(value)))
                for item in reversed(value):
                    if isinstance(item, exp.Expression):
                        stack.append((item, where))
                    else:
                        key.append(item)
            elif value is not None:
                key.append((name, value))
    return key, literals


def _abstracted(comparison: exp.Expression) -> exp.Literal | None:
    """The operand of ``comparison`` that is a literal of a value class, if the other one reads a column."""
    left, right = comparison.this, comparison.args.get("expression")
    for literal, other in ((right, left), (left, right)):
        if isinstance(literal, exp.Literal) and _value_class(literal) and other is not None and not isinstance(other, exp.Literal) \
                and (isinstance(other, exp.Column) or other.find(exp.Column) is not None):
            return literal
    return None


def _value_class(literal: exp.Literal) -> bool:
    text = literal.args.get("this")
    if not isinstance(text, str):
        return False
    if literal.args.get("is_string"):
        return _WORD.fullmatch(text) is not None and text.lower() not in _OTHER_TYPES
    return _INT.fullmatch(text) is not None and int(text) <= _MAX_INT


def _pushed(plan_branch: Callable[[exp.Expression], Plan], branch: exp.Select) -> _Pushed | None:
    """The plan of a branch if it is pushed whole as one query with nothing bound, else None."""
    try:
        plan = plan_branch(branch)
    except Exception:  # the statement as a whole reports it (or plans another way)
        return None
    if len(plan.fragments) != 1 or plan.drafts or plan.local_params:
        return None
    fragment = plan.fragments[0]
    if fragment.kind != "query" or fragment.passthrough or fragment.remote_params or fragment.native is not None \
            or fragment.dynamic is not None or not fragment.remote_sql or not _projects(plan.local_sql, fragment.view):
        return None
    return _Pushed(plan, fragment)


def _projects(sql: str, view: str) -> bool:
    """Whether the local query only renames and casts the columns of ``view``."""
    import sqlglot

    try:
        select = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return False
    if not isinstance(select, exp.Select) or any(v for k, v in select.args.items() if k not in ("expressions", "from_")):
        return False
    source = select.args["from_"].this
    if not (isinstance(source, exp.Table) and source.name == view and not source.args.get("db") and not source.alias):
        return False
    for projection in select.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        inner = inner.this if isinstance(inner, exp.Cast) else inner
        if not (isinstance(inner, exp.Column) and inner.table == view and not inner.args.get("db")):
            return False
    return True


def _template(remote_sql: str, sentinels: list[str], literals: list[tuple[str, str]]):
    """``remote_sql`` cut at each sentinel, with the index of the literal that goes in each cut, if
    each sentinel appears there exactly once."""
    positions = []
    for index, (sentinel, (kind, _)) in enumerate(zip(sentinels, literals)):
        pattern = rf"(?<![\w.]){sentinel}(?![\w.])" if kind == "int" else rf"(?<=')({sentinel})(?=')"
        found = [m.start() for m in re.finditer(pattern, remote_sql)]
        if len(found) != 1 or remote_sql.count(sentinel) != 1:
            return None
        positions.append((found[0], len(sentinel), index))
    pieces, order, cursor = [], [], 0
    for start, length, index in sorted(positions):
        pieces.append(remote_sql[cursor:start])
        order.append(index)
        cursor = start + length
    pieces.append(remote_sql[cursor:])
    return pieces, order


def _fill(template, literals: list[tuple[str, str]]) -> str:
    """The remote SQL of a branch: its literals' text between the template's pieces (a literal of a
    value class is written alike in every dialect: digits, or a quoted word needing no escapes)."""
    pieces, order = template
    parts = [pieces[0]]
    for piece, index in zip(pieces[1:], order):
        parts += [literals[index][1], piece]
    return "".join(parts)
