"""Plan-wide checks and safeguards applied after the plan is compiled, before anything runs.

* bounds: the job count, ``work_dir`` and every export path (see bounds.py);
* jobs that must agree: a k-sigma refine and the probe whose stats it reads analyse the same
  dataset as the recipe it refines;
* secrets: literal keys leave the params (see core/secrets.py); ``on_bad_records`` from the
  sandbox reaches every Data-Juicer job;
* records that cannot be trusted: a ``context.json`` that does not parse is moved aside, so
  Snakemake sees it missing and reruns its job (and everything downstream).
"""
from __future__ import annotations

import json
import os
import sys

from ..core.records import broken_output
from ..core.secrets import stash_secrets
from ..errors import ConfigError
from ..io import abs_path
from . import bounds

PREFLIGHT_HOOKS = ("ProbeViaAnalyzerHook", "ProcessDataHook")


def check_plan(plan) -> None:
    settings, file = plan.sandbox.settings, plan.sandbox.path
    bounds.check_job_count(len(plan.jobs), settings, file)
    bounds.check_output_path(plan.work_dir, file, "work_dir", is_dir=True)
    checked = set()
    for job in plan.jobs.values():
        for key, path in job.exports.items():
            if path not in checked:
                checked.add(path)
                bounds.check_output_path(path, job.cfg.file, f"{job.cfg.where}.{key}")
        _check_ksigma_pair(plan, job)
        _check_model_shape(job)
        _check_validation_text(job)
        own = job.cfg.extra_configs if isinstance(job.cfg.extra_configs, dict) else {}
        if job.spec.name in PREFLIGHT_HOOKS and "on_bad_records" not in own:
            job.extra["on_bad_records"] = settings.get("on_bad_records", "fail")
        job.extra = stash_secrets(job.extra, f"{job.id}.extra_configs")
        if isinstance(job.dj, dict):
            job.dj = stash_secrets(job.dj, f"{job.id}.dj_configs")
    set_aside_corrupt_records(plan)


def _dataset(dj) -> str | None:
    path = (dj or {}).get("dataset_path") if isinstance(dj, dict) else None
    return abs_path(path) if isinstance(path, str) and path and os.path.exists(path) else path


def _check_ksigma_pair(plan, job) -> None:
    """A k-sigma refine's recipe must be about the dataset its paired probe analysed: thresholds
    learned on one corpus would otherwise filter another."""
    if job.spec.name != "RefineRecipeViaKSigmaHook" or not isinstance(job.dj, dict):
        return
    ref = job.refs.get("extra_configs.stats_path")
    probe = plan.jobs.get(ref["job"]) if ref and "job" in ref else None
    if probe is None or probe.spec.name != "ProbeViaAnalyzerHook" or not isinstance(probe.dj, dict):
        return
    mine, theirs = _dataset(job.dj), _dataset(probe.dj)
    if mine and theirs and mine != theirs:
        raise ConfigError(f"this k-sigma refine's recipe reads {job.dj.get('dataset_path')!r} but the probe whose "
                          f"statistics it uses ({probe.id}) analysed {probe.dj.get('dataset_path')!r}; thresholds "
                          f"learned on one dataset would filter the other: give both the same dataset_path",
                          file=job.cfg.file, key=f"{job.cfg.where}.dj_configs.dataset_path")


def _check_model_shape(job) -> None:
    """Caught now, not after a tokenizer has trained: heads that do not divide the width, and a
    token budget below one optimizer step (it would silently train one full step instead)."""
    extra = job.extra if isinstance(job.extra, dict) else {}
    d_model, n_head = extra.get("d_model"), extra.get("n_head")
    where = f"{job.cfg.where}.extra_configs"
    if isinstance(d_model, int) and isinstance(n_head, int) and n_head > 0 and d_model % n_head:
        raise ConfigError(f"d_model {d_model} is not divisible by n_head {n_head}", file=job.cfg.file,
                          key=f"{where}.n_head")
    budget, batch, context = extra.get("max_tokens"), extra.get("batch_size"), extra.get("context")
    if all(isinstance(v, int) for v in (budget, batch, context)) and budget < batch * context:
        raise ConfigError(f"max_tokens {budget} is less than one training step (batch_size {batch} x context "
                          f"{context} = {batch * context} tokens); raise max_tokens or lower batch_size/context",
                          file=job.cfg.file, key=f"{where}.max_tokens")


VALIDATION_KEYS = ("val_path", "valid_path", "validation_path")


def _check_validation_text(job) -> None:
    """A validation set without any text gives no loss per byte (and crashed the summary on every
    rerun): refused now. Reads only until the first non-empty text."""
    extra = job.extra if isinstance(job.extra, dict) else {}
    text_key = extra.get("text_key") or "text"
    for key in VALIDATION_KEYS:
        path = extra.get(key)
        if not isinstance(path, str) or not path.endswith((".jsonl", ".jsonl.gz")) or not os.path.isfile(path):
            continue
        from ..io import iter_jsonl

        if not any(isinstance(r, dict) and isinstance(r.get(text_key), str) and r[text_key].strip()
                   for r in iter_jsonl(path)):
            raise ConfigError(f"{path} has no non-empty text under {text_key!r} to validate on", file=job.cfg.file,
                              key=f"{job.cfg.where}.extra_configs.{key}")


def set_aside_corrupt_records(plan) -> None:
    """A record that does not parse, or whose output files were changed or removed since, is
    treated as absent: moved to context.json.corrupt, so its job (and what follows) reruns."""
    for job_id in plan.jobs:
        path = plan.context_path(job_id)
        why = "does not parse"
        try:
            with open(path, "rb") as fh:
                record = json.loads(fh.read())
            if isinstance(record, dict) and record.get("job") == job_id:
                why = broken_output(record, os.path.join(os.path.dirname(path), "artifacts"))
                if why is None:
                    continue
        except FileNotFoundError:
            continue
        except (ValueError, OSError):
            pass
        os.replace(path, path + ".corrupt")
        print(f"juicer-sandbox: warning: {path}: {why} (record kept as {path}.corrupt); its job reruns",
              file=sys.stderr)
