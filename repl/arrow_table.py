"""An aligned table block straight from Arrow: the streamed table format's hot path.

A streamed result is printed a block at a time (repl/runner.py); building a Python string per cell
and padding it in Python took ~7 s per million rows. Here the cells are made, measured, padded and
joined by Arrow compute kernels, column by column. The text is exactly what :func:`output.table`
prints for the same rows (tests/test_output.py compares them): columns whose Arrow text differs
from Python's (floats, decimals, timestamps, times, binary, nested values) and columns holding
non-ASCII or control characters (display widths need wcwidth) take the per-value path.
"""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from fedq.repl import output

_CONTROL = r"[\x00-\x1f\x7f]"  # width 0 for wcwidth, 1 for len(): such text is measured per character


def _texts(column: pa.ChunkedArray, null: str) -> pa.ChunkedArray:
    """Each value as :func:`output.cell` writes it, NULL as ``null``."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        texts = pc.replace_substring(pc.replace_substring(column, "\n", "\\n"), "\t", "\\t")
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date32(kind):
        texts = pc.cast(column, pa.string())  # the same text as str(int), 'true'/'false', date.isoformat()
    else:
        texts = pa.chunked_array([pa.array([output.cell(v, null) for v in column.to_pylist()], pa.string())])
    return pc.fill_null(texts, null)


def _plain(texts: pa.ChunkedArray) -> bool:
    """Whether every text is printable ASCII, so its display width is its length."""
    return bool(pc.all(pc.string_is_ascii(texts)).as_py() is not False
                and not pc.any(pc.match_substring_regex(texts, _CONTROL)).as_py())


def _padded(texts: pa.ChunkedArray, width: int, right: bool) -> pa.ChunkedArray:
    if _plain(texts):
        pad = pc.utf8_lpad if right else pc.utf8_rpad
        return pad(texts, width=width, padding=" ")
    return pa.chunked_array([pa.array([output.pad(t, width, right) for t in texts.to_pylist()], pa.string())])


def _width(texts: pa.ChunkedArray) -> int:
    if not len(texts):
        return 0
    if _plain(texts):
        return int(pc.max(pc.utf8_length(texts)).as_py())
    return max(output.width_of(t) for t in texts.to_pylist())


def table_block(names: Sequence[str], types: Sequence[str], block: pa.Table, null: str = output.NULL) -> str:
    """``block`` as :func:`output.table` draws it with expansion off (a type row under the names)."""
    texts = [_texts(column, null) for column in block.columns]
    widths = [max(output.width_of(n), output.width_of(t), _width(c)) for n, t, c in zip(names, types, texts)]
    numeric = [output.is_numeric(t) for t in types]
    head = [output.rule("┌", "┬", "┐", widths), output.line(names, widths),
            output.line(types, widths), output.rule("├", "┼", "┤", widths)]
    if texts and block.num_rows:
        cells = [_padded(c, w, right) for c, w, right in zip(texts, widths, numeric)]
        body = pc.binary_join_element_wise("│ ", pc.binary_join_element_wise(*cells, " │ "), " │", "")
        head.append("\n".join(body.to_pylist()))
    elif block.num_rows:  # no columns: an empty line a row, as output.table draws it
        head.append("\n".join([output.line([], widths)] * block.num_rows))
    head.append(output.rule("└", "┴", "┘", widths))
    return "\n".join(head)
