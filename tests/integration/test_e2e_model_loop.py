"""The model side end to end through `snakemake`, with a very small LM on a corpus slice.

tokenizer -> train -> evaluate; per-sample model loss as a stat -> model-feedback refinement
-> Data-Juicer processing with the refined recipe -> quality classifier on the result;
local inference. And: a training job killed mid-way resumes from its checkpoint on rerun.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, SNAKEMAKE, demo_slice, run_snakemake

pytestmark = pytest.mark.e2e

TINY_LM = {"type": "causal_lm", "arch": "gpt2", "n_layer": 1, "d_model": 32, "n_head": 2, "context": 32,
           "batch_size": 8, "max_tokens": 8192, "checkpoint_every": 8, "seed": 0}


def _val_slice(dest: Path, n: int) -> Path:
    import gzip
    import itertools

    out = dest / "val.jsonl"
    with gzip.open(REPO / "data/demo/val.jsonl.gz", "rt", encoding="utf-8") as src, open(out, "w") as fh:
        fh.writelines(itertools.islice(src, n))
    return out


def _sandbox(workdir: Path, data: Path, val: Path, prompts: Path) -> str:
    recipe = {"dataset_path": str(data), "export_path": "exports/refined_data.jsonl", "text_keys": "text",
              "process": [{"text_length_filter": {"min_len": 1}}]}
    ref = "anonymous"
    spec = {
        "work_dir": "out", "seed": 3,
        "execution_job_configs": [
            {"hook": "TrainModelHook", "meta_name": "tok",
             "extra_configs": {"type": "bpe_tokenizer", "dataset_path": str(data), "vocab_size": 512}},
            {"hook": "TrainModelHook", "meta_name": "lm",
             "input": {"extra_configs.tokenizer_path": f"{ref}.tok.res_1"},
             "extra_configs": {**TINY_LM, "dataset_path": str(data)}},
            {"hook": "InferModelHook", "meta_name": "gen",
             "input": {"extra_configs.model_path": f"{ref}.lm.res_1"},
             "extra_configs": {"type": "local", "dataset_path": str(prompts), "max_new_tokens": 5}},
        ],
        "evaluation_job_configs": [
            {"hook": "EvaluateModelHook", "meta_name": "val",
             "input": {"extra_configs.model_path": f"{ref}.lm.res_1"},
             "extra_configs": {"type": "lm_loss", "val_path": str(val), "arm": "raw"}},
            {"hook": "ProbeViaModelInferHook", "meta_name": "loss_probe",
             "input": {"extra_configs.model_path": f"{ref}.lm.res_1"},
             "extra_configs": {"dataset_path": str(data)}},
            {"hook": "RefineRecipeViaModelFeedbackHook", "meta_name": "feedback", "dj_configs": recipe,
             "input": {"extra_configs.dataset_path": f"{ref}.loss_probe.res_1"},
             "extra_configs": {"method": "loss_threshold", "keep_quantile": 0.5,
                               "path_refined_recipe": "exports/feedback.yaml"}},
            {"hook": "ProcessDataHook", "meta_name": "process", "dj_configs": "exports/feedback.yaml"},
            {"hook": "EvaluateDataHook", "meta_name": "quality",
             "input": {"extra_configs.dataset_path": f"{ref}.process.res_1"},
             "extra_configs": {"type": "text_quality_classifier", "reference_path": str(val),
                               "negative_path": str(data), "keep_rule": "gpt3"}},
        ],
    }
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "sandbox.yaml"


def test_model_loop_end_to_end(workdir):
    data = demo_slice(workdir / "data", 400)
    val = _val_slice(workdir / "data", 100)
    prompts = workdir / "data" / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["The module", "Debian is", "A file"]))
    run_snakemake(workdir, _sandbox(workdir, data, val, prompts))
    jobs = {j["meta_name"]: j for j in json.loads((workdir / "out/summary.json").read_text())["jobs"]}

    train = jobs["lm"]["metrics"]
    assert train["steps"] == 8192 // (8 * 32) and train["tokens"] == 8192
    val_metrics = jobs["val"]["metrics"]
    assert val_metrics["perplexity"] == pytest.approx(2.718281828 ** val_metrics["loss"], rel=1e-6)
    assert 0 < val_metrics["bits_per_byte"] < 20

    losses = [r["__dj__stats__"]["model_loss"] for r in map(json.loads, open(jobs["loss_probe"]["outputs"]["res_1"]))]
    assert len(losses) == 400
    threshold = jobs["feedback"]["metrics"]["threshold"]
    expected = sum(1 for v in losses if v <= threshold)
    assert jobs["process"]["metrics"]["samples_out"] == expected
    assert 180 <= expected <= 220  # the median keeps about half
    assert 0.0 < jobs["quality"]["outputs"]["res_1"] < 1.0

    generated = [json.loads(line) for line in open(jobs["gen"]["outputs"]["res_1"])]
    assert [g["text"] for g in generated] == ["The module", "Debian is", "A file"]
    assert all(isinstance(g["response"], str) for g in generated)
    md = (workdir / "out/summary.md").read_text()
    assert "Models trained on each data arm" in md and "| raw |" in md


def test_killed_training_resumes_from_checkpoint(workdir):
    data = demo_slice(workdir / "data", 400)
    long_lm = {**TINY_LM, "max_tokens": 160 * 8 * 32, "checkpoint_every": 10}
    spec = {"work_dir": "out", "execution_job_configs": [
        {"hook": "TrainModelHook", "meta_name": "tok",
         "extra_configs": {"type": "bpe_tokenizer", "dataset_path": str(data), "vocab_size": 512}},
        {"hook": "TrainModelHook", "meta_name": "lm", "input": {"extra_configs.tokenizer_path": "anonymous.tok.res_1"},
         "extra_configs": {**long_lm, "dataset_path": str(data)}}]}
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
           "--config", "sandbox=sandbox.yaml"]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    ckpts = workdir / "out/.scratch/anonymous/execution_lm/checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not (ckpts.is_dir() and list(ckpts.glob("step_*.safetensors"))):
        assert proc.poll() is None, "snakemake ended before the first checkpoint"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, training job included
    proc.wait()
    assert not (workdir / "out/anonymous/execution_lm/context.json").exists()

    # a hard kill leaves Snakemake's lock behind: unlock, then rerun (the profile's
    # rerun-incomplete redoes the killed job, which resumes from its checkpoint)
    run_snakemake(workdir, "sandbox.yaml", "--unlock")
    run_snakemake(workdir, "sandbox.yaml")
    record = json.loads((workdir / "out/anonymous/execution_lm/context.json").read_text())
    assert record["metrics"]["steps"] == 160
    assert 0 < record["metrics"]["steps"] - record["metrics"]["steps_this_run"] < 160  # resumed, not from step 0
    log = (workdir / "out/logs/anonymous/execution_lm.log").read_text()
    assert "resum" in log
