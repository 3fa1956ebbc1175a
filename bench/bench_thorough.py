"""Thorough mode of the demo's model comparison: does refined data beat raw and random beyond seed noise?

Runs the demo's data loop once and trains the tiny LM on the raw, refined and same-size random
data with several seeds at a larger budget (default 3 seeds x 1M tokens), through `snakemake`
in a temporary directory. Prints mean ± std per arm and the refined-vs-raw and
refined-vs-random gaps in units of the combined std (target: > 3); the random arm draws its docs with each
seed, so its spread includes the pool draw.

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
sys.path.insert(0, str(REPO))
from juicer_sandbox.components import variance  # noqa: E402


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
        if job.get("meta_name") == "random_arm":  # one draw per seed: the error bars include the pool draw
            job["extra_configs"] = {**extra, "shuffle_seed": "{seed}"}
            job["meta_name"] += "_s{seed}"
            job["foreach"] = ["seed"]
        if job["hook"] == "TrainModelHook" and extra.get("type") == "causal_lm":
            job["extra_configs"] = {**extra, "seed": "{seed}", "max_tokens": "{tokens}"}
            job["meta_name"] += "_s{seed}"
            job["foreach"] = ["seed"]
            job["input"] = {k: v.replace("random_arm.res_1", "random_arm_s{seed}.res_1")
                            for k, v in (job.get("input") or {}).items()}
        if job["hook"] == "EvaluateModelHook":
            job["extra_configs"] = {**extra, "seed": "{seed}"}
            job["input"] = {k: v.replace(".res_1", "_s{seed}.res_1") for k, v in job["input"].items()}
            if extra.get("arm") == "random":
                job["input"]["extra_configs.pool"] = "anonymous.random_arm_s{seed}.res_1"
            job["meta_name"] += "_s{seed}"
            job["foreach"] = ["seed"]
        if job.get("meta_name") == "rank_arms":
            job["input"] = {k: v for k, v in job["input"].items() if not k.endswith(".random")}
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
    print("combined std: training seed + pool draw for the random arm (one draw per seed), training seed for the "
          "others (their pools are fixed)")
    for other in ("raw", "random"):
        g = variance.gap(dict(enumerate(arms[other])), dict(enumerate(refined)))
        print(f"refined vs {other}: gap {g['delta']:.4f} nats = "
              f"{g['in_std'] if g['in_std'] is not None else float('nan'):.1f} combined std (target > 3)")
        print("  " + paired_gap(arms[other], refined))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
