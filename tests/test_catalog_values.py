"""Every source setting is checked when the source is attached (catalog file, ``Connection.attach``,
SQL ``ATTACH``): a wrong type or an out-of-range value is a ProgrammingError naming the source, the
setting, the expected type and the value, never a Python traceback or a value silently accepted
(issue 14, item 2: ``path = 5``, ``type = 7``, ``dsn = 5432``, ``tables = "sales"``,
``max_parallel_reads = "four"``, ``metadata_ttl = -5``).

The settings and what they accept come from the source classes' declarations (sources/settings.py),
so a setting added later is covered here without a new test.
"""
from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

import pytest
import tomli_w

import fedq
from fedq.sources import REGISTRY, source_class
from fedq.sources.settings import ConnectionSettings, OneOf, Range, declared, source_settings

SECRET = "s3cretHeaderValue"


def base_settings(type_name: str, tmp_path: Path) -> dict[str, Any]:
    """Settings that make a source of ``type_name`` attach without contacting anything."""
    return {
        "postgres": {"dsn": "postgresql://u@127.0.0.1:1/db"},
        "mysql": {"dsn": "mysql://u@127.0.0.1:1/db"},
        "sqlite": {"path": str(tmp_path / "db.sqlite")},
        "duckdb": {"path": str(tmp_path / "db.duckdb")},
        "files": {"url": str(tmp_path)},
        "rest": {"base_url": "http://127.0.0.1:1", "tables": {"t": {"path": "/t"}}},
    }[type_name]


def _plain(hint: Any) -> tuple[Any, list[Any]]:
    """(the type without Annotated, its rules)."""
    rules: list[Any] = []
    while typing.get_origin(hint) is Annotated:
        rules += list(hint.__metadata__)
        hint = typing.get_args(hint)[0]
    return hint, rules


def wrong_values(hint: Any) -> list[Any]:
    """Values a setting declared as ``hint`` must refuse: another type, and each rule broken."""
    hint, rules = _plain(hint)
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):  # wrong for every member (None is right only for None)
        members = [wrong_values(a) for a in typing.get_args(hint) if a is not type(None)]
        return [v for v in members[0] if all(v in m for m in members)]
    values: list[Any] = {bool: ["maybe", 1], int: ["four", 2.5, True], float: ["fast", True], str: [5, ["a"]]}.get(hint, [])
    if origin is dict:
        values = ["sales", ["a"]] + ([{"k": 5}] if typing.get_args(hint)[1] is str else [])
    if origin is list:
        values = ["sales", {"a": 1}] + ([["a", 5]] if typing.get_args(hint)[0] is str else [])
    for rule in rules:
        if isinstance(rule, Range) and rule.low is not None:
            values.append(hint(rule.low) if rule.above else hint(rule.low) - 1)
        if isinstance(rule, OneOf):
            values.append("no-such-" + rule.values[0])
    return values


CASES = [(type_name, key, value)
         for type_name in sorted(REGISTRY)
         for key, (hint, _) in sorted(source_settings(source_class(type_name)).items())
         for value in wrong_values(hint)]


def _assert_names_everything(message: str, type_name: str, key: str, value: Any, secret: bool, file: Path | None = None) -> None:
    where = f"catalog file {file}: " if file else ""
    assert message.startswith(f"{where}source 's' ({type_name}): setting '{key}' must be "), message
    if secret:
        assert message.endswith("(value not shown)") and repr(value) not in message.split(" must be ", 1)[1], message
    else:
        assert message.endswith(f", not {value!r}"), message
    assert "Traceback" not in message


def test_every_source_type_has_settings_to_check():
    assert {t for t, _, _ in CASES} == set(REGISTRY)
    for type_name in REGISTRY:  # a declared type this file cannot make wrong values for would go untested
        assert {k for t, k, _ in CASES if t == type_name} == set(source_settings(source_class(type_name)))
    assert len(CASES) > 40


@pytest.mark.parametrize("type_name,key,value", CASES, ids=[f"{t}-{k}-{v!r}" for t, k, v in CASES])
def test_wrong_value_from_python_attach_names_source_key_type_and_value(tmp_path, type_name, key, value):
    settings = {**base_settings(type_name, tmp_path), key: value}
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError) as caught:
            con.attach("s", type_name, **settings)
        assert con.catalog.sources == {}
    _assert_names_everything(str(caught.value), type_name, key, value, source_settings(source_class(type_name))[key][1])


@pytest.mark.parametrize("type_name,key,value", CASES, ids=[f"{t}-{k}-{v!r}" for t, k, v in CASES])
def test_wrong_value_in_a_catalog_file_names_source_key_type_and_value(tmp_path, type_name, key, value):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(tomli_w.dumps({"sources": {"s": {"type": type_name, **base_settings(type_name, tmp_path), key: value}}}))
    with pytest.raises(fedq.ProgrammingError) as caught:
        fedq.connect(catalog=str(catalog), home=False)
    _assert_names_everything(str(caught.value), type_name, key, value, source_settings(source_class(type_name))[key][1], catalog)


SQL_LOCATION = {"postgres": "dsn", "mysql": "dsn", "sqlite": "path", "duckdb": "path", "files": "url", "rest": "dsn"}
SQL_CASES = [(t, k, v) for t, k, v in CASES
             if isinstance(v, str) and k != SQL_LOCATION[t] and t != "rest"
             and _plain(source_settings(source_class(t))[k][0])[0] in (bool, int, float, str)]


@pytest.mark.parametrize("type_name,key,value", SQL_CASES, ids=[f"{t}-{k}-{v!r}" for t, k, v in SQL_CASES])
def test_wrong_value_in_sql_attach_gets_the_same_message(tmp_path, type_name, key, value):
    location = base_settings(type_name, tmp_path)[SQL_LOCATION[type_name]]
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError) as caught:
            con.execute(f"ATTACH '{location}' AS s (TYPE {type_name}, {key.upper()} '{value}')")
    _assert_names_everything(str(caught.value), type_name, key, value, False)


# -- the issue's examples, message for message -------------------------------------------------------------
@pytest.mark.parametrize("written,message", [
    ('type = "sqlite"\npath = 5', "source 's' (sqlite): setting 'path' must be a text, not 5"),
    ("type = 7", "source 's': setting 'type' must be a text naming the source type "
                 "(duckdb, files, mysql, postgres, rest, sqlite), not 7"),
    ('type = "postgres"\ndsn = 5432', "source 's' (postgres): setting 'dsn' must be a text, "
                                      "not a whole number (value not shown)"),
    ('type = "files"\nurl = "."\ntables = "sales"',
     "source 's' (files): setting 'tables' must be a table whose values are each a text, not 'sales'"),
    ('type = "postgres"\ndsn = "postgresql://u@h/db"\nmax_parallel_reads = "four"',
     "source 's' (postgres): setting 'max_parallel_reads' must be a whole number (at least 1), not 'four'"),
    ('type = "sqlite"\npath = "a.sqlite"\nmetadata_ttl = -5',
     "source 's' (sqlite): setting 'metadata_ttl' must be a number (at least 0), not -5"),
    ('type = "files"\nurl = 3', "source 's' (files): setting 'url' must be a text, not 3"),
])
def test_issue_examples_in_a_catalog_file(tmp_path, written, message):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f"[sources.s]\n{written}\n")
    with pytest.raises(fedq.ProgrammingError) as caught:
        fedq.connect(catalog=str(catalog), home=False)
    assert str(caught.value) == f"catalog file {catalog}: {message}"


def test_a_bad_value_in_the_home_catalog_names_the_home_catalog_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalog.toml").write_text('[sources.s]\ntype = "sqlite"\npath = "a.sqlite"\nmetadata_ttl = "soon"\n')
    with pytest.raises(fedq.ProgrammingError, match=rf"^catalog file {home / 'catalog.toml'}: source 's' \(sqlite\): "
                                                    r"setting 'metadata_ttl' must be a number \(at least 0\), not 'soon'$"):
        fedq.connect(home=home)


def test_a_secret_setting_of_the_wrong_type_is_not_echoed(tmp_path):
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError, match="setting 'headers' must be a table") as caught:
            con.attach("s", "rest", **{**base_settings("rest", tmp_path), "headers": f"Bearer {SECRET}"})
    assert SECRET not in str(caught.value)


def test_a_password_in_a_wrong_value_is_redacted(tmp_path):
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError) as caught:
            con.attach("s", "files", url=str(tmp_path), tables={"t": f"postgresql://u:{SECRET}@h/db", "u": 5})
    assert SECRET not in str(caught.value)


def test_unknown_setting_lists_the_allowed_ones(tmp_path):
    with fedq.connect(home=False) as con:
        with pytest.raises(fedq.ProgrammingError, match=r"source 's' \(sqlite\): unknown setting\(s\) \['colour'\]; "
                                                        r"allowed: \['metadata_ttl', 'passthrough', 'path'\]"):
            con.attach("s", "sqlite", path=str(tmp_path / "a.sqlite"), colour="red")


# -- right values are accepted, and typed as declared ---------------------------------------------------------
def test_every_declared_default_satisfies_its_own_declaration(tmp_path):
    """A declaration that refused its own default would make every source of that type fail."""
    for type_name in REGISTRY:
        cls = source_class(type_name)
        with fedq.connect(home=False) as con:
            source = con.attach("s", type_name, **base_settings(type_name, tmp_path))
            defaults = {k: getattr(source, k) for k in source_settings(cls) if k != "metadata_ttl"}
            con.detach("s")
            con.attach("s", type_name, **defaults)


def test_sql_attach_converts_text_by_the_declared_type(tmp_path):
    with fedq.connect(home=False) as con:
        con.execute("ATTACH 'postgresql://u@127.0.0.1:1/db' AS pg (TYPE postgres, MAX_PARALLEL_READS '3', "
                    "CONNECT_TIMEOUT 2.5, PARALLEL_READ_MIN_PAGES 16, ALLOW_PRIVILEGED_ROLE 'off', PASSTHROUGH 'on')")
        source = con.source("pg")
        assert (source.max_parallel_reads, source.connect_timeout, source.parallel_read_min_pages) == (3, 2.5, 16)
        assert source.allow_privileged_role is False and source.passthrough is True
        con.execute(f"ATTACH '{tmp_path}' AS f (TYPE files, READER arrow, METADATA_TTL 0)")
        assert con.source("f").reader == "arrow"


def test_a_whole_number_for_a_number_setting_becomes_a_float(tmp_path):
    with fedq.connect(home=False) as con:
        assert con.attach("m", "mysql", dsn="mysql://u@127.0.0.1:1/db", connect_timeout=3).connect_timeout == 3.0
        assert isinstance(con.source("m").connect_timeout, float)


@pytest.mark.parametrize("key,value", [("max_parallel_reads", 1), ("metadata_ttl", 0), ("connect_timeout", 0.5)])
def test_boundary_values_are_accepted(key, value):
    with fedq.connect(home=False) as con:
        con.attach("pg", "postgres", dsn="postgresql://u@127.0.0.1:1/db", **{key: value})


# -- fedq.connect()'s engine settings go through the same check ---------------------------------------------
CONNECT_CASES = [(key, value) for key, (hint, _) in sorted(declared(ConnectionSettings).items()) for value in wrong_values(hint)]


def test_every_connection_setting_has_wrong_values_to_try():
    assert {key for key, _ in CONNECT_CASES} == set(declared(ConnectionSettings))


@pytest.mark.parametrize("key,value", CONNECT_CASES, ids=[f"{k}-{v!r}" for k, v in CONNECT_CASES])
def test_wrong_connection_setting_names_the_setting_type_and_value(key, value):
    with pytest.raises(fedq.ProgrammingError) as caught:
        fedq.connect(home=False, **{key: value})
    message = str(caught.value)
    assert message.startswith(f"fedq.connect(): setting '{key}' must be "), message
    assert message.endswith(f", not {value!r}"), message


def test_connection_timeout_as_a_whole_number_is_seconds():
    with fedq.connect(home=False, timeout=2) as con:
        assert con.timeout == 2.0 and isinstance(con.timeout, float)
        assert con.execute("SELECT 1").fetchall() == [(1,)]


# -- the catalog file's [server] section (fedq serve) ---------------------------------------------------------
@pytest.mark.parametrize("key,value", [
    ("host", 5), ("port", "x"), ("port", 70000), ("timeout", -1), ("max_connections", 0), ("startup_timeout", "soon"),
    ("idle_timeout", -1), ("max_message_size", "lots"), ("engine_idle_timeout", True), ("admins", "alice"),
])
def test_wrong_server_setting_names_the_setting_and_value(tmp_path, key, value):
    from fedq.catalog.config import load_server_settings
    from fedq.server import ServerSettings

    catalog = tmp_path / "catalog.toml"
    catalog.write_text(tomli_w.dumps({"server": {key: value}}))
    with pytest.raises(fedq.ProgrammingError) as caught:
        ServerSettings.from_section(load_server_settings(catalog))
    message = str(caught.value)
    assert message.startswith(f"[server] {key} must be "), message
    assert message.endswith(f"not {value!r}"), message


def test_a_server_password_of_the_wrong_type_is_named_but_not_shown(tmp_path):
    from fedq.catalog.config import load_server_settings
    from fedq.server import ServerSettings

    catalog = tmp_path / "catalog.toml"
    catalog.write_text(tomli_w.dumps({"server": {"users": {"alice": 987654321}}}))
    with pytest.raises(fedq.ProgrammingError, match=r"\[server\] users: the password of 'alice' must be a text") as caught:
        ServerSettings.from_section(load_server_settings(catalog))
    assert "987654321" not in str(caught.value)
