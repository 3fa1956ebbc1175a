"""Tiny LM: build, train (loss goes down), exact kill-and-resume, evaluate, per-sample loss, local generation.

Everything runs on a 2-layer d32 model over a synthetic corpus in a few seconds.
"""
from __future__ import annotations

import gzip
import json
import math
import pickle
import random

import pytest
import torch
from safetensors.torch import load_file

from juicer_sandbox.errors import ComponentConfigError, SandboxError
from juicer_sandbox.io import read_json, write_jsonl
from juicer_sandbox.models.evaluate import evaluate_lm, per_sample_loss
from juicer_sandbox.models.infer import generate_local
from juicer_sandbox.models.lm import build_model, count_params
from juicer_sandbox.models.tokenizer import train_tokenizer
from juicer_sandbox.models.train import TRAINER_SCHEMA, lr_factor, train_lm, validate_trainer_cfg

SUBJ = "the model|a small filter|the sandbox|every recipe|the tokenizer|our data pool|the trainer".split("|")
VERB = "keeps|drops|reads|writes|scores|learns|ranks|cleans".split("|")
OBJ = "clean text|noisy pages|short lines|the best samples|long documents|many tokens".split("|")
ADV = "quickly|slowly|again|today|with care|in order".split("|")


def _prose(n, seed):
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        sents = [f"{rng.choice(SUBJ).capitalize()} {rng.choice(VERB)} {rng.choice(OBJ)} {rng.choice(ADV)}."
                 for _ in range(rng.randint(1, 6))]
        docs.append(" ".join(sents))
    return docs


TINY = {"n_layer": 2, "d_model": 32, "n_head": 2, "context": 32, "batch_size": 8, "lr": 5e-3,
        "max_tokens": 8 * 32 * 40, "checkpoint_every": 10, "log_every": 5}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    train = d / "train.jsonl.gz"
    with gzip.open(train, "wt", encoding="utf-8") as fh:
        for t in _prose(600, 0):
            fh.write(json.dumps({"text": t, "meta": {"n": len(t)}}) + "\n")
    val = d / "val.jsonl"
    val_texts = _prose(60, 1)
    write_jsonl(val, [{"content": t} for t in val_texts])
    tok = train_tokenizer(_prose(600, 0), 512, d / "tokenizer.json")
    return {"dir": d, "train": train, "val": val, "val_texts": val_texts, "tok": tok}


@pytest.fixture(scope="module")
def trained(corpus):
    out = corpus["dir"] / "run_full"
    metrics = train_lm(TINY, corpus["train"], out, corpus["tok"], progress=False)
    return out, metrics


def test_schema_defaults_and_errors():
    cfg = validate_trainer_cfg({})
    assert cfg["arch"] == "gpt2" and cfg["n_layer"] == 2 and cfg["d_model"] == 128 and cfg["context"] == 128
    assert cfg["batch_size"] == 32 and cfg["lr"] == 2e-3 and cfg["max_tokens"] == 1_000_000
    assert cfg["betas"] == [0.9, 0.95] and cfg["weight_decay"] == 0.1 and cfg["text_key"] == "text"
    assert TRAINER_SCHEMA["additionalProperties"] is False
    assert validate_trainer_cfg({"num_hidden_layers": 3})["n_layer"] == 3
    for bad, key in [({"n_layers": 2}, "n_layers"), ({"arch": "rnn"}, "arch"), ({"lr": 0}, "lr"),
                     ({"d_model": 30, "n_head": 4}, "n_head")]:
        with pytest.raises(ComponentConfigError) as ei:
            validate_trainer_cfg(bad)
        assert ei.value.key == key


def test_lr_schedule_warmup_then_cosine_to_ten_percent():
    steps, warm = 100, 5
    f = [lr_factor(s, steps, warm, 0.1) for s in range(steps)]
    assert f[0] == pytest.approx(0.2) and f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[5:], f[6:]))
    assert f[-1] == pytest.approx(0.1, abs=2e-3)


def test_build_gpt2_and_llama():
    torch.manual_seed(0)
    g = build_model({"arch": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 2, "context": 16}, 300)
    lm = build_model({"arch": "llama", "num_hidden_layers": 1, "hidden_size": 32, "n_head": 4, "context": 16}, 300)
    assert g.config.n_layer == 2 and g.config.n_positions == 16 and g.config.vocab_size == 300
    assert lm.config.num_hidden_layers == 1 and lm.config.hidden_size == 32 and lm.config.tie_word_embeddings
    x = torch.randint(0, 300, (2, 16))
    assert g(input_ids=x).logits.shape == (2, 16, 300) == lm(input_ids=x).logits.shape
    assert count_params(lm) < sum(p.numel() for p in lm.state_dict().values())  # tied embeddings counted once


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_untied_embeddings_are_separate_parameters(arch):
    cfg = {"arch": arch, "n_layer": 1, "d_model": 32, "n_head": 2, "context": 16}
    tied, untied = build_model(cfg, 300), build_model({**cfg, "tie_embeddings": False}, 300)
    assert tied.get_output_embeddings().weight is tied.get_input_embeddings().weight
    assert untied.get_output_embeddings().weight is not untied.get_input_embeddings().weight
    assert count_params(untied) == count_params(tied) + 300 * 32


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(ComponentConfigError) as ei:
        build_model({"model_name_or_path": str(tmp_path / "nope")}, 300)
    assert ei.value.key == "model_name_or_path" and "does not exist" in str(ei.value)
    with pytest.raises(ComponentConfigError, match="config.json"):
        build_model({"model_name_or_path": str(tmp_path)}, 300)


def test_training_reduces_loss_and_writes_outputs(trained):
    out, m = trained
    assert m["steps"] == 40 and m["tokens"] == 40 * 8 * 32 and m["params"] > 0
    curve = read_json(out / "loss_curve.json")
    assert [c["step"] for c in curve] == list(range(1, 41))
    assert set(curve[0]) == {"step", "tokens", "loss", "lr"}
    first = sum(c["loss"] for c in curve[:5]) / 5
    last = sum(c["loss"] for c in curve[-5:]) / 5
    assert last < first - 1.0, (first, last)
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_json(out / "train_metrics.json")["final_train_loss"] == pytest.approx(curve[-1]["loss"])
    assert (out / "model" / "config.json").is_file() and (out / "model" / "tokenizer.json").is_file()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step_000030.safetensors", "step_000040.safetensors"]


def test_kill_and_resume_gives_identical_weights(corpus, trained):
    full_out, full = trained
    out = corpus["dir"] / "run_resumed"
    part = train_lm(TINY, corpus["train"], out, corpus["tok"], progress=False, stop_after_steps=25)
    assert part == {"stopped_early": True, "steps_done": 25, "steps": 40}
    assert not (out / "model").exists()
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == [
        "step_000010.safetensors", "step_000020.safetensors"]
    res = train_lm(TINY, corpus["train"], out, corpus["tok"], progress=False)
    assert res["resumed_from_step"] == 20 and res["steps_this_run"] == 20
    a = load_file(full_out / "model" / "model.safetensors")
    b = load_file(out / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert read_json(out / "loss_curve.json") == read_json(full_out / "loss_curve.json")
    # a finished run resumes at the end: no steps, same result
    again = train_lm(TINY, corpus["train"], out, corpus["tok"], progress=False)
    assert again["steps_this_run"] == 0 and again["final_train_loss"] == full["final_train_loss"]


def test_changed_config_does_not_resume_stale_checkpoint(corpus):
    out = corpus["dir"] / "run_stale"
    train_lm({**TINY, "max_tokens": 8 * 32 * 10}, corpus["train"], out, corpus["tok"], progress=False,
             stop_after_steps=None)
    m = train_lm({**TINY, "max_tokens": 8 * 32 * 10, "lr": 1e-3}, corpus["train"], out, corpus["tok"],
                 progress=False)
    assert m["resumed_from_step"] is None and m["steps_this_run"] == 10


class _Planted:
    """A pickle whose loading runs code: it creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def test_planted_pickle_checkpoint_is_never_loaded(corpus, trained, caplog):
    full_out, full = trained
    control = corpus["dir"] / "control_marker"
    pickle.loads(pickle.dumps(_Planted(control)))  # the payload is live: unpickling it runs code
    assert control.is_file()

    marker = corpus["dir"] / "planted_marker"
    ckpts = corpus["dir"] / "planted_ckpts"
    ckpts.mkdir()
    payload = pickle.dumps({"fingerprint": "x", "step": 30, "model": _Planted(marker)})
    (ckpts / "step_000030.pt").write_bytes(payload)           # the old checkpoint name
    (ckpts / "step_000035.safetensors").write_bytes(payload)  # a pickle under the new name
    out = corpus["dir"] / "run_planted"
    with caplog.at_level("WARNING", logger="juicer_sandbox.train"):
        m = train_lm(TINY, corpus["train"], out, corpus["tok"], progress=False, checkpoint_dir=ckpts)
    assert not marker.exists()
    assert m["resumed_from_step"] is None and m["steps_this_run"] == 40  # restarted from step 0
    assert m["final_train_loss"] == full["final_train_loss"]
    text = caplog.text
    assert "step_000030.pt" in text and "never opened" in text
    assert "step_000035.safetensors" in text and "unreadable checkpoint" in text
    assert (ckpts / "step_000030.pt").read_bytes() == payload  # reported, left alone


def test_checkpoint_is_safetensors_with_json_state(trained):
    from safetensors import safe_open

    out, _ = trained
    with safe_open(str(out / "checkpoints" / "step_000040.safetensors"), framework="pt") as fh:
        meta = json.loads(fh.metadata()["juicer_sandbox.checkpoint"])
        keys = set(fh.keys())
    assert meta["step"] == 40 and len(meta["history"]) == 40 and meta["format"] == 1
    assert {"rng.torch", "optim.0.exp_avg"} <= keys and any(k.startswith("model.") for k in keys)
    assert meta["model_aliases"]  # tied embeddings stored once


def test_evaluate_and_per_sample_loss(corpus, trained):
    out, _ = trained
    r = evaluate_lm(out / "model", corpus["val"], text_key="content")
    assert math.isfinite(r["loss"]) and r["perplexity"] == pytest.approx(math.exp(r["loss"]))
    assert r["bytes"] == sum(len(t.encode()) for t in corpus["val_texts"]) and r["docs"] == 60
    assert r["bits_per_byte"] == pytest.approx(r["loss"] * r["tokens"] / math.log(2) / r["bytes"])
    assert r["loss"] < math.log(512)  # better than uniform
    # window size does not change the number of predicted tokens
    r16 = evaluate_lm(out / "model", corpus["val"], text_key="content", context=16, batch_size=3)
    assert r16["tokens"] == r["tokens"] and math.isfinite(r16["loss"])
    small = evaluate_lm(out / "model", corpus["val"], text_key="content", max_tokens=100)
    assert 0 < small["tokens"] <= 100 and small["docs"] < 60

    texts = corpus["val_texts"][:10] + ["", "zzzz qqqq"]
    losses = per_sample_loss(out / "model", texts, batch_size=4)
    assert len(losses) == 12 and all(math.isfinite(x) for x in losses)
    assert losses[-1] > max(losses[:10])  # gibberish costs more than in-distribution prose
    # one document: per-sample loss == evaluate_lm on that document alone
    single = evaluate_lm(out / "model", [texts[0]])
    assert single["loss"] == pytest.approx(losses[0], rel=1e-5)
    # padding/batching does not change the values
    assert per_sample_loss(out / "model", texts, batch_size=1) == pytest.approx(losses, rel=1e-5)
    with pytest.raises(ComponentConfigError):
        evaluate_lm(corpus["dir"] / "nope", corpus["val"])


def test_generate_local_greedy_and_seeded(trained):
    out, _ = trained
    rows = [{"q": "The model keeps"}, {"q": "Every recipe"}]
    g1 = generate_local(out / "model", rows, prompt_key="q", out_key="a", max_new_tokens=8)
    g2 = generate_local(out / "model", rows, prompt_key="q", out_key="a", max_new_tokens=8)
    assert g1 == g2 and all(isinstance(r["a"], str) and r["q"] for r in g1) and "a" not in rows[0]
    s1 = generate_local(out / "model", rows, "q", "a", 8, seed=1, do_sample=True, temperature=1.0)
    s2 = generate_local(out / "model", rows, "q", "a", 8, seed=1, do_sample=True, temperature=1.0)
    assert s1 == s2
    # a prompt longer than the context is cut from the left instead of failing
    long = generate_local(out / "model", [{"q": "the model " * 100}], "q", "a", 50)
    assert isinstance(long[0]["a"], str)


def test_finetune_from_local_model_dir(corpus, trained):
    out, _ = trained
    m = train_lm({"model_name_or_path": str(out / "model"), "context": 32, "batch_size": 8,
                  "max_tokens": 8 * 32 * 3}, corpus["train"], corpus["dir"] / "ft", None, progress=False)
    assert m["steps"] == 3 and m["final_train_loss"] < 4.0  # starts from the trained weights


def test_too_little_data_is_an_error(corpus, tmp_path):
    p = tmp_path / "tiny.jsonl"
    write_jsonl(p, [{"text": "hi"}])
    with pytest.raises(SandboxError, match="tokens"):
        train_lm(TINY, p, tmp_path / "o", corpus["tok"], progress=False)


def test_progress_lines_and_deepspeed_ignored_on_cpu(corpus, tmp_path, capsys, caplog, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *a, **k):  # force the plain-print fallback
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    caplog.set_level("WARNING", logger="juicer_sandbox.train")
    m = train_lm({**TINY, "max_tokens": 8 * 32 * 10, "deepspeed": {"zero_optimization": {"stage": 2}}},
                 corpus["train"], tmp_path / "o", corpus["tok"], progress=True)
    assert m["deepspeed"] is False and m["device"] == "cpu"
    assert "step 5/10" in capsys.readouterr().err
    assert any("deepspeed" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)
