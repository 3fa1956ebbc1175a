"""Figures of the report (matplotlib, Agg; imported only when plotting): ranking bar charts and overlaid training
curves. The per-sample stat histograms, drawn on every run, are SVG written directly (report_svg.py)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from .io import read_json


# -- figures ------------------------------------------------------------------------------------------------------
def _figure(width: float, height: float, layout: str | None = "constrained"):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout=layout)


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, format="png", metadata={"Software": None})
    os.replace(tmp, path)


def ranking_chart(ranking: dict, path: Path, title: str) -> None:
    """Bars = mean per arm (rank order), error bars = std over seeds, dots = the seeds; baseline hatched."""
    arms = ranking["arms"]
    many = len(arms) > 8
    fig = _figure(min(16.0, max(4.5, (0.55 if many else 1.1) * len(arms) + 2)), 4.8 if many else 4.2)
    ax = fig.add_subplot()
    xs = list(range(len(arms)))
    means = [a["mean"] for a in arms]
    errs = [a["std"] or 0.0 for a in arms]
    colors = ["#bbbbbb" if a["is_baseline"] else "#4c72b0" for a in arms]
    bars = ax.bar(xs, means, yerr=errs, capsize=5, color=colors, edgecolor="#333333", linewidth=0.6,
                  error_kw={"elinewidth": 1.2, "ecolor": "#222222"})
    for bar, a in zip(bars, arms):
        if a["is_baseline"]:
            bar.set_hatch("//")
    for x, a in zip(xs, arms):
        if a["n"] > 1:
            jitter = [x + 0.18 * ((k / (a["n"] - 1)) - 0.5) for k in range(a["n"])]
            ax.scatter(jitter, a["values"], s=14, color="#dd8452", zorder=3, edgecolor="white", linewidth=0.5)
    values = [v for a in arms for v in a["values"]] + [m - e for m, e in zip(means, errs)] + \
        [m + e for m, e in zip(means, errs)]
    lo, hi = min(values), max(values)
    if lo > 0 and lo > 0.5 * hi:  # far from zero: zoom in (the caption says the axis may not start at 0)
        pad = 0.25 * (hi - lo) or 0.05 * hi
        ax.set_ylim(lo - pad, hi + pad)
    base = next((a for a in arms if a["is_baseline"]), None)
    if base is not None:
        ax.axhline(base["mean"], color="#555555", linestyle="--", linewidth=1, label=f"{base['arm']} (baseline)")
        ax.legend(loc="best", fontsize=8)
    if many:
        ax.set_xticks(xs, [f"{a['arm']} (n={a['n']})" for a in arms], fontsize=7, rotation=60, ha="right")
    else:
        ax.set_xticks(xs, [f"{a['arm']}\n(n={a['n']})" for a in arms], fontsize=8)
    better = "lower" if ranking["goal"] == "minimize" else "higher"
    ax.set_ylabel(f"{ranking['metric']} ({better} is better)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def _smooth(ys: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for k, y in enumerate(ys):
        acc += y
        if k >= window:
            acc -= ys[k - window]
        out.append(acc / min(k + 1, window))
    return out


def training_curves(records: list[dict], path: Path) -> None:
    """Training loss against tokens seen for every training job with a loss_curve.json, overlaid."""
    curves = []
    for r in records:
        found = sorted(Path(r.get("artifacts") or "").glob("**/loss_curve.json"))
        points = [p for p in read_json(found[0]) if isinstance(p, dict) and p.get("loss") is not None] if found else []
        if points:
            curves.append((r, points))
    pipelines = {r.get("pipeline") for r, _ in curves}
    many = len(curves) > 10
    fig = _figure(11.0 if many else 8.0, 6.0 if many else 4.8)
    ax = fig.add_subplot()
    if many:
        import matplotlib

        cmap = matplotlib.colormaps["tab20"]
    for k, (r, points) in enumerate(curves):
        x_key = "tokens" if all("tokens" in p for p in points) else "step"
        xs = [p[x_key] for p in points]
        ys = [float(p["loss"]) for p in points]
        m = r.get("metrics") or {}
        label = (f"{r.get('pipeline')}." if len(pipelines) > 1 else "") + r["meta_name"] + \
            (f" (seed {m['seed']})" if m.get("seed") is not None and "_s" not in r["meta_name"] else "")
        color = cmap(k % 20) if many else f"C{k % 10}"
        if not many:  # the raw per-step loss, under its moving average
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(xs, _smooth(ys, max(1, len(ys) // 20)), color=color, linewidth=1.0 if many else 1.6, label=label)
        ax.set_xlabel("tokens seen" if x_key == "tokens" else "step")
    if curves:
        ax.set_ylabel("training loss (nats/token)")
        if many:
            ax.legend(fontsize=6, ncols=max(1, math.ceil(len(curves) / 25)), loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no loss curves", ha="center", va="center")
        ax.set_axis_off()
    how = "moving averages" if many else "thin: per step, thick: moving average"
    ax.set_title(f"Training curves ({len(curves)} run(s); {how})", fontsize=10)
    _save(fig, path)
