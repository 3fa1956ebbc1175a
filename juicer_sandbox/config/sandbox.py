"""Load a DJ-Sandbox config file and normalise it into pipelines of jobs.

Accepts everything the DJ-Sandbox user guide documents:
* a single pipeline from the four top-level job lists (named ``anonymous``);
* ``pipelines`` as a mapping ``{name: {job lists}}`` (the guide's form) or as a list of
  one-key mappings (the form the original code accepts); both at once with top-level
  job lists is an error;
* job entries inline or as a path to a YAML/JSON file holding one job dict.
Relative paths resolve against the current directory first (as in the original) and then
against the sandbox file's directory.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .schema import load_schema, validate

STAGES = (
    "probe_job_configs",
    "refine_recipe_job_configs",
    "execution_job_configs",
    "evaluation_job_configs",
)
DEFAULT_PIPELINE = "anonymous"


@dataclass
class JobConfig:
    pipeline: str
    stage: str
    order: int  # position in the pipeline's flattened probe->refine->execution->evaluation order
    where: str  # key path in the sandbox file, for error messages
    file: str  # file the job dict came from
    hook: str
    meta_name: str | None
    dj_configs: Any = None
    extra_configs: Any = None
    input: dict = field(default_factory=dict)
    output: list | None = None
    local: dict = field(default_factory=dict)
    foreach: dict | None = None
    resources: dict = field(default_factory=dict)


@dataclass
class SandboxConfig:
    path: str
    settings: dict  # top-level keys with defaults filled in (no job lists)
    pipelines: list[tuple[str, list[JobConfig]]]


def load_yaml(path: str | os.PathLike, what: str = "config") -> Any:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} file not found", file=str(path))
    try:
        with open(p, "r", encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}", file=str(path)) from None


def resolve_path(value: str, base_dir: str | os.PathLike | None) -> str:
    """Resolve a relative path: the current directory first (as the original did), then base_dir."""
    if os.path.isabs(value) or os.path.exists(value) or base_dir is None:
        return value
    alt = os.path.join(base_dir, value)
    return alt if os.path.exists(alt) else value


def _job_from_entry(entry, pipeline: str, stage: str, order: int, where: str, sandbox_path: str) -> JobConfig:
    file = sandbox_path
    if isinstance(entry, str):
        job_path = resolve_path(entry, os.path.dirname(sandbox_path))
        entry = load_yaml(job_path, what="job config")
        file = job_path
        if not isinstance(entry, dict):
            raise ConfigError("a job file must hold one job mapping", file=file)
        validate(entry, load_schema("sandbox.schema.yaml")["$defs"]["job"], file=file)
    output = entry.get("output")
    if isinstance(output, str):
        output = [output]
    meta = entry.get("meta_name")
    return JobConfig(
        pipeline=pipeline,
        stage=stage,
        order=order,
        where=where,
        file=file,
        hook=entry["hook"],
        meta_name=None if meta is None or meta == "" else str(meta),
        dj_configs=copy.deepcopy(entry.get("dj_configs")),
        extra_configs=copy.deepcopy(entry.get("extra_configs")),
        input=dict(entry.get("input") or {}),
        output=list(output) if output else None,
        local=dict(entry.get("local") or {}),
        foreach=entry.get("foreach"),
        resources=dict(entry.get("resources") or {}),
    )


def _pipeline_jobs(name: str, body: dict | None, where: str, path: str) -> list[JobConfig]:
    jobs: list[JobConfig] = []
    for stage in STAGES:
        for i, entry in enumerate((body or {}).get(stage) or []):
            jobs.append(_job_from_entry(entry, name, stage, len(jobs), f"{where}{stage}[{i}]", path))
    return jobs


def check_name(name: str, what: str, file: str, where: str) -> None:
    if "." in name or "/" in name or not name.strip():
        raise ConfigError(f"{what} {name!r} may not be empty or contain '.' or '/' (they separate reference parts)",
                          file=file, key=where)


def load_sandbox(path: str | os.PathLike, overrides: dict | None = None) -> SandboxConfig:
    """Read, schema-validate (filling defaults) and normalise a sandbox config."""
    path = str(path)
    raw = load_yaml(path, what="sandbox config")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("a sandbox config must be a mapping of keys", file=path)
    raw.update(overrides or {})
    validate(raw, load_schema("sandbox.schema.yaml"), file=path)

    top_level = [s for s in STAGES if raw.get(s)]
    pipelines: list[tuple[str, list[JobConfig]]] = []
    if raw.get("pipelines"):
        if top_level:
            raise ConfigError(
                f"`pipelines` and top-level job lists ({', '.join(top_level)}) cannot be used together",
                file=path, key="pipelines")
        spec = raw["pipelines"]
        items = list(spec.items()) if isinstance(spec, dict) else [next(iter(d.items())) for d in spec]
        seen = set()
        for i, (name, body) in enumerate(items):
            where = f"pipelines.{name}." if isinstance(spec, dict) else f"pipelines[{i}].{name}."
            name = str(name)
            check_name(name, "pipeline name", path, where.rstrip("."))
            if name in seen:
                raise ConfigError(f"pipeline {name!r} is defined twice", file=path, key=where.rstrip("."))
            seen.add(name)
            pipelines.append((name, _pipeline_jobs(name, body, where, path)))
    else:
        pipelines.append((DEFAULT_PIPELINE, _pipeline_jobs(DEFAULT_PIPELINE, raw, "", path)))

    if not any(jobs for _, jobs in pipelines):
        raise ConfigError("the sandbox defines no jobs", file=path)
    if raw["max_iter_num"] == 0 and not raw["iter_targets"]:
        raise ConfigError("max_iter_num 0 means 'loop until iter_targets are met' but no iter_targets are set",
                          file=path, key="max_iter_num")
    settings = {k: v for k, v in raw.items() if k not in STAGES and k != "pipelines"}
    return SandboxConfig(path=path, settings=settings, pipelines=pipelines)
