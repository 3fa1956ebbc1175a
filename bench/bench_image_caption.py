"""The image-to-text miniature with several seeds: does refined data beat raw and random beyond seed noise?

Runs config/sandboxes/image_caption_demo.yaml through `snakemake` in a temporary directory (config/
and data/ linked in) with `seed: [0, 1, ..]`: one probe -> k-sigma -> process, then the tiny captioner
trained on the raw, refined and same-size random pairs per seed, evaluated on the clean held-out pairs.
Prints per arm the held-out caption loss and CIDEr (mean ± std over seeds), the refined-vs-raw and
refined-vs-random loss gaps in units of the seed std pooled over the three arms (target: > 3), and
what the refinement removed per kind of dirt (the corpus's `meta.flags`, read here only).

    python bench/bench_image_caption.py [--seeds 3] [--budget 12800] [--lr 0.001] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX = "config/sandboxes/image_caption_demo.yaml"


def _flags(path: Path) -> tuple[int, Counter]:
    counts, n = Counter(), 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            n += 1
            meta = json.loads(line).get("meta") or {}
            counts.update(filter(None, str(meta.get("flags", "")).split(",")))
            counts["(clean)"] += bool(meta.get("clean"))
    return n, counts


def _pooled_std(arms: dict[str, list[float]]) -> float:
    dof = sum(len(v) - 1 for v in arms.values() if len(v) > 1)
    if not dof:
        return float("nan")
    return (sum((len(v) - 1) * statistics.variance(v) for v in arms.values() if len(v) > 1) / dof) ** 0.5


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.4f} ± {std:.4f}"


def report(workdir: Path, wall: float, seeds: int, budget: int) -> None:
    out = workdir / "outputs/image_caption_demo"
    jobs = json.loads((out / "summary.json").read_text())["jobs"]
    evals = sorted((j["metrics"] for j in jobs if j["hook"] == "EvaluateModelHook"), key=lambda m: m["seed"])
    loss: dict[str, list[float]] = {}
    cider: dict[str, list[float]] = {}
    for m in evals:
        loss.setdefault(m["arm"], []).append(m["loss"])
        cider.setdefault(m["arm"], []).append(m["CIDEr"])
    trains = [j for j in jobs if j["hook"] == "TrainModelHook" and "train_seconds" in (j.get("metrics") or {})]
    pairs = {j["metrics"]["train_path"]: j["metrics"]["pool_pairs"] for j in trains}
    print(f"image-caption miniature: {seeds} seeds x {budget:,} pairs, wall {wall:.0f} s ({workdir})")
    print(f"training: {statistics.fmean(j['metrics']['train_seconds'] for j in trains):.0f} s per arm on average; "
          f"pool sizes {sorted(set(pairs.values()))}")
    print(f"{'arm':8s} {'caption loss (nats/token)':>26s} {'CIDEr':>18s}  per-seed loss")
    for arm in sorted(loss, key=lambda a: statistics.fmean(loss[a])):
        print(f"{arm:8s} {_mean_std(loss[arm]):>26s} {_mean_std(cider[arm]):>18s}  "
              + " ".join(f"{v:.4f}" for v in loss[arm]))
    pooled = _pooled_std(loss)
    for other in ("raw", "random"):
        gap = statistics.fmean(loss[other]) - statistics.fmean(loss["refined"])
        diffs = [o - r for o, r in zip(loss[other], loss["refined"])]
        paired = (statistics.fmean(diffs) / statistics.stdev(diffs)) if len(diffs) > 1 and statistics.stdev(diffs) \
            else float("nan")
        print(f"refined vs {other}: loss gap {gap:.4f} = {gap / pooled:.1f} pooled seed std ({pooled:.4f}; "
              f"target > 3); paired by seed {paired:.1f}")
    res = {j["job"]: j["outputs"].get("res_1") for j in jobs}
    raw_n, raw_flags = _flags(workdir / res["corpus/execution_sample"])
    proc_n, proc_flags = _flags(workdir / res["caption/execution_process"])
    print(f"refinement kept {proc_n:,} of {raw_n:,} pairs; per kind (raw -> refined, share removed):")
    for flag in sorted(raw_flags):
        a, b = raw_flags[flag], proc_flags.get(flag, 0)
        print(f"  {flag:16s} {a:5d} -> {b:5d}  ({1 - b / a:.0%} removed)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=12800, help="training pairs per arm")
    ap.add_argument("--lr", type=float, default=0.001, help="the captioner's peak learning rate")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="image-caption-"))
    for sub in ("config", "data"):
        os.symlink(REPO / sub, workdir / sub)
    overrides = f"{{matrix: {{seed: {list(range(args.seeds))}, budget: [{args.budget}], lr: [{args.lr}]}}}}"
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    start = time.perf_counter()
    proc = subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
                           "--config", f"sandbox={SANDBOX}", f"sandbox_overrides={overrides}"],
                          cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-6000:], sep="\n", file=sys.stderr)
        return 1
    report(workdir, wall, args.seeds, args.budget)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
