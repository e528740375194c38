"""Fold constant date arithmetic (``DATE '1995-01-01' + INTERVAL 3 MONTH``) into one typed literal.

DuckDB computes the value, so the literal a source receives is exactly what DuckDB would have
compared with; sources then see a plain typed literal instead of dialect-specific interval syntax.
"""
from __future__ import annotations

import duckdb
from sqlglot import exp

from fedq.engine.sandbox import sandboxed_duckdb


def _constant(node: exp.Expression) -> bool:
    return not any(isinstance(n, (exp.Column, exp.Placeholder, exp.Subquery, exp.Select, exp.Func)) and not isinstance(n, exp.Cast)
                   for n in node.walk())


def fold_constants(tree: exp.Expression) -> exp.Expression:
    """Replace constant ``+``/``-`` expressions involving an INTERVAL by DuckDB's result."""
    targets = [
        node for node in tree.find_all(exp.Add, exp.Sub)
        if node.find(exp.Interval) and _constant(node) and not isinstance(node.parent, (exp.Add, exp.Sub))
    ]
    if not targets:
        return tree
    with sandboxed_duckdb(config={"threads": 1}) as con:
        for node in targets:
            try:
                relation = con.execute(f"SELECT CAST(({node.sql('duckdb')}) AS VARCHAR), typeof({node.sql('duckdb')})")
                text, type_name = relation.fetchall()[0]
            except duckdb.Error:
                continue
            node.replace(exp.cast(exp.Literal.string(text), exp.DataType.build(type_name, dialect="duckdb")))
    return tree
