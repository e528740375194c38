"""fedq's own statements (REFRESH, ANALYZE, SHOW …, DESCRIBE, ATTACH, DETACH, CREATE/DROP VIEW, EXPLAIN
[ANALYZE]) are recognised after ``--`` and ``/* */`` comments, in any case, with or without ``;``.

A comment before ``REFRESH pg;`` used to make sqlglot read it as ``REFRESH AS pg`` ("ALIAS statements
are not run") and ``/* c */ EXPLAIN SELECT 1`` as an EXPLAIN statement fedq refused (issue 14, item 5).
"""
from __future__ import annotations

import re
import sqlite3
from typing import Callable

import pytest

import fedq
from fedq.engine.statements import prepare

# statement -> the Statement.kind prepare() must give it
STATEMENTS = {
    "refresh-all": ("REFRESH", "refresh"),
    "refresh-one": ("REFRESH crm", "refresh"),
    "refresh-quoted": ('REFRESH "crm"', "refresh"),
    "analyze": ("ANALYZE crm.customers", "analyze"),
    "show-tables": ("SHOW TABLES", "show_tables"),
    "show-tables-from": ("SHOW TABLES FROM crm", "show_tables"),
    "show-sources": ("SHOW SOURCES", "show_sources"),
    "show-views": ("SHOW VIEWS", "show_views"),
    "describe": ("DESCRIBE crm.customers", "describe"),
    "attach": ("ATTACH '{path}' AS crm2 (TYPE sqlite)", "attach"),
    "detach": ("DETACH crm", "detach"),
    "create-view": ("CREATE VIEW v AS SELECT id FROM crm.customers", "create_view"),
    "create-or-replace-view": ("CREATE OR REPLACE VIEW v AS SELECT id FROM crm.customers", "create_view"),
    "create-temp-view": ("CREATE TEMP VIEW v AS SELECT id FROM crm.customers", "create_view"),
    "create-or-replace-temp-view": ("CREATE OR REPLACE TEMPORARY VIEW v AS SELECT id FROM crm.customers", "create_view"),
    "drop-view": ("DROP VIEW v", "drop_view"),
    "drop-view-if-exists": ("DROP VIEW IF EXISTS v", "drop_view"),
    "explain": ("EXPLAIN SELECT id FROM crm.customers", "explain"),
    "explain-analyze": ("EXPLAIN ANALYZE SELECT id FROM crm.customers", "explain_analyze"),
    "select": ("SELECT id FROM crm.customers", "query"),
}


def _before(text: str, comment: str) -> str:
    return comment + text


def _inside(text: str, comment: str) -> str:
    """The comment after the first word (``SHOW /* c */ TABLES``); one-word statements get it at the end."""
    first, _, rest = text.partition(" ")
    return f"{first} {comment} {rest}" if rest else f"{first} {comment}"


PLACEMENTS: dict[str, Callable[[str], str]] = {
    "none": lambda s: s,
    "dash-before": lambda s: _before(s, "-- c\n"),
    "block-before": lambda s: _before(s, "/* c */ "),
    "nested-block-before": lambda s: _before(s, "/* a /* b */ c */\n"),
    "several-before": lambda s: _before(s, "  -- one\n\n/* two\n three */\n-- four\n"),
    "dash-after": lambda s: s + " -- done",
    "block-after": lambda s: s + " /* done */",
    "block-inside": lambda s: _inside(s, "/* c */"),
    "dash-inside": lambda s: _inside(s, "-- c\n"),
}


def _recase(text: str, how: str) -> str:
    """``text`` in another case, except its '…' literals (a file path)."""
    def word(piece: str) -> str:
        if how == "lower":
            return piece.lower()
        if how == "mixed":
            return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(piece))
        return piece

    return "".join(p if p.startswith("'") else word(p) for p in re.split(r"('[^']*')", text))


CASES = ("upper", "lower", "mixed")
SEMICOLONS = {"no-semicolon": "", "semicolon": ";", "semicolon-then-comment": "; -- end"}


def variant(text: str, placement: str, case: str, semicolon: str) -> str:
    """The statement recased, with a comment placed and ended as asked (a trailing comment comes
    after the ``;``, as a user would write it)."""
    body, end = _recase(text, case), SEMICOLONS[semicolon]
    if placement.endswith("-after"):
        return PLACEMENTS[placement](body + end)
    return PLACEMENTS[placement](body) + end


@pytest.fixture
def crm_path(tmp_path):
    path = tmp_path / "crm.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "ann"), (2, "bob")])
    db.commit()
    db.close()
    return path


# -- every statement × placement × case × ';' is recognised as its kind ---------------------------------
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("statement", STATEMENTS)
def test_statement_kind_survives_comments_case_and_semicolons(statement, placement):
    """Each case × ending of the statement with the comment placed (all of them checked, then reported)."""
    text, kind = STATEMENTS[statement]
    wrong = {}
    for case in CASES:
        for semicolon in SEMICOLONS:
            sql = variant(text.format(path="/tmp/x.sqlite"), placement, case, semicolon)
            try:
                got = prepare(sql).kind
            except fedq.Error as error:
                got = f"{type(error).__name__}: {error}"
            if got != kind:
                wrong[sql] = got
    assert wrong == {}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_refresh_keeps_the_source_name(placement):
    for text, name in (("REFRESH crm", "crm"), ('REFRESH "Crm Two"', "Crm Two"), ("REFRESH", "")):
        sql = variant(text, placement, "upper", "semicolon")
        assert prepare(sql).tree.name == name, sql


@pytest.mark.parametrize("sql", ["REFRESH crm extra", "REFRESH crm, other", "REFRESH (crm)", "-- c\nREFRESH 5"])
def test_refresh_with_more_than_one_name_is_not_taken_for_refresh(sql):
    try:
        kind = prepare(sql).kind
    except fedq.Error:
        return  # refused: fine
    assert kind != "refresh"


def test_a_comment_between_explain_and_analyze_still_means_explain_analyze():
    assert prepare("EXPLAIN /* c */ ANALYZE SELECT 1").kind == "explain_analyze"
    assert prepare("explain -- c\n analyze SELECT 1").kind == "explain_analyze"


def test_explain_after_a_comment_keeps_syntax_error_positions():
    """The blanked comment keeps its line breaks: the caret is on the user's line 3."""
    sql = "-- first\n/* second */\nEXPLAIN SELECT id FRM crm.customers x y"
    with pytest.raises(fedq.ProgrammingError, match=r"at line 3, column \d+") as info:
        prepare(sql)
    assert "EXPLAIN SELECT id FRM crm.customers x y" in str(info.value)


# -- and they run: the result is the plain statement's ---------------------------------------------------
def _observe(con: fedq.Connection, statement: str, sql: str) -> object:
    """What running ``sql`` shows: its rows, or the catalog change it makes."""
    cursor = con.execute(sql)
    if statement in ("attach", "detach"):
        return sorted(s.name.lower() for s in con.catalog.sources.values())  # names keep the case written
    if statement.startswith(("create", "drop")):
        return sorted(con.catalog.views)
    if cursor.description is None:
        return None
    rows = cursor.fetchall()
    if statement.startswith("explain"):  # fragment names count up and timings differ: compare the plan and row counts
        return [tuple(re.sub(r"__fedq_\d+", "__fedq_N", str(value)) for value in row[:8]) for row in rows]
    return rows


RUN_CASES = [(s, p, CASES[i % 3], list(SEMICOLONS)[i % 3])
             for i, (s, p) in enumerate((s, p) for s in STATEMENTS for p in PLACEMENTS)]


@pytest.mark.parametrize("statement,placement,case,semicolon", RUN_CASES,
                         ids=[f"{s}-{p}-{c}-{e}" for s, p, c, e in RUN_CASES])
def test_statement_runs_like_its_plain_form(crm_path, tmp_path, statement, placement, case, semicolon):
    text = STATEMENTS[statement][0].format(path=crm_path)
    changes_catalog = statement.startswith(("attach", "detach", "create", "drop"))
    results = []
    con = None
    for run, sql in enumerate((text, variant(text, placement, case, semicolon))):
        if con is None or changes_catalog:  # a fresh connection only where the first run changed it
            if con is not None:
                con.close()
            con = fedq.connect(home=tmp_path / f"home{run}")
            con.attach("crm", "sqlite", path=str(crm_path))
            if statement.startswith("drop"):
                con.create_view("v", "SELECT id FROM crm.customers", temporary=True)
        results.append(_observe(con, statement, sql))
    con.close()
    assert results[1] == results[0]
    if statement in ("attach", "detach"):
        assert results[0] == (["crm", "crm2"] if statement == "attach" else [])
    if statement.startswith("create"):
        assert results[0] == ["v"]
    if statement.startswith("drop"):
        assert results[0] == []
