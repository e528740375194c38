"""Running statements for a person: results printed in the chosen format, errors as one clean
message, live progress per fragment after a second, and Ctrl-C that cancels the query (remote
statements included) instead of killing the program. Shared by the REPL, ``-c`` and stdin."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import pyarrow as pa
import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

import fedq
from fedq.repl import arrow_table, output
from fedq.repl.commands import MAX_INCLUDE_DEPTH, Reply, Settings, Watch, run_command
from fedq.repl.plan_view import progress_lines, scan_totals

PROGRESS_AFTER_SECONDS = 1.0
CHUNK_ROWS = 1_000  # rows per aligned block of a streamed table
CANCEL_WAIT_SECONDS = 0.8  # after Ctrl-C, how long the prompt waits for the query's thread to stop


class _Cancelled(Exception):
    """Ctrl-C stopped the query."""


class _Stopped(Exception):
    """The reader of the output went away (a pager quit, a closed pipe): stop quietly."""


@dataclasses.dataclass
class _Head:
    """The first batches of a result (more than row_limit rows, or all of it) and the rest's stream."""

    cursor: fedq.Cursor
    reader: pa.RecordBatchReader
    batches: list[pa.RecordBatch]
    more: bool

    def batches_then_rest(self) -> Iterator[pa.RecordBatch]:
        yield from self.batches
        self.batches = []
        yield from self.reader


class _Sink:
    """Bytes to the output; a reader that went away (BrokenPipeError) ends the result quietly."""

    def __init__(self, write: Callable[[bytes], Any]) -> None:
        self._write = write

    def write(self, data: bytes) -> None:
        try:
            self._write(data)
        except BrokenPipeError:
            raise _Stopped() from None


def _chunks(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Tables of ``size`` rows (the last may be shorter) from a stream of batches."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = batch.slice(0, size - held)
            pending.append(take)
            held += take.num_rows
            batch = batch.slice(take.num_rows)
            if held == size:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


def _python_rows(table: pa.Table) -> list[tuple]:
    """Rows to print (a block at a time); a value Python cannot hold is a clean error."""
    try:
        return list(zip(*[column.to_pylist() for column in table.columns])) if table.num_columns else [()] * table.num_rows
    except (OverflowError, ValueError, pa.ArrowException) as error:
        raise fedq.DataError(f"a value cannot be shown: {error}; COPY (query) TO 'file' writes it") from None


def split_statements(text: str) -> list[str]:
    """Statements of a script, in order: a line starting with ``\\`` is a meta command of its own;
    SQL ends at ``;`` outside quotes and comments."""
    statements: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("\\"):
            statements += _split_sql("\n".join(pending))
            pending = []
            statements.append(line.strip())
        else:
            pending.append(line)
    return statements + _split_sql("\n".join(pending))


def _split_sql(sql: str) -> list[str]:
    try:
        tokens = sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return [sql.strip()] if sql.strip() else []
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start:token.start])
            start = token.end + 1
    pieces.append(sql[start:])
    return [p.strip() for p in pieces if p.strip() and not _only_comments(p)]


def _only_comments(sql: str) -> bool:
    try:
        return not sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return False


class Runner:
    """Executes statements for one connection and prints what a person should see."""

    def __init__(self, connection: fedq.Connection, out: TextIO = sys.stdout, err: TextIO | None = None,
                 settings: Settings | None = None, interactive: bool = False,
                 confirm: Callable[[str], bool] | None = None) -> None:
        """``confirm`` asks a yes/no question (the REPL's row-limit prompt); None never asks."""
        self.connection = connection
        self.out = out
        self.err = err or out
        self.settings = settings or Settings()
        self.interactive = interactive
        self.confirm = confirm
        self.quit = False
        self.cancelled = False  # Ctrl-C stopped a query of the last script
        self._depth = 0  # \\i and \\e scripts running inside a script

    # -- entry ----------------------------------------------------------------------------
    def run(self, statement: str) -> bool:
        """Run one statement or meta command; False if it failed or was cancelled."""
        try:
            if statement.startswith("\\"):
                reply = run_command(self.connection, self.settings, statement)
                self.quit = reply.quit
                self._print_reply(reply)
                self._warn(reply.warnings)
                if reply.run is not None:
                    return self._nested(reply.run)
                if reply.watch is not None:
                    return self._watch(reply.watch)
                return True
            self.settings.last_query = statement
            return self._query(statement)
        except fedq.Error as error:
            self._error(str(error))
            return False

    def run_script(self, text: str) -> bool:
        """Run each statement; Ctrl-C (a cancelled query) stops the script."""
        ok, self.cancelled = True, False
        for statement in split_statements(text):
            ok = self.run(statement) and ok
            if self.quit or self.cancelled:
                break
        return ok

    def _nested(self, text: str) -> bool:
        """A script from \\i or \\e, inside the one running; a Ctrl-C in it stops the outer one too."""
        if self._depth >= MAX_INCLUDE_DEPTH:
            raise fedq.ProgrammingError(f"\\i: files include each other more than {MAX_INCLUDE_DEPTH} deep; stopped")
        self._depth += 1
        try:
            return self.run_script(text)
        finally:
            self._depth -= 1

    def _watch(self, watch: Watch) -> bool:
        """psql's \\watch: a title line with the time, then the result, again and again until Ctrl-C,
        a failure, or ``count`` runs."""
        runs = 0
        try:
            while True:
                self._result(f"{time.strftime('%a %d %b %Y %H:%M:%S')} (every {watch.seconds:g} s)\n\n")
                ok = self._query(watch.sql)
                runs += 1
                if not ok or self.cancelled or (watch.count is not None and runs >= watch.count):
                    return ok
                self._result("\n")
                time.sleep(watch.seconds)
        except KeyboardInterrupt:  # during the pause: the watch ends quietly, as in psql
            return True

    # -- queries ------------------------------------------------------------------------
    def _query(self, sql: str) -> bool:
        """Run a query and stream its rows to the output as they arrive; Ctrl-C cancels it."""
        cursor = self.connection.cursor()
        started = time.perf_counter()
        closing = threading.Thread(target=cursor.close, name="fedq-close", daemon=True)
        try:
            head = self._background(cursor, lambda: self._first_rows(cursor, sql), progress=True)
            if head is None:
                if self.settings.output is None:
                    self._write("OK")
            elif head.more and not self._go_on():
                cursor.cancel()
                self._error(f"result not shown: it has more than {self.settings.row_limit:,} rows "
                            "(\\o FILE or COPY (query) TO 'file' writes all of it)")
                return False
            else:
                rows = self._background(cursor, lambda: self._emit(head, started))
                if rows is not None and self.settings.format in ("table", "vertical"):
                    self._result(output.status(rows, time.perf_counter() - started if self.settings.timing else None) + "\n")
            self._warn([str(warning) for _, warning in cursor.messages])
            return True
        except _Cancelled:
            self._error("query cancelled")
            self.cancelled = True
            return False
        finally:
            closing.start()  # in the background: after a cancel, its sources may take a moment to stop
            if not self.interactive:
                closing.join()

    def _background(self, cursor: fedq.Cursor, work: Callable[[], Any], progress: bool = False) -> Any:
        """``work()`` in a thread while this one waits: Ctrl-C cancels the query (remote statements
        included) and raises _Cancelled; a fedq error is re-raised here, as one clean message."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = error

        started = time.perf_counter()
        worker = threading.Thread(target=run, name="fedq-query", daemon=True)
        worker.start()
        shown = 0
        totals: dict[str, int] = {}  # filled by a thread of its own once the plan is known
        estimating = False
        try:
            while worker.is_alive():
                worker.join(0.1)
                elapsed = time.perf_counter() - started
                if progress and self.interactive and elapsed > PROGRESS_AFTER_SECONDS and worker.is_alive():
                    if not estimating and cursor.plan is not None and sys.stderr.isatty():
                        self._estimate_totals(cursor.plan, totals)
                        estimating = True
                    shown = self._progress(cursor, elapsed, shown, totals)
        except KeyboardInterrupt:
            self._clear_progress(shown)
            cursor.cancel()
            # the prompt comes back at once; a script waits for the thread, so the program never
            # exits while it is still inside DuckDB (that aborts the interpreter)
            worker.join(CANCEL_WAIT_SECONDS if self.interactive else None)
            raise _Cancelled() from None
        self._clear_progress(shown)
        error = outcome.get("error")
        if isinstance(error, _Stopped):
            cursor.cancel()
            return None
        if error is not None:
            raise error
        return outcome.get("value")

    def _first_rows(self, cursor: fedq.Cursor, sql: str) -> _Head | None:
        """Execute, and read batches until more than row_limit rows (or the end) are in hand."""
        cursor.execute(sql)
        if not cursor.description:
            return None
        reader = cursor.fetch_record_batch()
        head, rows = [], 0
        while rows <= self.settings.row_limit:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return _Head(cursor, reader, head, more=False)
            head.append(batch)
            rows += batch.num_rows
        return _Head(cursor, reader, head, more=True)

    def _go_on(self) -> bool:
        """pgcli's question for a huge result on the terminal; elsewhere everything is written."""
        if self.confirm is None or self.settings.output is not None:
            return True
        try:
            return self.confirm(f"The result set has more than {self.settings.row_limit:,} rows. Do you want to continue? [y/N] ")
        except (KeyboardInterrupt, EOFError):
            return False

    def _emit(self, head: _Head, started: float) -> int:
        """Write the result in the chosen format as it streams; the number of rows written."""
        names = [d[0] for d in head.cursor.description]
        fmt = self.settings.format
        if fmt in ("table", "vertical") and not head.more:
            table = pa.Table.from_batches(head.batches, schema=head.reader.schema)
            rows = _python_rows(table)
            self._page(self._render(names, output.type_names(head.cursor.description), rows), to_sink=True)
            return len(rows)
        with self._stream_sink(head.more) as sink:
            if fmt in output.ENCODED:
                return self._emit_encoded(head, names, sink)
            return self._emit_chunks(head, names, sink)

    def _emit_encoded(self, head: _Head, names: list[str], sink: _Sink) -> int:
        """CSV and JSON Lines: each Arrow batch becomes text in DuckDB (no Python code per row)."""
        encoder = output.BatchText(self.settings.format)
        try:
            sink.write(encoder.header(names).encode())
            rows = 0
            for batch in head.batches_then_rest():
                sink.write(encoder.encode(batch))
                rows += batch.num_rows
            return rows
        finally:
            encoder.close()

    def _emit_chunks(self, head: _Head, names: list[str], sink: _Sink) -> int:
        """The display formats have no writer over Arrow: CHUNK_ROWS rows at a time, each table
        chunk aligned on its own (psql's FETCH_COUNT), so memory stays bounded. Records number on
        across chunks (under \\x auto, the first chunk's width decides for all); html has one table
        around every chunk."""
        types = output.type_names(head.cursor.description)
        fmt, null = self.settings.format, self.settings.null
        if fmt == "html":
            sink.write((output.html_head(names) + "\n").encode())
        records = fmt == "vertical" or (fmt == "table" and self.settings.expanded == "on")
        rows = 0
        for chunk in _chunks(head.batches_then_rest(), CHUNK_ROWS):
            if not rows and fmt == "table" and self.settings.expanded == "auto":  # the first block decides for all
                records = output.too_wide(names, types, _python_rows(chunk), self._width(), null)
            if fmt == "table" and not records:
                text = arrow_table.table_block(names, types, chunk, null)  # Arrow kernels, no Python per cell
            elif fmt == "html":
                text = output.html_rows(types, _python_rows(chunk), null)
            else:
                text = output.vertical(names, _python_rows(chunk), null=null, start=rows + 1)
            sink.write((text + "\n").encode())
            rows += chunk.num_rows
        if fmt == "html":
            sink.write((output.HTML_TAIL + "\n").encode())
        return rows

    def _render(self, names: list[str], types: list[str] | None, rows: list[tuple]) -> str:
        """Rows in the chosen format with the session's NULL text and expanded setting."""
        return output.render(self.settings.format, names, types, rows, self._width(),
                             null=self.settings.null, expand=self.settings.expanded)

    @contextlib.contextmanager
    def _stream_sink(self, long: bool) -> Iterator[_Sink]:
        """Where streamed text goes: the \\o file, a pager for a long result on a terminal, or out."""
        if self.settings.output is not None:
            yield _Sink(self.settings.output.write)
            self.settings.output.flush()
            return
        if long and self._pages():
            pager = subprocess.Popen(os.environ.get("PAGER", "less -SRFX"), shell=True, stdin=subprocess.PIPE)
            try:
                yield _Sink(pager.stdin.write)
            finally:
                with contextlib.suppress(BrokenPipeError):
                    pager.stdin.close()
                pager.wait()
            return
        self.out.flush()
        binary = getattr(self.out, "buffer", None)
        yield _Sink(binary.write if binary is not None else lambda data: self.out.write(data.decode()))
        (binary or self.out).flush()

    # -- printing -----------------------------------------------------------------------
    def _print_reply(self, reply: Reply) -> None:
        parts = []
        if reply.title:
            parts.append(reply.title)
        if reply.text:
            parts.append(reply.text)
        if reply.headers:
            parts.append(self._render(reply.headers, None, reply.rows))
        if reply.status and (self.settings.format in ("table", "vertical") or not reply.headers):
            parts.append(reply.status)
        if parts:
            self._page("\n".join(parts))

    def _width(self) -> int:
        return shutil.get_terminal_size((120, 40)).columns if self.interactive else 10_000

    def _pages(self) -> bool:
        return self.interactive and self.out is sys.stdout and sys.stdout.isatty()

    def _page(self, text: str, to_sink: bool = False) -> None:
        """Print, through a pager when the text is taller than an interactive terminal; a result
        (``to_sink``) goes to the \\o file when one is open."""
        if to_sink and self.settings.output is not None:
            self._result(text + "\n")
            return
        height = shutil.get_terminal_size((120, 40)).lines
        if self._pages() and text.count("\n") > height - 2:
            pager = os.environ.get("PAGER", "less -SRFX")
            try:
                subprocess.run(pager, shell=True, input=text.encode(), check=False)
                return
            except OSError:
                pass
        self._write(text)

    def _result(self, text: str) -> None:
        """Text that belongs to a result: to the \\o file when one is open, else to out."""
        if self.settings.output is not None:
            self.settings.output.write(text.encode())
            self.settings.output.flush()
        else:
            self.out.write(text)
            self.out.flush()

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _warn(self, warnings: list[str]) -> None:
        """Warnings (a source left out of a listing) on the error stream, so results stay clean."""
        for warning in warnings:
            self.err.write(f"WARNING: {warning}\n")
        self.err.flush()

    def _error(self, message: str) -> None:
        self.err.write(f"ERROR: {message}\n")
        self.err.flush()

    def _estimate_totals(self, plan: Any, totals: dict[str, int]) -> None:
        """Fill ``totals`` with the scans' row estimates in a thread of its own: a source's statistics
        query must not hold up the progress line or Ctrl-C."""

        def estimate() -> None:
            totals.update(scan_totals(self.connection.catalog, plan))

        threading.Thread(target=estimate, name="fedq-estimate", daemon=True).start()

    def _progress(self, cursor: fedq.Cursor, elapsed: float, shown: int, totals: dict[str, int] | None = None) -> int:
        """Redraw one live line per fragment on stderr (terminals only)."""
        stream = sys.stderr
        if not stream.isatty():
            return 0
        lines = progress_lines(cursor.plan, elapsed, totals)
        if shown:
            stream.write(f"\x1b[{shown}F")
        for line in lines:
            stream.write("\x1b[2K" + line + "\n")
        stream.flush()
        return len(lines)

    def _clear_progress(self, shown: int) -> None:
        if shown:
            sys.stderr.write(f"\x1b[{shown}F\x1b[J")
            sys.stderr.flush()
