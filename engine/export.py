"""``COPY (query) TO 'file' (FORMAT csv|parquet|json, …)``: fedq writes a result to a local file.

The local DuckDB stays sandboxed (engine/sandbox.py), so it never writes. Instead, a DuckDB of its
own per export, sandboxed too, may open exactly one path: a temporary file beside the target that
fedq created for it. It runs DuckDB's own ``COPY`` over the result's Arrow stream (so the file is
what DuckDB would write), and fedq then moves the file into place: without replacing an existing
file unless ``OVERWRITE`` was given, and leaving nothing behind when the query fails or is
cancelled. A failure while reading the result is reported as that read error; only a failure of
the writer is called a write error. ``COPY … FROM`` is refused: sources are read-only.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from fedq.engine.sandbox import sandboxed_duckdb
from fedq.errors import NotSupportedError, OperationalError, ProgrammingError

FORMATS = ("csv", "parquet", "json")
EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
              ".json": "json", ".jsonl": "json", ".ndjson": "json"}
COMPRESSIONS = (".gz", ".zst")  # DuckDB picks CSV/JSON compression from these
# Options passed on to DuckDB's COPY, by format, with the Python type their value must have.
OPTIONS: dict[str, dict[str, type]] = {
    "csv": {"header": bool, "delimiter": str, "sep": str, "quote": str, "escape": str, "nullstr": str,
            "dateformat": str, "timestampformat": str, "compression": str, "force_quote": str},
    "parquet": {"compression": str, "compression_level": int, "row_group_size": int, "row_group_size_bytes": int},
    "json": {"array": bool, "compression": str, "dateformat": str, "timestampformat": str},
}
OVERWRITE = ("overwrite", "overwrite_or_ignore")  # DuckDB's names; for one file both mean: replace it
COUNT = pa.schema([pa.field("Count", pa.int64(), nullable=False)])  # DuckDB's COPY answers with its row count


@dataclass
class ExportSpec:
    """What a COPY … TO asks for, checked before any source is contacted."""

    query: exp.Expression
    path: Path
    format: str
    overwrite: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def copy_spec(tree: exp.Copy) -> ExportSpec:
    """The export a ``COPY`` statement asks for; COPY … FROM and unknown options are refused."""
    target = tree.this.sql("duckdb") if tree.this is not None else "?"
    if tree.args.get("kind"):
        raise NotSupportedError(f"COPY {target} FROM …: fedq only reads, sources are read-only (nothing is written into "
                                "a source); COPY (query) TO 'file' exports a result")
    files = tree.args.get("files") or []
    if len(files) != 1 or not isinstance(files[0], exp.Literal) or not files[0].is_string:
        raise ProgrammingError("COPY … TO needs one file name in quotes: COPY (SELECT …) TO 'out.csv' (FORMAT csv)")
    name = files[0].name
    if "://" in name or not name:
        raise NotSupportedError(f"COPY … TO '{name}': fedq writes local files only (a path on this machine)")
    query = tree.this.this if isinstance(tree.this, exp.Subquery) else tree.this
    if isinstance(query, exp.Table):
        query = exp.select("*").from_(query)
    if query is None or not isinstance(query, (exp.Query,)):
        raise ProgrammingError("COPY … TO takes a query in parentheses or a table: COPY (SELECT …) TO 'file'")
    options = dict(_option(p) for p in tree.args.get("params") or [])
    path = Path(name).expanduser()
    fmt = str(options.pop("format", None) or _format_of(path)).lower()
    if fmt not in FORMATS:
        raise ProgrammingError(f"COPY … TO '{name}': option FORMAT must be one of {', '.join(FORMATS)}, not '{fmt}'")
    overwrite = False
    for key in OVERWRITE:
        if key in options:
            overwrite = _typed(key, options.pop(key), bool, name) or overwrite
    known = OPTIONS[fmt]
    for key, value in options.items():
        if key not in known:
            raise ProgrammingError(f"COPY … TO '{name}': option {key.upper()} is not known for FORMAT {fmt} "
                                   f"(known: FORMAT, OVERWRITE, {', '.join(k.upper() for k in known)})")
        options[key] = _typed(key, value, known[key], name)
    return ExportSpec(query, path, fmt, overwrite, options)


def _option(parameter: exp.Expression) -> tuple[str, Any]:
    """``KEY value`` of a COPY option as (lower-case key, Python value); a bare key is true."""
    key = parameter.this.name.lower() if parameter.this is not None else ""
    value = parameter.args.get("expression")
    if value is None:
        return key, True
    if isinstance(value, exp.Boolean):
        return key, value.this
    if isinstance(value, exp.Literal) and not value.is_string:
        return key, int(value.this) if value.this.isdigit() else value.this
    return key, value.name if isinstance(value, (exp.Literal, exp.Var, exp.Identifier, exp.Column)) else value.sql("duckdb")


def _typed(key: str, value: Any, kind: type, name: str) -> Any:
    """``value`` as ``kind`` (true/false/1/0/on/off for a bool), or an error naming the option."""
    if kind is bool:
        text = str(value).lower()
        if isinstance(value, bool) or text in ("true", "false", "1", "0", "on", "off"):
            return value if isinstance(value, bool) else text in ("true", "1", "on")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    elif isinstance(value, str) and not isinstance(value, bool):
        return value
    wanted = {bool: "true or false", int: "a whole number (at least 1)", str: "a text in quotes"}[kind]
    raise ProgrammingError(f"COPY … TO '{name}': option {key.upper()} must be {wanted}, not {value!r}")


def _format_of(path: Path) -> str:
    """The format a file name implies (``out.csv.gz`` is CSV); DuckDB's default, CSV, otherwise."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes.pop()
    return EXTENSIONS.get(suffixes[-1] if suffixes else "", "csv")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return exp.Literal.string(str(value)).sql("duckdb")


def export(reader: pa.RecordBatchReader, spec: ExportSpec) -> int:
    """Write ``reader`` to ``spec.path``; returns the number of rows written."""
    target = spec.path.resolve()
    if target.is_dir():
        raise OperationalError(f"COPY … TO '{spec.path}': that is a folder; name a file")
    if target.exists() and not spec.overwrite:
        raise OperationalError(f"COPY … TO '{spec.path}': the file exists; fedq does not replace it unless asked: "
                               f"add OVERWRITE, as in (FORMAT {spec.format}, OVERWRITE)")
    if not target.parent.is_dir():
        raise OperationalError(f"COPY … TO '{spec.path}': folder '{target.parent}' does not exist")
    temporary = str(target.parent / f".fedq-export-{secrets.token_hex(6)}-{target.name}")  # same suffixes: DuckDB reads .gz
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, as for any new file
    except OSError as error:
        raise OperationalError(f"COPY … TO '{spec.path}': cannot write in folder '{target.parent}': {error.strerror}") from None
    try:
        rows = _write(reader, spec, temporary)
        _place(temporary, target, spec)
        return rows
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class _Watched:
    """The result's batches, counted, keeping the error a read raised (so it is not called a write error)."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader, self.rows, self.error = reader, 0, None

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.reader:
                self.rows += batch.num_rows
                yield batch
        except BaseException as error:
            self.error = error
            raise

    def stream(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.reader.schema, self.batches())


def _write(reader: pa.RecordBatchReader, spec: ExportSpec, temporary: str) -> int:
    """DuckDB's COPY of the stream into ``temporary``, the only path its sandbox opens."""
    watched = _Watched(reader)
    options = ", ".join([f"FORMAT {spec.format}"] + [f"{k.upper()} {_literal(v)}" for k, v in spec.options.items()])
    options += ", USE_TMP_FILE false"  # the file is fedq's temporary already
    writer = sandboxed_duckdb(config={"threads": max(1, os.cpu_count() or 1)}, allowed_paths=[temporary])
    try:
        writer.register("__fedq_export", watched.stream())
        writer.execute(f"COPY (SELECT * FROM __fedq_export) TO {_literal(temporary)} ({options})")
    except duckdb.Error as error:
        if watched.error is not None:
            raise watched.error from None
        message = str(error).split("\n")[0].replace(temporary, str(spec.path))
        raise OperationalError(f"COPY … TO '{spec.path}': writing the file failed: {message}") from None
    finally:
        writer.close()
    if watched.error is not None:
        raise watched.error
    return watched.rows


def _place(temporary: str, target: Path, spec: ExportSpec) -> None:
    """Move the finished file to ``target``: replacing it only with OVERWRITE, never a file that
    appeared meanwhile (a hard link fails if the name exists)."""
    try:
        if spec.overwrite:
            os.replace(temporary, target)
        elif not _link(temporary, target):  # a file system without hard links
            if target.exists():
                raise FileExistsError(str(target))
            os.replace(temporary, target)
    except FileExistsError:
        raise OperationalError(f"COPY … TO '{spec.path}': the file appeared while the result was written; "
                               "it was left as it is (add OVERWRITE to replace it)") from None
    except OSError as error:
        raise OperationalError(f"COPY … TO '{spec.path}': cannot write the file: {error.strerror}") from None


def _link(temporary: str, target: Path) -> bool:
    """Hard-link the file to ``target`` (fails if the name exists); False where links are not supported."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def count_table(rows: int) -> pa.Table:
    """COPY's answer, as DuckDB gives it: one row, the number of rows written."""
    return pa.table({"Count": pa.array([rows], pa.int64())}, schema=COUNT)
