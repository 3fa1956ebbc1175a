"""An HPO sweep (W&B format) run offline by Optuna as Snakemake jobs.

Two trials run at once; completed trials are never repeated; raising run_cap adds only the
new trials; the export has trials.csv, best.json, plots and the best recipe vs the baseline.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from .conftest import demo_slice, downsample_and_compare, run_snakemake

pytestmark = pytest.mark.e2e


def _write(workdir: Path, data: Path, run_cap: int) -> str:
    sweep = {"method": "random", "metric": {"name": "quality.res_1", "goal": "maximize"}, "seed": 5,
             "run_cap": run_cap,
             "parameters": {"refine.extra_configs.k": {"values": [0.5, 1.0, 2.0, 3.0]},
                            "text_length_filter.min_len": {"distribution": "int_uniform", "min": 10, "max": 200}}}
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    recipe = {"dataset_path": str(data), "text_keys": "text",
              "process": [{"text_length_filter": {"min_len": 10}}, {"alphanumeric_filter": {"min_ratio": 0.25}}]}
    (workdir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    spec = {
        "work_dir": "out", "hpo_config": "sweep.yaml",
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe", "dj_configs": "recipe.yaml"}],
        "refine_recipe_job_configs": [{
            "hook": "RefineRecipeViaKSigmaHook", "meta_name": "refine", "dj_configs": "recipe.yaml",
            "input": {"extra_configs.stats_path": "anonymous.probe.__stats__"}, "extra_configs": {"k": 3}}],
        "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "process",
                                   "input": {"dj_configs": "anonymous.refine.res_1"}}],
        "evaluation_job_configs": [{
            "hook": "EvaluateDataHook", "meta_name": "quality",
            "input": {"extra_configs.dataset_path": "anonymous.process.res_1"},
            "extra_configs": {"type": "text_quality_classifier", "reference_path": str(data.parent / "val.jsonl"),
                              "negative_path": str(data)}}],
    }
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "sandbox.yaml"


def _val(workdir: Path) -> None:
    import gzip
    import itertools

    from .conftest import REPO

    with gzip.open(REPO / "data/demo/val.jsonl.gz", "rt") as src, open(workdir / "data/val.jsonl", "w") as fh:
        fh.writelines(itertools.islice(src, 150))


def test_sweep_runs_as_jobs_and_resumes(workdir):
    data = demo_slice(workdir / "data", 400)
    _val(workdir)
    sandbox = _write(workdir, data, run_cap=3)
    proc = run_snakemake(workdir, sandbox, config={"hpo_parallel": 2})
    export = workdir / "out/hpo/export/artifacts"
    rows = list(csv.DictReader(open(export / "trials.csv")))
    assert [r["trial_index"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"COMPLETE"}
    summary = json.loads((export / "hpo_summary.json").read_text())
    assert summary["best_value"] == max(float(r["value"]) for r in rows)
    assert isinstance(summary["baseline_value"], float) and "best_beats_baseline" in summary
    assert (export / "optimization_history.png").stat().st_size > 1000
    assert list(export.glob("best_refine_*.yaml"))  # the best trial's refined recipe
    # the probe ran once (shared by the baseline and every trial)
    assert len(list((workdir / "out").rglob("probe_probe/context.json"))) == 1

    proc = run_snakemake(workdir, sandbox, config={"hpo_parallel": 2})
    assert "Nothing to be done" in proc.stdout + proc.stderr

    params_before = json.loads((workdir / "out/hpo/trial_0001/ask/artifacts/params.json").read_text())
    _write(workdir, data, run_cap=4)
    proc = run_snakemake(workdir, sandbox, config={"hpo_parallel": 2})
    ran = [line.split("=", 1)[1] for line in (proc.stdout + proc.stderr).splitlines()
           if line.strip().startswith("wildcards: job=")]
    assert ran and all(j.startswith("hpo/trial_0003/") or j == "hpo/export" for j in ran), ran
    rows = list(csv.DictReader(open(export / "trials.csv")))
    assert len(rows) == 4
    assert json.loads((workdir / "out/hpo/trial_0001/ask/artifacts/params.json").read_text()) == params_before


def test_grid_sweep_needs_no_ask_jobs_and_records_every_trial(workdir):
    data = demo_slice(workdir / "data", 50)
    sweep = {"method": "grid", "metric": {"name": "compare.res_1.samples_after", "goal": "maximize"},
             "parameters": {"down.extra_configs.target_num_samples": {"values": [10, 30, 20]}}}
    spec = downsample_and_compare(data, hpo_config=sweep)
    (workdir / "grid.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run_snakemake(workdir, "grid.yaml")
    assert not list((workdir / "out/hpo").glob("trial_*/ask"))  # grid points are known when planning
    export = workdir / "out/hpo/export/artifacts"
    rows = list(csv.DictReader(open(export / "trials.csv")))
    assert [(r["trial_index"], float(r["value"])) for r in rows] == [("0", 10.0), ("1", 30.0), ("2", 20.0)]
    summary = json.loads((export / "hpo_summary.json").read_text())
    assert summary["best_params"] == {"down.extra_configs.target_num_samples": 30}
    assert summary["baseline_value"] == 5 and summary["best_beats_baseline"] is True
