"""python -m benchmarks.tpcds.deadlines [--sf 1] [--deadline 1] [--load 2] [--queries 1-99] [--publish]

Issue 18 item 2: does a statement end at its deadline plus at most 1 s, partitioned reads and
build-side waits included, whatever the load? Each TPC-DS query (layout seven, loaded by
``python -m benchmarks.tpcds``) runs once with ``cursor.timeout = DEADLINE`` while ``--load``
other connections run the heaviest TPC-DS queries in a loop (bounded: they stop when the
measured queries are done). A query either answers before its deadline or fails with fedq's
deadline error; the figure of interest is the *overshoot*: time from the deadline to the error.

Writes tpcds-deadlines-sf{SF}.{json,md,png} to benchmarks/results/local/ (or benchmarks/results with
--publish). Exit status 1 if some overshoot exceeds --margin seconds or a query failed otherwise.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import fedq
from benchmarks.tpch.datagen import sf_label
from benchmarks.tpch.progress import Progress
from benchmarks.tpcds import queries
from benchmarks.tpcds.layouts import DEFAULT_DSN, DEFAULT_MYSQL, Layout

PUBLISHED = Path(__file__).resolve().parent.parent / "results"
LOAD_QUERIES = (4, 11, 22, 23, 64, 67, 74, 78)  # the longest at SF 1: they keep both cores and the servers busy


@dataclass
class Result:
    query: int
    outcome: str  # "answered" before the deadline, "deadline" (fedq's error), or "error"
    seconds: float
    overshoot: float | None  # seconds past the deadline, for "deadline"
    message: str | None = None


def measure(connection: fedq.Connection, number: int, sql: str, deadline: float) -> Result:
    cursor = connection.cursor()
    cursor.timeout = deadline
    started = time.perf_counter()
    try:
        cursor.execute(sql)
        cursor.fetchall()
        return Result(number, "answered", time.perf_counter() - started, None)
    except fedq.OperationalError as error:
        seconds = time.perf_counter() - started
        if "deadline" in str(error):
            return Result(number, "deadline", seconds, seconds - deadline)
        return Result(number, "error", seconds, None, str(error)[:200])
    finally:
        cursor.close()


class Load:
    """``workers`` connections running heavy queries one after another until :meth:`stop`."""

    def __init__(self, catalog: Path, texts: list[str], workers: int) -> None:
        self.stopping = threading.Event()
        self.completed = 0
        self.running: dict[int, fedq.Cursor] = {}  # per worker, the cursor it is executing
        self.connections = [fedq.connect(catalog, timeout=120) for _ in range(workers)]
        self.threads = [threading.Thread(target=self._loop, args=(i, c, texts[i::workers] or texts), daemon=True)
                        for i, c in enumerate(self.connections)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def _loop(self, worker: int, connection: fedq.Connection, texts: list[str]) -> None:
        index = 0
        while not self.stopping.is_set():
            cursor = self.running[worker] = connection.cursor()
            try:
                cursor.execute(texts[index % len(texts)])
                cursor.fetchall()
                self.completed += 1
            except fedq.Error:
                pass  # interrupted at stop, or a deadline: the load only has to keep the machine busy
            finally:
                cursor.close()
            index += 1

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for cursor in list(self.running.values()):
            cursor.cancel()
        for thread in self.threads:
            thread.join(timeout=30)
        for connection in self.connections:
            connection.close()


def write_report(results: list[Result], args: argparse.Namespace, load_completed: int, out: Path, name: str) -> list[Path]:
    overshoots = [r.overshoot for r in results if r.overshoot is not None]
    summary = {
        "sf": args.sf, "deadline": args.deadline, "load_workers": args.load, "load_queries_completed": load_completed,
        "answered": sum(r.outcome == "answered" for r in results), "deadline_errors": len(overshoots),
        "other_errors": sum(r.outcome == "error" for r in results),
        "max_overshoot": max(overshoots, default=None), "median_overshoot": statistics.median(overshoots) if overshoots else None,
        "margin": args.margin,
    }
    (out / f"{name}.json").write_text(json.dumps({"summary": summary, "results": [asdict(r) for r in results]}, indent=1))
    lines = [f"# TPC-DS SF {sf_label(args.sf)} (layout seven): every query with a {args.deadline:g} s deadline, "
             f"{args.load} loading connection(s)", "",
             f"Command: `python -m benchmarks.tpcds.deadlines --sf {args.sf:g} --deadline {args.deadline:g} --load {args.load}`", "",
             f"- answered before the deadline: {summary['answered']}; ended by the deadline: {summary['deadline_errors']}; "
             f"other errors: {summary['other_errors']}; load queries completed meanwhile: {load_completed}",
             f"- overshoot past the deadline: median {_s(summary['median_overshoot'])}, max {_s(summary['max_overshoot'])} "
             f"(allowed: {args.margin:g} s)", "",
             "| query | outcome | seconds | overshoot |", "|---|---|---:|---:|"]
    lines += [f"| Q{r.query:02d} | {r.outcome}{': ' + r.message if r.message else ''} | {r.seconds:.2f} | {_s(r.overshoot)} |"
              for r in results]
    paths = [out / f"{name}.json", out / f"{name}.md"]
    paths[1].write_text("\n".join(lines) + "\n")
    chart = _chart(results, args, out / f"{name}.png")
    return paths + ([chart] if chart else [])


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _chart(results: list[Result], args: argparse.Namespace, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ended = [r for r in results if r.overshoot is not None]
    figure, axis = plt.subplots(figsize=(10, 3.5))
    axis.bar([f"Q{r.query:02d}" for r in ended], [r.overshoot for r in ended], color="#4c72b0")
    axis.axhline(args.margin, color="#c44e52", linestyle="--", label=f"allowed {args.margin:g} s")
    axis.set_ylabel("seconds past the deadline")
    axis.set_title(f"TPC-DS SF {sf_label(args.sf)}: time from a {args.deadline:g} s deadline to the error, "
                   f"{args.load} loading connection(s)")
    axis.tick_params(axis="x", labelrotation=90, labelsize=7)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tpcds.deadlines", description=__doc__.split("\n\n")[1])
    parser.add_argument("--sf", type=float, default=1)
    parser.add_argument("--deadline", type=float, default=1.0, help="each query's deadline in seconds (default 1)")
    parser.add_argument("--load", type=int, default=2, help="connections running heavy queries meanwhile (default 2)")
    parser.add_argument("--margin", type=float, default=1.0, help="allowed seconds past the deadline (default 1)")
    parser.add_argument("--queries", help="which queries, e.g. 1,3,5-7 (default all 99)")
    parser.add_argument("--publish", action="store_true", help="write to benchmarks/results instead of results/local")
    args = parser.parse_args(argv)
    layout = Layout("seven", args.sf, DEFAULT_DSN, DEFAULT_MYSQL)
    catalog = layout.folder / "catalog-seven.toml"
    if not catalog.exists():
        raise SystemExit(f"{catalog} is missing: load the data first with python -m benchmarks.tpcds --sf {args.sf:g}")
    names = layout.names()
    numbers = queries.parse_selection(args.queries)
    texts = {n: queries.rewrite(queries.text(n), names) for n in set(numbers) | set(LOAD_QUERIES)}
    progress = Progress(len(numbers))
    results: list[Result] = []
    connection = fedq.connect(catalog)
    with Load(catalog, [texts[n] for n in LOAD_QUERIES], args.load) as load:
        for index, number in enumerate(numbers, 1):
            progress.show(index, number, "fedq", f"deadline {args.deadline:g} s")
            result = measure(connection, number, texts[number], args.deadline)
            results.append(result)
            progress.done(index, number, f"{result.outcome:9s} {result.seconds:6.2f} s" +
                          (f"  overshoot {result.overshoot:.2f} s" if result.overshoot is not None else ""))
        completed = load.completed
    connection.close()
    out = PUBLISHED if args.publish else PUBLISHED / "local"
    out.mkdir(parents=True, exist_ok=True)
    paths = write_report(results, args, completed, out, f"tpcds-deadlines-sf{sf_label(args.sf)}")
    print("wrote " + ", ".join(str(p) for p in paths))
    late = [r for r in results if r.overshoot is not None and r.overshoot > args.margin]
    failed = [r for r in results if r.outcome == "error"]
    if late or failed:
        print("LATE: " + ", ".join(f"Q{r.query:02d} +{r.overshoot:.2f} s" for r in late) +
              ("; FAILED: " + ", ".join(f"Q{r.query:02d}" for r in failed) if failed else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
