"""Report assets: the figures and tables ``snakemake --report`` puts into one offline HTML file.

The rule ``report_assets`` (rules/report.smk) writes, under ``<work_dir>/report/``:

* ``summary.html`` (summary.md rendered) and ``summary.md``;
* per ``arm_ranking`` job: ``rankings/<job>/ranking.html`` (the table: mean ± std, n seeds, delta vs the baseline,
  per-seed rankings and Kendall tau), ``ranking.csv`` and ``ranking.png`` (bar chart, error bars = std over seeds,
  one dot per seed); per ``ranking_agreement`` job ``rankings/<job>/agreement.html``;
* per ProbeViaAnalyzerHook job: ``stats/<job>.png``, a histogram grid of its per-sample stats (``*_stats.jsonl``);
* ``training_curves.png``: the loss curves of every causal-LM TrainModelHook job, overlaid;
* per refine job: ``recipes/<job>.yaml`` (the refined recipe) and ``recipes/<job>.html`` (it, and what changed).

What exists is known from the plan before anything runs (:func:`report_items`), so the rule's outputs are static and
each is wrapped in Snakemake's ``report()`` with a caption, category and labels. Snakemake's HTML report shows
images, HTML and PDF inline and offers everything else as a download, so tables are written as HTML too.

:func:`ranking_summary_lines` gives the same ranking tables as markdown for summary.md.
matplotlib is imported only by the functions that plot (Agg, no display needed).
"""
from __future__ import annotations

import html
import json
import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any

from .core.names import DJ_STATS as STATS
from .io import iter_jsonl, read_json, write_text

log = logging.getLogger(__name__)

REFINE_HOOKS = ("RefineRecipeViaKSigmaHook", "RefineRecipeViaModelFeedbackHook")
CURVE_TRAINERS = ("causal_lm",)


# -- what the report holds (from the plan) ------------------------------------------------------------------------
def _item(kind: str, path: str, category: str, caption: str, labels: dict, job: str | None = None,
          subcategory: str | None = None) -> dict:
    return {"kind": kind, "path": path, "category": category, "subcategory": subcategory, "caption": caption,
            "labels": labels, "job": job}


def report_items(plan) -> list[dict]:
    """The report's files (paths relative to ``<work_dir>/report``) for a compiled plan, in a stable order."""
    items = [
        _item("summary_html", "summary.html", "1. Summary", "summary", {"file": "summary (rendered)"}),
        _item("summary_md", "summary.md", "1. Summary", "summary", {"file": "summary.md"}),
    ]
    jobs = [plan.jobs[jid] for jid in plan.summary_jobs()]  # the records the report rule reads
    for job in jobs:
        hook, ctype, name = job.spec.name, (job.extra or {}).get("type"), job.cfg.meta_name
        if hook == "GeneralProbeHook" and ctype == "arm_ranking":
            for kind, fname, view in (("ranking_html", "ranking.html", "table"),
                                      ("ranking_png", "ranking.png", "bar chart"),
                                      ("ranking_csv", "ranking.csv", "csv")):
                items.append(_item(kind, f"rankings/{job.id}/{fname}", "2. Pool ranking", "ranking",
                                   {"job": job.id, "view": view}, job=job.id, subcategory=name))
        elif hook == "GeneralProbeHook" and ctype == "ranking_agreement":
            items.append(_item("agreement_html", f"rankings/{job.id}/agreement.html", "2. Pool ranking",
                               "agreement", {"job": job.id, "view": "Kendall tau"}, job=job.id, subcategory=name))
        elif hook == "ProbeViaAnalyzerHook":
            items.append(_item("stats_png", f"stats/{job.id}.png", "3. Data statistics", "stats",
                               {"job": job.id, "probe": name}, job=job.id))
        elif hook in REFINE_HOOKS:
            for kind, ext, view in (("recipe_html", "html", "recipe and changes"), ("recipe_yaml", "yaml", "yaml")):
                items.append(_item(kind, f"recipes/{job.id}.{ext}", "5. Refined recipes", "recipe",
                                   {"job": job.id, "view": view}, job=job.id))
    trains = [j.id for j in jobs
              if j.spec.name == "TrainModelHook" and (j.extra or {}).get("type") in CURVE_TRAINERS]
    if trains:
        items.append(_item("curves_png", "training_curves.png", "4. Training", "curves",
                           {"figure": f"loss curves of {len(trains)} training job(s)"}))
        items[-1]["jobs"] = trains
    return items


# -- reading job results ------------------------------------------------------------------------------------------
def resolved_extra(record: dict) -> dict:
    path = Path(record.get("artifacts") or "") / "resolved_config.json"
    if not path.is_file():
        return {}
    return read_json(path).get("extra_configs") or {}


def component_type(record: dict) -> str | None:
    return resolved_extra(record).get("type") if record.get("hook") == "GeneralProbeHook" else None


def _exported(record: dict, name: str, required_key: str) -> dict | None:
    path = Path(record.get("artifacts") or "") / "export" / name
    if path.is_file():
        data = read_json(path)
        if isinstance(data, dict) and required_key in data:
            return data
    return None


def _component_cfg(record: dict) -> dict:
    return {k: v for k, v in resolved_extra(record).items() if k not in ("type", "export_path")}


def load_ranking(record: dict) -> dict | None:
    """The ranking.json of an arm_ranking job (recomputed from its resolved config when it was not exported)."""
    if component_type(record) != "arm_ranking":
        return None
    found = _exported(record, "ranking.json", "arms")
    if found is not None:
        return found
    from .components.experiment import compute_arm_ranking

    return compute_arm_ranking(_component_cfg(record))


def load_agreement(record: dict) -> dict | None:
    if component_type(record) != "ranking_agreement":
        return None
    found = _exported(record, "agreement.json", "tau")
    if found is not None:
        return found
    from .components.experiment import compute_agreement

    try:
        return compute_agreement(_component_cfg(record))
    except Exception as exc:  # an input file gone since: the recorded value is still there
        log.warning("%s: cannot recompute the agreement details (%s)", record.get("job"), exc)
        return {"tau": (record.get("outputs") or {}).get("res_1"), "n_common": None, "common": [],
                "ranking_a": [], "ranking_b": []}


# -- summary.md ---------------------------------------------------------------------------------------------------
def ranking_summary_lines(records: list[dict]) -> list[str]:
    """Markdown for summary.md: every arm_ranking table and every ranking_agreement tau ([] when there are none)."""
    from .components.experiment import ranking_markdown

    lines: list[str] = []
    for r in records:
        ranking = load_ranking(r)
        if ranking is not None:
            lines += ranking_markdown(ranking, title=f"{r['job']}")
    agreements = [(r, load_agreement(r)) for r in records]
    agreements = [(r, a) for r, a in agreements if a is not None]
    if agreements:
        lines += ["### Ranking agreement", "", "| job | Kendall τ | items compared |", "|---|---|---|"]
        for r, a in agreements:
            tau = a.get("tau")
            lines.append(f"| {r['job']} | {'undefined' if tau is None else f'{tau:+.3f}'} | "
                         f"{a.get('n_common') if a.get('n_common') is not None else ''} |")
        lines.append("")
    if not lines:
        return []
    return ["## Pool rankings", ""] + lines


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
        head += [f"Δ vs {base}", f"Δ / std({base})"] + (["Δ / pooled std"] if pooled else []) + [f"beats {base}"]
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


# -- figures ------------------------------------------------------------------------------------------------------
def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


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


def _numeric_stats(stats_path: Path) -> dict[str, list[float]]:
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


def stats_grid(stats_path: Path, path: Path, title: str) -> None:
    """One histogram per stat (x clipped to the 0.5-99.5 percentiles; what falls outside is counted)."""
    import numpy as np

    stats = _numeric_stats(stats_path)
    n = max(1, len(stats))
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = _figure(4.0 * ncols, 2.8 * nrows + 0.4)
    fig.suptitle(title, fontsize=10)
    if not stats:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, f"no numeric stats in {stats_path.name}", ha="center", va="center")
        ax.set_axis_off()
    for k, (name, vals) in enumerate(stats.items()):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        arr = np.asarray(vals)
        lo, hi = np.percentile(arr, [0.5, 99.5])
        if hi <= lo:
            lo, hi = float(arr.min()) - 0.5, float(arr.max()) + 0.5
        inside = arr[(arr >= lo) & (arr <= hi)]
        ax.hist(inside, bins=40, range=(lo, hi), color="#4c72b0", alpha=0.85)
        mean, median = float(arr.mean()), float(np.median(arr))
        ax.axvline(median, color="#dd8452", linewidth=1.2, label=f"median {median:.4g}")
        ax.axvline(mean, color="#55a868", linewidth=1.2, linestyle="--", label=f"mean {mean:.4g}")
        outside = arr.size - inside.size
        ax.set_title(f"{name} (n={arr.size}{f', {outside} outside' if outside else ''})", fontsize=9)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
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


# -- the rule's entry point ---------------------------------------------------------------------------------------
def write_report_assets(context_paths: list[str], summary_md: str, items: list[dict], report_dir: str) -> None:
    """Write every file in ``items`` (from :func:`report_items`) under ``report_dir``."""
    records = {}
    for p in context_paths:
        r = read_json(p)
        records[r["job"]] = r
    out = Path(report_dir)
    for item in items:
        path = out / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = item["kind"]
        record = records.get(item.get("job")) if item.get("job") else None
        log.info("report: %s -> %s", kind, path)
        if kind == "summary_html":
            write_text(path, markdown_to_html(Path(summary_md).read_text(encoding="utf-8")))
        elif kind == "summary_md":
            shutil.copyfile(summary_md, path)
        elif kind in ("ranking_html", "ranking_png", "ranking_csv"):
            ranking = load_ranking(record)
            if kind == "ranking_html":
                write_text(path, ranking_html(ranking, record["job"]))
            elif kind == "ranking_csv":
                from .components.experiment import ranking_csv

                write_text(path, ranking_csv(ranking))
            else:
                ranking_chart(ranking, path, f"{record['job']}: {ranking['metric']} per arm, mean ± std")
        elif kind == "agreement_html":
            write_text(path, agreement_html(load_agreement(record) or {}, record["job"]))
        elif kind == "stats_png":
            stats = (record.get("outputs") or {}).get("__stats__")
            stats_path = Path(stats) if stats else next(iter(sorted(Path(record["artifacts"]).glob("*_stats.jsonl"))))
            stats_grid(stats_path, path, f"{record['job']}: per-sample stats")
        elif kind in ("recipe_yaml", "recipe_html"):
            recipe = Path((record.get("outputs") or {}).get("res_1") or "")
            if not recipe.is_file():
                recipe = next(iter(sorted(Path(record["artifacts"]).glob("*.yaml"))))
            if kind == "recipe_yaml":
                shutil.copyfile(recipe, path)
            else:
                write_text(path, recipe_html(record, recipe.read_text(encoding="utf-8")))
        elif kind == "curves_png":
            training_curves([records[j] for j in item.get("jobs", []) if j in records], path)
        else:
            raise ValueError(f"unknown report item kind {kind!r}")
