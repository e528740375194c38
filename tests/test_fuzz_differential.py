"""Differential fuzzing with hypothesis: generated queries over tables placed at random in every source kind.

The data set (tests/fuzzdata.py) holds three tables in PostgreSQL (schema ``fedq_fuzz_<pid>``, or
FEDQ_FUZZ_PG_SCHEMA), MariaDB (``fedq_fuzz_<pid>_*``), SQLite, a DuckDB file, Parquet, CSV, JSON and a
REST API on a real HTTP server; each hypothesis example picks a placement (table -> kind) and a
query from tests/fuzzgen.py, and one oracle of tests/fuzzcheck.py checks it: differential (fedq with
pushdown = fedq without = the DuckDB reference), TLP and NoREC. Runs are deterministic
(``derandomize=True``, no example database); a failure is shrunk by hypothesis to a small query.

The long run is ``.venv/bin/python -m tests.fuzz_run --queries 20000 --seed N``. Queries found
by fuzzing that once gave a wrong answer or an error are kept below as regressions.
"""
from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzcheck import Oracles, fuzz_session
from fuzzdata import KINDS
from fuzzgen import Generator, DataChooser, Query, placement

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

# Examples per oracle: CI-sized by default; FEDQ_FUZZ_EXAMPLES=N scales all three.
SCALE = int(os.environ.get("FEDQ_FUZZ_EXAMPLES", "0"))
EXAMPLES = {"differential": SCALE or 290, "tlp": SCALE or 115, "norec": SCALE or 135}
MIN_QUERIES, MIN_KINDS = 500, 5


def fuzz_settings(oracle: str) -> Any:
    return settings(max_examples=EXAMPLES[oracle], derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def oracles(pg_dsn: str, mysql_dsn: str, pg_admin_dsn: str, mysql_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory):
    with fuzz_session(pg_dsn, mysql_dsn, tmp_path_factory.mktemp("fuzz"), pg_admin_dsn, mysql_admin_dsn) as found:
        yield found


def test_round_trip(oracles: Oracles) -> None:
    """Every kind reads back the generated rows (the reference is built from what fedq reads)."""
    assert oracles.dataset.round_trip_problems == []


def _check(oracles: Oracles, mismatch: Any) -> None:
    assert mismatch is None, mismatch.report(oracles.dataset)


@fuzz_settings("differential")
@given(data=st.data())
def test_fuzz_differential(oracles: Oracles, data: st.DataObject) -> None:
    chooser = DataChooser(data)
    where = placement(chooser, KINDS)
    # fedq without pushdown on every other query: it answers like the reference unless the local
    # path itself is wrong, which the other half still catches (and it halves the cost)
    local = oracles.stats.queries["differential"] % 2 == 0
    _check(oracles, oracles.differential(Generator(chooser).query(), where, local=local))


@fuzz_settings("tlp")
@given(data=st.data())
def test_fuzz_tlp(oracles: Oracles, data: st.DataObject) -> None:
    chooser = DataChooser(data)
    where = placement(chooser, KINDS)
    _check(oracles, oracles.tlp(Generator(chooser).tlp(), where))


@fuzz_settings("norec")
@given(data=st.data())
def test_fuzz_norec(oracles: Oracles, data: st.DataObject) -> None:
    chooser = DataChooser(data)
    where = placement(chooser, KINDS)
    _check(oracles, oracles.norec(Generator(chooser).norec(), where))


# -- what fuzzing found, minimized ----------------------------------------------------------------
ALL_PG = {"t1": "postgres", "t2": "postgres", "t3": "postgres"}
REGRESSIONS = [
    # PostgreSQL's grammar takes no COLLATE in BETWEEN's bounds: fedq sent
    # "t" COLLATE "C" BETWEEN 'Apple' COLLATE "C" AND … and PostgreSQL refused it (syntax error).
    pytest.param(ALL_PG, "SELECT a.id FROM {t1} a WHERE a.t BETWEEN 'Apple' AND 'b'", False, (), id="pg_text_between_collate"),
    pytest.param(ALL_PG, "SELECT a.k, count(*) FROM {t2} a WHERE a.s NOT BETWEEN 'M' AND 'b' GROUP BY a.k", False, (),
                 id="pg_text_not_between_collate_aggregate"),
    # A constant ORDER BY key was sent in the remote Top-N: PostgreSQL refused 1e6 ("non-integer
    # constant in ORDER BY") and read an integer as a column position (ORDER BY 1 DESC: by id).
    pytest.param(ALL_PG, "SELECT a.ts AS c0, 1e6 AS c1, a.n AS c2 FROM {t2} a ORDER BY 1, 2 DESC, 3 DESC NULLS FIRST LIMIT 1",
                 True, (), id="pg_order_by_constant_float"),
    pytest.param(ALL_PG, "SELECT a.id AS c0, a.k AS c1, 1 AS c2 FROM {t1} a ORDER BY 3 DESC, 1 LIMIT 3", True, (),
                 id="pg_order_by_constant_integer_is_not_a_position"),
    pytest.param({"t1": "sqlite", "t2": "sqlite", "t3": "sqlite"},
                 "SELECT a.id AS c0, 2 AS c1 FROM {t1} a ORDER BY 2, 1 DESC LIMIT 4", True, (),
                 id="sqlite_order_by_constant_integer_is_not_a_position"),
    pytest.param({"t1": "mariadb", "t2": "mariadb", "t3": "mariadb"},
                 "SELECT a.id AS c0, 2 AS c1 FROM {t1} a ORDER BY 2, 1 DESC LIMIT 4", True, (),
                 id="mariadb_order_by_constant_integer_is_not_a_position"),
    # A constant GROUP BY key was pushed: PostgreSQL refuses "non-integer constant in GROUP BY".
    pytest.param(ALL_PG, "SELECT 100.00 AS c0, coalesce(0.00, -50.00) AS c1, min(0.10) AS c2 FROM {t1} a "
                 "GROUP BY 100.00, coalesce(0.00, -50.00)", False, (), id="pg_group_by_constant"),
    pytest.param(ALL_PG, "SELECT 'x' AS c0, count(*) AS c1 FROM {t1} a WHERE a.id < 0 GROUP BY 'x'", False, (),
                 id="pg_group_by_constant_text_no_rows"),
    pytest.param(ALL_PG, "SELECT -50.00 AS c0, a.id AS c1, sum(-1) AS c2 FROM {t2} a GROUP BY -50.00, a.id "
                 "ORDER BY 1 DESC NULLS FIRST, 2 DESC LIMIT 6", True, (), id="pg_group_by_negative_constant"),
    # SQLite has no INTERSECT ALL / EXCEPT ALL: the pushed query failed ('near "ALL": syntax error').
    pytest.param({"t1": "sqlite", "t2": "sqlite", "t3": "sqlite"},
                 "SELECT a1.id AS c0 FROM {t1} a1 INTERSECT ALL SELECT a2.k AS c0 FROM {t1} a2", False, (),
                 id="sqlite_intersect_all"),
    pytest.param({"t1": "sqlite", "t2": "sqlite", "t3": "sqlite"},
                 "SELECT a1.f AS c0 FROM {t1} a1 EXCEPT ALL SELECT a2.f AS c0 FROM {t2} a2 ORDER BY 1", True, (),
                 id="sqlite_except_all"),
    # Pre-aggregation at SQLite below a cross-source join grouped by a date column, which SQLite's
    # query results carry as text: the local "d > TIMESTAMP …" failed (VARCHAR vs TIMESTAMP).
    pytest.param({"t1": "sqlite", "t2": "rest", "t3": "duckdb"},
                 "SELECT a2.s AS c0, min(a2.ts) AS c1 FROM {t1} a1 JOIN {t3} a2 ON a1.t = a2.s "
                 "WHERE a1.d > TIMESTAMP '2023-09-15 00:00:00.123456' GROUP BY a2.s HAVING sum(a1.k) < -1.25 "
                 "ORDER BY 1 DESC NULLS FIRST, 2 DESC NULLS LAST", True, (), id="sqlite_partial_aggregate_date_key"),
    pytest.param({"t1": "sqlite", "t2": "rest", "t3": "duckdb"},
                 "SELECT a2.s AS c0, min(a1.d) AS c1, max(a1.ts) AS c2, count(*) AS c3 FROM {t1} a1 "
                 "JOIN {t3} a2 ON a1.t = a2.t GROUP BY a2.s", False, (), id="sqlite_partial_aggregate_min_max_dates"),
    # Files: an IN list mixing integers and fractions on an integer column became one Arrow array of
    # the first literal's type, so -0.001 became 0 and NOT IN dropped the rows with g = 0 (26 -> 20 rows).
    pytest.param({"t1": "json", "t2": "parquet", "t3": "csv"},
                 "SELECT a.id FROM {t1} a WHERE a.g NOT IN (-3, -0.001)", False, (), id="json_int_not_in_mixed_literals"),
    pytest.param({"t1": "json", "t2": "parquet", "t3": "csv"},
                 "SELECT a.id FROM {t2} a WHERE a.g NOT IN (1, 0.5) OR a.k IN (2, 2.5)", False, (),
                 id="parquet_int_in_mixed_literals"),
    pytest.param({"t1": "sqlite", "t2": "parquet", "t3": "json"},
                 "SELECT count(*) FROM {t1} a3 WHERE NOT EXISTS (SELECT 1 FROM {t3} a4 WHERE a4.t = a3.t "
                 "AND NOT (a4.g IN (-3, -0.001)))", False, (), id="json_not_exists_int_in_mixed_literals"),
    # SQLite: a Decimal bind parameter in a pushed filter failed ("type 'decimal.Decimal' is not supported").
    pytest.param({"t1": "sqlite", "t2": "sqlite", "t3": "sqlite"},
                 "SELECT a.id FROM {t1} a WHERE a.n NOT BETWEEN 100.00 AND ?", False, (Decimal("2.50"),),
                 id="sqlite_decimal_parameter"),
    pytest.param({"t1": "sqlite", "t2": "postgres", "t3": "sqlite"},
                 "SELECT a.id, b.k FROM {t1} a JOIN {t3} b ON a.k = b.g WHERE a.n > ? AND b.n IN (?, ?)", False,
                 (Decimal("12.34"), Decimal("0.10"), Decimal("-50.00")), id="sqlite_decimal_parameters_join"),
    # With a ? parameter, a statement ending in '' failed: "syntax error: Error tokenizing" (sqlglot's
    # tokenizer, on the text fedq rewrites ? into: "… = $p1 AND a.s = ''").
    pytest.param({"t1": "postgres", "t2": "duckdb", "t3": "mariadb"},
                 "SELECT a.id FROM {t2} a WHERE a.k BETWEEN ? AND 5 OR a.s ILIKE ''", False, (2,),
                 id="parameter_then_empty_string_at_end"),
]


@pytest.mark.parametrize(("where", "sql", "ordered", "params"), REGRESSIONS)
def test_fuzz_regression(oracles: Oracles, where: dict[str, str], sql: str, ordered: bool, params: tuple) -> None:
    tables = frozenset(t for t in where if "{" + t + "}" in sql)
    _check(oracles, oracles.differential(Query(sql, ordered, tables, params), where))


def test_fuzz_summary(oracles: Oracles, capsys: pytest.CaptureFixture[str]) -> None:
    """The run's figures (printed), and the CI floor: enough queries over enough source kinds, no mismatch."""
    stats = oracles.stats
    with capsys.disabled():
        print("\nfuzzing:", stats.summary())
    if not all(stats.queries.get(oracle) for oracle in EXAMPLES):
        pytest.skip("not every fuzzing test ran (selected with -k?)")
    fuzzed = sum(stats.queries.values()) - sum(stats.rejected.values()) - len(REGRESSIONS)
    assert fuzzed >= MIN_QUERIES or SCALE, stats.summary()
    assert len(stats.kinds) >= MIN_KINDS, stats.summary()
    assert not stats.mismatches, "\n".join(m.report(oracles.dataset) for m in stats.mismatches)
