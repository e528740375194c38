"""Cut one query into per-source fragments and the local DuckDB query that finishes it.

The planner never rewrites the user's query beyond swapping table references (or whole
single-source subqueries) for fragment views, so everything it does not push is computed by
DuckDB exactly as written. Analysis happens on a qualified, type-annotated copy (sqlglot's
``qualify`` + ``annotate_types``):

1. every catalog table is bound to its source;
2. the largest subtrees whose tables all share one compute context, with no correlation to the
   outside and only allowlisted operations, become one remote query each (datafusion-federation's
   "largest single-source subtree");
3. every other table becomes a scan with only the columns the query uses and the filter terms its
   source accepts (Exact / Inexact / Unsupported). Filters stay in the local query too, so a pushed
   filter can only remove rows that DuckDB would remove anyway.

If analysis fails on a construct sqlglot cannot qualify, the plan falls back to full scans: slower,
never wrong.
"""
from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import ensure_schema

import pyarrow as pa
import pyarrow.compute as pc

from fedq.catalog import BoundTable, Catalog
from fedq.engine.binder import Binder
from fedq.engine.capabilities import CAPABILITIES, type_family, why_not_pushable
from fedq.engine.deadline import checkpoint
from fedq.engine.join_order import filtered_rows, order_joins
from fedq.engine.reduction import MIN_REDUCTION_FACTOR, ROW_KEY_DIALECTS, Reduction, choose_reduction, choose_row_reduction, max_keys
from fedq.engine.sqlgen import compared_type
from fedq.engine.folding import fold_constants
from fedq.engine.gc_pause import fewer_collections
from fedq.engine.tree_copy import copy_tree
from fedq.engine.literal_lists import binding_sql, literal_list
from fedq.engine.passthrough import native_query, native_sql
from fedq.engine.sandbox import refuse_local_reads, table_function_refused
from fedq.errors import ProgrammingError
from fedq.sources import FetchStats, Pushdown, ScanRequest, SQLSource

TABLE_KEY = "fedq_table"
UNIT_KEY = "fedq_unit"
PASSTHROUGH_KEY = "fedq_passthrough"
GROUP_COLUMN_KEY = "fedq_group_column"  # a join group's output, cast to its column's type, in the local query
_view_ids = itertools.count(1)


@dataclass
class Fragment:
    """One unit of remote work and the DuckDB view its rows appear under."""

    view: str
    source: Any
    kind: str  # "scan" or "query"
    request: ScanRequest | None = None
    remote_sql: str | None = None
    remote_params: tuple[Any, ...] = ()
    exact: list[str] = field(default_factory=list)
    inexact: list[str] = field(default_factory=list)
    local_only: list[str] = field(default_factory=list)
    schema: pa.Schema | None = None  # expected output, for checking the local query
    stats: FetchStats = field(default_factory=FetchStats)
    dynamic: "DynamicFilter | None" = None  # keys from another fragment narrow this scan at run time
    bound: BoundTable | None = None  # the table a scan reads (for statistics)
    native: exp.Expression | None = None  # a DuckDB table function that reads the data in place of a stream
    small: bool = False  # statistics say the table is small: hand DuckDB a table (with its size), not a stream
    passthrough: bool = False  # query('source', 'SQL'): its schema was probed at the source when planned

    @property
    def remote(self) -> str:
        """What the source receives: SQL text, or the scan request of a non-SQL source."""
        if self.native is not None:
            how = "attached READ_ONLY, read by DuckDB" if isinstance(self.native, exp.Table) else "read by DuckDB"
            return f"{how}: {self.native.sql('duckdb')} columns=[{', '.join(self.request.columns)}]"
        return self.remote_sql if self.remote_sql is not None else self.request.describe()


@dataclass
class Plan:
    fragments: list[Fragment]
    local_sql: str
    local_params: dict[str, Any]
    drafts: list[str | Callable[[], str]] = field(default_factory=list)  # the notes, some not yet written
    tables: list[BoundTable] = field(default_factory=list)  # every source table the plan reads (for drift checks)
    columns: list[tuple[str, str]] = field(default_factory=list)  # the all-local query's (name, DuckDB type): results are given as DuckDB gives them

    @property
    def notes(self) -> list[str]:
        """What EXPLAIN shows besides the fragments. A note quoting part of the query renders that part
        only when first read: running a query never reads them, and rendering cost ~20% of planning."""
        self.drafts[:] = [d if isinstance(d, str) else d() for d in self.drafts]
        return self.drafts  # type: ignore[return-value]  # every draft is written now


# -- binding -----------------------------------------------------------------------------
def bind_tables(tree: exp.Expression, catalog: Catalog) -> list[BoundTable]:
    """Resolve every catalog table in ``tree`` in place: full real names, an alias, a meta tag."""
    refuse_local_reads(tree)  # early and clear; the sandboxed engine is the guarantee
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    bound: list[BoundTable] = []
    written: dict[tuple[str, ...], str] = {}  # each spelling of a bound table's name -> the alias it now has
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Dot):
            raise ProgrammingError(
                f"table '{table.sql('duckdb')}' has too many name parts: write source.table or source.schema.table"
            )
        if table.meta.get(PASSTHROUGH_KEY) or isinstance(table.this, exp.GenerateSeries):
            continue  # query() stand-ins are fedq's; range() and generate_series() read nothing
        if not isinstance(table.this, exp.Identifier):
            raise table_function_refused(table.this)
        parts = [p.name for p in table.parts]
        if len(parts) == 1 and parts[0].lower() in cte_names:
            continue
        if len(parts) == 1:
            raise ProgrammingError(
                f"table '{parts[0]}' needs its source: write source.{parts[0]} or source.schema.{parts[0]}"
                + (f" (sources: {', '.join(s.name for s in catalog.sources.values())})" if catalog.sources else "")
            )
        checkpoint("reading table metadata")
        resolved = catalog.resolve(parts)
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        source, schema, name = resolved.qualified
        table.set("catalog", exp.to_identifier(source, quoted=True))
        table.set("db", exp.to_identifier(schema, quoted=True))
        table.set("this", exp.to_identifier(name, quoted=True))
        table.meta[TABLE_KEY] = len(bound)
        bound.append(resolved)
        spellings = [parts, [source, schema, name]] + ([[source, name]] if schema == resolved.source.default_schema else [])
        for spelling in spellings:
            written[tuple(p.lower() for p in spelling)] = table.alias
    _qualify_by_alias(tree, written)
    return bound


def _qualify_by_alias(tree: exp.Expression, written: dict[tuple[str, ...], str]) -> None:
    """``crm.customers.id`` names its table as written; once the table is aliased it is ``customers.id``."""
    for column in tree.find_all(exp.Column):
        if not column.args.get("db"):
            continue
        qualifier = tuple(p.name.lower() for p in column.parts[:-1])
        alias = written.get(qualifier)
        if alias is not None:
            column.set("table", exp.to_identifier(alias))
            column.set("db", None)
            column.set("catalog", None)


def _tag_units(tree: exp.Expression) -> None:
    for index, node in enumerate(tree.find_all(exp.Select, exp.SetOperation)):
        node.meta[UNIT_KEY] = index


def _analysis_copy(tree: exp.Expression, bound: list[BoundTable]) -> exp.Expression:
    """Qualified, type-annotated copy where table ``i`` is named ``s.d.t{i}`` (no case trouble)."""
    copy = copy_tree(tree)
    schema: dict[str, dict[str, str]] = {}
    for table in copy.find_all(exp.Table):
        index = table.meta.get(TABLE_KEY)
        if index is None:
            continue
        table.set("catalog", exp.to_identifier("s"))
        table.set("db", exp.to_identifier("d"))
        table.set("this", exp.to_identifier(f"t{index}"))
        schema[f"t{index}"] = {f.name.lower(): _duck_type(f.type) for f in bound[index].schema}
    mapping = ensure_schema({"s": {"d": schema}}, dialect="duckdb")  # built once: qualify and annotate_types share it
    checkpoint("planning (copying the query)")
    copy = qualify(copy, schema=mapping, dialect="duckdb", quote_identifiers=False, validate_qualify_columns=False)
    checkpoint("planning (qualifying names)")
    copy = fold_constants(copy)
    return annotate_types(copy, schema=mapping, dialect="duckdb")


def _duck_type(dtype: pa.DataType) -> str:
    from fedq.catalog.types import arrow_to_duckdb

    return arrow_to_duckdb(dtype)


# -- scope helpers -----------------------------------------------------------------------
def _table_of(scope: Scope, alias: str) -> exp.Table | None:
    """The catalog table an alias refers to, looking outward through enclosing scopes."""
    while scope is not None:
        if alias in scope.selected_sources:
            node, _ = scope.selected_sources[alias]
            return node if isinstance(node, exp.Table) and TABLE_KEY in node.meta else None
        scope = scope.parent
    return None


def _nullable_aliases(select: exp.Select) -> set[str]:
    """Aliases on the NULL-extended side of an outer join in this SELECT."""
    seen: list[str] = []
    source = select.args.get("from_")
    if source is not None:
        seen.append(source.this.alias_or_name)
    nullable: set[str] = set()
    for join in select.args.get("joins") or []:
        alias = join.this.alias_or_name
        side = (join.side or "").upper()
        if side == "LEFT":
            nullable.add(alias)
        elif side == "RIGHT":
            nullable.update(seen)
        elif side == "FULL":
            nullable.update(seen + [alias])
        elif (join.kind or "").upper() in ("SEMI", "ANTI", "ASOF", "POSITIONAL"):
            nullable.add(alias)
        seen.append(alias)
    return nullable


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def _filter_candidates(scope: Scope) -> dict[int, list[exp.Expression]]:
    """Filter terms that may be offered to a single table's scan (hazard 12 for outer joins)."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return {}
    nullable = _nullable_aliases(select)
    preserved = set(scope.selected_sources) - nullable
    offered: list[tuple[exp.Expression, set[str]]] = []  # (term, aliases whose scan may take it)
    where = select.args.get("where")
    for term in _conjuncts(where.this if where else None):
        offered.append((term, preserved))
    for join in select.args.get("joins") or []:
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if kind in ("SEMI", "ANTI", "ASOF", "POSITIONAL", "CROSS"):
            continue
        own = join.this.alias_or_name
        for term in _conjuncts(join.args.get("on")):
            if side == "":
                offered.append((term, preserved))
            elif side == "LEFT":
                offered.append((term, {own}))  # only the nullable side's own ON terms
    result: dict[int, list[exp.Expression]] = {}
    for term, allowed in offered:
        if any(isinstance(n, (exp.Subquery, exp.Select, exp.AggFunc, exp.Window, exp.Exists)) for n in term.walk()):
            continue
        aliases = {c.table for c in term.find_all(exp.Column)}
        if len(aliases) != 1:
            continue
        alias = aliases.pop()
        if alias not in allowed:
            continue
        table = _table_of(scope, alias)
        if table is not None:
            result.setdefault(id(table), []).append(term)
    return result


# -- the planner -------------------------------------------------------------------------
class Planner:
    """Builds a :class:`Plan` for one SELECT-class statement."""

    def __init__(self, catalog: Catalog, binder: Binder, pushdown: bool = True, dynamic_filtering: bool = True) -> None:
        self.catalog = catalog
        self.binder = binder
        self.pushdown = pushdown
        self.dynamic_filtering = dynamic_filtering

    def plan(self, tree: exp.Expression, params: dict[str, Any]) -> Plan:
        """Plan ``tree``, which the planner takes over (it is rewritten: pass a copy to keep one)."""
        with fewer_collections():  # engine/gc_pause.py: collecting every 700 allocations cost a third of the time
            return self._plan(tree, params)

    def _plan(self, tree: exp.Expression, params: dict[str, Any]) -> Plan:
        passthrough = self._passthrough_fragments(tree)
        bound = bind_tables(tree, self.catalog)
        self.binder.ensure(bound)
        checkpoint("planning (binding tables)")
        stand_ins = {f.view: f.schema for f in passthrough}
        self._root_names = self.binder.describe(tree, _used_params(tree, params), stand_ins)  # DuckDB's binder errors first
        checkpoint("planning (checking the query)")
        if not bound:
            return Plan(passthrough, tree.sql("duckdb"), _used_params(tree, params), columns=self._root_names)
        plan = None
        if self.pushdown:
            try:
                plan = self._pushdown_plan(tree, bound, params, stand_ins)  # a failed attempt leaves tree whole
            except (OptimizeError, SqlglotError, KeyError, ProgrammingError, NotImplementedError) as error:
                plan = self._full_scan_plan(tree, bound, params)
                plan.notes.append(f"pushdown analysis skipped: {error}")
        plan = plan or self._full_scan_plan(tree, bound, params)
        plan.fragments[:0] = passthrough
        plan.tables, plan.columns = bound, self._root_names
        return plan

    def _passthrough_fragments(self, tree: exp.Expression) -> list[Fragment]:
        """``query('source', 'native SQL')`` in FROM: a read-only query checked by engine/passthrough.py."""
        fragments = []
        for table in list(tree.find_all(exp.Table)):
            function = table.this
            if not (isinstance(function, exp.Anonymous) and function.name.lower() == "query" and len(function.expressions) == 2):
                continue
            name, sql = function.expressions
            if not (isinstance(name, exp.Literal) and name.is_string and isinstance(sql, exp.Literal) and sql.is_string):
                raise ProgrammingError("query() takes two string literals: query('source', 'SELECT …')")
            source = self.catalog.source(name.this)
            if not isinstance(source, SQLSource):
                raise ProgrammingError(f"query(): source '{source.name}' ({source.type_name}) does not run SQL")
            query = native_query(source, sql.this)  # allowlists; what is sent is sqlglot's text, not the user's
            native = native_sql(source, query)
            view = f"__fedq_{next(_view_ids)}"
            probe_sql = native_sql(source, exp.select("*").from_(query.subquery("fedq_probe")).limit(0))
            probe = source.query(probe_sql, (), FetchStats())
            schema = probe.schema
            probe.close()
            fragments.append(Fragment(view=view, source=source, kind="query", remote_sql=native, schema=schema, passthrough=True))
            stand_in = _view_table(view, table.alias_or_name if table.alias else "query")
            stand_in.meta[PASSTHROUGH_KEY] = True
            table.replace(stand_in)
        return fragments

    # -- plans ------------------------------------------------------------------------
    def _full_scan_plan(self, tree: exp.Expression, bound: list[BoundTable], params: dict[str, Any]) -> Plan:
        local = tree  # the planner's own: plan() was given it, and a failed pushdown attempt left it whole
        fragments = []
        for table in list(local.find_all(exp.Table)):
            index = table.meta.get(TABLE_KEY)
            if index is None:
                continue
            checkpoint("planning (scans)")
            fragment = self._scan_fragment(bound[index], [f.name for f in bound[index].schema], [], params)
            fragments.append(fragment)
            table.replace(_view_table(fragment.view, table.alias_or_name))
        return Plan(fragments, local.sql("duckdb"), _used_params(local, params))

    def _pushdown_plan(self, tree: exp.Expression, bound: list[BoundTable], params: dict[str, Any],
                       stand_ins: dict[str, pa.Schema]) -> Plan:
        """Changes only its own copy of ``tree``, so that plan() can fall back to full scans of it; a query
        that goes whole to one source (``whole``) leaves the tree as it is and needs no copy."""
        self._params = params
        self._notes: list[str | Callable[[], str]] = []
        self._group_builds: dict[int, tuple[Fragment, dict[tuple[str, str], str]]] = {}  # analysed table -> its join group's fragment, output names
        _tag_units(tree)
        analysed = _analysis_copy(tree, bound)
        checkpoint("planning (annotating types)")
        units: list[tuple[exp.Expression, Split | Partial | JoinGroups | None]] = []
        self._find_units(analysed, bound, units)
        whole = len(units) == 1 and units[0][1] is None and units[0][0] is analysed
        if not whole:
            tree = copy_tree(tree)
        self._root = tree
        originals = {n.meta[UNIT_KEY]: n for n in tree.find_all(exp.Select, exp.SetOperation) if UNIT_KEY in n.meta}
        tables = {n.meta[TABLE_KEY]: n for n in tree.find_all(exp.Table) if TABLE_KEY in n.meta}
        fragments: list[Fragment] = []
        pushed_tables: set[int] = set()
        for unit, split in units:
            checkpoint("planning (remote queries)")
            original = originals[unit.meta[UNIT_KEY]]
            if isinstance(split, JoinGroups):
                try:
                    group_fragments, replacement = self._group_fragments(unit, split, original, bound, params)
                except (OverLimit, NotGrouped) as over:
                    self._notes.append(f"join group kept local (its tables are scanned): {over}")
                    continue
                self._notes.extend(split.notes)
                for table in replacement.find_all(exp.Table):  # the tables outside the groups are scanned as usual
                    if TABLE_KEY in table.meta:
                        tables[table.meta[TABLE_KEY]] = table
                fragments.extend(group_fragments)
                if original is tree:
                    tree = replacement
                else:
                    original.replace(replacement)
                pushed_tables.update(t.meta[TABLE_KEY] for g in split.groups for t in g.tables)
                for group, fragment in zip(split.groups, group_fragments):
                    if group.filtered:  # a filtered group's keys may narrow another source's scan (dynamic filter)
                        self._group_builds.update({id(t): (fragment, group.names) for t in group.tables})
                continue
            try:
                fragment, replacement = (self._unit_fragment(unit, original, bound, params) if split is None else
                                         self._partial_fragment(unit, split, original, bound, params) if isinstance(split, Partial)
                                         else self._split_fragment(unit, split, original, bound, params))
            except OverLimit as over:
                self._notes.append(f"kept local (its tables are scanned): {over}")
                continue
            if isinstance(split, Partial):
                for table in replacement.find_all(exp.Table):  # the other tables are scanned as usual
                    if TABLE_KEY in table.meta:
                        tables[table.meta[TABLE_KEY]] = table
                fragments.append(fragment)
                if original is tree:
                    tree = replacement
                else:
                    original.replace(replacement)
                pushed_tables.add(split.table.meta[TABLE_KEY])
                continue
            fragments.append(fragment)
            if original is tree:
                tree = replacement
            else:
                original.replace(replacement)
            pushed_tables.update(t.meta[TABLE_KEY] for t in unit.find_all(exp.Table) if TABLE_KEY in t.meta)

        scanned = set(tables) - pushed_tables  # no scan left (a whole query pushed): no second scope walk
        if scanned and whole:  # the whole query was over a limit of its source: the scans change a copy
            tree = copy_tree(tree)
            tables = {n.meta[TABLE_KEY]: n for n in tree.find_all(exp.Table) if TABLE_KEY in n.meta}
        needed, candidates, full = self._scan_requirements(analysed) if scanned else ({}, {}, set())
        scans: dict[int, Fragment] = {}
        natives: list[tuple[Fragment, exp.Expression, list[str], exp.Table]] = []
        for table in analysed.find_all(exp.Table):
            index = table.meta.get(TABLE_KEY)
            if index is None or index in pushed_tables:
                continue
            checkpoint("planning (scans)")
            target = bound[index]
            by_lower = {f.name.lower(): f.name for f in target.schema}
            columns = [f.name for f in target.schema] if id(table) in full else [
                f.name for f in target.schema if f.name.lower() in needed.get(id(table), set())
            ]
            terms = [_bare(term, by_lower) for term in candidates.get(id(table), [])]
            fragment = self._scan_fragment(target, columns, terms, params)
            fragments.append(fragment)
            original = tables[index]
            rows = self.catalog.row_count(target)
            fragment.small = rows is not None and rows <= SMALL_TABLE_ROWS
            native = getattr(target.source, "native_table", lambda _: None)(target.table)
            stand_in = _view_table(fragment.view, original.alias_or_name)
            original.replace(stand_in)
            if native is not None:  # DuckDB reads these files itself, unless join ordering needs them streamed
                natives.append((fragment, native, columns, stand_in))
                continue
            scans[id(table)] = fragment
        if self.dynamic_filtering and scans and len(scans) + len(self._group_builds) > 1:  # a dynamic filter joins two fragments
            self._plan_dynamic_filters(analysed, scans)
        streamed = self._order_joins(tree, list(scans.values()), [n[0] for n in natives])
        for fragment, native, columns, stand_in in natives:
            if fragment.view in streamed:
                continue
            hazard = fragment.source.nan_hazard(tree, fragment.schema)
            if hazard is not None:  # DuckDB's Parquet statistics leave NaN out (issue 14)
                self._notes.append(f"{fragment.view} ({fragment.source.name}.{fragment.request.table.name}) {hazard}")
                continue
            fragment.kind, fragment.native = "native", native  # filters reach its scan from the local query
            select = exp.select(*[exp.column(c, quoted=True) for c in columns] or [exp.Star()]).from_(native.copy())
            stand_in.replace(exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(stand_in.alias_or_name))))

        checkpoint("planning (join order)")
        checked = binding_sql(tree) if _has_literal_lists(tree) else None  # before the uncopied rendering below
        plan = Plan(fragments, tree.sql("duckdb", copy=False), _used_params(tree, params), drafts=self._notes)  # tree is done with
        checkpoint("planning (the local query)")
        self.binder.describe(checked or plan.local_sql, plan.local_params, {**stand_ins, **{f.view: f.schema for f in fragments}})
        return plan

    # -- single-source subtrees ---------------------------------------------------------
    def _find_units(self, node: exp.Expression, bound: list[BoundTable],
                    found: list[tuple[exp.Expression, "Split | Partial | JoinGroups | None"]]) -> None:
        """Largest subtrees one source can run: whole (``None``) or split into a remote core and local rest."""
        if isinstance(node, (exp.Select, exp.SetOperation)) and UNIT_KEY in node.meta:
            checkpoint("planning (finding single-source parts)")
            if self._unit_ok(node, bound):
                found.append((node, None))
                return
            reason = self._unit_reason(node, bound)
            split = self._split(node, bound)
            if split is not None:
                found.append((node, split))
                self._notes.append(lambda: f"pushed without its projections/HAVING/ORDER BY: {reason()}")
                return
            groups = self._join_groups(node, bound)
            if groups is not None:
                found.append((node, groups))
                return
            partial = self._partial(node, bound)
            if partial is not None:
                found.append((node, partial))
                self._notes.append(lambda: f"pre-aggregated {partial.alias} at its source below the join: {reason()}")
                return
            if reason:
                self._notes.append(lambda: f"not pushed as one query: {reason()}")
        for child in node.iter_expressions():
            self._find_units(child, bound, found)

    def _unit_reason(self, unit: exp.Expression, bound: list[BoundTable]) -> Callable[[], str] | None:
        """Why ``unit`` is not one remote query (None when it has no catalog tables of its own), as a
        function that writes it: the text quotes the unit, rendered only if someone reads the note
        (the analysis tree is not changed after units are found)."""
        tables = [t for t in unit.find_all(exp.Table) if TABLE_KEY in t.meta]
        if not tables:
            return None
        sources = sorted({bound[t.meta[TABLE_KEY]].source.name for t in tables})
        source = bound[tables[0].meta[TABLE_KEY]].source
        if len(sources) > 1:
            reason = f"joins sources {', '.join(sources)}"
        elif not isinstance(source, SQLSource):
            reason = f"{source.name} is not a SQL source"
        elif _reads_natively(source):
            reason = f"{source.name} is a DuckDB file attached read-only to the local engine, which reads its tables itself"
        elif self._single_context(unit, bound) is None:
            reason = f"is correlated with the outer query, reads a CTE, or touches columns unsafe at {source.name}"
        else:
            reason = why_not_pushable(unit, source.dialect)
            if reason is None and not _params_fit(unit, self._params):
                reason = "a bound value's type differs from its column's"
        return (lambda: f"[{_snippet(unit, bound)}…] {reason}") if reason else None

    def _single_context(self, unit: exp.Expression, bound: list[BoundTable]) -> SQLSource | None:
        """The SQL source all of ``unit``'s tables live in, if one does and nothing ties it to the outside."""
        tables, local_aliases, qualifiers = [], set(), set()  # one walk: a 5,000-branch UNION is 10^5 nodes
        for node in unit.walk():
            if isinstance(node, exp.Column):
                if node.table:
                    qualifiers.add(node.table)
            elif isinstance(node, exp.Table):
                tables.append(node)
                local_aliases.add(node.alias_or_name)
            elif isinstance(node, (exp.Subquery, exp.CTE)):
                local_aliases.add(node.alias_or_name)
        if not tables or any(TABLE_KEY not in t.meta for t in tables):
            return None
        targets = {id(b): b for b in (bound[t.meta[TABLE_KEY]] for t in tables)}.values()  # each table once
        sources = {b.source for b in targets}
        source = next(iter(sources))
        if len({s.context() for s in sources}) != 1 or not isinstance(source, SQLSource) or _reads_natively(source):
            return None
        if qualifiers - local_aliases:
            return None  # correlated with the outside
        if any(b.source.unsafe_columns(b.table) for b in targets):
            return None
        return source

    def _split(self, unit: exp.Expression, bound: list[BoundTable]) -> "Split | None":
        """Send FROM/JOIN/WHERE/GROUP BY and the aggregate calls; compute the rest locally.

        ``SELECT k, avg(x) * 2 FROM t WHERE p GROUP BY k HAVING count(*) > 1 ORDER BY 2 LIMIT 5`` becomes
        remote ``SELECT k AS k0, SUM(x) AS a0s, COUNT(x) AS a0n, COUNT(*) AS a1 FROM t WHERE p GROUP BY k``
        and local ``SELECT k0, (a0s / a0n) * 2 FROM frag WHERE a1 > 1 ORDER BY 2 LIMIT 5``.
        """
        source = self._single_context(unit, bound) if isinstance(unit, exp.Select) else None
        if source is None:
            return None
        dialect = source.dialect
        known = {"expressions", "from_", "joins", "where", "group", "having", "order", "limit", "offset", "distinct", "kind"}
        if any(value for key, value in unit.args.items() if key not in known):
            return None
        distinct, group = unit.args.get("distinct"), unit.args.get("group")
        if distinct is not None and distinct.args.get("on"):
            return None
        if group is not None and any(group.args.get(k) for k in ("all", "rollup", "cube", "grouping_sets", "totals")):
            return None
        core = [unit.args.get("from_"), *(unit.args.get("joins") or []), unit.args.get("where"), group]
        if any(part is not None and (why_not_pushable(part, dialect) or not _params_fit(part, self._params)) for part in core):
            return None
        rest = [*unit.expressions, unit.args.get("having"), unit.args.get("order")]
        rest = [part for part in rest if part is not None]
        if any(node for part in rest for node in part.find_all(exp.Subquery, exp.Exists, exp.Select, exp.Window, exp.Filter)):
            return None
        aggregates = [a for part in rest for a in part.find_all(exp.AggFunc)]
        columns: list[tuple[str, exp.Expression]] = []  # remote outputs: (name, expression)
        local: dict[str, exp.Expression] = {}  # canonical SQL -> what replaces it locally (names for now)
        if group is not None or aggregates:
            for agg in aggregates:
                key = agg.sql("duckdb")
                if key in local:
                    continue
                if isinstance(agg, exp.Avg) and type_family(_expr_type(agg.this)) == "number":
                    name = f"a{len(local)}"
                    parts = [(f"{name}s", exp.Sum(this=agg.this.copy())), (f"{name}n", exp.Count(this=agg.this.copy()))]
                    local[key] = exp.Tuple(expressions=[exp.to_identifier(n) for n, _ in parts])
                elif isinstance(agg, (exp.Count, exp.Sum, exp.Min, exp.Max)):
                    parts = [(f"a{len(local)}", agg.copy())]
                    local[key] = exp.to_identifier(parts[0][0])
                else:
                    return None
                if any(why_not_pushable(e, dialect) or not _params_fit(e, self._params) for _, e in parts):
                    return None
                columns += parts
            for index, expression in enumerate(group.expressions if group is not None else []):
                columns.append((f"k{index}", expression.copy()))
                local.setdefault(expression.sql("duckdb"), exp.to_identifier(f"k{index}"))
        else:
            for part in rest:
                for column in part.find_all(exp.Column):
                    if column.table and column.sql("duckdb") not in local:
                        name = f"k{len(local)}"
                        columns.append((name, column.copy()))
                        local[column.sql("duckdb")] = exp.to_identifier(name)
        if not columns:
            return None
        return Split(source=source, columns=columns, local=local)

    def _unit_ok(self, unit: exp.Expression, bound: list[BoundTable]) -> bool:
        source = self._single_context(unit, bound)
        if source is None:
            return False
        if any(isinstance(d, exp.Distinct) and d.args.get("on") for d in unit.find_all(exp.Distinct)):
            return False
        if why_not_pushable(unit, source.dialect) is not None or not _params_fit(unit, self._params):
            return False
        return _order_mapping(unit) is not None

    def _unit_fragment(
        self, unit: exp.Expression, original: exp.Expression, bound: list[BoundTable], params: dict[str, Any]
    ) -> tuple[Fragment, exp.Select]:
        source = bound[next(unit.find_all(exp.Table)).meta[TABLE_KEY]].source
        remote = copy_tree(unit)
        order = remote.args.get("order")
        limit, offset = remote.args.get("limit"), remote.args.get("offset")
        mapping = _order_mapping(unit)
        leftmost = remote
        while isinstance(leftmost, (exp.SetOperation, exp.Subquery)):
            leftmost = leftmost.this
        outputs = [exp.alias_(p.unalias() if isinstance(p, exp.Alias) else p, f"c{i}") for i, p in enumerate(leftmost.expressions)]
        hidden = [exp.alias_(key, f"s{i}") for i, key in enumerate(mapping.hidden)]
        leftmost.set("expressions", outputs + hidden)
        top_n = limit is not None and isinstance(remote, exp.Select) and not remote.args.get("distinct") and _int_literal(limit) and (offset is None or _int_literal(offset))
        for key in ("order", "limit", "offset"):
            remote.set(key, None)
        if top_n:
            count = int(limit.expression.name) + (int(offset.expression.name) if offset is not None else 0)
            # A constant key ties every row: left out, since sources read an integer literal in
            # ORDER BY as a column position and refuse other constants.
            remote_keys = [(key, o) for key, o in zip(mapping.keys, order.expressions) if key.find(exp.Column)] \
                if order is not None else []
            if remote_keys:
                remote.set("order", exp.Order(expressions=[
                    exp.Ordered(this=key.copy(), desc=o.args.get("desc"), nulls_first=o.args.get("nulls_first"))
                    for key, o in remote_keys
                ]))
            remote.set("limit", exp.Limit(expression=exp.Literal.number(count)))
        _to_remote_names(remote, bound)
        _check_limits(source, remote)
        remote_sql, values = source.render(remote, params)
        _check_limits(source, None, remote_sql)

        names = self._output_names(original, params)
        view = f"__fedq_{next(_view_ids)}"
        frag = exp.to_identifier(view)
        projections = [
            exp.alias_(_cast(exp.column(f"c{i}", table=frag), dtype), name, quoted=True)
            for i, (name, dtype) in enumerate(names)
        ]
        replacement = exp.select(*projections).from_(exp.Table(this=frag))
        if order is not None:
            replacement.set("order", exp.Order(expressions=[
                exp.Ordered(this=exp.column(column, table=frag), desc=o.args.get("desc"), nulls_first=o.args.get("nulls_first"))
                for column, o in zip(mapping.columns, order.expressions)
            ]))
        if limit is not None:
            replacement.set("limit", limit.copy())
        if offset is not None:
            replacement.set("offset", offset.copy())
        schema = pa.schema([pa.field(f"c{i}", _arrow_stand_in(t)) for i, (_, t) in enumerate(names)]
                           + [pa.field(f"s{i}", pa.string()) for i in range(len(hidden))])
        fragment = Fragment(view=view, source=source, kind="query", remote_sql=remote_sql, remote_params=values, schema=schema)
        return fragment, replacement

    def _output_names(self, original: exp.Expression, params: dict[str, Any]) -> list[tuple[str, str]]:
        """The (name, DuckDB type) outputs of a unit as the user wrote it; for the whole query, those
        plan() already has (no second rendering and binding of a big statement)."""
        if original is self._root:
            return self._root_names
        return self.binder.describe(original, _used_params(original, params))

    def _partial(self, unit: exp.Expression, bound: list[BoundTable]) -> "Partial | None":
        """Two-phase aggregation: pre-aggregate one table at its source by every column the rest of the
        query needs, then join and finish the aggregates locally.

        ``SELECT d.region, sum(f.x) FROM f JOIN d ON f.k = d.k GROUP BY d.region`` sends
        ``SELECT k, SUM(x) AS __p0 FROM f GROUP BY k`` and runs
        ``SELECT d.region, SUM(f.__p0) FROM frag AS f JOIN d ON f.k = d.k GROUP BY d.region`` locally.
        Only inner joins; only aggregates a join cannot distort (SUM/COUNT/AVG over the table's own
        columns, MIN/MAX over anything).
        """
        if not isinstance(unit, exp.Select) or not unit.args.get("joins") or unit.args.get("distinct"):
            return None
        known = {"expressions", "from_", "joins", "where", "group", "having", "order", "limit", "offset", "kind"}
        if any(value for key, value in unit.args.items() if key not in known):
            return None
        group = unit.args.get("group")
        if group is None or any(group.args.get(k) for k in ("all", "rollup", "cube", "grouping_sets", "totals")):
            return None
        joins = unit.args["joins"]
        if any(j.side or (j.kind or "").upper() not in ("", "INNER") for j in joins) or any(
            unit.find_all(exp.Subquery, exp.Exists, exp.Window, exp.Filter)
        ):
            return None
        sources = [unit.args["from_"].this] + [j.this for j in joins]
        if not all(isinstance(t, exp.Table) and TABLE_KEY in t.meta for t in sources):
            return None
        aggregates = list(unit.find_all(exp.AggFunc))
        where = unit.args.get("where")
        conjuncts = _conjuncts(where.this if where else None) + [t for j in joins for t in _conjuncts(j.args.get("on"))]
        filtered = {next(iter(aliases)) for t in conjuncts if len(aliases := {c.table for c in t.find_all(exp.Column)}) == 1}
        for table in sources:
            if self.dynamic_filtering and filtered - {table.alias_or_name}:
                continue  # a filtered table on the other side: its keys (dynamic filtering) cut more than grouping
            candidate = self._partial_for(unit, table, sources, aggregates, bound)
            if candidate is not None:
                return candidate
        return None

    def _partial_for(self, unit: exp.Select, table: exp.Table, sources: list[exp.Table],
                     aggregates: list[exp.AggFunc], bound: list[BoundTable]) -> "Partial | None":
        source = bound[table.meta[TABLE_KEY]].source
        if not isinstance(source, SQLSource) or _reads_natively(source) or source.unsafe_columns(bound[table.meta[TABLE_KEY]].table):
            return None
        alias, dialect = table.alias_or_name, source.dialect
        owns = lambda node: {c.table for c in node.find_all(exp.Column)} == {alias}  # noqa: E731
        partials: list[tuple[str, exp.Expression]] = []
        merges: dict[str, exp.Expression] = {}
        for agg in aggregates:
            key = agg.sql("duckdb")
            if key in merges:
                continue
            own = isinstance(agg.this, exp.Star) or owns(agg)
            if isinstance(agg, (exp.Min, exp.Max)) and not own and alias not in {c.table for c in agg.find_all(exp.Column)}:
                continue  # MIN/MAX over other tables: a join does not change them
            if not own or isinstance(agg.this, exp.Distinct) or not isinstance(agg, (exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)):
                return None
            name = f"__p{len(partials)}"
            if isinstance(agg, exp.Avg):
                if type_family(_expr_type(agg.this)) != "number":
                    return None
                partials += [(name + "s", exp.Sum(this=agg.this.copy())), (name + "n", exp.Count(this=agg.this.copy()))]
                total, count = (exp.column(n, table=alias) for n in (name + "s", name + "n"))
                merges[key] = exp.Div(this=exp.cast(exp.Sum(this=total), "DOUBLE"),
                                      expression=exp.Nullif(this=exp.Sum(this=count), expression=exp.Literal.number(0)))
            else:
                partials.append((name, agg.copy()))
                mine = exp.column(name, table=alias)
                merges[key] = exp.Coalesce(this=exp.Sum(this=mine), expressions=[exp.Literal.number(0)]) if isinstance(agg, exp.Count) \
                    else exp.Sum(this=mine) if isinstance(agg, exp.Sum) else type(agg)(this=mine)
        if not partials or any(why_not_pushable(e, dialect) or not _params_fit(e, self._params) for _, e in partials):
            return None
        pushed: list[exp.Expression] = []
        where = unit.args.get("where")
        conjuncts = _conjuncts(where.this if where else None) + [t for j in unit.args["joins"] for t in _conjuncts(j.args.get("on"))]
        for term in conjuncts:
            if owns(term) and not term.find(exp.AggFunc) and not why_not_pushable(term, dialect) and _params_fit(term, self._params):
                pushed.append(term)
        pushed_ids = {id(t) for t in pushed}
        inside = {id(c) for agg in aggregates for c in agg.find_all(exp.Column)}
        keys: dict[str, exp.Column] = {}
        for column in unit.find_all(exp.Column):
            if column.table == alias and id(column) not in inside and not any(id(a) in pushed_ids for a in _ancestors(column)):
                keys.setdefault(column.name, column)
        if not keys or any(why_not_pushable(c, dialect) for c in keys.values()):
            return None
        if not CAPABILITIES[dialect].temporal_logic and any(
            type_family(_expr_type(e)) in ("time", "zoned") for e in [*keys.values(), *(p for _, p in partials)]
        ):
            return None  # this source's query results carry dates as text (SQLite): keys and MIN/MAX would too
        return Partial(table=table, alias=alias, keys=list(keys), partials=partials, merges=merges, pushed=pushed)

    def _partial_fragment(
        self, unit: exp.Select, partial: "Partial", original: exp.Expression, bound: list[BoundTable], params: dict[str, Any]
    ) -> tuple[Fragment, exp.Select]:
        target = bound[partial.table.meta[TABLE_KEY]]
        source = target.source
        table = partial.table.copy()
        core = exp.select(*[exp.alias_(exp.column(k, table=partial.alias), k) for k in partial.keys],
                          *[exp.alias_(e.copy(), n) for n, e in partial.partials]).from_(table)
        if partial.pushed:
            core = core.where(exp.and_(*[t.copy() for t in partial.pushed]))
        core = core.group_by(*[exp.column(k, table=partial.alias) for k in partial.keys])
        mirror = core.copy()
        _to_mirror_names(mirror, bound)
        types = [t for _, t in self.binder.describe(_mirror_text(mirror), _used_params(mirror, params))]
        _to_remote_names(core, bound)
        for projection in core.expressions[: len(partial.keys)]:  # outputs keep DuckDB-visible names
            projection.set("alias", exp.to_identifier(projection.alias, quoted=True))
        _check_limits(source, core)
        remote_sql, values = source.render(core, params)
        _check_limits(source, None, remote_sql)
        view = f"__fedq_{next(_view_ids)}"

        pushed_sql = {t.sql("duckdb") for t in partial.pushed}

        def replace(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.AggFunc) and node.sql("duckdb") in partial.merges:
                return partial.merges[node.sql("duckdb")].copy()
            if isinstance(node, exp.Table) and node is not None and node.meta.get(TABLE_KEY) == partial.table.meta[TABLE_KEY]:
                return _view_table(view, partial.alias)
            return node

        local = unit.transform(replace)
        _drop_conjuncts(local, pushed_sql)
        names = self._output_names(original, params)
        local.set("expressions", [exp.alias_(_cast(p.unalias() if isinstance(p, exp.Alias) else p, dtype), name, quoted=True)
                                  for p, (name, dtype) in zip(local.expressions, names)])
        output_names = [k for k in partial.keys] + [n for n, _ in partial.partials]
        schema = pa.schema([pa.field(n, _arrow_stand_in(t)) for n, t in zip(output_names, types)])
        fragment = Fragment(view=view, source=source, kind="query", remote_sql=remote_sql, remote_params=values, schema=schema,
                            exact=[t.sql("duckdb") for t in partial.pushed])
        return fragment, local

    def _split_fragment(
        self, unit: exp.Select, split: "Split", original: exp.Expression, bound: list[BoundTable], params: dict[str, Any]
    ) -> tuple[Fragment, exp.Select]:
        source = split.source
        core = copy_tree(unit)
        for key in ("having", "order", "limit", "offset", "distinct"):
            core.set(key, None)
        core.set("expressions", [exp.alias_(expression.copy(), name) for name, expression in split.columns])
        mirror = core.copy()
        _to_mirror_names(mirror, bound)
        types = [t for _, t in self.binder.describe(_mirror_text(mirror), _used_params(mirror, params))]
        _to_remote_names(core, bound)
        _check_limits(source, core)
        remote_sql, values = source.render(core, params)
        _check_limits(source, None, remote_sql)

        view = f"__fedq_{next(_view_ids)}"
        frag = exp.to_identifier(view)
        typed = {name: dtype for (name, _), dtype in zip(split.columns, types)}

        def column(name: str) -> exp.Expression:
            return _cast(exp.column(name, table=frag), typed[name])

        def replace(node: exp.Expression) -> exp.Expression:
            target = split.local.get(node.sql("duckdb")) if not isinstance(node, (exp.Alias, exp.Ordered)) else None
            if isinstance(target, exp.Tuple):  # AVG(x) = SUM(x) / COUNT(x), NULL when there are no values
                total, count = (column(i.name) for i in target.expressions)
                return exp.Case(ifs=[exp.If(this=exp.EQ(this=count, expression=exp.Literal.number(0)), true=exp.Null())],
                                default=exp.Div(this=exp.cast(total, "DOUBLE"), expression=count.copy()))
            if isinstance(target, exp.Identifier):
                return column(target.name)
            return node

        local = copy_tree(unit)
        for key in ("joins", "where", "group", "having"):
            local.set(key, None)
        names = self._output_names(original, params)
        local.set("expressions", [exp.alias_(p.unalias().transform(replace) if isinstance(p, exp.Alias) else p.transform(replace), name, quoted=True)
                                  for p, (name, _) in zip(unit.expressions, names)])
        if unit.args.get("having") is not None:
            local.set("where", exp.Where(this=unit.args["having"].this.transform(replace)))
        if unit.args.get("order") is not None:
            local.set("order", unit.args["order"].transform(replace))
        local.set("from_", exp.From(this=exp.Table(this=frag)))
        base_aliases = {t.alias_or_name for t in unit.find_all(exp.Table)}
        if any(c.table in base_aliases for c in local.find_all(exp.Column)) or any(
            not a.find_ancestor(exp.Window) for a in local.find_all(exp.AggFunc)
        ):
            raise ProgrammingError("split pushdown left a base column or aggregate in the local query")
        schema = pa.schema([pa.field(name, _arrow_stand_in(dtype)) for (name, _), dtype in zip(split.columns, types)])
        fragment = Fragment(view=view, source=source, kind="query", remote_sql=remote_sql, remote_params=values, schema=schema)
        return fragment, local

    # -- joins inside one source --------------------------------------------------------
    def _join_groups(self, select: exp.Expression, bound: list[BoundTable]) -> "JoinGroups | None":
        """Tables of a SELECT over several sources that one source can join itself: each group of two or
        more tables in one compute context, connected by column = column conditions it can run, is
        sent as one remote query (``SELECT <what the rest needs> FROM t1 JOIN t2 ON … WHERE …``) and
        replaced locally by its fragment. Only inner joins (comma, JOIN … ON, CROSS JOIN) join a group;
        a table on the NULL-supplying side of a LEFT JOIN stays out, and a RIGHT/FULL/SEMI/ANTI join,
        NATURAL/USING, a subquery inside the SELECT or a correlated SELECT leaves all its tables out.
        EXPLAIN notes each group, and why tables of one source are not joined there."""
        if not isinstance(select, exp.Select) or not select.args.get("joins") or select.args.get("from_") is None:
            return None
        joins = select.args["joins"]
        inputs = [select.args["from_"].this] + [j.this for j in joins]
        contexts: dict[Any, list[tuple[int, exp.Table]]] = {}
        for position, table in enumerate(inputs):
            if isinstance(table, exp.Table) and TABLE_KEY in table.meta:
                source = bound[table.meta[TABLE_KEY]].source
                if isinstance(source, SQLSource) and not _reads_natively(source):
                    contexts.setdefault(source.context(), []).append((position, table))
        contexts = {k: v for k, v in contexts.items() if len(v) >= 2}
        if not contexts:
            return None

        def label(table: exp.Table) -> str:
            target = bound[table.meta[TABLE_KEY]]
            return f"{target.source.name}.{target.table} {table.alias_or_name}"

        def refuse(reason: str) -> None:
            for members in contexts.values():
                source = bound[members[0][1].meta[TABLE_KEY]].source
                self._notes.append(f"not joined at {source.name} ({', '.join(label(t) for _, t in members)}): {reason}")
            return None

        known = {"expressions", "from_", "joins", "where", "group", "having", "qualify", "order", "limit", "offset",
                 "distinct", "kind", "windows"}
        extra = [key for key, value in select.args.items() if value and key not in known]
        if extra:
            return refuse("the SELECT has a WITH clause" if "with_" in extra else f"the SELECT has {', '.join(k.rstrip('_') for k in extra)}")
        if any(n is not select for n in select.find_all(exp.Select, exp.SetOperation, exp.Subquery, exp.Exists)):
            return refuse("the SELECT holds a subquery")
        for join in joins:
            side, kind = (join.side or "").upper(), (join.kind or "").upper()
            if any(join.args.get(k) for k in ("using", "method", "match_condition")):
                return refuse("a NATURAL or USING join")
            if side in ("RIGHT", "FULL") or kind not in ("", "INNER", "CROSS", "OUTER"):
                return refuse(f"a {' '.join(p for p in (side, kind) if p)} join in the SELECT")
        aliases = {t.alias_or_name for t in inputs}
        if any(isinstance(t, exp.Table) and any(t.args.get(k) for k in ("joins", "pivots", "sample", "laterals")) for t in inputs):
            return refuse("a parenthesized join, PIVOT or TABLESAMPLE in FROM")
        outputs = {p.alias_or_name for p in select.expressions}
        columns = list(select.find_all(exp.Column))
        for column in columns:
            if column.table and column.table not in aliases:
                return refuse("the SELECT is correlated with the outer query")
            if not column.table and column.name not in outputs:
                return refuse(f"column {column.sql('duckdb')} is not qualified")
        nullable = _nullable_aliases(select)
        used: dict[str, set[str]] = {}
        for column in columns:
            used.setdefault(column.table, set()).add(column.name.lower())
        excluded: dict[str, str] = {}  # alias -> why it joins no group
        for members in contexts.values():
            for _, table in members:
                alias = table.alias_or_name
                target = bound[table.meta[TABLE_KEY]]
                unsafe = {c.lower() for c in target.source.unsafe_columns(target.table)} & used.get(alias, set())
                if alias in nullable:
                    excluded[alias] = "it is on the NULL-supplying side of an outer join"
                elif unsafe:
                    excluded[alias] = (f"its column(s) {', '.join(sorted(unsafe))} may not match their declared type "
                                       f"or collation at {target.source.name}")
        where = select.args.get("where")
        located: list[tuple[int, int, exp.Expression]] = [(-1, i, t) for i, t in enumerate(_conjuncts(where.this if where else None))]
        for j, join in enumerate(joins):
            if not join.side:
                located += [(j, i, t) for i, t in enumerate(_conjuncts(join.args.get("on")))]

        def refs(term: exp.Expression) -> set[str]:
            return {c.table for c in term.find_all(exp.Column)}

        groups: list[JoinGroup] = []
        notes: list[str | Callable[[], str]] = []
        for members in contexts.values():
            source = bound[members[0][1].meta[TABLE_KEY]].source
            dialect = source.dialect
            eligible = {t.alias_or_name: (p, t) for p, t in members if t.alias_or_name not in excluded}
            blocked: dict[str, str] = {}  # alias -> why its join condition is not sent
            parent = {a: a for a in eligible}

            def find(a: str, parent: dict[str, str] = parent) -> str:
                while parent[a] != a:
                    parent[a] = parent[parent[a]]
                    a = parent[a]
                return a

            def fits(term: exp.Expression, dialect: str = dialect) -> str | None:
                if term.find(exp.AggFunc, exp.Window):
                    return "it holds an aggregate or window"
                return why_not_pushable(term, dialect) or (None if _params_fit(term, self._params) else
                                                           "a bound value's type differs from its column's")

            edges: list[tuple[str, str]] = []
            for _, _, term in located:
                if not (isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column)):
                    continue
                a, b = term.this.table, term.expression.table
                if a == b or a not in eligible or b not in eligible:
                    continue
                reason = fits(term)
                if reason is None:
                    parent[find(a)] = find(b)
                    edges.append((a, b))
                else:
                    for alias in (a, b):
                        blocked.setdefault(alias, f"its join condition {term.sql('duckdb')} is not sent: {reason}")
            components: dict[str, list[str]] = {}
            for alias in sorted(eligible, key=lambda a: eligible[a][0]):
                components.setdefault(find(alias), []).append(alias)
            found = [c for c in components.values() if len(c) >= 2]
            for component in found:
                names = set(component)
                order = [component[0]]  # the remote join order: each next table joined to one already placed
                while len(order) < len(component):
                    order.append(next(b if a in order else a for a, b in edges
                                      if (a in order) != (b in order) and {a, b} <= names))
                pushed = [(clause, index, term) for clause, index, term in located
                          if refs(term) and refs(term) <= names and fits(term) is None]
                pushed_columns = {id(c) for _, _, term in pushed for c in term.find_all(exp.Column)}
                wanted: dict[tuple[str, str], exp.Column] = {}
                for column in columns:
                    if column.table in names and id(column) not in pushed_columns:
                        wanted.setdefault((column.table, column.name.lower()), column)
                problem = None
                for (alias, name), column in wanted.items():
                    target = bound[eligible[alias][1].meta[TABLE_KEY]]
                    field = next((f for f in target.schema if f.name.lower() == name), None)
                    if field is None:
                        problem = f"column {column.sql('duckdb')} is not in {target.table}"
                    elif not CAPABILITIES[dialect].temporal_logic and not (
                            pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                            or pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
                        problem = f"{target.source.name} query results carry {field.type} column {column.sql('duckdb')} as text or numbers"
                    if problem:
                        break
                if problem is not None:
                    for alias in component:
                        excluded[alias] = problem
                    continue
                tables = [eligible[a][1] for a in order]
                joining = {id(t) for _, _, t in pushed if isinstance(t, exp.EQ) and isinstance(t.this, exp.Column)
                           and isinstance(t.expression, exp.Column) and t.this.table != t.expression.table}
                groups.append(JoinGroup(source=source, tables=tables, positions=sorted(eligible[a][0] for a in component),
                                        pushed=pushed, outputs=list(wanted.items()),
                                        filtered=any(id(t) not in joining for _, _, t in pushed)))
                conditions = len(pushed)
                notes.append(f"joined at {source.name} as one query: {', '.join(label(t) for t in tables)} "
                             f"({conditions} condition{'s' if conditions != 1 else ''} sent with it)")
            grouped = {a for c in found for a in c if a not in excluded}
            for _, table in members:
                alias = table.alias_or_name
                if alias in grouped:
                    continue
                reason = excluded.get(alias) or blocked.get(alias) or \
                    f"it is not joined to another {source.name} table by a column = column condition"
                self._notes.append(f"not joined at {source.name}: {label(table)}: {reason}")
        if not groups:
            return None
        return JoinGroups(groups=groups, notes=notes)

    def _group_fragments(self, unit: exp.Select, groups: "JoinGroups", original: exp.Expression,
                         bound: list[BoundTable], params: dict[str, Any]) -> tuple[list[Fragment], exp.Select]:
        """One remote query per join group, and ``unit`` with each group's tables replaced by its fragment."""
        names = self._output_names(original, params)
        if len(names) != len(unit.expressions):
            raise NotGrouped("the SELECT's outputs could not be matched")
        fragments: list[Fragment] = []
        local = copy_tree(unit)
        joins = local.args["joins"]
        inputs = [local.args["from_"]] + list(joins)  # the nodes whose ``this`` is each input
        where = local.args.get("where")
        terms: dict[tuple[int, int], exp.Expression] = {(-1, i): t for i, t in enumerate(_conjuncts(where.this if where else None))}
        for j, join in enumerate(joins):
            if not join.side:
                terms.update({(j, i): t for i, t in enumerate(_conjuncts(join.args.get("on")))})
        dropped: set[tuple[int, int]] = set()
        removed: set[int] = set()  # input positions whose join goes
        columns: dict[tuple[str, str], exp.Expression] = {}
        for group in groups.groups:
            source = group.source
            outputs = [exp.alias_(column.copy(), f"c{i}") for i, (_, column) in enumerate(group.outputs)]
            core = exp.select(*(outputs or [exp.alias_(exp.Literal.number(1), "c0")])).from_(group.tables[0].copy())
            placed = {group.tables[0].alias_or_name}
            left = [term for _, _, term in group.pushed]
            remote_joins = []
            for table in group.tables[1:]:
                placed.add(table.alias_or_name)
                on = [t for t in left if table.alias_or_name in (refs := {c.table for c in t.find_all(exp.Column)}) and refs <= placed]
                left = [t for t in left if all(t is not o for o in on)]
                remote_joins.append(exp.Join(this=table.copy(), on=exp.and_(*[t.copy() for t in on])))
            core.set("joins", remote_joins)
            if left:
                core = core.where(exp.and_(*[t.copy() for t in left]))
            _to_remote_names(core, bound)
            _check_limits(source, core)
            remote_sql, values = source.render(core, params)
            _check_limits(source, None, remote_sql)
            view = f"__fedq_{next(_view_ids)}"
            fields = []
            for i, ((alias, name), _) in enumerate(group.outputs):
                table = next(t for t in group.tables if t.alias_or_name == alias)
                field = next(f for f in bound[table.meta[TABLE_KEY]].schema if f.name.lower() == name)
                fields.append(pa.field(f"c{i}", field.type))
                columns[(alias, name)] = _cast(exp.column(f"c{i}", table=exp.to_identifier(view)), _duck_type(field.type))
                columns[(alias, name)].meta[GROUP_COLUMN_KEY] = True
            schema = pa.schema(fields or [pa.field("c0", pa.int64())])
            fragments.append(Fragment(view=view, source=source, kind="query", remote_sql=remote_sql, remote_params=values,
                                      schema=schema, exact=[t.sql("duckdb") for _, _, t in group.pushed]))
            dropped.update((clause, index) for clause, index, _ in group.pushed)
            first, *rest = group.positions
            inputs[first].set("this", _view_table(view, view))
            removed.update(rest)
        moved: list[exp.Expression] = []  # ON terms of a removed inner join that stay local: WHERE filters now
        kept_joins = []
        for j, join in enumerate(joins):
            gone, on = j + 1 in removed, join.args.get("on")
            if gone and join.side:
                raise NotGrouped("a grouped table's join is not an inner join")
            if not join.side and on is not None:
                kept = [t for i, t in enumerate(_conjuncts(on)) if (j, i) not in dropped]
                if gone:
                    moved += kept
                else:
                    join.set("on", exp.and_(*kept) if kept else exp.true())
            if not gone:
                kept_joins.append(join)
        local.set("joins", kept_joins)
        filters = [t for (clause, index), t in terms.items() if clause == -1 and (clause, index) not in dropped] + moved
        local.set("where", exp.Where(this=exp.and_(*filters)) if filters else None)
        grouped = {alias for alias, _ in columns} | {t.alias_or_name for g in groups.groups for t in g.tables}
        for column in list(local.find_all(exp.Column)):
            if column.table in grouped:
                replacement = columns.get((column.table, column.name.lower()))
                if replacement is None:
                    raise NotGrouped(f"column {column.sql('duckdb')} has no place in the group's query")
                column.replace(replacement.copy())
        projections = []
        for projection, (name, dtype) in zip(local.expressions, names):
            inner = projection.unalias() if isinstance(projection, exp.Alias) else projection
            if not inner.meta.get(GROUP_COLUMN_KEY):  # a group's column is cast to its type already: ORDER BY and DISTINCT still match it
                inner = _cast(inner, dtype)
            projections.append(exp.alias_(inner, name, quoted=True))
        local.set("expressions", projections)
        return fragments, local

    # -- table scans --------------------------------------------------------------------
    def _scan_requirements(self, analysed: exp.Expression):
        """Per catalog-table node: needed column names, filter candidates, and 'needs all columns'."""
        needed: dict[int, set[str]] = {}
        candidates: dict[int, list[exp.Expression]] = {}
        full: set[int] = set()
        root = build_scope(analysed)
        if root is None:
            raise OptimizeError("no scope")
        for scope in root.traverse():
            ignored: set[int] = set()
            if isinstance(scope.expression, exp.Select) and isinstance(scope.expression.parent, exp.Exists):
                # EXISTS only asks whether a row exists: its select list needs no columns
                ignored = {id(c) for p in scope.expression.expressions for c in p.find_all(exp.Column)}
            for column in scope.columns:
                if id(column) in ignored:
                    continue
                table = _table_of(scope, column.table) if column.table else None
                if table is not None:
                    needed.setdefault(id(table), set()).add(column.name.lower())
            select = scope.expression
            if isinstance(select, exp.Select) and not isinstance(select.parent, exp.Exists) and any(
                isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                for p in select.expressions
            ):
                for node, _ in scope.selected_sources.values():
                    full.add(id(node))
            for key, terms in _filter_candidates(scope).items():
                candidates.setdefault(key, []).extend(terms)
        return needed, candidates, full

    def _plan_dynamic_filters(self, analysed: exp.Expression, scans: dict[int, "Fragment"]) -> None:
        """Semi-join reduction: for an inner equi-join between a filtered scan (build) and an unfiltered
        one (probe), the probe waits for the build side's keys and sends them to its source."""
        root = build_scope(analysed)
        for scope in root.traverse() if root else []:
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            preserved = set(scope.selected_sources) - _nullable_aliases(select)
            where = select.args.get("where")
            terms = _conjuncts(where.this if where else None) + [
                t for j in select.args.get("joins") or [] if not j.side and (j.kind or "").upper() in ("", "INNER")
                for t in _conjuncts(j.args.get("on"))
            ]
            terms.sort(key=lambda t: -self._key_distinct(scope, t, scans))  # a multi-column key sends its most selective column
            created: list[tuple["Fragment", "Fragment", str, str]] = []
            for term in terms:
                if not (isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column)):
                    continue
                left, right = term.this, term.expression
                if left.table == right.table or not {left.table, right.table} <= preserved:
                    continue
                family = _key_family({_expr_type(left), _expr_type(right)})
                if family is None:
                    continue  # keys travel as bind values: integers, decimals, dates and text
                sides = [(_table_of(scope, c.table), c) for c in (left, right)]
                if any(t is None or (id(t) not in scans and id(t) not in self._group_builds) for t, _ in sides) or \
                        not any(id(t) in scans for t, _ in sides):
                    continue  # a scan probes; the build side is a scan or a filtered join group's query
                (ta, ca), (tb, cb) = sides
                for (build, build_col), (probe, probe_col) in (((ta, ca), (tb, cb)), ((tb, cb), (ta, ca))):
                    if id(probe) not in scans:
                        continue
                    b, p = scans[id(build)] if id(build) in scans else self._group_builds[id(build)][0], scans[id(probe)]
                    if p.dynamic is None and b.dynamic is None and _takes_keys(p, probe_col.name, family) and (
                        (b.exact or b.inexact or self._much_smaller(b, p)) if not (p.exact or p.inexact)
                        else (b.exact or b.inexact) and self._much_smaller(b, p, key_limit=False)  # a filtered probe: a filtered build of a far smaller table
                    ):
                        real = {f.name.lower(): f.name for f in p.request.schema}
                        build_real = self._build_names(build, b)
                        if probe_col.name.lower() in real and build_col.name.lower() in build_real:
                            stats = self.catalog.statistics(p.bound) if p.bound is not None else None
                            column = stats.column(real[probe_col.name.lower()]) if stats is not None else None
                            p.dynamic = DynamicFilter(build=b, build_column=build_real[build_col.name.lower()],
                                                      probe_column=real[probe_col.name.lower()], family=family, probe=p,
                                                      estimated_rows=stats.rows if stats is not None else None,
                                                      column_min=column.min if column else None,
                                                      column_max=column.max if column else None,
                                                      column_distinct=stats.distinct(real[probe_col.name.lower()]) if stats else None)
                            self._notes.append(f"dynamic filter: {p.view}.{p.dynamic.probe_column} IN keys of "
                                               f"{b.view}.{p.dynamic.build_column} (semi-join reduction at run time)")
                            created.append((b, p, build_col.table, probe_col.table, build_real))
                        break
            for b, p, build_alias, probe_alias, build_real in created:
                self._composite_key(p, b, build_alias, probe_alias, terms, build_real)

    def _build_names(self, table: exp.Table, build: "Fragment") -> dict[str, str]:
        """A build side's column names by the lowercase name of ``table``'s column: a scan's own names,
        or the join group query's outputs (c0, c1, …) for ``table``'s columns in it."""
        if build.request is not None:
            return {f.name.lower(): f.name for f in build.request.schema}
        names = self._group_builds[id(table)][1]
        return {column: output for (alias, column), output in names.items() if alias == table.alias_or_name}

    def _composite_key(self, p: "Fragment", b: "Fragment", build_alias: str, probe_alias: str,
                       terms: list[exp.Expression], build_real: dict[str, str]) -> None:
        """The other equi-join columns between the same two scans join the dynamic filter's key, so
        the probe receives ``(a, b) IN ((…), …)`` where its source takes row values."""
        if not (isinstance(p.source, SQLSource) and p.source.dialect in ROW_KEY_DIALECTS):
            return
        dynamic = p.dynamic
        real = {f.name.lower(): f.name for f in p.request.schema}
        for term in terms:
            if not (isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column)):
                continue
            columns = {term.this.table: term.this, term.expression.table: term.expression}
            if set(columns) != {build_alias, probe_alias}:
                continue
            build_col, probe_col = columns[build_alias], columns[probe_alias]
            family = _key_family({_expr_type(build_col), _expr_type(probe_col)})
            if family is None or not _takes_keys(p, probe_col.name, family):
                continue
            if probe_col.name.lower() not in real or build_col.name.lower() not in build_real:
                continue
            pair = (build_real[build_col.name.lower()], real[probe_col.name.lower()], family)
            if pair[0] in {dynamic.build_column, *(e[0] for e in dynamic.extra)} or \
                    pair[1] in {dynamic.probe_column, *(e[1] for e in dynamic.extra)}:
                continue
            dynamic.extra.append(pair)

    def _key_distinct(self, scope: Scope, term: exp.Expression, scans: dict[int, "Fragment"]) -> int:
        """The larger distinct count (statistics; 0 when unknown) of the two columns an equi-join term compares."""
        best = 0
        for column in (term.this, term.expression) if isinstance(term, exp.EQ) else ():
            table = _table_of(scope, column.table) if isinstance(column, exp.Column) and column.table else None
            fragment = scans.get(id(table)) if table is not None else None
            if fragment is not None and fragment.bound is not None:
                real = {f.name.lower(): f.name for f in fragment.bound.schema}
                best = max(best, self.catalog.statistics(fragment.bound).distinct(real.get(column.name.lower(), column.name)) or 0)
        return best

    def _order_joins(self, tree: exp.Expression, scans: list["Fragment"], natives: list["Fragment"]) -> set[str]:
        """Inner joins over streamed scans get the order and build sides fedq's statistics say
        (engine/join_order.py); every input of a reordered block streams, so DuckDB keeps the order.

        Files DuckDB could read itself (``natives``) take part too: left to DuckDB, a file next to
        streams (estimated at 1 row) made the join of two streams a build side, so a 3-source join
        under LIMIT 10 hashed billions of rows. Returns the views that must stream."""
        estimates = {f.view: self._estimate(f) for f in scans + natives}
        notes, stream = order_joins(tree, estimates, {f.view for f in scans if not f.small})
        for fragment in scans + natives:
            if fragment.view in stream:
                fragment.small = False
        self._notes.extend(notes)
        return stream

    def _estimate(self, fragment: "Fragment") -> int | None:
        """Rows a scan is expected to return: statistics' row count, narrowed by its pushed filters and
        by its dynamic filter (build keys times the probe column's rows per distinct value)."""
        stats = self.catalog.statistics(fragment.bound) if fragment.bound is not None else None
        if stats is None or stats.rows is None:
            return None
        rows = filtered_rows(stats.rows, fragment.request.filters, stats)
        dynamic = fragment.dynamic
        build = self._estimate(dynamic.build) if dynamic is not None else None
        if build is not None:
            distinct = stats.distinct(dynamic.probe_column)
            rows = min(rows, build * stats.rows / distinct if distinct else build)
        return round(rows)

    def _much_smaller(self, build: "Fragment", probe: "Fragment", key_limit: bool = True) -> bool:
        """Statistics say ``build`` fits the longest key list ``probe``'s source takes and is at least
        MIN_REDUCTION_FACTOR times smaller than ``probe``: its keys are worth sending. ``key_limit=False``
        for a filtered build, whose table's size overstates its keys (the run-time reduction chooses
        a list, a range or none from the keys that arrive)."""
        sizes = [self.catalog.row_count(f.bound) if f.bound is not None else None for f in (build, probe)]
        return None not in sizes and (not key_limit or sizes[0] <= max_keys(probe.source.binds_arrays)) \
            and sizes[0] * MIN_REDUCTION_FACTOR <= sizes[1]

    def _scan_fragment(self, target: BoundTable, columns: list[str], terms: list[exp.Expression], params: dict[str, Any]) -> Fragment:
        source = target.source
        exact, inexact, local_only, pushed = [], [], [], []
        for term in terms:
            fits = _params_fit(term, params)
            verdict = source.classify_filter(term, target.schema, target.table) if fits else Pushdown.UNSUPPORTED
            text = term.sql("duckdb")
            if verdict is Pushdown.EXACT:
                exact.append(text)
                pushed.append(term)
            elif verdict is Pushdown.INEXACT:
                inexact.append(text)
                pushed.append(term)
            else:
                local_only.append(f"{text} (not pushed: {_filter_reason(source, term, target, fits)})")
        schema = pa.schema([target.schema.field(c) for c in columns])
        request = ScanRequest(target.table, tuple(columns), schema, tuple(pushed), {k: v for k, v in params.items()})
        view = f"__fedq_{next(_view_ids)}"
        fragment = Fragment(view=view, source=source, kind="scan", request=request, exact=exact, inexact=inexact,
                            local_only=local_only, bound=target,
                            schema=schema if columns else pa.schema([pa.field("__fedq_one", pa.int64())]))
        if isinstance(source, SQLSource):
            try:
                _check_limits(source, None, parameters=sum(1 for t in pushed for _ in t.find_all(exp.Placeholder)))
                fragment.remote_sql, fragment.remote_params = source.render_scan(request)
                _check_limits(source, None, fragment.remote_sql)
            except OverLimit as over:  # the filters stay with DuckDB; the scan itself fits
                if not pushed:
                    raise
                kept = [f"{t} (not pushed: {over})" for t in exact + inexact]
                fragment = self._scan_fragment(target, columns, [], params)
                fragment.local_only = kept + local_only
        return fragment


# -- helpers ------------------------------------------------------------------------------
class OverLimit(Exception):
    """A pushed query would exceed one of its source's limits (sources/base.py SourceLimits)."""


def _reads_natively(source: Any) -> bool:
    """A DuckDB file the local engine has attached (sources/duckdb_file.py): nothing is pushed to it as SQL."""
    return bool(getattr(source, "reads_natively", False))


def _check_limits(source: SQLSource, tree: exp.Expression | None, sql: str = "", parameters: int | None = None) -> None:
    """The one place the planner compares a remote query with its source's limits; raises
    :class:`OverLimit` naming the limit, so the work stays with DuckDB instead of failing at the source.
    Called before rendering (``tree``: columns and placeholders, cheap) and after (``sql``: its length)."""
    limits = source.limits
    if parameters is None and tree is not None:
        parameters = sum(1 for _ in tree.find_all(exp.Placeholder))
    checks = [
        ("result columns", _widest_select(tree) if tree is not None else 0, limits.max_columns),
        ("bind parameters", parameters or 0, limits.max_parameters),
        ("bytes of SQL", len(sql.encode()), limits.max_statement_bytes),
    ]
    for what, count, limit in checks:
        if limit is not None and count > limit:
            raise OverLimit(f"the query for {source.name} would have {count:,} {what}, "
                            f"more than {source.type_name} takes ({limit:,})")


def _widest_select(tree: exp.Expression) -> int:
    """The most projections, GROUP BY or ORDER BY terms of any SELECT in ``tree``."""
    widest = 0
    for select in tree.find_all(exp.Select):
        group, order = select.args.get("group"), select.args.get("order")
        widest = max(widest, len(select.expressions), len(group.expressions) if group else 0,
                     len(order.expressions) if order else 0)
    return widest


SMALL_TABLE_ROWS = 1_000_000  # read whole before the local query starts, so DuckDB's join order sees its size
DYNAMIC_WAIT_SECONDS = 1.0  # a probe waits this long for its build side, then runs unreduced


@dataclass
class DynamicFilter:
    """Run-time semi-join reduction: once the build side has been read — within DYNAMIC_WAIT_SECONDS,
    a slow build side is not worth the wait — the probe scan gets the build keys in the form
    engine/reduction.py chooses (IN list, bound array, batched IN lists, min/max range, or nothing)."""

    build: "Fragment"
    build_column: str
    probe_column: str
    family: str = "integer"  # key type family: integer, decimal, date or text
    probe: "Fragment | None" = field(default=None, repr=False, compare=False)
    estimated_rows: int | None = None  # the probe's rows without reduction (statistics)
    column_min: Any = None  # the probe column's min/max (statistics), to judge a range
    column_max: Any = None
    column_distinct: int | None = None  # the probe column's distinct values (statistics)
    extra: list[tuple[str, str, str]] = field(default_factory=list)  # more key columns: (build, probe, family)
    strategy: str = "pending"
    keys: int | None = None
    detail: str = ""

    def reduce_table(self, table: pa.Table) -> Reduction:
        """Choose the reduction from the build side's rows: composite keys as row-value lists when
        there are few enough, else the keys of the first (most selective) column."""
        if self.extra:
            columns = [self.build_column] + [b for b, _, _ in self.extra]
            rows = table.select(columns).drop_null().group_by(columns).aggregate([])
            postgres = self.probe is not None and self.probe.source.dialect == "postgres"
            casts = ["TEXT" if postgres and family == "text" else None for family in [self.family] + [f for _, _, f in self.extra]]
            reduction = choose_row_reduction([tuple(r[c] for c in columns) for r in rows.to_pylist()],
                                             [self.probe_column] + [p for _, p, _ in self.extra], casts)
            if reduction is not None:
                self.strategy, self.keys, self.detail = reduction.strategy, reduction.keys, reduction.reason
                return reduction
        return self.reduce(pc.unique(table.column(self.build_column)).drop_null().to_pylist())

    def reduce(self, keys: list[Any]) -> Reduction:
        """Choose the reduction for the build side's distinct non-NULL keys and remember it."""
        binds_arrays = self.probe is not None and self.probe.source.binds_arrays
        cast = "TEXT" if self.family == "text" and self.probe is not None and self.probe.source.dialect == "postgres" else None
        reduction = choose_reduction(keys, self.probe_column, self.family, binds_arrays, self.column_min, self.column_max,
                                     self.column_distinct, cast)
        self.strategy, self.keys, self.detail = reduction.strategy, reduction.keys, reduction.reason
        return reduction

    def skip(self, reason: str) -> None:
        self.strategy, self.detail = "none", reason

    @property
    def chosen(self) -> str:
        """Strategy, key count and rows saved, for EXPLAIN ANALYZE."""
        text = self.strategy if self.keys is None else f"{self.strategy} of {self.keys} keys"
        text += f" ({self.detail})" if self.detail else ""
        if self.probe is not None and self.strategy != "pending":
            fetched = self.probe.stats.rows
            text += f"; {fetched} rows fetched"
            if self.estimated_rows is not None:
                text += f", ~{self.estimated_rows} estimated without reduction (~{max(0, self.estimated_rows - fetched)} saved)"
        return text


def _key_family(kinds: set[exp.DataType.Type]) -> str | None:
    """The type family both join columns share, if their keys can travel as bind values."""
    T = exp.DataType.Type
    if kinds <= exp.DataType.INTEGER_TYPES:
        return "integer"
    if kinds <= {T.DECIMAL} | exp.DataType.INTEGER_TYPES:
        return "decimal"
    if kinds == {T.DATE}:
        return "date"
    if kinds <= {T.VARCHAR, T.TEXT}:
        return "text"
    return None  # floats (NaN, -0.0), timestamps (zones), mixed families: no dynamic filter


def _takes_keys(probe: "Fragment", column: str, family: str) -> bool:
    """Whether the probe's source compares bound keys of ``family`` as DuckDB does (or more loosely):
    SQLite stores dates as text and has no exact decimals, and a SQLite column holding values of
    several storage classes compares them by its affinity (an integer 5 in a BLOB column is not the
    text '5' fedq reads it as); Arrow filters take no fractional decimals."""
    source = probe.source
    if isinstance(source, SQLSource) and source.dialect == "sqlite" and probe.bound is not None and \
            column.lower() in {c.lower() for c in source.unsafe_columns(probe.bound.table)}:
        return False
    if family in ("integer", "text"):
        return True
    if isinstance(source, SQLSource):
        caps = CAPABILITIES[source.dialect]
        return caps.temporal_logic if family == "date" else source.dialect != "sqlite"
    return family == "date"


@dataclass
class Split:
    """A unit cut in two: remote output columns, and what replaces each expression locally."""

    source: SQLSource
    columns: list[tuple[str, exp.Expression]]
    local: dict[str, exp.Expression]


@dataclass
class Partial:
    """Two-phase aggregation: ``table`` pre-aggregated by ``keys`` at its source."""

    table: exp.Table
    alias: str
    keys: list[str]
    partials: list[tuple[str, exp.Expression]]
    merges: dict[str, exp.Expression]
    pushed: list[exp.Expression]


@dataclass
class JoinGroup:
    """Tables of one SELECT that their source joins itself, in one remote query."""

    source: SQLSource
    tables: list[exp.Table]  # analysed member tables, in the order the remote query joins them
    positions: list[int]  # their places among the SELECT's inputs (0: FROM, j + 1: its j-th JOIN), ascending
    pushed: list[tuple[int, int, exp.Expression]]  # conditions sent with it: (clause, index, term); clause -1 is WHERE, j the j-th JOIN's ON
    outputs: list[tuple[tuple[str, str], exp.Column]]  # (alias, column) the rest of the query reads: the fragment's c0, c1, …
    filtered: bool = False  # a condition besides its joins' column = column terms went with it (a dynamic filter's build side)

    @property
    def names(self) -> dict[tuple[str, str], str]:
        """(alias, lowercase column) -> the fragment's output column."""
        return {key: f"c{i}" for i, (key, _) in enumerate(self.outputs)}


@dataclass
class JoinGroups:
    """The join groups of one SELECT, and the EXPLAIN notes for them once they are pushed."""

    groups: list[JoinGroup]
    notes: list[str | Callable[[], str]]


class NotGrouped(Exception):
    """A join group could not be rewritten after all; its tables are scanned instead."""


def _ancestors(node: exp.Expression):
    while node is not None:
        yield node
        node = node.parent


def _drop_conjuncts(select: exp.Select, texts: set[str]) -> None:
    """Remove the WHERE / inner-join ON terms whose SQL is in ``texts`` (they moved to a source)."""
    if not texts:
        return
    where = select.args.get("where")
    if where is not None:
        kept = [t for t in _conjuncts(where.this) if t.sql("duckdb") not in texts]
        select.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            kept = [t for t in _conjuncts(on) if t.sql("duckdb") not in texts]
            join.set("on", exp.and_(*kept) if kept else exp.true())


def _expr_type(node: exp.Expression) -> exp.DataType.Type:
    return node.type.this if node.type else exp.DataType.Type.UNKNOWN


def _to_mirror_names(tree: exp.Expression, bound: list[BoundTable]) -> None:
    """Rename analysis tables ``s.d.t{i}`` to the binder mirror's ``source.schema.table``."""
    for table in list(tree.find_all(exp.Table)):
        index = table.meta.get(TABLE_KEY)
        if index is None:
            continue
        source, schema, name = bound[index].qualified
        alias = table.alias_or_name
        table.replace(exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True),
                                catalog=exp.to_identifier(source, quoted=True),
                                alias=exp.TableAlias(this=exp.to_identifier(alias))))


@dataclass
class _OrderMapping:
    columns: list[str]  # per ORDER BY key: output column name in the fragment (c<i> or s<i>)
    hidden: list[exp.Expression]  # extra remote projections for keys that are not outputs
    keys: list[exp.Expression]  # per ORDER BY key: the expression itself, for a remote Top-N


def _order_mapping(unit: exp.Expression) -> _OrderMapping | None:
    """How each ORDER BY key of a pushed unit maps to the fragment's columns; None if it cannot."""
    order = unit.args.get("order")
    if order is None:
        return _OrderMapping([], [], [])
    leftmost = unit
    while isinstance(leftmost, (exp.SetOperation, exp.Subquery)):
        leftmost = leftmost.this
    projections = leftmost.expressions
    columns: list[str] = []
    hidden: list[exp.Expression] = []
    keys: list[exp.Expression] = []
    for ordered in order.expressions:
        key = ordered.this
        position = None
        if isinstance(key, exp.Literal) and key.is_int:
            position = int(key.name) - 1
        for i, projection in enumerate(projections):
            inner = projection.unalias() if isinstance(projection, exp.Alias) else projection
            if position is None and (inner == key or (isinstance(key, exp.Column) and not key.table and key.name == projection.alias_or_name)):
                position = i
        if position is not None and 0 <= position < len(projections):
            columns.append(f"c{position}")
            projection = projections[position]
            keys.append(projection.unalias() if isinstance(projection, exp.Alias) else projection)
        elif isinstance(unit, exp.Select) and not unit.args.get("distinct"):
            columns.append(f"s{len(hidden)}")
            hidden.append(key.copy())
            keys.append(key)
        else:
            return None
    return _OrderMapping(columns, hidden, keys)


def _filter_reason(source: Any, term: exp.Expression, target: BoundTable, params_fit: bool) -> str:
    """Why a filter term stays with DuckDB, in a short phrase for EXPLAIN."""
    if not params_fit:
        return "a bound value's type differs from its column's"
    unsafe = source.unsafe_columns(target.table)
    if any(c.name in unsafe for c in term.find_all(exp.Column)):
        return f"column values at {source.name} may not match their declared type or collation"
    if isinstance(source, SQLSource):
        return why_not_pushable(term, source.dialect) or f"{source.name} declined it"
    if source.type_name == "files":
        return source.filter_reason(term, target.schema, target.table)
    return f"{source.type_name} source {source.name} cannot apply it"


def value_family(value: Any) -> str:
    """Type family of a bound value; an ISO date/timestamp string counts as a (naive) time."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number"
    if isinstance(value, dt.datetime):
        return "zoned" if value.tzinfo is not None else "time"
    if isinstance(value, dt.date):
        return "time"
    if isinstance(value, str):
        try:
            return "time" if dt.datetime.fromisoformat(value).tzinfo is None else "zoned"
        except ValueError:
            return "text"
    return "other"


def _params_fit(node: exp.Expression, params: dict[str, Any]) -> bool:
    """Push a bound parameter only where its value already has the compared column's type family,
    so no source performs a lenient conversion that DuckDB would refuse (a '1; x' string is not 1)."""
    for placeholder in node.find_all(exp.Placeholder):
        target = compared_type(placeholder)
        value = params.get(placeholder.name)
        if target is None or value is None:
            return False
        family, given = type_family(target.this), value_family(value)
        if given != family and not (family == "text" and isinstance(value, str)):
            return False
        if isinstance(value, int) and not -2**63 <= value < 2**63:
            return False  # no source binds it; DuckDB compares it exactly
    return True


def _int_literal(node: exp.Expression) -> bool:
    value = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
    return isinstance(value, exp.Literal) and value.is_int


def _to_remote_names(tree: exp.Expression, bound: list[BoundTable]) -> None:
    """Rename analysis tables ``s.d.t{i}`` and their columns to the source's own spelling."""
    real: dict[str, dict[str, str]] = {}
    for table in list(tree.find_all(exp.Table)):
        index = table.meta.get(TABLE_KEY)
        if index is None:
            continue
        target = bound[index]
        alias = table.alias_or_name
        real[alias] = {f.name.lower(): f.name for f in target.schema}
        table.replace(_remote_table(target, alias))
    for column in tree.find_all(exp.Column):
        names = real.get(column.table)
        if names and column.name.lower() in names:
            column.set("this", exp.to_identifier(names[column.name.lower()], quoted=True))


def _remote_table(target: BoundTable, alias: str) -> exp.Table:
    from fedq.engine.sqlgen import remote_table

    return remote_table(target.table.schema, target.table.name, alias)


def _bare(term: exp.Expression, by_lower: dict[str, str]) -> exp.Expression:
    """A filter term over one table with qualifiers removed and real column names."""
    term = term.copy()
    for column in term.find_all(exp.Column):
        column.set("table", None)
        column.set("this", exp.to_identifier(by_lower.get(column.name.lower(), column.name), quoted=True))
    return term


def _snippet(unit: exp.Expression, bound: list[BoundTable]) -> str:
    """The start of an analysis subtree in DuckDB SQL with the tables' real names, for a note."""
    readable = unit.copy()
    _to_mirror_names(readable, bound)
    return readable.sql("duckdb", copy=False)[:70]  # readable is this call's copy


def _has_literal_lists(tree: exp.Expression) -> bool:
    return any(literal_list(node) for node in tree.find_all(exp.Var))


def _mirror_text(mirror: exp.Expression) -> str:
    """What the binder checks for a mirror (a copy made for it): rendered without another copy."""
    return binding_sql(mirror) if _has_literal_lists(mirror) else mirror.sql("duckdb", copy=False)


def _view_table(view: str, alias: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(view), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _used_params(tree: exp.Expression, params: dict[str, Any]) -> dict[str, Any]:
    return {p.name: params[p.name] for p in tree.find_all(exp.Placeholder) if p.name in params}


def _cast(column: exp.Expression, duck_type: str) -> exp.Expression:
    try:
        return exp.cast(column, exp.DataType.build(duck_type, dialect="duckdb"))
    except (SqlglotError, ValueError):
        return column


def _arrow_stand_in(duck_type: str) -> pa.DataType:
    """An Arrow type for a DuckDB type name: bind-checks the local query, and tells the executor the
    decimal a pushed query's exact decimal text becomes (other types are rough)."""
    name = duck_type.upper()
    if name in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT"):
        return pa.int64()
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", name)
    if decimal and int(decimal.group(1)) <= 38:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    if name in ("DOUBLE", "FLOAT") or name.startswith("DECIMAL"):
        return pa.float64()
    if name == "BOOLEAN":
        return pa.bool_()
    if name == "DATE":
        return pa.date32()
    if name.startswith("TIMESTAMP"):
        return pa.timestamp("us", tz="UTC" if "TIME ZONE" in name or name.endswith("TZ") else None)
    return pa.string()
