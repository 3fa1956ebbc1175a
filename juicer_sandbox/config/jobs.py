"""The plan's types: a Job per hook call and the Plan holding them (no compiling here).

Each job becomes an instance of its hook's Snakemake rule (``rules/hooks.smk``) writing
``{work_dir}/{job_id}/context.json`` (its named outputs and metrics) and
``{work_dir}/{job_id}/artifacts/`` (what it produced).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from ..core.content_hash import fingerprints
from ..core.hooktable import HOOKS, HookSpec
from . import fingerprint
from .sandbox import JobConfig, SandboxConfig


@dataclass
class Job:
    id: str
    cfg: JobConfig
    spec: HookSpec
    dj: dict | None  # the recipe when known before running (inline or an existing file)
    dj_from: str | None  # ref/path the recipe comes from when another job produces it
    extra: dict
    output_keys: list[str]
    deps: list[str] = field(default_factory=list)
    refs: dict[str, dict] = field(default_factory=dict)  # key_to_update -> {job, output, deeper}
    file_inputs: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # config key -> user export path
    work_dir: str = ""
    seed: int = 42
    publish: bool = True  # copy exports to the user's paths (trial copies of an HPO sweep do not)
    export_subdir: str | None = None  # iterations publish to <dir>/iter_N/<name>, as the original did
    hpo_params: dict | None = None  # a grid trial's parameters (known when planning)
    wandb: dict | None = None  # {project, group} when the sandbox asks for wandb logging
    n_outputs: int = 1  # values the hook returns (its component decides for EvaluateDataHook)
    component_module: str | None = None  # the module implementing extra_configs.type (components.registry)
    shared_exports: list[str] = field(default_factory=list)  # other jobs exporting to one of this job's paths
    env_request: dict | None = None  # the original's env_name/env_manager, mapped onto an env family
    np_hint: int | None = None  # `np` of the recipe another job produces for this one (dj_from)
    family: str | None = None  # the model family of extra_configs.type (juicer_sandbox/families), if any

    @property
    def rule(self) -> str:
        return self.spec.rule

    @property
    def env(self) -> str:
        """The env family the job runs in: its component's family's env, else its hook's."""
        if self.family:
            from ..families import families

            return families()[self.family].env
        return self.spec.env

    def clone(self, new_id: str, id_map: dict[str, str]) -> "Job":
        """A copy under another id whose deps and references point into `id_map` (trials, iterations)."""
        refs = {}
        for key, ref in self.refs.items():
            if "gather" in ref:
                refs[key] = {"gather": [{**g, "job": id_map[g["job"]]} for g in ref["gather"]]}
            else:
                refs[key] = {**ref, "job": id_map[ref["job"]]}
        new = copy.copy(self)
        new.id, new.dj, new.extra = new_id, copy.deepcopy(self.dj), copy.deepcopy(self.extra)
        new.deps, new.refs = [id_map[d] for d in self.deps], refs
        new.file_inputs, new.exports, new.output_keys = list(self.file_inputs), dict(self.exports), list(self.output_keys)
        new.shared_exports = [id_map.get(j, j) for j in self.shared_exports]
        return new

    def recipe_np(self) -> int | None:
        """The recipe's `np` (Data-Juicer worker processes), when the hook takes threads."""
        if not self.spec.threads or not self.spec.uses_dj:
            return None
        value = (self.dj or {}).get("np", self.np_hint)
        try:
            return max(1, int(value)) if value is not None else None
        except (TypeError, ValueError):
            return None

    def code(self) -> str:
        """Fingerprint of the modules the job runs: its hook's and its component's, with their imports."""
        modules = tuple(m for m in (self.spec.impl_module, self.component_module) if m)
        return fingerprint.code_fingerprint(modules, fingerprint.PACKAGE_DIR)

    def params(self) -> dict:
        """Everything that defines what the job computes; Snakemake reruns the job when it changes.

        A hook whose result ignores part of its config gets a view without it (HookSpec.params_view):
        a probe's recipe without thresholds, so a threshold edit does not rerun the probe. `local`
        is already applied to a recipe known when planning, so it is left out with it.
        """
        dj, local = self.dj, self.cfg.local
        if self.spec.params_view == "stats" and dj is not None:
            from ..dj.stats_reuse import stats_view

            dj, local = stats_view(dj), {k: v for k, v in local.items() if not k.startswith("dj_configs")}
        return {
            "job": self.id, "hook": self.spec.name, "pipeline": self.cfg.pipeline, "meta_name": self.cfg.meta_name,
            "stage": self.cfg.stage, "dj_configs": dj, "dj_from": self.dj_from, "extra_configs": self.extra,
            "refs": self.refs, "local": local, "output_keys": self.output_keys, "exports": self.exports,
            "code": self.code(), "work_dir": self.work_dir, "seed": self.seed,
            "publish": self.publish, "export_subdir": self.export_subdir, "hpo_params": self.hpo_params,
            "wandb": self.wandb,
            # only when set, so that sandboxes without them keep their params (and are not rerun)
            **({"shared_exports": self.shared_exports} if self.shared_exports else {}),
            **({"env_request": self.env_request} if self.env_request else {}),
            **({"family": self.family} if self.family else {}),
            # content, not mtime: a dataset replaced with an older mtime (cp -p) still reruns the job
            "input_fingerprints": sorted(str(h) for h in fingerprints(self.file_inputs).values()),
        }


@dataclass
class Plan:
    sandbox: SandboxConfig
    work_dir: str
    jobs: dict[str, Job]  # in execution order
    aliases: dict[str, str]  # user export path (abs) -> producing job id
    sweep: object = None  # the HPO sweep, when the sandbox has hpo_config (see config/trials.py)

    def summary_jobs(self) -> list[str]:
        """Jobs the summary and report read: all of them, except the per-trial copies of a sweep
        (those are summarised by trials.csv of hpo/export, which depends on every trial)."""
        return [jid for jid in self.jobs if not jid.startswith("hpo/trial_")]

    def by_rule(self, rule: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.rule == rule]

    def job_regex(self, rule: str) -> str:
        ids = [re.escape(j.id) for j in self.by_rule(rule)]
        return "|".join(ids) if ids else "(?!)"

    def context_path(self, job_id: str) -> str:
        return f"{self.work_dir}/{job_id}/context.json"


def internal_job(job_id: str, hook: str, extra: dict, deps: list[str], like: Job, pipeline: str) -> Job:
    """A job the compiler adds (HPO ask/tell/export, iteration gates); `like` lends its settings."""
    cfg = copy.copy(like.cfg)
    cfg.pipeline, cfg.meta_name, cfg.local, cfg.input = pipeline, job_id.rsplit("/", 1)[-1], {}, {}
    job = Job(job_id, cfg, HOOKS[hook], None, None, extra, ["res_1"], deps, {}, [], {}, like.work_dir, like.seed)
    job.wandb = like.wandb
    return job
