"""Job directories left by jobs that are no longer in the plan (renamed or removed in the config).

A job's directory is ``<work_dir>/<job id>/`` holding ``context.json``; a directory with a
record whose id the current plan does not have is stale: the summary lists it (never as a
current result) and ``juicer-sandbox clean-stale SANDBOX`` removes it with its log, benchmark
and scratch space.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

_NOT_JOBS = {".snakemake", ".scratch", "logs", "benchmarks", "report", "exports"}


def stale_jobs(work_dir: str, job_ids) -> list[str]:
    """Ids (relative directories) of job records under work_dir that are not in job_ids, sorted."""
    root = Path(work_dir)
    if not root.is_dir():
        return []
    current = set(job_ids)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in _NOT_JOBS]
        if "artifacts" in dirnames:
            dirnames.remove("artifacts")  # a job's own outputs never hold records
        if "context.json" in filenames and rel != Path("."):
            job_id = rel.as_posix()
            if job_id not in current:
                found.append(job_id)
            dirnames[:] = []
    return sorted(found)


def clean_stale(work_dir: str, job_ids, dry_run: bool = False) -> list[str]:
    """Remove the stale jobs' directories, logs, benchmarks and scratch; returns their ids."""
    stale = stale_jobs(work_dir, job_ids)
    if dry_run:
        return stale
    root = Path(work_dir)
    for job_id in stale:
        shutil.rmtree(root / job_id, ignore_errors=True)
        shutil.rmtree(root / ".scratch" / job_id, ignore_errors=True)
        for extra in (root / "logs" / f"{job_id}.log", root / "benchmarks" / f"{job_id}.tsv"):
            extra.unlink(missing_ok=True)
        parent = (root / job_id).parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return stale
