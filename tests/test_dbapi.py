"""PEP 249 (DB-API 2.0) conformance of fedq's Connection and Cursor, plus the Arrow extras.

Everything runs against real SQLite and Parquet files created in tmp_path; no server is needed.
"""
from __future__ import annotations

import datetime
import decimal
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fedq

INJECTION = "'; DROP TABLE x; --"
BIG_ROWS = 250_000


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def crm_path(tmp_path):
    """A SQLite file with customers(id, name) and a table named x."""
    path = tmp_path / "crm.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "ann"), (2, "bob"), (3, "cid"), (4, INJECTION)])
    db.execute("CREATE TABLE x (v INTEGER)")
    db.execute("INSERT INTO x VALUES (42)")
    db.commit()
    db.close()
    return path


@pytest.fixture
def con(crm_path):
    connection = fedq.connect()
    connection.attach("crm", "sqlite", path=str(crm_path))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """A folder with one Parquet file of 250k rows (several row groups), id 0..249999."""
    folder = tmp_path_factory.mktemp("big")
    table = pa.table({
        "id": pa.array(range(BIG_ROWS), pa.int64()),
        "label": pa.array([f"row{i}" for i in range(BIG_ROWS)]),
    })
    pq.write_table(table, folder / "big.parquet", row_group_size=30_000)
    return folder


@pytest.fixture
def big(big_folder):
    connection = fedq.connect()
    connection.attach("f", "files", url=str(big_folder))
    yield connection
    connection.close()


# -- module globals --------------------------------------------------------------------------
def test_apilevel_is_2_0():
    assert fedq.apilevel == "2.0"


def test_threadsafety_is_a_pep249_level():
    assert fedq.threadsafety in (0, 1, 2, 3)


def test_paramstyle_is_qmark():
    assert fedq.paramstyle == "qmark"


# -- exceptions ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, parent", [
    (fedq.Warning, Exception),
    (fedq.Error, Exception),
    (fedq.InterfaceError, fedq.Error),
    (fedq.DatabaseError, fedq.Error),
    (fedq.DataError, fedq.DatabaseError),
    (fedq.OperationalError, fedq.DatabaseError),
    (fedq.IntegrityError, fedq.DatabaseError),
    (fedq.InternalError, fedq.DatabaseError),
    (fedq.ProgrammingError, fedq.DatabaseError),
    (fedq.NotSupportedError, fedq.DatabaseError),
])
def test_exception_hierarchy(cls, parent):
    assert issubclass(cls, parent)


def test_warning_is_not_an_error():
    assert not issubclass(fedq.Warning, fedq.Error)


@pytest.mark.parametrize("name", [
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
])
def test_exceptions_are_connection_attributes(con, name):
    assert getattr(con, name) is getattr(fedq, name)


# -- Connection ------------------------------------------------------------------------------
def test_cursor_returns_a_cursor_of_this_connection(con):
    cursor = con.cursor()
    assert isinstance(cursor, fedq.Cursor)
    assert cursor.connection is con


@pytest.mark.parametrize("use", [
    lambda c: c.cursor(),
    lambda c: c.execute("SELECT 1"),
    lambda c: c.commit(),
    lambda c: c.rollback(),
    lambda c: c.attach("other", "sqlite", path="whatever.sqlite"),
], ids=["cursor", "execute", "commit", "rollback", "attach"])
def test_closed_connection_raises_interface_error(con, use):
    con.close()
    with pytest.raises(fedq.InterfaceError):
        use(con)


def test_cursor_of_closed_connection_raises_interface_error(con):
    cursor = con.execute("SELECT id FROM crm.customers")
    con.close()
    with pytest.raises(fedq.InterfaceError):
        cursor.fetchone()


def test_close_twice_is_harmless(con):
    con.close()
    con.close()
    with pytest.raises(fedq.InterfaceError):
        con.cursor()


def test_commit_and_rollback_are_noops(con):
    before = list(con.source("crm").statements)
    assert con.commit() is None
    assert con.rollback() is None
    assert con.source("crm").statements == before
    assert con.execute("SELECT count(*) FROM crm.customers").fetchone() == (4,)


def test_connection_context_manager_closes(crm_path):
    with fedq.connect() as connection:
        connection.attach("crm", "sqlite", path=str(crm_path))
        assert connection.execute("SELECT count(*) FROM crm.customers").fetchone() == (4,)
    with pytest.raises(fedq.InterfaceError):
        connection.cursor()


def test_connection_execute_shortcut_returns_a_cursor_with_rows(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    assert isinstance(cursor, fedq.Cursor)
    assert cursor.fetchall() == [(1,), (2,), (3,), (4,)]


# -- Cursor.execute and parameters -------------------------------------------------------------
def test_cursor_execute_returns_the_cursor(con):
    cursor = con.cursor()
    assert cursor.execute("SELECT 1") is cursor


def test_qmark_parameters_are_bound(con):
    rows = con.execute("SELECT name FROM crm.customers WHERE id = ? OR name = ? ORDER BY id", [1, "cid"]).fetchall()
    assert rows == [("ann",), ("cid",)]


def test_parameter_values_of_many_types_round_trip(con):
    values = [None, datetime.date(2020, 1, 2), b"\x00\x01", decimal.Decimal("1.25"), True, 1.5, "text"]
    row = con.execute("SELECT ?, ?, ?, ?, ?, ?, ?", values).fetchone()
    assert row == tuple(values)


def test_parameter_value_is_never_pasted_into_sql(con):
    rows = con.execute("SELECT id, name FROM crm.customers WHERE name = ?", [INJECTION]).fetchall()
    assert rows == [(4, INJECTION)]
    assert all(INJECTION not in statement for statement in con.source("crm").statements)
    assert con.execute("SELECT v FROM crm.x").fetchall() == [(42,)]


def test_quote_breaking_parameter_matches_nothing(con):
    rows = con.execute("SELECT id FROM crm.customers WHERE name = ?", ["ann' OR '1'='1"]).fetchall()
    assert rows == []


def test_question_mark_inside_a_string_literal_is_not_a_parameter(con):
    assert con.execute("SELECT '?' AS q, ? AS p", ["x"]).fetchone() == ("?", "x")


@pytest.mark.parametrize("params", [[], [1, 2]], ids=["too-few", "too-many"])
def test_wrong_parameter_count_is_a_programming_error(con, params):
    with pytest.raises(fedq.ProgrammingError, match="parameter marker"):
        con.execute("SELECT name FROM crm.customers WHERE id = ?", params)


def test_parameters_without_markers_is_a_programming_error(con):
    with pytest.raises(fedq.ProgrammingError):
        con.execute("SELECT 1", [1])


def test_dict_parameters_are_a_programming_error(con):
    with pytest.raises(fedq.ProgrammingError, match="qmark"):
        con.execute("SELECT ?", {"a": 1})


def test_non_sequence_parameters_are_a_programming_error(con):
    with pytest.raises(fedq.ProgrammingError):
        con.execute("SELECT ?", 5)


def test_qmark_parameter_followed_by_a_cast(con):
    assert con.execute("SELECT ?::INT + 1", ["5"]).fetchone() == (6,)
    assert con.execute("SELECT '?::x' AS s, ?::INT AS n", ["5"]).fetchone() == ("?::x", 5)


def test_numbered_dollar_parameters(con):
    assert con.execute("SELECT $1 AS a", [7]).fetchone() == (7,)
    assert con.execute("SELECT $2 - $1 AS a, $1 AS b", [7, 10]).fetchone() == (3, 7)


def test_string_parameter_against_integer_column_matches_unpushed_semantics(crm_path):
    with fedq.connect(pushdown=False) as local:
        local.attach("crm", "sqlite", path=str(crm_path))
        with pytest.raises(fedq.DataError):
            local.execute("SELECT id FROM crm.customers WHERE id = ?", ["1; drop"]).fetchall()
    with fedq.connect(pushdown=True) as pushed:
        pushed.attach("crm", "sqlite", path=str(crm_path))
        with pytest.raises(fedq.DataError):
            pushed.execute("SELECT id FROM crm.customers WHERE id = ?", ["1; drop"]).fetchall()


def test_executemany_runs_once_per_parameter_set(con):
    log = con.source("crm").statements
    before = len(log)
    cursor = con.cursor()
    cursor.executemany("SELECT name FROM crm.customers WHERE id = ?", [[1], [2], [3]])
    assert len(log) - before == 3
    assert cursor.fetchall() == [("cid",)]  # the result of the last run


def test_executemany_with_no_parameter_sets_runs_nothing(con):
    cursor = con.cursor()
    assert cursor.executemany("SELECT name FROM crm.customers WHERE id = ?", []) is cursor
    assert con.source("crm").statements == []
    assert cursor.description is None


def test_executemany_checks_each_parameter_count(con):
    with pytest.raises(fedq.ProgrammingError):
        con.cursor().executemany("SELECT ?", [[1], [1, 2]])


def test_new_execute_replaces_the_previous_result(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    cursor.fetchall()
    assert cursor.rowcount == 4
    cursor.execute("SELECT 'z' AS letter")
    assert cursor.rowcount == -1
    assert [d[0] for d in cursor.description] == ["letter"]
    assert cursor.fetchall() == [("z",)]


# -- fetching ------------------------------------------------------------------------------------
def test_fetchone_returns_tuples_then_none(con):
    cursor = con.execute("SELECT id, name FROM crm.customers WHERE id <= 2 ORDER BY id")
    assert cursor.fetchone() == (1, "ann")
    assert cursor.fetchone() == (2, "bob")
    assert cursor.fetchone() is None
    assert cursor.fetchone() is None


def test_fetchmany_defaults_to_arraysize_one(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    assert cursor.arraysize == 1
    assert cursor.fetchmany() == [(1,)]


def test_fetchmany_honours_arraysize(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    cursor.arraysize = 3
    assert cursor.fetchmany() == [(1,), (2,), (3,)]
    assert cursor.fetchmany() == [(4,)]
    assert cursor.fetchmany() == []


def test_fetchmany_explicit_size_overrides_arraysize(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    cursor.arraysize = 3
    assert cursor.fetchmany(2) == [(1,), (2,)]
    assert cursor.fetchmany(size=10) == [(3,), (4,)]


def test_fetchall_returns_the_rest_after_fetchone(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    cursor.fetchone()
    assert cursor.fetchall() == [(2,), (3,), (4,)]
    assert cursor.fetchall() == []


def test_cursor_iteration_yields_every_row(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    assert list(cursor) == [(1,), (2,), (3,), (4,)]


def test_description_is_none_before_execute(con):
    assert con.cursor().description is None


def test_description_has_seven_item_tuples_with_names(con):
    cursor = con.execute("SELECT id, name AS customer_name FROM crm.customers")
    assert [len(column) for column in cursor.description] == [7, 7]
    assert [column[0] for column in cursor.description] == ["id", "customer_name"]


@pytest.mark.parametrize("expression, type_object", [
    ("id", fedq.NUMBER),
    ("CAST(1.5 AS DOUBLE)", fedq.NUMBER),
    ("CAST(1.5 AS DECIMAL(10, 2))", fedq.NUMBER),
    ("name", fedq.STRING),
    ("DATE '2020-01-01'", fedq.DATETIME),
    ("TIMESTAMP '2020-01-01 10:00:00'", fedq.DATETIME),
    ("CAST('ab' AS BLOB)", fedq.BINARY),
])
def test_description_type_code_matches_type_object(con, expression, type_object):
    cursor = con.execute(f"SELECT {expression} AS c FROM crm.customers")
    type_code = cursor.description[0][1]
    assert type_code == type_object
    others = {fedq.NUMBER, fedq.STRING, fedq.DATETIME, fedq.BINARY} - {type_object}
    assert all(type_code != other for other in others)


def test_description_of_decimal_carries_precision_and_scale(con):
    cursor = con.execute("SELECT CAST(1.5 AS DECIMAL(10, 2)) AS d")
    assert cursor.description[0][4:6] == (10, 2)


def test_rowcount_is_minus_one_until_the_result_is_exhausted(con):
    cursor = con.execute("SELECT id FROM crm.customers")
    assert cursor.rowcount == -1
    cursor.fetchmany(2)
    assert cursor.rowcount == -1
    cursor.fetchall()
    assert cursor.rowcount == 4


def test_rowcount_after_iteration(con):
    cursor = con.execute("SELECT id FROM crm.customers WHERE id > 1")
    list(cursor)
    assert cursor.rowcount == 3


def test_closed_cursor_raises_interface_error_on_fetch(con):
    cursor = con.execute("SELECT id FROM crm.customers")
    cursor.close()
    with pytest.raises(fedq.InterfaceError):
        cursor.fetchone()


def test_closed_cursor_raises_interface_error_on_execute(con):
    cursor = con.cursor()
    cursor.close()
    with pytest.raises(fedq.InterfaceError):
        cursor.execute("SELECT 1")


@pytest.mark.parametrize("fetch", [
    lambda c: c.fetchone(),
    lambda c: c.fetchmany(),
    lambda c: c.fetchall(),
    lambda c: c.fetch_arrow_table(),
    lambda c: c.fetch_record_batch(),
    lambda c: c.fetch_df(),
], ids=["fetchone", "fetchmany", "fetchall", "fetch_arrow_table", "fetch_record_batch", "fetch_df"])
def test_fetch_without_a_result_set_is_a_programming_error(con, fetch):
    with pytest.raises(fedq.ProgrammingError):
        fetch(con.cursor())


def test_fetch_after_attach_statement_is_a_programming_error(con, crm_path):
    cursor = con.execute(f"ATTACH '{crm_path}' AS crm2 (TYPE sqlite)")
    assert cursor.description is None
    with pytest.raises(fedq.ProgrammingError):
        cursor.fetchall()


# -- Arrow extras ------------------------------------------------------------------------------
def test_fetch_arrow_table_returns_the_whole_result(con):
    table = con.execute("SELECT id, name FROM crm.customers ORDER BY id").fetch_arrow_table()
    assert isinstance(table, pa.Table)
    assert table.column_names == ["id", "name"]
    assert table.column("id").to_pylist() == [1, 2, 3, 4]


def test_fetch_record_batch_after_fetchone_returns_the_rest(con):
    cursor = con.execute("SELECT id FROM crm.customers ORDER BY id")
    assert cursor.fetchone() == (1,)
    reader = cursor.fetch_record_batch()
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.read_all().column("id").to_pylist() == [2, 3, 4]


def test_fetch_df_after_fetchone_returns_the_rest(con):
    cursor = con.execute("SELECT id, name FROM crm.customers ORDER BY id")
    cursor.fetchone()
    frame = cursor.fetch_df()
    assert list(frame.columns) == ["id", "name"]
    assert frame["id"].tolist() == [2, 3, 4]


def test_fetch_record_batch_after_fetchone_keeps_duplicate_column_names_apart(con):
    cursor = con.execute("SELECT i AS a, i * 10 AS a FROM range(5) t(i) ORDER BY i")
    assert cursor.fetchone() == (0, 0)
    table = cursor.fetch_record_batch().read_all()
    assert [column.to_pylist() for column in table.columns] == [[1, 2, 3, 4], [10, 20, 30, 40]]


# -- a result of several batches ----------------------------------------------------------------
BIG_QUERY = "SELECT id, label FROM f.big ORDER BY id"


def test_big_result_arrives_in_several_batches(big):
    batches = list(big.execute(BIG_QUERY).fetch_record_batch())
    assert len(batches) > 1
    assert sum(batch.num_rows for batch in batches) == BIG_ROWS


def test_big_result_fetchmany_in_chunks_covers_every_row_once(big):
    cursor = big.execute(BIG_QUERY)
    seen = []
    while chunk := cursor.fetchmany(7_777):
        assert len(chunk) == 7_777 or len(seen) + len(chunk) == BIG_ROWS
        seen.extend(row[0] for row in chunk)
    assert seen == list(range(BIG_ROWS))
    assert cursor.rowcount == BIG_ROWS


def test_big_result_fetchall_after_fetchmany_returns_the_rest(big):
    cursor = big.execute(BIG_QUERY)
    head = cursor.fetchmany(100_001)
    rest = cursor.fetchall()
    assert len(head) == 100_001 and len(rest) == BIG_ROWS - 100_001
    assert rest[0] == (100_001, "row100001")
    assert [row[0] for row in head + rest] == list(range(BIG_ROWS))
    assert cursor.rowcount == BIG_ROWS


def test_big_result_fetch_record_batch_after_fetchone_loses_and_repeats_nothing(big):
    cursor = big.execute(BIG_QUERY)
    assert cursor.fetchone() == (0, "row0")
    table = cursor.fetch_record_batch().read_all()
    assert table.column("id").to_pylist() == list(range(1, BIG_ROWS))
    assert table.column("label")[0].as_py() == "row1"
    assert cursor.fetchone() is None


def test_big_result_fetch_arrow_table_after_fetchmany_returns_the_rest(big):
    cursor = big.execute(BIG_QUERY)
    cursor.fetchmany(100_001)
    table = cursor.fetch_arrow_table()
    assert table.num_rows == BIG_ROWS - 100_001
    assert table.column("id").to_pylist() == list(range(100_001, BIG_ROWS))


def test_cursor_is_an_arrow_pycapsule_stream(tmp_path):
    import sqlite3

    import duckdb
    import pyarrow as pa

    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b"), (3, None)])
    with fedq.connect() as con:
        con.attach("c", "sqlite", path=str(tmp_path / "c.sqlite"))
        assert pa.table(con.execute("SELECT * FROM c.t ORDER BY id")).to_pylist()[2] == {"id": 3, "name": None}
        cursor = con.execute("SELECT * FROM c.t ORDER BY id")
        assert cursor.fetchone() == (1, "a")
        assert pa.table(cursor).column("id").to_pylist() == [2, 3]  # the rest, nothing lost or repeated
        stream = con.execute("SELECT id FROM c.t")  # noqa: F841 (DuckDB reads it by name)
        assert duckdb.sql("SELECT sum(id) FROM stream").fetchall() == [(6,)]


def test_an_integer_parameter_beyond_64_bits_is_compared_locally(crm_path):
    with fedq.connect() as con:
        con.attach("crm", "sqlite", path=str(crm_path))
        assert con.execute("SELECT id FROM crm.customers WHERE id = ?", [2**63]).fetchall() == []
        assert len(con.execute("SELECT id FROM crm.customers WHERE id < ?", [2**64]).fetchall()) > 0
