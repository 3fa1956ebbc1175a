"""The prepared GPU check (run by tools/gpu_check.sh): the model families' GPU paths on one machine, one JSON.

Steps (each timed; a step whose package is missing on the machine is recorded as skipped with the reason,
a failing step records its error and the others still run):

1. ``tiny_model``  -- the project's tiny GPT-2 trained from scratch on the demo corpus (no download), saved in
   Hugging Face format (``causal_lm``'s ``model/``), on CUDA when present;
2. ``hf_infer``    -- the ``huggingface`` InferModelHook component on that model (transformers pipeline, GPU 0);
3. ``vllm_infer``  -- the ``vllm`` InferModelHook component on that model (vLLM, tensor parallel = visible GPUs);
4. ``deepspeed``   -- DeepSpeed ZeRO-1 training of that model through the ``deepspeed`` launcher with world size
   = visible GPUs (``juicer_sandbox/models/ds_train.py``);
5. ``video_metrics`` -- FID/FVD (Frechet distance), KID/KVD and IS math of ``juicer_sandbox.models.video_metrics``
   on the GPU: its ``selfcheck`` (closed forms, timings), and 4096 x 2048 features with a known Frechet distance
   (4) and inception score (101), compared with the same computation on the CPU.

    python tools/gpu_check.py --out gpu_check.json [--work DIR] [--steps tiny_model,hf_infer,...]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STEPS = ("tiny_model", "hf_infer", "vllm_infer", "deepspeed", "video_metrics")
PROMPTS = ["The data pool", "A small filter keeps", "Every recipe"]


class Skip(Exception):
    """A step that cannot run on this machine (a missing package), with the reason."""


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Skip(f"{module} is not installed on this machine")


def step_tiny_model(work: Path, ctx: dict) -> dict:
    import gzip
    import itertools

    from juicer_sandbox.io import write_jsonl
    from juicer_sandbox.models.tokenizer import train_tokenizer
    from juicer_sandbox.models.train import train_lm

    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, 3000)]
    write_jsonl(work / "train.jsonl", rows)
    tok = train_tokenizer((r["text"] for r in rows), 2048, work / "tokenizer.json")
    cfg = {"n_layer": 2, "d_model": 128, "n_head": 2, "context": 128, "batch_size": 32, "max_tokens": 32 * 128 * 60,
           "checkpoint_every": 1000, "log_every": 20}
    metrics = train_lm(cfg, work / "train.jsonl", work / "run", tok, progress=False)
    ctx["model"] = str(work / "run" / "model")
    return {"model": ctx["model"], "final_train_loss": metrics.get("final_train_loss"),
            "device": metrics.get("device")}


def _llm_cfg(work: Path, ctx: dict, name: str, **extra) -> dict:
    from juicer_sandbox.io import write_jsonl

    if "model" not in ctx:
        raise Skip("no tiny model (step tiny_model did not run)")
    write_jsonl(work / "prompts.jsonl", [{"query": p} for p in PROMPTS])
    out = work / name
    out.mkdir(exist_ok=True)
    return {"model": ctx["model"], "dataset_path": str(work / "prompts.jsonl"), "export_path": str(out), **extra}


class _Run:
    """What the components read of a job's runtime (hooks.runner.Run): threads and the held devices."""

    def __init__(self, devices):
        self.threads, self.devices, self.metrics = 4, devices, {}


def _rows(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def step_hf_infer(work: Path, ctx: dict) -> dict:
    import torch

    from juicer_sandbox.components.original_models import infer_huggingface

    cfg = _llm_cfg(work, ctx, "hf", sampling_params={"max_new_tokens": 16, "do_sample": False})
    (out,) = infer_huggingface(cfg, _Run(ctx["devices"]))
    rows = _rows(out)
    return {"device": "cuda:0" if torch.cuda.is_available() else "cpu", "rows": len(rows),
            "first_response": rows[0]["response"][:80]}


def step_vllm_infer(work: Path, ctx: dict) -> dict:
    need("vllm")
    from juicer_sandbox.components.original_models import infer_vllm

    cfg = _llm_cfg(work, ctx, "vllm", model_params={"max_model_len": 128, "gpu_memory_utilization": 0.3,
                                                     "enforce_eager": True},
                   sampling_params={"max_tokens": 16, "temperature": 0.0})
    (out,) = infer_vllm(cfg, _Run(ctx["devices"][:1]))
    rows = _rows(out)
    return {"rows": len(rows), "first_response": rows[0]["response"][:80]}


def step_deepspeed(work: Path, ctx: dict) -> dict:
    need("deepspeed")
    import torch

    from juicer_sandbox.families.launch import command, job_port, launch_env

    if "model" not in ctx:
        raise Skip("no tiny model (step tiny_model did not run)")
    gpu = torch.cuda.is_available()
    world = len(ctx["devices"]) if gpu else 1
    cmd = command("deepspeed", world, str(REPO / "juicer_sandbox/models/ds_train.py"),
                  ["--model", ctx["model"], "--out", str(work / "ds"), "--data", str(work / "train.jsonl"),
                   "--steps", "30", "--zero", "1"], port=job_port("gpu_check"), gpu=gpu,
                  devices=ctx["devices"][:world] if gpu else None)
    env = {**os.environ, "PYTHONPATH": str(REPO), **launch_env("deepspeed", gpu)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    (work / "ds_launch.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"deepspeed launch exit {proc.returncode}: {(proc.stderr or proc.stdout)[-600:]}")
    return {"command": " ".join(cmd), **json.loads((work / "ds" / "result.json").read_text())}


def _metrics_on(device: str, real, gen, probs) -> dict:
    from juicer_sandbox.models import video_metrics as vm

    return {"frechet": vm.fid_from_features(real, gen, device=device),
            "kernel": vm.kernel_distance(real, gen, num_subsets=20, max_subset_size=500, device=device),
            "inception_score": vm.inception_score(probs, num_splits=10, device=device)[0]}


def step_video_metrics(work: Path, ctx: dict) -> dict:
    import torch

    g = torch.Generator().manual_seed(0)
    dim, n = 2048, 4096  # I3D / Inception-v3 pool feature size
    real = torch.randn(n, dim, generator=g, dtype=torch.float64)
    shift = torch.zeros(dim, dtype=torch.float64)
    shift[:16] = 0.5
    gen = real + shift  # same covariance: the Frechet distance is exactly |shift|^2 = 4
    probs = torch.zeros(1010, 101, dtype=torch.float64)
    probs[torch.arange(1010), torch.arange(1010) % 101] = 1.0  # every split sees each class once: IS = 101
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.time()
    on_device = _metrics_on(device, real, gen, probs)
    device_s = time.time() - start
    on_cpu = on_device if device == "cpu" else _metrics_on("cpu", real, gen, probs)
    same = all(abs(on_device[k] - on_cpu[k]) <= 1e-6 * max(1.0, abs(on_cpu[k])) for k in on_cpu)
    from juicer_sandbox.models.video_metrics import selfcheck

    return {"selfcheck": selfcheck(device), "device": device, "device_s": round(device_s, 3), "values": on_device,
            "cpu_values": on_cpu,
            "device_matches_cpu": same, "expected": {"frechet": 4.0, "inception_score": 101.0},
            "frechet_ok": abs(on_device["frechet"] - 4.0) < 1e-6,
            "inception_score_ok": abs(on_device["inception_score"] - 101.0) < 1e-6}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--work", default=None)
    p.add_argument("--steps", default=",".join(STEPS))
    args = p.parse_args(argv)
    import torch

    work = Path(args.work or Path(args.out).resolve().parent / "gpu_check_work")
    work.mkdir(parents=True, exist_ok=True)
    from juicer_sandbox.gpus import node_devices

    devices = node_devices() if torch.cuda.is_available() else []  # CUDA_VISIBLE_DEVICES' entries, else nvidia-smi's
    ctx = {"devices": devices}
    report = {"host": platform.node(), "python": platform.python_version(), "torch": torch.__version__,
              "cuda": torch.version.cuda, "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
              "devices": devices,
              "steps": {}}
    for name in args.steps.split(","):
        start = time.time()
        try:
            result = {"status": "ok", **globals()[f"step_{name}"](work, ctx)}
        except Skip as why:
            result = {"status": "skipped", "reason": str(why)}
        except Exception as exc:  # noqa: BLE001 -- a failed step is a result; the next steps still run
            result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000],
                      "traceback": traceback.format_exc()[-3000:]}
        result["wall_s"] = round(time.time() - start, 2)
        report["steps"][name] = result
        print(f"[gpu_check] {name}: {result['status']} ({result['wall_s']} s)", flush=True)
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    return 0 if all(s["status"] != "failed" for s in report["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
