"""Long IN lists of plain literals as one node, so planning does not grow with their length (issue 14).

sqlglot builds one node per literal: a 10^5-value ``IN (...)`` costs ~100 µs per value in parsing,
qualifying, typing, the planner's copies and every rendering. Before parsing, :func:`collapse` finds
``IN (`` followed by at least :data:`MIN_ITEMS` plain literals of one kind (integers, decimals, or
strings without quotes, backslashes or line breaks) and puts a placeholder name in its place; after
parsing, :func:`restore` puts an ``exp.Var`` holding the list's text there. A Var renders as its
text in every dialect, and that text is the one the user wrote, which means the same in DuckDB,
PostgreSQL, MySQL and SQLite for these literal forms. The node carries a :class:`LiteralList` in
its meta for the planner's typed checks (``literal_list``).

The scan over the text is a regular expression that steps over comments, strings and quoted names.
It need not be a full lexer: every placeholder must come back from sqlglot as the only operand of an
``IN`` outside PIVOT, or :func:`restore` reports failure and the caller parses the original text.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from sqlglot import exp

MIN_ITEMS = 64  # shorter lists plan fast enough one node per literal, and keep every rule that reads them
META_KEY = "fedq_literal_list"

_NUMBER = r"-?\d+(?:\.\d+)?(?![\w.])"
_STRING = r"'[^'\\\r\n]*'"
_SCAN = re.compile(
    r"""
      (?P<skip> --[^\n]*
              | /\*.*?\*/
              | (?<![\w$])[eE]'(?:[^'\\]|\\.|'')*'
              | '(?:[^']|'')*'
              | "(?:[^"]|"")*"
              | \$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$ )
    | (?<![\w$."])IN\s*\(\s*(?P<numbers>{n}(?:\s*,\s*{n})*+)\s*\)
    | (?<![\w$."])IN\s*\(\s*(?P<strings>{s}(?:\s*,\s*{s})*+)\s*\)
    """.replace("{n}", _NUMBER).replace("{s}", _STRING),
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


@dataclass(frozen=True)
class LiteralList:
    """The values of a collapsed IN list: their kind and how many; the node's text holds them."""

    kind: str  # "number" or "text"
    count: int
    decimal: bool = False  # a number with a fraction: DuckDB types the list DECIMAL, not INTEGER

    def __deepcopy__(self, memo: dict) -> LiteralList:
        return self  # immutable: the planner's many tree copies share it


@dataclass
class Collapsed:
    """The text sqlglot parses and the lists it stands for, by placeholder name."""

    text: str
    lists: dict[str, tuple[str, LiteralList]] = field(default_factory=dict)


def collapse(sql: str, min_items: int = MIN_ITEMS) -> Collapsed | None:
    """``sql`` with each long literal IN list replaced by a placeholder name, or None if it has none."""
    if len(sql) < min_items * 2:
        return None
    prefix = f"__fedq_list_{secrets.token_hex(6)}_"
    pieces: list[str] = []
    lists: dict[str, tuple[str, LiteralList]] = {}
    cursor = 0
    for match in _SCAN.finditer(sql):
        group = "numbers" if match.group("numbers") is not None else "strings" if match.group("strings") is not None else None
        if group is None:
            continue
        body = match.group(group)
        count = body.count(",") + 1 if group == "numbers" else _string_count(body)
        if count < min_items:
            continue
        name = f"{prefix}{len(lists)}"
        kind = "number" if group == "numbers" else "text"
        lists[name] = (body, LiteralList(kind, count, decimal=group == "numbers" and "." in body))
        pieces += [sql[cursor:match.start(group)], name]
        cursor = match.end(group)
    if not lists:
        return None
    pieces.append(sql[cursor:])
    return Collapsed("".join(pieces), lists)


def _string_count(body: str) -> int:
    """Items in a list of quote-free string literals: every item has two quotes."""
    return body.count("'") // 2


def restore(tree: exp.Expression, collapsed: Collapsed) -> bool:
    """Put each list back into ``tree`` as a Var; False if a placeholder is not where it must be."""
    found: dict[str, exp.Column] = {}
    for column in tree.find_all(exp.Column):
        if column.name in collapsed.lists and not column.table:
            if column.name in found:
                return False
            found[column.name] = column
    if found.keys() != collapsed.lists.keys():
        return False  # inside a string or comment the regex did not recognise, or dropped by the parser
    for column in found.values():
        parent = column.parent
        if not (isinstance(parent, exp.In) and parent.expressions == [column] and set(parent.args) <= {"this", "expressions"}
                and column.arg_key == "expressions" and parent.find_ancestor(exp.Pivot) is None):
            return False
    for name, column in found.items():
        text, values = collapsed.lists[name]
        node = exp.Var(this=text)
        node.meta[META_KEY] = values
        column.replace(node)
    return True


def literal_list(node: exp.Expression) -> LiteralList | None:
    """The collapsed list ``node`` stands for, if it is one."""
    return node.meta.get(META_KEY) if type(node) is exp.Var and node._meta else None


def count_values(node: exp.In) -> int:
    """How many values an IN list holds, a collapsed list counted by its values."""
    return sum(values.count if (values := literal_list(v)) else 1 for v in node.expressions)


def binding_sql(tree: exp.Expression) -> str:
    """``tree`` in DuckDB's SQL for binding only (DESCRIBE): each collapsed list cut to its first value.
    The output's names and types do not depend on the rest; binding them would cost DuckDB ~4 µs a value."""
    lists = [node for node in tree.find_all(exp.Var) if literal_list(node)]
    if not lists:
        return tree.sql("duckdb")
    texts = [node.this for node in lists]
    try:
        for node in lists:
            node.set("this", _first_value(node.this))
        return tree.sql("duckdb")
    finally:
        for node, text in zip(lists, texts):
            node.set("this", text)


def _first_value(text: str) -> str:
    return text[: text.index("'", 1) + 1] if text.startswith("'") else text.split(",", 1)[0].strip()
