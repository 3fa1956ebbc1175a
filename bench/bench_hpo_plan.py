"""Planning time of a large HPO grid: `snakemake -n` on a 1,000-trial sweep (target <= 15 s).

Baseline in the same run: `snakemake -n` on the same sandbox without hpo_config (one trial's
jobs), so the ratio shows what the sweep adds to planning.

    python bench/bench_hpo_plan.py [--trials 1000]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def sandbox(work: Path, trials: int | None) -> str:
    data = work / "d.jsonl"
    data.write_text('{"text": "hello world"}\n')
    spec = {
        "work_dir": "out",
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe",
                               "dj_configs": {"dataset_path": str(data), "process": [{"text_length_filter": {}}]}}],
        "refine_recipe_job_configs": [{"hook": "RefineRecipeViaKSigmaHook", "meta_name": "refine",
                                       "dj_configs": {"dataset_path": str(data),
                                                      "process": [{"text_length_filter": {}}]},
                                       "input": {"extra_configs.stats_path": "anonymous.probe.__stats__"}}],
        "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "process",
                                   "input": {"dj_configs": "anonymous.refine.res_1"}}],
        "evaluation_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "after",
                                    "dj_configs": {"dataset_path": str(data), "process": [{"text_length_filter": {}}]},
                                    "input": {"dj_configs.dataset_path": "anonymous.process.res_1"}}],
    }
    if trials:
        spec["hpo_config"] = {"method": "grid", "metric": {"name": "after.num_samples", "goal": "maximize"},
                              "run_cap": trials,
                              "parameters": {"refine.extra_configs.k": {"values": [round(0.1 * i, 1) for i in range(1, 41)]},
                                             "text_length_filter.min_len": {"values": list(range(1, 26))}}}
    name = f"s{trials or 0}.yaml"
    (work / name).write_text(yaml.safe_dump(spec))
    return name


def plan_seconds(work: Path, name: str) -> tuple[float, int]:
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    start = time.perf_counter()
    proc = subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(work), "-n", "--quiet",
                           "all", "--config", f"sandbox={name}"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    total = next((int(line.split()[-1]) for line in (proc.stdout + proc.stderr).splitlines()
                  if line.strip().startswith("total")), -1)
    return wall, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hpo-plan-"))
    try:
        base, n_base = plan_seconds(work, sandbox(work, None))
        sweep, n_sweep = plan_seconds(work, sandbox(work, args.trials))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"plain sandbox: {n_base} jobs planned in {base:.1f} s")
    print(f"{args.trials}-trial grid: {n_sweep} jobs planned in {sweep:.1f} s (target <= 15 s); "
          f"ratio {sweep / base:.1f}x the plain plan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
