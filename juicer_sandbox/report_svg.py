"""The report's stat histograms as SVG, written directly: no plotting library to import.

One panel per per-sample stat of a probe (a grid of up to three columns): a 40-bin histogram over
the 0.5-99.5 percentiles (what falls outside is counted in the panel's title), the median and the
mean, and the bounds a refine job set for the stat (refined: red dashed; the recipe's old bound:
grey dotted). Matplotlib drew the same figure as a PNG in about a second per report (its import and
rendering), on every run; this costs the reading of the stats. Snakemake's report shows SVG inline.
"""
from __future__ import annotations

import math
from html import escape
from pathlib import Path

from .core.names import DJ_STATS as STATS
from .io import iter_jsonl, write_text

PANEL_W, PANEL_H, TITLE_H = 400, 280, 30
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 30  # the plot area inside a panel
BINS = 40
BLUE, ORANGE, GREEN, RED, GREY = "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#888888"


def numeric_stats(stats_path: Path) -> dict[str, list[float]]:
    """stat -> its finite numeric values (list-valued stats contribute every item)."""
    values: dict[str, list[float]] = {}
    for row in iter_jsonl(stats_path):
        stats = row.get(STATS, row) if isinstance(row, dict) else {}
        for key, v in (stats or {}).items():
            if isinstance(v, list):
                nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                nums = [v]
            else:
                continue
            values.setdefault(key, []).extend(float(x) for x in nums if math.isfinite(x))
    return {k: v for k, v in values.items() if v}


def percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the two nearest ranks (numpy's default)."""
    pos = q * (len(ordered) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(ordered) - 1)
    return ordered[i] + (ordered[j] - ordered[i]) * (pos - i)


def histogram(values: list[float], lo: float, hi: float, bins: int = BINS) -> list[int]:
    """Counts of values in [lo, hi] over equal bins (the last bin includes hi)."""
    counts = [0] * bins
    width = (hi - lo) / bins
    for x in values:
        if lo <= x <= hi:
            counts[min(int((x - lo) / width), bins - 1)] += 1
    return counts


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if raw <= m * mag)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 12) for k in range(int((hi - first) / step + 1e-9) + 1)]


def _num(v: float) -> str:
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    text = f"{v:.4g}"
    return "0" if text in ("-0", "0") else text


def _panel(name: str, vals: list[float], changes: list[dict], px: float, py: float) -> list[str]:
    ordered = sorted(vals)
    lo, hi = percentile(ordered, 0.005), percentile(ordered, 0.995)
    if hi <= lo:
        lo, hi = ordered[0] - 0.5, ordered[-1] + 0.5
    counts = histogram(ordered, lo, hi)
    inside = sum(counts)
    top = max(counts) * 1.05 or 1.0
    x0, x1, y0, y1 = px + LEFT, px + PANEL_W - RIGHT, py + TOP, py + PANEL_H - BOTTOM

    def X(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    def Y(c: float) -> float:
        return y1 - c / top * (y1 - y0)

    outside = len(vals) - inside
    title = f"{name} (n={len(vals)}{f', {outside} outside' if outside else ''})"
    out = [f'<text x="{(x0 + x1) / 2:.1f}" y="{py + 16}" text-anchor="middle" font-size="12">{escape(title)}</text>',
           f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="none" '
           f'stroke="#333333" stroke-width="0.8"/>']
    for t in nice_ticks(0.0, top):  # y: counts, with light grid lines
        out.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{Y(t):.1f}" y2="{Y(t):.1f}" stroke="#dddddd" '
                   f'stroke-width="0.6"/><text x="{x0 - 4:.1f}" y="{Y(t) + 3:.1f}" text-anchor="end" '
                   f'font-size="9">{_num(t)}</text>')
    for t in nice_ticks(lo, hi):
        out.append(f'<line x1="{X(t):.1f}" x2="{X(t):.1f}" y1="{y1:.1f}" y2="{y1 + 4:.1f}" stroke="#333333"/>'
                   f'<text x="{X(t):.1f}" y="{y1 + 15:.1f}" text-anchor="middle" font-size="9">{_num(t)}</text>')
    width = (hi - lo) / BINS
    path = [f"M{X(lo):.2f},{Y(0):.2f}"]
    for k, c in enumerate(counts):  # one stairs outline, filled
        path.append(f"L{X(lo + k * width):.2f},{Y(c):.2f}L{X(lo + (k + 1) * width):.2f},{Y(c):.2f}")
    out.append(f'<path d="{"".join(path)}L{X(hi):.2f},{Y(0):.2f}Z" fill="{BLUE}" fill-opacity="0.85"/>')
    mean, median = math.fsum(vals) / len(vals), percentile(ordered, 0.5)
    lines = [(median, ORANGE, "", 1.2, f"median {_num(median)}"), (mean, GREEN, "5,3", 1.2, f"mean {_num(mean)}")]
    for ch in changes:
        new, old, arg = ch.get("new"), ch.get("old"), ch.get("arg")
        if isinstance(new, (int, float)) and math.isfinite(new):
            shown = min(max(float(new), lo), hi)  # a bound outside the plotted range sits at its edge
            lines.append((shown, RED, "4,2", 1.4, f"refined {arg} {_num(new)}" + ("" if shown == new else " (off-axis)")))
        if isinstance(old, (int, float)) and old != new and lo <= old <= hi:
            lines.append((float(old), GREY, "1.5,2", 1.0, f"recipe {arg} {_num(old)}"))
    legend_w = 28 + 6.0 * max(len(label) for *_, label in lines)
    lx, ly = x1 - legend_w - 4, y0 + 4
    out.append(f'<rect x="{lx:.1f}" y="{ly:.1f}" width="{legend_w:.1f}" height="{6 + 13 * len(lines)}" '
               f'fill="white" fill-opacity="0.8" stroke="#cccccc"/>')
    for k, (v, color, dash, lw, label) in enumerate(lines):
        style = f'stroke="{color}" stroke-width="{lw}"' + (f' stroke-dasharray="{dash}"' if dash else "")
        if lo <= v <= hi:
            out.append(f'<line x1="{X(v):.1f}" x2="{X(v):.1f}" y1="{y0:.1f}" y2="{y1:.1f}" {style}/>')
        yy = ly + 12 + 13 * k
        out.append(f'<line x1="{lx + 4:.1f}" x2="{lx + 20:.1f}" y1="{yy - 3:.1f}" y2="{yy - 3:.1f}" {style}/>'
                   f'<text x="{lx + 24:.1f}" y="{yy:.1f}" font-size="9">{escape(label)}</text>')
    return out


def stats_grid(stats_path: Path, path: Path, title: str, thresholds: dict[str, list[dict]] | None = None) -> None:
    """One histogram per stat of ``stats_path`` (a ``*_stats.jsonl``) into the SVG file ``path``.

    ``thresholds``: stat -> the refine jobs' changes for it ({arg, old, new, action}), drawn as lines.
    """
    stats = numeric_stats(stats_path)
    n = max(1, len(stats))
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    width, height = PANEL_W * ncols, TITLE_H + PANEL_H * nrows
    body = [f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>']
    if not stats:
        body.append(f'<text x="{width / 2:.1f}" y="{TITLE_H + PANEL_H / 2:.1f}" text-anchor="middle" '
                    f'font-size="12">no numeric stats in {escape(stats_path.name)}</text>')
    for k, (name, vals) in enumerate(stats.items()):
        body += _panel(name, vals, (thresholds or {}).get(name, []), PANEL_W * (k % ncols),
                       TITLE_H + PANEL_H * (k // ncols))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")
    write_text(path, svg)
