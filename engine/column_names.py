"""Result columns named as DuckDB names them for the SQL the user wrote.

DuckDB names an unaliased expression after its own rendering of the parsed text
(``substr("name", 1, 1)``, ``CAST(id AS VARCHAR)``, ``count_star()``). fedq's binder sees the
statement after sqlglot rendered it, which writes some functions and types its own way
(``SUBSTRING``, ``TEXT``, ``LISTAGG``), so a name taken from that rendering differs from the
all-local reference. DuckDB's parser, through ``json_serialize_sql`` and ``json_deserialize_sql``,
gives each select-list expression of the user's text exactly the name DuckDB would: no table is
bound, nothing is run.
"""
from __future__ import annotations

import json
from typing import Any

import duckdb

# Outputs whose name does not come from the expression's text: the binder's name stands.
_NAMED_ELSEWHERE = {"COLUMN_REF", "STAR"}
# An empty SELECT around one expression, which json_deserialize_sql renders as "SELECT <name>".
_EMPTY_FROM = {"type": "EMPTY", "alias": "", "sample": None, "query_location": 18446744073709551615}
_PREFIX = "SELECT "


def names_as_written(cursor: duckdb.DuckDBPyConnection, sql: str, names: list[str]) -> list[str]:
    """``names`` (the binder's, one per output) with each unaliased computed output named as DuckDB
    names it in ``sql``. Any doubt (a parse error, stars, a count that differs) keeps ``names``."""
    select_list = _leftmost_select_list(cursor, sql)
    if select_list is None or len(select_list) != len(names):
        return names
    if any(item.get("class") == "STAR" for item in select_list):
        return names  # a star's columns are not the select list's positions
    renamed = [index for index, item in enumerate(select_list) if _named_by_its_text(item)]
    if not renamed:
        return names
    texts = cursor.execute("SELECT json_deserialize_sql(s::JSON) FROM unnest(?) AS t(s)",
                           [[_single_select(select_list[i]) for i in renamed]]).fetchall()
    result = list(names)
    for index, (text,) in zip(renamed, texts):
        if isinstance(text, str) and text.startswith(_PREFIX):
            result[index] = text[len(_PREFIX):]
    return result


def _leftmost_select_list(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]] | None:
    """The select list that names a query's outputs (a set operation's leftmost), or None."""
    try:
        parsed = json.loads(cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except (duckdb.Error, TypeError, ValueError):
        return None
    statements = parsed.get("statements") or []
    if parsed.get("error") or len(statements) != 1:
        return None
    node = statements[0].get("node") or {}
    while node.get("type") == "SET_OPERATION_NODE":
        children = node.get("children") or [node.get("left")]
        node = children[0] or {}
    return node.get("select_list") if node.get("type") == "SELECT_NODE" else None


def _named_by_its_text(item: dict[str, Any]) -> bool:
    """An output DuckDB names by rendering it: no alias, not a column or a star."""
    return not item.get("alias") and item.get("class") not in _NAMED_ELSEWHERE


def _single_select(item: dict[str, Any]) -> str:
    node = {"type": "SELECT_NODE", "modifiers": [], "cte_map": {"map": []}, "select_list": [item],
            "from_table": _EMPTY_FROM, "where_clause": None, "group_expressions": [], "group_sets": [],
            "aggregate_handling": "STANDARD_HANDLING", "having": None, "sample": None, "qualify": None}
    return json.dumps({"error": False, "statements": [{"node": node, "named_param_map": []}]})
