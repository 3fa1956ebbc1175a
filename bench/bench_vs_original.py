#!/usr/bin/env python3
"""This workflow against the original DJ-Sandbox, same data, same config, same np.

The config is in the user guide's demo shape (probe -> k-sigma refine -> process -> probe of the
processed data), one file read by both sides; the recipe is the demo's filters without
stopwords_filter (the original would download its word list). Rounds alternate the sides
(O, U, O, U, ...), the load average is logged before each run, and each side runs:

  cold       fresh work dir (and, for the original, a fresh HF datasets cache)
  noop       the same again (the original with `--resume true`; ours through `juicer-sandbox run`, as
             every run of ours, then once more through plain `snakemake` for reference)
  threshold  alphanumeric_filter.min_ratio 0.25 -> 0.35 (ours: incremental; original: full rerun,
             its only correct option: `resume` keeps stale results after an edit)
  statarg    also word_repetition_filter.rep_len 10 -> 5 (same)

Each run: wall, peak tree memory (PSS summed over the process tree, treemem.py) and per-stage
times (ours: each job's record; the original: its "Start ... Hook" log lines). In the first
round, each of our reruns is compared with a clean run of the edited config (processed rows
identical). Prints per-step medians and ratios ours/original.

    python bench/bench_vs_original.py --corpus /tmp/other20k.jsonl --rounds 2 \
        --original /tmp/dj-original --root /tmp/bvo
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("ORIGINAL_TOOLS", REPO.parent / "shared/tools/original_sandbox"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
STEPS = ("cold", "noop", "threshold", "statarg")


def recipe(corpus: str, export: Path, np: int, step: str) -> dict:
    r = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    r["process"] = [op for op in r["process"] if "stopwords_filter" not in op]
    r.update(dataset_path=corpus, export_path=str(export), np=np, project_name="bench-vs-original")
    if step in ("threshold", "statarg"):
        r["process"][2]["alphanumeric_filter"]["min_ratio"] = 0.35
    if step == "statarg":
        r["process"][5]["word_repetition_filter"]["rep_len"] = 5
    return r


def sandbox(side_dir: Path, corpus: str, np: int, step: str, ours: bool = False) -> Path:
    """One config both sides read (the user guide's form); paths are absolute. Ours gets
    `dj_configs: null` where the guide writes a placeholder the input reference replaces."""
    (side_dir / "exports").mkdir(parents=True, exist_ok=True)
    rpath = side_dir / "recipe.yaml"
    rpath.write_text(yaml.safe_dump(recipe(corpus, side_dir / "exports/processed.jsonl", np, step), sort_keys=False))
    cfg = {
        "project_name": "bench", "experiment_name": "bench", "work_dir": str(side_dir / "work"), "hpo_config": None,
        "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_ori_data",
                               "dj_configs": str(rpath), "extra_configs": None}],
        "refine_recipe_job_configs": [{"hook": "RefineRecipeViaKSigmaHook", "meta_name": "analysis_ori_data",
                                       "output": "refined_recipe_path", "dj_configs": str(rpath),
                                       "extra_configs": {"path_k_sigma_recipe": str(side_dir / "exports/k.yaml")}}],
        "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "process",
                                   "input": {"dj_configs": "-1.refined_recipe_path"},
                                   "output": "processed_dataset_path",
                                   "dj_configs": None if ours else "<auto_replaced_with_previous_output>",
                                   "extra_configs": None}],
        "evaluation_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "analysis_processed_data",
                                    "input": {"dj_configs.dataset_path":
                                              "anonymous.process.processed_dataset_path"},
                                    "dj_configs": str(rpath),
                                    "local": {"dj_configs.export_path": str(side_dir / "exports/final.jsonl")},
                                    "extra_configs": None}],
    }
    path = side_dir / "sandbox.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def timed(cmd: list[str], cwd: Path, env: dict, log: Path, marks: tuple[str, ...]) -> dict:
    """Run cmd; wall, peak tree PSS (MB), and when each line containing a mark arrived."""
    start = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        memfile = log.with_suffix(".mem")
        mon = subprocess.Popen([sys.executable, str(TOOLS / "treemem.py"), str(proc.pid), str(memfile), "0.2"])
        seen = []
        for line in proc.stdout:
            fh.write(line)
            for m in marks:
                if m in line:
                    seen.append((round(time.monotonic() - start, 2), line.strip()[-120:]))
        rc = proc.wait()
    wall = time.monotonic() - start
    mon.wait()
    mem = dict(kv.split("=") for kv in memfile.read_text().split()) if memfile.exists() else {}
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(cmd)}; see {log}")
    return {"wall_s": round(wall, 2), "peak_pss_mb": round(int(mem.get("peak_pss_sum_kb", 0)) / 1024, 1),
            "marks": seen}


def run_ours(side: Path, cfg: Path, log: Path, plain: bool = False) -> dict:
    """`juicer-sandbox run` (the original's sandbox_starter.py counterpart; it skips Snakemake when its
    no-op stamp holds), or with plain=True `snakemake` itself."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(side), "--cores", "2",
           "--config", f"sandbox={cfg}"] if plain else \
        [sys.executable, "-m", "juicer_sandbox", "run", "--config", str(cfg), "--cores", "2"]
    r = timed(cmd, side, env, log, ())
    stages = {}
    for ctx in sorted((side / "work").rglob("context.json")):
        rec = json.loads(ctx.read_text())
        if ctx.stat().st_mtime > time.time() - r["wall_s"] - 1:  # ran in this call
            stages[rec["job"]] = {"wall_s": rec.get("wall_s"), "startup_s": (rec.get("timing") or {}).get("startup_s")}
    r["stages"] = stages
    return r


def run_original(original: Path, side: Path, cfg: Path, log: Path, resume: bool, fresh_cache: bool) -> dict:
    cache = side / "dj_cache"
    if fresh_cache:
        shutil.rmtree(cache, ignore_errors=True)
    env = dict(os.environ, DJ_ORIGINAL=str(original), DJ_CACHE=str(cache))
    env.pop("PYTHONPATH", None)
    cmd = ["bash", str(TOOLS / "run_original.sh"), str(cfg)] + (["--", "--resume", "true"] if resume else [])
    r = timed(cmd, side, env, log, ("Start Probe Hook", "Start Refine Hook", "Start Execution Hook",
                                    "Start Evaluation Hook"))
    bounds = [t for t, _ in r["marks"]] + [r["wall_s"]]
    r["stages"] = {line.split("[")[-1].split("]")[0] + f"#{i}": round(bounds[i + 1] - t, 2)
                   for i, (t, line) in enumerate(r["marks"])}
    r["stages"]["startup"] = bounds[0] if r["marks"] else None
    return r


def processed_rows(side: Path) -> list:
    ctx = next((side / "work").rglob("execution_process/context.json"))
    path = json.loads(ctx.read_text())["outputs"]["processed_dataset_path"]
    return [json.loads(line) for line in open(path)]


def load() -> float:
    return os.getloadavg()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--original", default="/tmp/dj-original")
    ap.add_argument("--root", default="/tmp/bench_vs_original")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--sides", default="O,U", help="O,U (alternating) or one of them")
    ap.add_argument("--no-check", action="store_true", help="skip the clean-run equality checks")
    ap.add_argument("--steps", default=",".join(STEPS), help="a subset of " + ",".join(STEPS) + " (cold always runs)")
    args = ap.parse_args()
    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    steps = [s for s in STEPS if s == "cold" or s in args.steps.split(",")]
    results = {"O": {s: [] for s in STEPS}, "U": {s: [] for s in STEPS}, "checks": {}, "loads": [],
               "noop_snakemake": []}
    corpus = str(Path(args.corpus).resolve())
    for rnd in range(args.rounds):
        for side_name in args.sides.split(","):
            side = root / f"r{rnd}_{side_name}"
            for step in steps:
                cfg = sandbox(side, corpus, args.np, step, ours=side_name == "U")
                la = load()
                results["loads"].append((rnd, side_name, step, la))
                log = side / f"{step}.log"
                if side_name == "O":
                    r = run_original(Path(args.original), side, cfg, log, resume=step == "noop",
                                     fresh_cache=step == "cold")
                else:
                    r = run_ours(side, cfg, log)
                r["load_before"] = la
                results[side_name][step].append(r)
                print(f"round {rnd} {side_name} {step:9s} wall {r['wall_s']:7.2f} s  peak {r['peak_pss_mb']:7.1f} MB"
                      f"  load {la:.2f}  stages {json.dumps(r['stages'])}", flush=True)
                if side_name == "U" and step == "noop":  # for reference: the same no-op through snakemake
                    p = run_ours(side, cfg, side / "noop_snakemake.log", plain=True)
                    results["noop_snakemake"].append(p["wall_s"])
                    print(f"round {rnd} U noop via plain snakemake: wall {p['wall_s']:.2f} s", flush=True)
                if side_name == "U" and rnd == 0 and step in ("threshold", "statarg") and not args.no_check:
                    clean = root / f"clean_{step}"
                    run_ours(clean, sandbox(clean, corpus, args.np, step, ours=True), clean / "run.log")
                    same = processed_rows(clean) == processed_rows(side)
                    results["checks"][step] = same
                    print(f"  {step}: rerun == clean run of the edited config: {same}", flush=True)
    print("\nstep       original s   ours s   ours/original   peak MB O / U   (medians over rounds)")
    for step in STEPS:
        if not results["O"][step] or not results["U"][step]:
            continue
        o = statistics.median(r["wall_s"] for r in results["O"][step])
        u = statistics.median(r["wall_s"] for r in results["U"][step])
        mo = max(r["peak_pss_mb"] for r in results["O"][step])
        mu = max(r["peak_pss_mb"] for r in results["U"][step])
        print(f"{step:9s}  {o:10.2f}  {u:7.2f}  {u / o:14.3f}   {mo:6.0f} / {mu:6.0f}")
    (root / "results.json").write_text(json.dumps(results, indent=1))
    if results["noop_snakemake"]:
        print(f"no-op through plain snakemake (ours, not compared): {statistics.median(results['noop_snakemake']):.2f} s")
    print(f"\nchecks: {results['checks']}; all results: {root / 'results.json'}")
    return 0 if all(results["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
