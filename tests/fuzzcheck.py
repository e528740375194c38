"""The fuzzing oracles over a placed data set (tests/fuzzdata.py) and generated queries (tests/fuzzgen.py).

- **differential**: fedq with pushdown, fedq with ``pushdown=False`` and the reference DuckDB return
  the same rows (a list when the query has a total ORDER BY, else a multiset; doubles within a
  relative 1e-9, numbers by value, the comparer of tests/test_differential.py);
- **TLP** (ternary logic partitioning): rows of ``Q`` = rows of ``Q WHERE p`` + ``Q WHERE NOT p`` +
  ``Q WHERE p IS NULL`` (distinct again for ``SELECT DISTINCT``), all through fedq with pushdown;
- **NoREC**: pushed ``SELECT count(*) … WHERE p`` = ``SELECT sum(CASE WHEN p THEN 1 ELSE 0 END) …``
  computed by fedq with ``pushdown=False``.

When the reference rejects a query (a generator slip) fedq must reject it too; both errors count
as ``rejected``, not as a mismatch.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import fedq
from fuzzdata import FuzzDataset, normalize_row, placement_names
from fuzzgen import NorecQuery, Query, TlpQuery
from test_differential import first_differences, row_key, same_list, same_multiset


def rows_match(actual: list[tuple], expected: list[tuple], ordered: bool) -> str | None:
    """None when the rows are equal (as lists or multisets), else a description of the difference."""
    if not ordered:
        actual, expected = sorted(actual, key=row_key), sorted(expected, key=row_key)
    if same_list(actual, expected) or (not ordered and same_multiset(actual, expected)):
        return None
    return f"{len(actual)} rows vs {len(expected)} expected\n" + "\n".join(first_differences(actual, expected))


def distinct_rows(rows: list[tuple]) -> list[tuple]:
    seen, kept = set(), []
    for row in rows:
        key = row_key(row)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


@dataclass
class Mismatch:
    oracle: str
    placement: dict[str, str]
    sql: str  # with {t1} placeholders
    detail: str
    statements: list[str] = field(default_factory=list)

    def report(self, dataset: FuzzDataset) -> str:
        names = placement_names(dataset, self.placement, reference=False)
        remote = "\n".join(f"  {s}" for s in self.statements[-8:])
        return (f"oracle: {self.oracle}\nplacement: {self.placement}\nquery: {self.sql}\n"
                f"fedq: {self.sql.format(**names)}\n{self.detail}\nremote statements:\n{remote}\n")


@dataclass
class Stats:
    queries: Counter = field(default_factory=Counter)  # per oracle
    kinds: Counter = field(default_factory=Counter)  # queries touching each source kind
    rejected: Counter = field(default_factory=Counter)  # per oracle: the reference and fedq both refused
    rejections: list[str] = field(default_factory=list)  # the reference's first few reasons
    executions: int = 0  # statements run through fedq
    with_parameters: int = 0  # of which with ? bind parameters
    mismatches: list[Mismatch] = field(default_factory=list)

    def count(self, oracle: str, placement: dict[str, str], tables: frozenset[str]) -> None:
        self.queries[oracle] += 1
        for kind in {placement[t] for t in tables}:
            self.kinds[kind] += 1

    def summary(self) -> str:
        total = sum(self.queries.values())
        lines = [f"queries: {total} ({', '.join(f'{k} {v}' for k, v in sorted(self.queries.items()))}); "
                 f"fedq executions: {self.executions} ({self.with_parameters} with bind parameters); "
                 f"mismatches: {len(self.mismatches)}",
                 "queries per source kind: " + ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))]
        if self.rejected:
            lines.append("rejected by the reference and fedq alike: "
                         + ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())))
        return "\n".join(lines)


class Oracles:
    """Runs generated queries against one placed data set; collects :class:`Stats`."""

    def __init__(self, dataset: FuzzDataset, pushdown: fedq.Connection, local: fedq.Connection, reference: Any) -> None:
        self.dataset, self.pushdown, self.local, self.reference = dataset, pushdown, local, reference
        self.stats = Stats()

    def _fedq(self, connection: fedq.Connection, sql: str, placement: dict[str, str], params: tuple = ()) -> list[tuple]:
        self.stats.executions += 1
        if params:
            self.stats.with_parameters += 1
        formatted = sql.format(**placement_names(self.dataset, placement, False))
        rows = connection.execute(formatted, list(params) if params else None).fetchall()
        return [normalize_row(row) for row in rows]

    def _reference(self, sql: str, placement: dict[str, str], params: tuple = ()) -> list[tuple]:
        formatted = sql.format(**placement_names(self.dataset, placement, True))
        return self.reference.execute(formatted, list(params) if params else None).fetchall()

    def _statements(self) -> list[str]:
        found = []
        for source in self.pushdown.catalog.sources.values():
            found += [f"{source.name}: {s}" for s in getattr(source, "statements", [])[-3:]]
        return found

    def _fail(self, oracle: str, placement: dict[str, str], sql: str, detail: str, params: tuple = ()) -> Mismatch:
        if params:
            detail = f"parameters: {params!r}\n{detail}"
        mismatch = Mismatch(oracle, dict(placement), sql, detail, self._statements())
        self.stats.mismatches.append(mismatch)
        return mismatch

    def differential(self, query: Query, placement: dict[str, str], local: bool = True) -> Mismatch | None:
        """fedq with pushdown (and, with ``local``, without) against the reference."""
        self.stats.count("differential", placement, query.tables)
        try:
            expected = self._reference(query.sql, placement, query.params)
        except Exception as error:  # a generator slip: fedq must refuse it too
            return self._expect_refusal("differential", query.sql, placement, error, query.params)
        modes = (("pushdown", self.pushdown), ("local", self.local)) if local else (("pushdown", self.pushdown),)
        for mode, connection in modes:
            try:
                actual = self._fedq(connection, query.sql, placement, query.params)
            except Exception as error:
                return self._fail("differential", placement, query.sql, f"{mode}: {type(error).__name__}: {error}",
                                  query.params)
            problem = rows_match(actual, expected, query.ordered)
            if problem:
                return self._fail("differential", placement, query.sql, f"{mode} vs reference: {problem}", query.params)
        return None

    def _expect_refusal(self, oracle: str, sql: str, placement: dict[str, str], error: Exception,
                        params: tuple = ()) -> Mismatch | None:
        try:
            self._fedq(self.pushdown, sql, placement, params)
        except Exception:
            self.stats.rejected[oracle] += 1
            if len(self.stats.rejections) < 20:
                self.stats.rejections.append(str(error).splitlines()[0])
            return None
        return self._fail(oracle, placement, sql, f"the reference refused it ({error}) but fedq answered", params)

    def tlp(self, query: TlpQuery, placement: dict[str, str]) -> Mismatch | None:
        self.stats.count("tlp", placement, query.tables)
        try:
            self._reference(query.parts[0], placement, query.params[1])
        except Exception as error:
            return self._expect_refusal("tlp", query.parts[0], placement, error, query.params[1])
        try:
            whole = self._fedq(self.pushdown, query.whole, placement, query.params[0])
            parts = [row for part, params in zip(query.parts, query.params[1:])
                     for row in self._fedq(self.pushdown, part, placement, params)]
        except Exception as error:
            return self._fail("tlp", placement, query.whole, f"{type(error).__name__}: {error}", query.params[1])
        if query.distinct:
            parts = distinct_rows(parts)
        problem = rows_match(parts, whole, ordered=False)
        if problem:
            return self._fail("tlp", placement, " UNION ALL ".join(query.parts) + f"  -- vs --  {query.whole}",
                              f"partitions vs whole: {problem}", query.params[1])
        return None

    def norec(self, query: NorecQuery, placement: dict[str, str]) -> Mismatch | None:
        self.stats.count("norec", placement, query.tables)
        try:
            self._reference(query.counted, placement, query.params[0])
        except Exception as error:
            return self._expect_refusal("norec", query.counted, placement, error, query.params[0])
        try:
            counted = self._fedq(self.pushdown, query.counted, placement, query.params[0])[0][0]
            summed = self._fedq(self.local, query.summed, placement, query.params[1])[0][0] or 0
        except Exception as error:
            return self._fail("norec", placement, query.counted, f"{type(error).__name__}: {error}", query.params[0])
        if counted != summed:
            return self._fail("norec", placement, query.counted,
                              f"pushed count(*) {counted} vs local sum(CASE …) {summed} ({query.summed})", query.params[0])
        return None


@contextmanager
def fuzz_session(pg_dsn: str, mysql_dsn: str, root: Path, pg_admin_dsn: str | None = None,
                 mysql_admin_dsn: str | None = None) -> Iterator[Oracles]:
    """Build the data set in every kind (REST on a real HTTP server), open the connections, yield the oracles.
    The servers are loaded and cleaned through the admin DSNs (default: the DSNs fedq attaches with)."""
    pg_admin_dsn, mysql_admin_dsn = pg_admin_dsn or pg_dsn, mysql_admin_dsn or mysql_dsn
    from fuzzdata import build, drop_servers, make_tables, read_back, reference_database, rest_route
    from rest_server import ApiServer

    api = ApiServer()
    for name, table in make_tables().items():
        api.route(f"/api/{name}", rest_route(table))
    connections: list[fedq.Connection] = []
    try:
        dataset = build(pg_dsn, mysql_dsn, root, api.url + "/api", pg_admin_dsn, mysql_admin_dsn)
        connections = [dataset.connect(pushdown=True), dataset.connect(pushdown=False)]
        read_back(dataset, connections[1])
        reference = reference_database(dataset)
        try:
            yield Oracles(dataset, connections[0], connections[1], reference)
        finally:
            reference.close()
    finally:
        for connection in connections:
            connection.close()
        api.close()
        drop_servers(pg_admin_dsn, mysql_admin_dsn)
