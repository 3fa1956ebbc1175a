"""Disjoint GPUs for the jobs that run side by side on one node.

Snakemake's ``gpu`` resource only counts: with ``--resources gpu=4`` four one-GPU jobs may run at
once, but nothing tells each which device is its own, so without this all would use ``cuda:0``.
A job that asks for ``gpu=n`` claims n devices of the node's list by taking an exclusive
``flock`` on one lock file per device (in a node-local directory) and sets
``CUDA_VISIBLE_DEVICES`` to what it got. The kernel drops the locks when the job's process ends,
killed or not, so nothing is ever left claimed.

The node's devices: ``$JUICER_SANDBOX_GPUS`` (a comma list; also how the tests give a fake list),
else the ``CUDA_VISIBLE_DEVICES`` the job started with (a cluster's allocation), else the indices
``nvidia-smi`` lists. Under SLURM the lock directory is per allocation (its device numbers are
renumbered from 0 in every allocation).
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import SandboxError

log = logging.getLogger(__name__)
ENV_LIST = "JUICER_SANDBOX_GPUS"


def node_devices() -> list[str]:
    for raw in (os.environ.get(ENV_LIST), os.environ.get("CUDA_VISIBLE_DEVICES")):
        if raw is not None and raw.strip() not in ("", "-1", "NoDevFiles"):
            return [d.strip() for d in raw.split(",") if d.strip()]
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.strip() for ln in out.stdout.splitlines() if ln.strip()] if out.returncode == 0 else []


def lock_dir() -> Path:
    alloc = os.environ.get("SLURM_JOB_ID")
    name = f"juicer-sandbox-gpus-{os.getuid()}" + (f"-slurm{alloc}" if alloc else "")
    path = Path(os.environ.get("JUICER_SANDBOX_GPU_LOCKS") or Path(tempfile.gettempdir()) / name)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def claim(n: int, devices: list[str] | None = None, wait: float = 600.0, poll: float = 0.2):
    """Hold n devices of the node (exclusive locks) and set CUDA_VISIBLE_DEVICES to them meanwhile.

    n = 0 changes nothing (a job that did not ask for GPUs sees what the node shows it).
    Waits at most ``wait`` seconds for enough free devices (Snakemake's ``gpu`` resource normally
    guarantees them; another workflow on the node may not).
    """
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    held: list[tuple[str, int]] = []
    try:
        if n > 0:
            devices = node_devices() if devices is None else devices
            if len(devices) < n:
                raise SandboxError(f"the job asks for {n} GPU(s) but this node has {len(devices)} "
                                   f"({', '.join(devices) or 'none found'}; set ${ENV_LIST} to list them)")
            held = _take(n, devices, lock_dir(), wait, poll)
        if n > 0:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(d for d, _ in held)
            log.info("GPUs claimed: CUDA_VISIBLE_DEVICES=%s", os.environ["CUDA_VISIBLE_DEVICES"])
        yield [d for d, _ in held]
    finally:
        for _, fd in held:
            os.close(fd)  # closing the descriptor drops the flock
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def _take(n: int, devices: list[str], where: Path, wait: float, poll: float) -> list[tuple[str, int]]:
    deadline = time.monotonic() + wait
    while True:
        held = []
        for dev in devices:
            fd = os.open(where / f"gpu-{dev}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((dev, fd))
            if len(held) == n:
                return held
        for _, fd in held:  # not enough free: give back and try again (no partial hoarding)
            os.close(fd)
        if time.monotonic() > deadline:
            raise SandboxError(f"no {n} free GPU(s) of {', '.join(devices)} within {wait:.0f} s (locks in {where})")
        time.sleep(poll)
