"""A canary password is found 0 times in catalog files, exports, errors, EXPLAIN, history and logs;
it lives only in the keyring, from which a fresh connection reads it back."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import fedq
from fedq.repl.app import RedactedFileHistory

CANARY = "Canary-7c1e-Pw"  # PostgreSQL here trusts 127.0.0.1, so any password connects


def _texts_of(fedq_home) -> str:
    """Everything fedq wrote under the home catalog directory (the keyring's own store aside)."""
    return "\n".join(p.read_text(errors="replace") for p in fedq_home.rglob("*")
                     if p.is_file() and "data" not in p.relative_to(fedq_home).parts)


@pytest.fixture
def pg_table(pg_dsn):
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(pg_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS fedq_secret CASCADE")
        cur.execute("CREATE SCHEMA fedq_secret")
        cur.execute("CREATE TABLE fedq_secret.t (x integer)")
        cur.execute("INSERT INTO fedq_secret.t VALUES (1)")
    return "pg.fedq_secret.t"


def test_the_canary_password_appears_nowhere_but_the_keyring(pg_dsn, pg_table, mysql_dsn, fedq_home, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{CANARY}@")
    assert CANARY in dsn
    seen: list[str] = []
    with fedq.connect() as con:
        con.execute(f"ATTACH '{dsn}' AS pg (TYPE postgres, PERSISTENT)")
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
        con.attach("down", "postgres", dsn=f"postgresql://postgres:{CANARY}@127.0.0.1:1/test", connect_timeout=2)
        with pytest.raises(fedq.OperationalError) as caught:
            con.execute("SELECT * FROM down.t")
        seen.append(str(caught.value))
        con.attach("my", "mysql", dsn=mysql_dsn.replace("mysql://root@", f"mysql://root:{CANARY}@"))
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
    dsn = pg_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{CANARY}@")
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
    monkeypatch.setenv("FEDQ_TEST_PG_USER", "postgres")
    dsn = pg_dsn.replace("postgresql://postgres@", "postgresql://${FEDQ_TEST_PG_USER}:${keyring:team/pg}@")
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=dsn, persistent=True)
        assert con.execute("SELECT count(*) > 0 FROM pg.fedq_secret.t").fetchall() == [(True,)]
    text = (fedq_home / "catalog.toml").read_text()
    assert "${FEDQ_TEST_PG_USER}:${keyring:team/pg}@" in text and CANARY not in text
    keyring.delete_password("team", "pg")
    with pytest.raises(fedq.ProgrammingError, match="no keyring entry for service 'team', user 'pg'"):
        fedq.connect()
