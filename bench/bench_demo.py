#!/usr/bin/env python
"""Wall time of the demo: ``snakemake --cores 2`` on config/sandboxes/demo.yaml.

The demo sandbox runs on the full demo corpus data/demo/raw.jsonl.gz in a
fresh temp directory (``--directory``) holding a copy of config/ and a link to
data/, because the demo's paths are relative to the repository root. Its data
loop is probe -> k-sigma -> process -> probe the processed data; the demo also
trains and evaluates three tiny-LM arms (raw / refined / random). By default
all of it runs; ``--data-only`` targets only the data loop's jobs. Prints the
wall seconds (target <= 120 s), the no-op rerun time (target <= 3 s; when the
rerun does work, Snakemake's reasons are printed), the ``snakemake -n``
planning time on the fresh directory, and each job's wall time (its
context.json ``wall_s``, the same number summary.json reports) with the
Snakemake benchmark file's seconds and max RSS. With ``--repeat R`` each round
uses a new directory. No assertions on timings.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_data_loop import _last_error, rerun_reasons  # the same helpers (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "raw.jsonl.gz"
SANDBOX = "config/sandboxes/demo.yaml"
TARGET_S, NOOP_TARGET_S = 120.0, 3.0


def _load() -> str:
    return "load avg %.2f %.2f %.2f" % os.getloadavg()


DATA_HOOKS = ("ProbeViaAnalyzerHook", "RefineRecipeViaKSigmaHook", "ProcessDataHook")


def plan_jobs(d: Path) -> tuple[str, list[tuple[str, str]]]:
    """(work_dir, [(job id, hook)]) of the demo, compiled in d (the demo's paths are relative)."""
    from juicer_sandbox.config.plan import compile_plan

    cwd = os.getcwd()
    os.chdir(d)
    try:
        plan = compile_plan(SANDBOX)
    finally:
        os.chdir(cwd)
    return plan.work_dir, [(j.id, j.spec.name) for j in plan.jobs.values()]


def snakemake(d: Path, cores: int, *extra: str) -> tuple[float, int, str]:
    # targets first: --config takes every following word
    cmd = [sys.executable, "-m", "snakemake", *extra, "-s", str(ROOT / "Snakefile"), "--directory", str(d),
           "--cores", str(cores), "--config", f"sandbox={SANDBOX}"]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return time.perf_counter() - t, p.returncode, p.stdout


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").replace("\r", "\n").splitlines()[-n:])
    except OSError:
        return f"(no {path})"


def one_round(tmp: Path, r: int, cores: int, data_only: bool) -> dict | None:
    d = tmp / f"round_{r}"
    d.mkdir()
    shutil.copytree(ROOT / "config", d / "config")
    os.symlink(ROOT / "data", d / "data")
    work_dir, jobs = plan_jobs(d)
    if data_only:
        jobs = [(j, h) for j, h in jobs if h in DATA_HOOKS]
        targets = [f"{work_dir}/{j}/context.json" for j, _ in jobs]
    else:
        targets = []
    plan, rc, text = snakemake(d, cores, "-n", *targets)
    if rc != 0:
        print(f"  snakemake -n FAILED (rc {rc}):\n{text[-3000:]}")
        return None
    print(f"  snakemake -n (fresh dir): {plan:.2f} s", flush=True)
    wall, rc, text = snakemake(d, cores, *targets)
    (d / "snakemake.log").write_text(text)
    if rc != 0:
        print(f"  run FAILED after {wall:.1f} s (rc {rc}); snakemake output {d / 'snakemake.log'}:\n{text[-3000:]}")
        logs = d / work_dir / "logs"
        for lg in sorted(logs.rglob("*.log")) if logs.is_dir() else []:
            print(f"  --- {lg}:\n{_tail(lg, 15)}")
        return None
    print(f"  run: {wall:.1f} s", flush=True)
    noop, rc, text = snakemake(d, cores, *targets)
    noop_ok = rc == 0 and "Nothing to be done" in text
    reasons = [] if noop_ok else (rerun_reasons(text) if rc == 0 else [f"failed (rc {rc}): {_last_error(text)}"])
    print(f"  no-op rerun: {noop:.2f} s" + ("" if noop_ok else " (WARNING: not 'Nothing to be done')"), flush=True)
    for reason in reasons:
        print(f"    rerun {reason[:300]}")

    work = d / work_dir
    rows = []
    for job, hook in jobs:
        ctx = work / job / "context.json"
        rec = json.loads(ctx.read_text()) if ctx.is_file() else {}
        bench = work / "benchmarks" / f"{job}.tsv"
        b = {}
        if bench.is_file():
            with open(bench) as fh:
                b = next(csv.DictReader(fh, delimiter="\t"), {})
        m = rec.get("metrics") or {}
        n = m.get("num_samples", m.get("samples_out"))
        rows.append({"job": job, "hook": hook, "wall_s": rec.get("wall_s"), "samples": n,
                     "bench_s": float(b["s"]) if b.get("s") else None,
                     "max_rss_mb": float(b["max_rss"]) if b.get("max_rss") not in (None, "", "-") else None})
    return {"wall": wall, "noop": noop, "noop_ok": noop_ok, "plan": plan, "jobs": rows, "dir": str(d)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="rounds, each in a fresh directory (default 1)")
    ap.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--data-only", action="store_true",
                    help="run only the data loop's jobs (probe, k-sigma, process, probe the processed data), "
                         "not the model arms the demo also trains")
    args = ap.parse_args(argv)

    if not DEMO.is_file():
        print(f"ERROR: the demo corpus {DEMO.relative_to(ROOT)} does not exist, so the demo cannot run.\n"
              f"Build it first (see data/demo/ATTRIBUTION.md / tools/build_demo_corpus.py), or use "
              f"bench/bench_data_loop.py --synthetic for a synthetic corpus.")
        return 2
    with __import__("gzip").open(DEMO, "rt", encoding="utf-8") as fh:
        n_docs = sum(1 for _ in fh)
    print(f"demo corpus: {DEMO.relative_to(ROOT)} ({n_docs} docs, {DEMO.stat().st_size / 1e6:.1f} MB gz)")
    print(f"sandbox: {SANDBOX}" + (" (data-loop jobs only)" if args.data_only else " (all jobs)")
          + f"; machine: {os.cpu_count()} CPUs, {_load()}")

    tmp = Path(tempfile.mkdtemp(prefix="bench_demo."))
    rounds = []
    try:
        for r in range(args.repeat):
            print(f"[round {r + 1}/{args.repeat}] ({_load()})", flush=True)
            res = one_round(tmp, r, args.cores, args.data_only)
            if res:
                rounds.append(res)
        print(f"after: {_load()}")
        if not rounds:
            print("no successful round")
            return 1
        last = rounds[-1]
        print("\n| job | hook | job wall_s | benchmark s | max RSS MB | samples |")
        print("|---|---|---:|---:|---:|---:|")
        for j in last["jobs"]:
            ws = "-" if j["wall_s"] is None else f"{j['wall_s']:.1f}"
            bs = "-" if j["bench_s"] is None else f"{j['bench_s']:.1f}"
            rss = "-" if j["max_rss_mb"] is None else f"{j['max_rss_mb']:.0f}"
            print(f"| {j['job']} | {j['hook']} | {ws} | {bs} | {rss} | {j['samples'] or ''} |")
        jobs_sum = sum(j["wall_s"] or 0 for j in last["jobs"])
        data_sum = sum(j["wall_s"] or 0 for j in last["jobs"] if j["hook"] in DATA_HOOKS)
        print(f"(sum of job wall_s {jobs_sum:.1f} s, of which data-loop jobs {data_sum:.1f} s; jobs run up to "
              f"{args.cores} at a time, and the run's wall also holds Snakemake start-up, scheduling, "
              f"each job's process start and the summary)")
        walls = [x["wall"] for x in rounds]
        wall = statistics.median(walls)
        print(f"\ndemo wall: {wall:.1f} s (median of {' '.join(f'{w:.1f}' for w in walls)}); target <= {TARGET_S:.0f} s"
              f" -> {'met' if wall <= TARGET_S else 'NOT met'}")
        noop = statistics.median(x["noop"] for x in rounds)
        print(f"no-op rerun: {noop:.2f} s; target <= {NOOP_TARGET_S:.0f} s -> {'met' if noop <= NOOP_TARGET_S else 'NOT met'}"
              + ("" if all(x["noop_ok"] for x in rounds) else " (WARNING: a rerun did work)"))
        print(f"snakemake -n (fresh dir): {statistics.median(x['plan'] for x in rounds):.2f} s")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
