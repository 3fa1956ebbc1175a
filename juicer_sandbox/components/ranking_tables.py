"""An ``arm_ranking`` record as files: ``ranking.json``, ``ranking.csv`` and ``ranking.md`` (also used by the
report)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from ..io import write_json, write_text


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _signed(v: Any, digits: int = 4) -> str:
    return "" if v is None else f"{v:+.{digits}f}"


def mean_std_cell(row: dict, digits: int = 4) -> str:
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}" if row["std"] is not None \
        else f"{row['mean']:.{digits}f}"


def sources_text(result: dict) -> str:
    """Which noise sources the combined std includes, e.g. 'training seed + pool draw'."""
    return " + ".join(result.get("variance_sources") or []) or "no varying source"


def pooled_std_clause(result: dict) -> str:
    """' and of the combined std pooled over all arms (s, k degrees of freedom; includes: ...)' for a ranking
    caption; '' without a baseline or without an arm with two runs."""
    if not (result.get("baseline") and result.get("pooled_std")):
        return ""
    return (f" and of the combined std pooled over all arms ({result['pooled_std']:.4f}, {result['pooled_std_dof']} "
            f"degrees of freedom; includes {sources_text(result)}); paired: Δ per seed / std of those differences")


TABLE_COLUMNS = ("rank", "arm", "mean", "std", "n", "delta", "delta_baseline_std", "delta_pooled_std",
                 "delta_paired_std", "beats_baseline", "is_baseline", "pool")


def ranking_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TABLE_COLUMNS)
    for r in result["arms"]:
        w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r[c], float) else r[c]) for c in TABLE_COLUMNS])
    return buf.getvalue()


def ranking_markdown(result: dict, title: str | None = None) -> list[str]:
    """The ranking as markdown lines: mean ± std (n seeds) per arm, delta vs the baseline, Kendall tau."""
    metric, base = result["metric"], result.get("baseline")
    better = "lower" if result["goal"] == "minimize" else "higher"
    lines = [f"### {title}", ""] if title else []
    pooled = pooled_std_clause(result)
    lines += [f"Arms ranked by {metric} ({better} is better), mean ± std over n seeds"
              + (f"; Δ = mean − mean({base}), also in units of std({base})" if base else "") + pooled + ".", ""]
    head = ["rank", "arm", f"{metric} mean ± std", "n"]
    if base:
        head += [f"Δ vs {base}", f"Δ / std({base})"] + (["Δ / combined std", "Δ / paired std"] if pooled else [])
    head.append("pool")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["arms"]:
        arm = f"{r['arm']} (baseline)" if r["is_baseline"] else r["arm"]
        cells = [str(r["rank"]), arm, mean_std_cell(r), str(r["n"])]
        if base:
            cells += ["" if r["is_baseline"] else _signed(r["delta"]),
                      "" if r["is_baseline"] else _signed(r["delta_baseline_std"], 2)]
            if pooled:
                cells += ["" if r["is_baseline"] else _signed(r["delta_pooled_std"], 2),
                          "" if r["is_baseline"] else _signed(r.get("delta_paired_std"), 2)]
        cells.append(f"`{r['pool']}`" if r.get("pool") else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    kt = result.get("kendall_tau")
    if kt:
        s0, s1 = kt["seeds"]
        more = f"; mean over all {len(kt['pairs'])} seed pairs: {_fmt_tau(kt['mean_pairwise'])}" \
            if len(kt["pairs"]) > 1 else ""
        lines.append(f"Kendall τ between the rankings of seed {s0} and seed {s1}: {_fmt_tau(kt['tau'])} "
                     f"({kt['n_arms']} arms){more}.")
        lines.append("")
    return lines


def _fmt_tau(t: float | None) -> str:
    return "undefined" if t is None else f"{t:+.3f}"


def write_ranking(result: dict, export_path: str | os.PathLike) -> None:
    out = Path(export_path)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "ranking.json", result)
    write_text(out / "ranking.csv", ranking_csv(result))
    write_text(out / "ranking.md", "\n".join(ranking_markdown(result)) + "\n")
