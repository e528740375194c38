"""Join order and build sides for DuckDB, from fedq's statistics.

DuckDB builds each hash join on the input it estimates smaller. A registered Arrow stream (a
RecordBatchReader) has no row count, and DuckDB's Python scan reports it as an estimate of 1 row;
an Arrow *table* reports its true size. So next to a whole table, every stream looks smaller and
becomes a build side: a 1.5M-row PostgreSQL stream is hashed while a 100-row table probes it. Among
streams the estimates tie, and then a two-way join keeps the written order (the right input is
built), while larger joins are enumerated as ties with the largest input usually left as the probe
when it is written first.

So in each block of inner joins whose inputs are all fedq scans, at least one of them streamed, the
local query is rewritten: the input fedq estimates largest comes first (the probe), then each next
input is the smallest one joined to those already placed (a build side), and every input of the
block is streamed, so DuckDB's estimates tie and the written order decides. Only inner and cross
joins are reordered (no outer, semi, anti, NATURAL or USING joins); ON terms move to the first join
where all their tables are present (an inner join's ON is a filter); ``SELECT *`` is spelled
``a.*, b.*`` in the original order so its columns keep their order.

>>> from sqlglot import parse_one
>>> tree = parse_one("SELECT * FROM v1 AS d JOIN v2 AS f ON f.k = d.k", read="duckdb")
>>> notes, streamed = order_joins(tree, {"v1": 100, "v2": 1_500_000}, streamed={"v2"})
>>> tree.sql("duckdb")
'SELECT d.*, f.* FROM v2 AS f JOIN v1 AS d ON f.k = d.k'
>>> notes, sorted(streamed)
(['join order: f ~1500000 rows (probe) ⋈ d ~100 (build)'], ['v1', 'v2'])
"""
from __future__ import annotations

from sqlglot import exp

from fedq.engine.literal_lists import count_values


def order_joins(tree: exp.Expression, estimates: dict[str, int | None], streamed: set[str]) -> tuple[list[str], set[str]]:
    """Rewrite eligible join blocks of ``tree`` in place. ``estimates``: view name -> estimated rows;
    ``streamed``: views DuckDB would see as streams. Returns notes for EXPLAIN and the views that
    must stream (every input of a rewritten block)."""
    notes: list[str] = []
    stream: set[str] = set()
    for select in list(tree.find_all(exp.Select)):
        block = _block(select, estimates)
        if block is None or not any(t.name in streamed for t in block):
            continue
        order = _order(select, block, estimates)
        if order is None:
            continue
        if order != list(range(len(block))):
            _rewrite(select, block, order)
        stream.update(t.name for t in block)
        placed = [block[i] for i in order]
        notes.append("join order: " + " ⋈ ".join(
            f"{t.alias_or_name} ~{estimates[t.name]}" + (" rows (probe)" if n == 0 else " (build)") for n, t in enumerate(placed)))
    return notes, stream


def _block(select: exp.Select, estimates: dict[str, int | None]) -> list[exp.Table] | None:
    """The FROM and JOIN inputs of ``select`` if all are estimated views joined by plain inner/cross joins."""
    source = select.args.get("from_")
    joins = select.args.get("joins") or []
    if source is None or not joins:
        return None
    tables = [source.this] + [j.this for j in joins]
    if not all(isinstance(t, exp.Table) and estimates.get(t.name) is not None and not t.args.get("joins") for t in tables):
        return None
    for join in joins:
        if join.side or (join.kind or "").upper() not in ("", "INNER", "CROSS") or any(
                join.args.get(k) for k in ("using", "method", "match_condition")):
            return None
        if join.args.get("on") is not None and join.args["on"].find(exp.Subquery, exp.Select, exp.Exists):
            return None
    if len({t.alias_or_name for t in tables}) != len(tables):
        return None
    for star in (s for p in select.expressions for s in p.find_all(exp.Star)):
        top = star.parent is select and not any(star.args.values())
        if not (top or isinstance(star.parent, (exp.Column, exp.Count))):
            return None  # * EXCLUDE / REPLACE, COLUMNS(*): their column order follows FROM, left as written
    return tables


def _links(select: exp.Select, aliases: set[str]) -> list[set[str]]:
    """Alias sets of the conjuncts (ON and WHERE) that tie two or more inputs together."""
    terms = [t for j in select.args.get("joins") or [] for t in _conjuncts(j.args.get("on"))]
    where = select.args.get("where")
    terms += _conjuncts(where.this if where is not None else None)
    links = [{c.table for c in t.find_all(exp.Column)} & aliases for t in terms]
    return [link for link in links if len(link) >= 2]


def _order(select: exp.Select, block: list[exp.Table], estimates: dict[str, int | None]) -> list[int] | None:
    """Largest input first, then repeatedly the smallest input connected to those placed; None if
    the inputs are not connected (a cross product is left to DuckDB as written)."""
    aliases = [t.alias_or_name for t in block]
    links = _links(select, set(aliases))
    sizes = [estimates[t.name] for t in block]
    first = max(range(len(block)), key=lambda i: (sizes[i], -i))
    order, placed = [first], {aliases[first]}
    while len(order) < len(block):
        connected = [i for i in range(len(block)) if i not in order
                     and any(aliases[i] in link and link - {aliases[i]} <= placed | {aliases[i]} and link & placed for link in links)]
        if not connected:
            return None
        nxt = min(connected, key=lambda i: (sizes[i], i))
        order.append(nxt)
        placed.add(aliases[nxt])
    return order


def _rewrite(select: exp.Select, block: list[exp.Table], order: list[int]) -> None:
    aliases = {t.alias_or_name for t in block}
    pending = [t for j in select.args["joins"] for t in _conjuncts(j.args.get("on"))]
    originals = [t.alias_or_name for t in block]
    if any(isinstance(p, exp.Star) for p in select.expressions):
        expanded: list[exp.Expression] = []
        for projection in select.expressions:
            if isinstance(projection, exp.Star):
                expanded += [exp.Column(this=exp.Star(), table=exp.to_identifier(a)) for a in originals]
            else:
                expanded.append(projection)
        select.set("expressions", expanded)
    tables = [block[i].copy() for i in order]
    placed = {tables[0].alias_or_name}
    joins = []
    for table in tables[1:]:
        placed.add(table.alias_or_name)
        mine = [t for t in pending if ({c.table for c in t.find_all(exp.Column)} & aliases) <= placed]
        pending = [t for t in pending if t not in mine]
        joins.append(exp.Join(this=table, on=exp.and_(*[t.copy() for t in mine])) if mine else exp.Join(this=table))
    if pending:  # terms over no input of the block (outer references): any inner join may hold them
        last = joins[-1]
        terms = _conjuncts(last.args.get("on")) + pending
        joins[-1] = exp.Join(this=last.this, on=exp.and_(*[t.copy() for t in terms]))
    select.set("from_", exp.From(this=tables[0]))
    select.set("joins", joins)


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


DEFAULT_SELECTIVITY = 0.3  # a range or any other filter term without statistics
EQUALITY_SELECTIVITY = 0.1  # col = value when the column's distinct count is unknown


def filtered_rows(rows: int, filters: list[exp.Expression] | tuple[exp.Expression, ...], stats) -> float:
    """Rows a scan returns after its pushed filters: ``col = v`` keeps 1/distinct, ``IN`` n/distinct,
    ``IS NULL`` the null fraction (from ``stats``, a TableStatistics), other terms fixed guesses.

    >>> from sqlglot import parse_one
    >>> from fedq.catalog.statistics import ColumnStatistics, TableStatistics
    >>> stats = TableStatistics(rows=1000, columns={"seg": ColumnStatistics(distinct=5)})
    >>> filtered_rows(1000, [parse_one("seg = 'A'"), parse_one("x > 3")], stats)
    60.0
    """
    result = float(rows)
    for term in filters:
        result *= _selectivity(term, stats)
    return max(1.0, result) if rows else 0.0


def _selectivity(term: exp.Expression, stats) -> float:
    if isinstance(term, exp.Paren):
        return _selectivity(term.this, stats)
    if isinstance(term, exp.And):
        return _selectivity(term.this, stats) * _selectivity(term.expression, stats)
    if isinstance(term, exp.Or):
        return min(1.0, _selectivity(term.this, stats) + _selectivity(term.expression, stats))
    if isinstance(term, exp.Not):
        return 1.0 - _selectivity(term.this, stats)
    column = next(term.find_all(exp.Column), None)
    distinct = stats.distinct(column.name) if column is not None and stats is not None else None
    if isinstance(term, exp.EQ):
        return 1.0 / distinct if distinct else EQUALITY_SELECTIVITY
    if isinstance(term, exp.NEQ):
        return 1.0 - (1.0 / distinct if distinct else EQUALITY_SELECTIVITY)
    if isinstance(term, exp.In) and not term.args.get("query"):
        n = count_values(term)
        return min(1.0, n / distinct if distinct else n * EQUALITY_SELECTIVITY)
    if isinstance(term, exp.Is) and column is not None and stats is not None:
        info = stats.column(column.name)
        return info.null_fraction if info is not None and info.null_fraction is not None else EQUALITY_SELECTIVITY
    if isinstance(term, exp.Boolean):
        return 1.0 if term.this else 0.0
    return DEFAULT_SELECTIVITY
