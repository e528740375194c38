"""SQLAlchemy 2.x dialect for fedq: ``create_engine("fedq:///abs/path/catalog.toml")``, so pandas,
BI tools and SQLAlchemy Core read the whole federation through one engine.

URLs. The URL's path is the catalog file, as in ``file://`` URLs: ``fedq:///home/me/catalog.toml``
opens ``/home/me/catalog.toml``; ``fedq://`` opens fedq with no catalog file (``fedq.connect()``: the
home catalog and nothing else). Query settings map to ``fedq.connect`` keywords: ``pushdown`` and
``dynamic_filtering`` (true/false), ``timeout`` (seconds), ``memory_limit``, ``temp_directory`` and
``home`` (the home catalog directory, or ``false`` for none).

Schemas. fedq names tables ``source.table`` (the source's default schema) or
``source.schema.table``, so an SQLAlchemy schema is:

* ``"<source>"`` -- the tables of the source's default schema (``public`` for PostgreSQL, ``main``
  for SQLite and files): ``Table("customers", md, schema="crm")`` is ``crm.customers``;
* ``"<source>.<schema>"`` -- any schema of a multi-schema source: ``schema="pg.sales"`` is
  ``pg.sales.orders``. ``get_schema_names`` lists the default schema only in the first form.

Views are the rows of ``information_schema.tables`` with ``table_type = 'VIEW'``, under the schema
of the (pseudo-)source that lists them: fedq's catalog views are ``schema="views"``, and also
``schema=None``, because fedq resolves an unqualified name to a view (``SELECT * FROM v``). Every
table belongs to a source, so there are no tables without a schema.

fedq only reads: there are no transactions (commit and rollback do nothing, so the dialect reports
the AUTOCOMMIT isolation level) and writes fail with fedq's ``NotSupportedError``. Reflection reads
``information_schema`` (columns: ``DESCRIBE``); fedq models no keys or indexes, so those are empty.
"""
from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from sqlalchemy import exc, types as sqltypes
from sqlalchemy.engine import default, reflection
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.engine.url import URL
from sqlalchemy.sql import compiler

import fedq
from fedq.catalog.views import VIEWS_SOURCE

_SETTINGS = {"pushdown": "bool", "dynamic_filtering": "bool", "timeout": "float", "memory_limit": "str",
             "temp_directory": "str", "home": "home"}

_TYPES: dict[str, Any] = {
    "BOOLEAN": sqltypes.Boolean, "TINYINT": sqltypes.SmallInteger, "SMALLINT": sqltypes.SmallInteger,
    "INTEGER": sqltypes.Integer, "BIGINT": sqltypes.BigInteger, "UTINYINT": sqltypes.SmallInteger,
    "USMALLINT": sqltypes.Integer, "UINTEGER": sqltypes.BigInteger, "UBIGINT": sqltypes.BigInteger,
    "FLOAT": sqltypes.Float, "DOUBLE": sqltypes.Double, "VARCHAR": sqltypes.String, "BLOB": sqltypes.LargeBinary,
    "DATE": sqltypes.Date, "TIME": sqltypes.Time, "TIMESTAMP": sqltypes.DateTime,
    "TIMESTAMPTZ": lambda: sqltypes.DateTime(timezone=True), "INTERVAL": sqltypes.Interval,
}  # every name fedq.catalog.types.arrow_to_duckdb gives
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def column_type(duckdb_type: str) -> sqltypes.TypeEngine[Any]:
    """The SQLAlchemy type of a DuckDB type name as information_schema reports it (``DECIMAL(10,2)``,
    ``BIGINT[]``); structs and maps have no SQLAlchemy counterpart and become ``NullType``."""
    name = duckdb_type.strip().upper()
    if name.endswith("[]"):
        return sqltypes.ARRAY(column_type(name[:-2]))
    if decimal := _DECIMAL.fullmatch(name):
        return sqltypes.Numeric(int(decimal.group(1)), int(decimal.group(2)))
    factory = _TYPES.get(name)
    return factory() if factory else sqltypes.NullType()


def _setting(name: str, kind: str, text: str) -> Any:
    """One URL query setting as the ``fedq.connect`` keyword wants it; a bad value is named."""
    if kind == "home" and text.lower() in ("false", "0", "no"):
        return False
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise exc.ArgumentError(f"fedq URL setting {name}={text!r}: expected true or false")
        return text.lower() in ("true", "1", "yes")
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise exc.ArgumentError(f"fedq URL setting {name}={text!r}: expected a number of seconds") from None
    return text


class FedqIdentifierPreparer(compiler.IdentifierPreparer):
    """Double quotes (fedq parses DuckDB SQL); a ``source.schema`` schema is two identifiers."""

    # DuckDB's reserved keywords (duckdb_keywords()) that SQLAlchemy's ANSI list lacks
    reserved_words = compiler.RESERVED_WORDS | {
        "describe", "fetch", "lambda", "lateral", "pivot", "pivot_longer", "pivot_wider", "qualify", "returning",
        "show", "summarize", "unpivot", "variadic", "window", "with",
    }

    def quote_schema(self, schema: str) -> str:
        return ".".join(self.quote(part) for part in schema.split("."))


class FedqCompiler(compiler.SQLCompiler):
    """SQL fedq accepts: columns qualified by table name only, OFFSET without a LIMIT -1."""

    def visit_column(self, column: Any, add_to_result_map: Any = None, include_table: bool = True, **kw: Any) -> str:
        table = column.table
        if include_table and table is not None and table.named_with_column and self.preparer.schema_for_object(table):
            # fedq binds ``customers.id`` but not ``crm.customers.id``; the table's name is its alias
            name = super().visit_column(column, add_to_result_map, include_table=False, **kw)
            return f"{self.preparer.quote(table.name)}.{name}"
        return super().visit_column(column, add_to_result_map, include_table, **kw)

    def limit_clause(self, select: Any, **kw: Any) -> str:
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **kw)
        return text


class FedqTypeCompiler(compiler.GenericTypeCompiler):
    """DuckDB's names where the generic ones differ."""

    def visit_datetime(self, type_: Any, **kw: Any) -> str:
        return "TIMESTAMPTZ" if type_.timezone else "TIMESTAMP"


class FedqDialect(default.DefaultDialect):
    """fedq through SQLAlchemy: read-only, qmark parameters, reflection over information_schema."""

    name = "fedq"
    driver = "fedq"
    paramstyle = "qmark"
    positional = True
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_native_uuid = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    supports_alter = False
    supports_sequences = False
    supports_comments = False
    supports_default_values = False
    supports_empty_insert = False
    supports_multivalues_insert = False
    supports_server_side_cursors = False
    postfetch_lastrowid = False
    returns_native_bytes = True
    preparer = FedqIdentifierPreparer
    statement_compiler = FedqCompiler
    type_compiler_cls = FedqTypeCompiler

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return fedq

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        """``fedq:///abs/catalog.toml?timeout=30`` -> ``fedq.connect("/abs/catalog.toml", timeout=30.0)``."""
        if url.host or url.port or url.username or url.password:
            raise exc.ArgumentError(f"fedq URL {url.render_as_string()!r}: fedq names a catalog file, not a server "
                                    "(fedq:///abs/path/catalog.toml, or fedq:// for the default catalog)")
        unknown = sorted(set(url.query) - set(_SETTINGS))
        if unknown:
            raise exc.ArgumentError(f"fedq URL: unknown setting(s) {', '.join(unknown)}; "
                                    f"allowed: {', '.join(_SETTINGS)}")
        kwargs: dict[str, Any] = {}
        for name, value in url.query.items():
            if not isinstance(value, str):
                raise exc.ArgumentError(f"fedq URL setting {name} is given more than once")
            kwargs[name] = _setting(name, _SETTINGS[name], value)
        catalog = "/" + url.database.lstrip("/") if url.database else None
        return [catalog] if catalog else [], kwargs

    # -- what SQLAlchemy asks on first connect: answered without statements fedq cannot run ----
    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", fedq.__version__)[:3])

    def _get_default_schema_name(self, connection: Any) -> None:
        return None

    def get_isolation_level(self, dbapi_connection: Any) -> str:
        return "AUTOCOMMIT"  # no transactions: every statement stands alone

    def get_isolation_level_values(self, dbapi_connection: Any) -> list[str]:
        return ["AUTOCOMMIT"]

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        pass  # SQLAlchemy has already checked that the level is AUTOCOMMIT

    # -- reflection ---------------------------------------------------------------------
    @reflection.cache
    def _table_rows(self, connection: Any, **kw: Any) -> list[tuple[str, str, str, str]]:
        """Every (source, schema, table, table_type) information_schema lists."""
        sql = "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables"
        return [tuple(row) for row in connection.exec_driver_sql(sql)]

    def _default_schema(self, connection: Any, source: str, **kw: Any) -> str:
        """The schema ``source.table`` names; for a pseudo-source fedq does not list as a source
        (catalog views) or a missing one: its only schema, if it has exactly one."""
        try:
            return connection.connection.dbapi_connection.catalog.source(source).default_schema
        except fedq.Error:
            schemas = {s for c, s, _, _ in self._table_rows(connection, **kw) if c.lower() == source.lower()}
            return schemas.pop() if len(schemas) == 1 else ""

    def _locate(self, connection: Any, schema: str | None, **kw: Any) -> tuple[str, str]:
        """(source, schema at the source) an SQLAlchemy schema names (see the module docstring)."""
        source, _, inner = (schema or VIEWS_SOURCE).partition(".")
        return source.lower(), (inner or self._default_schema(connection, source, **kw)).lower()

    def _names(self, connection: Any, schema: str | None, views: bool, **kw: Any) -> list[str]:
        where = self._locate(connection, schema, **kw)
        return [name for source, inner, name, kind in self._table_rows(connection, **kw)
                if (source.lower(), inner.lower()) == where and (kind == "VIEW") == views]

    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        names = [row[0] for row in connection.exec_driver_sql("SHOW SOURCES")]
        for source, inner, _, _ in self._table_rows(connection, **kw):
            if inner.lower() != self._default_schema(connection, source, **kw).lower():
                source = f"{source}.{inner}"
            if source not in names:
                names.append(source)
        return names

    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return self._names(connection, schema, views=False, **kw)

    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return self._names(connection, schema, views=True, **kw)

    def has_table(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> bool:
        """Never raises for a missing source: it simply has no tables."""
        self._ensure_has_table_connection(connection)
        names = self._names(connection, schema, False, **kw) + self._names(connection, schema, True, **kw)
        return table_name.lower() in {name.lower() for name in names}

    def get_columns(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[ReflectedColumn]:
        """From ``DESCRIBE``, which resolves the one table exactly as a query naming it would (and
        reports the DuckDB type names information_schema does, without reading every source)."""
        name = self.identifier_preparer.quote(table_name)
        if schema:
            name = f"{self.identifier_preparer.quote_schema(schema)}.{name}"
        try:
            rows = connection.exec_driver_sql(f"DESCRIBE {name}").fetchall()
        except exc.ProgrammingError as error:  # unknown source or table
            raise exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name) from error
        return [{"name": column, "type": column_type(kind), "nullable": nullable.lower() == "yes", "default": None}
                for column, kind, nullable in rows]

    def get_pk_constraint(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict[str, Any]:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> list[Any]:
        return []

    def get_indexes(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> list[Any]:
        return []
