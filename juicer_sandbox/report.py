"""Report assets: the figures and tables ``snakemake --report`` puts into one offline HTML file.

The rule ``report_assets`` (rules/report.smk) writes, under ``<work_dir>/report/``:

* ``summary.html`` (summary.md rendered) and ``summary.md``;
* per ``arm_ranking`` job: ``rankings/<job>/ranking.html`` (the table: mean ± std, n seeds, delta vs the baseline,
  per-seed rankings and Kendall tau), ``ranking.csv`` and ``ranking.png`` (bar chart, error bars = std over seeds,
  one dot per seed); per ``ranking_agreement`` job ``rankings/<job>/agreement.html``;
* per ProbeViaAnalyzerHook job: ``stats/<job>.svg``, a histogram grid of its per-sample stats (``*_stats.jsonl``;
  SVG written directly, report_svg.py);
* ``training_curves.png``: the loss curves of every causal-LM TrainModelHook job, overlaid;
* per refine job: ``recipes/<job>.yaml`` (the refined recipe) and ``recipes/<job>.html`` (it, and what changed).

What exists is known from the plan before anything runs (:func:`report_items`), so the rule's outputs are static and
each is wrapped in Snakemake's ``report()`` with a caption, category and labels. Snakemake's HTML report shows
images, HTML and PDF inline and offers everything else as a download, so tables are written as HTML too.

:func:`ranking_summary_lines` gives the same ranking tables as markdown for summary.md.
matplotlib is imported only by the functions that plot (Agg, no display needed).
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from .io import read_json, write_text
from .report_figures import ranking_chart, training_curves  # noqa: F401 (the report's API)
from .report_pages import agreement_html, markdown_to_html, ranking_html, recipe_html  # noqa: F401
from .report_svg import stats_grid  # noqa: F401

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
            refines = [j.id for j in jobs if j.spec.name in REFINE_HOOKS and job.id in j.deps]
            # one label only: two labels that vary together (job <-> probe name) make Snakemake's report show
            # a toggle whose other combinations match no file, and the page goes blank (a TypeError)
            items.append(_item("stats_svg", f"stats/{job.id}.svg", "3. Data statistics", "stats",
                               {"dataset": f"{job.id} ({name})"}, job=job.id))
            items[-1]["refines"] = refines  # their thresholds are marked on the histograms
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


def refined_thresholds(refine_records: list[dict]) -> dict[str, list[dict]]:
    """stat -> the bounds the refine jobs set or kept for it (their ``changes`` metric)."""
    out: dict[str, list[dict]] = {}
    for r in refine_records:
        for ch in (r.get("metrics") or {}).get("changes") or []:
            if isinstance(ch, dict) and ch.get("stat") and ch.get("action") in ("set", "kept", "tightened", "loosened"):
                out.setdefault(ch["stat"], []).append(ch)
    return out


# -- summary.md ---------------------------------------------------------------------------------------------------
def ranking_summary_lines(records: list[dict]) -> list[str]:
    """Markdown for summary.md: every arm_ranking table and every ranking_agreement tau ([] when there are none)."""
    lines: list[str] = []
    for r in records:
        ranking = load_ranking(r)
        if ranking is not None:
            from .components.experiment import ranking_markdown  # numpy: only when there is a ranking

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
        elif kind == "stats_svg":
            stats = (record.get("outputs") or {}).get("__stats__")
            stats_path = Path(stats) if stats else next(iter(sorted(Path(record["artifacts"]).glob("*_stats.jsonl"))))
            stats_grid(stats_path, path, f"{record['job']}: per-sample stats",
                       refined_thresholds([records[j] for j in item.get("refines", []) if j in records]))
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
