"""The model families for real on CPU, with the project's tiny from-scratch model saved in Hugging Face format
(trained here; nothing is downloaded):

* a sandbox runs `huggingface` inference through Snakemake (its family's env is Snakemake's own here) while a
  `vllm` job of the same sandbox stops at its start with one line naming what its family lacks on this machine
  (the vllm package, a GPU) and how to provide each;
* `doctor` lists both jobs' needs before running;
* DeepSpeed (ZeRO-1, AdamW) trains the tiny model with two ranks launched by torchrun, DeepSpeed's CPU
  accelerator and gloo, and the trained model loads back.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.families import launch
from juicer_sandbox.io import write_jsonl

from .conftest import REPO, run_snakemake

pytestmark = pytest.mark.e2e


def _prose(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = "the model reads clean text and writes short lines about every recipe in our data pool".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) + "." for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """The project's tiny GPT-2, trained from scratch here, saved with save_pretrained (+ its tokenizer)."""
    from juicer_sandbox.models.tokenizer import train_tokenizer
    from juicer_sandbox.models.train import train_lm

    d = tmp_path_factory.mktemp("tiny")
    write_jsonl(d / "train.jsonl", [{"text": t} for t in _prose(400, 0)])
    tok = train_tokenizer(_prose(400, 0), 300, d / "tokenizer.json")
    cfg = {"n_layer": 2, "d_model": 32, "n_head": 2, "context": 32, "batch_size": 8, "lr": 5e-3,
           "max_tokens": 8 * 32 * 20, "checkpoint_every": 100, "log_every": 10}
    train_lm(cfg, d / "train.jsonl", d / "run", tok, progress=False)
    assert (d / "run/model/config.json").is_file()
    return d / "run/model"


def test_huggingface_runs_and_vllm_says_what_it_lacks(workdir, tiny_model):
    write_jsonl(workdir / "q.jsonl", [{"query": "the model reads"}, {"query": "clean text"}])
    llm = {"dataset_path": "q.jsonl", "model": str(tiny_model),
           "sampling_params": {"max_new_tokens": 4, "do_sample": False}}
    sandbox = {"work_dir": "out", "execution_job_configs": [
        {"hook": "InferModelHook", "meta_name": "hf", "extra_configs": {"type": "huggingface", **llm}},
        {"hook": "InferModelHook", "meta_name": "vllm", "extra_configs": {"type": "vllm", **llm}}]}
    (workdir / "sb.yaml").write_text(yaml.safe_dump(sandbox))

    doctor = subprocess.run([sys.executable, "-m", "juicer_sandbox", "doctor", "sb.yaml"], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO), JUICER_SANDBOX_GPUS=""))
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "anonymous/execution_hf: huggingface (huggingface family)" in doctor.stdout
    assert "  MISSING env: vllm not installed in the 'vllm' env" in doctor.stdout
    assert doctor.stdout.splitlines()[-1].startswith("2 of 2 job(s) use a model family (huggingface, vllm); 1 missing")

    proc = run_snakemake(workdir, "sb.yaml", "--keep-going", check=False)
    assert proc.returncode != 0
    record = json.loads((workdir / "out/anonymous/execution_hf/context.json").read_text())
    rows = [json.loads(line) for line in Path(record["outputs"]["res_1"]).read_text().splitlines()]
    assert [r["query"] for r in rows] == ["the model reads", "clean text"]
    assert all(isinstance(r["response"], str) for r in rows)
    assert not (workdir / "out/anonymous/execution_vllm/context.json").exists()
    [line] = [ln for ln in proc.stderr.splitlines() if "job anonymous/execution_vllm failed" in ln]
    assert "vllm (vllm family) cannot start: env: vllm not installed in the 'vllm' env" in line
    assert "gpu: needs 1 GPU(s), this node shows 0" in line and "envs/vllm.yaml" in line


def test_deepspeed_trains_the_tiny_model_on_two_cpu_ranks(tmp_path, tiny_model):
    pytest.importorskip("deepspeed")
    data = tmp_path / "data.jsonl"
    write_jsonl(data, [{"text": t} for t in _prose(200, 1)])
    out = tmp_path / "ds"
    script = str(REPO / "juicer_sandbox/models/ds_train.py")
    cmd = launch.command("torchrun", 2, script, ["--model", str(tiny_model), "--out", str(out), "--data", str(data),
                                                 "--steps", "12", "--zero", "1"],
                         port=launch.job_port(str(tmp_path)), gpu=False)
    env = dict(os.environ, PYTHONPATH=str(REPO), **launch.launch_env("deepspeed", gpu=False), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["world_size"] == 2 and result["device"] == "cpu" and result["zero_stage"] == 1
    assert len(result["losses"]) == 12 and all(0 < x < 20 for x in result["losses"])
    from transformers import AutoModelForCausalLM

    trained = AutoModelForCausalLM.from_pretrained(out / "model")
    assert trained.config.vocab_size == AutoModelForCausalLM.from_pretrained(tiny_model).config.vocab_size
