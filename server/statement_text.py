"""Rewrites of a client's SQL text before fedq reads it: PostgreSQL's ``$n`` markers as fedq's ``?``,
psql's quoted ``"source.schema"`` namespaces, and ``schema.table`` inside the source a session connected to."""
from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from fedq.server.sqlstate import ClientError


def split_dotted_schemas(sql: str) -> str:
    """``"pg.sales".orders`` (a namespace as psql's \\dt shows it) as fedq's ``pg.sales.orders``."""
    if '"' not in sql:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return sql
    changed = False
    for node in tree.find_all(exp.Table, exp.Column):  # columns too: SQLAlchemy writes "pg.sales".orders.id
        if "." in node.text("db") and not node.text("catalog"):
            source, schema = node.text("db").split(".", 1)
            node.set("catalog", exp.to_identifier(source))
            node.set("db", exp.to_identifier(schema))
            changed = True
    return tree.sql("duckdb") if changed else sql


def within_source(sql: str, source: str, sources: set[str]) -> str:
    """In a session whose database names a source (``psql -d pg``), ``schema.table`` is that source's: as in
    PostgreSQL, where the database is the first part of ``pg.sales.orders`` (psql's ``\\d`` accepts a
    three-part name only for the database it is connected to)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return sql
    changed = False
    for node in tree.find_all(exp.Table, exp.Column):
        if node.text("db") and not node.text("catalog") and node.text("db") not in sources:
            node.set("catalog", exp.to_identifier(source))
            changed = True
    return tree.sql("duckdb") if changed else sql


def markers(sql: str) -> list[tuple[int, int, int]]:
    """(start, end, number) of each ``$n`` parameter marker."""
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except SqlglotError:
        return []
    return [(mark.start, number.end, int(number.text)) for mark, number in zip(tokens, tokens[1:])
            if mark.token_type == TokenType.PARAMETER and number.token_type == TokenType.NUMBER
            and number.start == mark.end + 1 and number.text.isdigit()]


def array_arguments(sql: str) -> set[int]:
    """Numbers of the ``$n`` markers PostgreSQL would type as arrays: the whole argument of ``ANY(…)``,
    ``ALL(…)`` or ``SOME(…)``, or cast to an array type (``$1::int[]``)."""
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except SqlglotError:
        return set()
    kinds = [t.token_type for t in tokens] + [None] * 4
    numbers = set()
    for i, token in enumerate(tokens[:-1]):
        if token.token_type != TokenType.PARAMETER or kinds[i + 1] != TokenType.NUMBER or not tokens[i + 1].text.isdigit():
            continue
        in_any = i >= 2 and kinds[i - 1] == TokenType.L_PAREN and tokens[i - 2].text.upper() in ("ANY", "ALL", "SOME") \
            and kinds[i + 2] == TokenType.R_PAREN
        cast_to_array = kinds[i + 2] == TokenType.DCOLON and kinds[i + 4] == TokenType.L_BRACKET
        if in_any or cast_to_array:
            numbers.add(int(tokens[i + 1].text))
    return numbers


def count_parameters(sql: str) -> int:
    return max((n for _, _, n in markers(sql)), default=0)


def qmark(sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    """PostgreSQL's ``$n`` markers as fedq's ``?`` (qmark), with the values in marker order."""
    pieces, values, position = [], [], 0
    for start, end, number in markers(sql):
        if not 1 <= number <= len(params):
            raise ClientError("08P01", f"there is no parameter ${number} ({len(params)} bound)")
        cast_follows = sql[end + 1:].lstrip().startswith("::")
        pieces += [sql[position:start], "(?)" if cast_follows else "?"]  # fedq cannot parse ?::type yet
        values.append(params[number - 1])
        position = end + 1
    pieces.append(sql[position:])
    return "".join(pieces), values
