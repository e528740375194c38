"""In-memory data: ``con.register(name, obj)`` makes Arrow, pandas, polars and Arrow-stream objects
queryable as ``memory.name``; every query must give the same rows with pushdown on and off."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pyarrow as pa
import pytest

import fedq

ORDERS = pa.table({
    "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
    "customer_id": pa.array([10, 20, 10, 30, None], pa.int64()),
    "status": ["open", "shipped", "open", None, "shipped"],
    "amount": [5.0, 7.5, 1.25, float("nan"), 3.0],
})


class ArrowStream:
    """A third-party object that only speaks the Arrow PyCapsule stream protocol."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def _polars():
    return pytest.importorskip("polars", reason="polars is not installed (pip install 'fedq[polars]')")


KINDS = {
    "table": lambda: ORDERS,
    "record_batch": lambda: ORDERS.to_batches()[0],
    "reader": lambda: pa.RecordBatchReader.from_batches(ORDERS.schema, ORDERS.to_batches(max_chunksize=2)),
    "pandas": lambda: pd.DataFrame({
        "id": [1, 2, 3, 4, 5], "customer_id": pd.array([10, 20, 10, 30, None], dtype="Int64"),
        "status": ["open", "shipped", "open", None, "shipped"], "amount": [5.0, 7.5, 1.25, float("nan"), 3.0],
    }),
    "polars": lambda: _polars().from_arrow(ORDERS),
    "arrow_stream": lambda: ArrowStream(ORDERS),
}


@pytest.fixture
def crm(tmp_path):
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(10, "ann", "NL"), (20, "bob", "DE"), (30, "cy", "NL")])
    return path


def _connect(pushdown: bool, crm_path, **objects) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    con.attach("crm", "sqlite", path=str(crm_path))
    for name, obj in objects.items():
        con.register(name, obj)
    return con


def _order(row):
    return tuple((True, 0) if v is None else (False, repr(v) if v != v else v) for v in row)


def _both(crm_path, make_objects, sql, params=None):
    results = []
    for pushdown in (True, False):
        with _connect(pushdown, crm_path, **make_objects()) as con:
            results.append(sorted(con.execute(sql, params).fetchall(), key=_order))
    assert repr(results[0]) == repr(results[1]), sql  # repr: NaN != NaN
    return results[0]


QUERIES = [
    "SELECT id, status FROM memory.orders WHERE status = 'open'",
    "SELECT id FROM memory.orders WHERE customer_id IN (10, 30) OR status IS NULL",
    "SELECT id, amount FROM memory.orders WHERE amount > 2",  # NaN sorts above numbers in DuckDB
    "SELECT id FROM memory.orders WHERE amount <= 5 AND NOT status = 'shipped'",
    "SELECT c.name, count(*), sum(o.amount) FROM memory.orders o JOIN crm.customers c ON c.id = o.customer_id "
    "WHERE c.country = 'NL' GROUP BY 1",
    "SELECT c.name, o.id FROM crm.customers c LEFT JOIN memory.orders o ON o.customer_id = c.id AND o.status = 'open'",
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("sql", QUERIES)
def test_every_object_kind_gives_the_same_rows_with_pushdown_on_and_off(crm, kind, sql):
    _both(crm, lambda: {"orders": KINDS[kind]()}, sql)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_register_each_kind_keeps_types_and_rows(crm, kind):
    with _connect(True, crm, orders=KINDS[kind]()) as con:
        columns = [(c[0], c[1]) for c in con.execute("DESCRIBE memory.orders").fetchall()]
        assert columns == [("id", "BIGINT"), ("customer_id", "BIGINT"), ("status", "VARCHAR"), ("amount", "DOUBLE")]
        rows = con.execute("SELECT id, customer_id, status FROM memory.orders ORDER BY id").fetchall()
        assert rows == [(1, 10, "open"), (2, 20, "shipped"), (3, 10, "open"), (4, 30, None), (5, None, "shipped")]


def test_a_reader_is_read_once_at_register_and_queried_many_times(crm):
    reader = KINDS["reader"]()
    with _connect(True, crm, orders=reader) as con:
        with pytest.raises((OSError, StopIteration, pa.ArrowInvalid)):
            reader.read_next_batch()  # consumed by register()
        for _ in range(2):
            assert con.execute("SELECT count(*) FROM memory.orders").fetchall() == [(5,)]


def test_join_with_sqlite_and_filters_pushed_to_both(crm):
    with _connect(True, crm, orders=ORDERS) as con:
        sql = ("SELECT c.name, o.id FROM memory.orders o JOIN crm.customers c ON c.id = o.customer_id "
               "WHERE o.status = 'open' AND c.country = 'NL' ORDER BY o.id")
        assert con.execute(sql).fetchall() == [("ann", 1), ("ann", 3)]
        memory_fragment = next(r for r in con.execute("EXPLAIN " + sql).fetchall() if r[1] == "memory")
        assert memory_fragment[4] == "\"status\" = 'open'"  # exact at the memory source
        assert con.source("memory").statements[-1] == "scan main.orders columns=[id, customer_id, status] filter=[\"status\" = 'open']"
        analyzed = next(r for r in con.execute("EXPLAIN ANALYZE " + sql).fetchall() if r[1] == "memory")
        assert analyzed[7] == 2


def test_float_order_and_parameters_follow_duckdb(crm):
    with _connect(True, crm, orders=ORDERS) as con:
        plan = con.execute("EXPLAIN SELECT id FROM memory.orders WHERE amount > ? AND id < ?", [2, 5]).fetchall()[0]
        assert plan[4] == '"id" < $p2' and "amount" in plan[6]  # '>' on a float stays local (NaN)
    rows = _both(crm, lambda: {"orders": ORDERS}, "SELECT id FROM memory.orders WHERE amount > ? AND id < ?", [2, 5])
    assert rows == [(1,), (2,), (4,)]  # NaN > 2 in DuckDB


def test_polars_and_pandas_specific_types_are_plain(crm):
    pl = _polars()
    frame = pl.DataFrame({"s": ["x", "y", None]})  # polars exports string_view
    categorical = pd.DataFrame({"c": pd.Categorical(["a", "b", "a"]), "i": [1, 2, 3]}, index=[7, 8, 9])
    with _connect(True, crm, s=frame, cat=categorical) as con:
        assert con.execute("SELECT s FROM memory.s WHERE s = 'y'").fetchall() == [("y",)]
        assert con.execute("SELECT i FROM memory.cat WHERE c = 'a' ORDER BY i").fetchall() == [(1,), (3,)]
        assert [c[0] for c in con.execute("DESCRIBE memory.cat").fetchall()] == ["c", "i"]  # no pandas index


def test_register_replaces_and_unregister_removes(crm):
    with _connect(True, crm, orders=ORDERS) as con:
        assert con.execute("SELECT count(*) FROM memory.orders").fetchall() == [(5,)]
        con.register("Orders", pa.table({"x": ["new"]}))  # same name, any case: replaced, new schema
        assert con.execute("SELECT * FROM memory.orders").fetchall() == [("new",)]
        assert con.execute("SHOW TABLES FROM memory").fetchall() == [("memory", "main", "Orders")]
        con.unregister("orders")
        with pytest.raises(fedq.ProgrammingError, match="does not exist in source 'memory'"):
            con.execute("SELECT * FROM memory.orders")
        with pytest.raises(fedq.ProgrammingError, match="no registered table 'orders'"):
            con.unregister("orders")


def test_register_refuses_what_it_cannot_read(crm):
    with fedq.connect() as con:
        with pytest.raises(fedq.ProgrammingError, match="nothing registered"):
            con.unregister("x")
        with pytest.raises(fedq.ProgrammingError, match="cannot register a dict"):
            con.register("x", {"a": [1]})
        with pytest.raises(fedq.ProgrammingError, match="duplicate column names"):
            con.register("x", pa.table([pa.array([1]), pa.array([2])], names=["a", "A"]))
        con.attach("memory", "sqlite", path=str(crm))
        with pytest.raises(fedq.ProgrammingError, match="not the in-memory source"):
            con.register("x", ORDERS)


def test_register_on_a_closed_connection_fails():
    con = fedq.connect()
    con.close()
    with pytest.raises(fedq.InterfaceError):
        con.register("x", ORDERS)


def test_a_fedq_cursor_can_be_registered(crm):
    # a cursor speaks __arrow_c_stream__: one query's result becomes another's table
    with _connect(True, crm, orders=ORDERS) as con:
        con.register("open_orders", con.execute("SELECT id, customer_id FROM memory.orders WHERE status = 'open'"))
        rows = con.execute("SELECT c.name, o.id FROM memory.open_orders o JOIN crm.customers c ON c.id = o.customer_id ORDER BY 2")
        assert rows.fetchall() == [("ann", 1), ("ann", 3)]


def test_row_count_is_known_exactly(crm):
    with _connect(True, crm, orders=ORDERS) as con:
        assert [r[:2] for r in con.execute("ANALYZE memory.orders").fetchall()] == [("memory.main.orders", 5)]
