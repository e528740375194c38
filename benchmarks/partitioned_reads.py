"""Issue 7 part 4: one large PostgreSQL table read over one connection vs split into ctid ranges over
2 and 4 connections in one snapshot (sources/pg_partitions.py).

    .venv/bin/python benchmarks/partitioned_reads.py [--rows 6000000] [--runs 3] [--out benchmarks/results]

The table ``fedq_bench.big`` (id bigint, x double precision, s text, d date) is built once and reused.
Two queries:

* ``fetch``: every row to Arrow, ``fetch_arrow_table()`` of ``SELECT id, x, s, d FROM pg.fedq_bench.big``
  (pushed to PostgreSQL whole; a row-wise read of one table, so it is split too)
* ``aggregate``: ``SELECT count(*), sum(hash(id, x, s, d))`` computed locally over a table scan

Also, for reference, the same table read by ADBC alone (no fedq) over 1 and 2 connections in threads.
Modes are interleaved, one warm-up each, median of ``--runs``. Every run's answer is checked: row count
and an order-independent checksum ``sum(hash(id, x, s, d))`` equal the single-stream answer.

Where the time goes is measured per run: the client's CPU (this process), the CPU of the PostgreSQL
server processes serving the run, the whole machine's busy CPU (from /proc/stat; the rest is other
work on the machine) and the load average. Writes ``partitioned_reads.{json,md,png}``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import threading
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import duckdb
import pyarrow as pa

import fedq

DSN = "postgresql://postgres@127.0.0.1:5432/test"
TABLE = "fedq_bench.big"
QUERIES = {
    "fetch": f"SELECT id, x, s, d FROM pg.{TABLE}",
    "aggregate": f"SELECT count(*) AS n, sum(hash(id, x, s, d)) AS checksum FROM pg.{TABLE}",
}
MODES = {"single": 1, "2 partitions": 2, "4 partitions": 4}
CLOCK = os.sysconf("SC_CLK_TCK")


def setup(rows: int) -> dict:
    with pg.connect(DSN, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_bench")
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'fedq_bench' AND tablename = 'big'")
        count = 0
        if cur.fetchall()[0][0]:
            cur.execute(f"SELECT count(*) FROM {TABLE}")
            count = cur.fetchall()[0][0]
        if count != rows:
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cur.execute(f"CREATE TABLE {TABLE} (id bigint, x double precision, s text, d date)")
            cur.execute(f"INSERT INTO {TABLE} SELECT i, i * 0.25, 'row ' || (i % 100000), DATE '2020-01-01' + (i % 3000) "
                        f"FROM generate_series(1, {rows}) i")
            cur.execute(f"VACUUM ANALYZE {TABLE}")
        cur.execute(f"SELECT pg_relation_size('{TABLE}') AS bytes, pg_relation_size('{TABLE}') / 8192 AS pages, "
                    "current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers")
        size, pages, version, shared = cur.fetchall()[0]
    return {"rows": rows, "table_bytes": size, "pages": pages, "server_version": version, "shared_buffers": shared}


# -- measuring where the time goes ---------------------------------------------------------
def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK


def _machine_busy() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK


def _backend_pids(source) -> list[int]:
    """Server process ids of the source's pooled sessions (each remembers its own)."""
    pids = []
    for connection in list(source._idle.queue):
        if not hasattr(connection, "_bench_pid"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                connection._bench_pid = cursor.fetchall()[0][0]
        pids.append(connection._bench_pid)
    return pids


class Meter:
    """Wall time, this process's CPU, the CPU of given server processes, the machine's busy CPU."""

    def __init__(self, server_pids) -> None:
        self.server_pids = server_pids

    def __enter__(self) -> "Meter":
        self.servers = {pid: _process_cpu(pid) for pid in self.server_pids()}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.client = usage.ru_utime + usage.ru_stime
        self.machine = _machine_busy()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.client = usage.ru_utime + usage.ru_stime - self.client
        self.machine = _machine_busy() - self.machine
        after = {pid: _process_cpu(pid) for pid in self.server_pids()}
        self.server = sum(cpu - self.servers.get(pid, 0.0) for pid, cpu in after.items())
        self.load = os.getloadavg()[0]

    def record(self) -> dict:
        return {"seconds": self.seconds, "client_cpu": self.client, "server_cpu": self.server,
                "machine_cpu": self.machine, "other_cpu": max(0.0, self.machine - self.client - self.server),
                "load1": self.load}


def checksum(table: pa.Table) -> tuple[int, int]:
    with duckdb.connect() as con:
        con.register("t", table)
        n, total = con.execute("SELECT count(*), sum(hash(id, x, s, d)) FROM t").fetchone()
    return n, int(total)


# -- the engines ---------------------------------------------------------------------------
class FedqMode:
    def __init__(self, parts: int) -> None:
        self.con = fedq.connect()
        # the benchmark queries with the account that loaded its data (a throw-away server): fedq is what is measured
        self.source = self.con.attach("pg", "postgres", dsn=DSN, max_parallel_reads=parts, allow_privileged_role=True)

    def run(self, query: str) -> tuple[dict, tuple[int, int], int]:
        with Meter(lambda: _backend_pids(self.source)) as meter:
            cursor = self.con.execute(QUERIES[query])
            if query == "fetch":
                table = cursor.fetch_arrow_table()
            else:
                n, total = cursor.fetchone()
        answer = checksum(table) if query == "fetch" else (n, int(total))
        partitions = max(1, cursor.plan.fragments[0].stats.partitions)
        return meter.record(), answer, partitions

    def close(self) -> None:
        self.con.close()


class AdbcMode:
    """ADBC alone, no fedq: the same ctid ranges read over ``parts`` connections in threads."""

    def __init__(self, parts: int, pages: int) -> None:
        self.connections = [pg.connect(DSN, autocommit=True) for _ in range(parts)]
        bounds = [pages * i // parts for i in range(1, parts)]
        self.sqls = []
        for start, end in zip([None, *bounds], [*bounds, None]):
            where = [f"ctid >= '({start},0)'::tid" if start is not None else None, f"ctid < '({end},0)'::tid" if end is not None else None]
            where = [w for w in where if w]
            self.sqls.append(f"SELECT id, x, s, d FROM {TABLE}" + (" WHERE " + " AND ".join(where) if where else ""))
        self.pids = []
        for connection in self.connections:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids.append(cursor.fetchall()[0][0])

    def run(self, query: str) -> tuple[dict, tuple[int, int], int]:
        tables: list[pa.Table] = [None] * len(self.sqls)

        def read(index: int) -> None:
            with self.connections[index].cursor() as cursor:
                cursor.execute(self.sqls[index])
                tables[index] = cursor.fetch_arrow_table()

        with Meter(lambda: self.pids) as meter:
            threads = [threading.Thread(target=read, args=(i,)) for i in range(len(self.sqls))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        table = pa.concat_tables(tables)
        return meter.record(), checksum(table), len(self.sqls)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


# -- the run -------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    table = setup(args.rows)
    print(f"table {TABLE}: {table['rows']:,} rows, {table['table_bytes'] / 2**20:.0f} MB, {table['pages']:,} pages", flush=True)
    engines = {("fedq", name): FedqMode(parts) for name, parts in MODES.items()}
    engines.update({("adbc", "single"): AdbcMode(1, table["pages"]), ("adbc", "2 partitions"): AdbcMode(2, table["pages"])})
    cases = [(engine, mode, query) for (engine, mode) in engines for query in QUERIES if engine == "fedq" or query == "fetch"]
    results: dict[str, dict] = {}
    started = time.time()
    for round_ in range(args.runs + 1):  # round 0 warms up
        for engine, mode, query in cases:
            record, answer, partitions = engines[(engine, mode)].run(query)
            key = f"{engine} {query} {mode}"
            entry = results.setdefault(key, {"engine": engine, "query": query, "mode": mode, "runs": [], "answers": set()})
            entry["answers"].add(answer)
            entry["partitions"] = partitions
            if round_:
                entry["runs"].append(record)
            print(f"  round {round_} {key:28s} {record['seconds']:6.2f} s  client {record['client_cpu']:5.2f}  "
                  f"server {record['server_cpu']:5.2f}  machine {record['machine_cpu']:5.2f} CPU-s  load {record['load1']:.2f}",
                  flush=True)
    for engine in engines.values():
        engine.close()

    reference = next(iter(results["fedq fetch single"]["answers"]))
    summary = []
    for entry in results.values():
        runs = entry["runs"]
        median = {field: statistics.median(r[field] for r in runs) for field in runs[0]}
        single = results[f"{entry['engine']} {entry['query']} single"]
        single_seconds = statistics.median(r["seconds"] for r in single["runs"])
        answers = entry.pop("answers")
        summary.append({
            **{k: v for k, v in entry.items() if k != "runs"}, "runs": runs, "median": median,
            "rows_per_second": table["rows"] / median["seconds"], "speedup_vs_single": single_seconds / median["seconds"],
            "correct": answers == {reference},
        })
    report = {
        "benchmark": "partitioned_reads", "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_at_end": os.getloadavg()},
        "table": table, "queries": QUERIES, "runs": args.runs, "reference_answer": list(reference), "results": summary,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "partitioned_reads.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "partitioned_reads.md").write_text(markdown(report))
    chart(report, out / "partitioned_reads.png")
    print(markdown(report))
    if not all(r["correct"] for r in summary):
        raise SystemExit("a partitioned read returned different rows")


def markdown(report: dict) -> str:
    table = report["table"]
    lines = [
        "# Partitioned PostgreSQL reads",
        "",
        f"`{TABLE}`: {table['rows']:,} rows, {table['table_bytes'] / 2**20:.0f} MB ({table['pages']:,} pages), "
        f"PostgreSQL {table['server_version']} on the same machine ({report['machine']['cpus']} CPUs), "
        f"{report['when']}; median of {report['runs']} runs after a warm-up, modes interleaved.",
        "",
        "| engine | query | mode | partitions | median s | M rows/s | vs single | client CPU s | server CPU s | cores used | machine busy CPU s | other work CPU s | load (1 min) | same rows |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        m = r["median"]
        lines.append(f"| {r['engine']} | {r['query']} | {r['mode']} | {r['partitions']} | {m['seconds']:.2f} | "
                     f"{r['rows_per_second'] / 1e6:.2f} | {r['speedup_vs_single']:.2f}x | {m['client_cpu']:.2f} | "
                     f"{m['server_cpu']:.2f} | {(m['client_cpu'] + m['server_cpu']) / m['seconds']:.2f} | "
                     f"{m['machine_cpu']:.2f} | {m['other_cpu']:.2f} | {m['load1']:.2f} | "
                     f"{'yes' if r['correct'] else 'NO'} |")
    single = next(r for r in report["results"] if r["engine"] == "fedq" and r["query"] == "fetch" and r["mode"] == "single")
    best = max((r for r in report["results"] if r["engine"] == "fedq" and r["query"] == "fetch"), key=lambda r: r["speedup_vs_single"])
    need = single["median"]["client_cpu"] + single["median"]["server_cpu"]
    cpus = report["machine"]["cpus"]
    lines += ["", f"**Ceiling on this machine.** Reading the table once costs {need:.1f} CPU-seconds "
              f"(client {single['median']['client_cpu']:.1f}: COPY binary decoding to Arrow, conversion, DuckDB; server "
              f"{single['median']['server_cpu']:.1f}: scanning and encoding), client and server sharing the same {cpus} CPUs. "
              f"No schedule finishes under {need / cpus:.2f} s, so on an idle machine partitions can gain at most "
              f"(single-stream wall) / {need / cpus:.2f} s; the single stream already overlaps client and server "
              f"(it used {need / single['median']['seconds']:.2f} cores here). Best fetch speed-up measured: "
              f"{best['speedup_vs_single']:.2f}x ({best['mode']}), while other work on the machine took "
              f"{best['median']['other_cpu'] / best['median']['machine_cpu'] * 100 if best['median']['machine_cpu'] else 0:.0f}% of its busy CPU."]
    lines += ["", "Queries:", ""] + [f"- `{name}`: `{sql}`" for name, sql in report["queries"].items()]
    lines += ["", "`adbc` rows read the same ctid ranges with ADBC alone (no fedq, no DuckDB), one thread per connection.",
              "CPU columns are CPU-seconds during the run: this process (client), the PostgreSQL server processes "
              "serving it, the whole machine (from /proc/stat), and the machine minus both (other work, e.g. other "
              "processes on a shared machine); cores used = (client + server) / wall seconds.", ""]
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    labels = [f"{r['engine']} {r['query']}\n{r['mode']}" for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    left.bar(labels, [r["rows_per_second"] / 1e6 for r in results], color=["#4c72b0" if r["mode"] == "single" else "#dd8452" for r in results])
    left.set_ylabel("M rows/s (median)")
    left.set_title(f"{report['table']['rows']:,} rows from PostgreSQL")
    for index, r in enumerate(results):
        left.text(index, r["rows_per_second"] / 1e6, f"{r['speedup_vs_single']:.2f}x", ha="center", va="bottom", fontsize=8)
    bottom = [0.0] * len(results)
    for field, colour in (("client_cpu", "#4c72b0"), ("server_cpu", "#55a868"), ("other_cpu", "#c44e52")):
        values = [r["median"][field] for r in results]
        right.bar(labels, values, bottom=bottom, label=field.replace("_", " "), color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    right.plot(labels, [r["median"]["seconds"] * report["machine"]["cpus"] for r in results], "k_", markersize=30,
               label=f"wall s x {report['machine']['cpus']} CPUs")
    right.set_ylabel("CPU-seconds per run (median)")
    right.set_title("Where the CPU went")
    right.legend(fontsize=8)
    for axis in (left, right):
        axis.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
