"""The original DJ-Sandbox's keys that this project maps onto its own mechanisms.

* ``env_name`` / ``env_manager`` / ``env_params`` in ``extra_configs``: the original creates
  (conda/mamba/venv/virtualenv/uv) an environment of that name and runs the component in it.
  Here every hook rule runs in its rule family's pinned env (``envs/<family>.yaml``); the keys
  are taken out of the component config, checked, and recorded as a mapping onto that family.
* two jobs exporting to one path: the original simply let the later job overwrite the earlier
  one's file. Here the later job (in plan order) depends on the earlier one, so it is also the
  one that writes last, and the plan says so in one warning line.
"""
from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

from ..errors import ConfigError

ENV_KEYS = ("env_name", "env_manager", "env_params")
# env_manager -> how this project gets the same kind of isolation
ENV_MANAGERS = {
    "conda": "snakemake --sdm conda (conda env built from envs/<family>.yaml)",
    "mamba": "snakemake --sdm conda --conda-frontend mamba",
    "venv": "--config 'envs={mode: venv}' (.venvs/<family>, built from envs/<family>.yaml)",
    "virtualenv": "--config 'envs={mode: venv}'",
    "uv": "--config 'envs={mode: venv}' (built with uv)",
}
ENVS_DIR = Path(__file__).resolve().parents[2] / "envs"


def env_families() -> list[str]:
    return sorted(p.stem for p in ENVS_DIR.glob("*.yaml"))


def take_env_keys(extra: dict, spec, cfg) -> dict | None:
    """Remove env_name/env_manager/env_params from a job's extra_configs; return their mapping.

    An env_name that names another rule family than the hook's is an error (the job would
    not run where the user expects); any other name maps onto the hook's family.
    """
    if not isinstance(extra, dict) or not any(k in extra for k in ENV_KEYS):
        return None
    where = f"{cfg.where}.extra_configs"
    name, manager = extra.pop("env_name", None), extra.pop("env_manager", None)
    params = extra.pop("env_params", None)
    if manager is not None and manager not in ENV_MANAGERS:
        raise ConfigError(f"env_manager {manager!r} is not one the original supports "
                          f"({', '.join(ENV_MANAGERS)})", file=cfg.file, key=f"{where}.env_manager")
    if params is not None and not isinstance(params, dict):
        raise ConfigError("env_params must be a mapping", file=cfg.file, key=f"{where}.env_params")
    families = env_families()
    from ..components.not_yet import not_yet_available
    from ..families import family_of

    later = spec.factory and not_yet_available(spec.factory, extra.get("type"))  # its own error follows
    fam = family_of(spec.factory, extra.get("type"))
    env = fam.env if fam else spec.env
    if name is not None and str(name) in families and str(name) != env and not later:
        raise ConfigError(
            f"env_name {name!r} names the {name!r} env family, but this job ({spec.name}, type "
            f"{extra.get('type')!r}) runs in the {env!r} family (envs/{env}.yaml); every job runs in its "
            f"component's env family here: remove env_name", file=cfg.file, key=f"{where}.env_name")
    return {"env_name": name, "env_manager": manager, "env_params": params, "family": env,
            "how": ENV_MANAGERS.get(manager or "", "the shared environment (default)")}


def share_export(compiler, job, earlier, value: str) -> None:
    """`job` exports to the same path as `earlier` (and maybe others): order them, and warn."""
    group = {earlier.id, job.id, *earlier.shared_exports}
    compiler._dep(job, earlier.id)
    for jid in group:
        member = job if jid == job.id else compiler.jobs[jid]
        member.shared_exports = sorted(group - {jid})
    print(f"juicer-sandbox: warning: jobs {earlier.id} and {job.id} both export to {value}; {job.id} runs after "
          f"{earlier.id} and its copy is the one left there (each job keeps its own copy in its artifacts)",
          file=sys.stderr)


QUALITY_TYPES = ("dj_text_quality_classifier", "text_quality_classifier")


def unprefixed_metric(name: str, template: dict) -> tuple[str, str] | None:
    """An HPO metric written without `<meta_name>.` (the original's `quality_score`): the one job
    that has an output of that name; for `quality_score`, the one quality-classifier job; else the
    one evaluation job. None when no single job fits (the caller's error lists the jobs)."""
    if "." in name:
        return None
    jobs = list(template.values())
    named = [j for j in jobs if name in j.output_keys]
    if len(named) == 1:
        return named[0].id, name
    if name == "quality_score":
        quality = [j for j in jobs if (j.extra or {}).get("type") in QUALITY_TYPES]
        if len(quality) == 1:
            return quality[0].id, quality[0].output_keys[0]
    evals = [j for j in jobs if j.cfg.stage == "evaluation_job_configs"]
    if not named and len(evals) == 1:
        return evals[0].id, name
    return None


# -- substitutes: a run-time choice (never written in the user's config) ---------------------------
def _modelscope_to_causal_lm(extra: dict) -> tuple[dict, dict]:
    """ModelScope training of a hub model -> this project's tiny causal LM on the same data.
    Returns the new keys and the renames of old keys (for the job's input/local references)."""
    remap = extra.get("key_remapping") or {}
    return ({"dataset_path": extra.get("train_dataset"), "text_key": next(iter(remap), "text")},
            {"train_dataset": "dataset_path"})


def _rename_refs(mapping: dict, renames: dict) -> dict:
    out = {}
    for key, value in mapping.items():
        root, _, rest = key.partition(".")
        head, dot, tail = rest.partition(".")
        if root == "extra_configs" and head in renames:
            key = f"extra_configs.{renames[head]}{dot}{tail}"
        out[key] = value
    return out


ADAPTERS = {("modelscope", "causal_lm"): _modelscope_to_causal_lm}


def apply_substitutes(job, substitutes: dict | None) -> None:
    """`substitutes: {<type>: <type> | {type: <type>, ...keys} | {...keys}}` (a top-level key, given
    on the command line): stand-ins where a component would download a hub model. A new type needs
    an adapter from the old keys; a mapping without `type` only adds keys (e.g. reference_path)."""
    old = (job.extra or {}).get("type")
    if not substitutes or old not in substitutes:
        return
    sub = substitutes[old]
    sub = {"type": sub} if isinstance(sub, str) else dict(sub or {})
    new = sub.pop("type", old)
    if new != old:
        adapter = ADAPTERS.get((old, new))
        if adapter is None:
            raise ConfigError(f"substitutes: no substitute {new!r} for component type {old!r} "
                              f"(known: {', '.join(f'{a} -> {b}' for a, b in ADAPTERS)})", key=f"substitutes.{old}")
        keys, renames = adapter(job.extra)
        job.extra = {"type": new, **{k: v for k, v in keys.items() if v is not None}}
        job.cfg = copy.copy(job.cfg)
        job.cfg.input, job.cfg.local = _rename_refs(job.cfg.input, renames), _rename_refs(job.cfg.local, renames)
    job.extra.update(sub)
    print(f"juicer-sandbox: warning: job {job.id}: component {old!r} runs as {new!r} with {sub or 'no extra keys'} "
          f"(substitutes)", file=sys.stderr)


def plan_checks(job) -> None:
    """Checks of the original's components that need no runtime environment."""
    extra = job.extra or {}
    runtime = {k.split(".")[1] for k in job.cfg.input if k.startswith("extra_configs.")}
    if extra.get("type") == "huggingface" and "model" not in runtime and not os.path.isdir(str(extra.get("model"))):
        raise ConfigError(f"huggingface model {extra.get('model')!r} is not a local directory; model hubs are not "
                          f"contacted here: download it once and give its path", file=job.cfg.file,
                          key=f"{job.cfg.where}.extra_configs.model")
    if extra.get("type") == "dj_text_quality_classifier" and "extra_configs" not in job.cfg.input:
        from ..components.original_models import missing_quality_model

        problem = missing_quality_model(extra)
        if problem:
            raise ConfigError(problem, file=job.cfg.file, key=f"{job.cfg.where}.extra_configs.type")
