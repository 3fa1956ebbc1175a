"""The core data loop, end to end through `snakemake`, on a slice of the demo corpus.

probe -> k-sigma refine -> process -> probe the processed data, then: a no-op rerun does
nothing; changing k reruns exactly the affected jobs; a failing job leaves no record; the
Python environment is unchanged by a run (Data-Juicer installs nothing at run time).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, demo_slice, run_snakemake

pytestmark = pytest.mark.e2e


def _write_sandbox(workdir: Path, data: Path, k: float = 3) -> str:
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe["dataset_path"] = str(data)
    recipe["export_path"] = "exports/processed.jsonl"
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    sandbox = yaml.safe_load((REPO / "config/sandboxes/demo.yaml").read_text())
    sandbox["work_dir"] = "out"
    # the demo's data loop only: its first execution and evaluation jobs (the model arms are
    # covered by test_e2e_model_loop)
    sandbox["execution_job_configs"] = sandbox["execution_job_configs"][:1]
    sandbox["evaluation_job_configs"] = sandbox["evaluation_job_configs"][:1]
    for job in sandbox["probe_job_configs"] + sandbox["refine_recipe_job_configs"] + \
            sandbox["evaluation_job_configs"]:
        job["dj_configs"] = "recipe.yaml"
        job.pop("local", None)  # the demo's own corpus/export overrides: this test's recipe names both
    sandbox["refine_recipe_job_configs"][0]["extra_configs"] = {"path_k_sigma_recipe": "exports/refined.yaml", "k": k}
    sandbox["execution_job_configs"][0]["dj_configs"] = "exports/refined.yaml"
    sandbox["evaluation_job_configs"][0]["local"] = {"dj_configs.export_path": "exports/processed_probe.jsonl"}
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(sandbox, sort_keys=False))
    return "sandbox.yaml"


def _freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                          text=True, check=True).stdout


def _ran_rules(proc) -> list[str]:
    return sorted(line.split()[-1].rstrip(":") for line in proc.stderr.splitlines()
                  if line.startswith(("localrule ", "rule ")))


def test_data_loop_end_to_end(workdir):
    data = demo_slice(workdir / "data", 1500)
    sandbox = _write_sandbox(workdir, data)
    before = _freeze()
    run_snakemake(workdir, sandbox)
    assert _freeze() == before, "a run changed the Python environment"

    summary = json.loads((workdir / "out/summary.json").read_text())
    jobs = {j["job"]: j for j in summary["jobs"]}
    assert [j["hook"] for j in summary["jobs"]] == [
        "ProbeViaAnalyzerHook", "RefineRecipeViaKSigmaHook", "ProcessDataHook", "ProbeViaAnalyzerHook"]
    probe, process = jobs["anonymous/probe_analysis_ori_data"], jobs["anonymous/execution_process"]
    assert probe["metrics"]["num_samples"] == 1500
    kept = process["metrics"]["samples_out"]
    assert 0 < kept < 1500
    # processing reused the probe's stats instead of recomputing them from the raw file
    assert process["metrics"]["reused_stats_from"].endswith("probe_analysis_ori_data/artifacts/raw.jsonl")
    # the refined recipe is a Data-Juicer recipe with the k-sigma bounds, also at the user's path
    refined = yaml.safe_load((workdir / "exports/refined.yaml").read_text())
    ops = {next(iter(op)): next(iter(op.values())) for op in refined["process"]}
    assert set(ops["text_length_filter"]) == {"min_len", "max_len"}
    assert isinstance(ops["text_length_filter"]["max_len"], int)
    assert 0.0 <= ops["alphanumeric_filter"]["min_ratio"] <= 1.0
    assert (workdir / "exports/processed.jsonl").is_file()
    assert sum(1 for _ in open(workdir / "exports/processed.jsonl")) == kept
    md = (workdir / "out/summary.md").read_text()
    assert "Data before and after processing" in md and f"1500 → {kept}" in md

    # no-op rerun
    proc = run_snakemake(workdir, sandbox)
    assert "Nothing to be done" in proc.stderr + proc.stdout

    # changing k reruns refine, process, the second probe and the summary -- not the first probe
    _write_sandbox(workdir, data, k=2)
    proc = run_snakemake(workdir, sandbox)
    assert _ran_rules(proc) == ["all", "probe_via_analyzer", "process_data", "refine_via_ksigma", "report_assets"]
    summary2 = json.loads((workdir / "out/summary.json").read_text())
    kept2 = {j["job"]: j for j in summary2["jobs"]}["anonymous/execution_process"]["metrics"]["samples_out"]
    assert kept2 < kept  # k=2 is stricter than k=3


def test_failed_job_leaves_no_record(workdir):
    data = demo_slice(workdir / "data", 200)
    sandbox = _write_sandbox(workdir, data)
    # the processing job reads a recipe whose dataset is corrupt: it fails at run time
    bad = workdir / "data" / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{not json\n')
    spec = yaml.safe_load((workdir / sandbox).read_text())
    spec["execution_job_configs"][0]["local"] = {"dj_configs.dataset_path": str(bad)}
    (workdir / sandbox).write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = run_snakemake(workdir, sandbox, check=False)
    assert proc.returncode != 0
    assert not (workdir / "out/anonymous/execution_process/context.json").exists()
    assert not (workdir / "out/anonymous/execution_process/artifacts").exists()
    assert (workdir / "out/anonymous/refine_analysis_ori_data/context.json").exists()  # earlier work kept
    assert not (workdir / "out/summary.json").exists()


def test_bad_config_fails_before_any_job(workdir):
    data = demo_slice(workdir / "data", 50)
    sandbox = _write_sandbox(workdir, data)
    recipe = yaml.safe_load((workdir / "recipe.yaml").read_text())
    recipe["process"][0] = {"text_lenght_filter": {"min_len": 10}}
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    proc = run_snakemake(workdir, sandbox, check=False)
    assert proc.returncode != 0
    err = proc.stderr
    assert "recipe.yaml" in err and "process[0].text_lenght_filter" in err and "text_length_filter" in err
    assert "Traceback" not in err
    assert not (workdir / "out").exists()
