"""Disjoint GPUs for jobs side by side on one node, with a fake device list ($JUICER_SANDBOX_GPUS).

Real processes claim devices through real flock()s; a Snakemake run with `--resources gpu=2` runs four one-GPU
jobs, each checking while it holds its device that no other job holds the same one.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from juicer_sandbox import gpus
from juicer_sandbox.errors import SandboxError

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

HOLDER = """
import os, sys, time
from pathlib import Path
from juicer_sandbox.gpus import claim
n, out, go = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with claim(n, wait=60):
    out.write_text(os.environ["CUDA_VISIBLE_DEVICES"])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:  # hold until every holder has written
        time.sleep(0.05)
"""


def _env(tmp_path, devices="0,1,2,3"):
    return dict(os.environ, JUICER_SANDBOX_GPUS=devices, JUICER_SANDBOX_GPU_LOCKS=str(tmp_path / "locks"),
                PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def test_processes_holding_at_once_get_disjoint_devices(tmp_path):
    go = tmp_path / "go"
    outs = [tmp_path / f"out{i}" for i in range(3)]
    wants = [1, 2, 1]
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, str(n), str(o), str(go)], env=_env(tmp_path))
             for n, o in zip(wants, outs)]
    try:
        deadline = time.monotonic() + 60
        while not all(o.exists() for o in outs) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        go.write_text("")
        for p in procs:
            p.wait(timeout=60)
    got = [o.read_text().split(",") for o in outs]
    assert [len(g) for g in got] == wants
    flat = [d for g in got for d in g]
    assert len(set(flat)) == 4 and set(flat) == {"0", "1", "2", "3"}


def test_claim_sets_and_restores_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("JUICER_SANDBOX_GPU_LOCKS", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")  # a cluster's allocation is the node's list
    with gpus.claim(1) as held:
        assert held == ["4"] and os.environ["CUDA_VISIBLE_DEVICES"] == "4"
        with gpus.claim(1, devices=["4", "5"]) as second:  # a second claimer gets the other one
            assert second == ["5"]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,5"
    with gpus.claim(0) as none:
        assert none == [] and os.environ["CUDA_VISIBLE_DEVICES"] == "4,5"
    with pytest.raises(SandboxError, match="asks for 3 GPU"):
        with gpus.claim(3):
            pass
    with gpus.claim(2):
        with pytest.raises(SandboxError, match="no 1 free GPU"):
            with gpus.claim(1, wait=0.3):
                pass


SNAKEFILE = """
rule all:
    input: expand("out/{i}.txt", i=range(4))

rule gpu_job:
    output: "out/{i}.txt"
    resources: gpu=1
    script: "job.py"
"""

JOB = """
import os, time
from pathlib import Path
from juicer_sandbox.gpus import claim
with claim(int(snakemake.resources.gpu)):
    dev = os.environ["CUDA_VISIBLE_DEVICES"]
    mark = Path("inuse") / dev
    mark.parent.mkdir(exist_ok=True)
    fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another job holds this device now
    time.sleep(1.0)
    os.close(fd)
    os.unlink(mark)
    Path(snakemake.output[0]).write_text(dev)
"""


@pytest.mark.e2e
def test_snakemake_gpu_jobs_side_by_side_use_different_devices(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "job.py").write_text(JOB)
    proc = subprocess.run([SNAKEMAKE, "--cores", "4", "--resources", "gpu=2", "--directory", str(tmp_path),
                           "-s", str(tmp_path / "Snakefile")], cwd=tmp_path, env=_env(tmp_path, "0,1"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    used = sorted((tmp_path / f"out/{i}.txt").read_text() for i in range(4))
    assert set(used) <= {"0", "1"}
