"""A no-op rerun without starting Snakemake: `juicer-sandbox run` proves from a stamp that nothing changed.

Starting Snakemake (imports, plugins, DAG) costs about 2 s even when there is nothing to do. After
a run that `juicer-sandbox run` started and Snakemake finished with exit 0, a stamp records:

* ``sources``: size, mtime, ctime and inode of every file of the workflow (Snakefile, rules/,
  scripts/, the package, config/, envs/, report/, profiles/), taken by the wrapper before
  Snakemake started (an edit during the run invalidates the stamp);
* ``config``, ``digest``: Snakemake's workflow config and a hash of everything the rules build from
  the compiled plan (every job's id, rule, params with their code and data fingerprints, inputs;
  the summary's job list and stale directories; the report's files; env lock inputs), written by
  the Snakefile from the plan it ran (rules/plan.smk);
* ``inputs``: the same file state of every data file and env lock the jobs read, taken when the
  plan was compiled; ``outputs``: the state of every output (records, artifact directories, summary,
  report, the export ledger and each exported path), taken after Snakemake ended.

The stamp is written only when every job's record is at least as new as what it reads (what
Snakemake's mtime check would demand), so it holds a state Snakemake itself would call done.
The next `juicer-sandbox run` with the same command line, directory and environment stats those
files, compiles the plan again and compares the digest; only when everything is equal (and no
Snakemake run holds this directory or left incomplete outputs) does it skip Snakemake. Any
difference (an edited config, recipe, dataset or module; a deleted output or export; a stale
directory) runs Snakemake, which decides what to rerun. A run started by plain `snakemake`
deletes the stamps (onstart), and so does any failed run.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

STAMP_ENV = "JUICER_SANDBOX_NOOP_STAMP"
VERSION = 1
SOURCES = ("Snakefile", "rules", "scripts", "juicer_sandbox", "config", "envs", "report", "profiles")
_ENV_PREFIXES = ("SNAKEMAKE", "JUICER_SANDBOX", "DATA_JUICER", "PYTHON", "XDG_CACHE_HOME", "HF_")
STAMP_DIR = os.path.join(".snakemake", "juicer-sandbox")


def file_state(path: str) -> list | None:
    """What changes when a file is written, replaced (even by `cp -p`) or touched; None if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode]


def source_state(workflow_dir: str) -> dict:
    out = {}
    for top in SOURCES:
        root = os.path.join(workflow_dir, top)
        if os.path.isfile(root):
            out[top] = file_state(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                out[os.path.relpath(path, workflow_dir)] = file_state(path)
    return out


def stamp_path(cmd: list[str], cwd: str) -> str:
    """The stamp of one command line run in one directory with one environment."""
    env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) and k != STAMP_ENV}
    key = json.dumps({"cmd": cmd, "cwd": os.path.abspath(cwd), "python": sys.executable, "env": env}, sort_keys=True)
    return os.path.join(cwd, STAMP_DIR, f"noop-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json")


# -- what the plan makes of the rules (the Snakefile and the wrapper compute the same) ------------------------
def plan_digest(plan, config: dict) -> str:
    from .config.paths import work_relative
    from .config.plan import dumps_params
    from .envs import rule_helpers
    from .report import report_items
    from .stale import stale_jobs

    env_lock = rule_helpers(config)[0]
    wiring = {
        "config": config, "work_dir": plan.work_dir, "sandbox": plan.sandbox.path,
        "jobs": [[job.id, job.rule, dumps_params(job), job.deps, [work_relative(p) for p in job.file_inputs]]
                 for job in plan.jobs.values()],
        "summary_jobs": plan.summary_jobs(), "stale": stale_jobs(plan.work_dir, plan.jobs),
        "report": report_items(plan), "env_locks": {job.id: env_lock(_env(job)) for job in plan.jobs.values()},
    }
    return hashlib.sha256(json.dumps(wiring, sort_keys=True, default=str).encode()).hexdigest()


def input_states(plan, config: dict) -> dict:
    """The state of every data file and env lock the jobs read (taken when the plan is compiled)."""
    from .envs import rule_helpers

    env_lock = rule_helpers(config)[0]
    paths = {p for job in plan.jobs.values() for p in job.file_inputs}
    paths.update(p for job in plan.jobs.values() for p in env_lock(_env(job)))
    return {p: file_state(p) for p in sorted(paths)}


def _env(job) -> str:
    """The env family a job runs in (its model family's, else its hook's): its lock is an input."""
    return getattr(job, "env", None) or job.spec.env


def plan_outputs(plan) -> list[str]:
    from .report import report_items

    wd = plan.work_dir
    paths = [f"{wd}/summary.json", f"{wd}/summary.md", f"{wd}/.published"]
    for job_id in plan.jobs:
        paths += [plan.context_path(job_id), f"{wd}/{job_id}/artifacts", f"{wd}/{job_id}/artifacts/.snakemake_timestamp"]
    return paths + [f"{wd}/report/{item['path']}" for item in report_items(plan)]


def ledger_paths(work_dir: str) -> list[str]:
    """The export ledger's entries and the paths they publish (a deleted export is restored by the
    next Snakemake run, so the stamp watches it)."""
    paths = []
    ledger = Path(work_dir) / ".published"
    for entry in sorted(ledger.glob("*.json")) if ledger.is_dir() else []:
        paths.append(str(entry))
        try:
            target = json.loads(entry.read_text(encoding="utf-8")).get("path")
        except (OSError, ValueError, AttributeError):
            target = None
        paths += [os.path.join(work_dir, target)] if isinstance(target, str) else []  # relative: to the work dir
    return paths


def record_checks(plan) -> list:
    """[record, [what it reads]] per job, and per output of the summary and report job (rules/report.smk):
    Snakemake reruns a job whose inputs are newer."""
    from .report import report_items

    checks = [[plan.context_path(job.id), [plan.context_path(d) for d in job.deps] + list(job.file_inputs)]
              for job in plan.jobs.values()]
    contexts = [plan.context_path(j) for j in plan.summary_jobs()]
    outputs = [f"{plan.work_dir}/summary.json", f"{plan.work_dir}/summary.md"] + \
        [f"{plan.work_dir}/report/{item['path']}" for item in report_items(plan)]
    return checks + [[out, contexts] for out in outputs]


def records_current(checks: list) -> bool:
    def mtime(path):
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    for own, reads in checks:
        t_own = mtime(own)
        if t_own is None or any(t is None or t > t_own for t in map(mtime, reads)):
            return False
    return True


# -- the three steps -----------------------------------------------------------------------------------------
def nothing_to_do(stamp: str, workflow_dir: str) -> bool:
    """True only when the stamp proves that Snakemake would find nothing to do."""
    try:
        data = json.loads(Path(stamp).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("version") != VERSION or "outputs" not in data:
        return False
    if _busy(str(Path(stamp).parents[2])):
        return False
    for section in ("inputs", "outputs"):
        if any(file_state(p) != s for p, s in data[section].items()):
            return False
    if source_state(workflow_dir) != data["sources"]:
        return False
    try:
        from .config.plan import compile_workflow_plan

        plan = compile_workflow_plan(data["config"])
        if plan_digest(plan, data["config"]) != data["digest"]:
            return False
    except (Exception, SystemExit):  # noqa: BLE001 (any doubt: let Snakemake decide, and report the error)
        return False
    return True


def begin(stamp: str, workflow_dir: str) -> None:
    """Before Snakemake starts: drop the old stamp, note the workflow's sources for the new one."""
    os.makedirs(os.path.dirname(stamp), exist_ok=True)
    _remove(stamp)
    _write(stamp + ".pending", {"version": VERSION, "sources": source_state(workflow_dir)})


def record_plan(plan, config: dict, inputs: dict) -> None:
    """In the Snakefile (main process of a real run), when the DAG is built: the plan it runs."""
    pending = os.environ.get(STAMP_ENV, "") + ".pending"
    try:
        data = json.loads(Path(pending).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data.update(config=config, digest=plan_digest(plan, config), inputs=inputs, work_dir=plan.work_dir,
                planned_outputs=plan_outputs(plan), checks=record_checks(plan))
    _write(pending, data)


def finish(stamp: str, returncode: int) -> None:
    """After Snakemake: with exit 0, a plan recorded and every record current, the stamp is written."""
    pending = stamp + ".pending"
    try:
        data = json.loads(Path(pending).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    _remove(pending)
    if returncode != 0 or "digest" not in data or not records_current(data["checks"]):
        return  # no stamp: the next call runs Snakemake
    paths = data.pop("planned_outputs") + ledger_paths(data["work_dir"])
    data["outputs"] = {p: file_state(p) for p in paths}
    data["written"] = time.strftime("%Y-%m-%d %H:%M:%S")
    _write(stamp, data)


def forget_all(cwd: str = ".") -> None:
    """A run not started by the wrapper (Snakefile onstart): no stamp of this directory stays."""
    root = os.path.join(cwd, STAMP_DIR)
    for name in os.listdir(root) if os.path.isdir(root) else []:
        if name.startswith("noop-") and name.endswith(".json"):
            _remove(os.path.join(root, name))


def _busy(cwd: str) -> bool:
    """A Snakemake run holds this directory, or one left outputs marked incomplete."""
    for sub in ("locks", "incomplete"):
        d = os.path.join(cwd, ".snakemake", sub)
        if os.path.isdir(d) and any(os.scandir(d)):
            return True
    return False


def _write(path: str, data: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=str)
    os.replace(tmp, path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
