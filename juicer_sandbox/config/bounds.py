"""Limits checked when the plan is compiled, before anything runs.

* the plan's job count and an HPO sweep's trial count (a typo such as ``run_cap: 1000000``
  would otherwise spend minutes planning, then days running);
* ``work_dir`` and every export path: not a system directory, no dangling symlink on the way,
  and writable, so a run does not spend its compute and then fail to write.
"""
from __future__ import annotations

import os

from ..errors import ConfigError

DEFAULT_MAX_JOBS = 20_000
# Never written into by a sandbox run (their subdirectories neither).
SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/run")


def max_jobs(settings: dict) -> int:
    return int(settings.get("max_jobs") or DEFAULT_MAX_JOBS)


def check_job_count(n_jobs: int, settings: dict, file: str, what: str = "the plan") -> None:
    limit = max_jobs(settings)
    if n_jobs > limit:
        raise ConfigError(f"{what} has {n_jobs:,} jobs, over the limit of {limit:,}; if that is intended, raise "
                          f"it with `max_jobs: {n_jobs}` in the sandbox config", file=file, key="max_jobs")


def check_trial_count(max_trials: int, jobs_per_trial: int, settings: dict, file: str) -> None:
    """Refuse a sweep whose trials alone would exceed max_jobs, before expanding it."""
    limit = max_jobs(settings)
    if max_trials * max(1, jobs_per_trial) > limit:
        raise ConfigError(f"the sweep plans {max_trials:,} trials x {jobs_per_trial} job(s), over the limit of "
                          f"{limit:,} jobs; lower run_cap/sweep_max_count, or raise the limit with "
                          f"`max_jobs: {max_trials * max(1, jobs_per_trial) + 100}` in the sandbox config",
                          file=file, key="hpo_config")


def _system_dir(path: str) -> str | None:
    if path == "/":
        return "/"
    for d in SYSTEM_DIRS:
        if path == d or path.startswith(d + "/"):
            return d
    return None


def check_output_path(value: str, file: str, key: str, is_dir: bool = False) -> None:
    """A path the run will write (the work dir, an export): refuse system directories, dangling
    symlinks, an existing file where a directory is needed, and unwritable locations."""
    raw = os.path.abspath(os.path.expanduser(str(value)))
    real = os.path.realpath(raw)
    for p in dict.fromkeys((raw, real)):
        d = _system_dir(p)
        if d:
            raise ConfigError(f"{value!r} is {'the root directory' if d == '/' else f'under the system directory {d}'}; "
                              f"choose a path of your own", file=file, key=key)
    # walk up: a dangling symlink anywhere on the way, then the first existing ancestor must be writable
    probe = raw
    while True:
        if os.path.islink(probe) and not os.path.exists(probe):
            raise ConfigError(f"{value!r}: {probe} is a symlink to {os.readlink(probe)!r}, which does not exist",
                              file=file, key=key)
        if os.path.exists(probe):
            break
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if probe == raw and is_dir and not os.path.isdir(raw):
        raise ConfigError(f"{value!r} exists and is not a directory", file=file, key=key)
    if probe != raw and not os.path.isdir(probe):
        raise ConfigError(f"{value!r}: {probe} is a file, not a directory", file=file, key=key)
    target = probe if os.path.isdir(probe) else os.path.dirname(probe)
    if not os.access(target, os.W_OK | os.X_OK):
        raise ConfigError(f"{value!r}: {target} is not writable", file=file, key=key)
