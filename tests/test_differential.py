"""Differential tests: every query runs three ways and all three must return the same rows.

1. fedq with pushdown on (single-source subtrees and filters go to the sources),
2. fedq with pushdown off (every table fully fetched, all work in fedq's local DuckDB),
3. a reference in-memory DuckDB holding the same data (tests/diffdata.py).

Queries are written once with ``{table}`` placeholders, formatted with fedq's qualified names
(``pg.fedq_diff.orders``) or with the reference's plain names (``orders``). Rows compare as
multisets unless the query has a total ORDER BY; floats compare with a relative tolerance of 1e-9
(NaN equals NaN), and decimals, integers and floats compare by value.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator, Sequence

import pyarrow as pa
import pytest

import fedq
from diffdata import REST_NATION, DiffDataset

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]

REL_TOL = 1e-9

# Engine bugs found by these tests; each xfail(strict=True) test below names one of them.
# (none open: the last, unconstrained PostgreSQL numeric, is now read as exact text and cast by DuckDB)



# -- comparison -----------------------------------------------------------------------------
def _number_key(value: float) -> tuple:
    """Sort key of a number, rounded so tolerance-equal floats sort together; NaN sorts last."""
    if math.isnan(value):
        return (1, 0.0)
    return (0, float(f"{value:.6g}"))


def normalize(value: Any) -> Any:
    """Arrow's MonthDayNano intervals (fedq's fetch) as timedelta (DuckDB's fetch) when month-free."""
    if isinstance(value, pa.MonthDayNano) and value.months == 0:
        return dt.timedelta(days=value.days, microseconds=value.nanoseconds / 1000)
    return value


def value_key(value: Any) -> tuple:
    """A None-safe, type-ranked sort key for one value (numbers of all kinds rank together)."""
    value = normalize(value)
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float, Decimal)):
        return (2, *_number_key(float(value)))
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return (4, value.isoformat())
    if isinstance(value, dt.timedelta):
        return (5, value.total_seconds())
    if isinstance(value, bytes):
        return (6, value)
    return (7, repr(value))


def row_key(row: Sequence[Any]) -> tuple:
    return tuple(value_key(v) for v in row)


def values_equal(left: Any, right: Any) -> bool:
    """Equality with NaN == NaN, float tolerance, and numbers compared by value across types."""
    left, right = normalize(left), normalize(right)
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    numbers = (int, float, Decimal)
    if isinstance(left, numbers) and isinstance(right, numbers):
        if isinstance(left, float) or isinstance(right, float):
            a, b = float(left), float(right)
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
        return Decimal(left) == Decimal(right)
    if isinstance(left, dt.datetime) or isinstance(right, dt.datetime):
        return (type(left) is type(right) and (left.tzinfo is None) == (right.tzinfo is None) and left == right)
    return type(left) is type(right) and left == right


def rows_equal(left: Sequence[Any], right: Sequence[Any]) -> bool:
    return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right))


def same_list(actual: list[tuple], expected: list[tuple]) -> bool:
    return len(actual) == len(expected) and all(rows_equal(a, e) for a, e in zip(actual, expected))


def same_multiset(actual: list[tuple], expected: list[tuple]) -> bool:
    """Multiset equality under :func:`rows_equal`, by greedy matching.

    Only used when the sorted lists differ, which can also happen when tolerance-equal floats round
    to different sort keys and pair the wrong rows up.
    """
    remaining = list(expected)
    for row in actual:
        match = next((i for i, candidate in enumerate(remaining) if rows_equal(row, candidate)), None)
        if match is None:
            return False
        del remaining[match]
    return not remaining


def first_differences(actual: list[tuple], expected: list[tuple], limit: int = 5) -> list[str]:
    """Readable lines for the first differing positions of two row lists."""
    lines = []
    for index in range(max(len(actual), len(expected))):
        got = actual[index] if index < len(actual) else None
        want = expected[index] if index < len(expected) else None
        if got is None or want is None or not rows_equal(got, want):
            lines.append(f"  row {index}: got {got if got is not None else '<missing>'!r}\n"
                         f"          want {want if want is not None else '<missing>'!r}")
            if len(lines) == limit:
                break
    return lines


def assert_same_rows(actual: list[tuple], expected: list[tuple], ordered: bool, label: str) -> None:
    """Rows equal as lists (ordered) or as multisets; the message shows the first differences."""
    if not ordered:
        actual, expected = sorted(actual, key=row_key), sorted(expected, key=row_key)
    if same_list(actual, expected) or (not ordered and same_multiset(actual, expected)):
        return
    details = "\n".join(first_differences(actual, expected))
    pytest.fail(f"{label}: {len(actual)} rows vs {len(expected)} reference rows\n{details}", pytrace=False)


# -- the three ways of running a query --------------------------------------------------------
@dataclass(frozen=True)
class Result:
    names: list[str]
    rows: list[tuple]


@dataclass(frozen=True)
class Case:
    """One differential query: SQL with ``{table}`` placeholders, qmark parameters, ordering."""

    id: str
    sql: str
    params: tuple[Any, ...] = ()
    ordered: bool = False  # True only when ORDER BY is total, so row order is part of the answer
    marks: tuple[Any, ...] = ()

    def param(self) -> Any:
        return pytest.param(self, id=self.id, marks=list(self.marks))


def known_bug(reason: str) -> tuple[Any, ...]:
    """Marks for a query that shows an engine bug: it must keep failing until the bug is fixed."""
    return (pytest.mark.xfail(strict=True, reason=reason),)


def run_fedq(connection: fedq.Connection, sql: str, params: Sequence[Any]) -> Result:
    cursor = connection.execute(sql, list(params) if params else None)
    names = [d[0] for d in cursor.description]
    return Result(names, cursor.fetchall())


def run_reference(database: Any, sql: str, params: Sequence[Any]) -> Result:
    relation = database.execute(sql, list(params) if params else None)
    return Result([d[0] for d in relation.description], relation.fetchall())


def connect_fedq(dataset: DiffDataset, pushdown: bool) -> fedq.Connection:
    """A fedq connection with the data-set sources attached as pg, crm, lake, wh (DuckDB) and api (REST)."""
    connection = fedq.connect(pushdown=pushdown)
    connection.attach("pg", "postgres", dsn=dataset.pg_dsn)
    connection.attach("crm", "sqlite", path=str(dataset.sqlite_path))
    connection.attach("lake", "files", url=str(dataset.lake_path))
    if dataset.duckdb_path is not None:
        connection.attach("wh", "duckdb", path=str(dataset.duckdb_path))
    if dataset.rest_url is not None:
        connection.attach("api", "rest", base_url=dataset.rest_url, tables={"nation_api": REST_NATION},
                          max_requests_per_second=0, retry_base_seconds=0.01)
    return connection


@pytest.fixture(scope="module")
def engines(diff_dataset: DiffDataset) -> Iterator[dict[str, fedq.Connection]]:
    """fedq connections keyed 'pushdown' and 'local' (pushdown off)."""
    connections = {"pushdown": connect_fedq(diff_dataset, True), "local": connect_fedq(diff_dataset, False)}
    yield connections
    for connection in connections.values():
        connection.close()


def check_case(case: Case, dataset: DiffDataset, engines: dict[str, fedq.Connection], reference: Any) -> None:
    """Run ``case`` three ways; column names and rows of both fedq modes must equal the reference."""
    expected = run_reference(reference, case.sql.format(**dataset.reference_names()), case.params)
    federated = case.sql.format(**dataset.fedq_names())
    for mode, connection in engines.items():
        actual = run_fedq(connection, federated, case.params)
        assert actual.names == expected.names, f"{mode}: column names differ"
        assert_same_rows(actual.rows, expected.rows, case.ordered, f"{mode} ({case.id})")


# -- the comparer itself ---------------------------------------------------------------------
def test_comparer_semantics() -> None:
    """NaN == NaN, tolerance on floats, Decimal vs int/float by value, None sorts safely."""
    assert values_equal(float("nan"), float("nan"))
    assert values_equal(1.0, 1.0 + 1e-12) and not values_equal(1.0, 1.0001)
    assert values_equal(Decimal("2.50"), 2.5) and values_equal(Decimal("3.00"), 3)
    assert not values_equal(None, 0) and values_equal(None, None)
    assert not values_equal(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    rows = [(None, "b"), (2, None), (Decimal("1.5"), "a"), (float("nan"), "c")]
    assert [r[1] for r in sorted(rows, key=row_key)] == ["b", "a", None, "c"]
    assert same_multiset([(1.0000004, "x"), (1.0000006, "y")], [(1.0000006, "y"), (1.0000004, "x")])
    assert not same_multiset([(1, "x"), (1, "x")], [(1, "x"), (2, "x")])


# -- round trip: every source reads back exactly the reference's table -------------------------
TABLES = ["customers", "flags", "legacy", "orders", "products", "ratios", "lineitem", "events", "nation", "returns",
          "products_d", "returns_j", "lineitem_h", "nation_api"]


def _same_type(left: pa.DataType, right: pa.DataType) -> bool:
    """Arrow types equal, treating the time zone spellings 'UTC' and 'Etc/UTC' as one."""
    if pa.types.is_timestamp(left) and pa.types.is_timestamp(right):
        zones = {None: None, "UTC": "UTC", "Etc/UTC": "UTC"}
        return left.unit == right.unit and zones.get(left.tz, left.tz) == zones.get(right.tz, right.tz)
    return left.equals(right)


ROUND_TRIP_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("table", [
    pytest.param(t, marks=known_bug(ROUND_TRIP_BUGS[t]) if t in ROUND_TRIP_BUGS else ()) for t in TABLES
])
def test_round_trip(table: str, diff_dataset: DiffDataset, engines: dict[str, fedq.Connection]) -> None:
    """``SELECT *`` of each table through fedq has the reference's Arrow types and rows."""
    spec = diff_dataset.tables[table]
    expected = spec.data
    for mode, connection in engines.items():
        got = connection.execute(f"SELECT * FROM {spec.fedq_name}").fetch_arrow_table()
        assert got.schema.names == expected.schema.names, mode
        for name in expected.schema.names:
            assert _same_type(got.schema.field(name).type, expected.schema.field(name).type), f"{mode}: {name}"
        assert_same_rows([tuple(r.values()) for r in got.to_pylist()],
                         [tuple(r.values()) for r in expected.to_pylist()], False, f"{mode} {table}")


# -- the queries ------------------------------------------------------------------------------
JOINS = [
    Case("join_inner_pg_sqlite",
         "SELECT o.o_id, c.name, o.total FROM {orders} o JOIN {customers} c ON o.c_id = c.c_id"),
    Case("join_inner_three_kinds",
         "SELECT l.l_id, o.o_id, c.name, l.qty FROM {lineitem} l JOIN {orders} o ON l.o_id = o.o_id "
         "JOIN {customers} c ON c.c_id = o.c_id WHERE l.qty > 10"),
    Case("join_left",
         "SELECT c.c_id, c.name, o.o_id, o.total FROM {customers} c LEFT JOIN {orders} o ON o.c_id = c.c_id"),
    Case("join_left_filter_in_on",
         "SELECT c.c_id, o.o_id FROM {customers} c LEFT JOIN {orders} o ON o.c_id = c.c_id AND o.total > 1000 "
         "AND o.status = 'F'"),
    Case("join_left_where_on_nullable_side",
         "SELECT c.c_id, o.o_id FROM {customers} c LEFT JOIN {orders} o ON o.c_id = c.c_id "
         "WHERE o.o_id IS NULL OR o.discount < 0"),
    Case("join_right",
         "SELECT c.name, o.o_id, o.status FROM {customers} c RIGHT JOIN {orders} o ON o.c_id = c.c_id "
         "WHERE o.o_id < 60"),
    Case("join_full",
         "SELECT c.c_id, o.o_id FROM {customers} c FULL OUTER JOIN {orders} o ON o.c_id = c.c_id"),
    Case("join_full_files_pg",
         "SELECT l.l_id, p.p_id, p.p_name FROM {lineitem} l FULL JOIN {products} p ON l.p_id = p.p_id"),
    Case("join_full_where_null_accepting_on_from_side",
         "SELECT l.l_id, p.p_id, p.p_name FROM {lineitem} l FULL JOIN {products} p ON l.p_id = p.p_id "
         "WHERE l.l_id IS NULL OR l.l_id < 40"),
    Case("join_right_where_null_accepting_on_from_side",
         "SELECT c.c_id, o.o_id FROM {customers} c RIGHT JOIN {orders} o ON o.c_id = c.c_id "
         "WHERE c.name IS NULL OR c.name = 'apple'"),
    Case("join_left_bool_flags_sqlite",  # SQLite BOOLEAN stored as 0/1, scanned (not pushed) on this path
         "SELECT c.c_id, f.vip FROM {customers} c LEFT JOIN {flags} f ON f.c_id = c.c_id WHERE c.c_id < 30"),
    Case("join_right_where_null_accepting_on_preserved_side",
         "SELECT c.c_id, o.o_id FROM {customers} c RIGHT JOIN {orders} o ON o.c_id = c.c_id "
         "WHERE o.note IS NULL OR o.note = 'urgent'"),
    Case("join_left_on_term_for_preserved_side",
         "SELECT c.c_id, o.o_id FROM {customers} c LEFT JOIN {orders} o ON o.c_id = c.c_id AND c.segment = 'BUILDING'"),
    Case("join_cross",
         "SELECT n.n_name, p.category FROM {nation} n CROSS JOIN (SELECT DISTINCT category FROM {products}) p"),
    Case("join_non_equi",
         "SELECT r.r_id, l.l_id FROM {returns} r JOIN {lineitem} l ON l.l_id = r.l_id AND r.r_date > l.ship_date"),
]

SUBQUERIES = [
    Case("semi_in_subquery",
         "SELECT c.c_id, c.name FROM {customers} c WHERE c.c_id IN (SELECT o.c_id FROM {orders} o WHERE o.total > 2000)"),
    Case("anti_not_in_with_nulls",  # orders.c_id holds NULLs, so NOT IN is never true: empty result
         "SELECT c.c_id FROM {customers} c WHERE c.c_id NOT IN (SELECT o.c_id FROM {orders} o)"),
    Case("anti_not_in_without_nulls",
         "SELECT c.c_id, c.name FROM {customers} c WHERE c.c_id NOT IN "
         "(SELECT o.c_id FROM {orders} o WHERE o.c_id IS NOT NULL)"),
    Case("semi_exists_correlated",
         "SELECT p.p_id, p.p_name FROM {products} p WHERE EXISTS "
         "(SELECT 1 FROM {lineitem} l WHERE l.p_id = p.p_id AND l.qty > 30)"),
    Case("anti_not_exists_correlated",
         "SELECT c.c_id, c.name FROM {customers} c WHERE NOT EXISTS (SELECT 1 FROM {orders} o WHERE o.c_id = c.c_id)"),
    Case("scalar_subquery_uncorrelated",
         "SELECT o.o_id, o.total FROM {orders} o WHERE o.total > (SELECT avg(l.price) FROM {lineitem} l)"),
    Case("scalar_subquery_correlated_in_select",
         "SELECT c.c_id, (SELECT count(*) FROM {orders} o WHERE o.c_id = c.c_id) AS n_orders, "
         "(SELECT max(o.total) FROM {orders} o WHERE o.c_id = c.c_id) AS top FROM {customers} c"),
    Case("derived_table_aggregate_join",
         "SELECT o.o_id, li.items, li.qty FROM {orders} o JOIN (SELECT l.o_id, count(*) AS items, sum(l.qty) AS qty "
         "FROM {lineitem} l GROUP BY l.o_id) li ON li.o_id = o.o_id WHERE li.items > 1"),
]

CTES = [
    Case("cte_referenced_twice",
         "WITH spend AS (SELECT o.c_id, sum(o.total) AS s FROM {orders} o GROUP BY o.c_id) "
         "SELECT a.c_id, a.s FROM spend a WHERE a.s > (SELECT avg(b.s) FROM spend b)"),
    Case("cte_cross_source",
         "WITH li AS (SELECT l.o_id, sum(l.qty) AS q FROM {lineitem} l GROUP BY l.o_id), "
         "big AS (SELECT o.o_id, o.c_id FROM {orders} o WHERE o.total > 100) "
         "SELECT big.o_id, c.name, li.q FROM big JOIN li ON li.o_id = big.o_id LEFT JOIN {customers} c ON c.c_id = big.c_id"),
]

AGGREGATES = [
    Case("group_by_having_cross_source",
         "SELECT c.segment, count(*) AS n, sum(o.total) AS s FROM {orders} o JOIN {customers} c ON o.c_id = c.c_id "
         "GROUP BY c.segment HAVING count(*) > 3"),
    Case("count_distinct",
         "SELECT o.status, count(DISTINCT o.c_id) AS d, count(o.c_id) AS n, count(*) AS all_rows "
         "FROM {orders} o GROUP BY o.status"),
    Case("count_distinct_cross_source",
         "SELECT n.region, count(DISTINCT c.c_id) AS customers, count(DISTINCT c.segment) AS segments "
         "FROM {customers} c JOIN {nation} n ON n.n_id = c.nation_id GROUP BY n.region"),
    Case("aggregates_over_nan_inf",
         "SELECT min(o.discount) AS lo, max(o.discount) AS hi, sum(o.discount) AS s, count(o.discount) AS n "
         "FROM {orders} o"),
    Case("aggregates_over_nan_inf_parquet",
         "SELECT l.p_id % 3 AS k, min(l.disc) AS lo, max(l.disc) AS hi, count(*) AS n FROM {lineitem} l GROUP BY k"),
    Case("aggregates_decimal_and_text",
         "SELECT p.category, sum(p.price) AS s, min(p.price) AS lo, max(p.p_name) AS top_name, "
         "min(p.p_name) AS first_name FROM {products} p GROUP BY p.category"),
    Case("group_by_expression_having_filter",
         "SELECT upper(c.segment) AS seg, count(*) AS n, avg(c.balance) AS avg_balance FROM {customers} c "
         "GROUP BY upper(c.segment) HAVING avg(c.balance) IS NOT NULL"),
]

WINDOWS = [
    Case("window_row_number",
         "SELECT o.o_id, o.c_id, row_number() OVER (PARTITION BY o.c_id ORDER BY o.o_date, o.o_id) AS rn FROM {orders} o"),
    Case("window_sum_partition",
         "SELECT l.l_id, l.o_id, sum(l.qty) OVER (PARTITION BY l.o_id) AS order_qty FROM {lineitem} l"),
    Case("window_lag",
         "SELECT o.o_id, o.total, lag(o.total) OVER (ORDER BY o.o_id) AS previous FROM {orders} o"),
    Case("window_rank_over_join",
         "SELECT c.name, o.o_id, rank() OVER (PARTITION BY c.segment ORDER BY o.total DESC NULLS LAST, o.o_id) AS r "
         "FROM {orders} o JOIN {customers} c ON c.c_id = o.c_id"),
]

ORDERING = [
    Case("order_limit_total_order",
         "SELECT o.o_id, o.total FROM {orders} o ORDER BY o.total DESC NULLS LAST, o.o_id LIMIT 10", ordered=True),
    Case("order_desc_default_nulls",  # DuckDB puts NULLs last for DESC too; PostgreSQL would put them first
         "SELECT o.o_id, o.total FROM {orders} o ORDER BY o.total DESC, o.o_id LIMIT 12", ordered=True),
    Case("order_limit_offset_cross_source",
         "SELECT l.l_id, c.name FROM {lineitem} l JOIN {orders} o ON o.o_id = l.o_id JOIN {customers} c ON c.c_id = o.c_id "
         "ORDER BY l.l_id LIMIT 15 OFFSET 20", ordered=True),
    Case("order_text_mixed_case_sqlite",
         "SELECT c.name, c.c_id FROM {customers} c ORDER BY c.name, c.c_id", ordered=True),
    Case("order_text_mixed_case_sqlite_limit",
         "SELECT c.name FROM {customers} c ORDER BY c.name DESC, c.c_id LIMIT 8", ordered=True),
    Case("order_text_pg_limit",
         "SELECT p.p_name, p.p_id FROM {products} p ORDER BY p.p_name, p.p_id LIMIT 12", ordered=True),
    Case("order_text_csv",
         "SELECT n.n_name FROM {nation} n ORDER BY n.n_name NULLS FIRST", ordered=True),
    Case("order_by_hidden_key_pg",
         "SELECT p.p_id FROM {products} p ORDER BY p.price DESC NULLS FIRST, p.p_id LIMIT 7 OFFSET 2", ordered=True),
    Case("order_float_nan_inf",
         "SELECT l.l_id, l.disc FROM {lineitem} l ORDER BY l.disc DESC, l.l_id LIMIT 20", ordered=True),
]

SET_OPERATIONS = [
    Case("union_cross_source", "SELECT c.name AS s FROM {customers} c UNION SELECT p.p_name FROM {products} p"),
    Case("union_all_cross_source",
         "SELECT n.n_name AS s FROM {nation} n UNION ALL SELECT c.segment FROM {customers} c "
         "UNION ALL SELECT r.reason FROM {returns} r"),
    Case("intersect_cross_source", "SELECT c.c_id FROM {customers} c INTERSECT SELECT o.c_id FROM {orders} o"),
    Case("except_cross_source", "SELECT c.c_id FROM {customers} c EXCEPT SELECT o.c_id FROM {orders} o"),
    Case("union_within_pg", "SELECT p.p_name AS s FROM {products} p UNION SELECT o.note FROM {orders} o"),
    Case("except_within_pg", "SELECT o.p_id FROM {orders} o EXCEPT SELECT p.p_id FROM {products} p WHERE p.active"),
]

EXPRESSIONS = [
    Case("case_when_decimal",
         "SELECT o.o_id, CASE WHEN o.total < 0 THEN 'neg' WHEN o.total = 0 THEN 'zero' "
         "WHEN o.total IS NULL THEN 'null' ELSE 'pos' END AS sign FROM {orders} o"),
    Case("casts",
         "SELECT o.o_id, CAST(o.total AS INTEGER) AS t_int, CAST(o.o_date AS VARCHAR) AS d_text, "
         "CAST(o.priority AS DOUBLE) AS p_double, CAST(o.o_id AS VARCHAR) || ':' || coalesce(o.status, '?') AS tag "
         "FROM {orders} o"),
    Case("casts_sqlite_text_dates",
         "SELECT c.c_id, CAST(c.signup AS VARCHAR) AS s, CAST(c.last_seen AS DATE) AS d, CAST(c.credit AS DOUBLE) AS cr "
         "FROM {customers} c"),
    Case("date_trunc_group",
         "SELECT date_trunc('month', o.o_date) AS m, count(*) AS n, sum(o.total) AS s FROM {orders} o GROUP BY m"),
    Case("extract_parts",
         "SELECT l.l_id, extract(year FROM l.ship_date) AS y, extract(month FROM l.ship_date) AS mo, "
         "extract(dow FROM l.ship_date) AS dow, extract(hour FROM l.ship_ts) AS h FROM {lineitem} l"),
    Case("date_interval_constant_range",
         "SELECT o.o_id FROM {orders} o WHERE o.o_date >= DATE '2023-06-01' "
         "AND o.o_date < DATE '2023-06-01' + INTERVAL 3 MONTH"),
    Case("date_interval_column_arithmetic",
         "SELECT l.l_id, o.o_id, l.ship_date + INTERVAL 7 DAY AS due FROM {lineitem} l JOIN {orders} o "
         "ON o.o_id = l.o_id WHERE l.ship_date > o.o_date + INTERVAL 30 DAY"),
    Case("date_filter_sqlite_text_dates",
         "SELECT c.c_id, c.signup FROM {customers} c WHERE c.signup BETWEEN DATE '2020-01-01' AND DATE '2021-12-31'"),
    Case("timestamp_filter_sqlite",
         "SELECT c.c_id FROM {customers} c WHERE c.last_seen >= TIMESTAMP '2023-07-01 12:00:00'"),
    Case("date_filters_csv",
         "SELECT r.r_id, r.r_date FROM {returns} r WHERE r.r_date >= DATE '2024-01-01' OR r.r_date IS NULL"),
    Case("string_functions",
         "SELECT c.c_id, lower(c.name) AS lo, upper(c.name) AS up, length(c.name) AS len, "
         "c.name || '|' || coalesce(c.segment, '?') AS joined, substring(c.name, 2, 3) AS sub FROM {customers} c"),
    Case("string_functions_pg",
         "SELECT p.p_id, length(p.p_name) AS len, p.p_name || '#' AS tagged FROM {products} p WHERE length(p.p_name) > 4"),
    Case("like_sqlite", "SELECT c.c_id, c.name FROM {customers} c WHERE c.name LIKE '%a%' OR c.name LIKE 'M_l%'"),
    Case("like_backslash_pg", "SELECT o.o_id, o.note FROM {orders} o WHERE o.note LIKE '%\\%'"),
    Case("like_percent_underscore_pg",
         "SELECT o.o_id, o.note FROM {orders} o WHERE o.note LIKE '%\\_%' ESCAPE '\\' OR o.note LIKE 'U%'"),
    Case("ilike_non_ascii", "SELECT p.p_id, p.p_name FROM {products} p WHERE p.p_name ILIKE '%PRÖD%' OR p.p_name ILIKE 'é%'"),
    Case("substring_files", "SELECT l.l_id, substring(l.comment, 1, 4) AS head FROM {lineitem} l WHERE l.comment LIKE 'item 1%'"),
]

FILTERS = [
    Case("filter_null_double", "SELECT o.o_id FROM {orders} o WHERE o.discount IS NULL"),
    Case("filter_nan_pg", "SELECT o.o_id FROM {orders} o WHERE o.discount = 'NaN'::DOUBLE"),
    Case("filter_isnan_parquet", "SELECT l.l_id FROM {lineitem} l WHERE isnan(l.disc)"),
    Case("filter_greater_includes_nan_pg", "SELECT o.o_id, o.discount FROM {orders} o WHERE o.discount > 0.05"),
    Case("filter_greater_includes_nan_parquet", "SELECT l.l_id, l.disc FROM {lineitem} l WHERE l.disc > 0.05"),
    Case("filter_less_parquet_float", "SELECT l.l_id, l.disc FROM {lineitem} l WHERE l.disc < 0.02"),
    Case("filter_not_equal_parquet_float", "SELECT l.l_id FROM {lineitem} l WHERE l.disc <> 0"),
    Case("filter_infinity", "SELECT o.o_id, o.discount FROM {orders} o WHERE o.discount = 'Infinity'::DOUBLE "
                            "OR o.discount = '-Infinity'::DOUBLE"),
    Case("filter_negative_numbers",
         "SELECT l.l_id, l.qty, l.disc FROM {lineitem} l WHERE l.qty < 0 OR l.disc < -0.01 OR l.qty BETWEEN -3 AND -1"),
    Case("filter_negative_decimal_pg", "SELECT o.o_id, o.total FROM {orders} o WHERE o.total < -100.5"),
    Case("filter_negative_sqlite", "SELECT c.c_id, c.balance FROM {customers} c WHERE c.balance < 0"),
    Case("filter_zero_decimal", "SELECT o.o_id FROM {orders} o WHERE o.total = 0"),
    Case("filter_decimal_parquet_int_literal", "SELECT l.l_id, l.price FROM {lineitem} l WHERE l.price > 1000"),
    Case("filter_decimal_parquet_negative_int_literal",
         "SELECT l.l_id, l.price FROM {lineitem} l WHERE l.price < -5 OR l.price IN (0, 7)"),
    Case("filter_decimal_fraction_literal", "SELECT l.l_id FROM {lineitem} l WHERE l.price BETWEEN 100.5 AND 300.25"),
    Case("filter_empty_string_sqlite", "SELECT c.c_id FROM {customers} c WHERE c.name = '' OR c.segment = ''"),
    Case("filter_empty_string_csv", "SELECT n.n_id, n.n_name FROM {nation} n WHERE n.n_name = '' OR n.region = ''"),
    Case("filter_trailing_space", "SELECT o.o_id, o.status FROM {orders} o WHERE o.status = 'f ' OR o.status = 'f'"),
    Case("text_range_sqlite", "SELECT c.c_id, c.name FROM {customers} c WHERE c.name > 'M'"),
    Case("text_range_pg", "SELECT p.p_id, p.p_name FROM {products} p WHERE p.p_name > 'M' AND p.p_name < 'é'"),
    Case("text_range_csv", "SELECT n.n_id FROM {nation} n WHERE n.n_name >= 'a'"),
    Case("text_range_parquet", "SELECT l.l_id FROM {lineitem} l WHERE l.comment BETWEEN 'M' AND 'z'"),
    Case("text_in_list_pg", "SELECT o.o_id FROM {orders} o WHERE o.status IN ('O', 'F', '')"),
    Case("timestamptz_compare",
         "SELECT o.o_id, o.paid_at FROM {orders} o WHERE o.paid_at >= TIMESTAMPTZ '2023-06-01 00:00:00+05:30' "
         "AND o.paid_at < TIMESTAMPTZ '2024-01-01 00:00:00-08:00'"),
    Case("timestamptz_vs_naive_literal",
         "SELECT o.o_id FROM {orders} o WHERE o.paid_at < TIMESTAMP '2023-07-01 00:00:00'"),
    Case("timestamptz_extract_and_order",
         "SELECT o.o_id, extract(hour FROM o.paid_at) AS h FROM {orders} o WHERE o.paid_at IS NOT NULL "
         "ORDER BY o.paid_at, o.o_id LIMIT 15", ordered=True),
    Case("timestamptz_parquet_vs_pg",
         "SELECT l.l_id, o.o_id FROM {lineitem} l JOIN {orders} o ON o.o_id = l.o_id WHERE l.recv_at > o.paid_at"),
    Case("timestamp_naive_parquet", "SELECT l.l_id FROM {lineitem} l WHERE l.ship_ts < TIMESTAMP '2023-06-01 00:00:00'"),
    Case("timestamp_naive_pg_vs_date", "SELECT o.o_id FROM {orders} o WHERE o.created_at >= DATE '2024-06-01'"),
]

WHOLE_QUERIES = [
    Case("tpch_q3_shape",
         "SELECT l.o_id, sum(l.price * l.qty) AS revenue, o.o_date, o.priority "
         "FROM {customers} c JOIN {orders} o ON c.c_id = o.c_id JOIN {lineitem} l ON l.o_id = o.o_id "
         "WHERE c.segment = 'BUILDING' AND o.o_date < DATE '2024-09-15' AND l.ship_date > DATE '2023-03-15' "
         "GROUP BY l.o_id, o.o_date, o.priority ORDER BY revenue DESC, o.o_date, l.o_id LIMIT 10", ordered=True),
    Case("pg_only_join_group_order_limit",
         "SELECT p.category, count(*) AS n, sum(o.total) AS s FROM {orders} o JOIN {products} p ON p.p_id = o.p_id "
         "WHERE o.status = 'F' GROUP BY p.category ORDER BY s DESC NULLS LAST, p.category LIMIT 5", ordered=True),
    Case("pg_only_left_join_having",
         "SELECT p.p_id, p.p_name, count(o.o_id) AS n FROM {products} p LEFT JOIN {orders} o ON o.p_id = p.p_id "
         "GROUP BY p.p_id, p.p_name HAVING count(o.o_id) >= 5"),
    Case("pg_only_order_offset",
         "SELECT o.o_id, o.o_date FROM {orders} o JOIN {products} p ON p.p_id = o.p_id WHERE p.price > 100 "
         "ORDER BY o.o_date DESC NULLS LAST, o.o_id LIMIT 10 OFFSET 5", ordered=True),
    Case("sqlite_only_group_order",
         "SELECT c.segment, count(*) AS n, sum(c.balance) AS s, max(c.name) AS top FROM {customers} c "
         "WHERE c.balance >= 0 GROUP BY c.segment ORDER BY c.segment", ordered=True),
    Case("sqlite_only_self_join",
         "SELECT a.c_id, b.c_id AS other FROM {customers} a JOIN {customers} b "
         "ON a.nation_id = b.nation_id AND a.c_id < b.c_id WHERE a.balance > b.balance"),
    Case("sqlite_only_decimal_sum",
         "SELECT c.segment, sum(c.credit) AS credit, min(c.credit) AS lo FROM {customers} c GROUP BY c.segment"),
]

PARAMETERS = [
    Case("params_cross_source",
         "SELECT o.o_id, c.name FROM {orders} o JOIN {customers} c ON c.c_id = o.c_id WHERE o.total > ? AND c.name <> ?",
         (500, "apple")),
    Case("params_dates_and_ints_files",
         "SELECT l.l_id FROM {lineitem} l WHERE l.ship_date >= ? AND l.qty > ?", (dt.date(2024, 2, 1), 20)),
    Case("params_pg_pushed_query",
         "SELECT p.p_id, p.price FROM {products} p WHERE p.price > ? ORDER BY p.price, p.p_id LIMIT 5",
         (Decimal("50.00"),), ordered=True),
    Case("params_timestamptz",
         "SELECT o.o_id FROM {orders} o WHERE o.paid_at >= ?",
         (dt.datetime(2023, 9, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),)),
    Case("params_like_sqlite", "SELECT c.c_id FROM {customers} c WHERE c.name LIKE ?", ("%e%",)),
    Case("params_float_csv", "SELECT r.r_id FROM {returns} r WHERE r.amount > ? AND r.reason <> ?", (100.5, "")),
]

SINGLE_SOURCE_PUSHDOWN = [
    Case("pg_only_cte_referenced_twice",
         "WITH f AS (SELECT o.c_id, o.total FROM {orders} o WHERE o.status = 'F') "
         "SELECT a.c_id, a.total FROM f a WHERE a.total > (SELECT avg(b.total) FROM f b)"),
    Case("pg_only_union_order_limit",
         "SELECT p.p_name AS s FROM {products} p UNION SELECT o.note FROM {orders} o ORDER BY s LIMIT 10", ordered=True),
    Case("pg_only_derived_top_n_joined_to_sqlite",
         "SELECT t.o_id, t.total, c.name FROM (SELECT o.o_id, o.c_id, o.total FROM {orders} o "
         "ORDER BY o.total DESC NULLS LAST, o.o_id LIMIT 20) t LEFT JOIN {customers} c ON c.c_id = t.c_id"),
    Case("pg_only_aggregates_of_empty_input",
         "SELECT count(*) AS n, sum(o.total) AS s, min(o.note) AS m FROM {orders} o WHERE o.o_id < 0"),
    Case("pg_only_group_by_position_order_by_position",
         "SELECT o.status, count(*) AS n FROM {orders} o GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST", ordered=True),
    Case("pg_only_limit_zero", "SELECT o.o_id FROM {orders} o LIMIT 0"),
    Case("pg_only_date_and_interval_arithmetic",
         "SELECT o.o_id, o.o_date + 7 AS a, o.o_date + INTERVAL 1 MONTH AS b, o.created_at + INTERVAL 1 MONTH AS c, "
         "o.paid_at + INTERVAL 1 DAY AS d, -o.total AS e, o.priority * o.priority AS f, abs(o.discount) AS g, "
         "o.o_date - DATE '2023-01-01' AS days FROM {orders} o"),
    Case("pg_only_interval_result", "SELECT o.o_id, o.created_at - o.o_date AS age FROM {orders} o"),
    Case("pg_only_concat_decimal_int_timestamptz",
         "SELECT o.o_id, o.total || '' AS t, o.paid_at || '' AS p, 'n' || o.o_id AS i FROM {orders} o"),
    Case("pg_only_concat_double", "SELECT o.o_id, o.discount || '' AS d FROM {orders} o"),
    Case("pg_only_date_vs_timestamp_literal",
         "SELECT o.o_id FROM {orders} o WHERE o.o_date < TIMESTAMP '2023-06-01 12:00:00' OR o.paid_at >= DATE '2024-06-01'"),
    Case("pg_only_nan_inf_in_list",
         "SELECT o.o_id FROM {orders} o WHERE o.discount IN (0, 'NaN'::DOUBLE, 'Infinity'::DOUBLE)"),
    Case("pg_only_mixed_case_column",
         "SELECT p.Sku, p.p_id FROM {products} p WHERE p.sku > 'SK-010' ORDER BY p.SKU DESC, p.p_id LIMIT 6", ordered=True),
    Case("pg_only_order_by_alias_shadowing_column",
         "SELECT p.p_id AS price, p.price AS p_id FROM {products} p ORDER BY price LIMIT 5", ordered=True),
    Case("pg_only_decimal_arithmetic_scale_over_10",
         "SELECT o.o_id, o.total * 0.123456789012 AS x FROM {orders} o"),
    Case("pg_only_real_column_ranges", "SELECT p.p_id, p.score FROM {products} p WHERE p.score IS NOT NULL"),
    Case("pg_only_distinct_text_order_limit",
         "SELECT DISTINCT p.category FROM {products} p ORDER BY p.category LIMIT 3", ordered=True),
    Case("pg_only_min_max_boolean",
         "SELECT max(p.active) AS any_active, min(p.active) AS all_active FROM {products} p"),
    Case("pg_only_real_equals_decimal_literal",
         "SELECT p.p_id FROM {products} p WHERE p.score = 0.1"),
    Case("pg_only_not_in_subquery_with_nulls",
         "SELECT p.p_id FROM {products} p WHERE p.p_id NOT IN (SELECT o.p_id FROM {orders} o)"),
    Case("pg_only_not_exists_correlated",
         "SELECT p.p_id FROM {products} p WHERE NOT EXISTS (SELECT 1 FROM {orders} o WHERE o.p_id = p.p_id AND o.total > 0)"),
    Case("pg_only_correlated_scalar_subquery",
         "SELECT p.p_id, (SELECT count(*) FROM {orders} o WHERE o.p_id = p.p_id) AS n FROM {products} p"),
    Case("pg_only_intersect_all", "SELECT o.p_id FROM {orders} o INTERSECT ALL SELECT p.p_id FROM {products} p"),
    Case("pg_only_except_all", "SELECT o.p_id FROM {orders} o EXCEPT ALL SELECT p.p_id FROM {products} p"),
    Case("pg_only_group_by_double_with_nan", "SELECT o.discount, count(*) AS n FROM {orders} o GROUP BY o.discount"),
    Case("pg_only_order_double_nan_desc",
         "SELECT o.o_id, o.discount FROM {orders} o ORDER BY o.discount DESC NULLS LAST, o.o_id LIMIT 8", ordered=True),
    Case("pg_only_order_double_asc",
         "SELECT o.o_id, o.discount FROM {orders} o ORDER BY o.discount, o.o_id LIMIT 8", ordered=True),
    Case("pg_only_temporal_min_max",
         "SELECT min(o.paid_at) AS a, max(o.paid_at) AS b, min(o.created_at) AS c, max(o.o_date) AS d FROM {orders} o"),
    Case("pg_only_like_underscore_non_ascii",
         "SELECT p.p_id, p.p_name FROM {products} p WHERE p.p_name LIKE '_mile' OR p.p_name LIKE '_clair' "
         "OR p.p_name LIKE 'Stra_e'"),
    Case("pg_only_length_non_ascii", "SELECT o.o_id, length(o.note) AS n FROM {orders} o WHERE length(o.note) < 6"),
    Case("sqlite_only_count_distinct_having",
         "SELECT c.segment, count(DISTINCT c.nation_id) AS n FROM {customers} c GROUP BY c.segment HAVING count(*) > 2"),
    Case("sqlite_only_case_on_text_ranges",
         "SELECT c.c_id, CASE WHEN c.name > 'M' THEN 'late' WHEN c.name = '' THEN 'empty' ELSE 'early' END AS k "
         "FROM {customers} c"),
    Case("sqlite_only_like_underscore",
         "SELECT c.c_id, c.name FROM {customers} c WHERE c.name LIKE '_mile' OR c.name LIKE '_clair' OR c.name LIKE '%\\_%'"),
    Case("sqlite_only_nulls_first_limit",
         "SELECT c.c_id, c.balance FROM {customers} c ORDER BY c.balance NULLS FIRST, c.c_id LIMIT 9", ordered=True),
    Case("sqlite_only_desc_nulls_first_limit",
         "SELECT c.c_id, c.balance FROM {customers} c ORDER BY c.balance DESC NULLS FIRST, c.c_id LIMIT 9", ordered=True),
    Case("sqlite_only_text_dates_order_limit",
         "SELECT c.c_id, c.signup FROM {customers} c ORDER BY c.signup DESC, c.c_id LIMIT 9", ordered=True),
    Case("sqlite_only_left_anti_join",
         "SELECT a.c_id, b.c_id AS other FROM {customers} a LEFT JOIN {customers} b ON b.c_id = a.c_id + 1 "
         "WHERE b.c_id IS NULL"),
    Case("sqlite_only_in_subquery",
         "SELECT c.c_id FROM {customers} c WHERE c.nation_id IN (SELECT x.nation_id FROM {customers} x WHERE x.balance > 3000)"),
    Case("sqlite_only_concat_text_and_date", "SELECT c.c_id, c.name || c.signup AS s FROM {customers} c"),
    Case("sqlite_only_decimal_arithmetic_filter",
         "SELECT c.c_id FROM {customers} c WHERE c.credit + 0.20 = 0.30"),
    Case("sqlite_only_concat_decimal", "SELECT c.c_id, c.name || c.credit AS label FROM {customers} c"),
]

FILE_FILTERS = [
    Case("files_float32_equals_decimal_literal",
         "SELECT l.l_id FROM {lineitem} l WHERE l.weight = 0.1 OR l.weight <= 0.3"),
    Case("files_float32_other_comparisons",
         "SELECT l.l_id, l.weight FROM {lineitem} l WHERE l.weight IN (0.5, 2.7) OR l.weight <> l.weight OR l.weight < 0"),
    Case("files_int_column_float_literal", "SELECT l.l_id FROM {lineitem} l WHERE l.qty < 2.5 OR l.qty = 10.0"),
    Case("files_int_in_mixed_literals", "SELECT l.l_id FROM {lineitem} l WHERE l.qty IN (1.5, 2)"),
    Case("files_int32_out_of_range_literal",
         "SELECT l.l_id FROM {lineitem} l WHERE l.o_id = 3000000000 OR l.o_id < -3000000000 OR l.o_id = 7"),
    Case("files_timestamp_vs_date_literal",
         "SELECT l.l_id FROM {lineitem} l WHERE l.ship_ts >= DATE '2023-06-01' "
         "AND l.ship_date NOT IN (DATE '2023-06-01', DATE '2024-01-17')"),
    Case("files_timestamptz_column", "SELECT l.l_id FROM {lineitem} l WHERE l.recv_at > TIMESTAMPTZ '2024-01-01 00:00:00+03:00'"),
    Case("files_not_less_with_nan",
         "SELECT l.l_id FROM {lineitem} l WHERE NOT (l.disc < 0.05) AND l.p_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"),
    Case("files_date_vs_string_literal", "SELECT l.l_id FROM {lineitem} l WHERE l.ship_date > '2024-01-01'"),
    Case("files_text_in_list_or_null",
         "SELECT l.l_id FROM {lineitem} l WHERE l.comment IN ('apple', 'Émile', '') OR l.comment IS NULL"),
    Case("parquet_schema_evolution_filter",
         "SELECT e.e_id, e.tag FROM {events} e WHERE e.tag IS NULL OR e.tag = 'ß' OR e.kind = 'View'"),
    Case("parquet_schema_evolution_join",
         "SELECT e.tag, count(*) AS n, min(e.at) AS first FROM {events} e JOIN {customers} c ON c.c_id = e.e_id "
         "GROUP BY e.tag"),
    Case("csv_mixed_filters", "SELECT r.r_id FROM {returns} r WHERE r.l_id = 5 OR r.amount < 0 OR r.reason < 'M'"),
]

MORE_PARAMETERS = [
    Case("params_null_value", "SELECT o.o_id FROM {orders} o WHERE o.c_id = ? OR o.o_id = ?", (None, 3)),
    Case("params_string_for_date_pg", "SELECT o.o_id FROM {orders} o WHERE o.o_date >= ?", ("2024-01-01",)),
    Case("params_in_projection_pg", "SELECT o.o_id, ? AS tag, o.total * ? AS t FROM {orders} o WHERE o.o_id < 9",
         ("x", 2)),
    Case("params_text_range_and_in_pg",
         "SELECT p.p_id FROM {products} p WHERE p.p_name > ? AND p.category IN (?, ?)", ("M", "tools", "Toys")),
    Case("params_text_range_sqlite", "SELECT c.c_id FROM {customers} c WHERE c.name > ? AND c.balance < ?", ("M", 0.5)),
    Case("params_mixed_zones",
         "SELECT o.o_id FROM {orders} o WHERE o.created_at >= ? AND o.paid_at < ?",
         (dt.datetime(2023, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))), dt.datetime(2024, 1, 1))),
    Case("params_in_two_sources",
         "SELECT o.o_id, c.c_id FROM {orders} o JOIN {customers} c ON c.c_id = o.c_id "
         "WHERE o.total > ? AND c.balance < ? AND o.o_id < ?", (100, 2000.5, 150)),
    Case("params_in_having_pg",
         "SELECT o.status, count(*) AS n FROM {orders} o GROUP BY o.status HAVING count(*) > ?", (10,)),
    Case("params_in_case_pg",
         "SELECT o.o_id, CASE WHEN o.total > ? THEN ? ELSE ? END AS k FROM {orders} o", (1000, "big", "small")),
    Case("params_float_against_decimal_pg", "SELECT o.o_id FROM {orders} o WHERE o.total > ?", (100.555,)),
]

MORE_SOURCES = [
    Case("duckdb_aggregate_by_category",
         "SELECT d.category, count(*) AS n, sum(d.price) AS total, max(d.score) AS best, avg(d.weight) AS w "
         "FROM {products_d} d GROUP BY d.category"),
    Case("duckdb_filter_decimal_and_text",
         "SELECT d.p_id, d.\"Sku\" FROM {products_d} d WHERE d.price > 100 AND d.category IN ('tools', 'Toys', '')"),
    Case("duckdb_join_pg_same_rows",
         "SELECT d.p_id, d.price - p.price AS diff FROM {products_d} d JOIN {products} p ON p.p_id = d.p_id "
         "WHERE d.active"),
    Case("duckdb_join_pg_orders_aggregate",
         "SELECT d.category, count(o.o_id) AS n, sum(o.total) AS t FROM {orders} o JOIN {products_d} d "
         "ON d.p_id = o.p_id GROUP BY d.category HAVING count(*) > 3"),
    Case("json_filter_text_and_double",
         "SELECT j.r_id, j.amount FROM {returns_j} j WHERE j.reason IN ('Late', '') OR j.amount < 0"),
    Case("json_date_range", "SELECT j.r_id FROM {returns_j} j WHERE j.r_date >= DATE '2024-01-01'"),
    Case("json_join_sqlite_via_lineitem",
         "SELECT c.c_id, c.name, count(*) AS n, sum(j.amount) AS amount FROM {returns_j} j "
         "JOIN {lineitem} l ON l.l_id = j.l_id JOIN {orders} o ON o.o_id = l.o_id "
         "JOIN {customers} c ON c.c_id = o.c_id GROUP BY c.c_id, c.name"),
    Case("json_join_sqlite_flags",
         "SELECT j.r_id, f.vip FROM {returns_j} j LEFT JOIN {flags} f ON f.c_id = j.r_id WHERE j.r_id < 30"),
    Case("json_equals_csv_copy",
         "SELECT j.r_id FROM {returns_j} j JOIN {returns} r ON r.r_id = j.r_id "
         "WHERE j.amount IS DISTINCT FROM r.amount OR j.reason IS DISTINCT FROM r.reason"),
    Case("hive_partition_equals", "SELECT h.l_id, h.year FROM {lineitem_h} h WHERE h.year = 2024"),
    Case("hive_partition_range_and_column",
         "SELECT h.l_id FROM {lineitem_h} h WHERE h.year >= 2024 AND h.qty > 10"),
    Case("hive_partition_in_or_null_date",
         "SELECT h.l_id, h.ship_date FROM {lineitem_h} h WHERE h.year IN (0, 2025) OR h.ship_date IS NULL"),
    Case("hive_group_by_partition",
         "SELECT h.year, count(*) AS n, sum(h.price) AS s, min(h.ship_ts) AS first FROM {lineitem_h} h GROUP BY h.year"),
    Case("hive_join_pg_orders",
         "SELECT h.year, o.status, count(*) AS n FROM {lineitem_h} h JOIN {orders} o ON o.o_id = h.o_id "
         "WHERE h.year = 2023 GROUP BY h.year, o.status"),
    Case("hive_matches_flat_parquet",
         "SELECT h.l_id FROM {lineitem_h} h FULL JOIN {lineitem} l ON l.l_id = h.l_id "
         "WHERE h.l_id IS NULL OR l.l_id IS NULL OR h.year <> coalesce(year(l.ship_date), 0)"),
    Case("rest_filter_region_equals", "SELECT n.n_id, n.n_name FROM {nation_api} n WHERE n.region = 'EUROPE'"),
    Case("rest_filter_region_in", "SELECT n.n_id FROM {nation_api} n WHERE n.region IN ('ASIA', 'europe', 'x')"),
    Case("rest_filter_region_in_with_blank",
         "SELECT n.n_id FROM {nation_api} n WHERE n.region IN ('ASIA', 'europe', '')"),
    Case("rest_filter_key_and_name", "SELECT n.n_name FROM {nation_api} n WHERE n.n_id = 3 OR n.n_name IS NULL"),
    Case("rest_order_limit",
         "SELECT n.n_id, n.n_name FROM {nation_api} n ORDER BY n.n_id NULLS LAST LIMIT 4", ordered=True),
    Case("rest_join_sqlite_customers",
         "SELECT c.c_id, n.n_name FROM {customers} c JOIN {nation_api} n ON n.n_id = c.nation_id "
         "WHERE n.region = 'ASIA'"),
    Case("rest_join_csv_nation_and_pg",
         "SELECT n.region, count(o.o_id) AS n FROM {nation_api} n JOIN {nation} x ON x.n_id = n.n_id "
         "LEFT JOIN {customers} c ON c.nation_id = n.n_id LEFT JOIN {orders} o ON o.c_id = c.c_id GROUP BY n.region"),
    Case("all_new_sources_joined",
         "SELECT h.year, d.category, n.region, count(*) AS n FROM {lineitem_h} h "
         "JOIN {products_d} d ON d.p_id = h.p_id JOIN {orders} o ON o.o_id = h.o_id "
         "JOIN {customers} c ON c.c_id = o.c_id JOIN {nation_api} n ON n.n_id = c.nation_id "
         "WHERE h.year = 2024 AND n.region IN ('EUROPE', 'ASIA') GROUP BY h.year, d.category, n.region"),
    Case("params_hive_and_rest",
         "SELECT h.l_id, n.n_name FROM {lineitem_h} h JOIN {orders} o ON o.o_id = h.o_id "
         "JOIN {customers} c ON c.c_id = o.c_id JOIN {nation_api} n ON n.n_id = c.nation_id "
         "WHERE h.year = ? AND n.region = ?", (2023, "AMERICA")),
]

CASES = JOINS + SUBQUERIES + CTES + AGGREGATES + WINDOWS + ORDERING + SET_OPERATIONS + EXPRESSIONS + FILTERS \
    + WHOLE_QUERIES + PARAMETERS + SINGLE_SOURCE_PUSHDOWN + FILE_FILTERS + MORE_PARAMETERS + MORE_SOURCES


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_differential(case: Case, diff_dataset: DiffDataset, engines: dict[str, fedq.Connection],
                      diff_reference: Any) -> None:
    check_case(case, diff_dataset, engines, diff_reference)
