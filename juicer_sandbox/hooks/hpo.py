"""The HPO jobs the compiler adds around each trial (see juicer_sandbox/config/trials.py)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..errors import SandboxError
from ..io import write_json
from .runner import Result, Run, record_value

log = logging.getLogger(__name__)


def _sweep(extra: dict):
    """The sweep; ask/tell jobs get it without its caps (so raising run_cap reruns no trial)
    and only need trial t to be within the budget."""
    from ..hpo.sweep import load_sweep

    raw = dict(extra["sweep"])
    if "trial" in extra and "run_cap" not in raw and "sweep_max_count" not in raw:
        raw["run_cap"] = extra["trial"] + 1
    return load_sweep(raw, file=extra["sweep_file"])


def hpo_ask(run: Run) -> Result:
    """Trial t's parameters from the Optuna study (the same ones again if t was asked before)."""
    from ..hpo.study import ask as study_ask

    extra = run.extra
    params = study_ask(extra["study_dir"], _sweep(extra), extra["trial"], parallel=extra["parallel"])
    write_json(run.artifacts / "params.json", params)
    log.info("trial %d: %s", extra["trial"], params)
    return Result(outputs=params, metrics={"trial": extra["trial"], "params": params})


def hpo_tell(run: Run) -> Result:
    """The trial's objective back to the study (a failed metric marks the trial failed)."""
    from ..hpo.study import tell as study_tell

    extra = run.extra
    record = run.upstream[extra["metric_job"]]
    value = record_value(record, extra["metric_key"])
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SandboxError(f"metric {extra['metric_key']} of {record['job']} is not a number: {value!r}") from None
    state = study_tell(extra["study_dir"], _sweep(extra), extra["trial"], value)
    write_json(run.artifacts / "trial.json", state)
    return Result(outputs=value, metrics={"trial": extra["trial"], "value": value})


def hpo_export(run: Run) -> Result:
    """trials.csv, best.json, history/importance plots, and the best trial's recipes."""
    from ..dj.recipe import write_recipe
    from ..hpo.apply import apply_params
    from ..hpo.study import ask as study_ask, export as study_export, tell as study_tell

    extra = run.extra
    sweep = _sweep(extra)
    for t, job_id in enumerate(extra.get("untold") or []):  # grid trials: recorded in the study here
        study_ask(extra["study_dir"], sweep, t, parallel=extra["parallel"])
        study_tell(extra["study_dir"], sweep, t, float(record_value(run.upstream[job_id], extra["metric_key"])))
    out = study_export(extra["study_dir"], sweep, run.artifacts)
    best = out.get("best") or {}
    baseline = record_value(run.upstream[extra["baseline_job"]], extra["metric_key"])
    summary = {"metric": sweep.metric_name, "goal": sweep.goal, "baseline_value": baseline,
               "best_value": best.get("value"), "best_trial": best.get("trial_index"),
               "best_params": best.get("params"), "counts": out.get("counts")}
    if best.get("value") is not None:
        better = best["value"] < baseline if sweep.goal == "minimize" else best["value"] > baseline
        summary["best_beats_baseline"] = bool(better)
        summary["improvement"] = (baseline - best["value"]) if sweep.goal == "minimize" else best["value"] - baseline
        # the recipes as the best trial ran them: templates with its parameters applied, and the
        # recipes its refine jobs wrote
        prefix = f"{extra['trial_prefix']}{best['trial_index']:04d}/"
        for meta, recipe in (extra.get("templates") or {}).items():
            tuned, _ = apply_params(best["params"], recipe, {}, meta)
            if tuned != recipe:
                write_recipe(tuned, run.artifacts / f"best_recipe_{meta}.yaml")
        for job_id, record in run.upstream.items():
            if job_id.startswith(prefix) and record["hook"].startswith("RefineRecipeVia"):
                src = Path(record["outputs"]["res_1"])
                shutil.copyfile(src, run.artifacts / f"best_{record['meta_name']}_{src.name}")
    write_json(run.artifacts / "hpo_summary.json", summary)
    return Result(outputs=summary, metrics=summary)
