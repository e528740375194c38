"""The REST/JSON source against a real HTTP server on 127.0.0.1 (tests/rest_server.py).

Every query that can run without pushdown also runs with ``fedq.connect(pushdown=False)`` and must
give the same rows; the server's request log shows what was pushed.
"""
from __future__ import annotations

import datetime as dt
import decimal
import email.utils
import json
import socket
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fedq
from fedq.sources.rest import retry_after_seconds
from rest_server import (
    BIG, ORDERS, ApiServer, Reply, Request, cursor_orders, link_orders, none_orders, offset_orders,
    page_orders,
)

CURSOR = {"path": "/cursor/orders", "records": "data.items",
          "pagination": {"style": "cursor", "param": "after", "next": "data.next"},
          "filters": {"status": "status", "customer_id": "customer"}}
DECLARED = {"id": "bigint", "status": "varchar", "customer_id": "bigint", "total": "decimal(10,2)",
            "created_at": "timestamp"}
REQUIRED = {**CURSOR, "path": "/required/orders", "required": ["customer_id"], "columns": DECLARED}


def required_orders(request: Request) -> Reply:
    if request.arg("customer") is None:
        return Reply(400, {"error": "customer is required"})
    return cursor_orders()(request)


@pytest.fixture(scope="module")
def server():
    api = ApiServer()
    api.route("/api/cursor/orders", cursor_orders())
    api.route("/api/page/orders", page_orders)
    api.route("/api/offset/orders", offset_orders)
    api.route("/api/link/orders", link_orders(lambda: api.url))
    api.route("/api/none/orders", none_orders)
    api.route("/api/required/orders", required_orders)
    yield api
    api.close()


def shop(server: ApiServer, tables: dict[str, Any], pushdown: bool = True, **options: Any) -> fedq.Connection:
    con = fedq.connect(pushdown=pushdown)
    options.setdefault("max_requests_per_second", 0)
    options.setdefault("retry_base_seconds", 0.01)
    con.attach("shop", "rest", base_url=server.url + "/api", tables=tables, **options)
    return con


def both(server: ApiServer, sql: str, tables: dict[str, Any], params: list[Any] | None = None,
         sqlite: Path | None = None, **options: Any) -> tuple[list[tuple], list[tuple[str, str]], list[str]]:
    """Rows with pushdown (checked equal to pushdown=False), the server's log of that run, and the statements."""
    results = []
    for pushdown in (True, False):
        mark = len(server.log)
        with shop(server, tables, pushdown=pushdown, **options) as con:
            if sqlite is not None:
                con.attach("crm", "sqlite", path=str(sqlite))
            rows = con.execute(sql, params).fetchall()
            results.append((rows, server.log[mark:], list(con.source("shop").statements)))
    assert sorted(results[0][0], key=repr) == sorted(results[1][0], key=repr)
    return results[0]


def scan_error(cls: type[Exception], match: str | None = None):
    """``pytest.raises`` for an error a source raises while its rows stream: it keeps its class."""
    return pytest.raises(cls, match=match)


def queries(log: list[tuple[str, str]], path: str) -> list[str]:
    return [q for p, q in log if p == path]


ALL_IDS = sorted(o["id"] for o in ORDERS)


# -- pagination --------------------------------------------------------------------------------
def test_cursor_pagination_reads_every_page(server):
    rows, log, statements = both(server, "SELECT id FROM shop.orders", {"orders": CURSOR})
    assert sorted(r[0] for r in rows) == ALL_IDS
    assert queries(log, "/api/cursor/orders")[-5:] == ["", "after=0010", "after=0020", "after=0030", "after=0040"]
    assert statements[-1] == "GET /api/cursor/orders?after=0040"


@pytest.mark.parametrize("pagination, expected", [
    ({"style": "page", "param": "page", "size_param": "per_page", "size": 10},
     [f"page={n}&per_page=10" for n in range(1, 6)]),  # the short 5th page ends it
    ({"style": "page", "param": "page", "size_param": "per_page", "size": 15},
     [f"page={n}&per_page=15" for n in range(1, 5)]),  # 45 = 3 x 15: the empty 4th page ends it
    ({"style": "page"}, [f"page={n}" for n in range(1, 7)]),  # no size known: up to the empty page
])
def test_page_pagination(server, pagination, expected):
    table = {"path": "/page/orders", "records": "items", "pagination": pagination}
    rows, log, _ = both(server, "SELECT id, status FROM shop.orders", {"orders": table})
    assert sorted(r[0] for r in rows) == ALL_IDS
    assert queries(log, "/api/page/orders")[-len(expected):] == expected


def test_offset_pagination_with_the_body_as_the_list(server):
    table = {"path": "/offset/orders", "records": "", "filters": ["status"],
             "pagination": {"style": "offset", "param": "offset", "limit_param": "limit", "limit": 7}}
    rows, log, _ = both(server, "SELECT id FROM shop.orders WHERE status = 'pending'", {"orders": table})
    assert sorted(r[0] for r in rows) == sorted(o["id"] for o in ORDERS if o["status"] == "pending")
    assert queries(log, "/api/offset/orders")[-3:] == [
        "status=pending&offset=0&limit=7", "status=pending&offset=7&limit=7", "status=pending&offset=14&limit=7"]


def test_link_header_pagination_follows_relative_and_absolute_links(server):
    table = {"path": "/link/orders", "records": "results", "pagination": {"style": "link"}, "filters": ["status"]}
    rows, log, _ = both(server, "SELECT id FROM shop.orders", {"orders": table})
    assert sorted(r[0] for r in rows) == ALL_IDS
    assert queries(log, "/api/link/orders")[-5:] == ["", "pos=10", "pos=20", "pos=30", "pos=40"]
    rows, log, _ = both(server, "SELECT id FROM shop.orders WHERE status = 'shipped'", {"orders": table})
    assert len(rows) == 15
    assert queries(log, "/api/link/orders")[-2:] == ["status=shipped", "pos=10&status=shipped"]


def test_no_pagination_is_one_request(server):
    table = {"path": "/none/orders", "records": "data.items", "pagination": {"style": "none"}}
    rows, log, _ = both(server, "SELECT count(*), sum(customer_id) FROM shop.orders", {"orders": table})
    assert rows == [(45, sum(o["customer_id"] for o in ORDERS))]
    assert queries(log, "/api/none/orders") == ["", ""]  # the first page sampled for the column types, then the scan


def test_a_link_to_another_server_is_not_followed_with_the_headers(server):
    server.route("/api/elsewhere", lambda r: Reply(body=[{"x": 1}], headers={"Link": '<http://127.0.0.2:9/steal>; rel="next"'}))
    with shop(server, {"t": {"path": "/elsewhere", "pagination": "link"}}, headers={"Authorization": "Bearer CANARY-123"}) as con:
        with scan_error(fedq.OperationalError, match="another server"):
            con.execute("SELECT * FROM shop.t").fetchall()


# -- filters -------------------------------------------------------------------------------------
def test_equality_filter_is_sent_as_a_query_parameter(server):
    sql = "SELECT id, status FROM shop.orders WHERE status = 'shipped' AND total > 20"
    rows, log, statements = both(server, sql, {"orders": CURSOR})
    assert sorted(rows) == sorted((o["id"], "shipped") for o in ORDERS if o["status"] == "shipped" and o["total"] > 20)
    assert queries(log, "/api/cursor/orders")[-2:] == ["status=shipped", "status=shipped&after=0010"]
    assert "GET /api/cursor/orders?status=shipped" in statements
    with shop(server, {"orders": CURSOR}) as con:
        (scan, _local) = con.execute(f"EXPLAIN {sql}").fetchall()
        assert scan[4] == "\"status\" = 'shipped'"  # exact
        assert scan[6].startswith('"total" > 20')  # local


def test_in_list_fans_out_one_request_sequence_per_value(server):
    sql = "SELECT id, customer_id FROM shop.orders WHERE customer_id IN (1, 3, 3) AND status IN ('shipped', 'pending')"
    rows, log, _ = both(server, sql, {"orders": CURSOR})
    assert sorted(rows) == sorted((o["id"], o["customer_id"]) for o in ORDERS
                                  if o["customer_id"] in (1, 3) and o["status"] in ("shipped", "pending"))
    sent = Counter(q for q in queries(log, "/api/cursor/orders") if q)  # "" sampled the column types
    assert sent == Counter(f"customer={c}&status={s}" for c in (1, 3) for s in ("shipped", "pending"))


def test_bound_parameters_are_pushed(server):
    rows, log, _ = both(server, "SELECT count(*) FROM shop.orders WHERE customer_id = ? AND status = ?",
                        {"orders": CURSOR}, params=[2, "cancelled"])
    assert rows == [(sum(1 for o in ORDERS if o["customer_id"] == 2 and o["status"] == "cancelled"),)]
    assert queries(log, "/api/cursor/orders")[-1] == "customer=2&status=cancelled"


def test_contradicting_filters_send_nothing(server):
    rows, log, _ = both(server, "SELECT id FROM shop.orders WHERE status = 'shipped' AND status = 'pending'",
                        {"orders": CURSOR})
    assert rows == []


def test_other_predicates_stay_local(server):
    sql = "SELECT id FROM shop.orders WHERE status <> 'shipped' AND customer_id IN (1, 2) OR status LIKE 'p%'"
    rows, log, _ = both(server, sql, {"orders": CURSOR})
    assert sorted(r[0] for r in rows) == sorted(o["id"] for o in ORDERS if (o["status"] != "shipped"
                                                and o["customer_id"] in (1, 2)) or o["status"].startswith("p"))
    assert all("status=" not in q and "customer=" not in q for q in queries(log, "/api/cursor/orders"))


# -- required parameters ----------------------------------------------------------------------------
def test_a_missing_required_parameter_is_a_clear_error(server):
    for pushdown in (True, False):  # without pushdown nothing binds it: the same error
        mark = len(server.log)
        with shop(server, {"orders": REQUIRED}, pushdown=pushdown) as con:
            with pytest.raises(fedq.ProgrammingError) as caught:
                con.execute("SELECT id FROM shop.orders WHERE customer_id > 2").fetchall()
        message = str(caught.value)
        assert "'orders'" in message and "'customer_id'" in message
        assert "WHERE customer_id = " in message and "join" in message
        assert server.log[mark:] == []  # the API was not called


def test_a_required_parameter_bound_by_where(server):
    # pushdown=False cannot bind it (see above), so there is no differential run here
    with shop(server, {"orders": REQUIRED}) as con:
        mark = len(server.log)
        rows = con.execute("SELECT id, total FROM shop.orders WHERE customer_id = 3 ORDER BY id").fetchall()
        assert queries(server.log[mark:], "/api/required/orders") == ["customer=3"]
        rows_in = con.execute("SELECT count(*) FROM shop.orders WHERE customer_id IN (3, 4)").fetchall()
    assert rows == [(o["id"], decimal.Decimal(str(o["total"])).quantize(decimal.Decimal("0.01")))
                    for o in sorted(ORDERS, key=lambda o: o["id"]) if o["customer_id"] == 3]
    assert rows_in == [(sum(1 for o in ORDERS if o["customer_id"] in (3, 4)),)]


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                       [(1, "Ann", "NL"), (2, "Bob", "DE"), (3, "Cy", "NL"), (4, "Di", "FR"), (5, "Ed", "DE")])
    return path


def test_join_with_sqlite(server, crm):
    sql = """SELECT c.name, o.status, count(*) AS n FROM shop.orders o JOIN crm.customers c ON c.id = o.customer_id
             WHERE c.country <> 'FR' GROUP BY ALL ORDER BY ALL"""
    rows, _, _ = both(server, sql, {"orders": CURSOR}, sqlite=crm)
    names = {1: "Ann", 2: "Bob", 3: "Cy", 5: "Ed"}
    expected = Counter((names[o["customer_id"]], o["status"]) for o in ORDERS if o["customer_id"] in names)
    assert rows == sorted((name, status, n) for (name, status), n in expected.items())


def test_a_required_parameter_bound_through_a_join(server, crm):
    # The engine's dynamic filter hands the SQLite keys to the scan: one request sequence per customer.
    with shop(server, {"orders": REQUIRED}) as con:
        con.attach("crm", "sqlite", path=str(crm))
        mark = len(server.log)
        rows = con.execute("SELECT o.id, c.name FROM shop.orders o JOIN crm.customers c ON c.id = o.customer_id "
                           "WHERE c.country = 'NL'").fetchall()
    names = {1: "Ann", 3: "Cy"}
    assert sorted(rows) == sorted((o["id"], names[o["customer_id"]]) for o in ORDERS if o["customer_id"] in names)
    assert sorted(queries(server.log[mark:], "/api/required/orders")) == ["customer=1", "customer=3"]


# -- failures and retries ---------------------------------------------------------------------------
def flaky(status: int, failures: int, headers: dict[str, str] | None = None):
    def handler(request: Request) -> Reply:
        if request.count <= failures:
            return Reply(status, {"error": "try again"}, headers=headers or {})
        return Reply(body=[{"id": 1, "ok": True}])
    return handler


def test_429_with_retry_after_then_success(server):
    server.route("/api/busy", flaky(429, 1, {"Retry-After": "1"}))
    started = time.monotonic()
    with shop(server, {"t": {"path": "/busy", "columns": {"id": "bigint", "ok": "boolean"}}}) as con:
        assert con.execute("SELECT id, ok FROM shop.t").fetchall() == [(1, True)]
        assert con.source("shop").statements == ["GET /api/busy", "GET /api/busy"]
    assert time.monotonic() - started >= 0.95  # waited as told, not the 0.01 s backoff


def test_retry_after_is_capped(server):
    server.route("/api/very-busy", flaky(503, 1, {"Retry-After": "3600"}))
    started = time.monotonic()
    with shop(server, {"t": {"path": "/very-busy", "columns": {"id": "bigint"}}}, max_retry_after_seconds=0.2) as con:
        assert con.execute("SELECT id FROM shop.t").fetchall() == [(1,)]
    assert time.monotonic() - started < 5


def test_retry_after_http_date():
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds(email.utils.format_datetime(now + dt.timedelta(seconds=7), usegmt=True), now) == 7
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_500_then_success(server):
    server.route("/api/hiccup", flaky(500, 2))
    with shop(server, {"t": {"path": "/hiccup", "columns": {"id": "bigint"}}}) as con:
        assert con.execute("SELECT id FROM shop.t").fetchall() == [(1,)]
        assert len(con.source("shop").statements) == 3


def test_persistent_errors_give_up(server):
    server.route("/api/down", flaky(502, 10**9))
    with shop(server, {"t": {"path": "/down", "columns": {"id": "bigint"}}}, max_attempts=3) as con:
        with scan_error(fedq.OperationalError, match=r"source 'shop' \(rest\).*HTTP 502.*after 3 attempts"):
            con.execute("SELECT id FROM shop.t").fetchall()
    assert len(server.requests("/api/down")) == 3


def test_client_errors_are_not_retried(server):
    server.route("/api/gone", lambda r: Reply(404, {"error": "gone"}))
    with shop(server, {"t": {"path": "/gone", "columns": {"id": "bigint"}}}) as con:
        with scan_error(fedq.OperationalError, match=r"HTTP 404 Not Found.*gone"):
            con.execute("SELECT id FROM shop.t").fetchall()
    assert len(server.requests("/api/gone")) == 1


def test_a_cursor_that_does_not_advance_is_an_error(server):
    server.route("/api/stuck", lambda r: Reply(body={"items": [{"id": 1}], "next": "same"}))
    table = {"path": "/stuck", "records": "items", "pagination": {"style": "cursor", "param": "c", "next": "next"}}
    with shop(server, {"t": table}) as con:
        with scan_error(fedq.OperationalError, match="does not advance"):
            con.execute("SELECT count(*) FROM shop.t").fetchall()
    assert len(server.requests("/api/stuck")) <= 4  # schema sample + scan, never a loop


def test_a_page_parameter_the_api_ignores_is_an_error(server):
    server.route("/api/deaf", lambda r: Reply(body=[{"id": 1}, {"id": 2}]))
    with shop(server, {"t": {"path": "/deaf", "pagination": "page"}}) as con:
        with scan_error(fedq.OperationalError, match="page 2 returned the same rows"):
            con.execute("SELECT * FROM shop.t").fetchall()


@pytest.mark.parametrize("where", ["", "WHERE customer_id IN (1, 2)"])
def test_limit_stops_paging(server, where):
    rows = [{"id": i, "customer_id": i % 2 + 1} for i in range(200)]
    server.route("/api/long", cursor_orders(size=2, rows=rows))
    table = {"path": "/long", "records": "data.items", "columns": {"id": "bigint", "customer_id": "bigint"},
             "filters": {"customer_id": "customer"}, "pagination": {"style": "cursor", "param": "after", "next": "data.next"}}
    for pushdown in (True, False):
        mark = len(server.log)
        with shop(server, {"t": table}, pushdown=pushdown) as con:
            got = con.execute(f"SELECT id FROM shop.t {where} LIMIT 3").fetchall()
            time.sleep(0.3)  # anything still paging would show up in the log now
            sent = len(server.log) - mark
        assert len(got) == 3  # which 3 is DuckDB's choice without ORDER BY
        assert 0 < sent < 40  # 100 pages exist (50 per customer)


def test_invalid_json_is_a_data_error(server):
    server.route("/api/broken", lambda r: Reply(body=b'{"items": [{"id": 1},'))
    with shop(server, {"t": {"path": "/broken", "columns": {"id": "bigint"}, "params": {"api_key": "QUERY-SECRET"}}}) as con:
        with scan_error(fedq.DataError) as caught:
            con.execute("SELECT id FROM shop.t").fetchall()
    message = str(caught.value)
    assert "'shop'" in message and "'t'" in message and "/api/broken" in message
    assert "QUERY-SECRET" not in message


def test_values_that_do_not_fit_the_inferred_type(server):
    server.route("/api/drift", cursor_orders(size=1, rows=[{"n": 1}, {"n": "many"}]))
    table = {"path": "/drift", "records": "data.items", "pagination": {"style": "cursor", "param": "after", "next": "data.next"}}
    with shop(server, {"t": table}) as con:
        with scan_error(fedq.DataError, match="column 'n' is BIGINT.*declare its type"):
            con.execute("SELECT n FROM shop.t").fetchall()


def test_connection_refused_names_the_source():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    con = fedq.connect()
    con.attach("shop", "rest", base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": "Bearer CANARY-123"},
               retry_base_seconds=0.01, max_attempts=2, tables={"t": {"path": "/t", "columns": {"id": "bigint"}}})
    with scan_error(fedq.OperationalError, match=r"source 'shop' \(rest\): table 't', GET /api/t: cannot connect") as caught:
        con.execute("SELECT id FROM shop.t").fetchall()
    assert "CANARY" not in str(caught.value)
    con.close()


# -- types ---------------------------------------------------------------------------------------------
def test_json_integers_stay_integers(server):
    rows, _, _ = both(server, f"SELECT id, typeof(id) FROM shop.orders WHERE id > {2**53}", {"orders": CURSOR})
    assert rows == [(BIG, "BIGINT")]
    assert BIG != int(float(BIG))


def test_nested_objects_become_structs(server):
    sql = """SELECT o.customer.name, o.customer.vip, len(o.tags) AS n, o.tags FROM shop.orders o
             WHERE o.customer.id = 5 AND o.status = 'pending' ORDER BY o.id"""
    rows, _, _ = both(server, sql, {"orders": CURSOR})
    assert rows == [("cust-5", o["customer"]["vip"], len(o["tags"]), o["tags"]) for o in sorted(ORDERS, key=lambda o: o["id"])
                    if o["customer_id"] == 5 and o["status"] == "pending"]
    with shop(server, {"orders": CURSOR}) as con:
        typed = con.execute("SELECT typeof(customer), typeof(tags) FROM shop.orders LIMIT 1").fetchall()
    assert typed == [("STRUCT(id BIGINT, \"name\" VARCHAR, vip BOOLEAN)", "VARCHAR[]")]


def test_declared_columns_fix_the_types(server):
    table = {**CURSOR, "columns": {**DECLARED, "created_at": "timestamp", "customer": "json"}}
    sql = "SELECT id, total, created_at, customer->>'name' FROM shop.orders WHERE id IN (1, 2) ORDER BY id"
    rows, _, _ = both(server, sql, {"orders": table})
    assert rows == [(1, decimal.Decimal("11.25"), dt.datetime(2026, 1, 1, 7), "cust-2"),
                    (2, decimal.Decimal("12.50"), dt.datetime(2026, 1, 1, 14), "cust-3")]
    rows, _, _ = both(server, "SELECT sum(total), max(created_at) FROM shop.orders", {"orders": table})
    assert rows == [(sum(decimal.Decimal(str(o["total"])) for o in ORDERS), dt.datetime(2026, 1, 14, 3))]
    with shop(server, {"orders": table}) as con:
        assert con.execute("DESCRIBE shop.orders").fetchall()[:5] == [
            ("id", "BIGINT", "yes"), ("status", "VARCHAR", "yes"), ("customer_id", "BIGINT", "yes"),
            ("total", "DECIMAL(10,2)", "yes"), ("created_at", "TIMESTAMP", "yes")]


def test_zoned_timestamps_and_text_numbers(server):
    server.route("/api/events", lambda r: Reply(body=[
        {"at": "2026-02-01T10:00:00+02:00", "amount": "12.30", "n": "7"},
        {"at": "2026-02-01T10:00:00Z", "amount": 4, "n": 8},
    ]))
    columns = {"at": "timestamptz", "amount": "decimal(6,2)", "n": "int"}
    rows, _, _ = both(server, "SELECT at, amount, n FROM shop.events ORDER BY at",
                      {"events": {"path": "/events", "columns": columns}})
    utc = dt.timezone.utc
    assert [(r[0].astimezone(utc), r[1], r[2]) for r in rows] == [
        (dt.datetime(2026, 2, 1, 8, tzinfo=utc), decimal.Decimal("12.30"), 7),
        (dt.datetime(2026, 2, 1, 10, tzinfo=utc), decimal.Decimal("4.00"), 8)]


def test_count_star_needs_no_columns(server):
    rows, _, _ = both(server, "SELECT count(*) FROM shop.orders WHERE status = 'shipped'", {"orders": CURSOR})
    assert rows == [(15,)]


# -- secrets -------------------------------------------------------------------------------------------
def test_header_secrets_never_show(server):
    server.route("/api/private", lambda r: Reply(401, {"error": f"token {r.headers.get('Authorization')} expired"}))
    canary = "CANARY-123"
    tables = {"orders": CURSOR, "private": {"path": "/private", "columns": {"id": "bigint"}}}
    with shop(server, tables, headers={"Authorization": f"Bearer {canary}"}) as con:
        assert con.execute("SELECT count(*) FROM shop.orders WHERE status = 'shipped'").fetchall() == [(15,)]
        assert server.headers_seen[-1]["Authorization"] == f"Bearer {canary}"  # it was sent
        explained = con.execute("EXPLAIN SELECT * FROM shop.orders WHERE customer_id IN (1, 2)").fetchall()
        analyzed = con.execute("EXPLAIN ANALYZE SELECT * FROM shop.orders WHERE status = 'pending'").fetchall()
        with scan_error(fedq.OperationalError) as caught:
            con.execute("SELECT * FROM shop.private").fetchall()
        source = con.source("shop")
        shown = [str(caught.value), repr(explained), repr(analyzed), json.dumps(source.statements),
                 source.describe_source(), repr(source), repr(con.execute("SHOW SOURCES").fetchall())]
    assert "HTTP 401" in str(caught.value) and "expired" in str(caught.value)
    for text in shown:
        assert canary not in text


# -- configuration ------------------------------------------------------------------------------------
def test_catalog_file_with_nested_tables(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_TOKEN", "CANARY-123")
    (tmp_path / "catalog.toml").write_text(f"""
[sources.shop]
type = "rest"
base_url = "{server.url}/api"
headers = {{ Authorization = "Bearer ${{SHOP_TOKEN}}" }}
max_requests_per_second = 50

[sources.shop.tables.orders]
path = "/required/orders"
records = "data.items"
pagination = {{ style = "cursor", param = "after", next = "data.next" }}
filters = {{ status = "status", customer_id = "customer" }}
required = ["customer_id"]
columns = {{ id = "bigint", status = "varchar", customer_id = "bigint", total = "decimal(10,2)", created_at = "timestamp" }}
""")
    with fedq.connect(tmp_path / "catalog.toml") as con:
        rows = con.execute("SELECT count(*), sum(total) FROM shop.orders WHERE customer_id = 4").fetchall()
        assert con.source("shop").secrets()[:2] == ("Bearer CANARY-123", "CANARY-123")
    mine = [o for o in ORDERS if o["customer_id"] == 4]
    assert rows == [(len(mine), sum(decimal.Decimal(str(o["total"])) for o in mine))]
    assert server.headers_seen[-1]["Authorization"] == "Bearer CANARY-123"


@pytest.mark.parametrize("table, message", [
    ({"path": "/x", "pages": "cursor"}, r"unknown setting\(s\) \['pages'\]"),
    ({"path": "/x", "pagination": {"style": "scroll"}}, "unknown pagination style 'scroll'"),
    ({"path": "/x", "pagination": {"style": "cursor", "param": "after"}}, "cursor pagination needs param"),
    ({"path": "/x", "columns": {"id": "bignum"}}, "column 'id': unknown column type 'bignum'"),
    ({"path": "/x", "filters": ["a"], "required": ["a"]}, "declare its columns"),
    ({"path": "/x", "required": ["a"], "columns": {"a": "int"}}, r"required column\(s\) \['a'\] must also be in filters"),
])
def test_configuration_errors(server, table, message):
    with pytest.raises(fedq.ProgrammingError, match=message):
        shop(server, {"t": table})


# -- concurrency and rate limit ----------------------------------------------------------------------
def test_fan_out_runs_concurrently(server):
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow(request: Request) -> Reply:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1
        return none_orders(request)

    server.route("/api/slow", slow)
    table = {"path": "/slow", "records": "data.items", "filters": {"customer_id": "customer"}, "columns": DECLARED}
    rows, _, _ = both(server, "SELECT count(*) FROM shop.orders WHERE customer_id IN (1, 2, 3, 4, 5)", {"orders": table})
    # pushdown: one request per customer, overlapping at the server (seen there, not timed here)
    assert rows == [(45,)] and most[0] >= 2


def test_rate_limit_spaces_requests(server):
    table = {**CURSOR, "columns": DECLARED}
    started = time.monotonic()
    with shop(server, {"orders": table}, max_requests_per_second=10) as con:
        rows = con.execute("SELECT count(*) FROM shop.orders WHERE customer_id IN (1, 2, 3, 4, 5)").fetchall()
    assert rows == [(45,)]
    assert time.monotonic() - started >= 0.39  # 5 requests at 10 per second: 4 gaps of 0.1 s


def test_a_late_source_error_keeps_its_class(server):
    def late(request: Request) -> Reply:
        if request.arg("after"):
            time.sleep(0.3)  # DuckDB is streaming the result by now
            return Reply(body=b"not json")
        return cursor_orders(size=1, rows=[{"id": 1}, {"id": 2}])(request)

    server.route("/api/late", late)
    table = {"path": "/late", "records": "data.items", "columns": {"id": "bigint"},
             "pagination": {"style": "cursor", "param": "after", "next": "data.next"}}
    with shop(server, {"t": table}) as con:
        with pytest.raises(fedq.DataError, match="invalid JSON"):
            con.execute("SELECT id FROM shop.t").fetchall()
