#!/usr/bin/env python3
"""Probe + process at 20k / 200k / 1M documents: wall and peak tree memory.

The corpus is the demo corpus repeated, each copy's texts given a suffix (" [copy k]") so every
document is distinct. The sandbox: probe (the demo recipe's seven filters, np from the recipe)
-> process with the same recipe (filters decide on the probe's stored stats). Memory is the
peak PSS summed over Snakemake's process tree (treemem.py); the target is <= 2 GB at 1M.

    python bench/bench_scale.py --sizes 20000 200000 [1000000] --root /tmp/bench_scale
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("ORIGINAL_TOOLS", REPO.parent.parent / "shared/tools/original_sandbox"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def build_corpus(path: Path, n: int) -> None:
    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as fh:
        base = [json.loads(line) for line in fh]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            row = dict(base[i % len(base)])
            copy = i // len(base)
            if copy:
                row["text"] = f"{row['text']} [copy {copy}]"
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def run(root: Path, n: int) -> dict:
    side = root / f"n{n}"
    shutil.rmtree(side, ignore_errors=True)
    side.mkdir(parents=True)
    corpus = side / "corpus.jsonl"
    build_corpus(corpus, n)
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe.update(dataset_path=str(corpus), export_path=str(side / "exports/processed.jsonl"))
    recipe["process"][-1]["stopwords_filter"]["stopwords_dir"] = str(REPO / "resources/words")
    (side / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    cfg = {"work_dir": str(side / "work"),
           "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "probe", "dj_configs": "recipe.yaml",
                                  "local": {"dj_configs.export_path": str(side / "exports/probe.jsonl")}}],
           # processing reads the probe's output: its rows carry the stats, filters decide on them
           "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "process", "dj_configs": "recipe.yaml",
                                      "input": {"dj_configs.dataset_path": "anonymous.probe.res_1"}}]}
    (side / "sandbox.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    load = os.getloadavg()[0]
    start = time.monotonic()
    with open(side / "run.log", "w") as log:
        proc = subprocess.Popen([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(side), "--cores", "2",
                                 "--config", "sandbox=sandbox.yaml"], cwd=side, env=env, stdout=log, stderr=log)
        mon = subprocess.Popen([sys.executable, str(TOOLS / "treemem.py"), str(proc.pid), str(side / "mem"), "0.5"])
        rc = proc.wait()
    wall = time.monotonic() - start
    mon.wait()
    if rc:
        raise SystemExit(f"n={n}: snakemake failed, see {side / 'run.log'}")
    mem = dict(kv.split("=") for kv in (side / "mem").read_text().split())
    jobs = {}
    for ctx in (side / "work").rglob("context.json"):
        rec = json.loads(ctx.read_text())
        jobs[rec["job"].split("/")[-1]] = rec["wall_s"]
    return {"docs": n, "wall_s": round(wall, 1), "peak_pss_mb": round(int(mem["peak_pss_sum_kb"]) / 1024),
            "probe_s": jobs.get("probe_probe"), "process_s": jobs.get("execution_process"), "load_before": load}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000, 1000000])
    ap.add_argument("--root", default="/tmp/bench_scale")
    args = ap.parse_args()
    root = Path(args.root)
    rows = []
    print("| docs | wall s | probe s | process s | peak tree PSS MB | load before |\n|---|---|---|---|---|---|")
    for n in args.sizes:
        r = run(root, n)
        rows.append(r)
        print(f"| {n} | {r['wall_s']} | {r['probe_s']} | {r['process_s']} | {r['peak_pss_mb']} | {r['load_before']:.2f} |",
              flush=True)
    (root / "results.json").write_text(json.dumps(rows, indent=1))
    return 0 if all(r["peak_pss_mb"] <= 2048 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
