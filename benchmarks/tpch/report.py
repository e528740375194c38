"""A run's results as JSON, a Markdown table and a PNG bar chart (per query, log scale, one color per engine).

    python -m benchmarks.tpch.report RESULTS.json   # redraw RESULTS.md and RESULTS.png from a saved run
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.tpch.engines import ENGINE_ORDER

COLORS = {"fedq": "#d62728", "lower": "#2ca02c", "duckdb-scanner": "#1f77b4", "naive": "#ff7f0e", "fdw": "#9467bd"}
LABELS = {"fedq": "fedq", "lower": "DuckDB, all local Parquet (lower bound)", "duckdb-scanner": "DuckDB 1.5 + scanners",
          "naive": "naive (pull whole tables)", "fdw": "PostgreSQL FDW"}


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _size(count: int) -> str:
    for unit, step in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= step:
            return f"{count / step:.1f}{unit}"
    return str(count)


def short(message: str | None, limit: int = 300) -> str:
    """One line for a long error: its first line (up to a 'Detail:' traceback) and, if different, its last."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0].split(" Detail: ")[0]
    tail = lines[-1] if len(lines) > 1 else ""
    return (head if not tail or tail in head else f"{head} ... {tail}")[:limit]


def ran(results: dict) -> list[str]:
    return [n for n in ENGINE_ORDER if results["engines"].get(n, {}).get("status") == "ran"]


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def markdown(results: dict) -> str:
    engines = ran(results)
    peers = [e for e in engines if e != "fedq"]
    sources = sorted({s for r in results["queries"] for s in (r["moved"].get("fedq") or {})})
    lines = [
        f"# TPC-H SF {results['sf']:g}, layout `{results['layout']}`: fedq vs peers",
        "",
        f"{results['created']} · median of {results['runs']} runs after one warm-up · "
        f"{results['machine']['cpus']} CPUs · " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
        "Placement: " + ", ".join(f"{t}={k}" for t, k in results["placement"].items()),
        "",
        f"**Correct through fedq: {len(results['correct'])}/{len(results['queries'])}**"
        + (f" — failed: {', '.join(f'Q{n:02d}' for n in results['failed'])}" if results["failed"] else ""),
        "",
        "Times in ms; ratio = fedq / peer (above 1: fedq slower). Moved = rows/bytes fedq fetched per source "
        "(Arrow bytes; naive fetches every referenced table whole).",
        "",
    ]
    header = ["query", "check"] + engines + [f"fedq/{p}" for p in peers] + [f"moved {s}" for s in sources] + ["moved naive"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results["queries"]:
        cells = [f"Q{r['query']:02d}", r["status"]]
        cells += [_ms(r["times"][e]["median"]) if r["times"][e]["median"] is not None else "fail" for e in engines]
        cells += [_ratio(r["ratios"].get(p)) for p in peers]
        moved = r["moved"].get("fedq") or {}
        cells += [f"{_size(moved[s]['rows'])} / {_size(moved[s]['bytes'])}B" if s in moved else "" for s in sources]
        naive = r["moved"].get("naive")
        cells.append(f"{_size(sum(v['rows'] for v in naive.values()))} / {_size(sum(v['bytes'] for v in naive.values()))}B" if naive else "")
        lines.append("| " + " | ".join(cells) + " |")
    totals = results["totals"]
    lines += ["", "## Totals", "", "| engine | sum of medians (ms) | queries | fedq/engine (sum, common queries) | geomean of ratios |",
              "|---|---|---|---|---|"]
    for e in engines:
        t = totals[e]
        lines.append(f"| {e} | {_ms(t['seconds'])} | {t['queries']} | "
                     f"{_ratio(t.get('ratio')) if e != 'fedq' else ''} | {_ratio(t.get('geomean_ratio')) if e != 'fedq' else ''} |")
    skipped = {n: e["reason"] for n, e in results["engines"].items() if e["status"] != "ran"}
    if skipped:
        lines += ["", "## Skipped peers", ""] + [f"- **{n}**: {reason}" for n, reason in skipped.items()]
    failures = [r for r in results["queries"] if r["status"] != "ok"]
    peer_errors = [(r["query"], e, t["error"]) for r in results["queries"] for e, t in r["times"].items()
                   if e != "fedq" and t["error"] and not t["error"].startswith("skipped")]
    peer_errors += [(r["query"], e, f"wrong answer: {msg}") for r in results["queries"]
                    for e, msg in (r.get("checks") or {}).items() if e != "fedq" and msg]
    if failures or peer_errors:
        lines += ["", "## Failures", ""]
        lines += [f"- Q{r['query']:02d} fedq **{r['status']}**: {short(r['message'])}" for r in failures]
        lines += [f"- Q{q:02d} {e}: {short(msg)}" for q, e, msg in peer_errors]
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = ran(results)
    records = results["queries"]
    width = 0.8 / max(1, len(engines))
    fig, ax = plt.subplots(figsize=(max(10, len(records) * 0.75), 5.5), dpi=110)
    for i, engine in enumerate(engines):
        xs, ys = [], []
        for q, r in enumerate(records):
            if r["times"][engine]["median"]:
                xs.append(q + (i - (len(engines) - 1) / 2) * width)
                ys.append(r["times"][engine]["median"] * 1000)
        ax.bar(xs, ys, width=width, color=COLORS.get(engine), label=LABELS.get(engine, engine))
    ax.set_yscale("log")
    ax.set_xticks(range(len(records)))
    ax.set_xticklabels([f"Q{r['query']}" for r in records])
    for q, r in enumerate(records):
        if r["status"] != "ok":
            tick = ax.get_xticklabels()[q]
            tick.set_color("red")
            tick.set_fontweight("bold")
            ax.annotate(f"fedq\n{r['status']}", (q, 0), xycoords=("data", "axes fraction"), xytext=(0, 6),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8, color="red", fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "red", "lw": 0.6})
    ax.set_ylabel("median wall time (ms, log scale)")
    totals = results["totals"]
    summary = ", ".join(f"fedq/{e} {totals[e]['ratio']:.2f}×" for e in engines if e != "fedq" and totals[e].get("ratio"))
    ax.set_title(f"TPC-H SF {results['sf']:g}, layout {results['layout']} — correct {len(results['correct'])}/{len(records)}"
                 + (f"; total {summary}" if summary else ""), fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=len(engines), frameon=False)
    ax.set_xlim(-0.6, len(records) - 0.4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_all(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{results['name']}.{suffix}" for suffix in ("json", "md", "png")]
    write_json(results, paths[0])
    paths[1].write_text(markdown(results))
    chart(results, paths[2])
    return paths


def redraw(argv: list[str]) -> int:
    """``python -m benchmarks.tpch.report RUN.json…``: the .md and .png of saved runs again."""
    if not argv:
        print("usage: python -m benchmarks.tpch.report RUN.json [RUN.json …]", file=sys.stderr)
        return 2
    for argument in argv:
        saved = Path(argument)
        try:
            data = json.loads(saved.read_text())
            markdown_text = markdown(data)
        except FileNotFoundError:
            print(f"error: {saved}: no such file (a saved run is benchmarks/results/NAME.json)", file=sys.stderr)
            return 2
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            print(f"error: {saved} is not a saved TPC-H run ({type(error).__name__}: {error})", file=sys.stderr)
            return 2
        saved.with_name(saved.stem + ".md").write_text(markdown_text)
        chart(data, saved.with_name(saved.stem + ".png"))
        print(f"wrote {saved.with_name(saved.stem + '.md')}, {saved.with_name(saved.stem + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(redraw(sys.argv[1:]))
