"""Iterative loops (max_iter_num, iter_targets, iter_updater) as a file graph.

With ``max_iter_num`` > 1 (or targets), the plan holds every iteration's jobs as
``iter_N/<job>`` and, after each iteration, a gate job ``iter_N/gate`` that evaluates
``iter_targets`` on that iteration's records. Iteration N+1's jobs depend on the gate: if the
targets were met (``iter_targets_mode`` all/any), they finish at once with status
``skipped`` and no outputs, so the loop stops where the original would, while every
executed iteration's outputs stay as files. ``iter_updater`` becomes references from
iteration N+1's target job to iteration N's output. ``max_iter_num: 0`` ("until the targets
are met") needs a finite DAG: it is capped at ``iter_cap`` iterations (workflow config,
default 10). User export paths get an ``iter_N`` level, as in the original.
"""
from __future__ import annotations

from ..errors import ConfigError
from .jobs import internal_job
from .refs import ITER_GATE, parse_ref

_OPS = ("==", ">=", "<=", ">", "<")  # tried in this order, as the original


def parse_target(text: str, file: str, where: str) -> dict:
    for op in _OPS:
        if op in text:
            left, right = (t.strip() for t in text.split(op, 1))
            try:
                value = float(right)
            except ValueError:
                raise ConfigError(f"target {text!r}: {right!r} is not a number", file=file, key=where) from None
            parts = left.split(".")
            if len(parts) < 3:
                raise ConfigError(f"target {text!r}: the left side must be <pipeline>.<meta_name>.<key>",
                                  file=file, key=where)
            return {"pipeline": parts[0], "meta_name": parts[1], "key": ".".join(parts[2:]), "op": op, "value": value}
    raise ConfigError(f"target {text!r} has no comparison ({', '.join(_OPS)})", file=file, key=where)


def _find(template: dict, pipeline: str, meta: str, file: str, where: str) -> str:
    for job in template.values():
        if job.cfg.pipeline == pipeline and job.cfg.meta_name == meta:
            return job.id
    raise ConfigError(f"no job {pipeline}.{meta} in the sandbox", file=file, key=where)


def expand_iterations(plan, cap: int = 10) -> None:
    settings, file = plan.sandbox.settings, plan.sandbox.path
    n_iter = settings["max_iter_num"] or cap
    targets = [parse_target(t, file, f"iter_targets[{i}]") for i, t in enumerate(settings["iter_targets"])]
    if n_iter <= 1 and not targets and not settings["iter_updater"]:
        return
    if settings.get("hpo_config"):
        raise ConfigError("hpo_config and iterations (max_iter_num > 1) cannot be combined", file=file,
                          key="max_iter_num")
    template = dict(plan.jobs)
    for t in targets:
        t["job"] = _find(template, t["pipeline"], t["meta_name"], file, "iter_targets")
    updates = []
    for source, target in settings["iter_updater"].items():
        where = f"iter_updater.{source}"
        try:
            ref = parse_ref(source)
        except ValueError as exc:
            raise ConfigError(str(exc), file=file, key=where) from None
        parts = target.split(".")
        if len(parts) < 4 or parts[2] not in ("dj_configs", "extra_configs"):
            raise ConfigError(f"{target!r} must be <pipeline>.<meta_name>.<dj_configs|extra_configs>.<key>",
                              file=file, key=where)
        src = _find(template, ref.pipeline, ref.meta_name, file, where)
        if ref.output not in template[src].output_keys:
            raise ConfigError(f"job {src} has no output {ref.output!r}", file=file, key=where)
        updates.append({"source": src, "output": ref.output, "deeper": list(ref.deeper),
                        "target": _find(template, parts[0], parts[1], file, where), "key": ".".join(parts[2:])})

    jobs = {}
    any_job = next(iter(template.values()))
    for i in range(1, n_iter + 1):
        id_map = {jid: f"iter_{i}/{jid}" for jid in template}
        gate_prev = f"iter_{i - 1}/gate" if i > 1 else None
        for jid, job in template.items():
            clone = job.clone(id_map[jid], id_map)
            clone.export_subdir = f"iter_{i}"
            if gate_prev:
                clone.deps.append(gate_prev)
                clone.refs[ITER_GATE] = {"job": gate_prev, "output": "res_1", "deeper": []}
                for u in updates:
                    if u["target"] == jid:
                        prev = f"iter_{i - 1}/{u['source']}"
                        clone.refs[u["key"]] = {"job": prev, "output": u["output"], "deeper": u["deeper"]}
                        clone.deps.append(prev)
            jobs[clone.id] = clone
        gate_deps = sorted({id_map[t["job"]] for t in targets}) + ([gate_prev] if gate_prev else [])
        extra = {"iteration": i, "max_iter_num": n_iter, "mode": settings["iter_targets_mode"],
                 "targets": [{**t, "job": id_map[t["job"]]} for t in targets]}
        jobs[f"iter_{i}/gate"] = internal_job(f"iter_{i}/gate", "IterGateHook", extra, gate_deps, any_job,
                                              "iterations")
    plan.jobs = jobs
