"""Parallel reads of one large PostgreSQL table: ctid ranges over several connections, one snapshot.

A table scan (a :class:`ScanRequest`), or a pushed-down query that is only a row-wise read of one
table (``SELECT <expressions> FROM s.t [WHERE …]``: no join, aggregate, window, DISTINCT, ORDER BY,
LIMIT or subquery), of a table of at least ``2 * parallel_read_min_pages`` pages is split into page
ranges::

    SELECT "id", "x" FROM "s"."t" WHERE <pushed filters> AND "ctid" < CAST('(4096,0)' AS tid)
    SELECT "id", "x" FROM "s"."t" WHERE <pushed filters> AND "ctid" >= CAST('(4096,0)' AS tid)

(PostgreSQL 14+ answers these with a TID Range Scan). The first range has no lower bound and the last
no upper bound, so rows on pages added after the size was read are still covered. Every partition
runs in a REPEATABLE READ READ ONLY transaction on its own connection (begun by the source's lease,
in the round trip that sets the statement timeout); the first exports its
snapshot (``pg_export_snapshot()``) and the others import it (``SET TRANSACTION SNAPSHOT``) before
any of them reads, so together they see exactly one consistent state of the table.

One thread per partition streams its converted batches into a bounded queue; the consumer sees a
single RecordBatchReader (a scan's order is not defined). A partition that read to its end commits
and goes back to the pool (reset, as every lease is); one that was stopped early, cancelled or failed has its statement
cancelled and its connection closed, which ends its transaction.

How many connections a source uses for partitioned reads at once is bounded by
``max_parallel_reads``: a scan takes what is free (never waiting) and falls back to one stream when
fewer than two connections are free.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import re
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

import pyarrow as pa
import sqlglot
from sqlglot import exp

from fedq.errors import OperationalError
from fedq.sources.base import FetchStats, ScanRequest, TableName
from fedq.sources.handoff import put_until_stopped

if TYPE_CHECKING:
    from fedq.sources.postgres import PostgresSource

BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+-[0-9A-Fa-f]+(-[0-9]+)?$")
_DONE = object()
_slots: "weakref.WeakKeyDictionary[Any, _Slots]" = weakref.WeakKeyDictionary()
_sizes: "weakref.WeakKeyDictionary[Any, dict[TableName, tuple[float, int | None]]]" = weakref.WeakKeyDictionary()
SIZE_SECONDS = 10.0  # how long a table's size is trusted
_slots_lock = threading.Lock()


def default_parallel_reads() -> int:
    """Connections one source may read a large table over: twice the CPU count, at most 4. Client
    decoding and the server's scan take turns on each stream, so two streams per core keep both
    busy: on 2 CPUs, 4 partitions read 1.63x as fast as one stream and 2 only 1.09x
    (benchmarks/results/partitioned_reads.md)."""
    return max(1, min(4, 2 * (os.cpu_count() or 1)))


def block_ranges(pages: int, parts: int) -> list[tuple[int | None, int | None]]:
    """``parts`` page ranges ``[start, end)`` covering ``pages`` pages, open at both outer ends.

    >>> block_ranges(10, 3)
    [(None, 3), (3, 6), (6, None)]
    """
    bounds = [pages * i // parts for i in range(1, parts)]
    return list(zip([None, *bounds], [*bounds, None]))


def ctid_terms(start: int | None, end: int | None) -> tuple[exp.Expression, ...]:
    """Filter terms for the rows on pages ``[start, end)``: ``ctid >= '(start,0)'::tid AND ctid < '(end,0)'::tid``."""
    tid = exp.DataType.build("tid", dialect="postgres", udt=True)
    terms: list[exp.Expression] = []
    if start is not None:
        terms.append(exp.GTE(this=exp.column("ctid", quoted=True), expression=exp.cast(exp.Literal.string(f"({start},0)"), tid)))
    if end is not None:
        terms.append(exp.LT(this=exp.column("ctid", quoted=True), expression=exp.cast(exp.Literal.string(f"({end},0)"), tid)))
    return tuple(terms)


def plain_table_select(sql: str) -> tuple[exp.Select, TableName] | None:
    """The parsed statement and its table when ``sql`` reads one table row by row, and sqlglot writes
    the parsed statement back exactly as ``sql`` (fedq's own remote SQL), so adding a range to its
    WHERE changes nothing else.

    >>> plain_table_select('SELECT "t"."id" AS "c0" FROM "s"."t" AS "t" WHERE "t"."x" > $1')[1]
    TableName(schema='s', name='t')
    """
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except Exception:  # any statement sqlglot cannot read is simply not split
        return None
    if not isinstance(tree, exp.Select) or any(value for key, value in tree.args.items()
                                               if key not in ("expressions", "from_", "where")):
        return None
    table = tree.args["from_"].this if tree.args.get("from_") else None
    if not isinstance(table, exp.Table) or not table.db or table.args.get("catalog") or any(
            value for key, value in table.args.items() if key not in ("this", "db", "alias")):
        return None
    nested = (exp.AggFunc, exp.Window, exp.Subquery, exp.Exists, exp.SetOperation, exp.UDTF)
    if any(tree.find_all(*nested)) or any(s is not tree for s in tree.find_all(exp.Select)):
        return None
    if tree.sql("postgres") != sql:
        return None
    return tree, TableName(table.db, table.name)


def partition_count(source: "PostgresSource", table: TableName) -> tuple[int, int]:
    """(partitions, pages) this scan would use by the table's current size; 1 partition = one stream.

    Only ordinary tables and materialized views have ctid ranges worth splitting (not views, foreign
    or partitioned tables)."""
    limit = int(source.max_parallel_reads)
    if limit < 2:
        return 1, 0
    pages = _table_pages(source, table)
    if not pages:
        return 1, 0
    return max(1, min(limit, pages // max(1, int(source.parallel_read_min_pages)), pages)), pages


def _table_pages(source: "PostgresSource", table: TableName) -> int | None:
    """Pages of an ordinary table or materialized view (None for anything else), remembered for
    SIZE_SECONDS so that a run of queries costs one catalog round trip per table. A stale size
    only changes how the table is split: the outer ranges are open-ended."""
    with _slots_lock:
        sizes = _sizes.setdefault(source, {})
        known = sizes.get(table)
    if known is not None and time.monotonic() - known[0] < SIZE_SECONDS:
        return known[1]
    rows = source._fetch_all(
        "SELECT c.relkind::text AS kind, pg_relation_size(c.oid) / current_setting('block_size')::int AS pages "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        (table.schema, table.name)).to_pylist()
    pages = int(rows[0]["pages"]) if rows and rows[0]["kind"] in ("r", "m") else None
    with _slots_lock:
        sizes[table] = (time.monotonic(), pages)
    return pages


class _Slots:
    """The partition connections a source may still open: taken without waiting, given back at the end."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self.lock:
            got = min(wanted, self.free)
            self.free -= got
            return got

    def give(self, count: int) -> None:
        with self.lock:
            self.free += count


def _source_slots(source: "PostgresSource") -> _Slots:
    with _slots_lock:
        slots = _slots.get(source)
        if slots is None:
            slots = _slots[source] = _Slots(int(source.max_parallel_reads))
        return slots


Conformer = Callable[[pa.Schema], tuple[pa.Schema, Callable[[pa.RecordBatch], pa.RecordBatch]]]
RangeSQL = Callable[[int | None, int | None], tuple[str, tuple[Any, ...]]]


def partitioned_scan(source: "PostgresSource", request: ScanRequest, stats: FetchStats,
                     conformer: Conformer) -> pa.RecordBatchReader | None:
    """The scan split over several connections, or None when it should run as one stream."""
    def range_sql(start: int | None, end: int | None) -> tuple[str, tuple[Any, ...]]:
        return source.render_scan(dataclasses.replace(request, filters=request.filters + ctid_terms(start, end)))

    return _partitioned(source, request.table, range_sql, stats, conformer)


def partitioned_query(source: "PostgresSource", sql: str, params: tuple[Any, ...], stats: FetchStats,
                      conformer: Conformer) -> pa.RecordBatchReader | None:
    """A row-wise read of one table (:func:`plain_table_select`) split over several connections, or None."""
    if int(source.max_parallel_reads) < 2:
        return None
    found = plain_table_select(sql)
    if found is None:
        return None
    tree, table = found

    def range_sql(start: int | None, end: int | None) -> tuple[str, tuple[Any, ...]]:
        terms = ctid_terms(start, end)
        return (tree.copy().where(*terms).sql("postgres") if terms else sql), params

    return _partitioned(source, table, range_sql, stats, conformer)


def query_partitions(source: "PostgresSource", sql: str) -> int:
    """How many partitions :func:`partitioned_query` would use for ``sql`` now (1: one stream)."""
    found = plain_table_select(sql) if int(source.max_parallel_reads) >= 2 else None
    return partition_count(source, found[1])[0] if found else 1


def _partitioned(source: "PostgresSource", table: TableName, range_sql: RangeSQL, stats: FetchStats,
                 conformer: Conformer) -> pa.RecordBatchReader | None:
    wanted, pages = partition_count(source, table)
    if wanted < 2:
        return None
    slots = _source_slots(source)
    parts = slots.take(wanted)
    if parts < 2:
        slots.give(parts)
        return None
    try:
        partitions = _open(source, range_sql, pages, parts, stats.remaining())
    except BaseException:
        slots.give(parts)
        raise
    stats.partitions = parts
    return _Merge(source, partitions, stats, conformer, lambda: slots.give(parts)).reader()


@dataclasses.dataclass(eq=False)
class _Partition:
    connection: Any
    sql: str
    params: tuple[Any, ...]
    cursor: Any = None
    reader: Any = None
    committing: bool = False  # read to its end: commits and goes back to the pool
    finished: bool = False  # committed and back in the pool


def _acquire(source: "PostgresSource", count: int, deadline_seconds: float | None) -> list[Any]:
    """``count`` connections, opened concurrently (a new one costs a round trip and a server process)."""
    with ThreadPoolExecutor(count, thread_name_prefix="fedq-pg-connect") as pool:
        futures = [pool.submit(source._acquire, deadline_seconds, BEGIN) for _ in range(count)]
    connections, failure = [], None
    for future in futures:
        try:
            connections.append(future.result())
        except BaseException as error:
            failure = error
    if failure is not None:
        for connection in connections:
            source._release(connection, healthy=True)
        raise failure
    return connections


def _open(source: "PostgresSource", range_sql: RangeSQL, pages: int, parts: int,
          deadline_seconds: float | None) -> list[_Partition]:
    """Connections in one snapshot (each lease began a REPEATABLE READ READ ONLY transaction), each
    with its range's statement started."""
    partitions: list[_Partition] = []
    connections = _acquire(source, parts, deadline_seconds)
    try:
        snapshot = None
        for connection, (start, end) in zip(connections, block_ranges(pages, parts)):
            sql, params = range_sql(start, end)
            partitions.append(_Partition(connection, sql, params))
            with connection.cursor() as cursor:
                if snapshot is None:
                    cursor.execute("SELECT pg_export_snapshot()")
                    snapshot = cursor.fetchall()[0][0]
                    if not _SNAPSHOT_ID.match(snapshot):
                        raise OperationalError(f"unexpected snapshot id {snapshot!r}")
                else:
                    cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        for partition in partitions:  # every snapshot is imported before any range is read
            source.record(partition.sql)
            partition.cursor = partition.connection.cursor()
            partition.cursor.execute(partition.sql, parameters=partition.params or None)
            partition.reader = partition.cursor.fetch_record_batch()
    except BaseException as error:
        for partition in partitions:
            _discard(source, partition)
        for connection in connections[len(partitions):]:
            source._release(connection, healthy=True)
        if isinstance(error, OperationalError) or not isinstance(error, Exception):
            raise
        raise source.operational_error("partitioned read failed", error) from None
    return partitions


def _cancel(connection: Any, wait: float = 0.0) -> None:
    """Send a cancel request from its own thread (libpq's cancel can hang on a dead network path),
    waiting at most ``wait`` seconds for it."""
    def send() -> None:
        try:
            connection.adbc_connection.cancel()
        except Exception:
            pass

    thread = threading.Thread(target=send, name="fedq-pg-part-cancel", daemon=True)
    thread.start()
    thread.join(wait)


def _discard(source: "PostgresSource", partition: _Partition) -> None:
    """Stop a partition's statement and close its connection (which ends its transaction)."""
    _cancel(partition.connection, wait=1.0)
    for closeable in (partition.reader, partition.cursor):
        try:
            if closeable is not None:
                closeable.close()
        except Exception:
            pass
    source._release(partition.connection, healthy=False)


class _Merge:
    """One thread per partition feeding a bounded queue; the consumer reads one stream."""

    def __init__(self, source: "PostgresSource", partitions: list[_Partition], stats: FetchStats,
                 conformer: Callable[..., Any], on_close: Callable[[], None]) -> None:
        self.source = source
        self.partitions = partitions
        self.stats = stats
        self.schema, self.convert = conformer(partitions[0].reader.schema)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=len(partitions))  # one decoded batch waiting per partition
        self.stop = threading.Event()
        self.on_close = on_close
        self.started = time.perf_counter()
        self.closed = False
        self.remaining = len(partitions)
        self.lock = threading.Lock()  # orders a partition's commit against close()'s cancels
        self.threads = [threading.Thread(target=self._run, args=(p,), name=f"fedq-pg-part-{i}", daemon=True)
                        for i, p in enumerate(partitions)]
        for thread in self.threads:
            thread.start()

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, _Batches(self))

    def _put(self, item: Any) -> bool:
        return put_until_stopped(self.queue, item, self.stop)

    def _run(self, partition: _Partition) -> None:
        try:
            for batch in partition.reader:
                if not self._put(self.convert(batch)):
                    return
            with self.lock:
                if self.stop.is_set():
                    return
                partition.committing = True  # close() no longer cancels this connection
            partition.cursor.close()
            partition.finished = True
            self.source._release(partition.connection, healthy=True)  # commits, resets, pools
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer
            self._put(error if isinstance(error, OperationalError) or not isinstance(error, Exception)
                      else self.source.operational_error("reading results failed", error))
        finally:
            if not partition.finished:
                _discard(self.source, partition)

    def next(self) -> pa.RecordBatch:
        while True:
            item = self.queue.get()
            if item is _DONE:
                self.remaining -= 1
                if self.remaining == 0:
                    raise StopIteration
                continue
            if isinstance(item, BaseException):
                raise item
            self.stats.rows += item.num_rows
            self.stats.bytes += item.nbytes
            return item

    def close(self) -> None:
        """Stop every partition still reading (cancelling its statement), wait for the threads, free the slots."""
        if self.closed:
            return
        self.closed = True
        with self.lock:
            self.stop.set()
            for partition in self.partitions:
                if not partition.committing:
                    _cancel(partition.connection)
        for thread in self.threads:
            thread.join(timeout=10)
        self.stats.seconds += time.perf_counter() - self.started
        self.on_close()


class _Batches:
    """The iterator pyarrow pulls from; closing or dropping it stops the partitions."""

    def __init__(self, merge: _Merge) -> None:
        self.merge = merge

    def __iter__(self) -> "_Batches":
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return self.merge.next()
        except BaseException:
            self.merge.close()
            raise

    def __del__(self) -> None:
        self.merge.close()
