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
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.mappings import deep_merge
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


# A config is small; a YAML alias bomb ("billion laughs") is tiny on disk but expands to more
# nodes than any config has, and hangs whatever walks it. Counted on the node graph before
# anything is built (aliases counted as often as they are used).
MAX_YAML_NODES = int(os.environ.get("JUICER_SANDBOX_MAX_YAML_NODES", 200_000))
MAX_COMBINATIONS = int(os.environ.get("JUICER_SANDBOX_MAX_COMBINATIONS", 20_000))


class _TooBig(Exception):
    pass


def _expanded_nodes(node, memo: dict, active: set) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _TooBig("an alias refers to itself (a recursive structure)")
    active.add(key)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_nodes(child, memo, active) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_nodes(k, memo, active) + _expanded_nodes(v, memo, active) for k, v in node.value)
    active.discard(key)
    if n > MAX_YAML_NODES:
        raise _TooBig(f"it expands to more than {MAX_YAML_NODES:,} values through aliases (&/*); "
                      f"a config this size is a mistake (raise JUICER_SANDBOX_MAX_YAML_NODES if it is not)")
    memo[key] = n
    return n


class _BoundedLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """yaml's SafeLoader (libyaml's when built, 5x faster to parse) that refuses documents whose
    alias expansion is unbounded."""

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _expanded_nodes(node, {}, set())
        return node


def load_yaml(path: str | os.PathLike, what: str = "config") -> Any:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} file not found", file=str(path))
    try:
        with open(p, "r", encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    except _TooBig as exc:
        raise ConfigError(f"refused: {exc}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("refused: nested too deeply", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None


WORKFLOW_DIR = Path(__file__).resolve().parents[2]  # where the Snakefile, config/ and data/ are


def resolve_path(value: str, base_dir: str | os.PathLike | None) -> str:
    """Resolve a relative path to an existing file: the current directory first (as the original
    did), then base_dir (the config file's directory), then the workflow's own directory (so the
    shipped configs also run with `snakemake --directory elsewhere`)."""
    if os.path.isabs(value) or os.path.exists(value):
        return value
    for root in (base_dir, WORKFLOW_DIR):
        if root is not None and os.path.exists(os.path.join(root, value)):
            return os.path.join(root, value)
    return value


def _load_job_entry(entry, sandbox_path: str) -> tuple[dict, str]:
    """A job entry is a job dict or a path to a YAML/JSON file holding one."""
    if not isinstance(entry, str):
        return entry, sandbox_path
    job_path = resolve_path(entry, os.path.dirname(sandbox_path))
    loaded = load_yaml(job_path, what="job config")
    if not isinstance(loaded, dict):
        raise ConfigError("a job file must hold one job mapping", file=job_path)
    validate(loaded, load_schema("sandbox.schema.yaml")["$defs"]["job"], file=job_path)
    return loaded, job_path


def _job_from_entry(entry: dict, pipeline: str, stage: str, order: int, where: str, file: str) -> JobConfig:
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


def _pipeline_jobs(name: str, body, where: str, path: str, matrix: dict) -> list[JobConfig]:
    if isinstance(body, str):
        body = {"include": body}
    if body and body.get("include"):  # a pipeline kept in its own file, shared by several sandboxes
        matrix = {**matrix, **(body.get("matrix") or {})}  # its own values win (e.g. a model size)
        pipeline_path = resolve_path(body["include"], os.path.dirname(path))
        body = load_yaml(pipeline_path, what="pipeline")
        root = load_schema("sandbox.schema.yaml")
        validate(body, {"$defs": root["$defs"], "$ref": "#/$defs/pipeline"}, file=pipeline_path)
        path, where = pipeline_path, ""
    matrix = {**matrix, "pipeline": [name]}  # {pipeline}: the name this pipeline runs under
    jobs: list[JobConfig] = []
    for stage in STAGES:
        for i, entry in enumerate((body or {}).get(stage) or []):
            key = f"{where}{stage}[{i}]"
            entry, file = _load_job_entry(entry, path)
            for label, expanded in expand_foreach(entry, matrix, file, key):
                jobs.append(_job_from_entry(expanded, name, stage, len(jobs), key + label, file))
    return jobs


_PLACEHOLDER = re.compile(r"\{(\w+(?:\.\w+)?)\}")


def _substitute(obj, values: dict):
    """Replace {name} in strings; a string that is exactly "{name}" becomes the value itself."""
    if isinstance(obj, dict):
        return {k: _substitute(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, values) for v in obj]
    if isinstance(obj, str):
        whole = _PLACEHOLDER.fullmatch(obj)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), obj)
    return obj


def _unresolved(obj, names) -> str | None:
    if isinstance(obj, dict):
        return next((u for v in obj.values() if (u := _unresolved(v, names))), None)
    if isinstance(obj, list):
        return next((u for v in obj if (u := _unresolved(v, names))), None)
    if isinstance(obj, str):
        return next((m.group(1) for m in _PLACEHOLDER.finditer(obj) if m.group(1) in names), None)
    return None


def expand_foreach(entry, matrix: dict, file: str, where: str):
    """Yield (label, job dict) for each combination of a job's `foreach` values (in order).

    A `matrix` name with a single value is a constant: `{name}` is replaced in every job.
    A name with several values must be listed in the job's `foreach`.
    """
    constants = {k: v[0] for k, v in matrix.items() if len(v) == 1}
    if not entry.get("foreach"):
        job = _substitute(entry, constants)
        left = _unresolved(job, matrix)
        if left:
            raise ConfigError(f"uses {{{left}}}, which has several values in `matrix`: add it to this job's foreach",
                              file=file, key=where)
        yield "", job
        return
    spec = entry["foreach"]
    if isinstance(spec, list):
        missing = [n for n in spec if n not in matrix]
        if missing:
            raise ConfigError(f"foreach names {', '.join(missing)} not defined in `matrix` "
                              f"(defined: {', '.join(matrix) or 'none'})", file=file, key=f"{where}.foreach")
        spec = {n: matrix[n] for n in spec}
    names = list(spec)
    for n in names:
        if not isinstance(spec[n], list) or not spec[n]:
            raise ConfigError(f"foreach {n!r} needs a non-empty list of values", file=file, key=f"{where}.foreach")
    combos = math.prod(len(spec[n]) for n in names)
    if combos > MAX_COMBINATIONS:  # refused before expanding, not after minutes of it
        raise ConfigError(f"foreach expands to {combos:,} jobs, over the limit of {MAX_COMBINATIONS:,} "
                          f"(raise it with the environment variable JUICER_SANDBOX_MAX_COMBINATIONS)",
                          file=file, key=f"{where}.foreach")
    body = {k: v for k, v in entry.items() if k != "foreach"}
    for combo in itertools.product(*(spec[n] for n in names)):
        values = {**constants, **dict(zip(names, combo))}
        for n, v in zip(names, combo):  # a mapping value: {name.key} for each of its keys
            if isinstance(v, dict):
                values.update({f"{n}.{k}": vv for k, vv in v.items()})
        job = _substitute(body, values)
        left = _unresolved(job, matrix)
        if left:
            raise ConfigError(f"uses {{{left}}}, which has several values in `matrix`: add it to foreach",
                              file=file, key=where)
        meta = body.get("meta_name") or body["hook"]
        if not any(f"{{{n}" in str(meta) for n in names):  # keep expanded jobs distinguishable
            job["meta_name"] = "_".join([str(meta)] + [str(v) for v in combo])
        yield "{" + ",".join(f"{n}={v}" for n, v in zip(names, combo)) + "}", job


def check_name(name: str, what: str, file: str, where: str) -> None:
    if "." in name or "/" in name or not name.strip():
        raise ConfigError(f"{what} {name!r} may not be empty or contain '.' or '/' (they separate reference parts)",
                          file=file, key=where)


def scalars_from_cli(obj):
    """Snakemake's --config turns nested values into strings ('3000'): read them as YAML scalars."""
    if isinstance(obj, dict):
        return {k: scalars_from_cli(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scalars_from_cli(v) for v in obj]
    if isinstance(obj, str):
        try:
            value = yaml.safe_load(obj)
        except yaml.YAMLError:
            return obj
        return value if value is None or isinstance(value, (bool, int, float)) else obj
    return obj


def load_sandbox(path: str | os.PathLike, overrides: dict | None = None) -> SandboxConfig:
    """Read, schema-validate (filling defaults) and normalise a sandbox config."""
    path = str(path)
    raw = load_yaml(path, what="sandbox config")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("a sandbox config must be a mapping of keys", file=path)
    deep_merge(raw, scalars_from_cli(copy.deepcopy(overrides or {})))
    validate(raw, load_schema("sandbox.schema.yaml"), file=path)

    # {work_dir} in a job config is the sandbox's work_dir (exports next to the run's other results)
    matrix = {"work_dir": [raw["work_dir"]], **(raw.get("matrix") or {})}
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
            pipelines.append((name, _pipeline_jobs(name, body, where, path, matrix)))
    else:
        pipelines.append((DEFAULT_PIPELINE, _pipeline_jobs(DEFAULT_PIPELINE, raw, "", path, matrix)))

    if not any(jobs for _, jobs in pipelines):
        raise ConfigError("the sandbox defines no jobs", file=path)
    if raw["max_iter_num"] == 0 and not raw["iter_targets"]:
        raise ConfigError("max_iter_num 0 means 'loop until iter_targets are met' but no iter_targets are set",
                          file=path, key="max_iter_num")
    settings = {k: v for k, v in raw.items() if k not in STAGES and k != "pipelines"}
    return SandboxConfig(path=path, settings=settings, pipelines=pipelines)
