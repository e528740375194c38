"""Run a plan: fragments start at once, each in its own thread, and stream record batches into
DuckDB through bounded queues; DuckDB runs the local query over them as registered Arrow streams.

A fragment's failure is kept and re-raised as the fedq error it was (naming the source), not as
DuckDB's wrapper around it.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
import time
from typing import Any, Callable, Iterator

import duckdb
import pyarrow as pa

from fedq.engine.deadline import Deadline
from fedq.engine.planner import DYNAMIC_WAIT_SECONDS, Fragment, Plan
from fedq.engine.sandbox import sandbox_refusal
from fedq.errors import DatabaseError, DataError, Error, OperationalError, ProgrammingError
from fedq.sources.arrow_util import with_exact_decimals
from fedq.sources.handoff import put_until_stopped

QUEUE_BATCHES = 8
READER_STOP_SECONDS = 2.0  # the result is complete: readers get this long to close their statements
_END = object()


class FragmentStream:
    """A background reader of one fragment, exposed to DuckDB as a RecordBatchReader."""

    def __init__(self, fragment: Fragment, cancelled: threading.Event, materialize: bool = False,
                 build: "FragmentStream | None" = None, turn: threading.Semaphore | None = None) -> None:
        self.fragment = fragment
        self.cancelled = cancelled
        self.materialize = materialize  # another fragment needs this one's join keys
        self.build = build  # the stream whose keys narrow this one (dynamic filter)
        self.turn = turn  # taken while the remote statement is open; its holder never waits on DuckDB
        self.table: pa.Table | None = None
        self.done = threading.Event()
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=0 if turn is not None else QUEUE_BATCHES)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"fedq-{fragment.view}", daemon=True)
        self.thread.start()

    def _open(self) -> pa.RecordBatchReader:
        fragment = self.fragment
        request = self._narrowed(fragment.request) if fragment.kind == "scan" else None
        self._take_turn()
        if request is not None:
            return fragment.source.scan(request, fragment.stats)
        return fragment.source.query(fragment.remote_sql, fragment.remote_params, fragment.stats)

    def _take_turn(self) -> None:
        """Wait (cancellably) until the source has a free read; a dynamic filter is decided first,
        so a probe never holds a turn while its build side waits for one."""
        if self.turn is None:
            return
        while not self.turn.acquire(timeout=0.05):
            if self.cancelled.is_set():
                self.turn = None  # nothing taken, nothing to give back
                raise OperationalError("query cancelled")

    def _narrowed(self, request: Any) -> Any:
        """The scan request plus the dynamic filter, once the build side's keys are known."""
        dynamic = self.fragment.dynamic
        if dynamic is None or self.build is None:
            return request
        deadline = time.monotonic() + DYNAMIC_WAIT_SECONDS
        while not self.build.done.wait(0.05):
            if self.cancelled.is_set():
                raise OperationalError("query cancelled")
            if time.monotonic() > deadline:
                dynamic.skip(f"build side slower than {DYNAMIC_WAIT_SECONDS:g} s")
                return request
        if self.build.table is None:
            dynamic.skip("build side failed")
            return request
        reduction = dynamic.reduce_table(self.build.table)  # engine/reduction.py: in-list, array, batched in-lists, range, empty or none
        if reduction.term is None:
            return request
        narrowed = dataclasses.replace(request, filters=request.filters + (reduction.term,),
                                       params={**request.params, **reduction.params})
        self.fragment.request = narrowed
        if self.fragment.remote_sql is not None:
            self.fragment.remote_sql = self.fragment.remote_sql + f"  -- + dynamic {reduction.strategy} of {reduction.keys} keys"
        return narrowed

    def _exact_decimals(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """A pushed query's decimal text (PostgreSQL's unconstrained numeric) as the decimal DuckDB planned
        for it, so a local SUM or comparison sees the type the all-local query would."""
        if self.fragment.kind != "query" or self.fragment.schema is None:
            return reader
        name = self.fragment.source.name
        return with_exact_decimals(reader, self.fragment.schema, lambda field, error: DataError(
            f"source '{name}': column '{field.name}' does not fit {field.type}: {error}"))

    def _check_shape(self, fetched: pa.Schema) -> None:
        """A scan must return the columns and types fedq planned with; anything else means the table
        changed under a cached schema (the error is then explained by the drift check)."""
        request = self.fragment.request
        if self.fragment.kind != "scan" or request is None or not request.columns:
            return
        for got, want in zip(fetched, request.schema):
            if (got.name, got.type) != (want.name, want.type):
                raise self.fragment.source.operational_error("returned an unexpected schema", ValueError(
                    f"table {request.table} returned column '{got.name}' as {got.type}, "
                    f"but fedq planned with '{want.name}' as {want.type}"))

    def _put(self, item: Any) -> bool:
        return put_until_stopped(self.queue, item, self.cancelled)

    def _run(self) -> None:
        reader = None
        try:
            reader = self._exact_decimals(self._open())
            self._check_shape(reader.schema)
            if self.materialize:
                self.table = reader.read_all()
                self.done.set()
                reader = self.table.to_reader()
            if not self._put(reader.schema):
                return
            for batch in reader:
                if not self._put(batch):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer thread
            self.error = error
            self._put(error)
        finally:
            self.done.set()
            if reader is not None:
                reader.close()  # ends the remote statement early when DuckDB stopped reading
            if self.turn is not None:
                self.turn.release()

    def _next(self) -> Any:
        while True:
            if self.cancelled.is_set():
                raise OperationalError("query cancelled")
            try:
                item = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def reader(self) -> pa.RecordBatchReader:
        schema = self._next()

        def batches() -> Iterator[pa.RecordBatch]:
            while True:
                item = self._next()
                if item is _END:
                    return
                yield item

        return pa.RecordBatchReader.from_batches(schema, batches())


def _turns(fragments: list[Fragment]) -> dict[int, threading.Semaphore]:
    """A semaphore per source that this plan reads more often than its ``max_concurrent_reads``.

    Those reads take turns and buffer their rows unbounded, so a turn is always given back without
    DuckDB reading first (DuckDB opens every registered stream before it reads any)."""
    reads: dict[int, tuple[Any, int]] = {}
    for fragment in fragments:
        source, count = reads.get(id(fragment.source), (fragment.source, 0))
        reads[id(source)] = (source, count + 1)
    return {key: threading.Semaphore(int(source.max_concurrent_reads))
            for key, (source, count) in reads.items()
            if getattr(source, "max_concurrent_reads", None) is not None and count > int(source.max_concurrent_reads)}


class Execution:
    """One running statement: its fragment streams, its DuckDB cursor and its result stream."""

    def __init__(self, database: duckdb.DuckDBPyConnection, plan: Plan, deadline: Deadline | None = None,
                 explain_error: Callable[[Error], Error] | None = None) -> None:
        """``deadline`` started when the statement was submitted (planning used part of it)."""
        self.plan = plan
        self.explain_error = explain_error or (lambda error: error)  # e.g. name the table that changed shape
        self.cancelled = threading.Event()
        self.cursor = database.cursor()
        self.streams: list[FragmentStream] = []
        self.statement_deadline = deadline or Deadline(None)
        self.deadline = self.statement_deadline.at  # carried to the sources
        self.expired = False
        self.late: list[str] = []  # sources still streaming when the deadline passed
        self._timer: threading.Timer | None = None
        if self.deadline is not None:
            self._timer = threading.Timer(self.statement_deadline.remaining(), self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        """The deadline passed: stop DuckDB and every remote statement."""
        self.late = sorted({f"source '{s.fragment.source.name}' ({s.fragment.source.type_name})"
                            for s in self.streams if not s.done.is_set()})  # named in the error
        self.expired = True
        self.cancel()

    def _register(self, materialize: bool) -> None:
        builds = {id(f.dynamic.build) for f in self.plan.fragments if f.dynamic is not None}
        by_fragment: dict[int, FragmentStream] = {}
        self.streams = []
        streamed = [f for f in self.plan.fragments if f.native is None]  # native reads happen inside DuckDB
        turns = _turns(streamed)
        for fragment in sorted(streamed, key=lambda f: f.dynamic is not None):  # builds start first
            build = by_fragment.get(id(fragment.dynamic.build)) if fragment.dynamic is not None else None
            fragment.stats.deadline = self.deadline
            stream = FragmentStream(fragment, self.cancelled, materialize=id(fragment) in builds, build=build,
                                    turn=turns.get(id(fragment.source)))
            by_fragment[id(fragment)] = stream
            self.streams.append(stream)
        for stream in self.streams:
            reader = stream.reader()
            whole = materialize or stream.fragment.small
            self.cursor.register(stream.fragment.view, reader.read_all() if whole else reader)

    def start(self, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """Start all fragments and the local query; return DuckDB's result as a batch stream."""
        try:
            self._register(materialize=False)
            return self._guard(self._local_reader(batch_rows))
        except duckdb.Error as error:
            if "already been consumed" in str(error):  # DuckDB scanned one stream twice: read them into memory
                self.cancel_streams()
                self.cancelled = threading.Event()
                self._register(materialize=True)
                return self._guard(self._local_reader(batch_rows))
            raise self._translate(error) from None
        except Error as error:
            if self.expired:
                raise self._translate(error) from None
            raise self.explain_error(error) from None
        except BaseException:
            self.close()
            raise

    def _local_reader(self, batch_rows: int) -> pa.RecordBatchReader:
        relation = self.cursor.sql(self.plan.local_sql, params=self.plan.local_params or None)
        return relation.to_arrow_reader(batch_rows)

    def _guard(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """Re-raise fragment errors (not DuckDB's wrapping of them) while the result streams."""
        def batches() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        self._stop_readers()
                        return
                    yield batch
            except (duckdb.Error, pa.ArrowException, OSError) as error:  # pyarrow hands DuckDB's stream failure over as OSError
                raise self._translate(error) from None

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _translate(self, error: BaseException) -> Error:
        if self.expired:
            return self.statement_deadline.error(late=self.late)
        if self.cancelled.is_set() or isinstance(error, duckdb.InterruptException):
            return OperationalError("query cancelled")
        for stream in self.streams:
            if isinstance(stream.error, Error):
                return self.explain_error(stream.error)
        for stream in self.streams:  # a source failed with something that is not a fedq error: name it
            if stream.error is not None and not isinstance(stream.error, (KeyboardInterrupt, SystemExit)):
                return stream.fragment.source.operational_error("reading failed", stream.error)
        if (refused := sandbox_refusal(error)) is not None:  # a file, URL or setting the sandbox keeps closed
            return refused
        message = str(error).strip().split("\n\nStack Trace:")[0]  # DuckDB's internal errors carry a C++ trace
        native = [f"source '{f.source.name}', table '{f.request.table.name}'" for f in self.plan.fragments if f.native is not None]
        if native and isinstance(error, (duckdb.InternalException, duckdb.FatalException)):
            detail = message.removeprefix("INTERNAL Error: ").removeprefix("FATAL Error: ")
            return DataError(f"DuckDB failed reading {' and '.join(native)} (a file may be corrupt): {detail}")
        if native and not isinstance(error, (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException)):
            message += f" (DuckDB was reading {' and '.join(native)})"  # a corrupt file names no table itself
        if isinstance(error, (duckdb.BinderException, duckdb.CatalogException, duckdb.ParserException)):
            return ProgrammingError(message)
        if isinstance(error, (duckdb.ConversionException, duckdb.OutOfRangeException, duckdb.InvalidInputException)):
            return DataError(message)
        return DatabaseError(message)

    def _stop_readers(self) -> None:
        """DuckDB has every row (a LIMIT may be met long before the sources end): stop the readers
        now, so their remote statements end and nothing is left reading when the program exits."""
        self.cancelled.set()
        budget = time.monotonic() + READER_STOP_SECONDS
        for stream in self.streams:
            stream.thread.join(timeout=max(0.0, budget - time.monotonic()))

    def cancel_streams(self) -> None:
        self.cancelled.set()
        for stream in self.streams:
            stream.fragment.source.cancel() if stream.thread.is_alive() else None

    def cancel(self) -> None:
        """Stop the local query and every remote statement still running."""
        self.cancel_streams()
        try:
            self.cursor.interrupt()
        except duckdb.Error:
            pass

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        # After a deadline a reader may sit in a network read nothing will answer (a stalled path):
        # it was told to stop and its source's timeouts end it; the caller does not wait for it.
        budget = time.monotonic() + (0.2 if self.expired else 5 * len(self.streams))
        self.cancelled.set()
        for stream in self.streams:
            stream.thread.join(timeout=max(0.0, min(5.0, budget - time.monotonic())))
        try:
            self.cursor.close()
        except duckdb.Error:
            pass
