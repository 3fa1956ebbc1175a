"""Wall time of the paper-rerun sandboxes (single-op, multi-op, duplication/scaling).

Runs one of config/sandboxes/paper/*.yaml through `snakemake --cores 2` in a temporary
working directory (full mode by default; --quick uses the CI-sized overrides) and prints the
wall time, the number of jobs and the experiment's own ranking (mean ± std, Kendall tau
between seeds when there are two or more).

    python bench/bench_paper.py single_op [--quick] [--seeds 2] [--first-seed 0] [--budget 1000000] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICK = {"docs": [3000], "budget": [16384], "stat": ["text_len", "alnum_ratio", "word_rep_ratio"]}


def overrides(quick: bool, seeds: int | None, budget: int | None = None, first_seed: int = 0) -> dict:
    matrix = dict(QUICK) if quick else {}
    if seeds:
        matrix["seed"] = list(range(first_seed, first_seed + seeds))
    if budget:
        matrix["budget"] = [budget]
    return {"matrix": matrix} if matrix else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=["single_op", "multi_op", "duplication_scaling"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed + seeds - 1")
    ap.add_argument("--budget", type=int, help="training tokens per arm (default: the config's)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"paper-{args.name}-"))
    for sub in ("config", "data"):  # the sandboxes use repo-relative paths
        os.symlink(REPO / sub, work / sub)
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cfg = [f"sandbox=config/sandboxes/paper/{args.name}.yaml",
           f"sandbox_overrides={json.dumps(overrides(args.quick, args.seeds, args.budget, args.first_seed))}"]
    start = time.perf_counter()
    proc = subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
                           "--config", *cfg], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        print(proc.stderr[-3000:])
        return 1
    out = next(work.glob("outputs/paper/*"))
    jobs = json.loads((out / "summary.json").read_text())["jobs"]
    print(f"{args.name} ({'quick' if args.quick else 'full'} mode): {len(jobs)} jobs, wall {wall:.0f} s "
          f"= {wall / 60:.1f} min")
    for j in jobs:
        if j["hook"] != "GeneralProbeHook":
            continue
        ranking = out / j["job"] / "artifacts/export/ranking.json"
        if ranking.is_file():
            r = json.loads(ranking.read_text())
            tau = (r.get("kendall_tau") or {}).get("tau")
            cs = r.get("combined_std")
            print(f"  {j['job']}: best {r['ranking'][:4]}; Kendall tau between seeds: {tau}; combined std "
                  f"{'n/a' if cs is None else f'{cs:.4f}'} (includes {' + '.join(r.get('variance_sources') or []) or '-'})")
        else:
            print(f"  {j['job']}: {j['outputs'].get('res_1')}")
    md = (out / "summary.md").read_text()
    if "## Pool rankings" in md:
        print(md.split("## Pool rankings", 1)[1][:4000])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
