"""A real HTTP/JSON API for the REST source tests: http.server on 127.0.0.1 (random port), one thread
per request, every request logged (path and query; the headers separately, for the canary test).

Routes are functions ``(request) -> Reply``; ``ApiServer.route`` registers them, so each test can
build the API it needs (paginations, failures, bad JSON) from the shared order data below.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

BIG = 2**53 + 1  # not representable as a double

ORDERS = [
    {
        "id": i,
        "status": ("shipped", "pending", "cancelled")[i % 3],
        "customer_id": i % 5 + 1,
        "total": round(10 + i * 1.25, 2),
        "created_at": (dt.datetime(2026, 1, 1) + dt.timedelta(hours=7 * i)).isoformat(),
        "customer": {"id": i % 5 + 1, "name": f"cust-{i % 5 + 1}", "vip": i % 5 == 0},
        "tags": ["a", "b"][: i % 3],
    }
    for i in range(1, 46)
]
ORDERS[6]["id"] = BIG  # one id above 2**53


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    count: int  # how many requests this path had received before, this one included

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes or str
    headers: dict[str, str] = field(default_factory=dict)


class ApiServer:
    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Request], Reply]] = {}
        self.log: list[tuple[str, str]] = []  # (path, query string) of every request
        self.headers_seen: list[dict[str, str]] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                with server._lock:
                    server.log.append((parts.path, parts.query))
                    server.headers_seen.append(dict(self.headers))
                    server._counts[parts.path] = server._counts.get(parts.path, 0) + 1
                    count = server._counts[parts.path]
                route = server.routes.get(parts.path)
                reply = route(Request(parts.path, parse_qs(parts.query), dict(self.headers), count)) if route else Reply(404, {"error": "no such path"})
                body = reply.body
                data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="rest-test-server", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, handler: Callable[[Request], Reply]) -> None:
        self.routes[path] = handler

    def requests(self, path: str) -> list[str]:
        """Query strings of the requests to ``path``, in order."""
        with self._lock:
            return [q for p, q in self.log if p == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the order API in every pagination style -------------------------------------------------------
def matching(request: Request, rows: list[dict[str, Any]] = ORDERS) -> list[dict[str, Any]]:
    """Rows after the API's own filters: ?status=…&customer=…"""
    status, customer = request.arg("status"), request.arg("customer")
    return [r for r in rows if (status is None or r["status"] == status)
            and (customer is None or r["customer_id"] == int(customer))]


def cursor_orders(size: int = 10, rows: list[dict[str, Any]] = ORDERS) -> Callable[[Request], Reply]:
    """{"data": {"items": [...], "next": "<position>"}}; ?after=<position>"""
    def handler(request: Request) -> Reply:
        found = matching(request, rows)
        start = int(request.arg("after", "0"))
        page = found[start:start + size]
        more = start + size < len(found)
        return Reply(body={"data": {"items": page, "next": f"{start + size:04d}" if more else None}})
    return handler


def page_orders(request: Request) -> Reply:
    """{"items": [...]}; ?page=1..&per_page=n (an empty page past the end)"""
    found = matching(request)
    size = int(request.arg("per_page", "10"))
    number = int(request.arg("page", "1"))
    return Reply(body={"items": found[(number - 1) * size:number * size]})


def offset_orders(request: Request) -> Reply:
    """The body is the list; ?offset=&limit="""
    found = matching(request)
    offset, limit = int(request.arg("offset", "0")), int(request.arg("limit", "10"))
    return Reply(body=found[offset:offset + limit])


def link_orders(base: Callable[[], str]) -> Callable[[Request], Reply]:
    """{"results": [...]} with Link: <…?pos=n&status=…>; rel="next" (relative or absolute)"""
    def handler(request: Request) -> Reply:
        found = matching(request)
        position = int(request.arg("pos", "0"))
        headers = {}
        if position + 10 < len(found):
            keep = "".join(f"&{k}={v[0]}" for k, v in request.query.items() if k != "pos")
            target = f"/api/link/orders?pos={position + 10}{keep}"
            if position:  # alternate absolute and relative targets
                target = base() + target
            headers["Link"] = f'<https://example.invalid/docs>; rel="help", <{target}>; rel="next"'
        return Reply(body={"results": found[position:position + 10]}, headers=headers)
    return handler


def none_orders(request: Request) -> Reply:
    return Reply(body={"data": {"items": matching(request)}})
