"""One run per work dir: a lock file in the work dir, held by the Snakemake main process.

Snakemake's own lock lives in ``.snakemake/`` of the directory it runs in, so two runs of the
same sandbox started from different directories both ran and wrote the same work dir. The
Snakefile's ``onstart`` takes this lock (``onstart`` runs only in the main process of a real
run: not for ``-n``, not in job subprocesses or cluster jobs); it is an advisory ``flock`` on
``<work_dir>/.juicer-sandbox.lock``, released by the kernel when the process ends, however it
ends, so a killed run never leaves a stale lock behind.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time

from ..errors import SandboxError

LOCK_NAME = ".juicer-sandbox.lock"
_held: dict[str, int] = {}  # work dir (abs) -> open file descriptor of its lock


def acquire(work_dir: str) -> None:
    """Take the work dir's lock for the rest of this process, or raise SandboxError naming the holder."""
    work_dir = os.path.abspath(work_dir)
    if work_dir in _held:
        return
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            holder = {}
        os.close(fd)
        who = ", ".join(f"{k} {holder[k]}" for k in ("pid", "host", "cwd", "since") if k in holder)
        raise SandboxError(f"work_dir {work_dir} is in use by another run ({who or 'holder unknown'}); "
                           f"wait for it to finish, or give this run another work_dir") from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "cwd": os.getcwd(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[work_dir] = fd


def release(work_dir: str) -> None:
    fd = _held.pop(os.path.abspath(work_dir), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
