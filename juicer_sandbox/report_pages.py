"""HTML pages of the report: the rendered summary, ranking and agreement tables, refined recipes.

Self-contained pages (inline CSS, no scripts) that Snakemake's report shows inline.
"""
from __future__ import annotations

import html
import json
from typing import Any

# -- HTML helpers -------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.2em;color:#222;font-size:14px}
table{border-collapse:collapse;margin:0.6em 0 1.2em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{background:#f6f6f6;font-style:italic}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f8fa;padding:0.8em;overflow:auto}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


NUM = ' class="num"'


def _table(head: list[str], rows: list[list[Any]], numeric: set[int] = frozenset(), row_class=None) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>"]
    for k, row in enumerate(rows):
        cls = f' class="{row_class(k)}"' if row_class and row_class(k) else ""
        cells = "".join(f"<td{NUM if i in numeric else ''}>{html.escape('' if v is None else str(v))}</td>"
                        for i, v in enumerate(row))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def markdown_to_html(text: str, title: str = "summary") -> str:
    """summary.md as a page (markdown-it-py, which snakemake's rich dependency installs; <pre> without it)."""
    try:
        from markdown_it import MarkdownIt

        body = MarkdownIt("commonmark").enable("table").render(text)
    except ImportError:  # pragma: no cover - markdown-it-py ships with rich
        body = f"<pre>{html.escape(text)}</pre>"
    return _page(title, body)


def ranking_html(ranking: dict, job: str) -> str:
    from .components.experiment import mean_std_cell, pooled_std_clause

    metric, base = ranking["metric"], ranking.get("baseline")
    better = "lower" if ranking["goal"] == "minimize" else "higher"
    pooled = pooled_std_clause(ranking)
    head = ["rank", "arm", f"{metric} mean ± std", "n", "per-seed values"]
    if base:
        head += [f"Δ vs {base}", f"Δ / std({base})"] + (["Δ / combined std"] if pooled else []) + [f"beats {base}"]
    head.append("pool")
    rows = []
    for r in ranking["arms"]:
        row = [r["rank"], r["arm"] + (" (baseline)" if r["is_baseline"] else ""), mean_std_cell(r), r["n"],
               ", ".join(f"{s}: {v:.4f}" for s, v in zip(r["seeds"], r["values"]))]
        if base:
            row += ["" if r["is_baseline"] else f"{r['delta']:+.4f}",
                    "" if r["is_baseline"] or r["delta_baseline_std"] is None else f"{r['delta_baseline_std']:+.2f}"]
            if pooled:
                row.append("" if r["is_baseline"] or r["delta_pooled_std"] is None
                           else f"{r['delta_pooled_std']:+.2f}")
            row.append("" if r["beats_baseline"] is None else ("yes" if r["beats_baseline"] else "no"))
        row.append(r.get("pool") or "")
        rows.append(row)
    numeric = {0, 2, 3} | ({5, 6} if base else set()) | ({7} if pooled else set())
    body = [f"<h2>{html.escape(job)}</h2>",
            f"<p>Arms ranked by <b>{html.escape(metric)}</b> ({better} is better): mean ± std (ddof=1) over n seeds"
            + (f"; Δ = mean − mean({html.escape(base)}), also in units of std({html.escape(base)})" if base else "")
            + pooled + "."
            + f" {ranking.get('n_evaluations', '')} evaluations.</p>",
            _table(head, rows, numeric, row_class=lambda k: "baseline" if ranking["arms"][k]["is_baseline"] else "")]
    kt = ranking.get("kendall_tau")
    if kt:
        body.append("<h3>Stability over seeds</h3>")
        more = f"; mean over all {len(kt['pairs'])} seed pairs: <b>{_tau(kt['mean_pairwise'])}</b>" \
            if len(kt["pairs"]) > 1 else ""
        body.append(f"<p>Kendall τ<sub>b</sub> between the rankings of seed {kt['seeds'][0]} and seed "
                    f"{kt['seeds'][1]}: <b>{_tau(kt['tau'])}</b> over {kt['n_arms']} arms{more}.</p>")
        per_seed = ranking.get("per_seed") or {}
        body.append(_table(["seed", "ranking (best first)"], [[s, " > ".join(a)] for s, a in per_seed.items()]))
        if len(kt["pairs"]) > 1:
            body.append(_table(["seed a", "seed b", "arms", "τ"],
                               [[p["seed_a"], p["seed_b"], p["n_arms"], _tau(p["tau"])] for p in kt["pairs"]],
                               {2, 3}))
    body.append(f"<p>Returned (best first): <code>{html.escape(json.dumps(ranking['ranked_pools']))}</code></p>")
    return _page(f"ranking {job}", "\n".join(body))


def _tau(t: float | None) -> str:
    return "undefined" if t is None else f"{t:+.3f}"


def agreement_html(agreement: dict, job: str) -> str:
    body = [f"<h2>{html.escape(job)}</h2>",
            f"<p>Kendall τ<sub>b</sub> between the two rankings: <b>{_tau(agreement.get('tau'))}</b> over "
            f"{agreement.get('n_common')} common items.</p>",
            _table(["ranking", "items (best first)"],
                   [["a", " > ".join(map(str, agreement.get("ranking_a") or []))],
                    ["b", " > ".join(map(str, agreement.get("ranking_b") or []))],
                    ["compared", ", ".join(map(str, agreement.get("common") or []))]])]
    return _page(f"agreement {job}", "\n".join(body))


def recipe_html(record: dict, recipe_text: str) -> str:
    body = [f"<h2>{html.escape(record['job'])} ({html.escape(record['hook'])})</h2>"]
    metrics = record.get("metrics") or {}
    changes = metrics.get("changes")
    if isinstance(changes, list) and changes:
        cols = ["op_index", "op_name", "arg", "stat", "old", "new", "mean", "std", "action", "reason"]
        cols = [c for c in cols if any(c in ch for ch in changes)]
        body.append(f"<h3>What changed (k = {html.escape(str(metrics.get('k')))})</h3>")
        body.append(_table(cols, [[_short(ch.get(c)) for c in cols] for ch in changes],
                           {i for i, c in enumerate(cols) if c in ("old", "new", "mean", "std")}))
    else:
        info = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
        if info:
            body.append("<h3>Refinement</h3>")
            body.append(_table(["key", "value"], [[k, _short(v)] for k, v in sorted(info.items())]))
    body.append("<h3>Refined recipe</h3>")
    body.append(f"<pre>{html.escape(recipe_text)}</pre>")
    return _page(f"recipe {record['job']}", "\n".join(body))


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
