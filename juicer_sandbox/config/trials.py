"""HPO as a file graph: every trial of a sweep is a copy of the pipeline's jobs.

For a sandbox with ``hpo_config`` (W&B sweep format, run offline by Optuna), the plan is

* ``baseline/...``: the jobs as written, once (what the sweep is compared against);
* for each trial t: ``hpo/trial_NNNN/ask`` (the trial's parameters, from the Optuna study
  in ``{work_dir}/hpo/study``), the pipeline's jobs as ``hpo/trial_NNNN/<job>`` with those
  parameters applied, and ``hpo/trial_NNNN/tell`` (the objective back to the study);
* ``hpo/export``: trials.csv, best.json, plots and the best recipe, compared with the baseline.

Trial t's ask waits for the tell of trial t-P (P = ``hpo_parallel``), and tells are chained,
so every tell of a trial <= t-P is in: at most P trials run at once and the sampler sees the
same history whatever the timing (the same config gives the same trials). Completed trials
are files, so a rerun never repeats one; a killed trial reruns with the same parameters.
"""
from __future__ import annotations

import copy
import os

from ..errors import ConfigError
from .bounds import check_trial_count
from .jobs import Job, internal_job
from .refs import HPO_PARAMS

BASELINE = "baseline"


def _load_hpo_config(value, sandbox_file: str) -> tuple[dict, str]:
    from .sandbox import load_yaml, resolve_path

    if isinstance(value, dict):
        return copy.deepcopy(value), sandbox_file
    path = resolve_path(value, os.path.dirname(sandbox_file))
    raw = load_yaml(path, what="hpo_config")
    if not isinstance(raw, dict):
        raise ConfigError("hpo_config must hold a mapping (W&B sweep format)", file=path)
    return raw, path


def _metric_job(metric_name: str, template: dict, file: str) -> tuple[str, str]:
    """'<pipeline>.<meta>.<key...>' or '<meta>.<key...>' -> (template job id, metric key path)."""
    parts = metric_name.split(".")
    by_meta = {}
    for job in template.values():
        by_meta.setdefault((job.cfg.pipeline, job.cfg.meta_name), job.id)
        by_meta.setdefault((None, job.cfg.meta_name), job.id)
    if len(parts) >= 3 and (parts[0], parts[1]) in by_meta:
        return by_meta[(parts[0], parts[1])], ".".join(parts[2:])
    if len(parts) >= 2 and (None, parts[0]) in by_meta:
        return by_meta[(None, parts[0])], ".".join(parts[1:])
    from .compat import unprefixed_metric

    found = unprefixed_metric(metric_name, template)  # the original's bare names, e.g. quality_score
    if found:
        return found
    metas = sorted({m for (p, m) in by_meta if p is None and m})
    raise ConfigError(f"metric {metric_name!r} must be '<meta_name>.<metric>' of a job of the sandbox "
                      f"(jobs: {', '.join(metas)})", file=file, key="metric.name")


def expand_trials(plan, parallel: int) -> None:
    """Replace the plan's jobs by baseline + per-trial copies + ask/tell/export jobs (in place)."""
    from ..hpo.apply import validate_param_names
    from ..hpo.sweep import load_sweep

    raw, file = _load_hpo_config(plan.sandbox.settings["hpo_config"], plan.sandbox.path)
    sweep = load_sweep(raw, file=file)
    template = dict(plan.jobs)
    validate_param_names(sweep, {j.cfg.meta_name: j.dj for j in template.values() if j.cfg.meta_name},
                         metas=[j.cfg.meta_name for j in template.values() if j.cfg.meta_name])
    if not sweep.metric_name:
        raise ConfigError("the sweep needs metric.name: the metric of a job that trials are compared on",
                          file=file, key="metric")
    metric_job, metric_key = _metric_job(sweep.metric_name, template, file)
    affected = _affected(template, sweep)
    check_trial_count(sweep.max_trials, len(affected) + 2, plan.sandbox.settings, file)  # before expanding
    parallel = max(1, int(parallel))
    study_dir = f"{plan.work_dir}/hpo/study"
    jobs: dict[str, Job] = {}
    base_map = {jid: f"{BASELINE}/{jid}" for jid in template}
    for jid, job in template.items():
        jobs[base_map[jid]] = job.clone(base_map[jid], base_map)

    any_job = next(iter(template.values()))
    # A trial's jobs must not change when the budget grows (raising run_cap adds trials and
    # reruns nothing): they get the sweep without its caps; see hooks/hpo.py.
    uncapped = {k: v for k, v in raw.items() if k not in ("run_cap", "sweep_max_count")}
    hpo_common = {"sweep": uncapped, "sweep_file": file, "study_dir": study_dir, "parallel": parallel}

    def internal(job_id, hook, extra, deps):
        return internal_job(job_id, hook, extra, deps, any_job, "hpo")

    # A grid's trial parameters are known now: no ask/tell jobs, every trial can start at once,
    # and the export records them in the study. Random and Bayesian trials ask the study.
    static = sweep.method == "grid"
    tells, recipe_jobs, metric_jobs = [], [], []
    for t in range(sweep.max_trials):
        prefix = f"hpo/trial_{t:04d}"
        ask_id, tell_id = f"{prefix}/ask", f"{prefix}/tell"
        if not static:
            ask_deps = [tells[t - parallel]] if t >= parallel else []
            jobs[ask_id] = internal(ask_id, "HpoAskHook", {**hpo_common, "trial": t}, ask_deps)
        # jobs no parameter can change are shared with the baseline instead of rerun per trial
        id_map = {jid: f"{prefix}/{jid}" if jid in affected else base_map[jid] for jid in template}
        for jid, job in template.items():
            if jid not in affected:
                continue
            clone = job.clone(id_map[jid], id_map)
            if static:
                clone.hpo_params = sweep.grid_point(t)
            else:
                clone.deps.append(ask_id)
                clone.refs[HPO_PARAMS] = {"job": ask_id, "output": "res_1", "deeper": []}
            clone.exports, clone.publish = {}, False  # trials keep their results in work_dir
            jobs[clone.id] = clone
            if job.spec.name.startswith("RefineRecipeVia"):
                recipe_jobs.append(clone.id)  # the export copies the best trial's recipes
        metric_jobs.append(id_map[metric_job])
        if not static:
            tell_deps = [id_map[metric_job]] + ([tells[-1]] if tells else [])
            jobs[tell_id] = internal(tell_id, "HpoTellHook", {**hpo_common, "trial": t,
                                                              "metric_job": id_map[metric_job],
                                                              "metric_key": metric_key}, tell_deps)
            tells.append(tell_id)
    jobs["hpo/export"] = internal("hpo/export", "HpoExportHook", {
        **hpo_common, "sweep": raw, "baseline_job": base_map[metric_job], "metric_key": metric_key,
        "trial_prefix": "hpo/trial_", "templates": {j.cfg.meta_name: j.dj for j in template.values()
                                                    if j.dj and j.cfg.meta_name},
        "untold": metric_jobs if static else []},
        (metric_jobs if static else tells) + [base_map[metric_job]] + recipe_jobs)
    plan.jobs = jobs
    plan.sweep = sweep


def _same_stats(job, dj) -> bool:
    """A probe computes stats only: a new threshold does not change what it produces."""
    if job.spec.name != "ProbeViaAnalyzerHook":
        return False
    from ..dj.stats_reuse import recipe_signatures

    strip = ("process",)
    same_rest = {k: v for k, v in dj.items() if k not in strip} == {k: v for k, v in job.dj.items() if k not in strip}
    return same_rest and recipe_signatures(dj) == recipe_signatures(job.dj)


def _affected(template: dict, sweep) -> set[str]:
    """Template jobs a trial's parameters can change, directly or through their inputs."""
    from ..hpo.apply import apply_params

    probe = {}
    for name, spec in sweep.parameters.items():  # any value will do: we only ask what changes
        probe[name] = ("__probe__", spec.get("distribution"))
    affected: set[str] = set()
    for jid, job in template.items():
        dynamic = job.dj_from is not None or any(k.split(".")[0] == "dj_configs" and "." not in k
                                                 for k in job.refs)
        dj, extra = apply_params(probe, job.dj, job.extra, job.cfg.meta_name)
        touched = extra != job.extra or (dj != job.dj and not _same_stats(job, dj))
        if touched or (dynamic and job.spec.uses_dj) or any(d in affected for d in job.deps):
            affected.add(jid)
    return affected
