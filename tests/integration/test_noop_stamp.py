"""`juicer-sandbox run` skips Snakemake only when nothing changed (juicer_sandbox/noop.py), and a
dry run restores nothing.

Real `juicer-sandbox run` calls (Snakemake, and Data-Juicer for the recipe case) on a copy of the
workflow, so that a code edit can be made without touching the checkout. Each kind of edit must
start Snakemake and rerun the job it affects; an unchanged call must not start it.
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

from .conftest import REPO, demo_slice, downsample_and_compare, run_snakemake

pytestmark = pytest.mark.e2e

SKIPPED = "juicer-sandbox: nothing to do"
STARTED = "juicer-sandbox: " + str(Path(sys.executable).with_name("snakemake"))
DOWN = "out/anonymous/execution_down/context.json"
COMPARE = "out/anonymous/evaluation_compare/context.json"


@pytest.fixture
def workflow(tmp_path):
    """A copy of the workflow (what `juicer-sandbox run` finds next to the package it runs)."""
    copy = tmp_path / "workflow"
    copy.mkdir()
    for name in ("Snakefile", "rules", "scripts", "juicer_sandbox", "config", "envs", "report", "profiles"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, copy / name)
    return copy


def run(workflow: Path, cwd: Path, sandbox: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(workflow), PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "juicer_sandbox", "run", "--config", sandbox, "--cores", "2", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stderr


def mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def test_a_noop_skips_snakemake_and_every_kind_of_edit_starts_it(workflow, tmp_path):
    cwd = tmp_path / "run"
    data = demo_slice(cwd, 40)
    sandbox = cwd / "sb.yaml"
    spec = downsample_and_compare(data)
    spec["execution_job_configs"][0]["extra_configs"]["export_path"] = "exports/down"
    sandbox.write_text(yaml.safe_dump(spec))
    assert STARTED in run(workflow, cwd, "sb.yaml")

    def assert_noop():
        before = {p: mtime(cwd / p) for p in (DOWN, COMPARE, "out/summary.json")}
        err = run(workflow, cwd, "sb.yaml")
        assert SKIPPED in err and STARTED not in err, err
        assert {p: mtime(cwd / p) for p in before} == before

    def assert_reruns(*records):
        before = {p: mtime(cwd / p) for p in records}
        err = run(workflow, cwd, "sb.yaml")
        assert STARTED in err and SKIPPED not in err, err
        assert all(mtime(cwd / p) > t for p, t in before.items()), err[-3000:]
        assert_noop()  # and the call after it does nothing again

    assert_noop()
    spec["execution_job_configs"][0]["extra_configs"]["target_num_samples"] = 6  # the config
    sandbox.write_text(yaml.safe_dump(spec))
    assert_reruns(DOWN, COMPARE)
    stat = data.stat()  # the data: other content, same size, the old mtime (as `cp -p` leaves it)
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[1:] + lines[:1]))
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert_reruns(DOWN, COMPARE)
    pools = workflow / "juicer_sandbox/components/pools.py"  # the code the downsampling job runs
    pools.write_text(pools.read_text() + "\n# edited\n")
    assert_reruns(DOWN)
    (cwd / "out/summary.md").unlink()  # an output
    assert_reruns("out/summary.json")
    shutil.rmtree(cwd / "exports/down")  # an export: restored by Snakemake
    err = run(workflow, cwd, "sb.yaml")
    assert "restored the deleted export" in err and (cwd / "exports/down").is_dir()
    assert_noop()
    stale = cwd / "out/anonymous/execution_gone"  # a job directory no longer in the plan
    stale.mkdir(parents=True)
    (stale / "context.json").write_text(json.dumps({"job": "anonymous/execution_gone", "status": "done"}))
    assert_reruns("out/summary.json")
    plain = [str(Path(sys.executable).with_name("snakemake")), "-s", str(workflow / "Snakefile"), "--cores", "2",
             "--config", "sandbox=sb.yaml", "--forceall"]  # plain snakemake in between
    subprocess.run(plain, cwd=cwd, env=dict(os.environ, PYTHONPATH=str(workflow)), check=True, capture_output=True)
    assert STARTED in run(workflow, cwd, "sb.yaml")
    assert_noop()


def test_a_recipe_threshold_edit_starts_snakemake_and_touching_the_recipe_does_not(workflow, tmp_path):
    cwd = tmp_path / "run"
    data = demo_slice(cwd, 40)
    recipe = {"dataset_path": str(data), "export_path": str(cwd / "processed.jsonl"), "np": 1,
              "process": [{"text_length_filter": {"min_len": 10}}]}
    (cwd / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    (cwd / "sb.yaml").write_text(yaml.safe_dump({"work_dir": "out", "execution_job_configs": [
        {"hook": "ProcessDataHook", "meta_name": "process", "dj_configs": "recipe.yaml"}]}))
    record = cwd / "out/anonymous/execution_process/context.json"
    assert STARTED in run(workflow, cwd, "sb.yaml")
    kept = json.loads(record.read_text())["metrics"]
    os.utime(cwd / "recipe.yaml")  # touched, not changed: the recipe is in the params, not an input
    assert SKIPPED in run(workflow, cwd, "sb.yaml")
    recipe["process"][0]["text_length_filter"]["min_len"] = 400
    (cwd / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    before = mtime(record)
    assert STARTED in run(workflow, cwd, "sb.yaml")
    assert mtime(record) > before and json.loads(record.read_text())["metrics"] != kept
    assert SKIPPED in run(workflow, cwd, "sb.yaml")


def test_a_dry_run_restores_no_export_and_a_real_run_does(workdir):
    data = demo_slice(workdir, 40)
    spec = downsample_and_compare(data)
    spec["execution_job_configs"][0]["extra_configs"]["export_path"] = "exports/down"
    (workdir / "sb.yaml").write_text(yaml.safe_dump(spec))
    run_snakemake(workdir, "sb.yaml")
    shutil.rmtree(workdir / "exports/down")
    proc = run_snakemake(workdir, "sb.yaml", "-n")
    assert "restored" not in proc.stderr and not (workdir / "exports/down").exists()
    proc = run_snakemake(workdir, "sb.yaml")
    assert "restored the deleted export" in proc.stderr and (workdir / "exports/down").is_dir()
