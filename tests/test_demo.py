"""The embedded demo: built once, loads as a catalog, and its banner queries agree with and without pushdown."""
from __future__ import annotations

from pathlib import Path

import pytest

import fedq
from cleanup import drop_pg_schemas
from fedq.repl.demo import BANNER_QUERIES, DEMO_VERSION, PG_SCHEMA, _catalog_text, banner, build_demo, demo_dir

NO_POSTGRES = "postgresql://postgres@127.0.0.1:1/test"


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo built without PostgreSQL (the banner queries never need it)."""
    return build_demo(tmp_path_factory.mktemp("demo"), postgres_dsn=NO_POSTGRES)


def test_demo_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FEDQ_DEMO_DIR", raising=False)
    assert demo_dir().name == f"demo-v{DEMO_VERSION}"
    assert "fedq" in demo_dir().parts
    monkeypatch.setenv("FEDQ_DEMO_DIR", str(tmp_path / "here"))
    assert demo_dir() == tmp_path / "here"


def test_build_uses_env_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEDQ_DEMO_DIR", str(tmp_path / "env-demo"))
    messages: list[str] = []
    catalog = build_demo(postgres_dsn=None, progress=messages.append)
    assert catalog == tmp_path / "env-demo" / "catalog.toml"
    assert messages, "the build reports progress"
    assert sorted(p.name for p in (tmp_path / "env-demo" / "lake" / "events").iterdir()) == [
        "2025-q1.parquet", "2025-q2.parquet", "2025-q3.parquet", "2025-q4.parquet"]


def test_catalog_has_the_always_present_sources(demo_catalog: Path) -> None:
    with fedq.connect(demo_catalog) as con:
        assert set(con.catalog.sources) == {"crm", "shop", "lake"}
        counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                  for table in ("crm.customers", "shop.orders", "lake.events", "lake.returns", "lake.products")}
        assert all(100 <= counts[t] <= 5000 for t in ("crm.customers", "shop.orders", "lake.events"))
        assert counts["lake.returns"] > 0 and counts["lake.products"] > 0
        names = [row[0] for row in con.execute("SELECT name FROM crm.customers").fetchall()]
        assert any(not name.isascii() for name in names)
        types = {d[0]: d[1] for d in con.execute("SELECT * FROM shop.orders LIMIT 1").description}
        assert str(types["amount"]) == "decimal128(10, 2)"


@pytest.mark.parametrize("title, sql", BANNER_QUERIES, ids=[f"query{i}" for i in range(1, len(BANNER_QUERIES) + 1)])
def test_banner_query_same_with_and_without_pushdown(demo_catalog: Path, title: str, sql: str) -> None:
    assert all(name in sql for name in ("FROM", "ORDER BY"))
    assert "pg." not in sql, "banner queries must only use sources that always exist"
    with fedq.connect(demo_catalog) as con:
        pushed = con.execute(sql).fetchall()
    with fedq.connect(demo_catalog, pushdown=False) as con:
        local = con.execute(sql).fetchall()
    assert len(pushed) >= 1
    assert sorted(pushed) == sorted(local)
    assert pushed == local, "the ORDER BY is total, so the order agrees too"
    assert sum(f"{source}." in sql for source in ("crm", "shop", "lake")) >= 2, "cross-source"


def test_build_is_done_once(tmp_path: Path) -> None:
    catalog = build_demo(tmp_path, postgres_dsn=NO_POSTGRES)
    data_file = tmp_path / "shop.duckdb"
    before = data_file.stat().st_mtime_ns
    messages: list[str] = []
    assert build_demo(tmp_path, postgres_dsn=NO_POSTGRES, progress=messages.append) == catalog
    assert data_file.stat().st_mtime_ns == before
    assert messages == []


def test_interrupted_build_is_redone(tmp_path: Path) -> None:
    build_demo(tmp_path, postgres_dsn=None)
    marker = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(marker) == 1
    marker[0].unlink()
    (tmp_path / "crm.sqlite").write_bytes(b"garbage")
    catalog = build_demo(tmp_path, postgres_dsn=None)
    with fedq.connect(catalog) as con:
        assert con.execute("SELECT count(*) FROM crm.customers").fetchall()[0][0] > 0


def test_data_is_deterministic(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a", postgres_dsn=None)
    second = build_demo(tmp_path / "b", postgres_dsn=None)
    for name in ("lake/products.csv", "lake/returns.csv"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes()
    sql = BANNER_QUERIES[0][1]
    with fedq.connect(first) as a, fedq.connect(second) as b:
        assert a.execute(sql).fetchall() == b.execute(sql).fetchall()


def test_without_postgres(tmp_path: Path) -> None:
    catalog = build_demo(tmp_path, postgres_dsn=NO_POSTGRES)
    assert "[sources.pg]" not in catalog.read_text()
    with fedq.connect(catalog) as con:
        assert "pg" not in con.catalog.sources
    text = banner(catalog, with_postgres=False)
    assert "not reachable" in text and "\\help" in text
    for _, sql in BANNER_QUERIES:
        assert sql in text


@pytest.fixture
def demo_schema_dropped(request: pytest.FixtureRequest, pg_admin_dsn: str) -> str:
    """The admin DSN; the demo's schema is dropped after the test (the test database is shared)."""
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, PG_SCHEMA))
    return pg_admin_dsn


@pytest.mark.postgres
def test_with_postgres(tmp_path: Path, demo_schema_dropped: str) -> None:
    catalog = build_demo(tmp_path, postgres_dsn=demo_schema_dropped)
    assert "fedq_demo_reader@" in catalog.read_text() and "allow_privileged_role" not in catalog.read_text()
    with fedq.connect(catalog) as con:
        assert "pg" in con.catalog.sources
        assert con.execute("SELECT count(*) FROM pg.fedq_demo.support_tickets").fetchall()[0][0] > 0
        rows = con.execute(
            "SELECT c.country, count(*) AS tickets FROM pg.fedq_demo.support_tickets t "
            "JOIN crm.customers c ON c.id = t.customer_id GROUP BY c.country ORDER BY c.country").fetchall()
        assert sum(n for _, n in rows) > 0
    assert "support_tickets" in banner(catalog, with_postgres=True)


FOREIGN = "fedq_demo_foreign"  # someone else's schema in the same database, readable by everyone


@pytest.mark.postgres
def test_the_demo_attaches_only_its_own_schema(tmp_path: Path, demo_schema_dropped: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    admin = demo_schema_dropped
    try:
        with pg.connect(admin, autocommit=True) as con, con.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {FOREIGN} CASCADE")
            cur.execute(f"CREATE SCHEMA {FOREIGN}")
            cur.execute(f"CREATE TABLE {FOREIGN}.secret_plans (id integer)")
            cur.execute(f"GRANT USAGE ON SCHEMA {FOREIGN} TO PUBLIC")
            cur.execute(f"GRANT SELECT ON {FOREIGN}.secret_plans TO PUBLIC")
        reader_catalog = build_demo(tmp_path / "reader", postgres_dsn=admin)
        loader_catalog = reader_catalog.with_name("loader.toml")  # the fallback: the loading account reads everything
        loader_catalog.write_text(_catalog_text(admin, None))
        for catalog in (reader_catalog, loader_catalog):
            with fedq.connect(catalog) as con:
                assert con.execute("SHOW TABLES FROM pg").fetchall() == [("pg", PG_SCHEMA, "support_tickets")], catalog
                listed = [row[:2] for row in con.execute("SHOW TABLES").fetchall()]
                assert ("pg", FOREIGN) not in listed and ("pg", PG_SCHEMA) in listed
                with pytest.raises(fedq.ProgrammingError, match="secret_plans"):
                    con.execute(f"SELECT * FROM pg.{FOREIGN}.secret_plans")
    finally:
        drop_pg_schemas(admin, FOREIGN)
