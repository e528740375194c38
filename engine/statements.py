"""From SQL text to something to run: parameters, parsing with carets, and statement dispatch.

Only reads run. EXPLAIN [ANALYZE], ATTACH/DETACH, CREATE/DROP VIEW and REFRESH are handled by fedq
itself (they change fedq's catalog, never a source); every statement that would write anywhere is
refused before any source is contacted.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from fedq.errors import NotSupportedError, ProgrammingError, caret_message
from fedq.engine import literal_lists
from fedq.engine.set_chains import balance_union_chains
from fedq.sources import source_class
from fedq.sources.settings import from_sql_text

QUERY_TYPES = (exp.Select, exp.SetOperation)
TOO_DEEP = "the statement nests too deeply (parentheses, subqueries or operators about 40 levels deep); simplify it"
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to Command" notes are ours to handle


@dataclass
class Statement:
    kind: str  # "query", "explain", "explain_analyze", "attach", "detach", "show_sources", "show_tables",
    # "show_views", "describe", "analyze", "create_view", "drop_view", "refresh", "copy"
    tree: exp.Expression
    params: dict[str, Any]


def _tokens(sql: str):
    try:
        return sqlglot.tokenize(sql, read="duckdb")
    except TokenError as error:
        raise ProgrammingError(f"cannot read SQL: {error}") from None


_TOKEN_REPR = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+.*?>")
_EXPLAIN = re.compile(r"EXPLAIN\b((?:\s|--[^\n]*|/\*.*?\*/)+ANALYZE\b)?", re.IGNORECASE | re.DOTALL)
_REFRESH = re.compile(r"REFRESH\b", re.IGNORECASE)
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)


def _text_start(sql: str) -> int:
    """The offset of the first character that is neither whitespace nor part of a ``--`` or
    (nested) ``/* */`` comment: fedq's own statements are recognised from there."""
    index, length = 0, len(sql)
    while index < length:
        if sql[index].isspace():
            index += 1
        elif sql.startswith("--", index):
            end = sql.find("\n", index)
            index = length if end < 0 else end + 1
        elif sql.startswith("/*", index):
            depth, index = 1, index + 2
            while index < length and depth:
                if sql.startswith("/*", index):
                    depth, index = depth + 1, index + 2
                elif sql.startswith("*/", index):
                    depth, index = depth - 1, index + 2
                else:
                    index += 1
        else:
            break
    return index


def _blank(text: str) -> str:
    """Spaces for ``text``, keeping its line breaks (so positions after it stay where they were)."""
    return re.sub(r"[^\n]", " ", text)


def _explain_prefix(sql: str) -> tuple[str, str]:
    """Blank out a leading ``EXPLAIN [ANALYZE]`` and the comments before it (keeping positions);
    return (kind, sql)."""
    match = _EXPLAIN.match(sql, _text_start(sql))
    if not match:
        return "query", sql
    kind = "explain_analyze" if match.group(1) else "explain"
    return kind, _blank(sql[:match.end()]) + sql[match.end():]


def _refresh_target(sql: str) -> str | None:
    """The source named by ``REFRESH [source]`` ('' for every source), or None if ``sql`` is not a
    REFRESH. sqlglot reads ``REFRESH pg`` as a column with an alias, so the tokens are read here."""
    if not _REFRESH.match(sql, _text_start(sql)):
        return None
    tokens = _tokens(sql)
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    if len(tokens) == 1:
        return ""
    if len(tokens) == 2 and (tokens[1].token_type in _NAME_TOKENS or tokens[1].text.isidentifier()):
        return tokens[1].text
    return None


def _words(text: str) -> list[str]:
    """The upper-cased tokens of ``text``, comments and ``;`` left out."""
    return [t.text.upper() for t in _tokens(text) if t.token_type != TokenType.SEMICOLON]


@dataclass(frozen=True)
class _Marker:
    """A parameter marker in the SQL text: ``?``, the ``?`` of ``?::`` (one QDCOLON token to sqlglot),
    or ``$N`` (PARAMETER then NUMBER to sqlglot)."""

    text: str
    start: int
    end: int  # inclusive
    token_type: TokenType = TokenType.PLACEHOLDER


def _markers(tokens: list) -> list[_Marker]:
    marks = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.token_type == TokenType.PLACEHOLDER:
            marks.append(_Marker(token.text, token.start, token.end))
        elif token.token_type == TokenType.QDCOLON and token.text == "?::":
            marks.append(_Marker("?", token.start, token.end, TokenType.QDCOLON))
        elif (token.token_type == TokenType.PARAMETER and token.text == "$" and following is not None
              and following.token_type == TokenType.NUMBER and following.start == token.end + 1
              and following.text.isdigit()):
            marks.append(_Marker(f"${following.text}", token.start, following.end))
    return marks


def _number_placeholders(sql: str, params: Sequence[Any] | dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """Rewrite ``?`` (qmark) markers to ``$pN`` and pair them with their values."""
    marks = _markers(_tokens(sql)) if "?" in sql or "$" in sql else []  # no marker without them: no second tokenizing
    if params is None:
        params = ()
    if isinstance(params, dict):
        raise ProgrammingError("fedq uses qmark parameters (?): pass a sequence of values, not a dict")
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise ProgrammingError(f"parameters must be a sequence (list or tuple), not {type(params).__name__}")
    if len(marks) != len(params) and not (marks and all(m.text != "?" for m in marks)):
        raise ProgrammingError(f"the statement has {len(marks)} parameter marker(s) but {len(params)} value(s) were given")
    values = {f"p{i + 1}": v for i, v in enumerate(params)}
    pieces, cursor, ordinal = [], 0, 0
    for mark in marks:
        if mark.text == "?":
            ordinal += 1
            name = f"p{ordinal}"
        else:
            name = f"p{mark.text.lstrip('$')}"
            if name not in values:
                raise ProgrammingError(f"parameter {mark.text} has no value ({len(params)} given)")
        pieces += [sql[cursor:mark.start], f"${name} "]  # a space: "$p1,$p2" would read as a $-quoted string
        cursor = mark.end + 1
        if mark.token_type == TokenType.QDCOLON:
            pieces.append("::")
    pieces.append(sql[cursor:])
    return "".join(pieces), values


def parse_sql(sql: str, shown: str | None = None) -> exp.Expression:
    """Parse exactly one statement in DuckDB's dialect; syntax errors point at the spot in ``shown``
    (the text as the user wrote it, when ``sql`` is a same-length rewrite of it). Long literal IN
    lists are parsed as one node each (engine/literal_lists.py), errors come from the whole text, and
    long UNION chains are balanced (engine/set_chains.py)."""
    collapsed = literal_lists.collapse(sql)
    if collapsed is not None:
        try:
            tree = _parse_one(collapsed.text, collapsed.text)
        except ProgrammingError:
            tree = None
        if tree is not None and literal_lists.restore(tree, collapsed):
            return balance_union_chains(tree)
    return balance_union_chains(_parse_one(sql, shown))


def _parse_one(sql: str, shown: str | None) -> exp.Expression:
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None and not isinstance(t, exp.Semicolon)]
    except TokenError as error:
        raise ProgrammingError(f"syntax error: {error}") from None
    except RecursionError:
        raise ProgrammingError(TOO_DEEP) from None
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        description = _TOKEN_REPR.sub(r"'\1'", str(first.get("description", error)))
        line, column = _token_start(sql, first.get("line", 1), first.get("col", 1), first.get("highlight") or "")
        raise ProgrammingError(caret_message(shown or sql, line, column, f"syntax error: {description}")) from None
    if not trees:
        raise ProgrammingError("empty statement")
    if len(trees) > 1:
        raise ProgrammingError("one statement at a time, please (found several separated by ';')")
    return trees[0]


def _token_start(sql: str, line: int, column: int, highlight: str) -> tuple[int, int]:
    """Where the token sqlglot reports at ``line``/``column`` (its last character) starts, so the
    caret sits under its first character (``GROUPBY`` under the ``G``)."""
    lines = sql.split("\n")
    if not highlight or not 1 <= line <= len(lines):
        return line, column
    end = sum(len(text) + 1 for text in lines[:line - 1]) + column  # one past the token's last character
    start = end - len(highlight)
    if start < 0 or sql[start:end] != highlight:
        return line, column
    before = sql[:start]
    return before.count("\n") + 1, start - (before.rfind("\n") + 1) + 1


def prepare(sql: str, params: Sequence[Any] | None = None) -> Statement:
    """Parse ``sql`` with its parameters into a :class:`Statement`, refusing anything that writes."""
    if not isinstance(sql, str):
        raise ProgrammingError(f"SQL must be a string, not {type(sql).__name__}")
    refresh = _refresh_target(sql)
    if refresh is not None:
        return Statement("refresh", exp.Identifier(this=refresh), {})  # an empty name: every source
    kind, body = _explain_prefix(sql)
    try:
        tree: exp.Expression | None = parse_sql(body, shown=sql)  # errors carry positions in the text the user wrote
        syntax_error = None
    except ProgrammingError as error:
        tree, syntax_error = None, error  # '?::INT' parses only once its marker is numbered
    try:
        numbered, values = _number_placeholders(body, params)
        if tree is None or values or numbered != body:
            # the trailing space: sqlglot's tokenizer fails on a text ending in '' when it holds a
            # $ parameter ("SELECT $p1, ''"), which the numbering itself introduces
            tree = parse_sql(numbered + " ")
    except ProgrammingError:
        if syntax_error is not None:
            raise syntax_error from None
        raise
    if isinstance(tree, QUERY_TYPES):
        return Statement(kind, tree, values)
    if kind != "query":
        raise ProgrammingError("EXPLAIN takes a query (SELECT, WITH, UNION …)")
    if isinstance(tree, exp.Show) and str(tree.this).upper() == "TABLES":
        return Statement("show_tables", tree, values)
    if isinstance(tree, exp.Command) and str(tree.this).upper() == "SHOW" and _words(str(tree.expression)) == ["SOURCES"]:
        return Statement("show_sources", tree, values)
    if isinstance(tree, exp.Command) and str(tree.this).upper() == "SHOW" and _words(str(tree.expression)) == ["VIEWS"]:
        return Statement("show_views", tree, values)
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "VIEW":
        return Statement("create_view", tree, values)
    if isinstance(tree, exp.Drop) and str(tree.args.get("kind")).upper() == "VIEW":
        return Statement("drop_view", tree, values)
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Table):
        return Statement("describe", tree, values)
    if isinstance(tree, exp.Analyze) and tree.args.get("tables"):
        return Statement("analyze", tree, values)
    if isinstance(tree, exp.Copy):
        return Statement("copy", tree, values)  # COPY (query) TO 'file': engine/export.py
    if isinstance(tree, exp.Attach):
        return Statement("attach", tree, values)
    if isinstance(tree, exp.Detach):
        return Statement("detach", tree, values)
    verb = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
    raise NotSupportedError(
        f"fedq only reads: {verb} statements are not run (sources are read-only; use SELECT, EXPLAIN, SHOW, DESCRIBE, ANALYZE, REFRESH, ATTACH, DETACH or CREATE/DROP VIEW)"
    )


def attach_arguments(tree: exp.Attach) -> tuple[str, str, dict[str, Any]]:
    """(name, type, options) from ``ATTACH 'target' AS name (TYPE t, KEY value, ...)``."""
    target = tree.this
    if not isinstance(target, exp.Alias) or not isinstance(target.this, exp.Literal):
        raise ProgrammingError("ATTACH needs a target and a name: ATTACH 'postgresql://…' AS pg (TYPE postgres)")
    location, name = target.this.name, target.alias
    options: dict[str, Any] = {}
    type_name = None
    for option in tree.expressions:
        key = option.this.name.lower() if option.this else ""
        value = _option_value(option.expression)
        if key == "type":
            type_name = str(value).lower()
        elif key == "read_write" or (key == "read_only" and option.expression is not None
                                     and option.expression.sql().lower() in ("false", "0", "'false'", "off")):
            raise NotSupportedError(f"ATTACH '{location}' AS {name}: fedq sources are read-only; a write mode "
                                    "(READ_WRITE, READ_ONLY false) is not accepted")
        elif key in ("read_only",):
            continue  # every fedq source is read-only
        else:
            options[key] = value
    if type_name is None:
        if location.startswith(("postgres://", "postgresql://")):
            type_name = "postgres"
        elif location.endswith((".sqlite", ".sqlite3", ".db")):
            type_name = "sqlite"
        elif location.endswith(".duckdb"):
            type_name = "duckdb"
        else:
            raise ProgrammingError(f"ATTACH '{name}': add (TYPE postgres|sqlite|files)")
    key = {"postgres": "dsn", "postgresql": "dsn", "sqlite": "path", "duckdb": "path", "files": "url"}.get(type_name, "dsn")
    options[key] = location
    return name, type_name, from_sql_text(source_class(type_name), options)  # '4' for a count, 'on' for a boolean


def _option_value(value: exp.Expression | None) -> Any:
    """An ATTACH option's value as Python: a bare option is true, true/false a bool, a number a
    number, anything else (a 'text' or a bare word) its text."""
    if value is None:
        return True
    if isinstance(value, exp.Boolean):
        return value.this
    if isinstance(value, exp.Literal) and not value.is_string:
        for number in (int, float):
            try:
                return number(value.this)
            except ValueError:
                continue
    return value.name


def point_at(error: Exception, sql: str) -> str:
    """``error``'s text, with the place DuckDB's binder marked (engine/binder.py ``BindError.target``)
    found in ``sql``, the statement as the user wrote it, and shown there with a caret; the text
    alone when it is not such an error or the place is not in ``sql``."""
    target = getattr(error, "target", None)
    offset = _find_tokens(sql, target) if target and isinstance(sql, str) else None
    if offset is None:
        return str(error)
    before = sql[:offset]
    return caret_message(sql, before.count("\n") + 1, offset - before.rfind("\n"), str(error))  # 1-based column


def _find_tokens(sql: str, target: str) -> int | None:
    """The offset in ``sql`` of the first run of tokens that reads like ``target`` (case and
    quoting aside; a 'text' never matches a name), else of the first name like its last one."""
    def words(text: str) -> list[tuple[bool, str]]:
        return [(t.token_type == TokenType.STRING, t.text.casefold()) for t in sqlglot.tokenize(text, read="duckdb")]

    try:
        tokens = sqlglot.tokenize(_explain_prefix(sql)[1], read="duckdb")  # EXPLAIN reads as one COMMAND token
        wanted = words(target)
    except (TokenError, ParseError):
        return None
    found = [(t.token_type == TokenType.STRING, t.text.casefold()) for t in tokens]
    for want in (wanted, wanted[-1:] if wanted and wanted[-1][1] != ")" else []):
        for index in range(len(found) - len(want) + 1 if want else 0):
            if found[index:index + len(want)] == want:
                return tokens[index].start
    return None
