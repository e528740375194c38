"""The 99 TPC-DS queries (vendored from DuckDB 1.5's tpcds extension, ``SELECT * FROM tpcds_queries()``,
written by ``worker.py queries``) and their rewrite onto a layout's names with sqlglot, as for TPC-H:
every ``exp.Table`` naming a TPC-DS table gets the layout's source (and schema); CTE names stay."""
from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

from benchmarks.tpcds.data import TABLES

QUERY_DIR = Path(__file__).resolve().parent / "queries"
NUMBERS = tuple(range(1, 100))


def text(number: int) -> str:
    return (QUERY_DIR / f"q{number:02d}.sql").read_text().strip().rstrip(";")


def rewrite(sql: str, names: dict[str, tuple[str, ...]]) -> str:
    """Qualify the TPC-DS tables of ``sql`` with ``names[table]`` = (source, [schema,] table)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if table.args.get("db") or name in ctes or name not in TABLES:
            continue
        parts = names[name]
        table.set("this", exp.to_identifier(parts[-1]))
        table.set("db", exp.to_identifier(parts[-2]))
        if len(parts) == 3:
            table.set("catalog", exp.to_identifier(parts[0]))
    return tree.sql(dialect="duckdb", pretty=True)


def parse_selection(spec: str | None) -> list[int]:
    """'1,3,5-7' -> [1, 3, 5, 6, 7]; None -> all 99."""
    if not spec:
        return list(NUMBERS)
    chosen: list[int] = []
    for piece in spec.split(","):
        piece = piece.strip().lower().lstrip("q")
        if "-" in piece:
            low, high = (int(p.strip().lstrip("qQ")) for p in piece.split("-"))
            chosen.extend(range(low, high + 1))
        elif piece:
            chosen.append(int(piece))
    bad = [n for n in chosen if n not in NUMBERS]
    if bad:
        raise SystemExit(f"no such TPC-DS query: {bad}")
    return list(dict.fromkeys(chosen))
