"""A DuckDB-file table through fedq: attached inside the local engine (now) vs streamed through Arrow
from a separate DuckDB (before, ``reader = "arrow"``) vs plain DuckDB on the same file (issue 18 item 3).

    .venv/bin/python benchmarks/duckdb_file.py [--rows 11000000] [--runs 5]

The data is TPC-DS q21's shape: ``inventory`` (``--rows`` rows, the SF 1 table has 11.7M) in a DuckDB
file, ``item`` and ``date_dim`` there too, and a copy of ``warehouse`` as Parquet in a files source, so
one query joins two sources. Built once in ``benchmarks/.data/`` (again when ``--rows`` changes).

Each reader gets a fresh connection, runs every query once untimed, then ``--runs`` timed runs; the
median is reported, with the ratio to plain DuckDB (an in-memory DuckDB that ATTACHes the file
READ_ONLY and reads the Parquet with ``read_parquet``). All readers run in this one process, one after
another. Writes benchmarks/results/duckdb_file.md and .json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Callable

import duckdb

import fedq

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data" / "duckdb_file"
RESULTS = ROOT / "results"
QUERIES = {
    "sum by warehouse (one table)":
        "SELECT inv_warehouse_sk, sum(inv_quantity_on_hand) AS q, count(*) AS n FROM {wh}.inventory "
        "GROUP BY inv_warehouse_sk ORDER BY 1",
    "q21-like (3 tables in the file + Parquet warehouse)":
        "SELECT w_warehouse_name, i_item_id, "
        "sum(CASE WHEN d_date < DATE '2000-03-11' THEN inv_quantity_on_hand ELSE 0 END) AS inv_before, "
        "sum(CASE WHEN d_date >= DATE '2000-03-11' THEN inv_quantity_on_hand ELSE 0 END) AS inv_after "
        "FROM {wh}.inventory JOIN {lake}.warehouse ON inv_warehouse_sk = w_warehouse_sk "
        "JOIN {wh}.item ON i_item_sk = inv_item_sk JOIN {wh}.date_dim ON inv_date_sk = d_date_sk "
        "WHERE i_current_price BETWEEN 0.99 AND 1.49 AND d_date BETWEEN DATE '2000-02-10' AND DATE '2000-04-10' "
        "GROUP BY w_warehouse_name, i_item_id ORDER BY 1, 2 LIMIT 100",
    "filtered count (zone maps)":
        "SELECT count(*) AS n, max(inv_quantity_on_hand) AS m FROM {wh}.inventory WHERE inv_date_sk BETWEEN 2451000 AND 2451007",
}


def build(rows: int) -> Path:
    """The DuckDB file and the Parquet folder, rebuilt when the inventory row count differs."""
    path = DATA / "tpcds_like.duckdb"
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as db:
            if db.sql("SELECT count(*) FROM inventory").fetchone()[0] == rows:
                return path
        path.unlink()
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "lake").mkdir(exist_ok=True)
    items, dates, warehouses = 18_000, 261, 5  # inventory is items x weekly dates x warehouses at SF 1
    with duckdb.connect(str(path)) as db:
        db.execute(f"""CREATE TABLE inventory AS SELECT
            (2450815 + (r // ({items} * {warehouses})) % {dates} * 7)::INTEGER AS inv_date_sk,
            (r % {items} + 1)::INTEGER AS inv_item_sk, ((r // {items}) % {warehouses} + 1)::INTEGER AS inv_warehouse_sk,
            CASE WHEN r % 20 = 0 THEN NULL ELSE (hash(r) % 1000)::INTEGER END AS inv_quantity_on_hand
            FROM range({rows}) t(r)""")
        db.execute(f"""CREATE TABLE item AS SELECT (r + 1)::INTEGER AS i_item_sk, 'AAAAAAAA' || lpad(r::VARCHAR, 8, '0') AS i_item_id,
            ((hash(r) % 10000) / 100.0)::DECIMAL(7,2) AS i_current_price FROM range({items}) t(r)""")
        db.execute("""CREATE TABLE date_dim AS SELECT (2450815 + r)::INTEGER AS d_date_sk, DATE '1998-01-01' + r::INTEGER AS d_date
            FROM range(73049) t(r)""")
        db.execute(f"""COPY (SELECT (r + 1)::INTEGER AS w_warehouse_sk, 'Warehouse ' || r AS w_warehouse_name FROM range({warehouses}) t(r))
            TO '{DATA / "lake" / "warehouse.parquet"}' (FORMAT parquet)""")
    return path


def timed(run: Callable[[], list], runs: int) -> tuple[float, list]:
    """Median seconds of ``runs`` runs after one untimed run, and the rows."""
    rows = run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=11_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = build(args.rows)
    lake = DATA / "lake"

    results: dict[str, dict[str, float]] = {}
    answers: dict[str, dict[str, list]] = {}
    plain = duckdb.connect()
    plain.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
    plain.execute(f"CREATE SCHEMA lake; CREATE VIEW lake.warehouse AS SELECT * FROM read_parquet('{lake / 'warehouse.parquet'}')")
    readers = {"duckdb": None, "fedq attach (now)": "attach", "fedq arrow (before)": "arrow"}
    for reader, mode in readers.items():
        connection = None
        if mode is not None:
            connection = fedq.connect(home=False)
            connection.attach("wh", "duckdb", path=str(path), reader=mode)
            connection.attach("lake", "files", url=str(lake))
        for label, sql in QUERIES.items():
            text = sql.format(wh="wh", lake="lake")
            run = (lambda t=text: plain.sql(t).fetchall()) if connection is None else (lambda t=text, c=connection: c.execute(t).fetchall())
            seconds, rows = timed(run, args.runs)
            results.setdefault(label, {})[reader] = seconds
            answers.setdefault(label, {})[reader] = rows
            print(f"{reader:22} {label:55} {seconds * 1000:9.1f} ms", flush=True)
        if connection is not None:
            connection.close()
    plain.close()

    same = {label: all(rows == by_reader["duckdb"] for rows in by_reader.values()) for label, by_reader in answers.items()}
    lines = [f"# DuckDB-file source: attached vs streamed vs plain DuckDB ({args.rows:,} inventory rows)", "",
             f"`.venv/bin/python benchmarks/duckdb_file.py --rows {args.rows} --runs {args.runs}`; median of {args.runs} warm runs, "
             "one process, fresh connection per reader.", "",
             "| query | rows | duckdb ms | fedq attach (now) ms | ratio | fedq arrow (before) ms | ratio | before/now | same answers |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for label, by_reader in results.items():
        base, now, before = by_reader["duckdb"], by_reader["fedq attach (now)"], by_reader["fedq arrow (before)"]
        lines.append(f"| {label} | {len(answers[label]['duckdb'])} | {base * 1000:.1f} | {now * 1000:.1f} | {now / base:.2f}x | {before * 1000:.1f} | "
                     f"{before / base:.2f}x | {before / now:.1f}x | {'yes' if same[label] else 'NO'} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "duckdb_file.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "duckdb_file.json").write_text(json.dumps({"rows": args.rows, "runs": args.runs, "seconds": results,
                                                          "same_answers": same}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
