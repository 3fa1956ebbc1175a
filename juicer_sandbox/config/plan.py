"""Compile a DJ-Sandbox config into a plan: one job per hook call, with its files and edges.

The types are in :mod:`.jobs`, path handling in :mod:`.paths`. Edges come from ``input``
references and from paths: a job that reads a path another job exports depends on that job.
Everything that can be checked without running anything is checked here, so a bad config
fails before the first job starts, naming the file and key.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import os
import re

from ..core.hooktable import HOOKS
from ..errors import ConfigError
from ..io import abs_path
from .iterations import expand_iterations
from .jobs import Job, Plan
from .paths import PATH_KEYS, export_target, leaf_key, locate_inputs, portable_paths, split_mixture, walk_strings
from .refs import parse_ref, set_dotted, split_key
from .sandbox import STAGES, JobConfig, SandboxConfig, load_sandbox, load_yaml, resolve_path
from .schema import load_schema, validate
from .trials import expand_trials

STAGE_SHORT = {s: s.split("_")[0] for s in STAGES}
ARTIFACTS_OUTPUT = "__artifacts__"  # a hidden output of every job: its artifacts directory


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


class _Compiler:
    def __init__(self, sandbox: SandboxConfig):
        self.sb = sandbox
        self.work_dir = os.path.normpath(sandbox.settings["work_dir"])
        self.jobs: dict[str, Job] = {}
        self.aliases: dict[str, str] = {}
        self.by_meta: dict[tuple[str, str], list[str]] = {}
        self.model_checks: list[tuple[dict, str, str]] = []  # hub models: checked after every job (assets.py)

    def err(self, job: JobConfig, key: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=job.file, key=f"{job.where}.{key}" if key else job.where)

    def _job_id(self, cfg: JobConfig, spec) -> str:
        """`<pipeline>/<stage>_<meta_name or rule>`: named, not numbered, so inserting, removing or
        reordering other jobs renames nothing. A name already taken in the same pipeline and stage
        gets `__2`, `__3`, ... in config order (the first keeps the plain name)."""
        base = f"{cfg.pipeline}/{STAGE_SHORT[cfg.stage]}_{_slug(cfg.meta_name or spec.rule)}"
        job_id, n = base, 1
        while job_id in self.jobs:
            n += 1
            job_id = f"{base}__{n}"
        return job_id

    def compile(self) -> Plan:
        for pipeline, cfgs in self.sb.pipelines:
            for cfg in cfgs:
                self.add(cfg)
        from ..dj.assets import check_models

        for recipe, file, prefix in self.model_checks:
            check_models(recipe, file=file, prefix=prefix)
        return Plan(self.sb, self.work_dir, self.jobs, self.aliases)

    def add(self, cfg: JobConfig) -> None:
        if cfg.hook not in HOOKS or HOOKS[cfg.hook].internal:
            public = sorted(name for name, h in HOOKS.items() if not h.internal)
            raise self.err(cfg, "hook", f"unknown hook {cfg.hook!r}; valid hooks: {', '.join(public)}")
        spec = HOOKS[cfg.hook]
        job_id = self._job_id(cfg, spec)
        job = Job(job_id, cfg, spec, None, None, {}, [], work_dir=self.work_dir, seed=self.sb.settings["seed"])
        if self.sb.settings.get("wandb"):
            job.wandb = {"project": self.sb.settings["project_name"], "group": self.sb.settings["experiment_name"]}
        # a whole-config reference replaces what is written (the original's placeholder strings)
        whole_extra = "extra_configs" in cfg.input
        job.extra = {} if whole_extra else _load_side_config(cfg.extra_configs, cfg, "extra_configs", "extra_configs")
        from .compat import apply_substitutes, plan_checks, take_env_keys

        job.env_request = take_env_keys(job.extra, spec, cfg)
        apply_substitutes(job, self.sb.settings.get("substitutes"))
        self._load_dj(job)
        self._apply_local(job)
        self._resolve_refs(job)
        self._component_paths(job)
        self._resolve_paths(job)
        self._check_component(job)
        plan_checks(job)
        self._output_keys(job)
        self._pair(job)
        if job.dj is not None and spec.uses_dj:
            from ..dj.recipe import validate_recipe
            from ..dj.assets import check_assets

            file = cfg.file if not isinstance(cfg.dj_configs, str) else resolve_path(cfg.dj_configs,
                                                                                    os.path.dirname(cfg.file))
            prefix = f"{cfg.where}.dj_configs" if file == cfg.file else ""
            validate_recipe(job.dj, file=file, prefix=prefix)
            check_assets(job.dj, file=file, prefix=prefix)
            self.model_checks.append((job.dj, file, prefix))
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
                job.np_hint = (self.jobs[producer].dj or {}).get("np")  # a refined recipe keeps its np
                self._dep(job, producer)
                return
        if "dj_configs" in job.cfg.input:
            return  # the whole recipe comes from a reference: whatever is written here is a placeholder
        if value is None:
            job.dj = None if not job.spec.uses_dj else {}
            return
        # The recipe's content is in the job's params (a probe's only in part: see Job.params), so the
        # recipe file is not an input: touching it, or editing what the job ignores, reruns nothing.
        job.dj = _load_side_config(value, job.cfg, "dj_configs", "dj_configs")

    def _apply_local(self, job: Job) -> None:
        for key, value in job.cfg.local.items():
            try:
                root, rest = split_key(key)
            except ValueError as exc:
                raise self.err(job.cfg, f"local.{key}", str(exc)) from None
            if leaf_key(rest) in PATH_KEYS and isinstance(value, str):  # located now, also for the run-time reapply
                job.cfg.local[key] = value = resolve_path(value, os.path.dirname(job.cfg.file))
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
        """The job exporting `path` or a directory holding it (the innermost one: a job that exports into
        another job's export directory is that path's producer)."""
        a = abs_path(path)
        for exported, job_id in sorted(self.aliases.items(), key=lambda kv: -len(kv[0])):
            if a == exported or a.startswith(exported.rstrip(os.sep) + os.sep):
                return job_id
        return None

    def _component_paths(self, job: Job) -> None:
        """Components whose config paths are relative to another directory than the cwd (the original's
        EasyAnimate home) make them absolute before the paths are checked and linked."""
        if job.spec.factory and "extra_configs" not in job.cfg.input and isinstance(job.extra, dict):
            from ..components.registry import plan_paths

            fix = plan_paths(job.spec.factory, job.extra.get("type"))
            if fix:
                fix(job.extra)

    def _resolve_paths(self, job: Job) -> None:
        for cfg in (job.extra, job.dj):
            locate_inputs(cfg, os.path.dirname(job.cfg.file))
        configs = {"extra_configs": job.extra}
        if job.dj is not None:
            configs["dj_configs"] = job.dj
        exports = {k.split(".", 1)[1] for k in job.spec.produces}
        for root, cfg in configs.items():
            for where, value in walk_strings(cfg):
                if where in exports or leaf_key(where) in ("export_path", "work_dir"):
                    continue
                targeted = any(f"{root}.{where}".startswith(k) for k in job.cfg.input)
                if targeted:
                    continue  # replaced by a reference at run time
                candidates = [value] if leaf_key(where) not in PATH_KEYS else split_mixture(value)
                for cand in candidates:
                    producer = self._producer_of(cand)
                    if producer:
                        self._dep(job, producer)
                    elif os.path.exists(cand):
                        if os.path.isfile(cand) or leaf_key(where) in PATH_KEYS:
                            job.file_inputs.append(os.path.normpath(cand))
                    elif leaf_key(where) in PATH_KEYS and "<" not in cand:
                        raise self.err(job.cfg, f"{root}.{where}",
                                       f"path {cand!r} does not exist and no earlier job produces it")

    def _register_exports(self, job: Job) -> None:
        for key in job.spec.produces:
            value = export_target(job.spec.name, key, job.dj, job.extra)
            if value:
                a = abs_path(value)
                other = self.aliases.get(a)
                if other:
                    from .compat import share_export

                    share_export(self, job, self.jobs[other], value)
                self.aliases[a] = job.id
                job.exports[key] = value

    # -- components and outputs -----------------------------------------------------------------
    def _check_component(self, job: Job) -> None:
        if "extra_configs" in job.cfg.input:
            return  # the whole extra_configs arrives at run time; its component is checked then
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
        job.component_module = comp.module
        from ..families import family_of

        fam = family_of(job.spec.factory, job.extra.get("type"))
        job.family = fam.name if fam else None

    def _output_keys(self, job: Job) -> None:
        n = job.spec.n_outputs if job.spec.n_outputs is not None else job.n_outputs
        if job.cfg.output:
            if len(job.cfg.output) != n:
                raise self.err(job.cfg, "output", f"hook {job.spec.name} returns {n} value(s) but `output` names "
                                                  f"{len(job.cfg.output)}")
            job.output_keys = list(job.cfg.output)
        else:
            job.output_keys = [f"res_{i + 1}" for i in range(n)]  # the user guide's default names

    def _pair(self, job: Job) -> None:
        """A hook that reads an earlier hook's output by default (HookSpec.pairs_with): as in the
        original, k-sigma reads the probe that has the same meta_name."""
        pairing = job.spec.pairs_with
        if pairing is None or pairing.key in job.cfg.input:
            return
        partners = [j for j in self.jobs.values() if j.spec.name == pairing.hook and j.cfg.meta_name == job.cfg.meta_name]
        if not partners:
            raise self.err(job.cfg, "meta_name", f"{job.spec.name} reads {pairing.key} from the earlier {pairing.hook} "
                                                 f"with the same meta_name ({job.cfg.meta_name!r}), and there is none")
        job.refs[pairing.key] = {"job": partners[-1].id, "output": pairing.output, "deeper": []}
        self._dep(job, partners[-1].id)

    def _dep(self, job: Job, dep: str) -> None:
        if dep not in job.deps:
            job.deps.append(dep)


def compile_plan(sandbox: SandboxConfig | str | os.PathLike, overrides: dict | None = None,
                 hpo_parallel: int = 2, iter_cap: int = 10) -> Plan:
    if not isinstance(sandbox, SandboxConfig):
        sandbox = load_sandbox(sandbox, overrides)
    plan = _Compiler(sandbox).compile()
    expand_iterations(plan, iter_cap)
    if sandbox.settings.get("hpo_config"):
        expand_trials(plan, hpo_parallel)
    from .guard import check_plan

    check_plan(plan)  # bounds, agreeing jobs, secrets out of the params, corrupt records aside
    return plan


def compile_workflow_plan(config: dict) -> Plan:
    """The job plan of Snakemake's workflow config (rules/plan.smk; the no-op check of `juicer-sandbox run`)."""
    return compile_plan(config["sandbox"], config.get("sandbox_overrides"), config.get("hpo_parallel", 2),
                        config.get("iter_cap", 10))


def plan_summary(plan: Plan) -> list[dict]:
    return [{"job": j.id, "hook": j.spec.name, "deps": j.deps} for j in plan.jobs.values()]


def dumps_params(job: Job) -> str:
    """The job's params as Snakemake sees them: relocatable (see paths.portable_paths)."""
    return json.dumps(portable_paths(job.params()), sort_keys=True, default=str)
