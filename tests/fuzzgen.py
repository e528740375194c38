"""A random SQL generator for differential fuzzing: valid queries with one deterministic answer.

Queries are written over ``{t1}``, ``{t2}``, ``{t3}`` placeholders (the tables of tests/fuzzdata.py,
columns ``id k g s t n f d ts``) and formatted per placement. Every random decision goes through a
:class:`Chooser`, so the same generator runs under hypothesis (:class:`DataChooser`: shrinkable, the
first option of every choice is the simplest) or from a seed (:class:`RandomChooser`: the long run).

What is generated: joins (inner and left, some right/full; keys of matching types: int, text, date;
extra ON terms on either side), WHERE filters (comparisons across numeric types, NaN and ±infinity
literals and [NOT] isnan() on doubles, AND/OR/NOT,
IS [NOT] NULL, IS [NOT] DISTINCT FROM, [NOT] IN lists with NULLs, [NOT] BETWEEN, [NOT] LIKE/ILIKE
with ESCAPE, arithmetic on ints/decimals/doubles, text functions, dates and timestamps with
intervals), aggregates with GROUP BY/HAVING (count, count distinct, sum, min, max, avg), DISTINCT,
ORDER BY + LIMIT/OFFSET, set operations (UNION [ALL], INTERSECT, EXCEPT), subqueries ([NOT] IN
(SELECT …), [NOT] EXISTS, correlated and uncorrelated scalar subqueries, derived tables, with
ORDER BY … LIMIT inside), and ``?`` bind parameters (int, Decimal, float, str, date, datetime) in
comparisons, IN lists, BETWEEN and HAVING. A third of the placements put every table in one source,
so joins and subqueries are pushed whole.

Narrowed on purpose, because the answer would not be deterministic or would be implementation-defined:
- a LIMIT always comes with an ORDER BY over every output column (a total order over distinct rows);
  without LIMIT an ORDER BY is compared as such, every other result as a multiset;
- sums and averages of doubles never feed a comparison (HAVING) nor a LIMIT's order: their last
  bits depend on the summation order; they appear only as output, compared with a tolerance;
- no division or modulo by a column (only by non-zero literals), no casts that can fail on the data;
- no integer literal as a GROUP BY key (it is a column position), no ``?`` compared with a bare
  literal (DuckDB cannot type it) nor inside a GROUP BY key (its text is repeated).
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, Sequence, TypeVar

T = TypeVar("T")

COLUMNS: dict[str, str] = {
    "id": "int", "k": "int", "g": "int", "s": "text", "t": "text",
    "n": "dec", "f": "float", "d": "date", "ts": "ts",
}
TABLES = ("t1", "t2", "t3")
NUMBER = ("int", "dec", "float")
TEMPORAL = ("date", "ts")
FAMILIES = ("int", "text", "dec", "float", "date", "ts")

TEXT_LITERALS = ["apple", "Apple", "", "a", "A", "b", "b ", "é", "É", "Émile", "émile", "e\u0301mile", "ß",
                 "Straße", "日本", "trail ", " lead", "Zoë", "O'Brien", "100%_done", "back\\slash", "mallory",
                 "M", "x", "zz", "İstanbul", "Ölfeld", "under_score"]
LIKE_PATTERNS = ["%", "a%", "A%", "%a%", "%e%", "_", "__", "%é%", "É%", "_mile", "%ß%", "%\\_%", "%\\%",
                 "%_done", "b _", "", "%e\u0301%", "M%", "m%", " %", "% "]
DEC_LITERALS = ["0.00", "2.50", "-1.25", "100.00", "12.34", "0.10", "-50.00", "499.99", "250.5"]
FLOAT_LITERALS = ["0.1", "1.5e0", "-2.5e0", "0.25", "3.75", "1e6", "0.3", "-0.001", "10.0", "0.0",
                  "CAST('NaN' AS DOUBLE)", "CAST('Infinity' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)"]
SPECIAL_FLOATS = {"CAST('NaN' AS DOUBLE)", "CAST('Infinity' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)"}  # never ? values
DATE_LITERALS = ["2023-03-01", "2023-12-31", "2024-02-29", "2024-06-15", "2022-12-31", "2024-12-01", "2023-07-04"]
TS_LITERALS = ["2023-06-01 12:00:00", "2024-01-01 00:00:00.5", "2023-01-01 00:00:00", "2024-06-30 23:59:59.999999",
               "2024-02-29 08:30:00", "2023-09-15 00:00:00.123456"]


# -- choosers ------------------------------------------------------------------------------------
class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...
    def integer(self, low: int, high: int) -> int: ...
    def chance(self, percent: int) -> bool: ...


class RandomChooser:
    """Decisions from a seeded ``random.Random`` (the long run: query i of seed N is reproducible)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class DataChooser:
    """Decisions drawn from hypothesis's ``st.data()``: each shrinks to the first option, the low bound, False."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, options: Sequence[T]) -> T:
        return options[self.data.draw(self.st.integers(0, len(options) - 1))]

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))

    def chance(self, percent: int) -> bool:
        return self.data.draw(self.st.integers(0, 99)) >= 100 - percent


# -- generated queries ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """SQL over ``{t1}``…; ``ordered`` when row order is part of the answer."""

    sql: str
    ordered: bool
    tables: frozenset[str]
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TlpQuery:
    """Ternary logic partitioning: rows of ``whole`` = rows of the three ``parts`` together."""

    whole: str
    parts: tuple[str, str, str]
    distinct: bool
    tables: frozenset[str]
    params: tuple[tuple[Any, ...], ...] = ((), (), (), ())  # of whole and of each part


@dataclass(frozen=True)
class NorecQuery:
    """``SELECT count(*) … WHERE p`` (optimizable) and ``SELECT sum(CASE WHEN p …)`` (not)."""

    counted: str
    summed: str
    tables: frozenset[str]
    params: tuple[tuple[Any, ...], tuple[Any, ...]] = ((), ())


@dataclass
class Rel:
    alias: str
    columns: dict[str, str]


@dataclass
class Scope:
    rels: list[Rel]
    outer: list[Rel] = field(default_factory=list)  # for correlated subqueries

    def columns(self, families: Sequence[str], outer: bool = False) -> list[tuple[str, str]]:
        rels = self.outer if outer else self.rels
        return [(f"{r.alias}.{c}", fam) for r in rels for c, fam in r.columns.items() if fam in families]


@dataclass
class E:
    sql: str
    family: str


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Generator:
    """One query's worth of decisions; ``tables`` collects the placeholders used."""

    def __init__(self, chooser: Chooser) -> None:
        self.c = chooser
        self.tables: set[str] = set()
        self.aliases = 0
        self.values: dict[str, Any] = {}  # parameter marker -> Python value
        self.params_ok = True

    # -- names -----------------------------------------------------------------------------------
    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"

    def table(self) -> tuple[str, Rel]:
        name = self.c.choice(TABLES)
        self.tables.add(name)
        alias = self.alias()
        return f"{{{name}}} {alias}", Rel(alias, dict(COLUMNS))

    # -- literals --------------------------------------------------------------------------------
    def literal(self, family: str) -> E:
        if family == "int":
            return E(str(self.c.integer(-3, 9)), "int")
        if family == "dec":
            return E(self.c.choice(DEC_LITERALS), "dec")
        if family == "float":
            return E(self.c.choice(FLOAT_LITERALS), "float")
        if family == "text":
            return E(_quote(self.c.choice(TEXT_LITERALS)), "text")
        if family == "date":
            return E(f"DATE '{self.c.choice(DATE_LITERALS)}'", "date")
        return E(f"TIMESTAMP '{self.c.choice(TS_LITERALS)}'", "ts")

    def value(self, family: str) -> E:
        """A literal, or now and then a ``?`` bind parameter with the same value (a marker until :meth:`bind`)."""
        literal = self.literal(family)
        if not self.params_ok or literal.sql in SPECIAL_FLOATS or not self.c.chance(20):
            return literal
        text = literal.sql
        python = {
            "int": lambda: int(text), "dec": lambda: Decimal(text), "float": lambda: float(text),
            "text": lambda: text[1:-1].replace("''", "'"),
            "date": lambda: dt.date.fromisoformat(text[6:-1]),
            "ts": lambda: dt.datetime.fromisoformat(text[11:-1]),
        }[family]()
        marker = f"<<p{len(self.values)}>>"
        self.values[marker] = python
        return E(marker, family)

    def bind(self, sql: str) -> tuple[str, tuple[Any, ...]]:
        """Markers replaced by ``?``; the values in the order the markers appear (a repeated one twice)."""
        found = [self.values[m] for m in re.findall(r"<<p\d+>>", sql)]
        return re.sub(r"<<p\d+>>", "?", sql), tuple(found)

    # -- scalar expressions ----------------------------------------------------------------------
    def expr(self, scope: Scope, family: str, depth: int) -> E:
        columns = scope.columns([family])
        kind = self.c.choice(["column", "column", "literal", "compound"] if columns else ["literal", "compound"])
        if kind == "column":
            return E(self.c.choice(columns)[0], family)
        if kind == "literal" or depth <= 0:
            return self.literal(family) if not columns or kind == "literal" else E(self.c.choice(columns)[0], family)
        return getattr(self, f"_{family}_compound")(scope, depth - 1)

    def operand(self, scope: Scope, family: str, depth: int) -> E:
        """An expression usually not a literal (so both sides of a comparison are rarely constant)."""
        columns = scope.columns([family])
        if columns and self.c.chance(70):
            return E(self.c.choice(columns)[0], family)
        return self.expr(scope, family, depth)

    def _common(self, scope: Scope, family: str, depth: int) -> E | None:
        kind = self.c.choice(["none", "coalesce", "case"])
        if kind == "coalesce":
            return E(f"coalesce({self.expr(scope, family, depth).sql}, {self.literal(family).sql})", family)
        if kind == "case":
            condition = self.predicate(scope, depth, subqueries=False)
            return E(f"CASE WHEN {condition} THEN {self.expr(scope, family, depth).sql} "
                     f"ELSE {self.expr(scope, family, depth).sql} END", family)
        return None

    def _int_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "int", depth)
        if common:
            return common
        a = self.expr(scope, "int", depth)
        kind = self.c.choice(["+", "-", "*", "abs", "neg", "%", "length", "year", "cast_dec"])
        if kind in ("+", "-", "*"):
            return E(f"({a.sql} {kind} {self.expr(scope, 'int', depth).sql})", "int")
        if kind == "abs":
            return E(f"abs({a.sql})", "int")
        if kind == "neg":
            return E(f"(- {a.sql})", "int")
        if kind == "%":
            return E(f"({a.sql} % {self.c.choice(['2', '3', '-3', '5'])})", "int")
        if kind == "length":
            return E(f"length({self.expr(scope, 'text', depth).sql})", "int")
        if kind == "year":
            return E(f"year({self.expr(scope, self.c.choice(TEMPORAL), depth).sql})", "int")
        return E(f"CAST({self.expr(scope, 'dec', depth).sql} AS INTEGER)", "int")

    def _dec_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "dec", depth)
        if common:
            return common
        a = self.expr(scope, "dec", depth)
        kind = self.c.choice(["+", "-", "*int", "abs", "neg", "round"])
        if kind in ("+", "-"):
            other = self.expr(scope, self.c.choice(["dec", "int"]), depth)
            return E(f"({a.sql} {kind} {other.sql})", "dec")
        if kind == "*int":
            return E(f"({a.sql} * {self.expr(scope, 'int', depth).sql})", "dec")
        if kind == "abs":
            return E(f"abs({a.sql})", "dec")
        if kind == "neg":
            return E(f"(- {a.sql})", "dec")
        return E(f"round({a.sql}, 1)", "dec")

    def _float_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "float", depth)
        if common:
            return common
        a = self.expr(scope, "float", depth)
        kind = self.c.choice(["+", "-", "*", "abs", "/", "cast"])
        if kind in ("+", "-", "*"):
            other = self.expr(scope, self.c.choice(NUMBER), depth)
            return E(f"({a.sql} {kind} {other.sql})", "float")
        if kind == "abs":
            return E(f"abs({a.sql})", "float")
        if kind == "/":
            return E(f"({a.sql} / {self.c.choice(['2', '4.0', '-8'])})", "float")
        return E(f"CAST({self.expr(scope, self.c.choice(['int', 'dec']), depth).sql} AS DOUBLE)", "float")

    def _text_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "text", depth)
        if common:
            return common
        a = self.expr(scope, "text", depth)
        kind = self.c.choice(["lower", "upper", "||", "trim", "substring", "cast_int"])
        if kind in ("lower", "upper", "trim"):
            return E(f"{kind}({a.sql})", "text")
        if kind == "||":
            return E(f"({a.sql} || {self.expr(scope, 'text', depth).sql})", "text")
        if kind == "substring":
            return E(f"substring({a.sql}, {self.c.integer(1, 3)}, {self.c.integer(1, 3)})", "text")
        return E(f"CAST({self.expr(scope, 'int', depth).sql} AS VARCHAR)", "text")

    def _date_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "date", depth)
        if common:
            return common
        kind = self.c.choice(["cast_ts", "plus_days", "trunc"])
        if kind == "cast_ts":
            return E(f"CAST({self.expr(scope, 'ts', depth).sql} AS DATE)", "date")
        if kind == "plus_days":
            return E(f"({self.expr(scope, 'date', depth).sql} + {self.c.integer(-40, 40)})", "date")
        return E(f"CAST(date_trunc('month', {self.expr(scope, 'date', depth).sql}) AS DATE)", "date")

    def _ts_compound(self, scope: Scope, depth: int) -> E:
        common = self._common(scope, "ts", depth)
        if common:
            return common
        kind = self.c.choice(["interval", "date_interval", "cast_date", "trunc"])
        if kind == "interval":
            unit = self.c.choice(["HOUR", "DAY", "MINUTE", "MONTH"])
            sign = self.c.choice(["+", "-"])
            return E(f"({self.expr(scope, 'ts', depth).sql} {sign} INTERVAL {self.c.integer(1, 30)} {unit})", "ts")
        if kind == "date_interval":
            return E(f"({self.expr(scope, 'date', depth).sql} + INTERVAL {self.c.integer(1, 48)} HOUR)", "ts")
        if kind == "cast_date":
            return E(f"CAST({self.expr(scope, 'date', depth).sql} AS TIMESTAMP)", "ts")
        return E(f"date_trunc('day', {self.expr(scope, 'ts', depth).sql})", "ts")

    # -- predicates ------------------------------------------------------------------------------
    def comparable(self, family: str) -> str:
        """A family another operand may have when compared with ``family``."""
        if family in NUMBER:
            return self.c.choice([family, *NUMBER])
        if family in TEMPORAL:
            return self.c.choice([family, *TEMPORAL])
        return family

    def predicate(self, scope: Scope, depth: int, subqueries: bool = True) -> str:
        kinds = ["compare", "compare", "null", "in", "between", "like", "distinct", "isnan", "nan_term", "nan_term"]
        if depth > 0:
            kinds += ["and", "or", "not", "and", "or"]
        if subqueries and depth > 0:
            kinds += ["in_subquery", "exists", "scalar"]
        kind = self.c.choice(kinds)
        family = self.c.choice(FAMILIES)
        sub = max(depth - 1, 0)
        if kind == "compare":
            left = self.operand(scope, family, sub)
            saved, self.params_ok = self.params_ok, self.params_ok and not _constant(left.sql)  # ? needs a typed side
            right = self.expr(scope, self.comparable(family), sub) if self.c.chance(40) else self.value(self.comparable(family))
            op = self.c.choice(["=", "<", ">", "<>", "<=", ">="])
            self.params_ok = saved
            return f"{left.sql} {op} {right.sql}"
        if kind == "null":
            return f"{self.operand(scope, family, sub).sql} IS {self.c.choice(['', 'NOT '])}NULL"
        if kind == "isnan":
            return f"{self.c.choice(['', 'NOT '])}isnan({self.operand(scope, 'float', sub).sql})"
        if kind == "nan_term":
            return self.nan_term(self.operand(scope, "float", sub).sql)
        if kind == "distinct":
            left = self.operand(scope, family, sub)
            right = self.expr(scope, self.comparable(family), sub)
            return f"{left.sql} IS {self.c.choice(['', 'NOT '])}DISTINCT FROM {right.sql}"
        if kind == "in":
            left = self.operand(scope, family, sub)
            saved, self.params_ok = self.params_ok, self.params_ok and not _constant(left.sql)
            items = [self.value(self.comparable(family)).sql for _ in range(self.c.integer(1, 4))]
            self.params_ok = saved
            if self.c.chance(15):
                items.append("NULL")
            return f"{left.sql} {self.c.choice(['', 'NOT '])}IN ({', '.join(items)})"
        if kind == "between":
            family = self.c.choice(["int", "dec", "float", "date", "ts", "text"])
            left = self.operand(scope, family, sub)
            saved, self.params_ok = self.params_ok, self.params_ok and not _constant(left.sql)
            low, high = self.value(family).sql, self.value(self.comparable(family)).sql
            self.params_ok = saved
            return f"{left.sql} {self.c.choice(['', 'NOT '])}BETWEEN {low} AND {high}"
        if kind == "like":
            left = self.operand(scope, "text", sub)
            operator = self.c.choice(["LIKE", "NOT LIKE", "LIKE", "ILIKE"])
            pattern = self.c.choice(LIKE_PATTERNS)
            escape = " ESCAPE '\\'" if "\\" in pattern and self.c.chance(50) else ""
            return f"{left.sql} {operator} {_quote(pattern)}{escape}"
        if kind in ("and", "or"):
            return f"({self.predicate(scope, sub, subqueries)} {kind.upper()} {self.predicate(scope, sub, subqueries)})"
        if kind == "not":
            return f"NOT ({self.predicate(scope, sub, subqueries)})"
        if kind == "in_subquery":
            return self.in_subquery(scope, family)
        if kind == "exists":
            return self.exists(scope)
        return self.scalar_compare(scope)

    # -- subqueries ------------------------------------------------------------------------------
    def _inner(self, scope: Scope) -> tuple[str, Scope]:
        text, rel = self.table()
        return text, Scope([rel], outer=scope.rels)

    def correlation(self, inner: Scope) -> str:
        """``inner.x = outer.y`` over a matching family."""
        family = self.c.choice(["int", "text", "date"])
        mine = inner.columns([family])
        theirs = inner.columns([family], outer=True)
        if not mine or not theirs:
            return "TRUE"
        return f"{self.c.choice(mine)[0]} = {self.c.choice(theirs)[0]}"

    def in_subquery(self, scope: Scope, family: str) -> str:
        left = self.operand(scope, family, 0)
        source, inner = self._inner(scope)
        selected = self.operand(inner, family, 0)
        where = f" WHERE {self.predicate(inner, 1, subqueries=False)}" if self.c.chance(60) else ""
        return f"{left.sql} {self.c.choice(['', 'NOT '])}IN (SELECT {selected.sql} FROM {source}{where})"

    def exists(self, scope: Scope) -> str:
        source, inner = self._inner(scope)
        terms = [self.correlation(inner)] if self.c.chance(75) else []
        if self.c.chance(60):
            terms.append(self.predicate(inner, 1, subqueries=False))
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        return f"{self.c.choice(['', 'NOT '])}EXISTS (SELECT 1 FROM {source}{where})"

    def scalar(self, scope: Scope) -> E:
        """One-row subquery: an aggregate without GROUP BY, correlated or not."""
        source, inner = self._inner(scope)
        aggregate = self.aggregate(inner, comparable_only=True)
        terms = [self.correlation(inner)] if self.c.chance(60) else []
        if self.c.chance(40):
            terms.append(self.predicate(inner, 1, subqueries=False))
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        return E(f"(SELECT {aggregate.sql} FROM {source}{where})", aggregate.family)

    def scalar_compare(self, scope: Scope) -> str:
        value = self.scalar(scope)
        left = self.operand(scope, self.comparable(value.family), 0)
        return f"{left.sql} {self.c.choice(['=', '<', '>', '<>', '<=', '>='])} {value.sql}"

    # -- aggregates ------------------------------------------------------------------------------
    def aggregate(self, scope: Scope, comparable_only: bool = False) -> E:
        """An aggregate; with ``comparable_only`` none whose value depends on summation order."""
        kind = self.c.choice(["count_star", "count", "sum", "min", "max", "count_distinct", "avg"])
        if kind == "count_star":
            return E("count(*)", "int")
        if kind in ("count", "count_distinct"):
            family = self.c.choice(FAMILIES)
            distinct = "DISTINCT " if kind == "count_distinct" else ""
            return E(f"count({distinct}{self.expr(scope, family, 1).sql})", "int")
        if kind in ("min", "max"):
            family = self.c.choice(FAMILIES)
            return E(f"{kind}({self.expr(scope, family, 1).sql})", family)
        families = ["int", "dec"] if comparable_only else ["int", "dec", "float"]
        if kind == "avg" and comparable_only:
            return E(f"sum({self.expr(scope, self.c.choice(families), 1).sql})", "dec")
        family = self.c.choice(families)
        argument = self.expr(scope, family, 1).sql
        if kind == "avg":
            return E(f"avg({argument})", "float")
        return E(f"sum({argument})", "dec" if family == "dec" else family)

    # -- FROM ------------------------------------------------------------------------------------
    def from_clause(self, depth: int = 1) -> tuple[str, Scope]:
        first, rel = self.relation(depth)
        scope = Scope([rel])
        parts = [first]
        for _ in range(self.c.choice([0, 1, 1, 2])):
            text, other = self.relation(depth)
            kind = self.c.choice(["JOIN", "LEFT JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
            common = {f for _, f in scope.columns(FAMILIES)} & set(other.columns.values())
            preferred = [f for f in ("int", "int", "text", "date", "dec", "ts") if f in common]
            if preferred:
                family = self.c.choice(preferred)
                mine, theirs = scope.columns([family]), Scope([other]).columns([family])
                terms = [f"{self.c.choice(mine)[0]} = {self.c.choice(theirs)[0]}"]
            else:
                terms = ["TRUE"]
            if self.c.chance(30):
                side = self.c.choice([Scope([other]), Scope([*scope.rels, other])])
                terms.append(self.predicate(side, 1, subqueries=False))
            parts.append(f"{kind} {text} ON {' AND '.join(terms)}")
            scope.rels.append(other)
        return " ".join(parts), scope

    def relation(self, depth: int) -> tuple[str, Rel]:
        if depth <= 0 or not self.c.chance(20):
            return self.table()
        kind = self.c.choice(["aggregate", "projection", "top"])
        source, rel = self.table()
        inner = Scope([rel])
        where = f" WHERE {self.predicate(inner, 1, subqueries=False)}" if self.c.chance(50) else ""
        alias = self.alias()
        if kind == "aggregate":
            key = self.c.choice(["k", "g", "t", "d"])
            aggregates = [self.aggregate(inner, comparable_only=True) for _ in range(self.c.integer(1, 2))]
            columns = {"key": COLUMNS[key]} | {f"v{i}": a.family for i, a in enumerate(aggregates)}
            items = ", ".join([f"{rel.alias}.{key} AS key"] + [f"{a.sql} AS v{i}" for i, a in enumerate(aggregates)])
            return (f"(SELECT {items} FROM {source}{where} GROUP BY {rel.alias}.{key}) {alias}",
                    Rel(alias, columns))
        names = ["id"] + [c for c in COLUMNS if c != "id" and self.c.chance(40)]
        items = ", ".join(f"{rel.alias}.{c} AS {c}" for c in names)
        limit = ""
        if kind == "top":
            direction = self.c.choice(["", " DESC"])
            limit = f" ORDER BY {rel.alias}.id{direction} LIMIT {self.c.integer(0, 12)}"
        return f"(SELECT {items} FROM {source}{where}{limit}) {alias}", Rel(alias, {c: COLUMNS[c] for c in names})

    # -- whole queries ---------------------------------------------------------------------------
    def select_items(self, scope: Scope, count: int) -> list[E]:
        items = []
        for _ in range(count):
            if self.c.chance(10):
                items.append(self.scalar(scope))
            else:
                items.append(self.expr(scope, self.c.choice(FAMILIES), 1))
        return items

    def order_limit(self, items: list[E], ordering_safe: bool) -> tuple[str, bool]:
        """ORDER BY every output column (a total order over distinct rows), maybe with LIMIT/OFFSET."""
        if not self.c.chance(35):
            return "", False
        keys = list(range(1, len(items) + 1))
        order = ", ".join(f"{k}{self.c.choice(['', ' DESC'])}{self.c.choice(['', ' NULLS FIRST', ' NULLS LAST'])}"
                          for k in keys)
        limit = ""
        if ordering_safe and self.c.chance(70):
            limit = f" LIMIT {self.c.integer(0, 15)}"
            if self.c.chance(30):
                limit += f" OFFSET {self.c.integer(1, 10)}"
        return f" ORDER BY {order}{limit}", True

    def plain_select(self) -> tuple[str, list[E], bool]:
        source, scope = self.from_clause()
        items = self.select_items(scope, self.c.integer(1, 4))
        distinct = "DISTINCT " if self.c.chance(20) else ""
        where = f" WHERE {self.predicate(scope, 2)}" if self.c.chance(70) else ""
        columns = ", ".join(f"{e.sql} AS c{i}" for i, e in enumerate(items))
        return f"SELECT {distinct}{columns} FROM {source}{where}", items, True

    def aggregate_select(self) -> tuple[str, list[E], bool]:
        source, scope = self.from_clause()
        self.params_ok = False  # a key's text is repeated in GROUP BY: one parameter would become two
        keys = [self.expr(scope, self.c.choice(["int", "text", "date", "dec"]), 1) for _ in range(self.c.integer(0, 2))]
        keys = [k for k in keys if not re.fullmatch(r"-?\d+", k.sql)]  # GROUP BY 3 would be a position
        self.params_ok = True
        aggregates = [self.aggregate(scope) for _ in range(self.c.integer(1, 3))]
        where = f" WHERE {self.predicate(scope, 2)}" if self.c.chance(50) else ""
        group = f" GROUP BY {', '.join(k.sql for k in keys)}" if keys else ""
        having = ""
        if self.c.chance(35):
            value = self.aggregate(scope, comparable_only=True)
            op = self.c.choice(["=", "<", ">", "<>", "<=", ">="])
            having = f" HAVING {value.sql} {op} {self.value(self.comparable(value.family)).sql}"
        items = keys + aggregates
        columns = ", ".join(f"{e.sql} AS c{i}" for i, e in enumerate(items))
        ordering_safe = all(not _order_dependent(e) for e in items)
        return f"SELECT {columns} FROM {source}{where}{group}{having}", items, ordering_safe

    def set_operation(self) -> tuple[str, list[E], bool]:
        families = [self.c.choice(FAMILIES) for _ in range(self.c.integer(1, 2))]
        sides = []
        for _ in range(2):
            source, scope = self.from_clause(depth=0)
            items = [self.operand(scope, family, 1) for family in families]
            where = f" WHERE {self.predicate(scope, 1)}" if self.c.chance(60) else ""
            sides.append(f"SELECT {', '.join(f'{e.sql} AS c{i}' for i, e in enumerate(items))} FROM {source}{where}")
        operator = self.c.choice(["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"])
        return f"{sides[0]} {operator} {sides[1]}", [E("", f) for f in families], True

    def nan_term(self, column: str) -> str:
        """A predicate on a double that NaN rows may satisfy or not: isnan, NaN/±inf comparisons, IN and
        BETWEEN with NaN, IS [NOT] DISTINCT FROM, NOT (…)."""
        special = self.c.choice(sorted(SPECIAL_FLOATS) + FLOAT_LITERALS[:4])
        number = self.c.choice(FLOAT_LITERALS[:6])
        op = self.c.choice(["=", "<", ">", "<>", "<=", ">="])
        return self.c.choice([
            f"isnan({column})", f"NOT isnan({column})", f"{column} {op} {special}", f"{special} {op} {column}",
            f"{column} {self.c.choice(['', 'NOT '])}IN ({number}, CAST('NaN' AS DOUBLE))",
            f"{column} {self.c.choice(['', 'NOT '])}BETWEEN {number} AND {special}",
            f"{column} IS {self.c.choice(['', 'NOT '])}DISTINCT FROM {special}", f"NOT ({column} {op} {number})",
        ])

    def nan_select(self) -> tuple[str, list[E], bool]:
        """One table and a predicate on its double ``f`` that NaN rows may satisfy or not (isnan, NaN/±inf
        comparisons, IN and BETWEEN with NaN, IS [NOT] DISTINCT FROM, NOT …), then rows, MIN/MAX or
        (through :meth:`order_limit`) a Top-N led by ``f``: the shapes DuckDB's and pyarrow's Parquet
        row-group statistics got wrong (issue 14)."""
        source, rel = self.table()
        scope = Scope([rel])
        column = f"{rel.alias}.f"
        term = self.nan_term(column)
        if self.c.chance(30):
            term = f"({term} {self.c.choice(['AND', 'OR'])} {self.predicate(scope, 0, subqueries=False)})"
        if self.c.chance(30):
            items = [E(f"max({column})", "float"), E(f"min({column})", "float"), E("count(*)", "int")]
        else:
            items = [E(column, "float"), E(f"{rel.alias}.id", "int")]
        columns = ", ".join(f"{e.sql} AS c{i}" for i, e in enumerate(items))
        return f"SELECT {columns} FROM {source} WHERE {term}", items, True

    def query(self) -> Query:
        shape = self.c.choice(["plain", "aggregate", "set", "plain", "aggregate", "nan", "nan"])
        sql, items, ordering_safe = {"plain": self.plain_select, "aggregate": self.aggregate_select,
                                     "set": self.set_operation, "nan": self.nan_select}[shape]()
        suffix, ordered = self.order_limit(items, ordering_safe)
        sql, params = self.bind(sql + suffix)
        return Query(sql, ordered, frozenset(self.tables), params)

    def tlp(self) -> TlpQuery:
        source, scope = self.from_clause()
        items = self.select_items(scope, self.c.integer(1, 4))
        distinct = self.c.chance(20)
        columns = ", ".join(f"{e.sql} AS c{i}" for i, e in enumerate(items))
        base = self.predicate(scope, 1) if self.c.chance(30) else None
        p = self.predicate(scope, 2)
        head = f"SELECT {'DISTINCT ' if distinct else ''}{columns} FROM {source}"
        whole = f"{head} WHERE {base}" if base else head
        prefix = f"{head} WHERE {f'({base}) AND ' if base else ''}"
        parts = [self.bind(q) for q in (whole, f"{prefix}({p})", f"{prefix}NOT ({p})", f"{prefix}({p}) IS NULL")]
        return TlpQuery(parts[0][0], tuple(q for q, _ in parts[1:]), distinct, frozenset(self.tables),
                        tuple(v for _, v in parts))

    def norec(self) -> NorecQuery:
        source, scope = self.from_clause()
        p = self.predicate(scope, 2)
        counted = self.bind(f"SELECT count(*) FROM {source} WHERE {p}")
        summed = self.bind(f"SELECT sum(CASE WHEN {p} THEN 1 ELSE 0 END) FROM {source}")
        return NorecQuery(counted[0], summed[0], frozenset(self.tables), (counted[1], summed[1]))


def _constant(sql: str) -> bool:
    """A literal (DuckDB cannot type a ? compared with one)."""
    return re.match(r"^(-?\d|'|DATE '|TIMESTAMP ')", sql) is not None


def _order_dependent(item: E) -> bool:
    """True for outputs whose last bits depend on summation order (sums and averages of doubles)."""
    text = item.sql
    return item.family == "float" and ("sum(" in text or "avg(" in text)


def placement(chooser: Chooser, kinds: Sequence[str]) -> dict[str, str]:
    """One source kind per table; a third of the time one kind for all, so joins and subqueries get pushed whole."""
    if chooser.chance(33):
        kind = chooser.choice(kinds)
        return {table: kind for table in TABLES}
    return {table: chooser.choice(kinds) for table in TABLES}
