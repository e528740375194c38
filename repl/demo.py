"""The embedded demo behind ``fedq demo``: a small company's data spread over real sources.

Customers live in SQLite (``crm``), orders in a DuckDB file (``shop``), web events, returns and the
product catalog in a folder of Parquet and CSV files (``lake``) and, when PostgreSQL is reachable,
support tickets in PostgreSQL (``pg``). Everything is generated from a fixed seed and built once in
the user's cache directory; a marker file written last says the build is complete.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import random
import shutil
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import platformdirs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEMO_VERSION = 3  # 2: PostgreSQL is attached as the read-only role fedq_demo_reader; 3: and only its schema
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "fedq_demo"
PG_READER = "fedq_demo_reader"  # reads PG_SCHEMA only: fedq refuses a role that may write
CATALOG_NAME = "catalog.toml"
MARKER_NAME = ".complete"
SEED = 20260101

# Everything a build writes into the demo directory (removed before a rebuild).
_OUTPUTS = ("crm.sqlite", "shop.duckdb", "shop.duckdb.wal", "lake", CATALOG_NAME, MARKER_NAME)

BANNER_QUERIES: list[tuple[str, str]] = [
    (
        "Revenue by country (shop orders joined with crm customers)",
        """SELECT c.country,
       count(DISTINCT c.id) AS customers,
       count(*) AS orders,
       sum(o.amount) AS revenue
FROM shop.orders o
JOIN crm.customers c ON c.id = o.customer_id
WHERE o.status <> 'cancelled'
GROUP BY c.country
ORDER BY revenue DESC, c.country""",
    ),
    (
        "Most viewed products and what they sold (lake events and products, shop orders)",
        """WITH views AS (
    SELECT CAST(split_part(page, '/', 3) AS INTEGER) AS product_id, count(*) AS views
    FROM lake.events
    WHERE page LIKE '/products/%'
    GROUP BY 1
), sold AS (
    SELECT product_id, sum(quantity) AS units
    FROM shop.orders
    WHERE status <> 'cancelled'
    GROUP BY product_id
)
SELECT p.name, p.category, v.views, coalesce(s.units, 0) AS units_sold
FROM views v
JOIN lake.products p ON p.id = v.product_id
LEFT JOIN sold s ON s.product_id = p.id
ORDER BY v.views DESC, p.name
LIMIT 10""",
    ),
    (
        "Return rate by category (shop orders, lake returns and products)",
        """SELECT p.category,
       count(*) AS delivered,
       count(r.order_id) AS returned,
       round(100.0 * count(r.order_id) / count(*), 1) AS return_pct
FROM shop.orders o
JOIN lake.products p ON p.id = o.product_id
LEFT JOIN lake.returns r ON r.order_id = o.id
WHERE o.status IN ('delivered', 'returned')
GROUP BY p.category
ORDER BY return_pct DESC, p.category""",
    ),
]


def demo_dir() -> Path:
    """Where the demo lives: ``$FEDQ_DEMO_DIR``, else the user cache folder's ``fedq/demo-vN``."""
    override = os.environ.get("FEDQ_DEMO_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("fedq")) / f"demo-v{DEMO_VERSION}"


# -- generated data ---------------------------------------------------------------------------
FIRST_NAMES = {
    "DE": ["Jürgen", "Anna", "Lukas", "Sophie", "Jörg", "Lea"],
    "FR": ["Émile", "Chloé", "Hélène", "Louis", "François", "Camille"],
    "ES": ["José", "Lucía", "Íñigo", "María", "Pablo", "Sofía"],
    "NL": ["Daan", "Sanne", "Bram", "Fenna", "Joëlle", "Pieter"],
    "PL": ["Łukasz", "Zofia", "Paweł", "Małgorzata", "Kasia", "Tomasz"],
    "SE": ["Björn", "Åsa", "Linnéa", "Oskar", "Märta", "Erik"],
    "US": ["Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan"],
    "JP": ["太郎", "花子", "Yuki", "Haruto", "Sakura", "Ren"],
}
LAST_NAMES = {
    "DE": ["Müller", "Schäfer", "Weiß", "Becker", "Groß", "Koch"],
    "FR": ["Lefèvre", "Dubois", "Girard", "Moreau", "Bérenger", "Roux"],
    "ES": ["García", "Martínez", "Núñez", "López", "Peña", "Ruiz"],
    "NL": ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit"],
    "PL": ["Nowak", "Wójcik", "Kowalczyk", "Dąbrowski", "Zieliński", "Lewandowska"],
    "SE": ["Andersson", "Lindström", "Öberg", "Nilsson", "Åkesson", "Berg"],
    "US": ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson"],
    "JP": ["山田", "佐藤", "Tanaka", "Suzuki", "Watanabe", "Itō"],
}
COUNTRY_WEIGHTS = {"DE": 24, "FR": 16, "ES": 10, "NL": 10, "PL": 8, "SE": 6, "US": 18, "JP": 8}
CATEGORIES = {
    "Coffee": (["Espresso Beans", "Filter Roast", "Decaf Blend", "Single Origin Kenya", "Cold Brew Pack"], 8, 30),
    "Tea": (["Sencha", "Earl Grey", "Rooibos", "Chai Masala", "Matcha"], 5, 35),
    "Equipment": (["Pour-over Kit", "Burr Grinder", "Milk Frother", "French Press", "Gooseneck Kettle"], 25, 180),
    "Mugs": (["Stoneware Mug", "Glass Cup", "Travel Mug", "Espresso Cups (2)", "Café Latte Bowl"], 9, 32),
    "Books": (["The Coffee Atlas", "Tea: A History", "Brew Better", "Roasting at Home", "Barista Basics"], 14, 45),
}
RETURN_REASONS = ["damaged", "wrong item", "not as described", "arrived late", "changed mind"]
STATUSES = ["delivered"] * 16 + ["shipped"] * 2 + ["cancelled"] * 2
TICKET_SUBJECTS = ["Where is my order?", "Refund request", "Damaged parcel", "Change delivery address",
                   "Invoice needed", "Grinder makes noise", "Discount code not working", "Cancel my order"]
PAGES = ["/", "/cart", "/checkout", "/about", "/search"]
YEAR_START = dt.datetime(2025, 1, 1)


@dataclass
class DemoData:
    """All demo tables as Arrow tables."""

    customers: pa.Table
    products: pa.Table
    orders: pa.Table
    returns: pa.Table
    events: pa.Table
    tickets: pa.Table


def _ascii(text: str) -> str:
    """``text`` without accents; empty when it has letters with no ASCII form."""
    plain = unicodedata.normalize("NFKD", text.replace("ł", "l")).encode("ascii", "ignore").decode()
    return plain if len(plain) == len(unicodedata.normalize("NFC", text)) else ""


def _money(value: float) -> decimal.Decimal:
    return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01"))


def generate(seed: int = SEED) -> DemoData:
    """Deterministic demo data: a few hundred customers, 2,000 orders, a few thousand page views."""
    rng = random.Random(seed)
    countries = list(COUNTRY_WEIGHTS)

    customers = []
    for cid in range(1, 301):
        country = rng.choices(countries, weights=list(COUNTRY_WEIGHTS.values()))[0]
        first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
        handle = _ascii(f"{first}.{last}".lower().replace(" ", "")) or f"customer{cid}"
        signed_up = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 540))
        customers.append((cid, f"{first} {last}", f"{handle}@example.{country.lower()}", country, signed_up))

    products = []
    for category, (names, low, high) in CATEGORIES.items():
        for name in names:
            products.append((len(products) + 1, name, category, float(_money(rng.uniform(low, high)))))
    weights = [rng.uniform(0.2, 3.0) for _ in products]  # how well each product sells
    interest = [w * rng.uniform(0.4, 2.5) for w in weights]  # how often its page is viewed

    orders, returns = [], []
    for oid in range(1, 2001):
        customer = rng.choice(customers)
        product = rng.choices(products, weights=weights)[0]
        start = max(YEAR_START, dt.datetime.combine(customer[4], dt.time()))
        ordered_at = start + dt.timedelta(seconds=rng.randrange(0, int((dt.datetime(2026, 1, 1) - start).total_seconds())))
        quantity = rng.choices([1, 2, 3, 4], weights=[60, 25, 10, 5])[0]
        status = rng.choice(STATUSES)
        if status == "delivered" and rng.random() < {"Equipment": 0.14, "Mugs": 0.1}.get(product[2], 0.05):
            status = "returned"
            returned_on = ordered_at.date() + dt.timedelta(days=rng.randrange(5, 30))
            returns.append((oid, returned_on, rng.choice(RETURN_REASONS)))
        amount = _money(product[3] * quantity * rng.choice([1, 1, 1, 0.9]))
        orders.append((oid, customer[0], product[0], ordered_at.replace(microsecond=0), quantity, amount, status))

    events = []
    for eid in range(1, 4501):
        customer_id = rng.choice(customers)[0] if rng.random() < 0.7 else None
        at = YEAR_START + dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
        page = f"/products/{rng.choices(products, weights=interest)[0][0]}" if rng.random() < 0.6 else rng.choice(PAGES)
        events.append((eid, customer_id, at, page, int(rng.lognormvariate(9, 0.8))))
    events.sort(key=lambda row: row[2])
    events = [(i + 1, *row[1:]) for i, row in enumerate(events)]

    tickets = []
    for tid in range(1, 151):
        opened = YEAR_START + dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
        tickets.append((tid, rng.choice(customers)[0], opened.replace(tzinfo=dt.timezone.utc),
                        rng.choices(["low", "normal", "high", "urgent"], weights=[30, 45, 18, 7])[0],
                        rng.choice(TICKET_SUBJECTS)))

    def table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist([dict(zip(schema.names, row)) for row in rows], schema=schema)

    return DemoData(
        customers=table(customers, pa.schema([("id", pa.int64()), ("name", pa.string()), ("email", pa.string()),
                                              ("country", pa.string()), ("signed_up", pa.date32())])),
        products=table(products, pa.schema([("id", pa.int64()), ("name", pa.string()),
                                            ("category", pa.string()), ("price", pa.float64())])),
        orders=table(orders, pa.schema([("id", pa.int64()), ("customer_id", pa.int64()), ("product_id", pa.int64()),
                                        ("ordered_at", pa.timestamp("us")), ("quantity", pa.int32()),
                                        ("amount", pa.decimal128(10, 2)), ("status", pa.string())])),
        returns=table(returns, pa.schema([("order_id", pa.int64()), ("returned_on", pa.date32()),
                                          ("reason", pa.string())])),
        events=table(events, pa.schema([("event_id", pa.int64()), ("customer_id", pa.int64()),
                                        ("at", pa.timestamp("us")), ("page", pa.string()),
                                        ("duration_ms", pa.int32())])),
        tickets=table(tickets, pa.schema([("id", pa.int32()), ("customer_id", pa.int32()),
                                          ("opened_at", pa.timestamp("us", tz="UTC")), ("priority", pa.string()),
                                          ("subject", pa.string())])),
    )


# -- writers ----------------------------------------------------------------------------------
def _write_sqlite(path: Path, customers: pa.Table) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, "
                    "country TEXT, signed_up DATE)")
        con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
                        [(r["id"], r["name"], r["email"], r["country"], r["signed_up"].isoformat())
                         for r in customers.to_pylist()])
    con.close()


def _write_duckdb(path: Path, orders: pa.Table) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, product_id INTEGER, "
                    "ordered_at TIMESTAMP, quantity INTEGER, amount DECIMAL(10,2), status VARCHAR)")
        con.register("demo_orders", orders)
        con.execute("INSERT INTO orders SELECT * FROM demo_orders ORDER BY id")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _write_lake(folder: Path, data: DemoData) -> None:
    (folder / "events").mkdir(parents=True)
    quarters = pc.quarter(data.events.column("at"))
    for quarter in range(1, 5):
        selected = data.events.filter(pc.equal(quarters, quarter))
        pq.write_table(selected, folder / "events" / f"2025-q{quarter}.parquet", row_group_size=500)
    pacsv.write_csv(data.returns, folder / "returns.csv")
    pacsv.write_csv(data.products, folder / "products.csv")


def _with_timeout(dsn: str) -> str:
    return dsn + ("&" if "?" in dsn else "?") + "connect_timeout=3"


def _postgres_ingest(dsn: str, tickets: pa.Table) -> bool:
    """Create ``fedq_demo.support_tickets`` (through ``dsn``, an account that may create it) and the
    role PG_READER that may only read it; False when PostgreSQL is not reachable."""
    try:
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(_with_timeout(dsn), autocommit=True) as con, con.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
            cur.execute(f"CREATE SCHEMA {PG_SCHEMA}")
            cur.execute(f"CREATE TABLE {PG_SCHEMA}.support_tickets (id integer PRIMARY KEY, customer_id integer, "
                        "opened_at timestamptz, priority text, subject text)")
            cur.adbc_ingest("support_tickets", tickets, mode="append", db_schema_name=PG_SCHEMA)
            cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = $1", parameters=(PG_READER,))
            if not cur.fetchall()[0][0]:
                cur.executescript(f"CREATE ROLE {PG_READER} LOGIN")
            cur.executescript(f"GRANT USAGE ON SCHEMA {PG_SCHEMA} TO {PG_READER}; "
                              f"GRANT SELECT ON ALL TABLES IN SCHEMA {PG_SCHEMA} TO {PG_READER}")
    except Exception:  # any failure means: no usable server, the demo goes without it
        return False
    return True


def _reader_dsn(dsn: str) -> str | None:
    """``dsn`` as PG_READER (no password), if the server lets that role in (trust or peer auth)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if not parts.scheme.startswith("postgres"):
        return None  # a key=value DSN: attached as written
    reader = urlunsplit(parts._replace(netloc=f"{PG_READER}@{parts.netloc.rsplit('@', 1)[-1]}"))
    try:
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(_with_timeout(reader)) as con, con.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
    except Exception:  # e.g. password authentication: the demo attaches with the loading account
        return None
    return reader


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _catalog_text(postgres_dsn: str | None, reader_dsn: str | None = None) -> str:
    lines = [
        "# The fedq demo: one company's data over several sources. Paths are relative to this file.",
        "",
        "[sources.crm]",
        'type = "sqlite"',
        'path = "crm.sqlite"',
        "",
        "[sources.shop]",
        'type = "duckdb"',
        'path = "shop.duckdb"',
        "",
        "[sources.lake]",
        'type = "files"',
        'url = "lake"',
        'tables = { events = "events/*.parquet", returns = "returns.csv", products = "products.csv" }',
    ]
    only_demo = f"schemas = [{_toml_string(PG_SCHEMA)}]  # the demo's own schema, not the rest of the database"
    if reader_dsn:
        lines += ["", "[sources.pg]", 'type = "postgres"', f"dsn = {_toml_string(reader_dsn)}  # reads {PG_SCHEMA} only",
                  only_demo]
    elif postgres_dsn:
        lines += ["", "[sources.pg]", 'type = "postgres"', f"dsn = {_toml_string(postgres_dsn)}",
                  f"# the account that loaded the demo data ({PG_READER} could not log in without a password):",
                  "allow_privileged_role = true", only_demo]
    return "\n".join(lines) + "\n"


def build_demo(
    directory: Path | None = None,
    *,
    postgres_dsn: str | None = DEFAULT_POSTGRES_DSN,
    progress: Callable[[str], None] = lambda msg: None,
) -> Path:
    """Create (once; skip if already complete — write a marker file last) the demo data and return the catalog TOML path."""
    folder = Path(directory) if directory is not None else demo_dir()
    catalog = folder / CATALOG_NAME
    marker = folder / MARKER_NAME
    if marker.is_file() and catalog.is_file() and marker.read_text(encoding="utf-8").strip() == f"fedq demo v{DEMO_VERSION}":
        return catalog
    progress(f"building the fedq demo data in {folder} ...")
    folder.mkdir(parents=True, exist_ok=True)
    for name in _OUTPUTS:  # leftovers of an interrupted build
        target = folder / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    data = generate()
    progress("  crm: customers (SQLite)")
    _write_sqlite(folder / "crm.sqlite", data.customers)
    progress("  shop: orders (DuckDB)")
    _write_duckdb(folder / "shop.duckdb", data.orders)
    progress("  lake: events (Parquet), returns and products (CSV)")
    _write_lake(folder / "lake", data)
    with_postgres = bool(postgres_dsn) and _postgres_ingest(str(postgres_dsn), data.tickets)
    progress(f"  pg: support tickets (PostgreSQL schema {PG_SCHEMA})" if with_postgres
             else "  pg: PostgreSQL not reachable, skipped")
    reader = _reader_dsn(str(postgres_dsn)) if with_postgres else None
    catalog.write_text(_catalog_text(postgres_dsn if with_postgres else None, reader), encoding="utf-8")
    (folder / MARKER_NAME).write_text(f"fedq demo v{DEMO_VERSION}\n", encoding="utf-8")
    return catalog


def banner(catalog_path: Path, with_postgres: bool) -> str:
    """Welcome text: the demo's sources, three example queries, and where to get help."""
    lines = [
        "Welcome to the fedq demo: a small coffee shop's data, spread over real sources.",
        f"Catalog: {catalog_path}",
        "",
        "  crm   SQLite      crm.customers",
        "  shop  DuckDB      shop.orders",
        "  lake  files       lake.events (Parquet), lake.returns, lake.products (CSV)",
        f"  pg    PostgreSQL  pg.{PG_SCHEMA}.support_tickets" if with_postgres
        else "  pg    PostgreSQL  not reachable, so no support tickets this time",
        "",
        "Try one of these (each joins several sources):",
    ]
    for number, (title, sql) in enumerate(BANNER_QUERIES, 1):
        lines += ["", f"-- {number}. {title}", sql + ";"]
    lines += ["", "Type \\help for commands."]
    return "\n".join(lines)
