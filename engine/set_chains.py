"""Long UNION chains as balanced trees, so analysing them does not grow with the square of their length.

sqlglot parses ``a UNION ALL b UNION ALL c …`` left-deep: a 5,000-branch chain is a tree 5,000 deep,
and its optimizer walks that spine again for every branch (``SetOperation.named_selects`` goes down
to the leftmost SELECT), so qualifying it is quadratic. A chain of one operator (all UNION ALL, or
all UNION) is associative, so :func:`balance_union_chains` rebuilds it as a balanced tree of the
same branches in the same order: the same rows, the same output names (the leftmost branch's),
and the same SQL text, since sqlglot writes nested set operations without parentheses
(``tests/test_set_chains.py`` renders both trees in every source dialect). Mixed chains
(``a UNION b UNION ALL c``), BY NAME and inner nodes with comments are left as they are.
"""
from __future__ import annotations

from sqlglot import exp

MIN_BRANCHES = 32  # shorter chains analyse fast enough as parsed

_CHAIN_ARGS = {"this", "expression", "distinct"}
_OPERATOR_ARGS = ("by_name", "side", "kind", "on", "match")  # a different operator than plain UNION [ALL]


def balance_union_chains(tree: exp.Expression) -> exp.Expression:
    """``tree`` with every long single-operator UNION chain balanced (in place; returns the root)."""
    if not isinstance(tree, exp.Union) and tree.find(exp.Union) is None:
        return tree
    for union in list(tree.find_all(exp.Union)):
        if isinstance(union.parent, exp.Union) and union.arg_key == "this":
            continue  # inside a chain: its root rebalances it
        branches = _branches(union)
        if branches is None or len(branches) < MIN_BRANCHES:
            continue
        distinct = union.args.get("distinct")
        balanced = _build([b.pop() for b in branches], distinct)
        union.set("this", balanced.this)
        union.set("expression", balanced.expression)
    return tree


def _branches(root: exp.Union) -> list[exp.Expression] | None:
    """The branches of the left-deep chain under ``root`` in order, or None if it mixes operators."""
    if any(root.args.get(key) for key in _OPERATOR_ARGS):
        return None
    distinct = root.args.get("distinct")
    right: list[exp.Expression] = [root.expression]
    node = root.this
    while isinstance(node, exp.Union):
        if {k for k, v in node.args.items() if v is not None and v != []} - _CHAIN_ARGS or node.comments \
                or node.args.get("distinct") != distinct:
            return None
        right.append(node.expression)
        node = node.this
    return [node, *reversed(right)]


def _build(branches: list[exp.Expression], distinct: bool | None) -> exp.Expression:
    if len(branches) == 1:
        return branches[0]
    middle = len(branches) // 2
    return exp.Union(this=_build(branches[:middle], distinct), expression=_build(branches[middle:], distinct),
                     distinct=distinct)
