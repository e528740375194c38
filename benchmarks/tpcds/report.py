"""A TPC-DS run's results as JSON, a Markdown table (TPC-H's, benchmarks/tpch/report.py, retitled and
with the deadline and failures spelled out) and a PNG chart sized for 99 queries (two rows of bars).

    python -m benchmarks.tpcds.report RESULTS.json   # redraw RESULTS.md and RESULTS.png from a saved run
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.tpch import report as tpch_report
from benchmarks.tpch.report import COLORS, LABELS, ran, short, write_json

LABELS = {**LABELS, "duckdb-scanner": "DuckDB 1.5 + scanners (postgres, mysql, sqlite, DuckDB file, files)"}


def markdown(results: dict) -> str:
    text = tpch_report.markdown(results)
    text = text.replace("# TPC-H SF", "# TPC-DS SF", 1)
    done, planned = len(results["queries"]), results.get("planned", len(results["queries"]))
    note = f"Deadline {results.get('timeout', 0):g} s per query run (fedq.connect(catalog, timeout=…))."
    if done < planned:
        note += f" **Partial run: {done} of {planned} queries done.**"
    head, _, rest = text.partition("\n\n")
    return f"{head}\n\n{note}\n\n{rest}"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = ran(results)
    records = results["queries"]
    halves = [records[: (len(records) + 1) // 2], records[(len(records) + 1) // 2:]] if len(records) > 30 else [records]
    per_row = max(len(h) for h in halves)
    width = 0.8 / max(1, len(engines))
    fig, axes = plt.subplots(len(halves), 1, figsize=(max(10, per_row * 0.36), 4.2 * len(halves)), dpi=110, squeeze=False)
    values = [r["times"][e]["median"] * 1000 for r in records for e in engines if r["times"][e]["median"]]
    low, high = (min(values) / 1.5, max(values) * 1.5) if values else (1, 10)
    for ax, part in zip(axes[:, 0], halves):
        for i, engine in enumerate(engines):
            xs, ys = [], []
            for q, r in enumerate(part):
                if r["times"][engine]["median"]:
                    xs.append(q + (i - (len(engines) - 1) / 2) * width)
                    ys.append(r["times"][engine]["median"] * 1000)
            ax.bar(xs, ys, width=width, color=COLORS.get(engine), label=LABELS.get(engine, engine))
        ax.set_yscale("log")
        ax.set_ylim(low, high)
        ax.set_xticks(range(len(part)))
        ax.set_xticklabels([str(r["query"]) for r in part], fontsize=7)
        for q, r in enumerate(part):
            if r["status"] != "ok":
                tick = ax.get_xticklabels()[q]
                tick.set_color("red")
                tick.set_fontweight("bold")
                ax.annotate({"wrong": "W", "error": "E", "timeout": "T"}.get(r["status"], "?"), (q, 0),
                            xycoords=("data", "axes fraction"), xytext=(0, 4), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7, color="red", fontweight="bold")
        ax.set_ylabel("median ms (log)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.set_axisbelow(True)
        ax.set_xlim(-0.6, per_row - 0.4)
    totals = results["totals"]
    summary = ", ".join(f"fedq/{e} {totals[e]['ratio']:.2f}×" for e in engines if e != "fedq" and totals[e].get("ratio"))
    axes[0, 0].set_title(f"TPC-DS SF {results['sf']:g}, layout {results['layout']} (7 source kinds) — fedq correct "
                         f"{len(results['correct'])}/{len(records)}" + (f"; total {summary}" if summary else "")
                         + " — red: W wrong, E error, T timeout", fontsize=10)
    axes[-1, 0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(engines), frameon=False)
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
    if not argv:
        print("usage: python -m benchmarks.tpcds.report RUN.json [RUN.json …]", file=sys.stderr)
        return 2
    for argument in argv:
        saved = Path(argument)
        data = json.loads(saved.read_text())
        saved.with_name(saved.stem + ".md").write_text(markdown(data))
        chart(data, saved.with_name(saved.stem + ".png"))
        print(f"wrote {saved.with_name(saved.stem + '.md')}, {saved.with_name(saved.stem + '.png')}")
    return 0


__all__ = ["chart", "markdown", "redraw", "short", "write_all"]

if __name__ == "__main__":
    sys.exit(redraw(sys.argv[1:]))
