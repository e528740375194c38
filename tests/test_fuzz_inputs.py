"""Bad input never crashes fedq (issue 9, part 4).

Hypothesis feeds malformed input to the SQL entry point (token soups, mutated valid queries, odd
parameter values and counts), to the file readers (corrupt Parquet, broken CSV, invalid JSON) and
to the REST source (invalid JSON and wrong shapes from the real tests/rest_server.py server).
Every outcome must be a result or a ``fedq.Error`` with a message; an ``InternalError`` or any
other exception type is a crash. Runs are deterministic (``derandomize=True``).

The figures (inputs per target, crashes) print at the end of the module; see them with
``.venv/bin/python -m pytest tests/test_fuzz_inputs.py -q -s``.
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import sqlite3
import string
import traceback
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas
from rest_server import ApiServer, Reply

INPUTS: Counter[str] = Counter()  # target -> inputs fuzzed
CRASHES: Counter[str] = Counter()  # target -> inputs that raised something other than a fedq error


def fuzz_settings(examples: int):
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


def outcome(target: str, run, names: tuple[str, ...] = ()):
    """Run one fuzzed input: a result, or a fedq error with a message (naming one of ``names``)."""
    INPUTS[target] += 1
    try:
        return run()
    except fedq.InternalError:
        CRASHES[target] += 1
        raise
    except fedq.Error as error:
        message = str(error)
        assert message.strip(), f"{type(error).__name__} without a message"
        assert "internal error" not in message.lower(), message
        if names and not message.startswith("column '"):  # a value Python cannot hold names its column
            assert any(name in message for name in names), f"the error names none of {names}: {message}"
        return error
    except BaseException:
        CRASHES[target] += 1
        traceback.print_exc(limit=-12)
        raise


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    print("\n== fuzzing (tests/test_fuzz_inputs.py) ==")
    for target in sorted(INPUTS):
        print(f"  {target:<28} inputs {INPUTS[target]:>5}   crashes {CRASHES[target]}")
    print(f"  {'total':<28} inputs {sum(INPUTS.values()):>5}   crashes {sum(CRASHES.values())}")


# -- the SQL entry point ----------------------------------------------------------------------
VALID = [
    "SELECT id, name FROM crm.customers WHERE id = 1",
    "SELECT c.name, sum(o.amount) AS total FROM crm.customers c JOIN crm.orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY 2 DESC LIMIT 3",
    "SELECT * FROM lake.sales WHERE units BETWEEN 2 AND 5 AND region IN ('north', 'south')",
    "SELECT s.order_id, r.reason FROM lake.sales s LEFT JOIN lake.returns r ON r.order_id = s.order_id WHERE r.reason IS NULL",
    "WITH t AS (SELECT id FROM crm.customers WHERE name LIKE 'a%') SELECT count(*) FROM t",
    "SELECT name FROM crm.customers UNION ALL SELECT region FROM lake.sales EXCEPT SELECT 'x'",
    "SELECT CASE WHEN amount > 10 THEN 'big' ELSE 'small' END AS size, count(*) FROM crm.orders GROUP BY 1 HAVING count(*) > 0",
    "SELECT * FROM query('crm', 'SELECT id, upper(name) AS n FROM customers') q WHERE q.id <> 2",
    "SELECT kind, count(*) FROM lake.events WHERE id >= ? GROUP BY kind",
    "SELECT * FROM crm.customers WHERE name = ? OR id IN (?, ?)",
    "EXPLAIN SELECT * FROM crm.orders WHERE amount > 1.5 ORDER BY amount LIMIT 2",
    "EXPLAIN ANALYZE SELECT count(*) FROM lake.sales",
    "SELECT CAST('2024-01-01' AS DATE) + INTERVAL 3 DAY, 'it''s', E'\\n', 1e10, -0.0",
    "SHOW TABLES FROM crm",
    "SHOW SOURCES",
    "DESCRIBE crm.customers",
    "ANALYZE crm.orders",
    "SELECT id FROM crm.customers WHERE EXISTS (SELECT 1 FROM crm.orders o WHERE o.customer_id = customers.id)",
    "SELECT row_number() OVER (PARTITION BY region ORDER BY units) FROM lake.sales",
    "SELECT \"name\" FROM \"crm\".\"customers\" /* a comment */ -- another\n WHERE id = $1",
]
WORDS = (
    "SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET JOIN LEFT RIGHT FULL CROSS ON USING UNION ALL "
    "INTERSECT EXCEPT WITH AS AND OR NOT IN IS NULL BETWEEN LIKE ILIKE CASE WHEN THEN ELSE END CAST "
    "DISTINCT EXPLAIN ANALYZE SHOW DESCRIBE TABLES SOURCES ATTACH INSERT UPDATE DELETE DROP CREATE "
    "COPY PRAGMA SET CALL VALUES INTO RETURNING OVER PARTITION FILTER LATERAL RECURSIVE QUALIFY "
    "crm lake customers orders sales returns events id name amount units region kind order_id "
    "query count sum min max avg coalesce upper length date interval"
).split()
SYMBOLS = list("(),.*+-/%=<>;?|:[]{}'\"`$\\") + ["<>", "<=", ">=", "||", "::", "/*", "*/", "--", "$1", "$9",
                                                  ":name", "%s", "''", "\"\"", "\n", "\t", "\x00", "$$"]
LITERALS = ["0", "1", "-1", "2.5", "1e309", "-9223372036854775809", "99999999999999999999999999999999999999",
            "'abc'", "'2024-02-30'", "NULL", "TRUE", "x'00ff'", "'\U0001F600'", "'\u202e'", "1_000"]
TOKEN = st.sampled_from(WORDS + SYMBOLS + LITERALS) | st.text(min_size=1, max_size=6)


@st.composite
def token_soup(draw) -> str:
    tokens = draw(st.lists(TOKEN, min_size=1, max_size=25))
    if draw(st.booleans()):
        tokens.insert(0, "SELECT")
    return " ".join(tokens)


def _mutate(draw, sql: str) -> str:
    tokens = sql.split(" ")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "swap", "unicode", "huge", "nest", "nul", "truncate", "unterminated"]))
        at = draw(st.integers(0, max(0, len(tokens) - 1)))
        if kind == "insert":
            tokens.insert(at, draw(TOKEN))
        elif kind == "delete" and len(tokens) > 1:
            del tokens[at]
        elif kind == "swap":
            other = draw(st.integers(0, max(0, len(tokens) - 1)))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        elif kind == "unicode":
            tokens.insert(at, draw(st.text(min_size=1, max_size=8)))
        elif kind == "huge":
            tokens.insert(at, draw(st.sampled_from(["9" * 5000, "'" + "x" * 100_000 + "'", "1." + "0" * 400 + "1",
                                                    "\"" + "c" * 300 + "\""])))
        elif kind == "nest":
            depth = draw(st.integers(1, 300))
            tokens[at] = "(" * depth + tokens[at] + ")" * draw(st.sampled_from([depth, depth - 1, depth + 1]))
        elif kind == "nul":
            tokens.insert(at, "\x00")
        elif kind == "truncate":
            text = " ".join(tokens)
            return text[: draw(st.integers(0, len(text)))]
        elif kind == "unterminated":
            tokens.insert(at, draw(st.sampled_from(["'open", "\"open", "/* open", "$$ open", "E'\\", "`open", "[open"])))
    return " ".join(tokens)


@st.composite
def mutated_query(draw) -> str:
    return _mutate(draw, draw(st.sampled_from(VALID)))


PARAM = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.binary(max_size=10),
    st.decimals(allow_nan=True, allow_infinity=True), st.dates(), st.datetimes(), st.times(),
    st.datetimes(timezones=st.just(dt.timezone.utc)), st.timedeltas(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(object()), st.just(float("nan")), st.just(decimal.Decimal("1e-400")), st.just("\x00"),
)
PARAMS = st.one_of(st.none(), st.lists(PARAM, max_size=5), st.lists(PARAM, max_size=3).map(tuple),
                   st.dictionaries(st.text(max_size=3), PARAM, max_size=2), PARAM)


def _customers_db(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "ann"), (2, "bob"), (3, None)])
        db.execute("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount REAL)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, 1, 9.5), (2, 1, 20.0), (3, 2, 1.25)])
    db.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A SQLite file and a folder of Parquet, CSV and JSON files."""
    root = tmp_path_factory.mktemp("fuzz")
    _customers_db(root / "crm.sqlite")
    lake = root / "lake"
    lake.mkdir()
    pq.write_table(pa.table({"order_id": [1, 2, 3], "units": [2, 5, 7], "region": ["north", "south", "east"]}),
                   lake / "sales.parquet")
    (lake / "returns.csv").write_text("order_id,reason\n1,broken\n3,\n")
    (lake / "events.jsonl").write_text('{"id": 1, "kind": "click"}\n{"id": 2, "kind": "view"}\n')
    return root


class Session:
    """One connection over ``world``, rebuilt when a fuzzed ATTACH/DETACH changed its sources."""

    def __init__(self, root) -> None:
        self.root = root
        self.con = self._open()

    def _open(self) -> fedq.Connection:
        con = fedq.connect(timeout=10)
        con.attach("crm", "sqlite", path=str(self.root / "crm.sqlite"), passthrough=True)
        con.attach("lake", "files", url=str(self.root / "lake"))
        return con

    def run(self, sql, params=None):
        try:
            cursor = self.con.execute(sql, params)
            return cursor.fetchmany(50) if cursor.description else None
        finally:
            if set(self.con.catalog.sources) != {"crm", "lake"}:
                self.con.close()
                self.con = self._open()


@pytest.fixture(scope="module")
def session(world):
    session = Session(world)
    yield session
    session.con.close()


@pytest.mark.timeout(60)
@fuzz_settings(250)
@given(sql=token_soup())
def test_token_soup_gives_a_result_or_a_fedq_error(session, sql):
    outcome("sql: token soup", lambda: session.run(sql))


@pytest.mark.timeout(60)
@fuzz_settings(300)
@given(sql=mutated_query())
def test_mutated_queries_give_a_result_or_a_fedq_error(session, sql):
    outcome("sql: mutated query", lambda: session.run(sql))


@pytest.mark.timeout(60)
@fuzz_settings(200)
@given(sql=st.sampled_from(VALID), params=PARAMS)
def test_any_parameter_values_give_a_result_or_a_fedq_error(session, sql, params):
    outcome("sql: parameters", lambda: session.run(sql, params))


@pytest.mark.timeout(60)
@fuzz_settings(60)
@given(sql=st.one_of(st.text(max_size=50), st.binary(max_size=20), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)))
def test_non_sql_objects_give_a_fedq_error(session, sql):
    outcome("sql: not a string", lambda: session.run(sql))


# -- regressions the fuzzing found --------------------------------------------------------------
@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * 300 + "1" + ")" * 300,
    "SELECT " + "-" * 2000 + "1",
    "SELECT * FROM crm.customers WHERE " + "NOT " * 1000 + "id = 1",
    "SELECT " + "(SELECT " * 200 + "1" + ")" * 200,
])
def test_deep_nesting_is_a_programming_error_not_an_internal_one(session, sql):
    """sqlglot recurses per nesting level: past Python's stack it raised RecursionError (an internal error)."""
    error = outcome("sql: regressions", lambda: session.run(sql))
    if isinstance(error, fedq.Error):
        assert isinstance(error, fedq.ProgrammingError), error


@pytest.mark.timeout(20)
def test_a_huge_literal_in_a_syntax_error_is_reported_fast_and_short(session):
    """A 100 kB run of letters made the password-redacting regex take minutes (it retried the run from
    every position), and the error echoed the whole line."""
    sql = "SELECT 'ok' " + "x" * 100_000 + " FRM"
    with pytest.raises(fedq.ProgrammingError) as info:
        session.con.execute(sql)
    message = str(info.value)
    assert len(message) < 400, len(message)
    line, caret = message.splitlines()[-2:]
    assert line[caret.index("^")] in "FRM"  # the caret still sits under the offending word


# -- file readers ---------------------------------------------------------------------------------
def _parquet_bytes() -> bytes:
    table = pa.table({
        "id": pa.array(range(60), pa.int64()),
        "name": pa.array([f"n{i % 7}" for i in range(60)]),  # dictionary-encoded
        "amount": pa.array([i * 1.5 for i in range(60)]),
        "at": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(hours=i) for i in range(60)]),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=20)
    return sink.getvalue()


PARQUET = _parquet_bytes()


@st.composite
def corrupt_parquet(draw) -> bytes:
    kind = draw(st.sampled_from(["random", "magic", "truncated", "footer", "pages", "length"]))
    if kind == "random":
        return draw(st.binary(max_size=600))
    if kind == "magic":  # the magic at both ends, garbage between
        return b"PAR1" + draw(st.binary(max_size=300)) + b"PAR1"
    if kind == "truncated":
        return PARQUET[:draw(st.integers(0, len(PARQUET) - 1))]
    if kind == "length":  # the footer length field (4 bytes before the closing magic)
        return PARQUET[:-8] + draw(st.binary(min_size=4, max_size=4)) + b"PAR1"
    data = bytearray(PARQUET)
    footer = int.from_bytes(PARQUET[-8:-4], "little") + 8
    low, high = (len(data) - footer, len(data) - 5) if kind == "footer" else (4, len(data) - footer - 1)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(low, high))
        data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


class Files:
    """Each fuzzed file gets its own name and a freshly attached source (no cached schema)."""

    def __init__(self, root) -> None:
        self.root, self.count = root, 0
        self.con = fedq.connect(timeout=10)

    def run(self, suffix: str, data: bytes | dict[str, bytes], queries: list[str], **options):
        self.count += 1
        source, folder = f"f{self.count}", self.root / f"f{self.count}"
        folder.mkdir()
        files = data if isinstance(data, dict) else {f"t{suffix}": data}
        for name, content in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        table = "t"
        names = (source, *{name.split("/")[0] for name in files})

        def run_all():
            self.con.attach(source, "files", url=str(folder), **options)
            try:
                for sql in queries:
                    self.con.execute(sql.format(t=f"{source}.{table}")).fetchall()
            finally:
                self.con.detach(source)

        return outcome(f"files: {suffix.strip('.')}", run_all, names)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    files = Files(tmp_path_factory.mktemp("fuzzfiles"))
    yield files
    files.con.close()


@pytest.mark.timeout(60)
@fuzz_settings(120)
@given(data=corrupt_parquet(), reader=st.sampled_from(["duckdb", "arrow"]))
def test_corrupt_parquet_gives_a_result_or_an_error_naming_the_file(files, data, reader):
    files.run(".parquet", data, ["SELECT * FROM {t}", "SELECT name, sum(amount) FROM {t} WHERE id > 30 GROUP BY 1"],
              reader=reader)


CSV_CELL = st.one_of(
    st.integers(-10, 10).map(str), st.sampled_from(["", "\"\"", "1.5", "abc", "1e999", "NaN", "-", "0x10",
                                                   "\"a,b\"", "\"open", "a\"b", "\"\"\"", "9" * 40, "\\N"]),
    st.text(alphabet=string.printable, max_size=5),
)


@st.composite
def bad_csv(draw) -> bytes:
    header = "id,amount,name"
    rows = [f"{i},{i * 2.5},n{i}" for i in range(draw(st.integers(0, 5)))]
    for _ in range(draw(st.integers(1, 4))):
        cells = draw(st.lists(CSV_CELL, min_size=0, max_size=5))  # wrong column counts too
        rows.insert(draw(st.integers(0, len(rows))), ",".join(cells))
    text = "\n".join([header] + rows) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))
    data = text.encode()
    if draw(st.booleans()):  # invalid UTF-8 somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + data[at:]
    return data


@pytest.mark.timeout(60)
@fuzz_settings(120)
@given(data=bad_csv(), split=st.booleans())
def test_bad_csv_gives_a_result_or_an_error_naming_the_file(files, data, split):
    """``split``: a good file with typed columns first, the bad one second (the types are then fixed)."""
    if split:
        good = b"id,amount,name\n1,2.5,a\n2,5.0,b\n"
        files.run(".csv", {"t/part-1.csv": good, "t/part-2.csv": data},
                  ["SELECT * FROM {t}", "SELECT count(*), sum(amount) FROM {t} WHERE id >= 1"])
    else:
        files.run(".csv", data, ["SELECT * FROM {t}", "SELECT count(*) FROM {t} WHERE id = 1"])


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "kind", "x", ""]), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def bad_json(draw) -> bytes:
    kind = draw(st.sampled_from(["text", "truncated", "shape", "lines", "deep", "bytes"]))
    good = json.dumps([{"id": 1, "kind": "click"}, {"id": 2, "kind": "view"}])
    if kind == "text":
        return draw(st.text(max_size=40)).encode()
    if kind == "truncated":
        return good[:draw(st.integers(0, len(good) - 1))].encode()
    if kind == "shape":
        return json.dumps(draw(JSON_VALUE)).encode()
    if kind == "lines":
        return "\n".join(json.dumps(draw(JSON_VALUE)) for _ in range(draw(st.integers(1, 4)))).encode()
    if kind == "deep":
        depth = draw(st.integers(50, 100_000))
        return ("[" * depth + "]" * depth).encode() if draw(st.booleans()) else ('{"a":' * depth + "1" + "}" * depth).encode()
    return draw(st.binary(max_size=40))


@pytest.mark.timeout(60)
@fuzz_settings(120)
@given(data=bad_json(), suffix=st.sampled_from([".json", ".jsonl"]))
def test_invalid_json_files_give_a_result_or_an_error_naming_the_file(files, data, suffix):
    files.run(suffix, data, ["SELECT * FROM {t}", "SELECT count(*) FROM {t}"])  # columns may have any type


# -- REST: invalid JSON and wrong shapes from a real HTTP server -------------------------------------
class Api:
    """One real server; each example sets the reply of /api/items and attaches a fresh source."""

    def __init__(self) -> None:
        self.server = ApiServer()
        self.reply = Reply()
        self.server.route("/api/items", lambda request: self.reply)
        self.con = fedq.connect(timeout=10)
        self.count = 0

    def run(self, reply: Reply, table: dict) -> None:
        self.count += 1
        self.reply = reply
        source = f"api{self.count}"

        def run_all():
            self.con.attach(source, "rest", base_url=self.server.url + "/api", tables={"items": table},
                            max_requests_per_second=0, retry_base_seconds=0.001, max_attempts=2)
            try:
                self.con.execute(f"SELECT * FROM {source}.items").fetchall()
                self.con.execute(f"SELECT count(*) FROM {source}.items WHERE id = 1").fetchall()
            finally:
                self.con.detach(source)

        outcome("rest: bad responses", run_all, (source,))


@pytest.fixture(scope="module")
def api():
    api = Api()
    yield api
    api.con.close()
    api.server.close()


@st.composite
def bad_reply(draw) -> Reply:
    kind = draw(st.sampled_from(["text", "bytes", "shape", "records", "deep", "status"]))
    if kind == "text":
        body = draw(st.sampled_from(["", "{", "[1,", "nul", "NaN", "{\"data\": {\"items\": [", "<html>", "\ufeff[]"]) |
                    st.text(max_size=30))
    elif kind == "bytes":
        body = draw(st.binary(max_size=30))
    elif kind == "shape":
        body = draw(JSON_VALUE)
    elif kind == "records":
        body = {"data": {"items": draw(st.lists(JSON_VALUE, max_size=4)), "next": draw(JSON_VALUE)}}
    elif kind == "deep":
        depth = draw(st.integers(50, 100_000))
        body = "[" * depth + "]" * depth
    else:
        body = draw(JSON_VALUE)
        return Reply(status=draw(st.sampled_from([200, 204, 301, 400, 404, 418, 500])), body=body)
    return Reply(body=body)


REST_TABLES = [
    {"path": "/items", "records": "data.items", "pagination": {"style": "cursor", "param": "after", "next": "data.next"}},
    {"path": "/items", "records": ""},
    {"path": "/items", "records": "data.items", "columns": {"id": "bigint", "kind": "varchar", "x": "decimal(10,2)"}},
]


@pytest.mark.timeout(60)
@fuzz_settings(120)
@given(reply=bad_reply(), table=st.sampled_from(REST_TABLES))
def test_bad_rest_responses_give_a_result_or_an_error_naming_the_source(api, reply, table):
    api.run(reply, table)


def _flipped(*flips: tuple[int, int]) -> bytes:
    data = bytearray(PARQUET)
    for at, mask in flips:
        data[at] ^= mask
    return bytes(data)


@pytest.mark.parametrize("name, data", [
    ("chunk type differs from the schema's", _flipped((2269, 8))),  # pyarrow's .statistics aborted the process
    ("footer DuckDB rejects while pyarrow reads it", _flipped((2254, 1))),  # the pushdown attempt's leftovers broke the fallback plan
    ("DuckDB internal error", _flipped((2640, 1))),  # invalidated the connection's DuckDB for good
])
def test_corrupt_parquet_regressions(files, name, data):
    files.run(".parquet", data, ["SELECT * FROM {t}", "SELECT name, sum(amount) FROM {t} WHERE id > 30 GROUP BY 1"])
    assert files.con.execute("SELECT 42").fetchall() == [(42,)]  # the local engine still works


@pytest.mark.parametrize("suffix, data", [
    (".jsonl", b"null\n{\"id\": 1}\n"),  # pyarrow's JSON reader segfaults on a block opening with null
    (".json", b"null"),
    (".jsonl", b"[" * 30_000 + b"]" * 30_000),  # pyarrow overflows its stack (segfault) near 20,000 levels
    (".json", b'{"a": ' * 5_000 + b"1" + b"}" * 5_000),  # Python's json: RecursionError
])
def test_json_that_crashed_the_process_is_a_data_error(files, suffix, data):
    error = files.run(suffix, data, ["SELECT * FROM {t}"])
    assert isinstance(error, fedq.DataError), error


@pytest.mark.parametrize("data", [
    {"t/part-1.csv": b"id,amount\n1,2\n", "t/part-2.csv": b"id,amount\n1,2.5\n"},  # clashing types: ArrowTypeError
    {"t/part-1.csv": b"\xffid,amount\n1,2\n"},  # a header of invalid UTF-8 failed later, in the binder
])
def test_csv_that_raised_internal_errors_is_a_data_error(files, data):
    error = files.run(".csv", data, ["SELECT * FROM {t}"])
    assert isinstance(error, fedq.DataError), error


def test_deeply_nested_rest_json_is_a_data_error_naming_the_source(api):
    api.run(Reply(body="[" * 50_000 + "]" * 50_000), REST_TABLES[1])
    with pytest.raises(fedq.DataError, match="nests more than 100 levels"):
        api.con.attach("deep", "rest", base_url=api.server.url + "/api", tables={"items": REST_TABLES[1]},
                       max_requests_per_second=0)
        api.con.execute("SELECT * FROM deep.items")


def test_a_timestamp_past_python_s_range_is_a_data_error_naming_the_column(session):
    with pytest.raises(fedq.DataError, match="column 't'"):
        session.con.execute("SELECT TIMESTAMP '294000-01-01' AS t").fetchall()
    assert session.con.execute("SELECT TIMESTAMP '294000-01-01' AS t").fetch_arrow_table().num_rows == 1


# -- parameters bound at PostgreSQL and MariaDB ------------------------------------------------------
@pytest.fixture(scope="module")
def servers(request):
    """fedq over a small table at PostgreSQL (schema fedq_sec) and MariaDB (fedq_sec_fuzz); either may skip."""
    con = fedq.connect(timeout=10)
    attached = []
    try:
        import adbc_driver_postgresql.dbapi as pg

        dsn = request.getfixturevalue("pg_dsn")
        admin = request.getfixturevalue("pg_admin_dsn")
        request.addfinalizer(lambda: drop_pg_schemas(admin, "fedq_sec"))
        with pg.connect(admin, autocommit=True) as db, db.cursor() as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_sec")
            cur.execute("DROP TABLE IF EXISTS fedq_sec.fuzz")
            cur.execute("CREATE TABLE fedq_sec.fuzz (id bigint, v text, d date, n numeric(10,2), f float8)")
            cur.execute("INSERT INTO fedq_sec.fuzz VALUES (1, 'a', '2024-01-01', 1.5, 0.5), (2, NULL, NULL, NULL, NULL)")
        con.attach("pg", "postgres", dsn=dsn)
        attached.append("pg.fedq_sec.fuzz")
    except pytest.skip.Exception:
        pass
    try:
        import pymysql

        from fedq.sources.mysql import _parse_dsn

        dsn = request.getfixturevalue("mysql_dsn")
        my_admin = request.getfixturevalue("mysql_admin_dsn")
        request.addfinalizer(lambda: drop_mysql_tables(my_admin, "fedq_sec_fuzz"))
        with pymysql.connect(autocommit=True, **_parse_dsn(my_admin)) as db, db.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS fedq_sec_fuzz")
            cur.execute("CREATE TABLE fedq_sec_fuzz (id BIGINT, v TEXT COLLATE utf8mb4_nopad_bin, d DATE, "
                        "n DECIMAL(10,2), f DOUBLE)")
            cur.execute("INSERT INTO fedq_sec_fuzz VALUES (1, 'a', '2024-01-01', 1.5, 0.5), (2, NULL, NULL, NULL, NULL)")
        con.attach("my", "mysql", dsn=dsn)
        attached.append("my.fedq_sec_fuzz")
    except pytest.skip.Exception:
        pass
    if not attached:
        pytest.skip("neither PostgreSQL nor MariaDB is reachable")
    yield con, attached
    con.close()


@pytest.mark.timeout(60)
@fuzz_settings(150)
@given(values=st.lists(PARAM, min_size=5, max_size=5), which=st.integers(0, 1))
def test_any_parameter_values_bound_at_postgres_and_mariadb(servers, values, which):
    con, tables = servers
    table = tables[which % len(tables)]
    sql = f"SELECT * FROM {table} WHERE id = ? OR v = ? OR d < ? OR n >= ? OR f IN (?, 1)"
    outcome("sql: parameters at servers", lambda: con.execute(sql, values).fetchall())
