"""`juicer-sandbox doctor cfg.yaml`: what every model-family job of a sandbox needs, before submitting.

For each job whose component belongs to a model family (``juicer_sandbox/families``) it lists the env
file, the third-party code checkout, the weights its config names, and its GPUs / wall time / memory
request, and prints one ``MISSING`` line per piece that is absent, with the command that provides it.
Planning needs no family runtime env, and neither does this. Values that arrive from an earlier job at
run time (``input:`` references) are listed as such and not checked. Exit code 1 when something is
missing.

The env check depends on where jobs will run (``--env-mode``): ``shared`` (the default workflow
setting: jobs run in this interpreter, so a module it lacks is missing), ``venv`` or ``conda`` (the env
is built from ``envs/<env>.yaml`` where the job runs: only the file must exist).
"""
from __future__ import annotations

import os
import sys

from .families import families, get_dotted
from .families.checks import Missing, code_problem, code_state, env_problems, weight_problems
from .gpus import node_devices

ENV_MODES = ("shared", "venv", "conda")


def _workflow_config(workflow_dir: str) -> dict:
    import yaml

    with open(os.path.join(workflow_dir, "config", "config.yaml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def job_report(job, config: dict, env_mode: str, workflow_dir: str) -> tuple[list[str], list[Missing]]:
    """(lines describing the job's needs, what is missing) for one job of a model family."""
    from .snakemake_glue import rule_resources

    fam = families()[job.family]
    runtime = frozenset(k.split(".")[1] for k in job.cfg.input if k.startswith("extra_configs."))
    res = rule_resources(config, job)
    missing: list[Missing] = []
    env_file = os.path.join(workflow_dir, "envs", f"{fam.env}.yaml")
    env_line = f"envs/{fam.env}.yaml"
    if not os.path.isfile(env_file):
        missing.append(Missing("env", f"env file {env_file} does not exist", "add it (pinned) to envs/"))
    elif env_mode == "shared":
        lacking = env_problems(fam)
        missing += lacking
        env_line += " (shared mode: jobs run in this interpreter" + ("; it lacks some)" if lacking else ": ok)")
    else:
        env_line += f" ({env_mode} mode: built from it where the job runs)"
    lines = [f"  env:     {env_line}"]
    if fam.code:
        problem = code_problem(fam, job.extra, runtime)
        missing += [problem] if problem else []
        lines.append(f"  code:    {code_state(fam, job.extra)}; pinned {fam.code.repo} @ {fam.code.commit}")
    for key in fam.weights:
        value, late = get_dotted(job.extra, key), key.split(".")[0] in runtime
        if value is not None or late:
            lines.append(f"  weights: extra_configs.{key} = {'from an earlier job at run time' if late else repr(value)}")
    missing += weight_problems(fam, job.extra, runtime)
    gpu = res.get("gpus", 0)
    lines.append(f"  gpu:     {gpu} ({fam.gpu}; launcher {fam.launcher or '-'}), runtime {res.get('runtime')} min, "
                 f"mem {res.get('mem_mb')} MB")
    return lines, missing


def doctor(sandbox: str, env_mode: str = "shared", workflow_dir: str | None = None, out=None) -> int:
    from .config.plan import compile_plan

    out = out or sys.stdout
    workflow_dir = workflow_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = _workflow_config(workflow_dir)
    plan = compile_plan(sandbox)
    jobs = [j for j in plan.jobs.values() if j.family]
    fixes: dict[tuple[str, str], list[str]] = {}  # (kind, how to provide it) -> jobs missing it
    for job in jobs:
        fam = families()[job.family]
        print(f"{job.id}: {job.extra.get('type')} ({fam.name} family)", file=out)
        lines, missing = job_report(job, config, env_mode, workflow_dir)
        for line in lines:
            print(line, file=out)
        for m in missing:
            print(f"  MISSING {m.line()}", file=out)
            fixes.setdefault((m.kind, m.fix), []).append(job.id)
    devices = node_devices()
    used = sorted({j.family for j in jobs})
    n_missing = sum(len(v) for v in fixes.values())
    if fixes:
        print("to provide what is missing:", file=out)
        for (kind, fix), job_ids in fixes.items():
            print(f"  {kind} ({len(job_ids)} job(s)): {fix}", file=out)
    print(f"{len(jobs)} of {len(plan.jobs)} job(s) use a model family ({', '.join(used) or 'none'}); "
          f"{n_missing} missing piece(s); this machine shows {len(devices)} GPU(s)", file=out)
    return 1 if n_missing else 0
