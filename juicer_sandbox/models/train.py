"""Plain-PyTorch trainer for tiny causal LMs with a fixed token budget and exact resume.

``train_lm(cfg, train_path, out_dir, tokenizer_path, checkpoint_dir=...)``:

* tokenises the jsonl(.gz) pool into one token stream (documents joined with
  ``<|endoftext|>``; uint16, streaming; :mod:`.token_stream`),
* trains for ``steps = max_tokens // (batch_size * context)`` steps whatever the
  pool size (DataComp-style fixed budget), each step on ``batch_size`` random
  windows of ``context + 1`` tokens drawn by a seeded numpy generator,
* AdamW (betas, weight decay on 2-D weights only), linear warm-up then cosine to
  ``min_lr_ratio * lr``, gradient clipping (:mod:`.optimizer`),
* checkpoints every ``checkpoint_every`` steps and at the end, atomically, into
  ``checkpoint_dir/step_NNNNNN.safetensors`` (:mod:`.checkpoints`: weights, optimizer,
  scheduler, torch + numpy + python RNG states, step, loss history; nothing pickled).
  The model hook passes the job's scratch directory (``{work_dir}/.scratch/...``), which
  survives Snakemake deleting ``out_dir`` before a rerun; called directly, the default is
  ``out_dir/checkpoints``. On start it resumes from the newest checkpoint whose fingerprint
  (config + seed + token stream + tokenizer) matches, so a killed run continues and ends with
  the same weights as an uninterrupted one (bit-for-bit on CPU with the same thread count),
* writes ``out_dir/model/`` (save_pretrained + tokenizer), ``loss_curve.json``,
  ``loss_curve.png`` and ``train_metrics.json``.

The config schema is in :mod:`.trainer_config`. Torch and transformers are imported lazily, so
importing ``TRAINER_SCHEMA`` is cheap.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ComponentConfigError, SandboxError
from ..io import write_json
from .checkpoints import fingerprint as run_fingerprint, load_latest_checkpoint, restore, rng_states, save_checkpoint
from .optimizer import _LRLambda, lr_factor, make_optimizer
from .token_stream import sample_batch, tokenize_file
from .train_outputs import plot_loss_curve, train_metrics, write_outputs
from .trainer_config import TRAINER_SCHEMA, validate_against, validate_trainer_cfg

log = logging.getLogger("juicer_sandbox.train")


@dataclass
class _Setup:
    """Everything fixed before the first step: data, schedule, device, model, optimizer."""

    cfg: dict
    seed: int
    tok_file: Path
    vocab: int
    stream: Any
    n_docs: int
    n_bytes: int
    tokenize_seconds: float
    steps: int
    tokens_per_step: int
    device: Any
    model: Any
    opt: Any
    sched: Any
    np_rng: Any
    n_params: int
    fingerprint: str
    engine: Any = None


@dataclass
class _Progress:
    """Where the loop stands: resumed from, loss history, seconds spent in this and earlier runs."""

    start_step: int = 0
    history: list = field(default_factory=list)
    train_seconds: float = 0.0
    resumed_from: int | None = None
    run_steps: int = 0
    loop_seconds: float = 0.0
    loop_cpu_seconds: float = 0.0
    stopped_early: bool = False


# --------------------------------------------------------------------------------------------
# DeepSpeed (CUDA only)


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
# set-up


def _tokenizer(cfg: dict, tokenizer_path):
    from .tokenizer import eos_id, load_tokenizer, resolve_tokenizer_file

    if tokenizer_path is None:
        if not cfg.get("model_name_or_path"):
            raise ComponentConfigError("no tokenizer: pass tokenizer_path or set model_name_or_path", key="tokenizer")
        tokenizer_path = cfg["model_name_or_path"]
    tok_file = resolve_tokenizer_file(tokenizer_path)
    tok = load_tokenizer(tok_file)
    tok_vocab = tok.get_vocab_size(with_added_tokens=True)
    vocab = cfg["vocab_size"] or tok_vocab
    if vocab < tok_vocab:
        raise ComponentConfigError(f"vocab_size {vocab} is smaller than the tokenizer's {tok_vocab}", key="vocab_size")
    return tok_file, tok, eos_id(tok), vocab


def _device(cfg: dict):
    import torch

    want = cfg["device"]
    if want == "cuda" and not torch.cuda.is_available():
        raise ComponentConfigError("device 'cuda' requested but CUDA is not available", key="device")
    return torch.device("cuda" if want in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


def _setup(cfg: dict, seed: int, train_path, tokenizer_path) -> _Setup:
    import numpy as np
    import torch

    from .lm import build_model, count_params
    from .tokenizer import tokenizer_fingerprint

    tok_file, tok, eos, vocab = _tokenizer(cfg, tokenizer_path)
    t0 = time.perf_counter()
    stream, n_docs, n_bytes = tokenize_file(train_path, tok, cfg["text_key"])
    tokenize_seconds = time.perf_counter() - t0
    ctx, bs = cfg["context"], cfg["batch_size"]
    if len(stream) < ctx + 2:
        raise SandboxError(
            f"{train_path}: only {len(stream)} tokens ({n_docs} docs); need more than context+1 = {ctx + 1}"
        )
    steps = max(1, cfg["max_tokens"] // (bs * ctx))
    warm = cfg["warmup"]
    warmup_steps = min(int(round(warm * steps)) if warm < 1 else int(warm), steps)
    device = _device(cfg)

    # model, optimizer, schedule: deterministic from the seed
    torch.manual_seed(seed)
    random.seed(seed)
    model = build_model(cfg, vocab, eos_token_id=eos).to(device)
    model.train()
    n_params = count_params(model)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _LRLambda(steps, warmup_steps, cfg["min_lr_ratio"]))
    np_rng = np.random.Generator(np.random.PCG64(seed))
    fp = run_fingerprint(cfg, seed, stream, tokenizer_fingerprint(tok_file), vocab)
    return _Setup(cfg=cfg, seed=seed, tok_file=tok_file, vocab=vocab, stream=stream, n_docs=n_docs, n_bytes=n_bytes,
                  tokenize_seconds=tokenize_seconds, steps=steps, tokens_per_step=bs * ctx, device=device,
                  model=model, opt=opt, sched=sched, np_rng=np_rng, n_params=n_params, fingerprint=fp)


def _start_deepspeed(run: _Setup) -> None:  # pragma: no cover - needs CUDA + deepspeed
    import deepspeed

    cfg = run.cfg
    ds_cfg = _load_deepspeed_cfg(cfg["deepspeed"])
    ds_cfg.setdefault("train_micro_batch_size_per_gpu", cfg["batch_size"])
    ds_cfg.setdefault("gradient_accumulation_steps", 1)
    if cfg["grad_clip"]:
        ds_cfg.setdefault("gradient_clipping", float(cfg["grad_clip"]))
    run.engine, run.opt, _, run.sched = deepspeed.initialize(model=run.model, optimizer=run.opt,
                                                             lr_scheduler=run.sched, config=ds_cfg)
    log.warning("DeepSpeed runs write no checkpoints and do not resume: DeepSpeed's checkpoints are "
                "pickles, and nothing under the work dir is unpickled")


def _resume(run: _Setup, ckpt_dir: Path) -> _Progress:
    prog = _Progress()
    if run.engine is not None:  # pragma: no cover
        return prog
    ckpt = load_latest_checkpoint(ckpt_dir, run.fingerprint)
    if ckpt is not None:
        meta = restore(ckpt, run.model, run.opt, run.sched, run.np_rng, run.device)
        prog.start_step, prog.history = int(meta["step"]), list(meta["history"])
        prog.train_seconds = float(meta.get("train_seconds", 0.0))
        prog.resumed_from = prog.start_step
        log.info("resumed from %s at step %d/%d", ckpt_dir, prog.start_step, run.steps)
    return prog


def _save(run: _Setup, prog: _Progress, ckpt_dir: Path, step: int) -> None:
    if run.engine is not None:  # pragma: no cover
        return
    save_checkpoint(ckpt_dir, fingerprint=run.fingerprint, step=step, steps=run.steps, model=run.model,
                    optimizer=run.opt, scheduler=run.sched, rng=rng_states(run.np_rng, run.device),
                    history=prog.history, train_seconds=prog.train_seconds, keep=run.cfg["keep_checkpoints"])


# --------------------------------------------------------------------------------------------
# the loop


def _progress_bar(run: _Setup, prog: _Progress, out_dir: Path, progress: bool):
    bar = None
    if progress and prog.start_step < run.steps:
        try:
            from tqdm.auto import tqdm

            label = os.environ.get("JUICER_SANDBOX_JOB") or Path(out_dir).name  # the job's name (hooks/runner.py)
            bar = tqdm(total=run.steps, initial=prog.start_step, desc=f"train {label}", unit="step",
                       file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
        except Exception:
            bar = None
    if prog.resumed_from is not None and progress:
        print(f"[train_lm] resuming at step {prog.resumed_from}/{run.steps}", file=sys.stderr)
    return bar


def _step(run: _Setup, step: int) -> tuple[float, float]:
    """One optimizer step; returns (loss, lr it ran at)."""
    import torch
    import torch.nn.functional as F

    cfg, device, engine, opt = run.cfg, run.device, run.engine, run.opt
    batch = sample_batch(run.stream, run.np_rng, cfg["batch_size"], cfg["context"])
    w = torch.from_numpy(batch).to(device, non_blocking=True)
    x, y = w[:, :-1], w[:, 1:]
    lr_now = opt.param_groups[0]["lr"]
    fwd = engine if engine is not None else run.model
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg["precision"] == "bf16"):
        logits = fwd(input_ids=x).logits
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
    if engine is not None:  # pragma: no cover
        engine.backward(loss)
        engine.step()
    else:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), float(cfg["grad_clip"]))
        opt.step()
        run.sched.step()
    loss_v = float(loss.detach())
    if not math.isfinite(loss_v):
        raise SandboxError(f"training diverged at step {step + 1}: loss is {loss_v} (try a lower lr)")
    return loss_v, lr_now


def _loop(run: _Setup, prog: _Progress, ckpt_dir: Path, bar, progress: bool, stop_after_steps: int | None) -> None:
    steps, log_every = run.steps, run.cfg["log_every"]
    seconds_before = prog.train_seconds  # loop time of earlier (interrupted) runs
    t_loop = time.perf_counter()
    cpu_loop = time.process_time()
    for step in range(prog.start_step, steps):
        loss_v, lr_now = _step(run, step)
        done = step + 1
        prog.run_steps += 1
        prog.history.append({"step": done, "tokens": done * run.tokens_per_step, "loss": loss_v, "lr": lr_now})
        if bar is not None:
            bar.update(1)
            if done % log_every == 0 or done == steps:
                bar.set_postfix(loss=f"{loss_v:.3f}", refresh=False)
        elif progress and (done % log_every == 0 or done == steps):
            print(f"[train_lm] step {done}/{steps} loss {loss_v:.4f} lr {lr_now:.2e}", file=sys.stderr)
        if stop_after_steps is not None and done >= stop_after_steps and done < steps:
            prog.stopped_early = True  # simulated kill: no checkpoint for this step
            break
        if done % run.cfg["checkpoint_every"] == 0 or done == steps:
            prog.train_seconds = seconds_before + (time.perf_counter() - t_loop)
            _save(run, prog, ckpt_dir, done)
    prog.loop_seconds = time.perf_counter() - t_loop
    prog.loop_cpu_seconds = time.process_time() - cpu_loop
    if prog.run_steps:
        prog.train_seconds = seconds_before + prog.loop_seconds
    if bar is not None:
        bar.close()


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
    ``checkpoint_dir``: defaults to ``out_dir/checkpoints``; the model hook passes the job's
    scratch directory, outside ``out_dir``, which Snakemake deletes before a rerun.
    ``stop_after_steps``: test hook that simulates a kill: stop after that many
    optimizer steps WITHOUT writing a checkpoint or outputs.

    Returns the metrics dict also written to ``out_dir/train_metrics.json``
    (``stopped_early`` runs return a partial dict and write nothing final).
    """
    t_wall0 = time.perf_counter()
    cfg = validate_trainer_cfg(cfg)
    seed = int(cfg["seed"] if seed is None else seed)
    cfg["seed"] = seed

    import torch

    torch.set_num_threads(max(1, int(threads)))
    out_dir = Path(out_dir)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir / "checkpoints"
    run = _setup(cfg, seed, train_path, tokenizer_path)
    if _want_deepspeed(cfg, run.device):  # pragma: no cover - needs CUDA + deepspeed
        _start_deepspeed(run)
    prog = _resume(run, ckpt_dir)
    bar = _progress_bar(run, prog, out_dir, progress)
    _loop(run, prog, ckpt_dir, bar, progress, stop_after_steps)
    if prog.stopped_early:
        return {"stopped_early": True, "steps_done": prog.start_step + prog.run_steps, "steps": run.steps}

    final_model = run.engine.module if run.engine is not None else run.model
    write_outputs(run, prog, final_model, out_dir, train_path)
    metrics = train_metrics(run, prog, final_model, out_dir, train_path, threads, time.perf_counter() - t_wall0)
    write_json(out_dir / "train_metrics.json", metrics)
    return metrics


__all__ = ["TRAINER_SCHEMA", "validate_trainer_cfg", "validate_against", "train_lm", "lr_factor",
           "sample_batch", "tokenize_file", "make_optimizer", "plot_loss_curve"]
