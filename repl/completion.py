"""Context-aware completion for the REPL, in the manner of pgcli.

:func:`suggest` is pure — buffer, cursor and a :class:`Metadata` snapshot in, ranked suggestions
out — so it is tested without a terminal. It reads the buffer with its own forgiving scanner
rather than sqlglot's tokenizer: while someone types, the buffer is half-written almost all the
time, and an unterminated quote or comment must still give tokens with positions, not an error.

Metadata comes from the sources, which may be slow or down, so :class:`MetadataRefresher` loads it
in a background thread and swaps the finished snapshot in; completion never waits for a source.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from fedq.repl.commands import COMMANDS, PSET_OPTIONS
from fedq.repl.output import EXPANDED, FORMATS

V = TypeVar("V")


# -- what completion knows ------------------------------------------------------------------
def _lookup(mapping: Mapping[str, V], key: str) -> V | None:
    """``mapping[key]``, else a case-insensitive match: fedq resolves names case-insensitively."""
    if key in mapping:
        return mapping[key]
    folded = key.lower()
    return next((value for name, value in mapping.items() if name.lower() == folded), None)


@dataclass(frozen=True)
class Metadata:
    """What completion knows: source -> schema -> table -> column names; plus each source's default schema."""

    tables: dict[str, dict[str, dict[str, list[str]]]]
    default_schemas: dict[str, str]
    source_types: dict[str, str] = field(default_factory=dict)  # shown next to source names

    @classmethod
    def empty(cls) -> "Metadata":
        return cls({}, {})

    def schemas(self, source: str) -> dict[str, dict[str, list[str]]]:
        return _lookup(self.tables, source) or {}

    def default_schema(self, source: str) -> str:
        return _lookup(self.default_schemas, source) or "main"

    def table_names(self, source: str, schema: str | None = None) -> list[str]:
        """Tables of one schema of ``source`` (its default schema when ``schema`` is None)."""
        return list(_lookup(self.schemas(source), schema or self.default_schema(source)) or {})

    def columns(self, parts: Sequence[str]) -> list[str] | None:
        """Columns of ``source.table`` or ``source.schema.table``; None when unknown."""
        if len(parts) not in (2, 3):
            return None
        schema = parts[1] if len(parts) == 3 else self.default_schema(parts[0])
        tables = _lookup(self.schemas(parts[0]), schema) or {}
        return _lookup(tables, parts[-1])


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "keyword" | "source" | "schema" | "table" | "column" | "function" | "meta"
    text: str  # what to insert
    display_meta: str = ""  # e.g. the source type or the column's table


# -- scanning -------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z))
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    | (?P<word>[^\W\d]\w*|\$\w*)
    | (?P<punct>::|<>|!=|<=|>=|\|\||.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSED = {"string": re.compile(r"'(?:[^']|'')*'", re.DOTALL), "quoted": re.compile(r'"(?:[^"]|"")*"', re.DOTALL)}


@dataclass(frozen=True)
class Token:
    kind: str  # "space" | "comment" | "string" | "quoted" | "number" | "word" | "punct"
    text: str
    start: int
    closed: bool = True  # False when a cursor right after the token is still inside it

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def value(self) -> str:
        """The name as SQL means it: a quoted identifier without its quotes."""
        if self.kind == "quoted":
            inner = self.text[1:-1] if self.closed else self.text[1:]
            return inner.replace('""', '"')
        return self.text

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def _is_closed(kind: str, text: str) -> bool:
    if kind in _CLOSED:
        return _CLOSED[kind].fullmatch(text) is not None
    if kind == "comment":
        return text.startswith("/*") and len(text) >= 4 and text.endswith("*/")
    return True


def scan(text: str) -> list[Token]:
    """Every character of ``text`` in some token; never raises (the last pattern takes any character)."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None and match.lastgroup is not None
        tokens.append(Token(match.lastgroup, match.group(), position, _is_closed(match.lastgroup, match.group())))
        position = match.end()
    return tokens


def _significant(tokens: Iterable[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("space", "comment")]


# -- vocabulary -----------------------------------------------------------------------------
STATEMENT_KEYWORDS = ("SELECT", "WITH", "EXPLAIN", "EXPLAIN ANALYZE", "ATTACH", "DETACH")
FUNCTIONS = (
    "count", "sum", "avg", "min", "max", "coalesce", "nullif", "lower", "upper", "length", "trim",
    "substring", "replace", "concat", "round", "abs", "date_trunc", "date_part", "strftime", "now",
    "current_date", "string_agg", "greatest", "least", "row_number", "rank",
)
TYPES = ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMPTZ")
# DuckDB's reserved words (duckdb_keywords() where keyword_category = 'reserved'): a name spelled
# like one must be quoted, and such a word is never a table alias.
RESERVED = frozenset("""
    ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN CONSTRAINT
    CREATE DEFAULT DEFERRABLE DESC DESCRIBE DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM
    GROUP HAVING IN INITIALLY INTERSECT INTO LAMBDA LATERAL LEADING LIMIT NOT NULL OFFSET ON ONLY OR
    ORDER PIVOT PIVOT_LONGER PIVOT_WIDER PLACING PRIMARY QUALIFY REFERENCES RETURNING SELECT SHOW SOME
    SUMMARIZE SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE UNPIVOT USING VARIADIC WHEN WHERE
    WINDOW WITH
""".split())
NOT_ALIAS = RESERVED | {"JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "NATURAL", "SEMI",
                        "ANTI", "ASOF", "POSITIONAL", "SAMPLE", "TABLESAMPLE"}
# Keywords that start a clause; the nearest one before the cursor says what may come next.
CLAUSES = frozenset({"SELECT", "FROM", "JOIN", "WHERE", "ON", "BY", "HAVING", "QUALIFY", "USING", "LIMIT",
                     "OFFSET", "WITH", "EXPLAIN", "ATTACH", "DETACH", "UNION", "INTERSECT", "EXCEPT", "VALUES"})
# What may follow the last few words, whatever the clause; longer patterns first.
NEXT_WORDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("EXPLAIN", "ANALYZE"), ("SELECT", "WITH")),
    (("EXPLAIN",), ("ANALYZE", "SELECT", "WITH")),
    (("UNION", "ALL"), ("SELECT",)),
    (("UNION",), ("ALL", "SELECT")),
    (("INTERSECT",), ("SELECT",)),
    (("GROUP",), ("BY",)),
    (("ORDER",), ("BY",)),
    (("PARTITION",), ("BY",)),
    (("IS", "NOT"), ("NULL", "DISTINCT FROM")),
    (("IS",), ("NULL", "NOT NULL", "DISTINCT FROM")),
    (("NULLS",), ("FIRST", "LAST")),
    (("LEFT",), ("JOIN", "OUTER JOIN")),
    (("RIGHT",), ("JOIN", "OUTER JOIN")),
    (("FULL",), ("JOIN", "OUTER JOIN")),
    (("INNER",), ("JOIN",)),
    (("CROSS",), ("JOIN",)),
    (("NATURAL",), ("JOIN",)),
    (("OUTER",), ("JOIN",)),
)
AFTER_TABLE = ("AS", "WHERE", "JOIN", "LEFT JOIN", "INNER JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN",
               "GROUP BY", "ORDER BY", "LIMIT", "UNION ALL")
CONDITION = ("AND", "OR", "IS NULL", "IS NOT NULL", "IN", "NOT IN", "LIKE", "ILIKE", "BETWEEN")
# Per clause: keywords that may follow a finished expression there.
AFTER_EXPRESSION: dict[str, tuple[str, ...]] = {
    "SELECT": ("FROM", "AS"),
    "WHERE": CONDITION + ("GROUP BY", "ORDER BY", "LIMIT"),
    "ON": CONDITION + ("WHERE", "JOIN", "LEFT JOIN", "GROUP BY", "ORDER BY"),
    "HAVING": CONDITION + ("ORDER BY", "LIMIT"),
    "QUALIFY": CONDITION + ("ORDER BY", "LIMIT"),
    "GROUP BY": ("HAVING", "ORDER BY", "LIMIT"),
    "ORDER BY": ("ASC", "DESC", "NULLS FIRST", "NULLS LAST", "LIMIT"),
    "PARTITION BY": ("ORDER BY",),
    "(": CONDITION + ("AS",),
    "LIMIT": ("OFFSET",),
}
# Per clause: keywords that may start an expression there.
EXPRESSION_START: dict[str, tuple[str, ...]] = {
    "SELECT": ("DISTINCT", "CASE", "CAST", "NOT", "NULL", "INTERVAL"),
    "(": ("SELECT", "CASE", "CAST", "NOT", "NULL", "DISTINCT"),
}
DEFAULT_EXPRESSION_START = ("CASE", "CAST", "NOT", "EXISTS", "NULL", "TRUE", "FALSE", "INTERVAL")
COLUMN_CLAUSES = frozenset({"SELECT", "WHERE", "ON", "HAVING", "QUALIFY", "GROUP BY", "ORDER BY", "PARTITION BY", "("})
# Words after which an expression is complete (so the next word is more likely a keyword).
ENDS_EXPRESSION = frozenset({"NULL", "TRUE", "FALSE", "END", "ASC", "DESC", "FIRST", "LAST"})
KEYWORD_WORDS = RESERVED | NOT_ALIAS | {
    word for group in (STATEMENT_KEYWORDS, AFTER_TABLE, CONDITION, DEFAULT_EXPRESSION_START, *AFTER_EXPRESSION.values())
    for phrase in group for word in phrase.split()
} | {word for _, after in NEXT_WORDS for phrase in after for word in phrase.split()} | {"BY", "PARTITION", "NULLS"}
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def quote(name: str) -> str:
    """``name`` as it must be typed: DuckDB folds case, so only odd characters and reserved words need quotes."""
    if _SIMPLE_NAME.fullmatch(name) and name.upper() not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def _keywords(words: Iterable[str]) -> list[Suggestion]:
    return [Suggestion("keyword", word, "keyword") for word in words]


def _functions() -> list[Suggestion]:
    return [Suggestion("function", name, "function") for name in FUNCTIONS]


def _sources(metadata: Metadata) -> list[Suggestion]:
    return [Suggestion("source", quote(name), metadata.source_types.get(name, "source")) for name in metadata.tables]


def _qualified_table_names(metadata: Metadata) -> list[Suggestion]:
    """``source.table`` for default-schema tables, ``source.schema.table`` for the others."""
    names = []
    for source, schemas in metadata.tables.items():
        default = metadata.default_schema(source)
        for schema, tables in schemas.items():
            prefix = [source] if schema == default else [source, schema]
            names += [Suggestion("table", ".".join(quote(p) for p in prefix + [t]), "table") for t in tables]
    return names


# -- the statement's tables -----------------------------------------------------------------
@dataclass(frozen=True)
class TableRef:
    """A table named in FROM or JOIN: its name parts (unquoted) and alias; a subquery has no parts."""

    parts: tuple[str, ...]
    alias: str | None = None

    @property
    def name(self) -> str:
        return ".".join(self.parts) or "subquery"


def _is_name(token: Token) -> bool:
    return token.kind == "quoted" or (token.kind == "word" and token.text.upper() not in RESERVED)


def _at(tokens: Sequence[Token], index: int, text: str) -> bool:
    return index < len(tokens) and tokens[index].text == text


def _skip_parens(tokens: Sequence[Token], index: int) -> int:
    """Index after the parenthesis that closes the one at ``index`` (or the end of the tokens)."""
    depth = 0
    for position in range(index, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[position].text, 0)
        if depth == 0:
            return position + 1
    return len(tokens)


def _read_dotted(tokens: Sequence[Token], index: int) -> tuple[list[str], int]:
    parts: list[str] = []
    while index < len(tokens) and _is_name(tokens[index]):
        parts.append(tokens[index].value)
        index += 1
        if not _at(tokens, index, "."):
            break
        index += 1
    return parts, index


def _read_alias(tokens: Sequence[Token], index: int) -> tuple[str | None, int]:
    if index < len(tokens) and tokens[index].is_keyword("AS"):
        index += 1
    token = tokens[index] if index < len(tokens) else None
    if token and (token.kind == "quoted" or (token.kind == "word" and token.text.upper() not in NOT_ALIAS)):
        return token.value, index + 1
    return None, index


def _read_refs(tokens: Sequence[Token], index: int, many: bool) -> list[TableRef]:
    """Tables after FROM (a comma list when ``many``) or JOIN, each with its alias."""
    refs: list[TableRef] = []
    while True:
        if _at(tokens, index, "("):
            parts, index = [], _skip_parens(tokens, index)  # a subquery: only its alias matters here
        else:
            parts, index = _read_dotted(tokens, index)
            if not parts or _at(tokens, index, "("):
                return refs  # nothing yet, or a table function
        alias, index = _read_alias(tokens, index)
        if parts or alias:
            refs.append(TableRef(tuple(parts), alias))
        if not (many and _at(tokens, index, ",")):
            return refs
        index += 1


def table_refs(tokens: Sequence[Token]) -> list[TableRef]:
    """Every table a statement names after FROM or JOIN, subqueries included, in order."""
    refs: list[TableRef] = []
    for index, token in enumerate(tokens):
        if token.is_keyword("FROM", "JOIN"):
            refs += _read_refs(tokens, index + 1, many=token.is_keyword("FROM"))
    return refs


def cte_names(tokens: Sequence[Token]) -> list[str]:
    """Names defined by ``WITH name AS (`` and ``, name AS (``."""
    return [
        tokens[i].value for i in range(1, len(tokens) - 2)
        if (tokens[i - 1].is_keyword("WITH", "RECURSIVE") or tokens[i - 1].text == ",")
        and _is_name(tokens[i]) and tokens[i + 1].is_keyword("AS") and tokens[i + 2].text == "("
    ]


@dataclass(frozen=True)
class Scope:
    """The tables of the statement around the cursor, read from all of it (also after the cursor)."""

    refs: tuple[TableRef, ...]
    ctes: tuple[str, ...]

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> "Scope":
        return cls(tuple(table_refs(tokens)), tuple(cte_names(tokens)))

    def columns(self, metadata: Metadata) -> list[Suggestion]:
        return [
            Suggestion("column", quote(column), ref.name)
            for ref in self.refs for column in metadata.columns(ref.parts) or []
        ]

    def qualifiers(self) -> list[Suggestion]:
        """Aliases, and the names of unaliased tables, for typing ``x.column``."""
        return [
            Suggestion("table", quote(ref.alias), f"alias of {ref.name}") if ref.alias
            else Suggestion("table", quote(ref.parts[-1]), ref.name)
            for ref in self.refs if ref.alias or ref.parts
        ]

    def ref_for(self, qualifiers: Sequence[str]) -> TableRef | None:
        """The table ``qualifiers`` point at: an alias first, else the trailing parts of a name."""
        wanted = [q.lower() for q in qualifiers]
        for ref in self.refs:
            if len(wanted) == 1 and ref.alias and ref.alias.lower() == wanted[0]:
                return ref
        for ref in self.refs:
            if len(ref.parts) >= len(wanted) and [p.lower() for p in ref.parts[-len(wanted):]] == wanted:
                return ref
        return None


# -- SQL context ----------------------------------------------------------------------------
def _blank_meta_lines(text: str) -> str:
    """Meta-command lines are not SQL; blanking keeps every other character at its offset."""
    return re.sub(r"(?m)^[ \t]*\\.*$", lambda m: " " * len(m.group()), text)


def _statement_start(tokens: Sequence[Token]) -> int:
    ends = [t.end for t in tokens if t.kind == "punct" and t.text == ";"]
    return ends[-1] if ends else 0


def _statement_tokens(tokens: Sequence[Token], start: int) -> list[Token]:
    """The significant tokens from ``start`` up to the next ``;``."""
    statement = []
    for token in _significant(tokens):
        if token.start < start:
            continue
        if token.kind == "punct" and token.text == ";":
            break
        statement.append(token)
    return statement


def _split_word(head: list[Token], cursor: int) -> tuple[str, list[str], list[Token]]:
    """The word being typed, the ``a.b.`` qualifiers written before it, and the tokens before those."""
    word_token = head[-1] if head and head[-1].end == cursor and head[-1].kind in ("word", "quoted") else None
    index = len(head) - 1 if word_token else len(head)
    qualifiers: list[str] = []
    edge = word_token.start if word_token else cursor
    while index >= 2 and head[index - 1].text == "." and head[index - 1].end == edge \
            and _is_name(head[index - 2]) and head[index - 2].end == head[index - 1].start:
        qualifiers.insert(0, head[index - 2].value)
        edge = head[index - 2].start
        index -= 2
    return (word_token.text if word_token else ""), qualifiers, head[:index]


def _clause(before: Sequence[Token]) -> tuple[str | None, int]:
    """The clause the cursor is in: the nearest clause keyword, or ``(`` if an open parenthesis comes first."""
    depth = 0
    for index in range(len(before) - 1, -1, -1):
        token = before[index]
        if token.text == ")":
            depth += 1
        elif token.text == "(":
            if depth == 0:
                return "(", index
            depth -= 1
        elif depth == 0 and token.kind == "word" and token.text.upper() in CLAUSES:
            name = token.text.upper()
            if name == "BY" and index > 0:
                name = f"{before[index - 1].text.upper()} BY"
            return name, index
    return None, -1


def _next_words(before: Sequence[Token]) -> tuple[str, ...] | None:
    """Keywords that must follow the last few words (``GROUP`` -> ``BY``), if such a rule applies."""
    for pattern, after in NEXT_WORDS:
        tail = before[-len(pattern):]
        if len(tail) == len(pattern) and all(t.kind == "word" and t.text.upper() == w for t, w in zip(tail, pattern)):
            return after
    return None


def _ends_expression(token: Token) -> bool:
    if token.kind in ("quoted", "number", "string") or token.text in (")", "*"):
        return True
    return token.kind == "word" and (token.text.upper() not in KEYWORD_WORDS or token.text.upper() in ENDS_EXPRESSION)


def _expects_table(before: Sequence[Token], clause: str | None) -> bool:
    previous = before[-1] if before else None
    return previous is not None and (previous.is_keyword("FROM", "JOIN") or (previous.text == "," and clause == "FROM"))


def _qualified_tables(qualifiers: Sequence[str], metadata: Metadata) -> list[Suggestion]:
    """After ``src.``: its default schema's tables and its schemas; after ``src.schema.``: that schema's tables."""
    if len(qualifiers) == 1:
        tables = [Suggestion("table", quote(t), "table") for t in metadata.table_names(qualifiers[0])]
        return tables + [Suggestion("schema", quote(s), "schema") for s in metadata.schemas(qualifiers[0])]
    if len(qualifiers) == 2:
        return [Suggestion("table", quote(t), "table") for t in metadata.table_names(*qualifiers)]
    return []


def _qualified_columns(qualifiers: Sequence[str], scope: Scope, metadata: Metadata) -> list[Suggestion]:
    ref = scope.ref_for(qualifiers)
    parts = ref.parts if ref else tuple(qualifiers)  # `src.table.` works without a FROM too
    return [Suggestion("column", quote(c), ".".join(parts)) for c in metadata.columns(parts) or []]


def _expression(clause: str, before: Sequence[Token], scope: Scope, metadata: Metadata) -> list[Suggestion]:
    """Columns in scope, qualifiers, functions and keywords — keywords first right after an expression."""
    names = scope.columns(metadata) + scope.qualifiers() + _functions()
    if _ends_expression(before[-1]):
        return _keywords(AFTER_EXPRESSION.get(clause, ())) + names
    return names + _keywords(EXPRESSION_START.get(clause, DEFAULT_EXPRESSION_START))


def _after_table(clause: str) -> list[Suggestion]:
    return _keywords((("ON", "USING") if clause == "JOIN" else ()) + AFTER_TABLE)


def _candidates(before: list[Token], qualifiers: list[str], scope: Scope, metadata: Metadata) -> list[Suggestion]:
    """What may come next, best first, before filtering by the word being typed."""
    if not before:
        return [] if qualifiers else _keywords(STATEMENT_KEYWORDS)
    clause, _ = _clause(before)
    if qualifiers:
        if _expects_table(before, clause):
            return _qualified_tables(qualifiers, metadata)
        return _qualified_columns(qualifiers, scope, metadata)
    if _expects_table(before, clause):
        return [Suggestion("table", quote(name), "CTE") for name in scope.ctes] + _sources(metadata)
    previous = before[-1]
    following = _next_words(before)
    if following:
        return _keywords(following)
    if previous.is_keyword("DETACH"):
        return _sources(metadata)
    if previous.is_keyword("AS"):
        return _keywords(TYPES) if clause == "(" else []
    if previous.text == "(" and len(before) > 1 and before[-2].is_keyword("FROM", "JOIN", "AS", "EXISTS"):
        return _keywords(("SELECT", "WITH"))
    if clause in ("FROM", "JOIN"):
        return _after_table(clause)
    if clause == "WITH":
        return _keywords(("SELECT",)) if previous.text == ")" else []
    if clause in COLUMN_CLAUSES:
        return _expression(clause, before, scope, metadata)
    if clause == "LIMIT" and _ends_expression(previous):
        return _keywords(AFTER_EXPRESSION["LIMIT"])
    return []


def _inside_literal(head: Sequence[Token], cursor: int) -> bool:
    """The cursor is in a string, a comment or a number: nothing to complete there."""
    last = head[-1] if head else None
    if last is None:
        return False
    return (not last.closed and last.kind != "quoted") or (last.end == cursor and last.kind in ("number", "string"))


def _suggest_sql(text: str, cursor: int, metadata: Metadata) -> tuple[str, list[Suggestion]]:
    sql = _blank_meta_lines(text)
    head = scan(sql[:cursor])
    if _inside_literal(head, cursor):
        return "", []
    start = _statement_start(head)
    word, qualifiers, before = _split_word(_statement_tokens(head, start), cursor)
    scope = Scope.of(_statement_tokens(_whole(sql, cursor, head), start))
    return word, _candidates(before, qualifiers, scope, metadata)


def _whole(sql: str, cursor: int, head: list[Token]) -> list[Token]:
    """Tokens of the whole buffer. A quoted name still open at the cursor would swallow the rest of
    the buffer (and the FROM clause in it), so then the text after the cursor is read on its own."""
    if head and head[-1].kind == "quoted" and not head[-1].closed:
        return head + scan(sql[cursor:])
    return scan(sql)


# -- meta commands --------------------------------------------------------------------------
def _meta_commands() -> list[Suggestion]:
    return [Suggestion("meta", name, help_text) for name, (_, _, help_text) in COMMANDS.items()]


def _argument_word(argument: str, cursor: int) -> str | None:
    """The single word typed as a meta command's argument, or None past it."""
    typed = argument[:cursor]
    return None if re.search(r"\s", typed) else typed


def _suggest_explain(argument: str, cursor: int, metadata: Metadata) -> tuple[str, list[Suggestion]]:
    """``\\explain [analyze] QUERY``: the query completes as SQL."""
    analyze = re.match(r"(?i)analyze\s+", argument)
    if analyze and cursor >= analyze.end():
        return _suggest_sql(argument[analyze.end():], cursor - analyze.end(), metadata)
    first = _argument_word(argument, cursor)
    if first is not None:
        return first, _keywords(("ANALYZE", "SELECT", "WITH"))
    return _suggest_sql(argument, cursor, metadata)


def _suggest_meta(line: str, cursor: int, metadata: Metadata) -> tuple[str, list[Suggestion]]:
    """A line starting with ``\\``: the command name, then an argument that depends on the command."""
    match = re.match(r"(\s*)(\S*)\s*", line)
    assert match is not None  # the pattern matches any string
    name_start, name_end = match.end(1), match.end(2)
    if cursor <= name_end:
        return line[name_start:cursor], _meta_commands()
    name, argument, at = match.group(2), line[match.end():], max(0, cursor - match.end())
    if name == "\\explain":
        return _suggest_explain(argument, at, metadata)
    word = _argument_word(argument, at)
    if word is None:
        return "", []
    choices: dict[str, Callable[[], list[Suggestion]]] = {
        "\\tables": lambda: _sources(metadata),
        "\\refresh": lambda: _sources(metadata),
        "\\d": lambda: _qualified_table_names(metadata),
        "\\format": lambda: [Suggestion("meta", f, "format") for f in FORMATS],
        "\\timing": lambda: [Suggestion("meta", v, "timing") for v in ("on", "off")],
        "\\x": lambda: [Suggestion("meta", v, "expanded") for v in EXPANDED],
        "\\pset": lambda: [Suggestion("meta", v, "option") for v in PSET_OPTIONS],
    }
    return word, choices[name]() if name in choices else []


# -- ranking --------------------------------------------------------------------------------
def _match_key(text: str) -> str:
    return text.replace('"', "").lower()


def _rank(candidates: Iterable[Suggestion], word: str) -> list[Suggestion]:
    """Prefix matches first, then (for names only) matches inside; each group keeps context order."""
    needle = _match_key(word)
    if word.startswith('"'):  # a quoted identifier is being typed: no keywords or functions
        candidates = [c for c in candidates if c.kind not in ("keyword", "function")]
    prefix: list[Suggestion] = []
    inside: list[Suggestion] = []
    seen: set[str] = set()
    for candidate in candidates:
        key = _match_key(candidate.text)
        if key in seen:
            continue
        seen.add(key)
        if key.startswith(needle):
            prefix.append(candidate)
        elif needle and needle in key and candidate.kind in ("source", "schema", "table", "column"):
            inside.append(candidate)
    return prefix + inside


def _styled(suggestion: Suggestion, word: str) -> Suggestion:
    """Keywords and functions follow the case the user types in (``sel`` -> ``select``)."""
    if suggestion.kind not in ("keyword", "function") or not any(c.isalpha() for c in word):
        return suggestion
    if word == word.lower():
        return Suggestion(suggestion.kind, suggestion.text.lower(), suggestion.display_meta)
    if word == word.upper():
        return Suggestion(suggestion.kind, suggestion.text.upper(), suggestion.display_meta)
    return suggestion


def suggest_with_word(text: str, cursor: int, metadata: Metadata) -> tuple[str, list[Suggestion]]:
    """Like :func:`suggest`, also returning the word before the cursor that a suggestion replaces."""
    cursor = max(0, min(cursor, len(text)))
    line_start = text.rfind("\n", 0, cursor) + 1
    line_end = text.find("\n", cursor)
    line = text[line_start:len(text) if line_end < 0 else line_end]
    if line.lstrip().startswith("\\"):
        word, candidates = _suggest_meta(line, cursor - line_start, metadata)
    else:
        word, candidates = _suggest_sql(text, cursor, metadata)
    return word, [_styled(s, word) for s in _rank(candidates, word)]


def suggest(text: str, cursor: int, metadata: Metadata) -> list[Suggestion]:
    """Pure: what may come at `cursor` in `text` (the whole buffer), filtered by the word being typed, best first."""
    return suggest_with_word(text, cursor, metadata)[1]


# -- prompt-toolkit ---------------------------------------------------------------------------
class FedqCompleter(Completer):
    """prompt-toolkit's side: asks :func:`suggest` about the buffer, with the latest metadata."""

    def __init__(self, get_metadata: Callable[[], Metadata]) -> None:
        self._get_metadata = get_metadata

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        try:
            word, suggestions = suggest_with_word(document.text, document.cursor_position, self._get_metadata())
        except Exception:  # a completion bug must never take the prompt down with it
            return
        for suggestion in suggestions:
            yield Completion(suggestion.text, start_position=-len(word), display_meta=suggestion.display_meta)


# -- loading metadata -------------------------------------------------------------------------
def _column_names(catalog: Any, source: Any, table: Any) -> list[str]:
    try:
        return list(catalog.schema(source, table).names)
    except Exception:  # one unreadable table keeps its name and loses only its columns
        return []


def load_source(catalog: Any, source: Any) -> dict[str, dict[str, list[str]]]:
    """schema -> table -> columns of one source; raises if the source cannot list its tables."""
    schemas: dict[str, dict[str, list[str]]] = {}
    for table in catalog.tables(source):
        schemas.setdefault(table.schema, {})[table.name] = _column_names(catalog, source, table)
    return schemas


def load_metadata(connection: Any, progress: Callable[[Metadata], None] | None = None) -> Metadata:
    """Metadata of every source that answers; ``progress`` sees the snapshot grow source by source."""
    tables: dict[str, dict[str, dict[str, list[str]]]] = {}
    defaults: dict[str, str] = {}
    types: dict[str, str] = {}
    for source in list(connection.catalog.sources.values()):
        try:
            tables[source.name] = load_source(connection.catalog, source)
        except Exception:  # an unreachable source is skipped; the others still complete
            continue
        defaults[source.name] = source.default_schema
        types[source.name] = source.type_name
        if progress:
            progress(Metadata(dict(tables), dict(defaults), dict(types)))
    if connection.catalog.views:  # views complete as views.NAME, like a source's tables
        tables["views"] = {"main": {v.name: [c for c, _ in v.columns] for v in connection.catalog.views.values()}}
        defaults["views"], types["views"] = "main", "views"
    return Metadata(tables, defaults, types)


class MetadataRefresher:
    """Loads Metadata from a fedq connection in a background thread and swaps it in (pgcli style)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._metadata = Metadata.empty()
        self._lock = threading.Lock()
        self._generation = 0
        self._done = threading.Event()
        self._done.set()

    def refresh(self) -> None:
        """Start loading in a daemon thread; a newer refresh supersedes one still running."""
        try:
            with self._lock:
                self._generation += 1
                generation = self._generation
                self._done.clear()
            threading.Thread(target=self._load, args=(generation,), name="fedq-metadata", daemon=True).start()
        except Exception:  # e.g. no thread available: completion just keeps the old metadata
            self._done.set()

    def _publish(self, generation: int, metadata: Metadata, done: bool = False) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._metadata = metadata
            if done:
                self._done.set()

    def _load(self, generation: int) -> None:
        try:
            metadata = load_metadata(self._connection, lambda partial: self._publish(generation, partial))
        except Exception:  # e.g. the source list changed under us: keep what was published
            metadata = self.current()
        self._publish(generation, metadata, done=True)

    def current(self) -> Metadata:
        return self._metadata

    def wait(self, timeout: float) -> bool:
        """True once the latest refresh has finished (for tests)."""
        return self._done.wait(timeout)
