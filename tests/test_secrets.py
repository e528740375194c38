"""A canary password is found 0 times in catalog files, exports, errors, EXPLAIN, history and logs;
it lives only in the keyring, from which a fresh connection reads it back. The same for libpq
key=value DSNs (parsed exactly as libpq parses them, checked against libpq itself), which connect.
Secrets are written only to a keyring backend fedq trusts: plaintext, null and fail backends are
refused with an error naming the backend, and nothing is written in clear."""
from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import fedq
from fedq.catalog import conninfo
from fedq.catalog.secrets import KEYRING_SERVICE, TRUSTED_KEYRING_ENV
from fedq.repl.app import RedactedFileHistory, run_repl
from fedq.sources.postgres import _with_connect_timeout

import filekeyring
from faultproxy import FaultProxy

CANARY = "Canary-7c1e-Pw"  # PostgreSQL here trusts 127.0.0.1, so any password connects
# In a key=value DSN: a space, a quote and a backslash, each escaped; "9f3b" is searched for.
KV_CANARY = "Kv 9f3b'x\\y"
KV_CORE = "9f3b"


def _texts_of(fedq_home) -> str:
    """Everything fedq wrote under the home catalog directory (the keyring's own store aside)."""
    return "\n".join(p.read_text(errors="replace") for p in fedq_home.rglob("*")
                     if p.is_file() and "data" not in p.relative_to(fedq_home).parts)


def _all_files_text(directory) -> str:
    return "\n".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())


def _with_password(dsn: str, password: str) -> str:
    parts = urlsplit(dsn)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:{password}@{host}"))


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def pg_table(pg_admin_dsn, pg_dsn):
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_secret CASCADE")
        cur.execute("CREATE SCHEMA fedq_secret")
        cur.execute("CREATE TABLE fedq_secret.t (x integer)")
        cur.execute("INSERT INTO fedq_secret.t VALUES (1)")
    yield "pg.fedq_secret.t"
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_secret CASCADE")


@pytest.fixture
def spaced_role(pg_admin_dsn, pg_table):
    """A read-only login role whose name has a space, so a key=value DSN must quote it."""
    import adbc_driver_postgresql.dbapi as pgdb

    role = f"fedq kv {uuid.uuid4().hex[:8]}"
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'GRANT pg_read_all_data TO "{role}"')
    yield role
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
        cur.execute(f'DROP ROLE IF EXISTS "{role}"')


def _kv_dsn(pg_dsn: str, user: str, password: str, port: int | None = None) -> str:
    """The test server's address as a key=value DSN, every value quoted as libpq needs."""
    parts = urlsplit(pg_dsn)
    return conninfo.render([("host", parts.hostname or "127.0.0.1"), ("port", str(port or parts.port or 5432)),
                            ("dbname", parts.path.lstrip("/")), ("user", user), ("password", password)])


def _keyring_entry(user: str) -> str | None:
    return filekeyring.FileKeyring().get_password(KEYRING_SERVICE, user)


# -- the URL DSN ---------------------------------------------------------------------------------
def test_the_canary_password_appears_nowhere_but_the_keyring(pg_dsn, pg_table, mysql_dsn, fedq_home, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    dsn = _with_password(pg_dsn, CANARY)
    assert CANARY in dsn
    seen: list[str] = []
    with fedq.connect() as con:
        con.execute(f"ATTACH '{dsn}' AS pg (TYPE postgres, PERSISTENT, PASSTHROUGH true)")
        con.execute("CREATE VIEW one AS SELECT 1 AS x FROM pg.fedq_secret.t")
        seen += [str(row) for row in con.execute("EXPLAIN SELECT * FROM one").fetchall()]
        seen += [str(row) for row in con.execute("EXPLAIN ANALYZE SELECT * FROM one").fetchall()]
        seen += [str(row) for row in con.execute("SHOW SOURCES").fetchall()]
        seen.append(repr(con.source("pg")))
        for bad in ("SELECT * FROM pg.no_such_table", "SELECT nonsense FROM pg.fedq_secret.t",
                    f"SELECT * FROM query('pg', 'SELECT ''{CANARY}'' FROM nowhere')"):
            with pytest.raises(fedq.Error) as caught:
                con.execute(bad)
            seen.append(str(caught.value))
        con.attach("down", "postgres", dsn=_with_password(pg_dsn, CANARY).replace(":5432/", ":1/"), connect_timeout=2)
        with pytest.raises(fedq.OperationalError) as caught:
            con.execute("SELECT * FROM down.t")
        seen.append(str(caught.value))
        con.attach("my", "mysql", dsn=_with_password(mysql_dsn, CANARY))
        with pytest.raises(fedq.OperationalError) as caught:
            con.execute("SELECT * FROM my.t")
        seen.append(str(caught.value))
        assert "Access denied" in seen[-1]
    exported = subprocess.run([sys.executable, "-m", "fedq.repl.cli", "catalog", "export"],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    assert "${keyring:fedq/pg.dsn}" in exported.stdout
    seen += [exported.stdout, exported.stderr]
    history = RedactedFileHistory(str(tmp_path / "history"))
    history.store_string(f"ATTACH '{dsn}' AS pg2 (TYPE postgres);")
    seen.append((tmp_path / "history").read_text())

    with fedq.connect() as again:  # a fresh connection reads the password back from the keyring
        assert again.execute("SELECT * FROM one").fetchall() == [(1,)]
        assert again.source("pg").dsn == dsn

    everything = "\n".join(seen) + _texts_of(fedq_home) + caplog.text
    assert "source 'down' (postgres): could not connect" in everything  # the errors were really collected
    assert everything.count(CANARY) == 0
    assert _keyring_entry("pg.dsn") == CANARY


@pytest.fixture
def no_keyring():
    """The process's keyring backend is chosen once, so it is swapped here (and restored)."""
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    yield
    keyring.set_keyring(previous)


def test_without_a_keyring_a_clear_secret_is_not_persisted(pg_dsn, fedq_home, no_keyring):
    dsn = _with_password(pg_dsn, CANARY)
    with fedq.connect() as con:
        with pytest.raises(fedq.ProgrammingError, match=r"source 'pg': setting 'dsn' holds a secret .* no keyring") as caught:
            con.execute(f"ATTACH '{dsn}' AS pg (TYPE postgres, PERSISTENT)")
        assert CANARY not in str(caught.value)
        assert "pg" not in con.catalog.sources  # nothing half-added
        con.attach("pg", "postgres", dsn=dsn)  # for this session only: allowed, nothing written
    assert not (fedq_home / "catalog.toml").exists()


def test_env_and_keyring_references_are_kept_as_references(pg_dsn, pg_table, fedq_home, monkeypatch):
    import keyring

    keyring.set_password("team", "pg", CANARY)
    monkeypatch.setenv("FEDQ_TEST_PG_USER", urlsplit(pg_dsn).username)
    parts = urlsplit(pg_dsn)
    dsn = urlunsplit(parts._replace(netloc="${FEDQ_TEST_PG_USER}:${keyring:team/pg}@" + parts.netloc.rpartition("@")[2]))
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=dsn, persistent=True)
        assert con.execute("SELECT count(*) > 0 FROM pg.fedq_secret.t").fetchall() == [(True,)]
    text = (fedq_home / "catalog.toml").read_text()
    assert "${FEDQ_TEST_PG_USER}:${keyring:team/pg}@" in text and CANARY not in text
    keyring.delete_password("team", "pg")
    with pytest.raises(fedq.ProgrammingError, match="no keyring entry for service 'team', user 'pg'"):
        fedq.connect()


def test_a_password_query_parameter_of_a_url_goes_to_the_keyring(pg_dsn, pg_table, fedq_home):
    dsn = f"{pg_dsn}?sslmode=disable&password={CANARY}"
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=dsn, persistent=True)
        with pytest.raises(fedq.OperationalError) as caught:
            con.attach("down", "postgres", dsn=dsn.replace(":5432/", ":1/"), connect_timeout=2)
            con.execute("SELECT * FROM down.t")
        assert CANARY not in str(caught.value) + str(con.execute("SHOW SOURCES").fetchall())
    text = (fedq_home / "catalog.toml").read_text()
    assert "sslmode=disable&password=${keyring:fedq/pg.dsn.password}" in text and CANARY not in text
    assert _keyring_entry("pg.dsn.password") == CANARY
    with fedq.connect() as again:
        assert again.source("pg").dsn == dsn
        assert again.execute("SELECT x FROM pg.fedq_secret.t").fetchall() == [(1,)]


# -- key=value DSNs: parsed as libpq parses them -----------------------------------------------------
class _Option(ctypes.Structure):
    _fields_ = [("keyword", ctypes.c_char_p), ("envvar", ctypes.c_char_p), ("compiled", ctypes.c_char_p),
                ("val", ctypes.c_char_p), ("label", ctypes.c_char_p), ("dispchar", ctypes.c_char_p),
                ("dispsize", ctypes.c_int)]


def _libpq_parse(text: str) -> dict[str, str] | None:
    """libpq's own reading of ``text`` (PQconninfoParse): the settings it holds, None if it rejects it."""
    name = ctypes.util.find_library("pq")
    if name is None:
        pytest.skip("libpq (libpq.so) is not installed: nothing to compare the parser with")
    pq = ctypes.CDLL(name)
    pq.PQconninfoParse.restype = ctypes.POINTER(_Option)
    pq.PQconninfoParse.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
    error = ctypes.c_char_p()
    options = pq.PQconninfoParse(text.encode(), ctypes.byref(error))
    if not options:
        pq.PQfreemem(error)
        return None
    found, index = {}, 0
    while options[index].keyword:
        if options[index].val is not None:
            found[options[index].keyword.decode()] = options[index].val.decode()
        index += 1
    pq.PQconninfoFree(options)
    return found


CONNINFO_CASES = [
    "host=127.0.0.1 port=5432 dbname=test user=postgres password=s3cret",
    "host = a   password = 'x y'",
    "password='a\\'b\\\\c' host=h",
    "password= host=h",  # libpq skips the space after '=': the password is "host=h"
    "password=a\\ b\thost=h\n",
    "password=ab'cd",
    "password=a\\",
    "password='' host=h",
    "host=a host=b",
    "  dbname='my db'  ",
    "password='unterminated",
    "host=a  port",
    "password='a''b'",
    "=x",
]


@pytest.mark.parametrize("text", CONNINFO_CASES)
def test_key_value_dsns_are_parsed_exactly_as_libpq_parses_them(text):
    expected = _libpq_parse(text)
    if expected is None:
        with pytest.raises(ValueError, match=r"key=value DSN: .* at character \d+"):
            conninfo.parse(text)
        return
    assert conninfo.settings(text) == expected
    assert _libpq_parse(conninfo.render(conninfo.parse(text))) == expected  # written back, read the same


@pytest.mark.parametrize("text, kept", [
    (f"host=h password={conninfo.quote(KV_CANARY)} port=1", "host=h password=*** port=1"),  # quoted, escaped quote
    (f"host=h password={conninfo.escape_bare(KV_CANARY)} port=1", "host=h password=*** port=1"),  # bare, escaped space
    (f"ATTACH {_sql_string('host=h password=' + conninfo.quote(KV_CANARY))} AS pg", "ATTACH 'host=h password=*** AS pg"),
    (f"ATTACH 'host=h password={KV_CORE}x' AS pg", "ATTACH 'host=h password=***' AS pg"),  # the SQL quote stays
    (f"sslpassword={KV_CORE} host=h", "sslpassword=*** host=h"),
    (f"password='{KV_CORE} unterminated", "password=***"),
])
def test_free_text_redaction_understands_libpq_quoting(text, kept):
    """Error text and REPL history are not DSNs to parse: the pattern must still cover every way a
    libpq value is written, also inside a SQL string literal (quotes doubled)."""
    from fedq.errors import redact

    assert redact(text) == kept


def test_parse_errors_name_a_position_never_the_text():
    for text in (f"host=h password='{KV_CORE} and more", f"host=h password='{KV_CORE}''x'"):
        with pytest.raises(ValueError) as caught:
            conninfo.parse(text)
        assert KV_CORE not in str(caught.value) and "character" in str(caught.value)


def test_connect_timeout_is_added_the_libpq_way_and_the_dsn_s_own_value_wins():
    dsn = "host=h password='a b' keepalives_idle=99"
    added = _with_connect_timeout(dsn, 2.5)
    assert _libpq_parse(added) == {"host": "h", "password": "a b", "keepalives_idle": "99", "connect_timeout": "2",
                                   "keepalives": "1", "keepalives_interval": "5", "keepalives_count": "3",
                                   "tcp_user_timeout": "30000"}
    assert _libpq_parse(_with_connect_timeout("host=h connect_timeout=7", 2))["connect_timeout"] == "7"
    with pytest.raises(ValueError, match="unterminated quoted value starting at character 17"):
        _with_connect_timeout("host=h password='a b", 2)


def test_a_key_value_dsn_connects_with_a_quoted_value_holding_a_space(pg_dsn, pg_admin_dsn, spaced_role, fedq_home):
    import adbc_driver_postgresql.dbapi as pgdb

    dsn = _kv_dsn(pg_dsn, spaced_role, KV_CANARY)
    assert f"user='{spaced_role}'" in dsn and "password='Kv 9f3b\\'x\\\\y'" in dsn
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=dsn, persistent=True)
        assert con.execute("SELECT x FROM pg.fedq_secret.t").fetchall() == [(1,)]
        with pgdb.connect(pg_admin_dsn, autocommit=True) as admin, admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", parameters=(spaced_role,))
            assert cur.fetchall() == [(1,)]  # fedq's pooled session is logged in as the quoted role
        assert con.execute("SHOW SOURCES").fetchall() == [("pg", "postgres", "postgres 127.0.0.1:5432/test")]
    with fedq.connect() as again:  # read back from the keyring: the same settings, and it connects
        assert conninfo.settings(again.source("pg").dsn) == conninfo.settings(dsn)
        assert again.execute("SELECT x FROM pg.fedq_secret.t").fetchall() == [(1,)]


def test_a_key_value_dsn_honours_its_connect_timeout(pg_dsn, spaced_role):
    with FaultProxy(urlsplit(pg_dsn).port or 5432) as proxy, fedq.connect(home=False) as con:
        proxy.set("swallow", after=0)  # a black-holed path: without a connect timeout libpq waits for ever
        con.attach("pg", "postgres", dsn=_kv_dsn(pg_dsn, spaced_role, KV_CANARY, port=proxy.port), connect_timeout=2)
        started = time.monotonic()
        with pytest.raises(fedq.OperationalError, match="source 'pg' \\(postgres\\): could not connect") as caught:
            con.execute("SELECT x FROM pg.fedq_secret.t")
        assert time.monotonic() - started < 10 and "timeout expired" in str(caught.value)
        assert KV_CORE not in str(caught.value)


def _repl_transcript(con: fedq.Connection, keys: str, history: RedactedFileHistory) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(con, banner="welcome", out=out, input=pipe, output=DummyOutput(), history=history)
    return out.getvalue()


def test_a_key_value_password_appears_nowhere_but_the_keyring(pg_dsn, spaced_role, fedq_home, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    dsn = _kv_dsn(pg_dsn, spaced_role, KV_CANARY)
    seen: list[str] = []
    history = RedactedFileHistory(str(tmp_path / "history"))
    with fedq.connect() as con:
        seen.append(_repl_transcript(con, "".join(line + "\r" for line in [
            f"ATTACH {_sql_string(dsn)} AS pg (TYPE postgres, PERSISTENT);", "\\sources",
            "SELECT x FROM pg.fedq_secret.t;", "\\q"]), history))
        assert "postgres 127.0.0.1:5432/test" in seen[-1] and "(1 row" in seen[-1]  # the REPL really ran them
        con.execute("CREATE VIEW one AS SELECT x FROM pg.fedq_secret.t")
        for explain in ("EXPLAIN SELECT * FROM one", "EXPLAIN ANALYZE SELECT * FROM one", "SHOW SOURCES"):
            seen += [str(row) for row in con.execute(explain).fetchall()]
        seen += [repr(con.source("pg")), con.export_catalog()]
        failing = {"down": _kv_dsn(pg_dsn, spaced_role, KV_CANARY, port=1),  # nothing listens there
                   "nodb": dsn.replace("dbname=test", "dbname=no_such_db")}
        for name, bad in failing.items():
            con.attach(name, "postgres", dsn=bad, connect_timeout=2)
            with pytest.raises(fedq.OperationalError, match=f"source '{name}' \\(postgres\\): could not connect") as caught:
                con.execute(f"SELECT * FROM {name}.t")
            seen.append(str(caught.value))
        assert 'database "no_such_db" does not exist' in seen[-1]
        con.attach("broken", "postgres", dsn=dsn.replace("password='", "password='x''"), connect_timeout=2)
        with pytest.raises(fedq.OperationalError, match="missing '=' after the keyword at character") as caught:
            con.execute("SELECT * FROM broken.t")
        seen.append(str(caught.value))
    exported = subprocess.run([sys.executable, "-m", "fedq.repl.cli", "catalog", "export"],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    assert "password=${keyring:fedq/pg.dsn}" in exported.stdout
    seen += [exported.stdout, exported.stderr, (tmp_path / "history").read_text()]
    everything = "\n".join(seen) + _texts_of(fedq_home) + caplog.text
    assert "ATTACH" in everything and "password=***" in everything  # the history was really written
    assert everything.count(KV_CORE) == 0
    assert _keyring_entry("pg.dsn") == conninfo.escape_bare(KV_CANARY)  # as it stands bare in the DSN
    with fedq.connect() as again:
        assert conninfo.settings(again.source("pg").dsn)["password"] == KV_CANARY


def test_ssl_password_and_repeated_passwords_are_all_protected(fedq_home):
    dsn = f"host=h password=first sslpassword={conninfo.quote(KV_CANARY)} password={CANARY}"
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=dsn, persistent=True)
    text = (fedq_home / "catalog.toml").read_text()
    assert KV_CORE not in text and CANARY not in text and "first" not in text
    assert _keyring_entry("pg.dsn") == CANARY  # the value libpq uses: the last one
    assert _keyring_entry("pg.dsn.sslpassword") == conninfo.escape_bare(KV_CANARY)
    with fedq.connect() as again:
        assert conninfo.settings(again.source("pg").dsn) == conninfo.settings(dsn)


# -- only trusted keyrings get secrets --------------------------------------------------------------
@pytest.fixture
def backend():
    """Swap the process's keyring backend for one test (``backend(instance)``) and restore it."""
    import keyring

    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def _plaintext_keyring(directory):
    from keyrings.alt.file import PlaintextKeyring

    store = PlaintextKeyring()
    store.file_path = str(directory / "keyring_pass.cfg")
    return store


def _chain_of(*members):
    from keyring.backends.chainer import ChainerBackend

    class Chain(ChainerBackend):
        backends = list(members)

    return Chain()


def _refused(fedq_home, dsn: str) -> str:
    with fedq.connect() as con:
        with pytest.raises(fedq.ProgrammingError) as caught:
            con.attach("pg", "postgres", dsn=dsn, persistent=True)
        assert "pg" not in con.catalog.sources
    assert not (fedq_home / "catalog.toml").exists()
    return str(caught.value)


def test_the_plaintext_keyring_is_refused_and_nothing_is_written_in_clear(fedq_home, tmp_path, backend, monkeypatch):
    monkeypatch.delenv(TRUSTED_KEYRING_ENV)
    backend(_plaintext_keyring(tmp_path))
    message = _refused(fedq_home, f"host=h password={conninfo.quote(KV_CANARY)}")
    assert ("source 'pg': setting 'dsn' holds a secret and fedq never writes secrets in clear text; the keyring "
            "backend keyrings.alt.file.PlaintextKeyring is not one fedq trusts") in message
    assert "FEDQ_TRUSTED_KEYRING=keyrings.alt.file.PlaintextKeyring" in message and KV_CORE not in message
    assert not (tmp_path / "keyring_pass.cfg").exists()
    assert KV_CORE not in _all_files_text(tmp_path) + _all_files_text(fedq_home)


@pytest.mark.parametrize("kind", ["null", "chain of plaintext", "chain starting with plaintext", "empty chain"])
def test_backends_that_lose_or_expose_secrets_are_refused(kind, fedq_home, tmp_path, backend):
    from keyring.backends.null import Keyring as NullKeyring

    plaintext = _plaintext_keyring(tmp_path)
    backend({"null": NullKeyring(), "chain of plaintext": _chain_of(plaintext),
             "chain starting with plaintext": _chain_of(plaintext, filekeyring.FileKeyring()),
             "empty chain": _chain_of()}[kind])
    message = _refused(fedq_home, f"postgresql://u:{CANARY}@h/db")
    expected = {"null": "the keyring backend keyring.backends.null.Keyring is not one fedq trusts",
                "empty chain": "no keyring is available here"}.get(kind, "the keyring backend keyrings.alt.file.PlaintextKeyring")
    assert expected in message and CANARY not in message
    assert CANARY not in _all_files_text(tmp_path) + _all_files_text(fedq_home)


def test_every_trusted_backend_name_is_a_real_keyring_class():
    """A misspelt allowlist entry would silently trust nothing (or refuse a secure store)."""
    import importlib

    from keyring.backend import KeyringBackend

    from fedq.catalog.secrets import TRUSTED_KEYRINGS

    for name in TRUSTED_KEYRINGS:
        module, _, attribute = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attribute)
        assert issubclass(cls, KeyringBackend) and f"{cls.__module__}.{cls.__qualname__}" == name


def test_a_chain_writes_to_its_first_backend_when_that_one_is_trusted(fedq_home, tmp_path, backend):
    plaintext = _plaintext_keyring(tmp_path)
    backend(_chain_of(filekeyring.FileKeyring(), plaintext))
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=f"host=h password={CANARY}", persistent=True)
    assert _keyring_entry("pg.dsn") == CANARY and not (tmp_path / "keyring_pass.cfg").exists()


def test_fedq_trusted_keyring_is_an_explicit_opt_in(fedq_home, tmp_path, backend, monkeypatch):
    backend(_plaintext_keyring(tmp_path))
    monkeypatch.setenv(TRUSTED_KEYRING_ENV, f"{filekeyring.NAME}, keyrings.alt.file.PlaintextKeyring")
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=f"host=h password={CANARY}", persistent=True)
    assert "password=${keyring:fedq/pg.dsn}" in (fedq_home / "catalog.toml").read_text()
    assert _plaintext_keyring(tmp_path).get_password(KEYRING_SERVICE, "pg.dsn") == CANARY


def test_catalog_export_refuses_a_plaintext_keyring_in_a_subprocess(fedq_home):
    """A hand-written home catalog with a clear key=value password: exporting it would move the
    password to the keyring, and the keyring named by PYTHON_KEYRING_BACKEND is plaintext."""
    (fedq_home / "catalog.toml").write_text(f'[sources.pg]\ntype = "postgres"\ndsn = "host=h password={CANARY}"\n')
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    env.pop(TRUSTED_KEYRING_ENV)
    exported = subprocess.run([sys.executable, "-m", "fedq.repl.cli", "catalog", "export"],
                              capture_output=True, text=True, timeout=60, env=env)
    assert exported.returncode == 1
    assert "the keyring backend keyrings.alt.file.PlaintextKeyring is not one fedq trusts" in exported.stderr
    assert CANARY not in exported.stdout + exported.stderr
    assert not list(fedq_home.rglob("keyring_pass.cfg"))  # PlaintextKeyring's file (under XDG_DATA_HOME)
    assert CANARY not in _all_files_text(fedq_home / "data")


def test_reading_a_keyring_reference_works_through_any_backend(pg_dsn, pg_table, fedq_home, tmp_path, backend, monkeypatch):
    """Reading writes nothing, and the user chose where that secret lives: allowed, as documented."""
    monkeypatch.delenv(TRUSTED_KEYRING_ENV)
    plaintext = _plaintext_keyring(tmp_path)
    plaintext.set_password("team", "pg", CANARY)
    backend(plaintext)
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=_with_password(pg_dsn, "${keyring:team/pg}"), persistent=True)
        assert con.source("pg").dsn == _with_password(pg_dsn, CANARY)
        assert con.execute("SELECT x FROM pg.fedq_secret.t").fetchall() == [(1,)]
