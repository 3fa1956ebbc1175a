"""Small helpers the rule files call: user-error reporting and per-job resources."""
from __future__ import annotations

import os
import sys

from .errors import SandboxError


def fail_on_user_error(fn, *args, **kwargs):
    """Run fn; a SandboxError ends Snakemake with the message only (no traceback), exit code 1.
    Anything else is a bug: one line on the console, the traceback in .juicer-sandbox-error.log."""
    try:
        return fn(*args, **kwargs)
    except SandboxError as exc:
        print(f"juicer-sandbox: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:  # noqa: BLE001
        import traceback

        log = os.path.abspath(".juicer-sandbox-error.log")
        with open(log, "w", encoding="utf-8") as fh:
            traceback.print_exc(file=fh)
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"juicer-sandbox: internal error: {type(exc).__name__}: {first} (traceback: {log})", file=sys.stderr)
        raise SystemExit(1) from None


def start_run(work_dir: str) -> None:
    """Snakefile onstart (a real run with jobs to run, main process): lock the work dir against a
    second run; this directory's no-op stamps (noop.py) no longer hold."""
    from .core.workdir_lock import acquire
    from .noop import forget_all

    acquire(work_dir)
    forget_all()


def end_run() -> None:
    """Snakefile onsuccess/onerror (main process, the scheduler done): cancel Snakemake's pending
    re-evaluation timer. After each job selection its scheduler arms a 1 s ``threading.Timer``
    (``--max-jobs-per-timespan``, default 100/1s) that nothing needs once the run is over, but the
    interpreter waits for it at exit: up to a second added to every run."""
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and \
                getattr(thread.function, "__module__", "").startswith("snakemake.scheduling"):
            thread.cancel()


def restore_deleted_exports(work_dir: str) -> None:
    """When the DAG of a real run is built (not for -n): exports deleted since they were
    published come back from their artifacts (even when no job has to run)."""
    from .hooks.exports import restore_exports

    for path in restore_exports(work_dir):
        print(f"juicer-sandbox: restored the deleted export {path} from its artifact", file=sys.stderr)


def check_config_keys(config: dict, schema_path: str) -> None:
    """Unknown top-level workflow-config keys (e.g. ``--config sanbox=x.yaml``) are a user error
    naming the valid keys (the schema's ``properties``; it also says ``additionalProperties: false``)."""
    import yaml

    with open(schema_path, encoding="utf-8") as fh:
        valid = sorted((yaml.safe_load(fh) or {}).get("properties") or {})
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise SandboxError(f"unknown workflow-config key(s) {', '.join(map(repr, unknown))} (from config/config.yaml "
                           f"or --config); valid keys: {', '.join(valid)} (see config/README.md)")


def rule_resources(config: dict, job) -> dict:
    """threads/mem_mb/gpus/runtime for a job: job `resources:` > config.resources[rule] > its model
    family's needs (GPUs from its config, e.g. `num_gpus`; runtime, memory) > the recipe's `np`
    (Data-Juicer workers; Snakemake caps threads at --cores) > config defaults."""
    res = {"threads": config.get("threads", 1), "mem_mb": config.get("mem_mb", 4000), "gpus": 0,
           "runtime": RULE_RUNTIME_MIN.get(job.rule, 60)}
    np_ = job.recipe_np()
    if np_:
        res["threads"] = np_
    if getattr(job, "family", None):
        from .families import families, resources_for

        res.update(resources_for(families()[job.family], job.extra))
    res.update((config.get("resources") or {}).get(job.rule, {}))
    res.update(job.cfg.resources or {})
    return res


# SLURM wall time (minutes) of a job without a family: training runs longer than the data jobs
RULE_RUNTIME_MIN = {"train_model": 240}
