"""`--sdm conda` with every buildable env file: Snakemake's real conda deployment, conda's solver played by a shim.

conda cannot be installed on the CI machine (no conda channels are reachable), so `tests/integration/fake_conda`
answers the few `conda` calls Snakemake makes and builds each environment as a venv from exactly the env file's
`pip:` pins (juicer_sandbox.envs.build_venv; conda-only entries are skipped). Everything else is Snakemake's:
the env hash and deployment under `--conda-prefix`, `source <conda>/bin/activate <env>` before each job, and the
script preamble. The environment refuses the paths Snakemake's preamble appends from its own environment (on a
real machine those belong to another Python), so each job must import everything from its env file's packages
and the workflow directory.

The workflow is first copied elsewhere (moved), and no PYTHONPATH or install of juicer_sandbox is given: the
jobs find the package through the workflow directory (each scripts/*.py puts it first on sys.path;
Snakemake removes PYTHONPATH from conda jobs, which is what this test first caught).

Env files that cannot be built here: easyanimate, internvl, vbench (Python 3.10, CUDA wheels, flash-attn from a
URL; this machine has Python 3.11 and no GPU). For them, test_env_isolation checks the pins only.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO, SNAKEMAKE, demo_slice

FAKE_CONDA = Path(__file__).resolve().parent / "fake_conda"
BUILDABLE = ("data", "train")  # the env files the hook rules of the CPU sandboxes use


def _move_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in ("Snakefile", "rules", "scripts", "envs", "config", "report", "juicer_sandbox", "profiles"):
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / part, **(
            {"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    return dest


@pytest.mark.slow
def test_every_rule_family_runs_in_its_conda_env(tmp_path):
    wf = _move_workflow(tmp_path / "moved_workflow")
    run = tmp_path / "run"
    data = demo_slice(run, 200)
    sandbox = {
        "work_dir": "out",
        "execution_job_configs": [
            {"hook": "DataPoolManipulationHook", "meta_name": "down",
             "extra_configs": {"type": "data_pool_downsampling", "dataset_path": str(data), "target_num_samples": 50}},
            {"hook": "TrainModelHook", "meta_name": "tok", "input": {"extra_configs.dataset_path": "anonymous.down.res_1"},
             "extra_configs": {"type": "bpe_tokenizer", "vocab_size": 300}},
        ],
        "evaluation_job_configs": [
            {"hook": "EvaluateDataHook", "meta_name": "compare", "input": {"extra_configs.after_path": "anonymous.down.res_1"},
             "extra_configs": {"type": "stats_comparison", "before_path": str(data)}}],
    }
    (run / "sandbox.yaml").write_text(yaml.safe_dump(sandbox))
    record = tmp_path / "built.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{FAKE_CONDA / 'bin'}:{os.environ['PATH']}", FAKE_CONDA_PYTHON=sys.executable,
               FAKE_CONDA_RECORD=str(record), PYTHONUNBUFFERED="1", JUICER_SANDBOX_PROGRESS_EVERY="0")
    cmd = [SNAKEMAKE, "-s", str(wf / "Snakefile"), "--directory", str(run), "--cores", "2", "--sdm", "conda",
           "--conda-prefix", str(tmp_path / "conda_envs"), "--config", "sandbox=sandbox.yaml"]
    proc = subprocess.run(cmd, cwd=run, capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    built = [json.loads(line) for line in record.read_text().splitlines()]
    # Snakemake hands conda a copy of the env file (<env hash>.yaml): match them by content
    by_text = {(REPO / "envs" / f"{e}.yaml").read_text(): e for e in BUILDABLE}
    assert sorted(by_text.get(Path(b["spec"]).read_text(), b["spec"]) for b in built) == sorted(BUILDABLE)
    for b in built:  # exactly the env file's pins, nothing of Snakemake's environment
        frozen = dict(ln.split("==", 1) for ln in Path(b["prefix"] + ".fake-conda.lock.txt").read_text().splitlines()
                      if "==" in ln and not ln.startswith("#"))
        frozen = {canonicalize_name(k): v for k, v in frozen.items()}
        for pin in yaml.safe_load(Path(b["spec"]).read_text())["dependencies"][-1]["pip"]:
            req = Requirement(pin)  # torch==2.13.0 is met by the local 2.13.0+cpu wheel
            assert req.specifier.contains(frozen[canonicalize_name(req.name)], prereleases=True), (b["spec"], pin)
        assert "juicer-sandbox" not in frozen
    text = proc.stdout + proc.stderr
    assert text.count("Activating conda environment") >= 4  # down, tok, compare, report_assets (summary and report)
    assert json.loads((run / "out/anonymous/execution_tok/context.json").read_text())["status"] == "done"
    assert (run / "out/summary.md").exists()
