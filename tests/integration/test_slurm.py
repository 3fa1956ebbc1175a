"""The slurm profile on a real single-node SLURM cluster started on this machine.

tools/slurm/start_local_slurm.sh installs slurm-wlm + munge (apt, root), writes the config into
a temporary state dir and starts munged/slurmctld/slurmd; the finalizer runs
tools/slurm/stop_local_slurm.sh, which kills exactly the PIDs the start script recorded.
The data loop (probe -> k-sigma refine -> process -> probe) then runs with
`--profile profiles/slurm --workflow-profile none`, and SLURM itself (`scontrol show job`)
confirms every job ran there; a rule that declares `gpu=N` (as the workflow's GPU rules do per job)
is submitted with `--gpus=N` and SLURM allocates N of its (fake) GPUs.
Skipped only where SLURM cannot be installed at all (not root, no apt).
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, SNAKEMAKE, demo_shaped_jobs, demo_slice

pytestmark = pytest.mark.e2e

START = REPO / "tools/slurm/start_local_slurm.sh"
STOP = REPO / "tools/slurm/stop_local_slurm.sh"
CANNOT_INSTALL = 77  # start_local_slurm.sh: SLURM cannot be installed here at all
PROFILE = ["--profile", str(REPO / "profiles/slurm"),
           # without this, profiles/default (the workflow profile next to the Snakefile) is
           # loaded on top and its default-resources replace the slurm partition/runtime
           "--workflow-profile", "none",
           # keep the SLURM logs of successful jobs too (the plugin deletes them by default)
           "--slurm-keep-successful-logs",
           # poll faster than the profile does: the jobs here take seconds
           "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"]
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory, request):
    """A running single-node cluster; yields the environment that points clients at it."""
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURMCTLD_PORT=str(_free_port()), SLURMD_PORT=str(_free_port()),
               SLURM_START_TIMEOUT="90")

    def stop():
        out = subprocess.run(["bash", str(STOP), str(state)], capture_output=True, text=True, timeout=120)
        print(out.stdout, out.stderr)

    # registered before the start so that a half-started cluster is stopped too
    request.addfinalizer(stop)
    proc = subprocess.run(["bash", str(START), str(state)], capture_output=True, text=True, env=env,
                          timeout=600)
    print(proc.stdout)
    if proc.returncode == CANNOT_INSTALL:
        pytest.skip(f"SLURM cannot be installed here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, f"start_local_slurm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    pids = dict(line.split() for line in (state / "pids").read_text().splitlines())
    assert {"slurmctld", "slurmd"} <= set(pids)
    return dict(os.environ, SLURM_CONF=str(state / "slurm.conf"), PYTHONUNBUFFERED="1")


def _snakemake(env: dict, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "--directory", str(workdir), *PROFILE, *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return proc


def _submitted(proc) -> list[tuple[str, Path]]:
    """(SLURM job id, SLURM log) of every job the plugin submitted with sbatch."""
    return [(jid, Path(log)) for jid, log in SUBMITTED.findall(proc.stderr)]


def _scontrol(env: dict, jobid: str) -> str:
    return subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True, env=env,
                          check=True, timeout=30).stdout


def _write_sandbox(workdir: Path, data: Path) -> str:
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe.update(dataset_path=str(data), export_path="exports/processed.jsonl")
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    sandbox = {
        "project_name": "slurm-test", "work_dir": "out",
        **demo_shaped_jobs(),
    }
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(sandbox, sort_keys=False))
    return "sandbox.yaml"


def test_data_loop_runs_on_slurm(slurm, tmp_path):
    data = demo_slice(tmp_path / "data", 200)
    sandbox = _write_sandbox(tmp_path, data)
    proc = _snakemake(slurm, tmp_path, "-s", str(REPO / "Snakefile"), "--config", f"sandbox={sandbox}")

    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert [j["hook"] for j in summary["jobs"]] == [
        "ProbeViaAnalyzerHook", "RefineRecipeViaKSigmaHook", "ProcessDataHook", "ProbeViaAnalyzerHook"]
    jobs = {j["job"]: j for j in summary["jobs"]}
    assert jobs["anonymous/probe_analysis_ori_data"]["metrics"]["num_samples"] == 200
    assert 0 < jobs["anonymous/execution_process"]["metrics"]["samples_out"] <= 200

    # every hook job was an sbatch job that SLURM itself ran to completion (the summary and
    # report assets are localrules)
    submitted = _submitted(proc)
    assert len(submitted) == 4, proc.stderr[-4000:]
    rules = set()
    for jobid, log in submitted:
        assert log.is_file() and log.name == f"{jobid}.log"
        assert log.is_relative_to(tmp_path / ".snakemake/slurm_logs")
        rules.add(log.relative_to(tmp_path / ".snakemake/slurm_logs").parts[0])
        info = _scontrol(slurm, jobid)
        assert "JobState=COMPLETED" in info and "Partition=debug" in info, info
    assert rules == {"rule_probe_via_analyzer", "rule_refine_via_ksigma", "rule_process_data"}
    assert (tmp_path / "out/report/summary.html").is_file()
    # the profile's defaults reached sbatch: no rule sets runtime, so 60 min comes from the profile
    assert "TimeLimit=01:00:00" in _scontrol(slurm, submitted[0][0])


def test_gpu_rules_get_their_gpus(slurm, tmp_path):
    # A rule that declares gpu=2 (the workflow's GPU rules do per job, from the model family) is
    # submitted with --gpus=2 through the profile and SLURM allocates both (fake) GPUs to it.
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "model.txt"\n\n'
        'rule train_model:\n    output: "model.txt"\n    resources: gpu=2\n'
        '    shell: "echo $SLURM_JOB_ID > {output}"\n')
    proc = _snakemake(slurm, tmp_path, "-s", str(tmp_path / "Snakefile"))
    [(jobid, _)] = _submitted(proc)
    assert (tmp_path / "model.txt").read_text().strip() == jobid
    info = _scontrol(slurm, jobid)
    assert "TresPerJob=gres:gpu:2" in info or "gres/gpu=2" in info, info  # --gpus=2 reached SLURM
