"""Compile a DJ-Sandbox config into a plan: one job per hook call, with its files and edges.

Each job becomes an instance of its hook's Snakemake rule (``rules/<stage>.smk``) writing
``{work_dir}/{job_id}/context.json`` (its named outputs and metrics) and
``{work_dir}/{job_id}/artifacts/`` (what it produced). Edges come from ``input`` references
and from paths: a job that reads a path another job exports depends on that job.
Everything that can be checked without running anything is checked here, so a bad config
fails before the first job starts, naming the file and key.
"""
from __future__ import annotations

import copy
import fnmatch
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..hooks.registry import HOOKS, HookSpec
from ..io import abs_path
from .refs import parse_ref, set_dotted, split_key
from .sandbox import STAGES, JobConfig, SandboxConfig, load_sandbox, load_yaml, resolve_path
from .schema import load_schema, validate

# Keys whose string values must name an existing file/dir (or one a job produces).
PATH_KEYS = {
    "dataset_path", "dataset_path_1", "dataset_path_2", "predicted_dataset_path", "ground_truth_dataset_path",
    "train_dataset", "eval_dataset", "valid_path", "val_path", "validation_path", "reference_path",
    "model_name_or_path", "tokenizer_path", "stopwords_dir", "flagged_words_dir", "target_like", "model_path",
    "before_path", "after_path", "negative_path",
}
STAGE_SHORT = {s: s.split("_")[0] for s in STAGES}
ARTIFACTS_OUTPUT = "__artifacts__"  # a hidden output of every job: its artifacts directory
PACKAGE_DIR = Path(__file__).resolve().parents[1]


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

    @property
    def rule(self) -> str:
        return self.spec.rule

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
        return new

    def params(self) -> dict:
        """Everything that defines what the job computes; Snakemake reruns the job when it changes."""
        return {
            "job": self.id, "hook": self.spec.name, "pipeline": self.cfg.pipeline, "meta_name": self.cfg.meta_name,
            "stage": self.cfg.stage, "dj_configs": self.dj, "dj_from": self.dj_from, "extra_configs": self.extra,
            "refs": self.refs, "local": self.cfg.local, "output_keys": self.output_keys, "exports": self.exports,
            "code": code_fingerprint(self.spec), "work_dir": self.work_dir, "seed": self.seed,
            "publish": self.publish, "export_subdir": self.export_subdir, "hpo_params": self.hpo_params,
            "wandb": self.wandb,
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


@functools.lru_cache(maxsize=None)
def code_fingerprint(spec: HookSpec) -> str:
    """Hash of the hook's module source, so editing a hook reruns its jobs."""
    module = spec.impl.split(":")[0]
    path = PACKAGE_DIR.parent / (module.replace(".", "/") + ".py")
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "missing"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "job"


def _load_side_config(value, job: JobConfig, key: str, what: str):
    """dj_configs/extra_configs given as a path are loaded; inline dicts are copied."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return copy.deepcopy(value)
    path = resolve_path(value, os.path.dirname(job.file))
    data = load_yaml(path, what=what) if path.endswith((".yaml", ".yml", ".json")) else None
    if data is None and not path.endswith((".yaml", ".yml", ".json")):
        raise ConfigError(f"{what} must be a mapping or a .yaml/.yml/.json path, got {value!r}", file=job.file,
                          key=f"{job.where}.{key}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file must hold a mapping", file=path)
    return data


def _walk_strings(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk_strings(v, f"{prefix}[{i}]")
    elif isinstance(obj, str):
        yield prefix, obj


def _leaf_key(where: str) -> str:
    return re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]


class _Compiler:
    def __init__(self, sandbox: SandboxConfig):
        self.sb = sandbox
        self.work_dir = os.path.normpath(sandbox.settings["work_dir"])
        self.jobs: dict[str, Job] = {}
        self.aliases: dict[str, str] = {}
        self.by_meta: dict[tuple[str, str], list[str]] = {}

    def err(self, job: JobConfig, key: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=job.file, key=f"{job.where}.{key}" if key else job.where)

    def compile(self) -> Plan:
        for pipeline, cfgs in self.sb.pipelines:
            for cfg in cfgs:
                self.add(cfg)
        return Plan(self.sb, self.work_dir, self.jobs, self.aliases)

    def add(self, cfg: JobConfig) -> None:
        if cfg.hook not in HOOKS or HOOKS[cfg.hook].internal:
            public = sorted(name for name, h in HOOKS.items() if not h.internal)
            raise self.err(cfg, "hook", f"unknown hook {cfg.hook!r}; valid hooks: {', '.join(public)}")
        spec = HOOKS[cfg.hook]
        job_id = f"{cfg.pipeline}/{cfg.order:02d}_{STAGE_SHORT[cfg.stage]}_{_slug(cfg.meta_name or spec.rule)}"
        job = Job(job_id, cfg, spec, None, None, {}, [], work_dir=self.work_dir, seed=self.sb.settings["seed"])
        if self.sb.settings.get("wandb"):
            job.wandb = {"project": self.sb.settings["project_name"], "group": self.sb.settings["experiment_name"]}
        job.extra = _load_side_config(cfg.extra_configs, cfg, "extra_configs", "extra_configs")
        self._load_dj(job)
        self._apply_local(job)
        self._resolve_refs(job)
        self._resolve_paths(job)
        self._check_component(job)
        self._output_keys(job)
        self._check_hook_specific(job)
        if job.dj is not None and spec.uses_dj:
            from ..dj.recipe import validate_recipe
            from ..dj.assets import check_assets

            file = cfg.file if not isinstance(cfg.dj_configs, str) else resolve_path(cfg.dj_configs,
                                                                                    os.path.dirname(cfg.file))
            prefix = f"{cfg.where}.dj_configs" if file == cfg.file else ""
            validate_recipe(job.dj, file=file, prefix=prefix)
            check_assets(job.dj, file=file, prefix=prefix)
        self._register_exports(job)
        self.jobs[job_id] = job
        if cfg.meta_name:
            self.by_meta.setdefault((cfg.pipeline, cfg.meta_name), []).append(job_id)

    # -- recipe -----------------------------------------------------------------------------
    def _load_dj(self, job: Job) -> None:
        value = job.cfg.dj_configs
        if isinstance(value, str):
            producer = self._producer_of(value)
            if producer:
                job.dj_from = abs_path(value)
                self._dep(job, producer)
                return
        if value is None and "dj_configs" in job.cfg.input:
            return  # the whole recipe comes from a reference
        if value is None:
            job.dj = None if not job.spec.uses_dj else {}
            return
        job.dj = _load_side_config(value, job.cfg, "dj_configs", "dj_configs")
        if isinstance(value, str):
            job.file_inputs.append(resolve_path(value, os.path.dirname(job.cfg.file)))

    def _apply_local(self, job: Job) -> None:
        for key, value in job.cfg.local.items():
            try:
                root, rest = split_key(key)
            except ValueError as exc:
                raise self.err(job.cfg, f"local.{key}", str(exc)) from None
            target = job.extra if root == "extra_configs" else job.dj
            if target is None:
                continue  # applied at run time, after the recipe arrives
            if not rest:
                raise self.err(job.cfg, f"local.{key}", "local cannot replace a whole config")
            try:
                set_dotted(target, rest, copy.deepcopy(value))
            except (KeyError, IndexError, TypeError) as exc:
                raise self.err(job.cfg, f"local.{key}", f"cannot set this key in {root} ({exc!r})") from None

    # -- references ---------------------------------------------------------------------------
    def _resolve_refs(self, job: Job) -> None:
        for key, text in job.cfg.input.items():
            where = f"input.{key}"
            try:
                split_key(key)
                ref = parse_ref(text)
            except ValueError as exc:
                raise self.err(job.cfg, where, str(exc)) from None
            if ref.is_last:
                if not self.jobs:
                    raise self.err(job.cfg, where, f"{text!r}: '-1' refers to the previous job but this is the first")
                target = list(self.jobs.values())[-1]
            elif any(c in ref.meta_name for c in "*?["):
                self._gather_ref(job, key, ref, where)
                continue
            else:
                ids = self.by_meta.get((ref.pipeline, ref.meta_name))
                if not ids:
                    known = sorted(f"{p}.{m}" for p, m in self.by_meta)
                    raise self.err(job.cfg, where, f"{text!r} names no earlier job (pipeline.meta_name); earlier "
                                                   f"jobs: {', '.join(known) or 'none'}")
                target = self.jobs[ids[0]]  # the original resolves duplicate names to the first job
            out = ref.output
            if out.startswith("__"):
                pass  # hidden outputs: every job's __artifacts__, a probe's __stats__ (checked at run time)
            elif out not in target.output_keys:
                if out.isdigit() and int(out) < len(target.output_keys):
                    out = target.output_keys[int(out)]  # the original's integer default keys
                else:
                    raise self.err(job.cfg, where, f"{text!r}: job {target.id} has no output {ref.output!r}; "
                                                   f"its outputs are {', '.join(target.output_keys)}")
            job.refs[key] = {"job": target.id, "output": out, "deeper": list(ref.deeper)}
            self._dep(job, target.id)

    def _gather_ref(self, job: Job, key: str, ref, where: str) -> None:
        """`pipeline.<glob>.output`: a list of that output from every earlier matching job, in plan order."""
        ids = [ids[0] for (p, m), ids in self.by_meta.items() if p == ref.pipeline and fnmatch.fnmatchcase(m, ref.meta_name)]
        ids.sort(key=list(self.jobs).index)
        if not ids:
            raise self.err(job.cfg, where, f"{ref.raw!r} matches no earlier job in pipeline {ref.pipeline!r}")
        outputs = []
        for target_id in ids:
            target = self.jobs[target_id]
            out = ref.output
            if out not in target.output_keys and out != ARTIFACTS_OUTPUT:
                raise self.err(job.cfg, where, f"{ref.raw!r}: job {target.id} has no output {out!r}")
            outputs.append({"job": target_id, "output": out, "deeper": list(ref.deeper)})
            self._dep(job, target_id)
        job.refs[key] = {"gather": outputs}

    # -- paths --------------------------------------------------------------------------------
    def _producer_of(self, path: str) -> str | None:
        a = abs_path(path)
        for exported, job_id in self.aliases.items():
            if a == exported or a.startswith(exported.rstrip(os.sep) + os.sep):
                return job_id
        return None

    def _resolve_paths(self, job: Job) -> None:
        for cfg in (job.extra, job.dj):
            _locate_inputs(cfg, os.path.dirname(job.cfg.file))
        configs = {"extra_configs": job.extra}
        if job.dj is not None:
            configs["dj_configs"] = job.dj
        exports = {k.split(".", 1)[1] for k in job.spec.produces}
        for root, cfg in configs.items():
            for where, value in _walk_strings(cfg):
                if where in exports or _leaf_key(where) in ("export_path", "work_dir"):
                    continue
                targeted = any(f"{root}.{where}".startswith(k) for k in job.cfg.input)
                if targeted:
                    continue  # replaced by a reference at run time
                candidates = [value] if _leaf_key(where) not in PATH_KEYS else _split_mixture(value)
                for cand in candidates:
                    producer = self._producer_of(cand)
                    if producer:
                        self._dep(job, producer)
                    elif os.path.exists(cand):
                        if os.path.isfile(cand) or _leaf_key(where) in PATH_KEYS:
                            job.file_inputs.append(os.path.normpath(cand))
                    elif _leaf_key(where) in PATH_KEYS and "<" not in cand:
                        raise self.err(job.cfg, f"{root}.{where}",
                                       f"path {cand!r} does not exist and no earlier job produces it")

    def _register_exports(self, job: Job) -> None:
        for key in job.spec.produces:
            value = export_target(job.spec.name, key, job.dj, job.extra)
            if value:
                a = abs_path(value)
                other = self.aliases.get(a)
                if other:
                    raise self.err(job.cfg, key, f"export path {value!r} is already written by job {other}; "
                                                 f"two jobs would overwrite each other's results")
                self.aliases[a] = job.id
                job.exports[key] = value

    # -- components and outputs -----------------------------------------------------------------
    def _check_component(self, job: Job) -> None:
        if not job.spec.factory:
            hook_schemas = load_schema("hooks.schema.yaml")["$defs"]
            if job.spec.name in hook_schemas:
                schema = dict(hook_schemas[job.spec.name])
                runtime_keys = {split_key(k)[1].split(".")[0] for k in job.cfg.input if k.startswith("extra_configs.")}
                schema["required"] = [k for k in schema.get("required", []) if k not in runtime_keys]
                validate(job.extra, schema, file=job.cfg.file, prefix=f"{job.cfg.where}.extra_configs")
            return
        from ..components.registry import get_component

        comp = get_component(job.spec.factory, job.extra.get("type"), file=job.cfg.file,
                             key=f"{job.cfg.where}.extra_configs.type")
        runtime_keys = {split_key(k)[1].split(".")[0] for k in job.cfg.input if k.startswith("extra_configs.")}
        checked = {k: v for k, v in job.extra.items() if k not in runtime_keys}
        schema = dict(comp.schema)
        # export_path is optional here: results always go to the job's artifacts, and are
        # copied to export_path only when one is given
        schema["required"] = [k for k in schema.get("required", []) if k not in runtime_keys and k != "export_path"]
        validate(checked, schema, file=job.cfg.file, prefix=f"{job.cfg.where}.extra_configs")
        job.extra.update({k: v for k, v in checked.items() if k not in job.extra})
        job.n_outputs = comp.n_outputs

    def _output_keys(self, job: Job) -> None:
        n = job.spec.n_outputs if job.spec.n_outputs is not None else job.n_outputs
        if job.cfg.output:
            if len(job.cfg.output) != n:
                raise self.err(job.cfg, "output", f"hook {job.spec.name} returns {n} value(s) but `output` names "
                                                  f"{len(job.cfg.output)}")
            job.output_keys = list(job.cfg.output)
        else:
            job.output_keys = [f"res_{i + 1}" for i in range(n)]  # the user guide's default names

    def _check_hook_specific(self, job: Job) -> None:
        if job.spec.name == "RefineRecipeViaKSigmaHook" and "extra_configs.stats_path" not in job.cfg.input:
            # As in the original, k-sigma reads the probe that has the same meta_name.
            probes = [j for j in self.jobs.values() if j.spec.name == "ProbeViaAnalyzerHook"
                      and j.cfg.meta_name == job.cfg.meta_name]
            if not probes:
                raise self.err(job.cfg, "meta_name", f"RefineRecipeViaKSigmaHook reads the statistics of the earlier "
                                                     f"ProbeViaAnalyzerHook with the same meta_name "
                                                     f"({job.cfg.meta_name!r}), and there is none")
            job.refs["extra_configs.stats_path"] = {"job": probes[-1].id, "output": "__stats__", "deeper": []}
            self._dep(job, probes[-1].id)

    def _dep(self, job: Job, dep: str) -> None:
        if dep not in job.deps:
            job.deps.append(dep)


def export_target(hook: str, key: str, dj: dict | None, extra: dict | None) -> str | None:
    """The user path a hook's export key publishes to, from the job's configs (None: not set)."""
    root, rest = key.split(".", 1)
    cfg = (extra if root == "extra_configs" else dj) or {}
    value = cfg.get(rest)
    if not isinstance(value, str) or not value:
        return None
    if hook == "ProbeViaAnalyzerHook" and not cfg.get("export_original_dataset"):
        return stats_export_path(value)  # like DJ's Analyzer: only the stats file is exported
    return value


def stats_export_path(export_path: str) -> str:
    """Where Data-Juicer's Analyzer writes the stats for an export path: <stem>_stats.jsonl."""
    root, ext = os.path.splitext(export_path)
    return f"{root}_stats.jsonl" if ext else os.path.join(export_path, "stats.jsonl")


def _locate_inputs(obj, base_dir: str) -> None:
    """Input paths (PATH_KEYS) missing from the current directory but found next to the config
    or in the workflow directory are replaced by that location (see sandbox.resolve_path)."""
    if isinstance(obj, list):
        for v in obj:
            _locate_inputs(v, base_dir)
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        if key in PATH_KEYS and isinstance(value, str) and value:
            obj[key] = resolve_path(value, base_dir)
        elif key in PATH_KEYS and isinstance(value, list):
            obj[key] = [resolve_path(v, base_dir) if isinstance(v, str) else v for v in value]
        else:
            _locate_inputs(value, base_dir)


def _split_mixture(value: str) -> list[str]:
    """DJ's dataset_path may be a mixture 'a.jsonl 0.5 b.jsonl'; return the path tokens."""
    if os.path.exists(value) or " " not in value.strip():
        return [value]
    return [t for t in value.split() if not re.fullmatch(r"[0-9.]+", t)]


def compile_plan(sandbox: SandboxConfig | str | os.PathLike, overrides: dict | None = None,
                 hpo_parallel: int = 2, iter_cap: int = 10) -> Plan:
    if not isinstance(sandbox, SandboxConfig):
        sandbox = load_sandbox(sandbox, overrides)
    plan = _Compiler(sandbox).compile()
    from .iterations import expand_iterations

    expand_iterations(plan, iter_cap)
    if sandbox.settings.get("hpo_config"):
        from .trials import expand_trials

        expand_trials(plan, hpo_parallel)
    return plan


def plan_summary(plan: Plan) -> list[dict]:
    return [{"job": j.id, "hook": j.spec.name, "deps": j.deps} for j in plan.jobs.values()]


def dumps_params(job: Job) -> str:
    return json.dumps(job.params(), sort_keys=True, default=str)
