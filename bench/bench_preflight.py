"""Dataset pre-flight speed: MB/s of juicer_sandbox.dj.preflight vs a plain json.loads loop.

    python bench/bench_preflight.py [--repeat 3]

Both sides read the same decompressed demo corpus (data/demo/raw.jsonl.gz written to a temp
file), interleaved in the same run. Also times how soon a malformed line at the end of a
20k-doc file is reported (the check reads the whole file, so this is the time to the error).
Targets (issue 14): >= 100 MB/s, ratio to plain json.loads near 1; malformed line <= 5 s.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from juicer_sandbox.dj.preflight import check_dataset, prepare  # noqa: E402
from juicer_sandbox.errors import SandboxError  # noqa: E402


def plain_loop(path: str) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "raw.jsonl")
        with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rb") as src, open(corpus, "wb") as dst:
            dst.write(src.read())
        size_mb = os.path.getsize(corpus) / 1e6
        ours, base = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            plain_loop(corpus)
            base.append(size_mb / (time.perf_counter() - t))
            t = time.perf_counter()
            report = check_dataset(corpus, ["text"], ["images", "audios", "videos"])
            ours.append(size_mb / (time.perf_counter() - t))
            assert report.n_bad == 0 and not report.fatal
        best_ours, best_base = max(ours), max(base)
        print(f"demo corpus: {size_mb:.1f} MB, {report.records} records")
        print(f"pre-flight check : {best_ours:7.1f} MB/s (best of {args.repeat}; all: "
              f"{', '.join(f'{v:.0f}' for v in ours)})")
        print(f"plain json.loads : {best_base:7.1f} MB/s (all: {', '.join(f'{v:.0f}' for v in base)})")
        print(f"ratio check/plain: {best_ours / best_base:.2f}   target: >= 100 MB/s")

        bad = os.path.join(tmp, "bad20k.jsonl")
        with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rb") as src, open(bad, "wb") as dst:
            dst.writelines(itertools.islice(src, 20000))
            dst.write(b'{"text": "cut off here\n')
        t = time.perf_counter()
        try:
            prepare({"dataset_path": bad}, tmp)
            raise SystemExit("the malformed line was not reported")
        except SandboxError as exc:
            took = time.perf_counter() - t
            print(f"malformed line at the end of 20k docs ({os.path.getsize(bad) / 1e6:.1f} MB) reported in "
                  f"{took:.2f} s (target <= 5 s): {str(exc).splitlines()[-1].strip()}")
        through_snakemake(tmp, bad)


def through_snakemake(tmp: str, bad: str) -> None:
    """The same file under a probe job run by snakemake: job start -> error line, from the job log."""
    import subprocess
    from datetime import datetime

    import yaml

    sandbox = os.path.join(tmp, "sb.yaml")
    with open(sandbox, "w") as fh:
        yaml.safe_dump({"work_dir": "out", "probe_job_configs": [{
            "hook": "ProbeViaAnalyzerHook", "meta_name": "probe",
            "dj_configs": {"dataset_path": bad, "process": [{"text_length_filter": {"min_len": 1}}]}}]}, fh)
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    t = time.perf_counter()
    proc = subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", tmp, "--cores", "1",
                           "--config", f"sandbox={sandbox}"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    lines = open(os.path.join(tmp, "out/logs/anonymous/probe_probe.log")).read().splitlines()
    stamp = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in lines
             if line[:4].isdigit() and (" INFO juicer_sandbox: job " in line or " ERROR " in line)]
    print(f"through snakemake: exit {proc.returncode}, job start -> error {(stamp[-1] - stamp[0]).total_seconds():.2f} s "
          f"(target <= 5 s), whole snakemake call {wall:.1f} s")


if __name__ == "__main__":
    main()
