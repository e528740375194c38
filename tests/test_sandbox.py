"""The local engine sandbox (issue 20, item 4): no SQL path reads a file or URL outside the catalog.

Every attack form — table functions, LATERAL, scalar subqueries, CTEs, stored views, passthrough to a
DuckDB file and views stored inside that file, statements (COPY, ATTACH, INSTALL/LOAD, SET, PRAGMA),
URLs against a real local HTTP server that must receive no request — fails with a clear fedq error,
through the API and through ``fedq serve``, and the secret file's contents never appear in any output.
The DuckDB databases themselves are attacked too (raw SQL, no fedq parser in the way): the sandbox
is the guarantee, the planner's refusals only make the message early. File sources still read
(Parquet natively and streamed, CSV, JSON), also when one is attached after the engine started.
"""
from __future__ import annotations

import http.server
import json
import os
import sqlite3
import threading
import uuid

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fedq
from fedq.engine.sandbox import sandbox_refusal, sandboxed_duckdb
from fedq.server.pg_catalog import CatalogEngine, Settings
from served import start_server, stop_server

MARKER = "fedq-secret-" + uuid.uuid4().hex  # the secret files' contents: must never show up
PASSWD = "root:x:0:0"  # the first line of /etc/passwd


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves the secret CSV and remembers every request: the sandbox must cause none."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        body = f"secret\n{MARKER}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def places(tmp_path_factory, http_server) -> dict[str, str]:
    """Secret files outside every source, a lake (files source), a DuckDB file with a view that reads a
    secret, and a SQLite database."""
    root = tmp_path_factory.mktemp("sandbox")
    secrets = root / "secrets"
    secrets.mkdir()
    (secrets / "secret.txt").write_text(MARKER)
    (secrets / "secret.csv").write_text(f"secret\n{MARKER}\n")
    (secrets / "secret.json").write_text(f'{{"secret": "{MARKER}"}}\n')
    pq.write_table(pa.table({"secret": [MARKER]}), secrets / "secret.parquet")
    with duckdb.connect(str(secrets / "secret.duckdb")) as db:
        db.execute(f"CREATE TABLE s AS SELECT '{MARKER}' AS secret")
    lake = root / "lake"
    (lake / "events").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3], "units": [5, 6, 7]}), lake / "sales.parquet")
    (lake / "notes.csv").write_text("id,note\n1,first\n2,second\n")
    (lake / "events" / "a.jsonl").write_text('{"id": 1, "kind": "click"}\n{"id": 3, "kind": "view"}\n')
    with sqlite3.connect(root / "crm.sqlite") as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ann"), (2, "Bob"), (3, "Cy")])
    with duckdb.connect(str(root / "wh.duckdb")) as db:
        db.execute("CREATE TABLE t AS SELECT 1 AS a")
        db.execute(f"CREATE VIEW leak AS SELECT content FROM read_text('{secrets / 'secret.txt'}')")
    return {"root": str(root), "secrets": str(secrets), "txt": str(secrets / "secret.txt"),
            "csv": str(secrets / "secret.csv"), "json": str(secrets / "secret.json"),
            "parquet": str(secrets / "secret.parquet"), "db": str(secrets / "secret.duckdb"),
            "lake": str(lake), "crm": str(root / "crm.sqlite"), "wh": str(root / "wh.duckdb"),
            "out": str(root / "out.csv"), "lake_out": str(lake / "written.csv"), "url": http_server}


@pytest.fixture(scope="module")
def con(places):
    connection = fedq.connect(home=False)
    connection.attach("crm", "sqlite", path=places["crm"])
    connection.attach("lake", "files", url=places["lake"])
    connection.attach("wh", "duckdb", path=places["wh"], passthrough=True)
    yield connection
    connection.close()


def _clean(text: str) -> None:
    assert MARKER not in text and PASSWD not in text, text


# -- every SQL path, through the API -----------------------------------------------------------
ATTACKS = [
    "SELECT * FROM read_text('{txt}')",
    "SELECT * FROM read_blob('{txt}')",
    "SELECT * FROM read_csv('{csv}')",
    "SELECT * FROM read_csv_auto('{csv}')",
    "SELECT * FROM read_json('{json}')",
    "SELECT * FROM read_json_auto('{json}')",
    "SELECT * FROM read_parquet('{parquet}')",
    "SELECT * FROM glob('{secrets}/*')",
    "SELECT * FROM parquet_metadata('{parquet}')",
    "SELECT * FROM parquet_schema('{parquet}')",
    "SELECT * FROM sniff_csv('{csv}')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_text('{lake}/../secrets/secret.txt')",
    "SELECT * FROM crm.customers, LATERAL read_text('{txt}')",
    "SELECT * FROM crm.customers CROSS JOIN LATERAL (SELECT content FROM read_text('{txt}')) AS t",
    "SELECT * FROM lake.sales, LATERAL read_parquet('{parquet}')",
    "SELECT c.name, (SELECT content FROM read_text('{txt}')) FROM crm.customers c",
    "SELECT name FROM crm.customers WHERE name IN (SELECT secret FROM read_csv('{csv}'))",
    "WITH t AS (SELECT * FROM read_blob('{txt}')) SELECT * FROM crm.customers, t",
    "SELECT * FROM crm.customers JOIN read_csv('{csv}') AS s ON true",
    "SELECT read_text('{txt}')",
    "SELECT length(read_blob('{txt}')) FROM crm.customers",
    "SELECT * FROM query('SELECT * FROM read_text(''{txt}'')')",  # DuckDB's own one-argument query()
    "SELECT * FROM read_csv('{url}/direct.csv')",
    "SELECT * FROM crm.customers, LATERAL read_csv_auto('{url}/lateral.csv')",
    # passthrough to a DuckDB file, and views stored inside that file
    "SELECT * FROM query('wh', 'SELECT * FROM read_text(''{txt}'')')",
    "SELECT * FROM query('wh', 'SELECT * FROM read_csv(''{url}/passthrough.csv'')')",
    "SELECT * FROM query('wh', 'SELECT * FROM leak')",
    "SELECT * FROM wh.leak",
    "SELECT a FROM wh.t, wh.leak",
    # statements: fedq runs none of them (its own ATTACH adds a source and COPY … TO exports a result,
    # as the API's user may: tests/test_export.py; fedq serve's permissions are tested with the server)
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "PRAGMA enable_external_access",
    "EXPORT DATABASE '{secrets}/export'",
]


@pytest.mark.parametrize("template", ATTACKS)
def test_no_sql_path_reads_a_file_or_url_outside_the_catalog(con, places, template):
    before = len(_Recorder.requests)
    with pytest.raises(fedq.Error) as refused:
        con.execute(template.format(**places)).fetchall()
    assert isinstance(refused.value, (fedq.NotSupportedError, fedq.ProgrammingError)), refused.value
    message = str(refused.value)
    _clean(message)
    assert "Traceback" not in message and "Permission Error" not in message, message  # fedq's words, not DuckDB's
    assert len(_Recorder.requests) == before, _Recorder.requests
    assert not os.path.exists(places["out"]) and not os.path.exists(places["lake_out"])
    assert con.execute("SELECT count(*) FROM crm.customers").fetchall() == [(3,)]  # the connection goes on


@pytest.mark.parametrize("template", [
    "SELECT * FROM crm.customers, LATERAL read_text('{txt}')",
    "SELECT (SELECT content FROM read_text('{txt}')) AS c FROM crm.customers",
    "SELECT * FROM wh.leak",
])
def test_a_stored_view_cannot_read_a_file(places, tmp_path, template):
    catalog = tmp_path / "catalog.toml"
    sql = json.dumps(template.format(**places))  # a TOML basic string
    catalog.write_text(f"""
[sources.crm]
type = "sqlite"
path = '{places["crm"]}'

[sources.wh]
type = "duckdb"
path = '{places["wh"]}'

[views.v]
sql = {sql}
""")
    with fedq.connect(catalog, home=False) as connection:
        with pytest.raises(fedq.NotSupportedError) as refused:
            connection.execute("SELECT * FROM v").fetchall()
        _clean(str(refused.value))
        with pytest.raises(fedq.NotSupportedError):
            connection.execute(f"CREATE TEMP VIEW w AS {template.format(**places)}")


def test_the_planner_names_the_function_and_the_sandbox_names_the_file(con, places):
    with pytest.raises(fedq.NotSupportedError, match=r"table function read_text\(\) is not available: fedq reads data "
                                                     r"only through attached sources"):
        con.execute(f"SELECT * FROM crm.customers, LATERAL read_text('{places['txt']}')")
    with pytest.raises(fedq.NotSupportedError, match=r"function read_blob\(\) reads local files or URLs"):
        con.execute(f"SELECT read_blob('{places['txt']}')")
    with pytest.raises(fedq.NotSupportedError, match=r"source 'wh' \(duckdb\): .*local files and URLs are not readable "
                                                     r"from SQL: fedq reads only its attached sources \(DuckDB may not "
                                                     r"open '.*secret\.txt'\)"):
        con.execute("SELECT * FROM query('wh', 'SELECT * FROM leak')")


# -- the DuckDB databases themselves: raw SQL, no fedq parser in the way --------------------------
RAW = [
    "SELECT * FROM read_text('{txt}')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_text('{lake}/../secrets/secret.txt')",
    "SELECT * FROM read_parquet('{parquet}')",
    "SELECT * FROM glob('{secrets}/*')",
    "SELECT * FROM read_csv('{url}/raw.csv')",
    "ATTACH '{db}' AS stolen",
    "COPY (SELECT 1) TO '{out}'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET allowed_directories = ['/']",
    "SET TimeZone = 'America/New_York'",
    "PRAGMA threads = 1",
    "RESET lock_configuration",
]


def _databases(con, places) -> dict[str, duckdb.DuckDBPyConnection]:
    """Every kind of DuckDB fedq keeps open: the local engine, the binder's mirror, a DuckDB-file
    source, fedq serve's per-session catalog and a bare sandbox."""
    con.execute("SELECT * FROM wh.t").fetchall()  # opens the DuckDB file
    con.execute("SELECT * FROM lake.sales").fetchall()  # the engine now allows the lake folder
    catalog = CatalogEngine(con, Settings(user="u", database="fedq"), 1)
    return {"local engine": con._database, "binder": con.binder._db, "duckdb file": con.source("wh")._database,
            "pg catalog": catalog.database, "bare": sandboxed_duckdb()}


@pytest.mark.parametrize("template", RAW)
def test_every_fedq_duckdb_refuses_files_urls_extensions_and_settings(con, places, template):
    before = len(_Recorder.requests)
    sql = template.format(**places)
    for name, database in _databases(con, places).items():
        with pytest.raises(duckdb.Error) as refused:
            database.execute(sql).fetchall()
        translated = sandbox_refusal(refused.value)
        assert translated is not None, (name, sql, refused.value)
        assert isinstance(translated, fedq.NotSupportedError) and "fedq" in str(translated)
        _clean(str(refused.value))
        assert database.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
    assert len(_Recorder.requests) == before, _Recorder.requests
    assert not os.path.exists(places["out"])


def test_the_local_engine_keeps_the_settings_fedq_gave_it(tmp_path):
    with fedq.connect(home=False, memory_limit="300MB", temp_directory=str(tmp_path / "spill")) as connection:
        settings = dict(connection._database.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('TimeZone', 'memory_limit', 'temp_directory', "
            "'enable_external_access', 'autoload_known_extensions', 'autoinstall_known_extensions')").fetchall())
        assert settings["TimeZone"] == "UTC" and settings["temp_directory"] == str(tmp_path / "spill")
        assert settings["memory_limit"] in ("286.1 MiB", "300.0 MB"), settings
        assert (settings["enable_external_access"], settings["autoload_known_extensions"],
                settings["autoinstall_known_extensions"]) == ("false", "false", "false")


# -- fedq serve ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(places, tmp_path_factory):
    psycopg = pytest.importorskip("psycopg", reason="the server tests speak to fedq serve with psycopg 3")

    folder = tmp_path_factory.mktemp("sandbox-serve")
    catalog = folder / "catalog.toml"
    catalog.write_text(f"""
[sources.crm]
type = "sqlite"
path = '{places["crm"]}'

[sources.lake]
type = "files"
url = '{places["lake"]}'

[sources.wh]
type = "duckdb"
path = '{places["wh"]}'
passthrough = true

[server]
users = {{ alice = "${{FEDQ_SANDBOX_PASSWORD}}" }}
""")
    password = "pw-" + uuid.uuid4().hex[:8]
    process, port = start_server(catalog, env={"FEDQ_SANDBOX_PASSWORD": password})
    try:
        yield {"port": port, "password": password, "psycopg": psycopg}
    finally:
        stop_server(process)

SERVED = [template for template in ATTACKS if template.startswith("SELECT")] + [
    "SELECT c.relname, t.content FROM pg_catalog.pg_class c, read_text('{txt}') t",  # the session's catalog DuckDB
    "SELECT * FROM pg_catalog.pg_namespace, LATERAL read_csv('{url}/catalog.csv')",
]


@pytest.mark.timeout(120)
def test_fedq_serve_clients_cannot_read_files_or_urls(server, places):
    psycopg = server["psycopg"]
    before = len(_Recorder.requests)
    with psycopg.connect(host="127.0.0.1", port=server["port"], user="alice", password=server["password"],
                         dbname="fedq", connect_timeout=5, autocommit=True) as client:
        for template in SERVED:
            sql = template.format(**places)
            with pytest.raises(psycopg.Error) as refused:
                client.execute(sql).fetchall()
            assert refused.value.sqlstate in ("0A000", "42000", "42601"), (sql, refused.value.sqlstate, str(refused.value))
            _clean(str(refused.value))
        assert client.execute("SELECT count(*) FROM lake.sales").fetchone() == (3,)
    assert len(_Recorder.requests) == before, _Recorder.requests


# -- file sources still read -----------------------------------------------------------------------
def test_file_sources_still_read_natively_and_streamed(con, places):
    plan = con.plan("SELECT * FROM lake.sales")
    assert [f.kind for f in plan.fragments] == ["native"]  # DuckDB reads the lake's Parquet itself
    assert sorted(con.execute("SELECT id, units FROM lake.sales").fetchall()) == [(1, 5), (2, 6), (3, 7)]
    assert sorted(con.execute("SELECT id, note FROM lake.notes").fetchall()) == [(1, "first"), (2, "second")]
    assert sorted(con.execute("SELECT id, kind FROM lake.events").fetchall()) == [(1, "click"), (3, "view")]
    rows = con.execute("SELECT c.name, s.units, n.note FROM crm.customers c JOIN lake.sales s ON s.id = c.id "
                       "LEFT JOIN lake.notes n ON n.id = c.id ORDER BY c.id").fetchall()
    assert rows == [("Ann", 5, "first"), ("Bob", 6, "second"), ("Cy", 7, None)]
    assert con.execute("ANALYZE lake.sales").fetchall()  # footer statistics: a sandboxed DuckDB per read


def test_remote_file_sources_are_read_by_fsspec_never_by_duckdb():
    import fsspec

    memory = fsspec.filesystem("memory")
    folder = f"/sandbox-{uuid.uuid4().hex[:8]}"
    with memory.open(f"{folder}/m.parquet", "wb") as handle:
        pq.write_table(pa.table({"v": [1, 2]}), handle)
    try:
        with fedq.connect(home=False) as connection:
            connection.attach("mem", "files", url=f"memory://{folder}")
            assert [f.kind for f in connection.plan("SELECT v FROM mem.m").fragments] == ["scan"]
            assert sorted(connection.execute("SELECT v FROM mem.m").fetchall()) == [(1,), (2,)]
            assert connection._native_roots == ()  # nothing opened to DuckDB
    finally:
        memory.rm(folder, recursive=True)


def test_a_files_source_attached_later_is_read_natively_and_streams_keep_going(places, tmp_path):
    later = tmp_path / "later"
    later.mkdir()
    pq.write_table(pa.table({"x": list(range(300_000))}), later / "big.parquet")
    with fedq.connect(home=False, temp_directory=str(tmp_path / "spill")) as connection:
        connection.attach("lake", "files", url=places["lake"])
        streaming = connection.cursor()
        streaming.execute("SELECT id FROM lake.sales, range(100000) AS r(n)")
        first = streaming.fetchmany(10)
        connection.attach("later", "files", url=str(later))
        assert [f.kind for f in connection.plan("SELECT x FROM later.big").fragments] == ["native"]
        assert connection.execute("SELECT count(*), sum(x) FROM later.big").fetchall() == [(300_000, 44_999_850_000)]
        assert len(first) + len(streaming.fetchall()) == 300_000  # the cursor of the previous engine kept streaming
        connection.detach("later")
        with pytest.raises(fedq.NotSupportedError):
            connection.execute(f"SELECT * FROM read_parquet('{later / 'big.parquet'}')")
        allowed = connection._database.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
        assert sorted(allowed) == sorted([os.path.join(os.path.realpath(places["lake"]), ""), str(tmp_path / "spill") + "/"])


def test_a_link_out_of_a_files_source_is_not_read_by_duckdb(places, tmp_path):
    lake = tmp_path / "linked"
    lake.mkdir()
    pq.write_table(pa.table({"k": [1]}), lake / "own.parquet")
    os.symlink(places["parquet"], lake / "outside.parquet")
    with fedq.connect(home=False) as connection:
        connection.attach("linked", "files", url=str(lake))
        assert [f.kind for f in connection.plan("SELECT * FROM linked.own").fragments] == ["native"]
        assert [f.kind for f in connection.plan("SELECT * FROM linked.outside").fragments] == ["scan"]  # fsspec reads it
