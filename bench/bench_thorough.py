"""Thorough mode of the demo's model comparison: does refined data beat raw and random beyond seed noise?

Runs the demo's data loop once and trains the tiny LM on the raw, refined and same-size random
data with several seeds at a larger budget (default 3 seeds x 1M tokens), through `snakemake`
in a temporary directory. Prints mean ± std per arm and the refined-vs-raw and
refined-vs-random gaps in units of the seed standard deviation (target: > 3).

    python bench/bench_thorough.py [--seeds 3] [--tokens 1000000] [--keep]
"""
from __future__ import annotations

import argparse
import os
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def build_sandbox(workdir: Path, seeds: int, tokens: int, raw: str | None = None, val: str | None = None) -> Path:
    """The demo with every training/evaluation repeated per seed; the corpus is the demo's unless raw/val are given
    (the same `matrix: {raw, val}` override that points any shipped sandbox at other data)."""
    demo = yaml.safe_load((REPO / "config/sandboxes/demo.yaml").read_text())
    demo["work_dir"] = "out"
    demo["matrix"] = {**demo["matrix"], "seed": list(range(seeds)), "tokens": [tokens],
                      "raw": [os.path.abspath(raw) if raw else str(REPO / demo["matrix"]["raw"][0])],
                      "val": [os.path.abspath(val) if val else str(REPO / demo["matrix"]["val"][0])]}
    jobs = demo["probe_job_configs"] + demo["refine_recipe_job_configs"] + demo["execution_job_configs"] + \
        demo["evaluation_job_configs"]
    for job in jobs:
        if job.get("dj_configs") == "config/recipes/text_filters.yaml":
            job["dj_configs"] = str(REPO / "config/recipes/text_filters.yaml")
        extra = job.get("extra_configs") or {}
        if job["hook"] == "TrainModelHook" and extra.get("type") == "causal_lm":
            job["extra_configs"] = {**extra, "seed": "{seed}", "max_tokens": "{tokens}"}
            job["meta_name"] += "_s{seed}"
            job["foreach"] = ["seed"]
        if job["hook"] == "EvaluateModelHook":
            job["extra_configs"] = {**extra, "seed": "{seed}"}
            job["input"] = {k: v.replace(".res_1", "_s{seed}.res_1") for k, v in job["input"].items()}
            job["meta_name"] += "_s{seed}"
            job["foreach"] = ["seed"]
    path = workdir / "thorough.yaml"
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    return path


def paired_gap(other: list[float], refined: list[float]) -> str:
    """Arms trained with the same seed share initialisation and batch order: the per-seed
    differences show the data effect with that shared noise removed."""
    diffs = [o - r for o, r in zip(other, refined)]
    if len(diffs) < 2:
        return "paired: needs two seeds"
    sd = statistics.stdev(diffs)
    return (f"paired by seed: differences {' '.join(f'{d:.4f}' for d in diffs)}; mean {statistics.fmean(diffs):.4f}"
            f" = {statistics.fmean(diffs) / sd:.1f} std of the differences" if sd else "paired: identical differences")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--data", help="raw corpus (JSONL[.gz], text under 'text'); default the demo corpus")
    ap.add_argument("--val", help="held-out validation JSONL[.gz]; default the demo's")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="thorough-"))
    sandbox = build_sandbox(workdir, args.seeds, args.tokens, args.data, args.val)
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    start = time.perf_counter()
    subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
                    "--config", f"sandbox={sandbox}"], check=True, capture_output=True)
    wall = time.perf_counter() - start
    jobs = json.loads((workdir / "out/summary.json").read_text())["jobs"]
    arms: dict[str, list[float]] = {}
    for j in sorted((j for j in jobs if j["hook"] == "EvaluateModelHook"), key=lambda j: j["metrics"]["seed"]):
        arms.setdefault(j["metrics"]["arm"], []).append(j["metrics"]["loss"])
    print(f"thorough mode: {args.seeds} seeds x {args.tokens} tokens, wall {wall:.0f} s ({workdir})")
    print(f"{'arm':10s} {'mean loss':>10s} {'std':>8s}  n  per seed")
    for arm, losses in sorted(arms.items(), key=lambda kv: statistics.fmean(kv[1])):
        std = statistics.stdev(losses) if len(losses) > 1 else float("nan")
        print(f"{arm:10s} {statistics.fmean(losses):10.4f} {std:8.4f} {len(losses):2d}  "
              + " ".join(f"{v:.4f}" for v in losses))
    refined = arms["refined"]
    for other in ("raw", "random"):
        gap = statistics.fmean(arms[other]) - statistics.fmean(refined)
        # pooled seed standard deviation of the two arms
        pooled = statistics.fmean([statistics.variance(refined), statistics.variance(arms[other])]) ** 0.5 \
            if len(refined) > 1 else float("nan")
        print(f"refined vs {other}: gap {gap:.4f} nats = {gap / pooled:.1f} seed std (target > 3)")
        print("  " + paired_gap(arms[other], refined))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
