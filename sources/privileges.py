"""The privilege check at a source's first connection (issue 20, item 3).

fedq only reads, and every statement runs in a read-only transaction; a role that could do more
(write a table, create objects, read server files, run programs, manage roles) is still refused,
so that no single safeguard stands alone. The check runs once per source, on its first connection
(never at catalog load), and its verdict is cached: a refused source keeps failing with the same
message. ``allow_privileged_role = true`` in the source's settings skips it.

The error names the source, the role and what was found, never the DSN or a password, and points
to the README section "A read-only role for fedq".
"""
from __future__ import annotations

import re
import threading
from typing import Any, Callable

from fedq.errors import OperationalError

README_SECTION = 'README section "A read-only role for fedq"'
SHOWN = 4  # findings named in the error; the rest are counted

# -- PostgreSQL -----------------------------------------------------------------------------
# Predefined roles a reader may belong to: they only read data, settings or statistics.
PG_READ_ROLES = ("pg_read_all_data", "pg_read_all_settings", "pg_read_all_stats", "pg_stat_scan_tables",
                 "pg_monitor", "pg_use_reserved_connections")
PG_TABLE_KINDS = "('r', 'p', 'v', 'f')"  # tables, partitioned tables, views (auto-updatable), foreign tables
PG_SKIPPED_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
                      "AND n.nspname NOT LIKE 'pg\\_temp\\_%'")
PG_PRIVILEGES_SQL = f"""
SELECT rank, found FROM (
  SELECT a.rank, a.found FROM pg_roles r, LATERAL (VALUES
      (r.rolsuper, 0, 'superuser (rolsuper)'), (r.rolcreaterole, 1, 'CREATEROLE (rolcreaterole)'),
      (r.rolcreatedb, 1, 'CREATEDB (rolcreatedb)'), (r.rolreplication, 1, 'REPLICATION (rolreplication)'),
      (r.rolbypassrls, 1, 'BYPASSRLS (rolbypassrls)')) AS a(flag, rank, found)
    WHERE r.rolname = current_user AND a.flag
  UNION ALL
  SELECT 2, 'member of ' || p.rolname FROM pg_roles p
    WHERE p.rolname LIKE 'pg\\_%' AND p.rolname <> ALL (ARRAY{list(PG_READ_ROLES)}::text[])
      AND pg_has_role(current_user, p.oid, 'MEMBER')
  UNION ALL
  SELECT 3, 'CREATE on database ' || quote_ident(d.datname) FROM pg_database d
    WHERE d.datallowconn AND has_database_privilege(d.oid, 'CREATE')
  UNION ALL
  SELECT 4, 'CREATE on schema ' || quote_ident(n.nspname) FROM pg_namespace n
    WHERE {PG_SKIPPED_SCHEMAS} AND has_schema_privilege(n.oid, 'CREATE')
  UNION ALL
  SELECT 5, p.privilege || ' on ' || CASE WHEN c.relkind = 'v' THEN 'view ' ELSE 'table ' END
            || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('TRIGGER')) AS p(privilege)
    WHERE c.relkind IN {PG_TABLE_KINDS} AND {PG_SKIPPED_SCHEMAS}
      AND CASE WHEN p.privilege IN ('INSERT', 'UPDATE') THEN has_any_column_privilege(c.oid, p.privilege)
               ELSE has_table_privilege(c.oid, p.privilege) END
  UNION ALL
  SELECT 6, p.privilege || ' on sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN (VALUES ('UPDATE'), ('USAGE')) AS p(privilege)
    WHERE c.relkind = 'S' AND {PG_SKIPPED_SCHEMAS} AND has_sequence_privilege(c.oid, p.privilege)
) AS findings ORDER BY rank, found LIMIT 1000
"""


def postgres_findings(fetch: Callable[[str], list[tuple[Any, ...]]]) -> tuple[str, list[str]]:
    """(role, what it may do beyond reading) through ``fetch`` (one SQL text -> rows)."""
    role = fetch("SELECT current_user")[0][0]
    return str(role), [str(found) for _, found in fetch(PG_PRIVILEGES_SQL)]


# -- MySQL / MariaDB ------------------------------------------------------------------------
MYSQL_READ_PRIVILEGES = frozenset({"SELECT", "SHOW VIEW", "USAGE", "SHOW DATABASES"})
_GRANT = re.compile(r"^GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<level>.+?)\s+TO\s+(?P<rest>.*)$", re.I | re.S)
_ROLE_GRANT = re.compile(r"^GRANT\s+(?P<roles>.+?)\s+TO\s+", re.I | re.S)
_COLUMN_LIST = re.compile(r"\([^)]*\)")


def mysql_grant_findings(line: str) -> tuple[list[str], list[str]]:
    """(privileges beyond reading, roles granted) in one ``SHOW GRANTS`` line.

    >>> mysql_grant_findings("GRANT SELECT, INSERT (a, b) ON `test`.* TO `u`@`%` WITH GRANT OPTION")
    (['INSERT on `test`.*', 'GRANT OPTION on `test`.*'], [])
    >>> mysql_grant_findings("GRANT `reader` TO `u`@`%`")
    ([], ['`reader`'])
    """
    match = _GRANT.match(line.strip())
    if match is None:
        role = _ROLE_GRANT.match(line.strip())
        return [], [r.strip() for r in role.group("roles").split(",")] if role else []
    level = match.group("level").strip()
    privileges = [p.strip().upper() for p in _COLUMN_LIST.sub("", match.group("privileges")).split(",")]
    found = [f"{p} on {level}" for p in privileges if p and p not in MYSQL_READ_PRIVILEGES]
    if re.search(r"\bWITH\s+GRANT\s+OPTION\b", match.group("rest"), re.I):
        found.append(f"GRANT OPTION on {level}")
    return found, []


def mysql_findings(fetch: Callable[[str], list[tuple[Any, ...]]]) -> tuple[str, list[str]]:
    """(account, privileges beyond reading) from ``SHOW GRANTS``, following granted roles (a role
    whose grants cannot be read counts as a finding)."""
    account = str(fetch("SELECT CURRENT_USER()")[0][0])
    findings: list[str] = []
    pending, seen = [None], set()
    while pending:
        role = pending.pop()
        try:
            lines = [str(row[0]) for row in fetch("SHOW GRANTS" if role is None else f"SHOW GRANTS FOR {role}")]
        except Exception:  # the account may not read the role's grants
            findings.append(f"role {role} (its grants cannot be read)")
            continue
        for line in lines:
            found, roles = mysql_grant_findings(line)
            findings += [f for f in found if f not in findings]
            pending += [r for r in roles if r not in seen and not seen.add(r)]
    return account, findings


# -- the check, once per source ---------------------------------------------------------------
def privileged_role_error(source: str, type_name: str, role: str, findings: list[str]) -> OperationalError:
    """The refusal: who (``role`` as in "role fedq" / "account u@h"), what was found (the first few),
    and how to fix it."""
    shown = "; ".join(findings[:SHOWN]) + (f"; and {len(findings) - SHOWN} more" if len(findings) > SHOWN else "")
    error = OperationalError(
        f"source '{source}' ({type_name}): {role} may do more than read ({shown}); fedq refuses such a role "
        f"so that nothing it sends can write, read server files or run programs. Connect as a read-only role "
        f"(see the {README_SECTION}) or set allow_privileged_role = true for this source")
    error.source_name, error.action = source, "privilege check"
    return error


class PrivilegeGate:
    """Runs a source's privilege check on its first connection and remembers the verdict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdict: OperationalError | None = None
        self._checked = False

    def check(self, run: Callable[[], OperationalError | None]) -> None:
        """Run ``run`` (None: accepted, else the refusal) the first time; raise a cached refusal."""
        with self._lock:
            if not self._checked:
                self._verdict = run()
                self._checked = True
        if self._verdict is not None:
            raise self._verdict.with_traceback(None)
