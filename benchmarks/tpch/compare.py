"""``--compare BASELINE.json``: per query, is fedq faster or slower than in the baseline run?"""
from __future__ import annotations

import json
from pathlib import Path


def compare(results: dict, baseline_path: Path, threshold: float = 0.10, engine: str = "fedq") -> str:
    baseline = json.loads(Path(baseline_path).read_text())
    before = {r["query"]: r for r in baseline["queries"]}
    lines = [f"{engine} vs baseline {baseline_path} ({baseline['created']}, SF {baseline['sf']:g}, layout {baseline['layout']}); "
             f"threshold ±{threshold:.0%}"]
    if (baseline["sf"], baseline["layout"]) != (results["sf"], results["layout"]):
        lines.append(f"WARNING: baseline is SF {baseline['sf']:g} {baseline['layout']}, this run SF {results['sf']:g} {results['layout']}")
    counts = {"faster": 0, "slower": 0, "same": 0}
    old_sum = new_sum = 0.0
    for r in results["queries"]:
        q = r["query"]
        new = r["times"][engine]["median"]
        old = before.get(q, {}).get("times", {}).get(engine, {}).get("median")
        status = "" if r["status"] == "ok" else f"  [{r['status']} now]"
        if before.get(q) and before[q]["status"] != "ok" and r["status"] == "ok":
            status = f"  [was {before[q]['status']}, now ok]"
        if not new or not old:
            lines.append(f"  Q{q:02d}  {'—' if not old else f'{old * 1000:9.1f} ms'} -> {'—' if not new else f'{new * 1000:9.1f} ms'}  not comparable{status}")
            continue
        ratio = new / old
        verdict = "faster" if ratio < 1 - threshold else "slower" if ratio > 1 + threshold else "same"
        counts[verdict] += 1
        old_sum, new_sum = old_sum + old, new_sum + new
        lines.append(f"  Q{q:02d}  {old * 1000:9.1f} ms -> {new * 1000:9.1f} ms  {ratio:5.2f}×  {verdict}{status}")
    if old_sum:
        lines.append(f"  total {old_sum * 1000:9.1f} ms -> {new_sum * 1000:9.1f} ms  {new_sum / old_sum:5.2f}×  "
                     f"({counts['faster']} faster, {counts['slower']} slower, {counts['same']} within ±{threshold:.0%})")
    return "\n".join(lines)
