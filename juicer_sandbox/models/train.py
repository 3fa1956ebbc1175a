"""Plain-PyTorch trainer for tiny causal LMs with a fixed token budget and exact resume.

``train_lm(cfg, train_path, out_dir, tokenizer_path)``:

* tokenises the jsonl(.gz) pool into one token stream (documents joined with
  ``<|endoftext|>``; uint16, streaming),
* trains for ``steps = max_tokens // (batch_size * context)`` steps whatever the
  pool size (DataComp-style fixed budget), each step on ``batch_size`` random
  windows of ``context + 1`` tokens drawn by a seeded numpy generator,
* AdamW (betas, weight decay on 2-D weights only), linear warm-up then cosine to
  ``min_lr_ratio * lr``, gradient clipping,
* checkpoints every ``checkpoint_every`` steps and at the end, atomically, into
  ``out_dir/checkpoints/step_NNNNNN.pt`` (model, optimizer, scheduler, torch +
  numpy + python RNG states, step, loss history). On start it resumes from the
  newest checkpoint whose fingerprint (config + seed + token stream + tokenizer)
  matches, so a killed run continues and ends with the same weights as an
  uninterrupted one (bit-for-bit on CPU with the same thread count),
* writes ``out_dir/model/`` (save_pretrained + tokenizer), ``loss_curve.json``,
  ``loss_curve.png`` and ``train_metrics.json``.

Torch and transformers are imported lazily, so importing ``TRAINER_SCHEMA`` is cheap.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from ..errors import ComponentConfigError, SandboxError
from ..io import atomic_path, replace_dir, write_json

log = logging.getLogger("juicer_sandbox.train")

_POS_INT = {"type": "integer", "minimum": 1}

#: JSON schema of the trainer's cfg (defaults are filled by :func:`validate_trainer_cfg`).
TRAINER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "train_lm config",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "description": "component selector; ignored by the trainer"},
        # model
        "arch": {"enum": ["gpt2", "llama"], "default": "gpt2", "description": "architecture built from scratch"},
        "n_layer": {**_POS_INT, "default": 2, "description": "transformer layers"},
        "d_model": {**_POS_INT, "default": 128, "description": "hidden size"},
        "n_head": {**_POS_INT, "default": 4, "description": "attention heads (must divide d_model)"},
        "num_hidden_layers": {**_POS_INT, "description": "alias of n_layer"},
        "hidden_size": {**_POS_INT, "description": "alias of d_model"},
        "num_attention_heads": {**_POS_INT, "description": "alias of n_head"},
        "d_ff": {"type": ["integer", "null"], "minimum": 1, "default": None,
                 "description": "MLP width (null: gpt2 4*d_model, llama ~8/3*d_model)"},
        "context": {**_POS_INT, "default": 128, "description": "tokens per training window"},
        "dropout": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.0},
        "tie_embeddings": {"type": "boolean", "default": True,
                           "description": "output layer shares the input embedding matrix"},
        "vocab_size": {"type": ["integer", "null"], "minimum": 2, "default": None,
                       "description": "model vocabulary (null: the tokenizer's size; must be >= it)"},
        "model_name_or_path": {"type": ["string", "null"], "default": None,
                               "description": "LOCAL model directory to start from instead of a fresh model"},
        # optimisation
        "batch_size": {**_POS_INT, "default": 32},
        "lr": {"type": "number", "exclusiveMinimum": 0, "default": 2e-3},
        "min_lr_ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1,
                         "description": "cosine decays to lr * min_lr_ratio"},
        "warmup": {"type": "number", "minimum": 0, "default": 0.05,
                   "description": "warm-up: a fraction of the steps if < 1, else a number of steps"},
        "weight_decay": {"type": "number", "minimum": 0, "default": 0.1},
        "betas": {"type": "array", "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                  "minItems": 2, "maxItems": 2, "default": [0.9, 0.95]},
        "grad_clip": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 1.0},
        "max_tokens": {**_POS_INT, "default": 1_000_000,
                       "description": "training budget; steps = max_tokens // (batch_size * context)"},
        "precision": {"enum": ["fp32", "bf16"], "default": "fp32", "description": "bf16 = CPU/GPU autocast"},
        "device": {"enum": ["auto", "cpu", "cuda"], "default": "auto"},
        "seed": {"type": "integer", "default": 0},
        # data
        "text_key": {"type": "string", "minLength": 1, "default": "text"},
        # bookkeeping
        "checkpoint_every": {**_POS_INT, "default": 100, "description": "steps between checkpoints"},
        "keep_checkpoints": {**_POS_INT, "default": 2, "description": "newest checkpoints kept"},
        "log_every": {**_POS_INT, "default": 10, "description": "steps between plain progress lines"},
        "deepspeed": {"type": ["object", "string", "null"], "default": None,
                      "description": "DeepSpeed config (dict or JSON path); "
                                     "used only with CUDA and deepspeed installed, else ignored with a warning"},
    },
}

# keys that do not change the training trajectory (not part of the resume fingerprint)
_NON_TRAJECTORY = {"type", "checkpoint_every", "keep_checkpoints", "log_every"}
_ALIASES = {"num_hidden_layers": "n_layer", "hidden_size": "d_model", "num_attention_heads": "n_head"}


def _schema_error_key(err) -> tuple[str, str]:
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            import difflib

            key = f"{path}.{extra[0]}" if path else extra[0]
            hint = difflib.get_close_matches(extra[0], sorted(allowed), n=1)
            if hint:
                return key, f"unknown key (did you mean '{hint[0]}'?)"
            return key, f"unknown key; allowed keys: {', '.join(sorted(allowed))}"
    return path or "<root>", err.message


def validate_against(schema: Mapping[str, Any], cfg: Mapping[str, Any] | None) -> dict:
    """Validate ``cfg`` against a flat object schema and return a copy with defaults filled.

    Raises :class:`ComponentConfigError` naming the offending key.
    """
    import jsonschema

    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise ComponentConfigError(f"config must be a mapping, got {type(cfg).__name__}")
    out = dict(cfg)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(out), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        key, msg = _schema_error_key(errors[0])
        raise ComponentConfigError(msg, key=key)
    for name, sub in schema.get("properties", {}).items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
    return out


def validate_trainer_cfg(cfg: Mapping[str, Any] | None) -> dict:
    """Validate the trainer cfg, resolve HF-style aliases, fill defaults."""
    raw = dict(cfg or {})
    for alias, canon in _ALIASES.items():
        if alias in raw:
            v = raw.pop(alias)
            if canon in raw and raw[canon] != v:
                raise ComponentConfigError(f"conflicts with {canon}={raw[canon]!r}", key=alias)
            raw[canon] = v
    out = validate_against(TRAINER_SCHEMA, raw)
    if out["d_model"] % out["n_head"]:
        raise ComponentConfigError(f"d_model {out['d_model']} is not divisible by n_head {out['n_head']}", key="n_head")
    return out


# --------------------------------------------------------------------------------------------
# data


def tokenize_file(path: str | os.PathLike, tok, text_key: str = "text"):
    """(stream, n_docs, n_bytes) of a jsonl(.gz) file: docs joined with <|endoftext|>."""
    from .tokenizer import encode_texts, iter_texts

    if not Path(path).is_file():
        raise SandboxError(f"training data not found: {path}")
    return encode_texts(iter_texts(path, text_key), tok)


def sample_batch(stream, rng, batch_size: int, context: int):
    """``batch_size`` random windows of ``context + 1`` tokens as an int64 numpy array."""
    import numpy as np

    starts = rng.integers(0, len(stream) - context, size=batch_size)
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    return stream[idx].astype(np.int64)


def lr_factor(step: int, steps: int, warmup_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak lr at optimizer step ``step`` (0-based): linear warm-up, cosine to min_ratio."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class _LRLambda:
    """Picklable schedule (a plain closure would not survive scheduler.state_dict)."""

    def __init__(self, steps: int, warmup_steps: int, min_ratio: float):
        self.steps, self.warmup_steps, self.min_ratio = steps, warmup_steps, min_ratio

    def __call__(self, step: int) -> float:
        return lr_factor(step, self.steps, self.warmup_steps, self.min_ratio)


def make_optimizer(model, cfg: Mapping[str, Any]):
    """AdamW with weight decay on >=2-D tensors only (biases and norms are not decayed)."""
    import torch

    decay, no_decay = [], []
    seen = set()
    for _, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": float(cfg["weight_decay"])},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=float(cfg["lr"]), betas=tuple(cfg["betas"]), eps=1e-8)


# --------------------------------------------------------------------------------------------
# checkpoints

_CKPT_RE = re.compile(r"^step_(\d{6,})\.pt$")


def _list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    out = []
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            m = _CKPT_RE.match(p.name)
            if m:
                out.append((int(m.group(1)), p))
    return sorted(out)


def _load_latest_checkpoint(ckpt_dir: Path, fingerprint: str):
    """Newest readable checkpoint with a matching fingerprint, or None. Stale ones are removed."""
    import torch

    for step, path in reversed(_list_checkpoints(ckpt_dir)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # truncated by a crash outside the atomic rename, or corrupt
            log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
            continue
        if state.get("fingerprint") != fingerprint:
            log.warning("removing stale checkpoint %s (different config, seed or data)", path)
            path.unlink(missing_ok=True)
            continue
        return state
    return None


def _save_checkpoint(ckpt_dir: Path, state: dict, keep: int) -> Path:
    import torch

    path = ckpt_dir / f"step_{state['step']:06d}.pt"
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
    for _, old in _list_checkpoints(ckpt_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _rng_states(np_rng, device) -> dict:
    import torch

    st = {"torch": torch.get_rng_state(), "numpy": np_rng.bit_generator.state, "python": random.getstate()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_states(st: dict, np_rng, device) -> None:
    import torch

    torch.set_rng_state(st["torch"])
    np_rng.bit_generator.state = st["numpy"]
    random.setstate(st["python"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


# --------------------------------------------------------------------------------------------
# outputs


def plot_loss_curve(history: list[dict], png_path: str | os.PathLike, title: str = "") -> None:
    """Loss vs training tokens (and lr on a second axis) to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    try:
        toks = [h["tokens"] for h in history]
        ax.plot(toks, [h["loss"] for h in history], color="tab:blue", lw=1.2, label="train loss")
        ax.set_xlabel("training tokens")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(toks, [h["lr"] for h in history], color="tab:orange", lw=0.8, alpha=0.7, label="lr")
        ax2.set_ylabel("learning rate")
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(png_path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def _save_pretrained_quietly(model, path: Path) -> None:
    from .lm import quiet_hf_progress

    with quiet_hf_progress():
        model.save_pretrained(str(path))


def _fingerprint(cfg: dict, seed: int, stream, tok_fp: str, vocab: int) -> str:
    h = hashlib.sha256()
    traj = {k: v for k, v in cfg.items() if k not in _NON_TRAJECTORY}
    h.update(json.dumps({"cfg": traj, "seed": seed, "tok": tok_fp, "vocab": vocab}, sort_keys=True).encode())
    h.update(str(len(stream)).encode())
    h.update(hashlib.blake2b(stream.tobytes(), digest_size=16).digest())
    return h.hexdigest()[:32]


def _load_deepspeed_cfg(ds) -> dict:
    if isinstance(ds, str):
        try:
            with open(ds, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise ComponentConfigError(f"cannot read DeepSpeed config {ds!r}: {exc}", key="deepspeed") from None
    return dict(ds)


def _want_deepspeed(cfg: dict, device) -> bool:
    if not cfg.get("deepspeed"):
        return False
    if device.type != "cuda":
        log.warning("deepspeed config given but no CUDA device: ignored, training with plain PyTorch on CPU")
        return False
    try:
        import deepspeed  # noqa: F401
    except Exception:
        log.warning("deepspeed config given but deepspeed is not importable: ignored, plain PyTorch loop")
        return False
    return True


# --------------------------------------------------------------------------------------------
# the trainer


def train_lm(
    cfg: Mapping[str, Any] | None,
    train_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    tokenizer_path: str | os.PathLike | None = None,
    *,
    threads: int = 1,
    seed: int | None = None,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    stop_after_steps: int | None = None,
) -> dict:
    """Train a tiny causal LM on ``train_path`` (jsonl/jsonl.gz) and write it to ``out_dir``.

    ``cfg`` follows :data:`TRAINER_SCHEMA` (validated, defaults filled).
    ``tokenizer_path``: tokenizer.json (or its directory); if None, the
    ``model_name_or_path`` directory's tokenizer is used.
    ``seed``: overrides ``cfg["seed"]`` when given (both default to 0).
    ``checkpoint_dir``: defaults to ``out_dir/checkpoints`` (put it outside
    ``out_dir`` if a workflow engine deletes ``out_dir`` before a rerun).
    ``stop_after_steps``: test hook that simulates a kill: stop after that many
    optimizer steps WITHOUT writing a checkpoint or outputs.

    Returns the metrics dict also written to ``out_dir/train_metrics.json``
    (``stopped_early`` runs return a partial dict and write nothing final).
    """
    t_wall0 = time.perf_counter()
    cfg = validate_trainer_cfg(cfg)
    seed = int(cfg["seed"] if seed is None else seed)
    cfg["seed"] = seed

    import numpy as np
    import torch
    import torch.nn.functional as F

    from .lm import build_model, count_params
    from .tokenizer import eos_id, load_tokenizer, resolve_tokenizer_file, save_hf_tokenizer, tokenizer_fingerprint

    torch.set_num_threads(max(1, int(threads)))
    out_dir = Path(out_dir)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir / "checkpoints"

    if tokenizer_path is None:
        if not cfg.get("model_name_or_path"):
            raise ComponentConfigError("no tokenizer: pass tokenizer_path or set model_name_or_path", key="tokenizer")
        tokenizer_path = cfg["model_name_or_path"]
    tok_file = resolve_tokenizer_file(tokenizer_path)
    tok = load_tokenizer(tok_file)
    eos = eos_id(tok)
    tok_vocab = tok.get_vocab_size(with_added_tokens=True)
    vocab = cfg["vocab_size"] or tok_vocab
    if vocab < tok_vocab:
        raise ComponentConfigError(f"vocab_size {vocab} is smaller than the tokenizer's {tok_vocab}", key="vocab_size")

    # ---- data
    t0 = time.perf_counter()
    stream, n_docs, n_bytes = tokenize_file(train_path, tok, cfg["text_key"])
    tokenize_seconds = time.perf_counter() - t0
    ctx, bs = cfg["context"], cfg["batch_size"]
    if len(stream) < ctx + 2:
        raise SandboxError(
            f"{train_path}: only {len(stream)} tokens ({n_docs} docs); need more than context+1 = {ctx + 1}"
        )
    tokens_per_step = bs * ctx
    steps = max(1, cfg["max_tokens"] // tokens_per_step)
    warm = cfg["warmup"]
    warmup_steps = int(round(warm * steps)) if warm < 1 else int(warm)
    warmup_steps = min(warmup_steps, steps)

    # ---- device
    want = cfg["device"]
    if want == "cuda" and not torch.cuda.is_available():
        raise ComponentConfigError("device 'cuda' requested but CUDA is not available", key="device")
    device = torch.device("cuda" if want in ("auto", "cuda") and torch.cuda.is_available() else "cpu")

    # ---- model, optimizer, schedule (deterministic from the seed)
    torch.manual_seed(seed)
    random.seed(seed)
    model = build_model(cfg, vocab, eos_token_id=eos).to(device)
    model.train()
    n_params = count_params(model)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _LRLambda(steps, warmup_steps, cfg["min_lr_ratio"]))
    np_rng = np.random.Generator(np.random.PCG64(seed))
    fingerprint = _fingerprint(cfg, seed, stream, tokenizer_fingerprint(tok_file), vocab)

    use_ds = _want_deepspeed(cfg, device)
    engine = None
    if use_ds:  # pragma: no cover - needs CUDA + deepspeed
        import deepspeed

        ds_cfg = _load_deepspeed_cfg(cfg["deepspeed"])
        ds_cfg.setdefault("train_micro_batch_size_per_gpu", bs)
        ds_cfg.setdefault("gradient_accumulation_steps", 1)
        if cfg["grad_clip"]:
            ds_cfg.setdefault("gradient_clipping", float(cfg["grad_clip"]))
        engine, opt, _, sched = deepspeed.initialize(model=model, optimizer=opt, lr_scheduler=sched, config=ds_cfg)

    # ---- resume
    start_step, history, train_seconds, resumed_from = 0, [], 0.0, None
    if use_ds:  # pragma: no cover
        tag_file = ckpt_dir / "ds" / "latest"
        if tag_file.is_file():
            _, client = engine.load_checkpoint(str(ckpt_dir / "ds"))
            if client and client.get("fingerprint") == fingerprint:
                start_step, history = client["step"], client["history"]
                train_seconds = client.get("train_seconds", 0.0)
                _set_rng_states(client["rng"], np_rng, device)
                resumed_from = start_step
    else:
        state = _load_latest_checkpoint(ckpt_dir, fingerprint)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            _set_rng_states(state["rng"], np_rng, device)
            start_step, history = int(state["step"]), list(state["history"])
            train_seconds = float(state.get("train_seconds", 0.0))
            resumed_from = start_step
            log.info("resumed from %s at step %d/%d", ckpt_dir, start_step, steps)

    def save_ckpt(step: int) -> None:
        rng = _rng_states(np_rng, device)
        if use_ds:  # pragma: no cover
            engine.save_checkpoint(
                str(ckpt_dir / "ds"), tag=f"step_{step:06d}",
                client_state={"fingerprint": fingerprint, "step": step, "history": history,
                              "train_seconds": train_seconds, "rng": rng},
            )
            return
        _save_checkpoint(
            ckpt_dir,
            {
                "fingerprint": fingerprint, "step": step, "steps": steps,
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng": rng, "history": history, "train_seconds": train_seconds,
            },
            cfg["keep_checkpoints"],
        )

    # ---- progress
    bar = None
    if progress and start_step < steps:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=start_step, desc=f"train {Path(out_dir).name}", unit="step",
                       file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
        except Exception:
            bar = None
    if resumed_from is not None and progress:
        print(f"[train_lm] resuming at step {resumed_from}/{steps}", file=sys.stderr)

    autocast = cfg["precision"] == "bf16"
    grad_clip = cfg["grad_clip"]
    fwd = engine if engine is not None else model
    stopped_early = False
    run_steps = 0
    seconds_before = train_seconds  # loop time of earlier (interrupted) runs
    t_loop = time.perf_counter()
    cpu_loop = time.process_time()
    for step in range(start_step, steps):
        w = torch.from_numpy(sample_batch(stream, np_rng, bs, ctx)).to(device, non_blocking=True)
        x, y = w[:, :-1], w[:, 1:]
        lr_now = opt.param_groups[0]["lr"]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = fwd(input_ids=x).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        if engine is not None:  # pragma: no cover
            engine.backward(loss)
            engine.step()
        else:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
            opt.step()
            sched.step()
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            raise SandboxError(f"training diverged at step {step + 1}: loss is {loss_v} (try a lower lr)")
        done = step + 1
        run_steps += 1
        history.append({"step": done, "tokens": done * tokens_per_step, "loss": loss_v, "lr": lr_now})
        if bar is not None:
            bar.update(1)
            if done % cfg["log_every"] == 0 or done == steps:
                bar.set_postfix(loss=f"{loss_v:.3f}", refresh=False)
        elif progress and (done % cfg["log_every"] == 0 or done == steps):
            print(f"[train_lm] step {done}/{steps} loss {loss_v:.4f} lr {lr_now:.2e}", file=sys.stderr)
        if stop_after_steps is not None and done >= stop_after_steps and done < steps:
            stopped_early = True  # simulated kill: no checkpoint for this step
            break
        if done % cfg["checkpoint_every"] == 0 or done == steps:
            train_seconds = seconds_before + (time.perf_counter() - t_loop)
            save_ckpt(done)
    loop_seconds = time.perf_counter() - t_loop
    loop_cpu_seconds = time.process_time() - cpu_loop
    if run_steps:
        train_seconds = seconds_before + loop_seconds
    if bar is not None:
        bar.close()
    if stopped_early:
        return {"stopped_early": True, "steps_done": start_step + run_steps, "steps": steps}

    # ---- outputs
    final_model = engine.module if engine is not None else model
    tmp_model = out_dir / f".model.tmp.{os.getpid()}"
    if tmp_model.exists():
        import shutil

        shutil.rmtree(tmp_model)
    _save_pretrained_quietly(final_model, tmp_model)
    save_hf_tokenizer(tok_file, tmp_model)
    replace_dir(tmp_model, out_dir / "model")

    write_json(out_dir / "loss_curve.json", history)
    plot_loss_curve(history, out_dir / "loss_curve.png", title=f"{Path(train_path).name}: {cfg['arch']} "
                    f"{cfg['n_layer']}L d{cfg['d_model']}, {steps * tokens_per_step:,} tokens")

    last = [h["loss"] for h in history[-10:]]
    tokens = steps * tokens_per_step
    metrics = {
        "steps": steps,
        "tokens": tokens,
        "tokens_per_step": tokens_per_step,
        "train_seconds": round(train_seconds, 3),
        "tokens_per_second": round(tokens / train_seconds, 1) if train_seconds > 0 else None,
        "tokens_per_second_this_run": (
            round(run_steps * tokens_per_step / loop_seconds, 1) if run_steps and loop_seconds > 0 else None
        ),
        "tokens_per_cpu_second_this_run": (
            round(run_steps * tokens_per_step / loop_cpu_seconds, 1) if run_steps and loop_cpu_seconds > 0 else None
        ),
        "wall_seconds": round(time.perf_counter() - t_wall0, 3),
        "tokenize_seconds": round(tokenize_seconds, 3),
        "final_train_loss": history[-1]["loss"] if history else None,
        "final_train_loss_avg10": sum(last) / len(last) if last else None,
        "params": n_params,
        "arch": cfg["arch"] if not cfg.get("model_name_or_path") else type(final_model).__name__,
        "vocab_size": vocab,
        "pool_docs": n_docs,
        "pool_bytes": n_bytes,
        "pool_tokens": int(len(stream)),
        "epochs": round(tokens / max(1, len(stream)), 4),
        "seed": seed,
        "threads": int(threads),
        "device": device.type,
        "deepspeed": bool(use_ds),
        "resumed_from_step": resumed_from,
        "steps_this_run": run_steps,
        "train_path": str(train_path),
        "model_dir": str(out_dir / "model"),
        "config": {k: v for k, v in cfg.items() if k != "type"},
    }
    write_json(out_dir / "train_metrics.json", metrics)
    return metrics


__all__ = ["TRAINER_SCHEMA", "validate_trainer_cfg", "validate_against", "train_lm", "lr_factor",
           "sample_batch", "tokenize_file", "make_optimizer", "plot_loss_curve"]
