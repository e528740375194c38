"""Completion: what :func:`suggest` offers at many cursor positions (no terminal), the prompt-toolkit
completer, and metadata loaded in the background from real SQLite and Parquet sources."""
from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

import fedq
from fedq.repl.completion import FedqCompleter, Metadata, MetadataRefresher, Suggestion, suggest

META = Metadata(
    tables={
        "pg": {
            "public": {
                "orders": ["order_id", "customer_id", "amount", "ordered_at"],
                "products": ["product_id", "title"],
            },
            "sales": {"regions": ["region_id", "region_name"]},
        },
        "crm": {"main": {"customers": ["customer_id", "customer_name", "email"], "Order Lines": ["line id", "qty"]}},
        "lake": {"main": {"events": ["event_id", "kind", "payload"]}},
    },
    default_schemas={"pg": "public", "crm": "main", "lake": "main"},
    source_types={"pg": "postgres", "crm": "sqlite", "lake": "files"},
)
SOURCES = ["pg", "crm", "lake"]
ORDERS = ["order_id", "customer_id", "amount", "ordered_at"]
JOINED = "FROM pg.orders o JOIN crm.customers c ON c.customer_id = o.customer_id"


def texts(marked: str, metadata: Metadata = META) -> list[str]:
    """Suggested texts for a buffer whose cursor is written as ``|``."""
    cursor = marked.index("|")
    return [s.text for s in suggest(marked[:cursor] + marked[cursor + 1:], cursor, metadata)]


# (id, buffer with | at the cursor, must be offered, must not be offered)
CASES = [
    ("empty-buffer", "|", ["SELECT", "WITH", "EXPLAIN", "EXPLAIN ANALYZE", "ATTACH", "DETACH"],
     ["\\d", "pg", "order_id"]),
    ("statement-prefix-lowercase", "sel|", ["select"], ["SELECT", "with"]),
    ("statement-prefix-uppercase", "EXP|", ["EXPLAIN", "EXPLAIN ANALYZE"], ["SELECT"]),
    ("after-semicolon", "SELECT 1;\n|", ["SELECT", "WITH"], ["FROM", "order_id"]),
    ("backslash-lists-meta-commands", "\\|", ["\\sources", "\\tables", "\\d", "\\explain", "\\timing", "\\format",
                                              "\\refresh", "\\help", "\\q"], ["SELECT"]),
    ("meta-command-prefix", "\\t|", ["\\tables", "\\timing"], ["\\sources", "\\d"]),
    ("meta-line-after-sql-line", "SELECT 1;\n\\so|", ["\\sources"], ["SELECT"]),
    ("from-offers-sources", "SELECT * FROM |", SOURCES, ["order_id", "orders", "SELECT", "count"]),
    ("from-source-prefix", "SELECT * FROM c|", ["crm"], ["pg", "lake", "customer_id"]),
    ("source-dot-tables-and-schemas", "SELECT * FROM pg.|", ["orders", "products", "public", "sales"],
     ["regions", "customers", "order_id"]),
    ("source-dot-case-insensitive", "SELECT * FROM PG.ord|", ["orders"], ["products"]),
    ("source-schema-dot-tables", "SELECT * FROM pg.sales.|", ["regions"], ["orders", "public"]),
    ("odd-table-name-is-quoted", "select * from crm.|", ["customers", '"Order Lines"'], ["Order Lines", "pg"]),
    ("cursor-inside-a-word", "SELECT * FROM pg.or|ders", ["orders"], ["products"]),
    ("join-offers-sources", "SELECT * FROM pg.orders o JOIN |", SOURCES, ["order_id", "ON"]),
    ("comma-in-from-list", "SELECT * FROM pg.orders o, |", SOURCES, ["order_id"]),
    ("cte-name-in-from", "WITH recent AS (SELECT * FROM pg.orders) SELECT * FROM |", ["recent", "pg"], ["order_id"]),
    ("after-table-keywords", "SELECT * FROM pg.orders o |", ["WHERE", "JOIN", "LEFT JOIN", "GROUP BY"],
     ["order_id", "pg"]),
    ("after-join-table-on", "SELECT * FROM pg.orders o JOIN crm.customers c |", ["ON", "USING"], ["customer_id"]),
    ("left-then-join", "SELECT * FROM pg.orders o LEFT |", ["JOIN", "OUTER JOIN"], ["WHERE"]),
    ("select-list-before-from", "SELECT | FROM pg.orders o", ORDERS + ["o", "count", "CASE"],
     ["pg", "customer_name", "SELECT"]),
    ("select-list-joined-tables", f"SELECT | {JOINED}", ORDERS + ["customer_name", "email", "o", "c"], ["pg", "crm"]),
    ("alias-dot-columns", f"SELECT o.| {JOINED}", ORDERS, ["customer_name", "email", "count", "FROM"]),
    ("alias-dot-prefix", f"SELECT c.cust| {JOINED}", ["customer_id", "customer_name"], ["email", "order_id"]),
    ("table-name-dot-columns", "SELECT orders.| FROM pg.orders", ORDERS, ["product_id"]),
    ("quoted-alias-and-column", 'SELECT l.| FROM crm."Order Lines" l', ['"line id"', "qty"], ["customer_id"]),
    ("open-quoted-identifier", 'SELECT "cust| FROM crm.customers', ["customer_id", "customer_name"], ["CASE", "count"]),
    ("where-prefix", "SELECT * FROM pg.orders WHERE am|", ["amount"], ["order_id", "AND"]),
    ("where-after-and", "SELECT * FROM pg.orders o WHERE o.amount > 10 AND |", ORDERS + ["o"], ["pg"]),
    ("where-after-expression", "SELECT * FROM pg.orders WHERE amount |", ["AND", "OR", "IS NULL", "IN", "LIKE"], []),
    ("is-then-null", "SELECT * FROM pg.orders WHERE amount IS |", ["NULL", "NOT NULL"], ["amount"]),
    ("on-clause", "SELECT * FROM pg.orders o JOIN crm.customers c ON |", ["customer_id", "customer_name", "o", "c"],
     ["pg"]),
    ("group-then-by", "SELECT count(*) FROM pg.orders GROUP |", ["BY"], ["amount"]),
    ("group-by-columns", "SELECT count(*) FROM pg.orders GROUP BY |", ORDERS, ["pg", "BY"]),
    ("having-functions", "SELECT customer_id FROM pg.orders GROUP BY 1 HAVING su|", ["sum"], ["order_id"]),
    ("order-by-columns", "SELECT * FROM lake.events ORDER BY |", ["event_id", "kind"], ["order_id"]),
    ("order-by-direction", "SELECT * FROM lake.events ORDER BY kind |", ["ASC", "DESC", "LIMIT"], []),
    ("function-argument", "SELECT count(|) FROM lake.events", ["event_id", "kind", "payload"], ["pg"]),
    ("cast-types", "SELECT CAST(amount AS |) FROM pg.orders", ["INTEGER", "VARCHAR", "TIMESTAMP"], ["amount"]),
    ("subquery-alias-and-columns", "SELECT * FROM (SELECT order_id FROM pg.orders) t WHERE |", ["t", "order_id"],
     ["pg"]),
    ("multi-line-select-list", f"SELECT\n  o.order_id,\n  |\n{JOINED.replace(' JOIN', chr(10) + 'JOIN')}",
     ["amount", "customer_name", "o", "c"], ["pg"]),
    ("qualified-name-without-from", "SELECT pg.sales.regions.| ", ["region_id", "region_name"], ["order_id"]),
    ("inner-substring-match", "SELECT * FROM crm.customers WHERE name|", ["customer_name"], ["customer_id", "email"]),
    ("explain-then", "EXPLAIN |", ["ANALYZE", "SELECT", "WITH"], ["pg"]),
    ("explain-analyze-then", "EXPLAIN ANALYZE |", ["SELECT", "WITH"], ["ANALYZE"]),
    ("detach-sources", "DETACH |", SOURCES, ["SELECT"]),
    ("union-then-select", "SELECT 1 UNION |", ["ALL", "SELECT"], []),
    ("inside-string", "SELECT * FROM pg.orders WHERE title = 'ab|", [], ["amount", "AND", "SELECT"]),
    ("inside-line-comment", "SELECT -- pick |", [], ["SELECT", "FROM", "count"]),
    ("inside-block-comment", "SELECT /* pick |", [], ["SELECT", "count"]),
    ("after-number", "SELECT 1|", [], ["FROM", "count"]),
    ("tables-argument", "\\tables |", SOURCES, ["\\tables", "orders"]),
    ("refresh-argument", "\\refresh p|", ["pg"], ["crm"]),
    ("describe-qualified-tables", "\\d |", ["pg.orders", "pg.sales.regions", "crm.customers", 'crm."Order Lines"',
                                           "lake.events"], ["orders", "pg", "pg.public.orders"]),
    ("describe-prefix", "\\d crm.c|", ["crm.customers"], ["pg.orders", 'crm."Order Lines"']),
    ("explain-meta-sql", "\\explain SELECT | FROM pg.orders", ORDERS, ["pg"]),
    ("explain-meta-analyze", "\\explain analyze SELECT * FROM pg.|", ["orders", "sales"], ["order_id"]),
    ("explain-meta-first-word", "\\explain a|", ["analyze"], ["select"]),
    ("format-argument", "\\format |", ["table", "csv", "json", "markdown"], ["SELECT"]),
    ("timing-argument", "\\timing o|", ["on", "off"], []),
]


@pytest.mark.parametrize(("text", "present", "absent"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_suggest(text: str, present: list[str], absent: list[str]) -> None:
    offered = texts(text)
    assert [p for p in present if p not in offered] == [], offered
    assert [a for a in absent if a in offered] == [], offered
    if not present:
        assert offered == []


def test_prefix_matches_come_before_matches_inside() -> None:
    offered = texts("SELECT * FROM crm.customers WHERE customer| ")
    assert offered[:2] == ["customer_id", "customer_name"]
    assert texts("SELECT * FROM pg.orders WHERE id|") == ["order_id", "customer_id"]


def test_keywords_lead_after_an_expression_and_columns_lead_before_one() -> None:
    assert texts("SELECT amount | FROM pg.orders")[:2] == ["FROM", "AS"]
    assert texts("SELECT | FROM pg.orders")[:4] == ORDERS


def test_suggestions_carry_kind_and_meta() -> None:
    offered = suggest("SELECT * FROM ", 14, META)
    assert Suggestion("source", "pg", "postgres") in offered
    columns = suggest("SELECT  FROM pg.orders", 7, META)
    assert Suggestion("column", "amount", "pg.orders") in columns
    assert all(s.kind == "keyword" for s in suggest("SELECT * FROM pg.orders GROUP ", 30, META))


def test_no_columns_without_metadata() -> None:
    assert texts("SELECT * FROM |", Metadata.empty()) == []
    assert "count" in texts("SELECT | FROM pg.orders", Metadata.empty())


WEIRD = ["", "'", '"', "\\", ";;;", "SELECT '", 'SELECT "', "/*", "--", ")))(((", "SELECT (((", "FROM", "FROM .",
         "SELECT * FROM pg..", "\\d \"", "\\explain", "\\explain analyze ", "é.ü.", "$1.",
         "SELECT * FROM pg.orders o, ,", "WITH , AS (", "SELECT 1 AS", "\n\n\\", "\x00\t\r\n"]


@pytest.mark.parametrize("text", WEIRD, ids=[repr(w) for w in WEIRD])
def test_never_raises_at_any_cursor(text: str) -> None:
    for cursor in range(-1, len(text) + 2):
        assert isinstance(suggest(text, cursor, META), list)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SELCTFROMJINWHpgo.,;()'\"\\-/* \n\tdé")), max_size=40),
       st.integers(-2, 45))
def test_never_raises_on_random_text(text: str, cursor: int) -> None:
    assert isinstance(suggest(text, cursor, META), list)


# -- prompt-toolkit ---------------------------------------------------------------------------
def test_completer_replaces_only_the_word_being_typed() -> None:
    completer = FedqCompleter(lambda: META)
    document = Document("SELECT * FROM pg.ord", cursor_position=20)
    completions = list(completer.get_completions(document, CompleteEvent(completion_requested=True)))
    assert [(c.text, c.start_position, c.display_meta_text) for c in completions] == [("orders", -3, "table")]
    document = Document("SELECT o.am FROM pg.orders o", cursor_position=11)
    [completion] = completer.get_completions(document, CompleteEvent())
    assert (completion.text, completion.start_position, completion.display_meta_text) == ("amount", -2, "pg.orders")


def test_completer_survives_failing_metadata() -> None:
    def broken() -> Metadata:
        raise RuntimeError("boom")

    assert list(FedqCompleter(broken).get_completions(Document("SELECT "), CompleteEvent())) == []


# -- metadata from real sources ---------------------------------------------------------------
@pytest.fixture
def connection(tmp_path):
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, customer_name TEXT)")
        db.execute('CREATE TABLE "Order Lines" ("line id" INTEGER, qty INTEGER)')
    lake = tmp_path / "lake"
    lake.mkdir()
    pq.write_table(pa.table({"event_id": [1, 2], "kind": ["a", "b"]}), lake / "events.parquet")
    con = fedq.connect()
    con.attach("crm", "sqlite", path=str(tmp_path / "crm.sqlite"))
    con.attach("lake", "files", url=str(lake))
    con.attach("gone", "sqlite", path=str(tmp_path / "missing.sqlite"))  # unreachable: must be skipped
    yield con
    con.close()


def test_refresher_loads_metadata_in_the_background(connection, tmp_path) -> None:
    refresher = MetadataRefresher(connection)
    assert refresher.current() == Metadata.empty()
    refresher.refresh()
    assert refresher.wait(30)
    metadata = refresher.current()
    assert metadata.tables["crm"] == {"main": {"customers": ["id", "customer_name"], "Order Lines": ["line id", "qty"]}}
    assert metadata.tables["lake"] == {"main": {"events": ["event_id", "kind"]}}
    assert "gone" not in metadata.tables
    assert metadata.default_schemas == {"crm": "main", "lake": "main"}
    assert metadata.source_types == {"crm": "sqlite", "lake": "files"}

    assert {"customer_name", "event_id", "c", "e"} <= set(
        texts("SELECT | FROM crm.customers c JOIN lake.events e ON c.id = e.event_id", metadata))
    assert texts("SELECT * FROM |", metadata) == ["crm", "lake"]

    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE invoices (invoice_id INTEGER)")
    connection.refresh()
    refresher.refresh()
    assert refresher.wait(30)
    assert "invoices" in texts("SELECT * FROM crm.|", refresher.current())


def test_refresh_never_raises_into_the_caller() -> None:
    class Broken:
        @property
        def catalog(self):
            raise RuntimeError("closed")

    refresher = MetadataRefresher(Broken())
    refresher.refresh()
    assert refresher.wait(10)
    assert refresher.current() == Metadata.empty()
