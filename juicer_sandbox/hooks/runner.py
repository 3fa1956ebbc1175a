"""Run one planned job: resolve its references, call the hook, publish, write the record.

The context record (``context.json``) is written last and atomically, so a job that fails
or is killed leaves no record, and Snakemake reruns it (it also removes the job's partial
artifacts). Records are the file-graph equivalent of the original's in-memory
``context_infos``.
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.paths import local_paths
from ..config.refs import HPO_PARAMS, ITER_GATE, get_dotted, set_dotted, split_key
from ..config.sandbox import load_yaml
from ..core.hooktable import HOOKS
from ..core.process_exit import exit_now
from ..core.records import output_files
from ..core.secrets import redact, resolve_secrets
from ..dj.media import all_media_keys, place_tree, work_roots
from ..errors import SandboxError
from ..io import abs_path, read_json, write_json
from .exports import iteration_path, publish  # noqa: F401 (iteration_path: part of the runner's API)
from .integrity import read_upstream

log = logging.getLogger("juicer_sandbox")


@dataclass
class Run:
    """What a hook implementation receives."""

    spec: dict  # the planned job (see Job.params)
    dj: dict | None
    extra: dict
    artifacts: Path  # the job's own output directory (created empty)
    scratch: Path  # kept across reruns of this job (e.g. training checkpoints)
    threads: int = 1
    seed: int = 42
    upstream: dict = field(default_factory=dict)  # job id -> context record
    stats_sources: dict = field(default_factory=dict)  # raw dataset (abs) -> copy with stats (see dj.stats_reuse)
    metrics: dict = field(default_factory=dict)  # components may add metrics here
    devices: list = field(default_factory=list)  # the GPUs the job holds (gpus.claim): its world size

    @property
    def job_id(self) -> str:
        return self.spec["job"]

    def component(self, factory: str):
        """(component, cfg) for extra_configs.type: cfg is extra_configs without `type`; a
        component that writes files gets export_path = artifacts/export (copied to the user's
        export_path afterwards, see publish)."""
        from ..components.registry import get_component

        comp = get_component(factory, self.extra.get("type"))
        cfg = {k: v for k, v in self.extra.items() if k != "type"}
        if "export_path" in (comp.schema.get("properties") or {}):
            cfg["export_path"] = str(self.artifacts / "export")
            Path(cfg["export_path"]).mkdir(parents=True, exist_ok=True)
        return comp, cfg

    def exports_of(self, cfg: dict) -> dict:
        return {"extra_configs.export_path": cfg["export_path"]} if "export_path" in cfg else {}


@dataclass
class Result:
    """What a hook returns: values for its named outputs, metrics, and exported artifacts."""

    outputs: Any  # a tuple gives several outputs; anything else is one
    metrics: dict = field(default_factory=dict)
    exports: dict = field(default_factory=dict)  # config key (e.g. 'dj_configs.export_path') -> artifact path
    hidden: dict = field(default_factory=dict)  # extra values other jobs may read (e.g. '__stats__')
    stats_sources: dict = field(default_factory=dict)


def lookup(upstream: dict, ref: dict) -> Any:
    if "gather" in ref:  # a glob reference: the output of every matching job, in plan order
        return [lookup(upstream, one) for one in ref["gather"]]
    record = upstream[ref["job"]]
    value = record["outputs"][ref["output"]]
    if ref["deeper"]:
        try:
            value = get_dotted(value, ref["deeper"])
        except (KeyError, TypeError) as exc:
            raise SandboxError(f"output {ref['output']} of job {ref['job']} has no part "
                               f"{'.'.join(ref['deeper'])} ({exc!r})") from None
    return copy.deepcopy(value)


def record_value(record: dict, key: str) -> Any:
    """A dotted key from a job record's metrics, else from its outputs."""
    for source in (record.get("metrics") or {}, record.get("outputs") or {}):
        try:
            return get_dotted(source, key)
        except (KeyError, TypeError):
            continue
    raise SandboxError(f"job {record['job']} has no metric or output {key!r} "
                       f"(metrics: {', '.join(record.get('metrics') or {}) or 'none'})")


def skip_reason(spec: dict, upstream: dict) -> str | None:
    """Why this job does not run: an iteration after the targets were met, or a skipped input."""
    gate = spec["refs"].get(ITER_GATE)
    if gate and not lookup(upstream, gate).get("continue", True):
        return "the iteration targets were met earlier"
    skipped = [jid for jid, rec in upstream.items() if rec.get("status") == "skipped"]
    return f"its input {skipped[0]} was skipped" if skipped else None


def _alias_map(upstream: dict) -> dict[str, str]:
    """User export path (absolute) -> artifact path, from the upstream records."""
    out = {}
    for record in upstream.values():
        out.update(record.get("aliases", {}))
    return out


def rewrite_paths(obj: Any, aliases: dict[str, str]) -> Any:
    """Replace strings naming a published user path by the artifact path it came from."""
    if not aliases:
        return obj
    if isinstance(obj, dict):
        return {k: rewrite_paths(v, aliases) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rewrite_paths(v, aliases) for v in obj]
    if isinstance(obj, str) and obj:
        a = abs_path(obj)
        for user, art in sorted(aliases.items(), key=lambda kv: -len(kv[0])):  # the innermost export first
            if a == user:
                return art
            if a.startswith(user.rstrip(os.sep) + os.sep):
                return os.path.join(art, os.path.relpath(a, user))
    return obj


def _load_config_value(value: Any, what: str) -> dict:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    if isinstance(value, str):
        data = load_yaml(value, what=what)
        if isinstance(data, dict):
            return data
    raise SandboxError(f"{what}: expected a mapping or a path to a YAML/JSON mapping, got {value!r}")


def resolve_configs(spec: dict, upstream: dict) -> tuple[dict | None, dict]:
    """Apply whole-config references, then key references, then `local` (local always wins)."""
    aliases = _alias_map(upstream)
    dj = copy.deepcopy(spec["dj_configs"])
    extra = copy.deepcopy(spec["extra_configs"]) or {}
    if spec.get("dj_from"):
        dj = _load_config_value(rewrite_paths(spec["dj_from"], aliases), "dj_configs")
    partial = []
    for key, ref in spec["refs"].items():
        if key in (HPO_PARAMS, ITER_GATE):
            continue
        root, rest = split_key(key)
        value = lookup(upstream, ref)
        if rest:
            partial.append((root, rest, value))
        elif root == "dj_configs":
            dj = _load_config_value(rewrite_paths(value, aliases), "dj_configs")
        else:
            extra = _load_config_value(rewrite_paths(value, aliases), "extra_configs")
    for key, value in list(spec["local"].items()):
        root, rest = split_key(key)
        partial.append((root, rest, copy.deepcopy(value)))
    for root, rest, value in partial:
        target = extra if root == "extra_configs" else dj
        if target is None:
            dj = target = {}
        try:
            set_dotted(target, rest, value)
        except (KeyError, IndexError, TypeError) as exc:
            raise SandboxError(f"cannot set {root}.{rest} ({exc!r})") from None
    params = spec.get("hpo_params") or (lookup(upstream, spec["refs"][HPO_PARAMS]) if HPO_PARAMS in spec["refs"]
                                        else None)
    if params:  # a sweep trial: its parameters win over everything written
        from ..hpo.apply import apply_params

        dj, extra = apply_params(params, dj, extra, spec["meta_name"])
    return rewrite_paths(dj, aliases), rewrite_paths(extra, aliases)


def normalise_outputs(value: Any, keys: list[str]) -> dict:
    """Map a hook's return value onto its output names (as the original's output recording)."""
    values = list(value) if isinstance(value, tuple) else [value]
    if len(values) != len(keys):
        raise SandboxError(f"hook returned {len(values)} value(s) but the job names {len(keys)} output(s)")
    out = {}
    for k, v in zip(keys, values):
        if isinstance(v, list) and len(v) == 1:
            v = v[0]  # as the original: a one-element list is recorded as the element
        out[k] = v
    return out


def _record(spec: dict, status: str, **fields) -> dict:
    base = {"job": spec["job"], "pipeline": spec["pipeline"], "meta_name": spec["meta_name"], "hook": spec["hook"],
            "stage": spec["stage"], "status": status, "output_keys": spec["output_keys"], "outputs": {},
            "metrics": {}, "published": {}, "aliases": {}}
    base.update(fields)
    return base


def check_family(spec: dict, extra: dict, devices: list[str] | None) -> None:
    """A job of a model family fails here, before any work, with one line naming what is missing
    (env, code, weights, GPU) and how to provide it (juicer_sandbox/families/checks.py)."""
    if not spec.get("family"):
        return
    from ..families import families
    from ..families.checks import require
    from ..gpus import node_devices

    require(families()[spec["family"]], extra.get("type"), extra, devices if devices else node_devices())


def run_job(spec: dict, upstream: dict, artifacts: Path, scratch: Path, work_dir: str, threads: int = 1,
            devices: list[str] | None = None) -> dict:
    start = time.time()
    hook = HOOKS[spec["hook"]]
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    reason = None if spec["hook"] == "IterGateHook" else skip_reason(spec, upstream)  # gates always decide
    if reason:
        log.info("skipped: %s", reason)
        return _record(spec, "skipped", reason=reason, artifacts=str(artifacts), wall_s=0.0)
    dj, extra = resolve_configs(spec, upstream)
    scratch.mkdir(parents=True, exist_ok=True)
    sources = {}
    for record in upstream.values():
        sources.update(record.get("stats_sources", {}))
    # secrets come from the environment only here, for the hook; files get the redacted configs
    run = Run(spec, resolve_secrets(dj, "dj_configs"), resolve_secrets(extra, "extra_configs"), artifacts, scratch,
              threads=threads, seed=spec.get("seed", 42), upstream=upstream, stats_sources=sources,
              devices=list(devices or []))
    module, func = hook.impl.split(":")
    fn = getattr(importlib.import_module(module), func)
    startup = process_age()  # interpreter start, imports, reading and resolving the job: before any real work
    log.info("started work %.2f s after the job's process started", startup)
    hook_start = time.time()
    result: Result = fn(run)
    # datasets it wrote name media inside the work dir relative to themselves: a moved work dir keeps them
    place_tree(artifacts, all_media_keys(dj), work_roots(work_dir))
    outputs = normalise_outputs(result.outputs, spec["output_keys"])
    outputs.update(result.hidden)
    outputs["__artifacts__"] = str(artifacts)
    warnings = result.metrics.setdefault("warnings", [])
    published, aliases = publish(spec, result.exports, work_dir, dj, extra, warnings)
    if not warnings:
        del result.metrics["warnings"]
    # the resolved configs are kept with the record: what exactly ran
    write_json(artifacts / "resolved_config.json", redact({"dj_configs": dj, "extra_configs": extra}))
    return _record(spec, "done", outputs=outputs, metrics=result.metrics, published=published, aliases=aliases,
                   artifacts=str(artifacts), stats_sources={**sources, **result.stats_sources},
                   wall_s=round(time.time() - start, 3),
                   timing={"startup_s": round(startup, 3), "hook_s": round(time.time() - hook_start, 3),
                           "imported_data_juicer": "data_juicer" in sys.modules})


def process_age() -> float:
    """Seconds since this process started (Linux: /proc; elsewhere since this module was imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time() - _IMPORTED_AT


_IMPORTED_AT = time.time()


def log_to_wandb(spec: dict, record: dict, resolved: dict) -> None:
    """An offline wandb run per job (per trial for a sweep's tell jobs): a side channel only.

    The metrics JSON in context.json stays the source of truth; without wandb installed this
    logs a note and returns. WANDB_MODE is respected (default offline: no login, no network).
    """
    try:
        import wandb
    except ImportError:
        log.info("wandb is not installed: metrics are only in context.json")
        return
    scalars = {}

    def flatten(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                flatten(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            scalars[prefix] = value

    flatten("", record.get("metrics") or {})
    run = wandb.init(project=spec["wandb"]["project"], group=spec["wandb"]["group"], name=spec["job"],
                     job_type=spec["hook"], dir=spec["work_dir"], config=resolved,
                     mode=os.environ.get("WANDB_MODE", "offline"), reinit="finish_previous")
    run.log(scalars)
    run.finish()


@contextlib.contextmanager
def _redirect_to(log_path: str):
    """Send this process's stdout/stderr (including Data-Juicer's loguru and C libraries) to the job log."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", encoding="utf-8") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield saved[1]  # the console's stderr, for progress lines (juicer_sandbox/progress.py)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_snakemake_job(smk) -> None:
    """Entry point of every scripts/<rule>.py: runs the planned job (params.spec) of that rule."""
    from ..envs import maybe_reexec

    if maybe_reexec(smk, "juicer_sandbox.hooks.runner:run_snakemake_job"):
        return  # ran in the rule family's venv (config envs.mode: venv)
    spec = local_paths(json.loads(smk.params.spec))
    hook_name = spec["hook"]
    assert HOOKS[hook_name].rule == smk.rule, (hook_name, smk.rule)
    context_path = Path(smk.output.context)
    work_dir = spec["work_dir"]
    scratch = Path(work_dir) / ".scratch" / spec["job"]
    failure = None
    from ..gpus import claim
    from ..progress import heartbeat, report_failure

    with _redirect_to(smk.log[0]) as console, heartbeat(smk.log[0], spec["job"], console):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr, force=True)
        log.info("job %s (%s)", spec["job"], hook_name)
        os.environ["JUICER_SANDBOX_JOB"] = spec["job"]  # labels progress bars (models/train.py)
        try:
            upstream = read_upstream(smk.input.get("upstream", []) if hasattr(smk.input, "get")
                                     else smk.input.upstream)
            if spec.get("family") and not skip_reason(spec, upstream):  # before claiming GPUs it may lack
                check_family(spec, resolve_configs(spec, upstream)[1], None)
            with claim(int(smk.resources.get("gpu", 0) or 0) if hasattr(smk.resources, "get") else 0) as held:
                record = run_job(spec, upstream, Path(smk.output.artifacts), scratch, work_dir, threads=smk.threads,
                                 devices=held)
            if spec.get("wandb") and record["status"] == "done":
                log_to_wandb(spec, record, read_json(Path(smk.output.artifacts) / "resolved_config.json"))
        except SandboxError as exc:  # the user's to fix: the message says what and where
            log.error("%s", exc)
            failure = str(exc)
        except Exception as exc:  # a bug: whole traceback in the log, its end and the log path on the console
            log.exception("job %s failed", spec["job"])
            report_failure(exc, spec["job"], smk.log[0], console)
            raise SystemExit(1) from None
    if failure is not None:
        print(f"juicer-sandbox: job {spec['job']} failed (log: {smk.log[0]}): {failure}", file=sys.stderr)
        raise SystemExit(1)
    record["output_files"] = output_files(record, smk.output.artifacts)  # what the record vouches for
    write_json(context_path, record)
    exit_now()  # the record is written: skip the interpreter's teardown (core/process_exit.py)
