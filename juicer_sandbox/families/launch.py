"""Multi-process launch command lines, through each family's own launcher, with the job's world size.

The world size is the number of devices the job holds (``CUDA_VISIBLE_DEVICES`` after
``gpus.claim``), so ``gpu=4`` on a node gives four processes on exactly those four devices. Each
launcher is run as a module of the job's interpreter (``python -m ...``), so it is the one of the
family's env, never another on ``PATH``. The golden files under ``tests/golden/launch/`` hold the
exact command lines.

* ``torchrun`` (InternVL's training and evaluation scripts): ``python -m torch.distributed.run``;
* ``accelerate`` (EasyAnimate): ``python -m accelerate.commands.launch``;
* ``deepspeed``: ``python -m deepspeed.launcher.runner --include=localhost:<held devices>``. Not
  ``--num_gpus``/``--num_nodes``: with either, DeepSpeed's runner drops ``CUDA_VISIBLE_DEVICES`` and starts
  its ranks on devices 0..N-1 of the node (another job's GPUs), or refuses to start when the variable is
  set. Without devices (CPU): no device flag, the CPU accelerator chosen by ``DS_ACCELERATOR=cpu``.
"""
from __future__ import annotations

import os
import sys

from ..errors import SandboxError

DEFAULT_PORT = 29500


def world_size(devices: list[str] | None = None) -> int:
    """Processes to start: one per held device; 1 without devices (CPU)."""
    if devices is None:
        raw = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        devices = [d for d in raw.split(",") if d.strip() and d.strip() != "-1"]
    return max(1, len(devices))


def job_port(job_id: str, base: int = DEFAULT_PORT) -> int:
    """A rendezvous port per job (stable, spread over 2000 ports), so two jobs on one node do not clash."""
    import zlib

    return base + zlib.crc32(job_id.encode()) % 2000


def command(launcher: str, nproc: int, script: str, args: list[str], *, port: int = DEFAULT_PORT,
            python: str | None = None, gpu: bool = True, mixed_precision: str | None = None,
            devices: list[str] | None = None) -> list[str]:
    """The command line that starts ``script args`` as ``nproc`` processes through ``launcher``; ``devices``
    (the job's held GPUs) is needed by DeepSpeed's launcher on GPUs, the others read CUDA_VISIBLE_DEVICES."""
    py = python or sys.executable
    if nproc < 1:
        raise SandboxError(f"{launcher}: world size must be at least 1, got {nproc}")
    if launcher == "torchrun":
        head = [py, "-m", "torch.distributed.run", "--nnodes=1", "--node_rank=0", "--master_addr=127.0.0.1",
                f"--nproc_per_node={nproc}", f"--master_port={port}"]
    elif launcher == "accelerate":
        head = [py, "-m", "accelerate.commands.launch", "--num_machines=1", f"--num_processes={nproc}",
                f"--main_process_port={port}"]
        head += [f"--mixed_precision={mixed_precision}"] if mixed_precision else []
        head += ["--multi_gpu"] if gpu and nproc > 1 else ([] if gpu else ["--cpu"])
    elif launcher == "deepspeed":
        head = [py, "-m", "deepspeed.launcher.runner", f"--master_port={port}"]
        if gpu:
            if not devices or len(devices) != nproc:
                raise SandboxError(f"deepspeed: name the {nproc} GPU(s) the job holds (devices), got {devices}")
            head.append(f"--include=localhost:{','.join(devices)}")
    else:
        raise SandboxError(f"unknown launcher {launcher!r} (torchrun, accelerate, deepspeed)")
    return [*head, script, *args]


def launch_env(launcher: str, gpu: bool) -> dict:
    """Environment variables the launch needs on top of the job's (CPU DeepSpeed needs its accelerator named)."""
    return {} if gpu or launcher != "deepspeed" else {"DS_ACCELERATOR": "cpu"}
