"""What a PostgreSQL client asks the server about itself, answered from fedq's catalog.

Tools (psql's ``\\dt`` and ``\\d``, DBeaver, drivers) read ``pg_catalog`` tables, call functions like
``version()`` or ``format_type()``, and send ``SET``/``SHOW``. :func:`classify` sorts each statement;
catalog queries run in a small per-session DuckDB (:class:`CatalogEngine`) that holds
``fedq_pg.pg_namespace`` (one namespace per source, or ``source.schema`` beside the default schema),
``fedq_pg.pg_class`` (one relation per table), ``fedq_pg.pg_attribute`` (columns with PostgreSQL type
OIDs) and the other catalog tables, mostly empty (fedq has no indexes, constraints, triggers...).
The client's query is parsed with sqlglot as PostgreSQL, its catalog tables and functions are
pointed at ``fedq_pg``, PostgreSQL-only casts (``::regclass``) become lookups, and DuckDB runs it.
A catalog query DuckDB cannot run that reads a table fedq keeps empty answers no rows.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from fedq.engine.sandbox import sandbox_refusal, sandboxed_duckdb
from fedq.errors import OperationalError, ProgrammingError
from fedq.server.pgwire import BY_OID, TYPES, pg_type, text_array, typmod

log = logging.getLogger("fedq.server")
SERVER_VERSION = "15.0"
SCHEMA = "fedq_pg"
PG_CATALOG_OID, INFORMATION_SCHEMA_OID, FIRST_NAMESPACE_OID, FIRST_RELATION_OID = 11, 13000, 16400, 20000

# Catalog tables built from fedq's catalog; the others below always exist and are empty or fixed.
DYNAMIC = {"pg_namespace", "pg_class", "pg_attribute", "pg_tables", "pg_settings", "pg_database", "pg_roles",
           "pg_user", "pg_authid", "pg_type"}
EMPTY_TABLES = {
    "pg_index": "indexrelid BIGINT, indrelid BIGINT, indnatts SMALLINT, indnkeyatts SMALLINT, indisunique BOOLEAN, "
                "indisprimary BOOLEAN, indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, "
                "indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, "
                "indisreplident BOOLEAN, indnullsnotdistinct BOOLEAN, indkey SMALLINT[], indcollation BIGINT[], indclass BIGINT[], "
                "indoption SMALLINT[], indexprs VARCHAR, indpred VARCHAR",
    "pg_constraint": "oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR, condeferrable BOOLEAN, "
                     "condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, contypid BIGINT, conindid BIGINT, "
                     "conparentid BIGINT, confrelid BIGINT, confupdtype VARCHAR, confdeltype VARCHAR, "
                     "confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, connoinherit BOOLEAN, "
                     "conkey SMALLINT[], confkey SMALLINT[], conbin VARCHAR",
    "pg_attrdef": "oid BIGINT, adrelid BIGINT, adnum SMALLINT, adbin VARCHAR",
    "pg_collation": "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collprovider VARCHAR, collcollate VARCHAR, "
                    "collctype VARCHAR",
    "pg_description": "objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR",
    "pg_shdescription": "objoid BIGINT, classoid BIGINT, description VARCHAR",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_policy": "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN, "
                 "polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxowner BIGINT, "
                        "stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR",
    "pg_publication": "oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, pubinsert BOOLEAN, "
                      "pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs SMALLINT[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, tgtype SMALLINT, "
                  "tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstraint BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR, is_instead BOOLEAN",
    "pg_proc": "oid BIGINT, proname VARCHAR, pronamespace BIGINT, proowner BIGINT, prolang BIGINT, prokind VARCHAR, "
               "prorettype BIGINT, proargtypes VARCHAR, proretset BOOLEAN",
    "pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, extrelocatable BOOLEAN, "
                    "extversion VARCHAR",
    "pg_depend": "classid BIGINT, objid BIGINT, objsubid INTEGER, refclassid BIGINT, refobjid BIGINT, "
                 "refobjsubid INTEGER, deptype VARCHAR",
    "pg_enum": "oid BIGINT, enumtypid BIGINT, enumsortorder FLOAT, enumlabel VARCHAR",
    "pg_range": "rngtypid BIGINT, rngsubtype BIGINT",
    "pg_sequence": "seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT, seqincrement BIGINT, seqmax BIGINT, "
                   "seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_foreign_server": "oid BIGINT, srvname VARCHAR",
    "pg_foreign_data_wrapper": "oid BIGINT, fdwname VARCHAR",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR",
    "pg_event_trigger": "oid BIGINT, evtname VARCHAR",
    "pg_auth_members": "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN",
    "pg_language": "oid BIGINT, lanname VARCHAR",
    "pg_opclass": "oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, opcowner BIGINT, "
                  "opcfamily BIGINT, opcintype BIGINT, opcdefault BOOLEAN, opckeytype BIGINT",
    "pg_operator": "oid BIGINT, oprname VARCHAR, oprnamespace BIGINT",
    "pg_cast": "oid BIGINT, castsource BIGINT, casttarget BIGINT",
    "pg_views": "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    "pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, definition VARCHAR",
    "pg_stat_activity": "datid BIGINT, datname VARCHAR, pid INTEGER, usename VARCHAR, application_name VARCHAR, "
                        "state VARCHAR, query VARCHAR",
    "pg_locks": "locktype VARCHAR, pid INTEGER, mode VARCHAR, granted BOOLEAN",
}
FIXED_TABLES = {
    "pg_am": "SELECT 2::BIGINT AS oid, 'heap' AS amname, 'heap_tableam_handler' AS amhandler, 't' AS amtype",
    "pg_tablespace": "SELECT 1663::BIGINT AS oid, 'pg_default' AS spcname, 10::BIGINT AS spcowner, "
                     "NULL::VARCHAR[] AS spcacl, NULL::VARCHAR[] AS spcoptions",
}
CATALOG_TABLES = DYNAMIC | set(EMPTY_TABLES) | set(FIXED_TABLES)

# Functions clients call; each becomes the macro fedq_pg.<name> (see CatalogEngine._macros).
FUNCTIONS = {
    "pg_get_userbyid", "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible", "format_type",
    "pg_get_expr", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_statisticsobjdef_columns",
    "pg_relation_is_publishable", "obj_description", "col_description", "shobj_description",
    "pg_encoding_to_char", "has_table_privilege", "has_schema_privilege", "has_database_privilege",
    "pg_get_viewdef", "current_schemas", "pg_backend_pid", "current_setting", "set_config", "pg_is_in_recovery",
    "pg_postmaster_start_time", "pg_total_relation_size", "pg_relation_size", "pg_table_size",
    "pg_get_function_identity_arguments", "pg_get_function_result", "pg_get_triggerdef", "pg_get_ruledef",
    "array_upper", "pg_get_partkeydef", "quote_ident", "pg_tablespace_location", "txid_current",
    "pg_size_pretty", "pg_get_keywords", "current_database", "version", "pg_is_other_temp_schema",
    "pg_my_temp_schema", "pg_get_serial_sequence", "pg_collation_is_visible", "pg_opclass_is_visible",
    "to_regtype", "to_regclass", "to_regnamespace", "to_regproc", "to_regprocedure", "to_regrole",
}
SYSTEM_EXPRESSIONS = (exp.CurrentUser, exp.SessionUser, exp.CurrentSchema, exp.CurrentVersion, exp.CurrentDatabase)
REG_TYPES = {"regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole", "oid", "regoper"}

_OPERATOR = re.compile(r"OPERATOR\s*\(\s*pg_catalog\s*\.\s*([^\s)]+)\s*\)", re.IGNORECASE)
_REG_ARRAY = re.compile(r"::\s*reg\w+\s*\[\s*\]", re.IGNORECASE)  # ::regtype[] (pgcli): sqlglot cannot read it
_COLLATE = re.compile(r"\s+COLLATE\s+(pg_catalog\s*\.\s*)?\"?(default|C|POSIX)\"?", re.IGNORECASE)
_FIRST_WORDS = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?", re.DOTALL)
FEDQ_SHOW = {"SOURCES", "TABLES", "VIEWS"}
# Every catalog table, function and cast above contains one of these (a cheap test before parsing).
_MAYBE_CATALOG = re.compile(r"(?i)pg_|version|current_|session_user|\buser\b|reg(class|type|namespace|proc|role|oper)|"
                            r"::\s*oid|format_type|_description|has_\w+_privilege|quote_ident|array_upper|set_config|"
                            r"txid_current")


# -- sorting statements --------------------------------------------------------------------------
def split_statements(sql: str) -> list[str]:
    """The statements of a simple-query message, split at top-level semicolons."""
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except SqlglotError:
        return [sql] if sql.strip() else []
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            pieces.append(sql[start:token.start])
            start = token.end + 1
    pieces.append(sql[start:])
    return [p for p in pieces if p.strip()]


def classify(sql: str) -> str:
    """``empty``, ``set``, ``show``, ``begin``, ``commit``, ``rollback``, ``declare``, ``fetch``, ``move``,
    ``close`` (SQL cursors), ``noop`` (accepted, nothing to do), ``catalog`` (pg_catalog and server
    functions, answered here) or ``fedq`` (the engine)."""
    match = _FIRST_WORDS.match(sql)
    if not match:
        return "empty" if not sql.strip(" \t\r\n;") else "fedq"
    first, second = match.group(1).upper(), (match.group(2) or "").upper()
    if first in ("SET", "RESET"):
        return "set"
    if first == "SHOW":
        return "fedq" if second in FEDQ_SHOW else "show"
    if first in ("BEGIN", "START"):
        return "begin"
    if first in ("COMMIT", "END"):
        return "commit"
    if first in ("ROLLBACK", "ABORT"):
        return "noop" if second == "TO" else "rollback"
    if first in ("DECLARE", "FETCH", "MOVE", "CLOSE"):
        return first.lower()
    if first in ("DISCARD", "DEALLOCATE", "SAVEPOINT", "RELEASE", "LISTEN", "UNLISTEN"):
        return "noop"
    if not _MAYBE_CATALOG.search(sql):
        return "fedq"  # the common case, decided without parsing
    tree = parse_postgres(sql)
    if tree is None:
        return "fedq"
    tables = list(tree.find_all(exp.Table))
    named = [t for t in tables if t.name]
    if named and all(_is_catalog_table(t) for t in named):
        return "catalog"
    if not named and (any(True for _ in tree.find_all(*SYSTEM_EXPRESSIONS))
                       or any(_type_name(c.args["to"]) in REG_TYPES for c in tree.find_all(exp.Cast))
                       or any(_function_name(f) in FUNCTIONS for f in tree.find_all(exp.Func))):
        return "catalog"
    return "fedq"


def parse_postgres(sql: str) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(_REG_ARRAY.sub("::text[]", _COLLATE.sub("", _OPERATOR.sub(r"\1", sql))), read="postgres")
    except SqlglotError:
        return None


def _is_catalog_table(table: exp.Table) -> bool:
    schema = table.db.lower()
    return schema == "pg_catalog" or (not schema and table.name.lower() in CATALOG_TABLES)


def _function_name(function: exp.Func) -> str:
    return (function.name if isinstance(function, exp.Anonymous) else function.sql_name()).lower()


# -- session settings ----------------------------------------------------------------------------
@dataclass
class Settings:
    """Run-time parameters a client may SET and SHOW; fedq's own behaviour does not change with them."""

    user: str
    database: str
    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = {
            "server_version": SERVER_VERSION, "server_version_num": "150000", "server_encoding": "UTF8",
            "client_encoding": "UTF8", "datestyle": "ISO, MDY", "timezone": "UTC", "intervalstyle": "postgres",
            "integer_datetimes": "on", "standard_conforming_strings": "on", "is_superuser": "off",
            "search_path": '"$user", public', "default_transaction_read_only": "on", "transaction_read_only": "on",
            "transaction_isolation": "read committed", "default_transaction_isolation": "read committed",
            "max_identifier_length": "63", "max_index_keys": "32", "lc_collate": "C", "lc_ctype": "C", "application_name": "",
            "extra_float_digits": "1", "statement_timeout": "0", "session_authorization": self.user,
            **self.values,
        }

    REPORTED = ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle",
                "integer_datetimes", "standard_conforming_strings", "is_superuser", "session_authorization",
                "application_name", "default_transaction_read_only")

    def reported(self) -> list[tuple[str, str]]:
        """The ParameterStatus messages sent after authentication."""
        return [(name, self.values[name.lower()]) for name in self.REPORTED]

    def apply_set(self, sql: str) -> str | None:
        """Remember ``SET name = value`` / ``RESET name``; returns the parameter changed (or None)."""
        text = sql.strip().rstrip(";")
        match = re.match(r"(?is)^RESET\s+(\w+)", text)
        if match:
            return match.group(1).lower()
        match = re.match(r"(?is)^SET\s+(?:SESSION\s+|LOCAL\s+)?(?!TRANSACTION\b|SESSION\b)([\w.]+)\s*(?:=|\bTO\b)\s*(.+)$", text)
        if match:
            name, value = match.group(1).lower(), match.group(2).strip()
            self.values[name] = ", ".join(v.strip().strip("'") for v in value.split(",")) if name == "search_path" \
                else value.strip("'\"")
            return name
        match = re.match(r"(?is)^SET\s+(?:SESSION\s+|LOCAL\s+)?TIME\s+ZONE\s+(.+)$", text)
        if match:
            self.values["timezone"] = match.group(1).strip().strip("'")
            return "timezone"
        return None

    def show(self, sql: str) -> pa.Table:
        name = sql.strip().rstrip(";").split(None, 1)[1].strip().strip('"').lower() if len(sql.split()) > 1 else ""
        if name == "all":
            names = sorted(self.values)
            return pa.table({"name": names, "setting": [self.values[n] for n in names], "description": [""] * len(names)})
        name = {"time zone": "timezone", "transaction isolation level": "transaction_isolation",
                "session authorization": "session_authorization"}.get(name, name)
        if name not in self.values:
            raise ProgrammingError(f'unrecognized configuration parameter "{name}"')
        return pa.table({name: [self.values[name]]})


# -- the catalog engine --------------------------------------------------------------------------
class CatalogEngine:
    """A per-session DuckDB holding fedq's catalog as PostgreSQL catalog tables."""

    def __init__(self, connection: Any, settings: Settings, process_id: int) -> None:
        self.connection, self.settings, self.process_id = connection, settings, process_id
        self.database = sandboxed_duckdb(timezone=None)  # clients never reach the machine's files
        self.database.execute(f"CREATE SCHEMA {SCHEMA}")
        for name, columns in EMPTY_TABLES.items():
            self.database.execute(f"CREATE TABLE {SCHEMA}.{name} ({columns})")
        for name, query in FIXED_TABLES.items():
            self.database.execute(f"CREATE TABLE {SCHEMA}.{name} AS {query}")
        self._types()
        self._refresh(DYNAMIC, read_catalog=False)  # empty, so that the macros can refer to them
        self._macros()
        self.started = time.time()

    def close(self) -> None:
        self.database.close()

    def _types(self) -> None:
        types = sorted(TYPES.values(), key=lambda t: t.oid)
        table = pa.table({
            "oid": pa.array([t.oid for t in types], pa.int64()), "typname": [t.name for t in types],
            "typnamespace": pa.array([PG_CATALOG_OID] * len(types), pa.int64()),
            "typowner": pa.array([10] * len(types), pa.int64()),
            "typlen": pa.array([t.size for t in types], pa.int16()), "typbyval": [0 < t.size <= 8 for t in types],
            "typtype": ["b"] * len(types), "typcategory": [t.category for t in types],
            "typispreferred": [False] * len(types), "typisdefined": [True] * len(types), "typdelim": [","] * len(types),
            "typrelid": pa.array([0] * len(types), pa.int64()),
            "typelem": pa.array([next((e.oid for e in types if e.array_oid == t.oid), 0) for t in types], pa.int64()),
            "typarray": pa.array([t.array_oid for t in types], pa.int64()),
            **{column: [_type_function(t, suffix) for t in types] for column, suffix in
               (("typinput", "in"), ("typoutput", "out"), ("typreceive", "recv"), ("typsend", "send"))},
            "typalign": ["i"] * len(types), "typstorage": ["p"] * len(types), "typnotnull": [False] * len(types),
            "typbasetype": pa.array([0] * len(types), pa.int64()), "typtypmod": pa.array([-1] * len(types), pa.int32()),
            "typndims": pa.array([0] * len(types), pa.int32()),
            "typcollation": pa.array([100 if t.category == "S" else 0 for t in types], pa.int64()),
            "typdefault": pa.array([None] * len(types), pa.string()), "display": [t.display for t in types],
        })
        self.database.register("fedq_types_arrow", table)
        self.database.execute(f"CREATE TABLE {SCHEMA}.pg_type AS SELECT * FROM fedq_types_arrow")
        self.database.unregister("fedq_types_arrow")

    def _macros(self) -> None:
        user = self.settings.user.replace("'", "''")
        database = self.settings.database.replace("'", "''")
        definitions = {
            "pg_get_userbyid(x)": f"'{user}'",
            "pg_table_is_visible(x)": "true",
            "pg_type_is_visible(x)": "true",
            "pg_function_is_visible(x)": "true",
            "format_type(t, m)": f"CASE WHEN t IS NULL THEN NULL WHEN t = 1700 AND m > 4 THEN "
                                 f"'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')' ELSE "
                                 f"coalesce((SELECT display FROM {SCHEMA}.pg_type WHERE oid = t), '???') END",
            "pg_get_expr(a, b, c := false)": "NULL::VARCHAR",
            "pg_get_indexdef(a, b := 0, c := false)": "NULL::VARCHAR",
            "pg_get_constraintdef(a, b := false)": "NULL::VARCHAR",
            "pg_get_statisticsobjdef_columns(a)": "NULL::VARCHAR",
            "pg_get_viewdef(a, b := false)": "NULL::VARCHAR",
            "pg_get_triggerdef(a, b := false)": "NULL::VARCHAR",
            "pg_get_ruledef(a, b := false)": "NULL::VARCHAR",
            "pg_get_partkeydef(a)": "NULL::VARCHAR",
            "pg_get_function_identity_arguments(a)": "''",
            "pg_get_function_result(a)": "NULL::VARCHAR",
            "pg_relation_is_publishable(a)": "false",
            "obj_description(a, b := NULL)": "NULL::VARCHAR",
            "col_description(a, b)": "NULL::VARCHAR",
            "shobj_description(a, b)": "NULL::VARCHAR",
            "pg_encoding_to_char(a)": "'UTF8'",
            "has_table_privilege(a, b := NULL, c := NULL)": "true",
            "has_schema_privilege(a, b := NULL, c := NULL)": "true",
            "has_database_privilege(a, b := NULL, c := NULL)": "true",
            "pg_backend_pid()": str(self.process_id),
            "current_setting(setting_name, missing_ok := false)": f"(SELECT s.setting FROM {SCHEMA}.pg_settings s WHERE s.name = lower(setting_name))",
            "set_config(setting_name, setting_value, is_local)": "setting_value",
            "pg_is_in_recovery()": "false",
            "pg_postmaster_start_time()": "now()",
            "pg_total_relation_size(a)": "NULL::BIGINT",
            "pg_relation_size(a, b := NULL)": "NULL::BIGINT",
            "pg_table_size(a)": "NULL::BIGINT",
            "pg_size_pretty(a)": "format_bytes(a::BIGINT)",
            "array_upper(a, d)": "len(a)",
            "quote_ident(a)": "CASE WHEN regexp_matches(a, '^[a-z_][a-z0-9_]*$') THEN a ELSE '\"' || replace(a, '\"', '\"\"') || '\"' END",
            "pg_tablespace_location(a)": "''",
            "txid_current()": "1::BIGINT",
            "pg_get_keywords()": "NULL::VARCHAR",
            "current_database()": f"'{database}'",
            "version()": f"'PostgreSQL {SERVER_VERSION} (fedq federated SQL; DuckDB {duckdb.__version__})'",
            "pg_is_other_temp_schema(a)": "false",
            "pg_my_temp_schema()": "0::BIGINT",
            "regclass_name(a)": f"(SELECT relname FROM {SCHEMA}.pg_class WHERE oid = a)",
            "regclass_oid(a)": f"(SELECT c.oid FROM {SCHEMA}.pg_class c JOIN {SCHEMA}.pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE c.relname = a OR n.nspname || '.' || c.relname = a ORDER BY c.oid LIMIT 1)",
            "regnamespace_name(a)": f"(SELECT nspname FROM {SCHEMA}.pg_namespace WHERE oid = a)",
            "regtype_name(a)": f"(SELECT display FROM {SCHEMA}.pg_type WHERE oid = a)",
            "regtype_oid(a)": f"(SELECT oid FROM {SCHEMA}.pg_type WHERE typname = a OR display = a LIMIT 1)",
            "pg_get_serial_sequence(a, b)": "NULL::VARCHAR",
            "pg_collation_is_visible(a)": "true",
            "pg_opclass_is_visible(a)": "true",
            "to_regtype(a)": f"{SCHEMA}.regtype_oid(a)",
            "to_regclass(a)": f"{SCHEMA}.regclass_oid(a)",
            "to_regnamespace(a)": f"(SELECT oid FROM {SCHEMA}.pg_namespace WHERE nspname = a)",
            "to_regproc(a)": "NULL::BIGINT",
            "to_regprocedure(a)": "NULL::BIGINT",
            "to_regrole(a)": f"(CASE WHEN a = '{user}' THEN 10 END)::BIGINT",
        }
        for signature, body in definitions.items():
            self.database.execute(f"CREATE MACRO {SCHEMA}.{signature} AS ({body})")

    # -- fedq's catalog as tables ----------------------------------------------------------------
    def _refresh(self, wanted: set[str], read_catalog: bool = True) -> None:
        """(Re)build the catalog tables built from fedq's catalog that the query reads."""
        catalog = self.connection.catalog
        namespaces: dict[str, int] = {}
        relations = []  # (oid, name, namespace oid, source, TableName)
        for source in list(catalog.sources.values()) if read_catalog else []:
            try:
                tables = catalog.tables(source)
            except OperationalError:
                continue  # an unreachable source is left out, as information_schema does
            for table in tables:
                if source.name == self.settings.database:  # connected to a source as a database: its schemas as they are
                    nspname = table.schema
                else:
                    nspname = source.name if table.schema == source.default_schema else f"{source.name}.{table.schema}"
                namespace = namespaces.setdefault(nspname, FIRST_NAMESPACE_OID + len(namespaces))
                relations.append((FIRST_RELATION_OID + len(relations), table.name, namespace, source, table))
        names = ["pg_catalog", "information_schema", *namespaces]
        oids = [PG_CATALOG_OID, INFORMATION_SCHEMA_OID, *namespaces.values()]
        frames = {"pg_namespace": pa.table({"oid": pa.array(oids, pa.int64()), "nspname": names,
                                            "nspowner": pa.array([10] * len(names), pa.int64()),
                                            "nspacl": pa.array([None] * len(names), pa.string())})}
        attributes: list[dict[str, Any]] = []
        natts: dict[int, int] = {}
        if "pg_attribute" in wanted:
            for oid, _, _, source, table in relations:
                try:
                    schema = catalog.schema(source, table)
                except OperationalError:
                    continue
                natts[oid] = len(schema)
                for number, column in enumerate(schema, 1):
                    kind = pg_type(column.type)
                    attributes.append({
                        "attrelid": oid, "attname": column.name, "atttypid": kind.oid, "attstattarget": -1,
                        "attlen": kind.size, "attnum": number, "attndims": 1 if kind.category == "A" else 0,
                        "attcacheoff": -1, "atttypmod": typmod(column.type), "attbyval": 0 < kind.size <= 8,
                        "attalign": "i", "attstorage": "p", "attcompression": "", "attnotnull": not column.nullable,
                        "atthasdef": False, "atthasmissing": False, "attidentity": "", "attgenerated": "",
                        "attisdropped": False, "attislocal": True, "attinhcount": 0,
                        "attcollation": 100 if kind.category == "S" else 0,
                    })
        frames["pg_attribute"] = pa.Table.from_pylist(attributes, schema=ATTRIBUTE_SCHEMA)
        count = len(relations)
        frames["pg_class"] = pa.table({
            "oid": pa.array([r[0] for r in relations], pa.int64()), "relname": [r[1] for r in relations],
            "relnamespace": pa.array([r[2] for r in relations], pa.int64()),
            "reltype": pa.array([0] * count, pa.int64()), "reloftype": pa.array([0] * count, pa.int64()),
            "relowner": pa.array([10] * count, pa.int64()), "relam": pa.array([2] * count, pa.int64()),
            "relfilenode": pa.array([r[0] for r in relations], pa.int64()),
            "reltablespace": pa.array([0] * count, pa.int64()), "relpages": pa.array([0] * count, pa.int32()),
            "reltuples": pa.array([-1.0] * count, pa.float32()), "relallvisible": pa.array([0] * count, pa.int32()),
            "reltoastrelid": pa.array([0] * count, pa.int64()), "relhasindex": [False] * count,
            "relisshared": [False] * count, "relpersistence": ["p"] * count, "relkind": ["r"] * count,
            "relnatts": pa.array([natts.get(r[0], 0) for r in relations], pa.int16()),
            "relchecks": pa.array([0] * count, pa.int16()), "relhasrules": [False] * count,
            "relhastriggers": [False] * count, "relhassubclass": [False] * count, "relrowsecurity": [False] * count,
            "relforcerowsecurity": [False] * count, "relispopulated": [True] * count, "relreplident": ["d"] * count,
            "relispartition": [False] * count, "relrewrite": pa.array([0] * count, pa.int64()),
            "relacl": pa.array([None] * count, pa.list_(pa.string())),
            "reloptions": pa.array([None] * count, pa.list_(pa.string())),
            "relpartbound": pa.array([None] * count, pa.string()),
        })
        by_oid = dict(zip(oids, names))
        frames["pg_tables"] = pa.table({
            "schemaname": [by_oid[r[2]] for r in relations], "tablename": [r[1] for r in relations],
            "tableowner": [self.settings.user] * count, "tablespace": pa.array([None] * count, pa.string()),
            "hasindexes": [False] * count, "hasrules": [False] * count, "hastriggers": [False] * count,
            "rowsecurity": [False] * count,
        })
        values = self.settings.values
        frames["pg_settings"] = pa.table({"name": list(values), "setting": list(values.values()),
                                          "unit": pa.array([None] * len(values), pa.string()),
                                          "category": [""] * len(values), "short_desc": [""] * len(values),
                                          "context": ["user"] * len(values), "vartype": ["string"] * len(values),
                                          "source": ["default"] * len(values)})
        frames["pg_database"] = pa.table({
            "oid": pa.array([16384], pa.int64()), "datname": [self.settings.database],
            "datdba": pa.array([10], pa.int64()), "encoding": pa.array([6], pa.int32()),
            "datcollate": ["C"], "datctype": ["C"], "datlocprovider": ["c"], "daticulocale": pa.array([None], pa.string()),
            "datcollversion": pa.array([None], pa.string()), "datistemplate": [False], "datallowconn": [True],
            "datconnlimit": pa.array([-1], pa.int32()), "dattablespace": pa.array([1663], pa.int64()),
            "datacl": pa.array([None], pa.list_(pa.string())),
        })
        role = {"oid": pa.array([10], pa.int64()), "rolname": [self.settings.user], "rolsuper": [False],
                "rolinherit": [True], "rolcreaterole": [False], "rolcreatedb": [False], "rolcanlogin": [True],
                "rolreplication": [False], "rolconnlimit": pa.array([-1], pa.int32()), "rolpassword": ["********"],
                "rolvaliduntil": pa.array([None], pa.string()), "rolbypassrls": [False]}
        frames["pg_roles"] = frames["pg_authid"] = pa.table(role)
        frames["pg_user"] = pa.table({"usename": [self.settings.user], "usesysid": pa.array([10], pa.int64()),
                                      "usecreatedb": [False], "usesuper": [False], "passwd": ["********"]})
        for name, table in frames.items():
            if name in wanted:
                self.database.register(f"{name}__arrow", table)
                self.database.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{name} AS SELECT * FROM {name}__arrow")
                self.database.unregister(f"{name}__arrow")

    # -- running a client's query -----------------------------------------------------------------
    def execute(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        tree = parse_postgres(sql)
        if tree is None:
            raise ProgrammingError("syntax error in a catalog query")
        referenced = {t.name.lower() for t in tree.find_all(exp.Table) if _is_catalog_table(t)}
        self._refresh(referenced | ({"pg_class", "pg_namespace"} if "pg_attribute" in referenced or _looks_up(tree) else set())
                      | {"pg_settings"} | (referenced & DYNAMIC))
        rewritten = self.rewrite(tree)  # after the refresh: current_schemas() is read from pg_namespace
        try:
            result = self.database.sql(rewritten, params=list(params) if params else None)
            table = result.to_arrow_table() if result is not None else pa.table({})
        except duckdb.Error as error:
            if referenced & set(EMPTY_TABLES):
                log.debug("catalog query answered with no rows (it reads tables fedq keeps empty): %s",
                          str(error).splitlines()[0])
                return _empty_result(tree)  # a query over tables fedq keeps empty has no rows
            refused = sandbox_refusal(error)  # a file, URL or setting the sandbox keeps closed
            raise refused or ProgrammingError(f"catalog query not supported by fedq: {str(error).splitlines()[0]}") from None
        names = column_names(tree)
        return table.rename_columns(names) if len(names) == table.num_columns else table

    def current_schemas(self, implicit: bool) -> list[str]:
        """``current_schemas()`` as PostgreSQL answers it: the search_path entries that exist, pg_catalog first
        when ``implicit``. (fedq names need their source, so the default search path names none of them.)"""
        existing = {row[0] for row in self.database.execute(f"SELECT nspname FROM {SCHEMA}.pg_namespace").fetchall()}
        path = [name.strip().strip('"') for name in self.settings.values["search_path"].split(",")]
        path = [self.settings.user if name == "$user" else name for name in path]
        return (["pg_catalog"] if implicit and "pg_catalog" not in path else []) + [n for n in path if n in existing]

    def rewrite(self, tree: exp.Expression) -> str:
        """The client's catalog query as DuckDB SQL over the ``fedq_pg`` tables and macros."""
        def transform(node: exp.Expression) -> exp.Expression:
            # sqlglot does not descend into a replacement, so replacements transform their own arguments
            if isinstance(node, exp.Table) and isinstance(node.this, exp.Func) and node.db.lower() == "pg_catalog":
                node.set("db", None)  # pg_catalog.unnest(...), pg_catalog.generate_series(...): DuckDB's own
                return node
            if isinstance(node, exp.Column) and node.args.get("db") is not None and node.text("db").lower() == "pg_catalog":
                node.set("db", None)  # pg_catalog.pg_namespace.nspname (SQLAlchemy's reflection): the table name is enough
                return node
            if isinstance(node, exp.Table) and _is_catalog_table(node):
                node.set("db", exp.to_identifier(SCHEMA))
                node.set("catalog", None)
                return node
            if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) \
                    and node.this.name.lower() == "pg_catalog" and isinstance(node.expression, exp.Func):
                return transform(node.expression.copy().transform(transform))
            if isinstance(node, (exp.EQ, exp.NEQ)):
                return _regproc_comparison(node)
            if isinstance(node, exp.Literal) and node.is_string and node.name.startswith("{") \
                    and isinstance(node.parent, exp.Paren) and isinstance(node.parent.parent, (exp.Any, exp.All)):
                return _array_literal(node.name)  # = ANY('{r,p}') (pgcli's \\dt): PostgreSQL reads the text as an array
            if isinstance(node, exp.Func) and _function_name(node) in ("json_build_object", "jsonb_build_object"):
                args = node.args.get("expressions") or []
                return exp.Anonymous(this="json_object", expressions=[a.copy().transform(transform) for a in args])
            if isinstance(node, exp.Func) and _function_name(node) == "current_schemas":
                implicit = node.this if not isinstance(node, exp.Anonymous) else (node.expressions or [None])[0]
                names = self.current_schemas(not (isinstance(implicit, exp.Boolean) and not implicit.this))
                return exp.cast(exp.Array(expressions=[exp.Literal.string(n) for n in names]), "VARCHAR[]")
            if isinstance(node, exp.Func) and _function_name(node) in FUNCTIONS:
                args = (node.args.get("expressions") or []) if isinstance(node, exp.Anonymous) \
                    else [a for a in node.args.values() if isinstance(a, exp.Expression)]
                return _macro(_function_name(node), [a.copy().transform(transform) for a in args])
            if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
                return exp.Literal.string(self.settings.user)
            if isinstance(node, exp.CurrentSchema):
                return exp.Literal.string(self.settings.values["search_path"].split(",")[-1].strip().strip('"'))
            if isinstance(node, exp.CurrentVersion):
                return _macro("version", [])
            if isinstance(node, exp.CurrentDatabase):
                return _macro("current_database", [])
            if isinstance(node, exp.Cast) and _type_name(node.args["to"]):
                return _cast(node, node.this.copy().transform(transform))
            return node

        return tree.transform(transform).sql("duckdb")


ATTRIBUTE_SCHEMA = pa.schema([
    ("attrelid", pa.int64()), ("attname", pa.string()), ("atttypid", pa.int64()), ("attstattarget", pa.int32()),
    ("attlen", pa.int16()), ("attnum", pa.int16()), ("attndims", pa.int32()), ("attcacheoff", pa.int32()),
    ("atttypmod", pa.int32()), ("attbyval", pa.bool_()), ("attalign", pa.string()), ("attstorage", pa.string()),
    ("attcompression", pa.string()), ("attnotnull", pa.bool_()), ("atthasdef", pa.bool_()),
    ("atthasmissing", pa.bool_()), ("attidentity", pa.string()), ("attgenerated", pa.string()),
    ("attisdropped", pa.bool_()), ("attislocal", pa.bool_()), ("attinhcount", pa.int32()),
    ("attcollation", pa.int64()),
])


# pg_type's I/O function names as PostgreSQL has them: drivers (ADBC's) pick their decoders by typreceive
_UNDERSCORED_IO = {"json", "date", "time", "timestamp", "timestamptz", "interval", "numeric", "uuid"}
REGPROC_COLUMNS = {"typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze"}


def _type_function(kind: Any, suffix: str) -> str:
    if kind.category == "A":
        return f"array_{suffix}"
    return f"{kind.name}_{suffix}" if kind.name in _UNDERSCORED_IO else f"{kind.name}{suffix}"


def _regproc_comparison(node: exp.Expression) -> exp.Expression:
    """``typreceive != 0`` (a regproc against the OID 0): as text, 0 is ``-``."""
    for side, other in (("this", "expression"), ("expression", "this")):
        column, value = node.args.get(side), node.args.get(other)
        if isinstance(column, exp.Column) and column.name.lower() in REGPROC_COLUMNS \
                and isinstance(value, exp.Literal) and not value.is_string and value.name == "0":
            node.set(other, exp.Literal.string("-"))
    return node


def _looks_up(tree: exp.Expression) -> bool:
    """Whether the query names relations or namespaces (``'crm.customers'::regclass``, ``to_regclass(…)``,
    ``current_schemas()``): their lookups read pg_class and pg_namespace, built only when asked for."""
    return any(_function_name(f) in ("current_schemas", "to_regclass", "to_regnamespace") for f in tree.find_all(exp.Func)) \
        or any(_type_name(c.args["to"]) in ("regclass", "regnamespace") for c in tree.find_all(exp.Cast))


def _array_literal(text: str) -> exp.Expression:
    try:
        values = text_array(text, TYPES["text"].oid)
    except ValueError as error:
        raise ProgrammingError(str(error)) from None
    if any(isinstance(v, list) for v in values):
        raise ProgrammingError(f"multidimensional array literals are not supported in catalog queries: {text!r}")
    return exp.Array(expressions=[exp.Null() if v is None else exp.Literal.string(v) for v in values])


def _macro(name: str, args: list[exp.Expression]) -> exp.Expression:
    return exp.Dot(this=exp.to_identifier(SCHEMA), expression=exp.Anonymous(this=name, expressions=args))


def _type_name(to: exp.Expression) -> str:
    if isinstance(to, exp.ObjectIdentifier):
        return to.name.lower()
    if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.USERDEFINED:
        kind = to.args.get("kind")
        return (kind.expression.name if isinstance(kind, exp.Dot) else str(kind)).lower()
    return ""


def _cast(node: exp.Cast, value: exp.Expression) -> exp.Expression:
    """PostgreSQL's object-identifier casts as lookups; ``pg_catalog.text`` and friends as DuckDB types."""
    name = _type_name(node.args["to"])
    literal = isinstance(value, exp.Literal) and value.is_string
    if isinstance(value.unnest(), (exp.Placeholder, exp.Parameter)) and name in ("regclass", "regtype"):
        return _macro(f"{name}_oid", [value])  # a bound parameter cast to regclass is a name (SQLAlchemy's reflection)
    if name == "oid":
        return exp.cast(value, "BIGINT")
    if name == "regclass":
        if literal and not value.name.isdigit():
            return _macro("regclass_oid", [value])
        return exp.cast(value, "BIGINT") if literal else _macro("regclass_name", [value])
    if name == "regtype":
        if literal and not value.name.isdigit():
            return _macro("regtype_oid", [value])
        return exp.cast(value, "BIGINT") if literal else _macro("regtype_name", [value])
    if name == "regnamespace":
        return exp.cast(value, "BIGINT") if literal else _macro("regnamespace_name", [value])
    if name in REG_TYPES:
        return exp.cast(value, "VARCHAR")
    known = {"text": "VARCHAR", "name": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "bpchar": "VARCHAR",
             "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "bool": "BOOLEAN", "float8": "DOUBLE",
             "int2[]": "SMALLINT[]", "_int2": "SMALLINT[]", "oid[]": "BIGINT[]"}
    return exp.cast(value, known.get(name, "VARCHAR"))


def column_names(tree: exp.Expression) -> list[str]:
    """Result column names as PostgreSQL gives them (an unnamed ``version()`` is ``version``)."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    return [_column_name(e) for e in select.expressions] if select is not None else []


def _column_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name if not isinstance(node.this, exp.Star) else "*"
    if isinstance(node, exp.Dot):
        return _column_name(node.expression)
    if isinstance(node, exp.Cast):
        inner = _column_name(node.this)
        return inner if inner != "?column?" else (_type_name(node.args["to"]) or node.to.sql("postgres").lower())
    if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
        return "current_user" if isinstance(node, exp.CurrentUser) else "session_user"
    if isinstance(node, exp.CurrentSchema):
        return "current_schema"
    if isinstance(node, exp.CurrentVersion):
        return "version"
    if isinstance(node, exp.CurrentDatabase):
        return "current_database"
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
        return _column_name(node.this.expressions[0])
    if isinstance(node, exp.Func):
        return _function_name(node)
    return "?column?"


def _empty_result(tree: exp.Expression) -> pa.Table:
    names = column_names(tree) or ["?column?"]
    return pa.Table.from_arrays([pa.array([], pa.string()) for _ in names], names=names)


def type_of(oid: int) -> str:
    return BY_OID[oid].display if oid in BY_OID else "unknown"
