"""Helpers for end-to-end tests: run the real Snakefile in a temporary directory."""
from __future__ import annotations

import gzip
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def demo_slice(dest: Path, n: int, name: str = "raw.jsonl") -> Path:
    """The first n rows of the shipped demo corpus."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / name
    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as src, open(out, "w") as fh:
        fh.writelines(itertools.islice(src, n))
    return out


def demo_shaped_jobs(refine_extra: dict | None = None, extra_jobs: list | None = None) -> dict:
    """The user guide's demo shape over `recipe.yaml`: probe -> k-sigma -> process -> probe of the result
    (the job lists of a sandbox config; `refine_extra` adds k-sigma keys, `extra_jobs` go before process)."""
    return {
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_ori_data",
                               "dj_configs": "recipe.yaml"}],
        "refine_recipe_job_configs": [{"hook": "RefineRecipeViaKSigmaHook", "meta_name": "analysis_ori_data",
                                       "dj_configs": "recipe.yaml",
                                       "extra_configs": {"path_k_sigma_recipe": "exports/refined.yaml", "k": 3,
                                                         **(refine_extra or {})}}],
        "execution_job_configs": (extra_jobs or []) + [{"hook": "ProcessDataHook", "meta_name": "process",
                                                        "dj_configs": "exports/refined.yaml"}],
        "evaluation_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_processed_data",
                                    "dj_configs": "recipe.yaml",
                                    "input": {"dj_configs.dataset_path": "anonymous.process.res_1"},
                                    "local": {"dj_configs.export_path": "exports/processed_probe.jsonl"}}],
    }


def run_snakemake(workdir: Path, sandbox: str, *args: str, check: bool = True,
                  config: dict | None = None) -> subprocess.CompletedProcess:
    settings = [f"sandbox={sandbox}"] + [f"{k}={v}" for k, v in (config or {}).items()]
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
           "--config", *settings, *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def downsample_and_compare(data: Path, **settings) -> dict:
    """A cheap two-job sandbox (no Data-Juicer, no model): downsample to 5 rows, then count them."""
    return {"work_dir": "out", **settings,
            "execution_job_configs": [{"hook": "DataPoolManipulationHook", "meta_name": "down",
                                       "extra_configs": {"type": "data_pool_downsampling", "dataset_path": str(data),
                                                         "target_num_samples": 5}}],
            "evaluation_job_configs": [{"hook": "EvaluateDataHook", "meta_name": "compare",
                                        "input": {"extra_configs.after_path": "anonymous.down.res_1"},
                                        "extra_configs": {"type": "stats_comparison", "before_path": str(data)}}]}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
