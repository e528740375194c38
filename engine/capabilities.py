"""What each SQL dialect may be sent, as data, and the checker that applies it.

An expression is pushable to a dialect only if every node in it is on that dialect's allowlist
and passes the typed rules from ``docs/PUSHDOWN_HAZARDS.md``: text ranges and sorts only with
code-point collation, no naive-vs-zoned time comparisons, no division or modulo, no LIKE where the
source's LIKE differs, no date logic where the source stores dates as text. Anything not listed is
computed by DuckDB. :func:`why_not_pushable` returns the first reason, for EXPLAIN.

Functions (issue 15 item 4) are pushed only with the guard that makes the source's answer DuckDB's,
each proven by tests/test_function_pushdown.py over NULLs, spaces and tabs, non-ASCII text, halves,
month and year ends: SUBSTRING with a positive literal start and a non-negative literal length, TRIM
of spaces, NULLIF (typed like a comparison), ROUND of a DECIMAL to a literal number of places,
EXTRACT/year()/month()/day() of a naive DATE or TIMESTAMP. UPPER/LOWER, ILIKE, ROUND of a float and
anything on zoned timestamps stay local (docs/PUSHDOWN_HAZARDS.md, hazard 16 and the function table).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from fedq.engine.literal_lists import literal_list
from fedq.sources.readonly_functions import READ_ONLY_FUNCTIONS

T = exp.DataType.Type
TEXT_TYPES = {T.VARCHAR, T.TEXT, T.CHAR, T.NVARCHAR, T.NCHAR}
TEMPORAL_TYPES = {T.DATE, T.TIMESTAMP, T.TIMESTAMPNTZ, T.TIMESTAMPTZ, T.DATETIME, T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMP_NS}
ZONED_TYPES = {T.TIMESTAMPTZ, T.TIMESTAMPLTZ}
NUMERIC_TYPES = set(exp.DataType.NUMERIC_TYPES)

# Nodes that carry no semantics of their own.
STRUCTURAL = (
    exp.Column, exp.Identifier, exp.Table, exp.TableAlias, exp.Alias, exp.Paren, exp.From,
    exp.Where, exp.Group, exp.Having, exp.Star, exp.Tuple, exp.Var, exp.DataType, exp.Ordered,
    exp.Order, exp.Limit, exp.Offset, exp.Subquery, exp.Distinct, exp.Literal, exp.Null,
    exp.Boolean, exp.Placeholder, exp.With, exp.CTE,
)
LOGIC = (exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Case, exp.If, exp.Coalesce)
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
RANGE_COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Neg)
AGGREGATES = (exp.Count, exp.Sum, exp.Min, exp.Max)
QUERY = (exp.Select, exp.Join, exp.Exists, exp.Union, exp.Intersect, exp.Except)
DATE_PARTS = (exp.Extract, exp.Year, exp.Month, exp.Day)  # year(d) renders as EXTRACT(YEAR FROM d) for PostgreSQL
# Parts whose value is the same integer at the source as in DuckDB. Not SECOND at PostgreSQL (it
# returns fractional seconds: 59.999999), not DOW/WEEK/EPOCH… anywhere (hazard 17).
DAY_PARTS = frozenset({"YEAR", "MONTH", "DAY"})
TIME_PARTS = frozenset({"HOUR", "MINUTE"})
NAIVE_TEMPORAL = {T.DATE, T.TIMESTAMP, T.TIMESTAMPNTZ, T.DATETIME}


@dataclass(frozen=True)
class DialectCapabilities:
    """One row of the capability table: what a dialect may run with DuckDB's semantics."""

    allowed: tuple[type[exp.Expression], ...]
    join_kinds: frozenset[str]  # "inner", "left", "right", "full", "cross"
    text_order_collation: str | None  # COLLATE added to text ranges, sorts, MIN/MAX; None = native code-point
    temporal_logic: bool  # dates and timestamps are real types (not text) at the source
    like_escape: str | None  # ESCAPE clause emitted with LIKE; None = LIKE not pushed
    interval_arithmetic: bool
    same_semantics: bool = False  # the source is DuckDB itself: only non-determinism is kept local
    parenthesized_set_operands: bool = True  # (SELECT … LIMIT n) UNION (SELECT …)
    intersect_except_all: bool = True  # INTERSECT ALL, EXCEPT ALL
    extract_second: bool = False  # EXTRACT(SECOND …) is an integer (MariaDB), not fractional (PostgreSQL)


CAPABILITIES: dict[str, DialectCapabilities] = {
    "postgres": DialectCapabilities(
        allowed=STRUCTURAL + LOGIC + COMPARISONS + ARITHMETIC + AGGREGATES + QUERY
        + (exp.DPipe, exp.Cast, exp.Interval, exp.Like, exp.Escape, exp.Abs, exp.Length)
        + (exp.Substring, exp.Trim, exp.Nullif, exp.Round) + DATE_PARTS,
        join_kinds=frozenset({"inner", "left", "right", "full", "cross"}),
        text_order_collation="C",
        temporal_logic=True,
        like_escape="",
        interval_arithmetic=True,
    ),
    "sqlite": DialectCapabilities(
        allowed=STRUCTURAL + LOGIC + COMPARISONS + ARITHMETIC + AGGREGATES + QUERY + (exp.DPipe, exp.Abs, exp.Nullif),
        join_kinds=frozenset({"inner", "left", "cross"}),
        text_order_collation=None,
        temporal_logic=False,
        like_escape=None,
        interval_arithmetic=False,
        parenthesized_set_operands=False,
        intersect_except_all=False,
    ),
    "mysql": DialectCapabilities(
        # Text columns with a case-insensitive or PAD SPACE collation are kept out of pushed units by
        # the source (unsafe_columns); binary-collated text compares like DuckDB.
        allowed=STRUCTURAL + LOGIC + COMPARISONS + ARITHMETIC + AGGREGATES + QUERY
        + (exp.Abs, exp.Substring, exp.Nullif, exp.Round) + DATE_PARTS,
        join_kinds=frozenset({"inner", "left", "right", "cross"}),
        text_order_collation=None,
        temporal_logic=True,
        like_escape=None,
        interval_arithmetic=False,
        extract_second=True,
    ),
    "duckdb": DialectCapabilities(
        allowed=(exp.Expression,),
        join_kinds=frozenset({"inner", "left", "right", "full", "cross", "semi", "anti"}),
        text_order_collation=None,
        temporal_logic=True,
        like_escape=None,
        interval_arithmetic=True,
        same_semantics=True,
    ),
}

# Never pushed anywhere: each evaluation may differ (hazard 10).
NON_DETERMINISTIC = (exp.Rand, exp.Randn, exp.Uuid, exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime,
                     exp.CurrentDatetime)

# The same by the name DuckDB calls (read-only, so on the allowlist, but each evaluation may differ).
NON_DETERMINISTIC_NAMES = frozenset({
    "random", "gen_random_uuid", "uuid", "uuidv4", "uuidv7", "now", "today", "current_date", "current_time",
    "current_timestamp", "current_localtime", "current_localtimestamp", "get_current_time", "get_current_timestamp",
    "transaction_timestamp", "localtime", "localtimestamp",
})


def _type(node: exp.Expression) -> exp.DataType.Type:
    return node.type.this if node.type else T.UNKNOWN


def _family_of(node: exp.Expression | None) -> str:
    """Type family of an operand; a bind parameter takes the family of what it is compared with; a
    COALESCE, NULLIF or CASE the family its branches share ("other" if they differ)."""
    if node is None or isinstance(node, (exp.Placeholder, exp.Null)):
        return "null"
    values = literal_list(node)
    if values is not None:
        return values.kind
    if isinstance(node, SELECTORS) and _type(node) == T.UNKNOWN:
        families = {_family_of(branch) for branch in _branches(node)} - {"null"}
        return families.pop() if len(families) == 1 else "other" if families else "null"
    return _family(_type(node))


# Expressions whose value is one of their operands (sqlglot leaves their type UNKNOWN).
SELECTORS = (exp.Coalesce, exp.Nullif, exp.Case, exp.If)


def _branches(node: exp.Expression) -> list[exp.Expression]:
    """The operands a selector's value comes from: every COALESCE argument, NULLIF's first, each
    THEN and the ELSE of a CASE."""
    if isinstance(node, exp.Coalesce):
        return [node.this, *node.expressions]
    if isinstance(node, exp.Nullif):
        return [node.this]
    if isinstance(node, exp.Case):
        return [branch.args.get("true") for branch in node.args.get("ifs") or []] + [node.args.get("default")]
    return [node.args.get("true"), node.args.get("false")]


def type_family(kind: exp.DataType.Type) -> str:
    """text, number, bool, time (naive), zoned, null or other."""
    return _family(kind)


def _family(kind: exp.DataType.Type) -> str:
    if kind in TEXT_TYPES:
        return "text"
    if kind in TEMPORAL_TYPES:
        return "zoned" if kind in ZONED_TYPES else "time"
    if kind == T.BOOLEAN:
        return "bool"
    if kind == T.NULL:
        return "null"
    if kind in NUMERIC_TYPES:
        return "number"
    return "other"


def _comparison_problem(node: exp.Expression, caps: DialectCapabilities) -> str | None:
    """Typed rules for comparisons: both sides of one family, no naive-vs-zoned, temporal support."""
    operands = [node.this] + ([node.expression] if node.args.get("expression") else [])
    if isinstance(node, exp.Between):
        operands += [node.args["low"], node.args["high"]]
    if isinstance(node, exp.In):
        operands += list(node.expressions)
    families = {_family_of(o) for o in operands} - {"null"}
    if "other" in families:
        return f"operand of unknown type in {node.sql('duckdb')}"
    if families == {"time", "zoned"}:
        return "comparison between a naive timestamp and a zoned value (hazard 9)"
    if len(families) > 1:
        return f"comparison across types {sorted(families)}"
    if families & {"time", "zoned"} and not caps.temporal_logic:
        return "dates are stored as text at this source"
    return None


def why_not_pushable(expression: exp.Expression, dialect: str) -> str | None:
    """None if ``expression`` may be sent to ``dialect`` unchanged in meaning, else the reason."""
    caps = CAPABILITIES[dialect]
    if caps.same_semantics:
        for node in expression.walk():
            if isinstance(node, NON_DETERMINISTIC):
                return f"{node.sql('duckdb')} is not deterministic (hazard 10)"
            if isinstance(node, exp.Func):
                problem = _function_problem(node, dialect)
                if problem:
                    return problem
        return None
    for node in expression.walk():
        if not isinstance(node, caps.allowed) and literal_list(node) is None:
            return f"{type(node).__name__} is not on the {dialect} allowlist"
        if isinstance(node, exp.SetOperation) and not caps.parenthesized_set_operands and any(
            isinstance(side, exp.Subquery) for side in (node.this, node.expression)
        ):
            return f"{dialect} has no parenthesized set-operation operands"
        if isinstance(node, (exp.Intersect, exp.Except)) and not node.args.get("distinct") \
                and not caps.intersect_except_all:
            return f"{dialect} has no INTERSECT ALL / EXCEPT ALL"
        if isinstance(node, exp.Group) and any(_constant_key(key) for key in node.expressions):
            return "a constant GROUP BY key (PostgreSQL refuses one that is not a column position)"
        if isinstance(node, exp.Join):
            kind = (node.side or node.kind or "inner").lower()
            if kind not in caps.join_kinds or node.args.get("using") or node.args.get("method"):
                return f"{kind} join is not on the {dialect} allowlist"
        if isinstance(node, (*COMPARISONS, exp.Between, exp.In)) and not (
            isinstance(node, exp.In) and node.args.get("query")
        ):
            problem = _comparison_problem(node, caps)
            if problem:
                return problem
        if isinstance(node, ARITHMETIC):
            kinds = {_family_of(o) for o in (node.this, node.args.get("expression")) if o is not None}
            if not caps.temporal_logic and any(_type(part) == T.DECIMAL for o in node.iter_expressions()
                                               for part in o.walk()):  # COALESCE(dec, 0) * 2 too
                return "decimal arithmetic: this source stores decimals as binary floats"
            if kinds & {"time", "zoned"} and not caps.interval_arithmetic:
                return "date arithmetic is not pushed to this source"
            if kinds - {"number", "time", "zoned", "null", "other"}:
                return f"arithmetic on {sorted(kinds)}"
            if "other" in kinds and not isinstance(node.args.get("expression"), exp.Interval):
                return "arithmetic on an untyped operand"
        if isinstance(node, (exp.Min, exp.Max)) and _family_of(node.this) not in ("number", "text", "time", "zoned"):
            return f"{type(node).__name__.upper()} over {_family_of(node.this)} is not pushed"
        if isinstance(node, (*COMPARISONS, exp.Between, exp.In)) and any(
            _type(o) == T.FLOAT for o in node.iter_expressions()
        ):
            return "comparison on a 32-bit float: sources compare in double precision, DuckDB in float"
        if isinstance(node, exp.DPipe) and any(_family_of(o) not in ("text", "null") for o in (node.this, node.expression)):
            return "|| on a non-text operand converts it to text differently at the source"
        if isinstance(node, exp.Cast) and not _literal_cast_ok(node):
            return f"cast {node.sql('duckdb')} is not pushed"
        if isinstance(node, exp.Interval) and not (caps.interval_arithmetic and isinstance(node.this, exp.Literal)):
            return "interval is not pushed"
        if isinstance(node, exp.Like):
            if caps.like_escape is None:
                return f"LIKE differs at {dialect} (hazard 15)"
            if _family(_type(node.this)) != "text":
                return "LIKE on a non-text operand"
        if isinstance(node, exp.Column) and _family_of(node) == "other":
            return f"column {node.sql('duckdb')} has a type fedq does not push"
        if isinstance(node, FUNCTION_RULES):
            problem = _function_rule(node, caps)
            if problem:
                return problem
    return None


FUNCTION_RULES = (exp.Substring, exp.Trim, exp.Nullif, exp.Coalesce, exp.Round, *DATE_PARTS)


def _function_rule(node: exp.Expression, caps: DialectCapabilities) -> str | None:
    """The typed guard of each pushed function (module docstring; tests/test_function_pushdown.py)."""
    if isinstance(node, exp.Substring):
        length = node.args.get("length")
        if node.args.get("zero_start") or _family_of(node.this) != "text":
            return "SUBSTRING of a non-text operand"
        if not _int_literal(node.args.get("start"), 1) or (length is not None and not _int_literal(length, 0)):
            return "SUBSTRING is pushed only with a positive literal start and a non-negative literal length " \
                   "(start <= 0 and negative lengths differ from DuckDB's)"
        return None
    if isinstance(node, exp.Trim):
        chars = node.args.get("expression")
        if node.args.get("collation") or _family_of(node.this) != "text" or (
                chars is not None and not (isinstance(chars, exp.Literal) and chars.is_string and chars.this == " ")):
            return "TRIM is pushed only for spaces from text"
        return None
    if isinstance(node, exp.Nullif):
        return _comparison_problem(node, caps)  # NULLIF(a, b) compares a = b
    if isinstance(node, exp.Coalesce):
        families = {_family_of(o) for o in [node.this, *node.expressions]} - {"null", "other"}
        return f"COALESCE across types {sorted(families)}" if len(families) > 1 else None
    if isinstance(node, exp.Round):
        if _type(node.this) != T.DECIMAL:
            return "ROUND of a non-DECIMAL (floats round half to even at PostgreSQL, half away from zero in DuckDB)"
        places = node.args.get("decimals")
        if node.args.get("truncate") or node.args.get("casts_non_integer_decimals") or (
                places is not None and not _int_literal(places, -38, 38)):
            return "ROUND is pushed only to a literal number of places"
        return None
    if isinstance(node, DATE_PARTS):
        operand = node.expression if isinstance(node, exp.Extract) else node.this
        if isinstance(node, exp.Extract):
            part = node.this.name.upper() if isinstance(node.this, exp.Var) else ""
        else:
            part = type(node).__name__.upper()
        kind = _type(operand)
        if kind not in NAIVE_TEMPORAL:
            return "a date part of a zoned or non-temporal value is not pushed (the local session's time zone decides it)"
        parts = DAY_PARTS if kind == T.DATE else DAY_PARTS | TIME_PARTS | ({"SECOND"} if caps.extract_second else set())
        if part not in parts:
            return f"date part {part or node.this.sql('duckdb')} of {kind.value} is not pushed (hazard 17)"
    return None


def _int_literal(node: exp.Expression | None, low: int, high: int | None = None) -> bool:
    """An integer literal (or a negated one) within [low, high]."""
    sign = 1
    if isinstance(node, exp.Neg):
        node, sign = node.this, -1
    if not (isinstance(node, exp.Literal) and node.is_int):
        return False
    value = sign * int(node.this)
    return value >= low and (high is None or value <= high)


def _function_problem(node: exp.Func, dialect: str) -> str | None:
    """A source with DuckDB's own semantics still gets only read-only functions from the allowlist
    (sources/readonly_functions.py): no txid_current(), current_setting(), getenv(), file readers…"""
    from fedq.engine.passthrough import call_name

    try:
        name = call_name(node, dialect)
    except ValueError as error:
        return f"{error} is not on the {dialect} function allowlist"
    if isinstance(node.parent, exp.Dot) or (name is not None and name not in READ_ONLY_FUNCTIONS[dialect]):
        return f"{node.sql(dialect)[:60]}: function {name}() is not on the {dialect} function allowlist"
    if name in NON_DETERMINISTIC_NAMES:
        return f"{name}() is not deterministic (hazard 10)"
    return None


def _constant_key(key: exp.Expression) -> bool:
    """A GROUP BY key that is a constant but not a column position: 'x', 2.5, -50.00, (1.5), NULL, TRUE."""
    while isinstance(key, (exp.Paren, exp.Neg)):
        key = key.this
    return isinstance(key, (exp.Literal, exp.Boolean, exp.Null)) and not (
        isinstance(key, exp.Literal) and key.is_int and isinstance(key.parent, exp.Group))


def _literal_cast_ok(node: exp.Cast) -> bool:
    """Only typed literals (DATE '…', TIMESTAMP '…', numbers) are cast remotely."""
    target = node.to.this
    return isinstance(node.this, exp.Literal) and (target in TEMPORAL_TYPES or target in NUMERIC_TYPES)


def needs_code_point_collation(node: exp.Expression) -> bool:
    """True for text-typed expressions whose order matters (ranges, sorts, MIN/MAX)."""
    return _family(_type(node)) == "text" or (isinstance(node, SELECTORS) and _family_of(node) == "text")
