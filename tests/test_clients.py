"""``fedq serve`` with the clients people use daily, each the real client against a real server process
(issue 16 item 3): psycopg list parameters and named cursors, SQLAlchemy's postgresql+psycopg dialect
(reflection, pandas, stream_results), the ADBC PostgreSQL driver, pgcli, and psql's \\copy.

Where a client can be pointed at PostgreSQL itself, the answer through fedq is compared with
PostgreSQL's own answer to the same question. A client that is not installed skips its test, except
under CI=true, where every client of the ``test`` extra must be there."""
from __future__ import annotations

import importlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cleanup import drop_pg_schemas
from served import start_server, stop_server

pytestmark = pytest.mark.timeout(90)
SCHEMA = "fedq_clients"  # the PostgreSQL schema these tests make (and drop)
PASSWORD = "cl-" + uuid.uuid4().hex[:10]
ROWS = 3000
CI = os.environ.get("CI", "").lower() == "true"


def _client(module: str, extra: str = "pip install 'fedq[test]'"):
    """The client module, or a skip naming what to install (a failure under CI=true)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if CI:
            pytest.fail(f"{module} is not installed ({error}); CI=true requires every client of the test extra", pytrace=False)
        pytest.skip(f"{module} is not installed: {extra}")


def _program(name: str) -> str:
    beside = Path(sys.executable).parent / name  # pgcli from the test extra sits beside the venv's python
    path = shutil.which(name) or (str(beside) if beside.exists() else None)
    if path is None:
        if CI:
            pytest.fail(f"the {name} program is not installed; CI=true requires it", pytrace=False)
        pytest.skip(f"the {name} program is not installed")
    return path


@pytest.fixture(scope="module")
def catalog(request: pytest.FixtureRequest, pg_dsn: str, pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    psycopg = _client("psycopg")
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, SCHEMA))
    reader = urlsplit(pg_dsn).username
    with psycopg.connect(pg_admin_dsn, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(f"CREATE TABLE {SCHEMA}.orders (id integer PRIMARY KEY, customer_id integer NOT NULL, "
                    "amount numeric(10,2), placed date, note text)")
        con.execute(f"INSERT INTO {SCHEMA}.orders SELECT g, g % 7, round((g * 1.37)::numeric, 2), date '2024-01-01' + g % 400, "
                    f"CASE WHEN g % 5 = 0 THEN NULL ELSE 'note, \"' || g || '\"' END FROM generate_series(1, {ROWS}) g")
        con.execute(f'GRANT USAGE ON SCHEMA {SCHEMA} TO "{reader}"')
        con.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO "{reader}"')
    folder = tmp_path_factory.mktemp("clients")
    db = sqlite3.connect(folder / "crm.sqlite")
    db.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);"
                     "INSERT INTO customers VALUES (1, 'Ann', 'NL'), (2, 'Bob', 'DE'), (3, 'Cy', 'NL'), (4, 'Dee', NULL);")
    db.commit()
    db.close()
    path = folder / "catalog.toml"
    path.write_text(f"""
[sources.pg]
type = "postgres"
dsn = "{pg_dsn}"

[sources.crm]
type = "sqlite"
path = "crm.sqlite"

[server]
users = {{ alice = "${{FEDQ_CLIENTS_TEST_PASSWORD}}" }}
""")
    return path


@pytest.fixture(scope="module")
def server(catalog: Path):
    process, port = start_server(catalog, env={"FEDQ_CLIENTS_TEST_PASSWORD": PASSWORD})
    try:
        yield {"port": port, "process": process, "url": f"postgresql://alice:{PASSWORD}@127.0.0.1:{port}/fedq"}
    finally:
        stop_server(process)


def _connect(server, **kwargs):
    psycopg = _client("psycopg")
    return psycopg.connect(host="127.0.0.1", port=server["port"], user="alice", password=PASSWORD, dbname="fedq",
                           connect_timeout=5, **kwargs)


def _postgres(pg_admin_dsn: str, sql: str, params=None) -> list[tuple]:
    """PostgreSQL's own answer (the fedq names without their source: pg.fedq_clients.orders is fedq_clients.orders)."""
    psycopg = _client("psycopg")
    with psycopg.connect(pg_admin_dsn, autocommit=True) as con:
        return con.execute(sql.replace(f"pg.{SCHEMA}.", f"{SCHEMA}."), params).fetchall()


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


# -- psycopg ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_list_parameters_with_any(server, pg_admin_dsn, binary):
    """A Python list becomes an array parameter (psycopg sends int2[]/int8[] typed, text lists untyped in
    text format); = ANY(%s) answers as PostgreSQL does, NULLs and an empty list included."""
    queries = [
        (f"SELECT id, amount FROM pg.{SCHEMA}.orders WHERE id = ANY(%s) ORDER BY id", [[5, 17, 2999, 40000]]),
        (f"SELECT id FROM pg.{SCHEMA}.orders WHERE id = ANY(%s) ORDER BY id", [[2 ** 40, 1]]),
        (f"SELECT count(*) FROM pg.{SCHEMA}.orders WHERE customer_id <> ALL(%s)", [[0, 3, None]]),
        (f"SELECT id FROM pg.{SCHEMA}.orders WHERE note = ANY(%s) ORDER BY id", [['note, "12"', 'note, "7"', "x y"]]),
        (f"SELECT id FROM pg.{SCHEMA}.orders WHERE id = ANY(%s) ORDER BY id", [[]]),
    ]
    with _connect(server, autocommit=True) as con, con.cursor(binary=binary) as cur:
        for sql, params in queries:
            expected = _postgres(pg_admin_dsn, sql, params)
            assert cur.execute(sql, params).fetchall() == expected, sql
        names = cur.execute("SELECT name FROM crm.customers WHERE country = ANY(%s) ORDER BY id", [["NL", "XX"]]).fetchall()
        assert names == [("Ann",), ("Cy",)]


def test_psycopg_text_cast_to_an_array_and_regclass_lookups(server, pg_admin_dsn):
    """An untyped '{…}' text cast to an array type is read as an array, as PostgreSQL does; to_regclass and
    ::regclass find fedq's relations without a pg_class in the query."""
    with _connect(server, autocommit=True) as con:
        for sql, params in [("SELECT %s::int[] AS a", ["{1,2,NULL}"]), ("SELECT %s::text[] AS a", ['{x,"y z"}'])]:
            assert con.execute(sql, params).fetchall() == _postgres(pg_admin_dsn, sql, params)
        found = con.execute("SELECT to_regclass(%s) AS r, 'crm.customers'::regclass::oid AS o, to_regclass('nope.nope') AS n",
                            ["crm.customers"]).fetchall()
        oid = con.execute("SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = 'crm' AND c.relname = 'customers'").fetchall()
    assert found == [(oid[0][0], oid[0][0], None)]


def test_psycopg_bad_array_parameter_is_an_error_not_a_disconnect(server):
    psycopg = _client("psycopg")
    with _connect(server, autocommit=True) as con:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="malformed array literal"):
            con.execute("SELECT id FROM crm.customers WHERE id = ANY(%s)", ["{1,2"])  # untyped text read as an array
        assert con.execute("SELECT 1 AS one").fetchall() == [(1,)]


def test_psycopg_named_cursor_reads_in_chunks(server, pg_admin_dsn):
    """conn.cursor(name=…) is DECLARE/FETCH FORWARD n/CLOSE; the rows equal PostgreSQL's, in order."""
    sql = f"SELECT id, customer_id, amount, placed, note FROM pg.{SCHEMA}.orders WHERE id > %s ORDER BY id"
    expected = _postgres(pg_admin_dsn, sql, [10])
    with _connect(server) as con:
        cur = con.cursor(name="chunks")
        cur.itersize = 250
        cur.execute(sql, [10])
        assert [c.name for c in cur.description] == ["id", "customer_id", "amount", "placed", "note"]
        head = cur.fetchmany(7)
        rest = list(cur)
        cur.close()
        con.commit()
        assert head + rest == expected
        with con.cursor(name="held", withhold=True, binary=True) as held:  # WITH HOLD outlives the transaction
            held.execute("SELECT id, name FROM crm.customers ORDER BY id")
            con.commit()
            assert held.fetchall() == [(1, "Ann"), (2, "Bob"), (3, "Cy"), (4, "Dee")]


def test_declared_cursor_is_bounded_by_the_fetch_not_the_result(server):
    """A cursor over 200 million rows: the first FETCHes answer at once and the server's memory does not
    grow with the result (a materialized copy would need gigabytes and minutes)."""
    pid = server["process"].pid
    with _connect(server, autocommit=True) as con:
        con.execute("SELECT 1").fetchall()  # the session's engine is open before the measure
        before = _rss_mb(pid)
        started = time.monotonic()
        con.execute("DECLARE big CURSOR WITH HOLD FOR SELECT g, g * 2 AS twice FROM range(200000000) t(g)")
        rows = []
        for _ in range(20):
            rows += con.execute("FETCH FORWARD 1000 FROM big").fetchall()
        elapsed = time.monotonic() - started
        moved = con.execute("MOVE FORWARD 5000 IN big").statusmessage
        after_move = con.execute("FETCH 2 FROM big").fetchall()
        grown = _rss_mb(pid) - before
        con.execute("CLOSE big")
    assert rows == [(g, 2 * g) for g in range(20000)]
    assert moved == "MOVE 5000" and after_move == [(25000, 50000), (25001, 50002)]
    assert elapsed < 20, f"20 FETCHes of 1,000 rows took {elapsed:.1f} s"
    assert grown < 300, f"the server grew by {grown:.0f} MB reading 25,000 rows of a 200M-row cursor"


def test_cursor_statements_postgresql_refuses_get_its_sqlstate(server):
    """Every cursor and COPY statement fedq cannot answer is a clean error with SQLSTATE; the session goes on."""
    psycopg = _client("psycopg")
    cases = [
        ("DECLARE c CURSOR FOR SELECT 1", "25P01"),  # outside a transaction, without WITH HOLD
        ("DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT 1", "0A000"),
        ("FETCH 1 FROM nowhere", "34000"),
        ("CLOSE nowhere", "34000"),
        ("DECLARE c CURSOR WITH HOLD FOR SET search_path = crm", "42601"),
        ("COPY (SELECT 1) TO STDOUT (FORMAT xml)", "42000"),
        ("COPY (SELECT 1) TO STDOUT (FREEZE true)", "0A000"),
    ]
    with _connect(server, autocommit=True) as con:
        con.execute("DECLARE open_one CURSOR WITH HOLD FOR SELECT id FROM crm.customers ORDER BY id")
        cases += [("DECLARE open_one CURSOR WITH HOLD FOR SELECT 1", "42P03"), ("FETCH BACKWARD 1 FROM open_one", "0A000"),
                  ("FETCH PRIOR FROM open_one", "0A000"), ("MOVE ABSOLUTE 3 IN open_one", "0A000")]
        for sql, state in cases:
            with pytest.raises(psycopg.Error) as raised:
                con.execute(sql)
            assert raised.value.sqlstate == state, (sql, raised.value.sqlstate, str(raised.value))
        assert con.execute("FETCH ALL FROM open_one").fetchall() == [(1,), (2,), (3,), (4,)]
        assert con.execute("CLOSE ALL").statusmessage == "CLOSE CURSOR ALL"


# -- SQLAlchemy -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(server):
    sqlalchemy = _client("sqlalchemy")
    _client("psycopg")
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:{server['port']}/fedq")
    yield engine
    engine.dispose()


def test_sqlalchemy_reflection(engine):
    """The postgresql+psycopg dialect connects (to_regtype, current_schema(), SHOW …) and reflects fedq's
    sources as schemas, their tables and column types."""
    sqlalchemy = _client("sqlalchemy")
    inspector = sqlalchemy.inspect(engine)
    assert {"crm", f"pg.{SCHEMA}"} <= set(inspector.get_schema_names())
    assert inspector.get_table_names(schema=f"pg.{SCHEMA}") == ["orders"]
    assert inspector.get_table_names(schema="crm") == ["customers"]
    columns = {c["name"]: c["type"] for c in inspector.get_columns("orders", schema=f"pg.{SCHEMA}")}
    assert list(columns) == ["id", "customer_id", "amount", "placed", "note"]
    assert isinstance(columns["id"], sqlalchemy.INTEGER) and isinstance(columns["placed"], sqlalchemy.DATE)
    assert isinstance(columns["amount"], sqlalchemy.NUMERIC) and (columns["amount"].precision, columns["amount"].scale) == (10, 2)
    assert inspector.get_pk_constraint("orders", schema=f"pg.{SCHEMA}")["constrained_columns"] == []  # fedq has no keys
    assert inspector.get_foreign_keys("orders", schema=f"pg.{SCHEMA}") == []
    assert inspector.get_indexes("orders", schema=f"pg.{SCHEMA}") == []
    table = sqlalchemy.Table("customers", sqlalchemy.MetaData(), schema="crm", autoload_with=engine)
    with engine.connect() as con:
        rows = con.execute(sqlalchemy.select(table.c.name).where(table.c.id.in_([2, 3])).order_by(table.c.id)).fetchall()
    assert rows == [("Bob",), ("Cy",)]


def test_pandas_read_sql_table_and_query(engine, pg_admin_dsn):
    pandas = _client("pandas")
    sqlalchemy = _client("sqlalchemy")
    frame = pandas.read_sql_table("orders", engine, schema=f"pg.{SCHEMA}").sort_values("id", ignore_index=True)
    expected = _postgres(pg_admin_dsn, f"SELECT id, customer_id, amount, placed, note FROM pg.{SCHEMA}.orders ORDER BY id")
    assert len(frame) == ROWS
    assert [tuple(r) for r in frame[["id", "customer_id"]].itertuples(index=False)] == [r[:2] for r in expected]
    assert [None if pandas.isna(v) else v for v in frame["note"]] == [r[4] for r in expected]
    assert [v.date() for v in frame["placed"]] == [r[3] for r in expected]
    query = sqlalchemy.text(f"SELECT o.id, c.name FROM pg.{SCHEMA}.orders o JOIN crm.customers c ON c.id = o.customer_id "
                            "WHERE o.id = ANY(:ids) ORDER BY o.id")
    with engine.connect() as con:
        chunks = list(pandas.read_sql_query(query, con, params={"ids": [1, 2, 3, 4, 8]}, chunksize=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert pandas.concat(chunks)["name"].tolist() == ["Ann", "Bob", "Cy", "Dee", "Ann"]


def test_sqlalchemy_stream_results_uses_a_server_side_cursor(engine, pg_admin_dsn):
    sqlalchemy = _client("sqlalchemy")
    psycopg = _client("psycopg")
    cursors = []

    def seen(conn, cursor, *args) -> None:
        cursors.append(cursor)

    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as con:
            result = con.execution_options(stream_results=True, max_row_buffer=100).execute(
                sqlalchemy.text(f"SELECT id, amount FROM pg.{SCHEMA}.orders ORDER BY id"))
            partitions = list(result.partitions(500))
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)
    assert any(isinstance(c, psycopg.ServerCursor) for c in cursors)
    assert [len(p) for p in partitions] == [500] * (ROWS // 500)
    assert [tuple(r) for p in partitions for r in p] == _postgres(pg_admin_dsn, f"SELECT id, amount FROM pg.{SCHEMA}.orders ORDER BY id")


# -- ADBC ------------------------------------------------------------------------------------------
def test_adbc_postgresql_fetch_arrow_table(server, pg_dsn):
    """The ADBC driver reads pg_type (typreceive …) at connect and each result as COPY … TO STDOUT (FORMAT
    binary): the Arrow table through fedq equals the one the same driver reads from PostgreSQL."""
    adbc = _client("adbc_driver_postgresql.dbapi")
    sql = f"SELECT id, customer_id, amount, placed, note FROM pg.{SCHEMA}.orders WHERE id <= 1500 ORDER BY id"
    with adbc.connect(server["url"]) as con, con.cursor() as cur:
        cur.execute(sql)
        through_fedq = cur.fetch_arrow_table()
        cur.execute("SELECT name, country FROM crm.customers WHERE id > $1 ORDER BY id", parameters=(1,))
        assert cur.fetchall() == [("Bob", "DE"), ("Cy", "NL"), ("Dee", None)]
    with adbc.connect(pg_dsn) as con, con.cursor() as cur:
        cur.execute(sql.replace(f"pg.{SCHEMA}.", f"{SCHEMA}."))
        direct = cur.fetch_arrow_table()
    assert through_fedq.num_rows == 1500
    assert [f.type for f in through_fedq.schema] == [f.type for f in direct.schema]
    assert through_fedq.to_pylist() == direct.to_pylist()


# -- pgcli -----------------------------------------------------------------------------------------
def _pgcli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": PASSWORD, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path),
            "PGCONNECT_TIMEOUT": "5"}


def test_pgcli_dt_and_a_query(server, tmp_path):
    pgcli = _program("pgcli")
    result = subprocess.run([pgcli, "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-w", "fedq",
                             "-c", r"\dt", "-c", "SELECT name FROM crm.customers WHERE id < 3 ORDER BY id"],
                            env=_pgcli_env(tmp_path), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")[:3]) for line in result.stdout.splitlines()
            if line.startswith("|")}
    assert {("crm", "customers", "table"), (f"pg.{SCHEMA}", "orders", "table")} <= rows
    assert ("Ann",) in {r[:1] for r in rows} and ("Bob",) in {r[:1] for r in rows}
    assert "not supported" not in result.stdout + result.stderr


def test_pgcli_completion_refresh(server, tmp_path, monkeypatch):
    """What pgcli reads to complete (schemata, tables, columns, functions, types, search path) is answered."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    _client("pgcli")
    from pgcli.completion_refresher import CompletionRefresher
    from pgcli.pgcompleter import PGCompleter
    from pgcli.pgexecute import PGExecute

    executor = PGExecute("fedq", "alice", PASSWORD, "127.0.0.1", server["port"], None)
    try:
        completer = PGCompleter()
        for refresh in CompletionRefresher.refreshers.values():
            refresh(completer, executor)  # an error here is a catalog query fedq serve cannot answer
        assert executor.search_path() == ["pg_catalog"]
    finally:
        executor.conn.close()
    tables = completer.dbmetadata["tables"]
    assert "customers" in tables["crm"] and "orders" in tables[f'"pg.{SCHEMA}"']
    assert {"id", "name", "country"} <= {c for c in tables["crm"]["customers"]}


# -- psql ------------------------------------------------------------------------------------------
def test_psql_copy_to_a_file_matches_postgresql(server, pg_admin_dsn, tmp_path):
    r"""psql's \copy (query) TO file sends COPY … TO STDOUT: text and CSV files byte for byte as PostgreSQL writes them."""
    psql = _program("psql")
    query = f"SELECT id, amount, placed, note FROM pg.{SCHEMA}.orders WHERE id < 200 ORDER BY id"
    parts = urlsplit(pg_admin_dsn)
    for options in ("", "WITH CSV HEADER", "(FORMAT csv, DELIMITER ';', NULL 'none')"):
        mine, theirs = tmp_path / "fedq.out", tmp_path / "postgres.out"
        fedq = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-d", "fedq", "-X",
                               "-c", f"\\copy ({query}) TO '{mine}' {options}"], env={**os.environ, "PGPASSWORD": PASSWORD},
                              capture_output=True, text=True, timeout=30)
        assert fedq.returncode == 0 and fedq.stdout.strip() == "COPY 199", fedq.stderr
        postgres = subprocess.run([psql, "-h", parts.hostname, "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
                                   "-d", parts.path.lstrip("/"), "-X",
                                   "-c", f"\\copy ({query.replace(f'pg.{SCHEMA}.', f'{SCHEMA}.')}) TO '{theirs}' {options}"],
                                  capture_output=True, text=True, timeout=30)
        assert postgres.returncode == 0, postgres.stderr
        assert mine.read_bytes() == theirs.read_bytes(), options


def _psql(server, database: str, *commands: str) -> subprocess.CompletedProcess:
    args = [_program("psql"), "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-d", database, "-X"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, env={**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "5"},
                          capture_output=True, text=True, timeout=30)


def test_psql_describe_with_a_three_part_name(server):
    r"""psql takes ``\d db.schema.table`` only when db is the database it is connected to (it says "cross-database
    references are not implemented" before sending anything): connected to the source as a database
    (``psql -d pg``), ``\d pg.fedq_clients.orders`` describes it, and ``schema.table`` names that source's tables."""
    refused = _psql(server, "fedq", rf"\d pg.{SCHEMA}.orders")
    assert "cross-database references are not implemented" in refused.stderr  # psql's own check, not the server's
    result = _psql(server, "pg", rf"\d pg.{SCHEMA}.orders", f"SELECT count(*) AS n FROM {SCHEMA}.orders",
                   "SELECT name FROM crm.customers WHERE id = 1", r"\dt")
    assert result.returncode == 0, result.stderr
    assert f'Table "{SCHEMA}.orders"' in result.stdout
    described = {tuple(p.strip() for p in line.split("|")[:2]) for line in result.stdout.splitlines() if "|" in line}
    assert {("id", "integer"), ("amount", "numeric(10,2)"), ("placed", "date"), ("note", "text")} <= described
    assert f" {ROWS}\n" in result.stdout and " Ann\n" in result.stdout
    assert (SCHEMA, "orders") in described and ("crm", "customers") in described  # \dt: the source's schemas by name


def test_pgcli_describe_with_a_three_part_name(server, tmp_path):
    pgcli = _program("pgcli")
    result = subprocess.run([pgcli, "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "alice", "-w", "pg",
                             "-c", rf"\d pg.{SCHEMA}.orders"], env=_pgcli_env(tmp_path), capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    columns = {tuple(c.strip() for c in line.strip("|").split("|")[:2]) for line in result.stdout.splitlines() if line.startswith("|")}
    assert {("id", "integer"), ("customer_id", "integer"), ("amount", "numeric(10,2)")} <= columns


def test_prepared_fetch_is_described_without_taking_rows(server):
    """A driver that prepares FETCH (Parse, Describe statement, then Bind/Execute) loses no rows to the Describe."""
    with _connect(server, autocommit=True) as con:
        con.execute("DECLARE prepared_one CURSOR WITH HOLD FOR SELECT id, name FROM crm.customers ORDER BY id")
        cur = con.cursor()
        first = cur.execute("FETCH 2 FROM prepared_one", prepare=True)
        assert [c.name for c in first.description] == ["id", "name"] and first.fetchall() == [(1, "Ann"), (2, "Bob")]
        assert cur.execute("FETCH 2 FROM prepared_one", prepare=True).fetchall() == [(3, "Cy"), (4, "Dee")]
        con.execute("CLOSE prepared_one")


def test_copy_binary_through_psycopg_equals_the_rows_of_a_select(server):
    """COPY … TO STDOUT (FORMAT binary) read by psycopg's binary COPY loaders gives the values the same query
    gives as a SELECT (numeric, dates, times, intervals, UUIDs, arrays, NULLs)."""
    query = ("SELECT g::INTEGER AS i, (g * 1.25)::DECIMAL(12, 2) AS d, -g::BIGINT * 1000000007 AS b, g / 3.0 AS f, "
             "DATE '2024-02-28' + g::INTEGER AS day, TIMESTAMP '2024-01-01 10:00:00' + INTERVAL (g) MINUTE AS ts, "
             "TIME '23:59:59.5' AS t, INTERVAL (g) HOUR AS span, CASE WHEN g % 2 = 0 THEN 'even' END AS txt, "
             "[g, NULL, g * 2] AS arr, g % 3 = 0 AS flag, ('00000000-0000-0000-0000-' || lpad(g::VARCHAR, 12, '0'))::UUID AS u "
             "FROM range(1, 40) t(g)")
    with _connect(server, autocommit=True) as con, con.cursor() as cur:
        expected = cur.execute(query).fetchall()
        types = [c.type_code for c in cur.description]
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(types)
            rows = list(copy.rows())
    assert rows == expected and len(rows) == 39


# -- JDBC ------------------------------------------------------------------------------------------
JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java


def test_jdbc_metadata_and_set_date(server, pg_admin_dsn):
    """The PostgreSQL JDBC driver (Debian's package, not on PyPI: skipped where it is not installed):
    getTables, getColumns, getImportedKeys, getTypeInfo and a prepared statement with setDate answer as
    PostgreSQL answers the same program over the same table."""
    java = shutil.which("java")
    if java is None or not JDBC_JAR.exists():
        pytest.skip("needs java and the PostgreSQL JDBC driver: apt-get install default-jre-headless libpostgresql-jdbc-java")
    program = Path(__file__).parent / "jdbc" / "FedqJdbc.java"

    def run(url: str, user: str, password: str, schema: str) -> list[str]:
        result = subprocess.run([java, "-cp", str(JDBC_JAR), str(program), url, user, password, schema, "orders"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    through_fedq = run(f"jdbc:postgresql://127.0.0.1:{server['port']}/fedq", "alice", PASSWORD, f"pg.{SCHEMA}")
    parts = urlsplit(pg_admin_dsn)
    direct = run(f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}", parts.username or "postgres",
                 parts.password or "", SCHEMA)
    assert f"table pg.{SCHEMA}|orders" in through_fedq
    for kind in ("column ", "row ", "importedkeys "):
        assert [line for line in through_fedq if line.startswith(kind)] == [line for line in direct if line.startswith(kind)], kind
    assert sum(line.startswith("row ") for line in through_fedq) > 100
    assert int(next(line for line in through_fedq if line.startswith("typeinfo ")).split()[1]) > 20
