"""Result rendering for the terminal: aligned tables with types, vertical records, csv, tsv,
json (lines), markdown and html.

Tables show each column's type under its name and NULL as ``<null>`` (so it never looks like the
string 'NULL'; ``\\pset null`` changes it in the display formats). Widths are display widths
(wcwidth, as prompt-toolkit measures them), so emoji and CJK text line up. A table wider than the
terminal folds into one record per block (psql's expanded display) unless expansion is off.
Everything here is a pure function of rows, so it is tested without a terminal.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import html
import io
import json
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
from prompt_toolkit.utils import get_cwidth

from fedq.catalog.types import arrow_to_duckdb

FORMATS = ("table", "vertical", "csv", "tsv", "json", "jsonl", "markdown", "html")
ENCODED = ("csv", "tsv", "json", "jsonl")  # machine formats: DuckDB writes them per batch; NULL is their own
EXPANDED = ("on", "off", "auto")  # \\x: always records, never, when the table is wider than the terminal
NULL = "<null>"


def type_names(description: Sequence[tuple]) -> list[str]:
    """DuckDB type names for a cursor description (whose type codes are Arrow types)."""
    return [arrow_to_duckdb(d[1]) if isinstance(d[1], pa.DataType) else str(d[1]) for d in description]


def cell(value: Any, null: str = NULL) -> str:
    """One value as text: NULL distinct, floats as Python prints them, no trailing zeros lost."""
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value).replace("\n", "\\n").replace("\t", "\\t")  # a raw tab would break the alignment


def is_numeric(type_name: str) -> bool:
    """Numbers align right in a table."""
    return type_name.split("(")[0] in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                                       "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL"}


def width_of(text: str) -> int:
    """Columns the text takes on a terminal: 2 for an emoji or a CJK character, 0 for a combining mark.

    Measured a character at a time: prompt-toolkit's ``get_cwidth`` keeps every short string it is
    given in a cache that never shrinks, which would hold every cell of a streamed result."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(get_cwidth(char) for char in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` filled with spaces to ``width`` display columns, on the left when ``right``."""
    fill = " " * max(0, width - width_of(text))
    return fill + text if right else text + fill


def rule(left: str, mid: str, right: str, widths: Sequence[int]) -> str:
    """A table's border line over columns of these widths."""
    return left + mid.join("─" * (w + 2) for w in widths) + right


def line(values: Sequence[str], widths: Sequence[int], numeric: Sequence[bool] | None = None) -> str:
    """One table line; ``numeric`` columns align right."""
    aligned = numeric or [False] * len(widths)
    return "│ " + " │ ".join(pad(v, w, num) for v, w, num in zip(values, widths, aligned)) + " │"


def table(names: Sequence[str], types: Sequence[str] | None, rows: Sequence[Sequence[Any]], width: int = 120, *,
          null: str = NULL, expand: str = "auto") -> str:
    """An aligned table (a type row under the names unless ``types`` is None); folds into records
    when ``expand`` is on, or auto and the table would be wider than ``width``."""
    texts = [[cell(v, null) for v in row] for row in rows]
    if expand == "on" and names:
        return expanded(names, texts)
    shown_types = list(types) if types is not None else [""] * len(names)
    widths = _widths(names, shown_types, texts)
    if expand == "auto" and names and _table_width(widths) > width:
        return expanded(names, texts)
    numeric = [is_numeric(t) for t in shown_types]
    out = [rule("┌", "┬", "┐", widths), line(names, widths)] + ([line(shown_types, widths)] if types is not None else [])
    out.append(rule("├", "┼", "┤", widths))
    out += [line(r, widths, numeric) for r in texts]
    out.append(rule("└", "┴", "┘", widths))
    return "\n".join(out)


def _widths(names: Sequence[str], types: Sequence[str], texts: Sequence[Sequence[str]]) -> list[int]:
    return [max([width_of(n), width_of(t)] + [width_of(r[i]) for r in texts]) for i, (n, t) in enumerate(zip(names, types))]


def _table_width(widths: Sequence[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1


def too_wide(names: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]], width: int, null: str = NULL) -> bool:
    """Whether these rows as a table would be wider than ``width`` (``\\x auto`` then shows records)."""
    return bool(names) and _table_width(_widths(names, types, [[cell(v, null) for v in row] for row in rows])) > width


def expanded(names: Sequence[str], texts: Sequence[Sequence[str]], start: int = 1) -> str:
    """One block per record, ``name │ value`` per line (psql's ``\\x``); ``start`` numbers the first
    record, so a streamed result numbers on across blocks."""
    label = max((width_of(n) for n in names), default=0)
    blocks = []
    for number, row in enumerate(texts, start):
        lines = [f"-[ RECORD {number} ]" + "-" * max(0, label - 8)]
        lines += [f"{pad(n, label)} │ {v}" for n, v in zip(names, row)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def vertical(names: Sequence[str], rows: Sequence[Sequence[Any]], *, null: str = NULL, start: int = 1) -> str:
    """The vertical format: every result as records, whatever its width."""
    return expanded(names, [[cell(v, null) for v in row] for row in rows], start)


def _tsv_field(value: Any) -> str:
    """PostgreSQL's text COPY escapes: a tab, newline or backslash inside a value never breaks a line."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else cell(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def as_tsv(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Tab-separated values with a header line; NULL is empty."""
    lines = ["\t".join(_tsv_field(n) for n in names)]
    lines += ["\t".join(_tsv_field(v) for v in row) for row in rows]
    return "\n".join(lines)


def html_head(names: Sequence[str]) -> str:
    header = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    return f"<table>\n  <tr>{header}</tr>"


def html_rows(types: Sequence[str], rows: Iterable[Sequence[Any]], null: str = NULL) -> str:
    """Rows of an html table; numbers aligned right, as psql's html format does."""
    right = [is_numeric(t) for t in types] if types else []

    def td(index: int, value: Any) -> str:
        align = ' align="right"' if index < len(right) and right[index] else ""
        return f"<td{align}>{html.escape(cell(value, null))}</td>"

    return "\n".join("  <tr>" + "".join(td(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)


HTML_TAIL = "</table>"


def as_html(names: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]], null: str = NULL) -> str:
    body = html_rows(types, rows, null)
    return "\n".join([html_head(names)] + ([body] if body else []) + [HTML_TAIL])


def as_csv(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([["" if v is None else cell(v) for v in row] for row in rows])
    return buffer.getvalue().rstrip("\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return cell(value)
    if isinstance(value, bytes):
        return cell(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


def as_json(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One JSON object per line (JSON Lines), so large results stream."""
    return "\n".join(json.dumps({n: _json_value(v) for n, v in zip(names, row)}, ensure_ascii=False) for row in rows)


def as_markdown(names: Sequence[str], rows: Iterable[Sequence[Any]], null: str = NULL) -> str:
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(escape(n) for n in names) + " |", "|" + "|".join("---" for _ in names) + "|"]
    out += ["| " + " | ".join(escape(cell(v, null)) for v in row) + " |" for row in rows]
    return "\n".join(out)


def render(fmt: str, names: Sequence[str], types: Sequence[str] | None, rows: Sequence[Sequence[Any]], width: int = 120,
           *, null: str = NULL, expand: str = "auto") -> str:
    """Rows in format ``fmt``; ``types`` None leaves the type row out of a table (meta command replies)."""
    if fmt == "table":
        return table(names, types, rows, width, null=null, expand=expand)
    if fmt == "vertical":
        return vertical(names, rows, null=null)
    if fmt == "csv":
        return as_csv(names, rows)
    if fmt == "tsv":
        return as_tsv(names, rows)
    if fmt in ("json", "jsonl"):
        return as_json(names, rows)
    if fmt == "markdown":
        return as_markdown(names, rows, null)
    if fmt == "html":
        return as_html(names, types or [], rows, null)
    raise ValueError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")


def status(rows: int, seconds: float | None) -> str:
    """``(3 rows, 0.012 s)``, the line under every result."""
    noun = "row" if rows == 1 else "rows"
    return f"({rows:,} {noun}" + (f", {seconds:.3f} s)" if seconds is not None else ")")


class BatchText:
    """CSV, TSV or JSON Lines text for whole Arrow record batches, made by a small DuckDB of its own
    (sandboxed: it opens no file), so streaming a large result runs no Python code per row.
    CSV is DuckDB's (NULL empty, '' quoted); TSV escapes as PostgreSQL's text COPY (NULL empty);
    JSON keeps decimals and non-finite floats as strings."""

    def __init__(self, fmt: str) -> None:
        from fedq.engine.sandbox import sandboxed_duckdb

        self.fmt = fmt
        self.database = sandboxed_duckdb(config={"threads": 1})
        self._sql: dict[pa.Schema, str] = {}

    def header(self, names: Sequence[str]) -> str:
        """The CSV or TSV header line ('' for JSON)."""
        if self.fmt == "csv":
            return as_csv(names, []) + "\n"
        return as_tsv(names, []) + "\n" if self.fmt == "tsv" else ""

    def encode(self, batch: pa.RecordBatch) -> bytes:
        """The batch's rows as UTF-8 text, one line each, every line ending in a newline."""
        if batch.num_rows == 0:
            return b""
        positional = batch.rename_columns([f"c{i}" for i in range(batch.num_columns)])
        sql = self._sql.get(batch.schema) or self._sql.setdefault(batch.schema, self._statement(batch.schema))
        self.database.register("__fedq_batch", positional)
        try:
            lines = self.database.sql(sql).to_arrow_table().column(0).combine_chunks().cast(pa.large_string())
        finally:
            self.database.unregister("__fedq_batch")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)  # lines never hold NULL: the text is contiguous
        start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
        return lines.buffers()[2][start:end].to_pybytes()

    def _statement(self, schema: pa.Schema) -> str:
        if self.fmt == "csv":
            fields = [_csv_field(f"c{i}", field.type) for i, field in enumerate(schema)]
            line = " || ',' || ".join(fields) if fields else "''"
        elif self.fmt == "tsv":
            line = " || chr(9) || ".join(_tsv_field_sql(f"c{i}") for i in range(len(schema))) if len(schema) else "''"
        else:
            names = _unique([f.name for f in schema])
            pairs = [f"{_quote(name)} := {_json_value_sql(f'c{i}', field.type)}" for i, (name, field) in enumerate(zip(names, schema))]
            line = f"CAST(to_json(struct_pack({', '.join(pairs)})) AS VARCHAR)" if pairs else "'{}'"
        return f"SELECT {line} || chr(10) FROM __fedq_batch"

    def close(self) -> None:
        self.database.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_field(column: str, arrow_type: pa.DataType) -> str:
    """A CSV field as DuckDB's COPY writes it: NULL empty, quotes only where needed (and for '');
    numbers, dates, times and booleans never need them."""
    text = f"CAST({column} AS VARCHAR)"
    if _plain(arrow_type):
        return f"coalesce({text}, '')"
    special = " OR ".join(f"contains({text}, {c})" for c in ("','", "'\"'", "chr(10)", "chr(13)"))
    return (f"CASE WHEN {column} IS NULL THEN '' WHEN {text} = '' OR {special} "
            f"THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END")


def _tsv_field_sql(column: str) -> str:
    """A TSV field as :func:`_tsv_field` writes it, in SQL."""
    text = f"CAST({column} AS VARCHAR)"
    for char, escaped in (("'\\'", "'\\\\'"), ("chr(9)", "'\\t'"), ("chr(10)", "'\\n'"), ("chr(13)", "'\\r'")):
        text = f"replace({text}, {char}, {escaped})"
    return f"coalesce({text}, '')"


def _plain(arrow_type: pa.DataType) -> bool:
    types = pa.types
    return (types.is_integer(arrow_type) or types.is_floating(arrow_type) or types.is_decimal(arrow_type)
            or types.is_boolean(arrow_type) or types.is_temporal(arrow_type)) and not types.is_interval(arrow_type)


def _json_value_sql(column: str, arrow_type: pa.DataType) -> str:
    """A JSON value: decimals as text (no float rounding), NaN and infinities as text (JSON has none)."""
    if pa.types.is_decimal(arrow_type):
        return f"CAST({column} AS VARCHAR)"
    if pa.types.is_floating(arrow_type):
        return f"CASE WHEN isfinite({column}) THEN to_json({column}) ELSE to_json(CAST({column} AS VARCHAR)) END"
    return column


def _unique(names: Sequence[str]) -> list[str]:
    """Names made unique (``x``, ``x_1``), as JSON keys must be."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if not count else f"{name}_{count}")
    return out
