"""Train and evaluate the tiny image captioner (:mod:`.captioner`) on CPU, at a fixed budget.

``train_captioner``: ``steps = max_samples // batch_size`` whatever the pool size (the fixed budget
of the text demo, counted in image-caption pairs); each step a random batch drawn by a seeded numpy
generator; AdamW with weight decay on matrices, linear warm-up then cosine, gradient clipping (the
LM trainer's :mod:`.optimizer`). The same seed, data and thread count give the same weights.
Writes ``out_dir/model/`` (captioner.safetensors + tokenizer.json), ``loss_curve.json``,
``loss_curve.png`` and ``train_metrics.json``. Runs are short (minutes), so there are no resume
checkpoints: a killed job starts again.

``evaluate_captioner``: caption loss on held-out pairs (nats per predicted token, the final
``<eos>`` included; every pair counted once), its perplexity, and greedy captions scored with the
COCO caption metrics (:mod:`..components.caption_metrics` is called by the component, not here).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from ..errors import SandboxError
from ..io import write_json
from . import captioner as cap

#: the captioner trainer's config keys and defaults (the component's schema lists them too)
DEFAULTS = {"image_size": 32, "n_layer": 2, "d_model": 128, "n_head": 4, "max_caption_tokens": 24,
            "enc_channels": 32, "batch_size": 64, "max_samples": 64_000, "lr": 2e-3, "warmup": 0.05,
            "min_lr_ratio": 0.1, "weight_decay": 0.1, "betas": [0.9, 0.95], "grad_clip": 1.0, "seed": 0,
            "image_key": "images", "text_key": "text"}


def _data(path, cfg: dict, tok, eos: int):
    pairs, no_image = cap.read_pairs(path, cfg["image_key"], cfg["text_key"])
    if not pairs:
        raise SandboxError(f"{path}: no rows with an image ({no_image} rows without)")
    images = cap.load_images(pairs, cfg["image_size"])
    inputs, targets = cap.encode_captions([p["caption"] for p in pairs], tok, eos, cfg["max_caption_tokens"])
    return pairs, no_image, images, inputs, targets


def train_captioner(cfg: dict, train_path, out_dir, tokenizer_path, *, threads: int = 1,
                    progress: bool = True) -> dict:
    """Train on ``train_path`` (Data-Juicer jsonl with ``images``); returns the metrics written."""
    import numpy as np
    import torch

    from .optimizer import _LRLambda, make_optimizer
    from .tokenizer import eos_id, load_tokenizer, resolve_tokenizer_file
    from .train_outputs import plot_loss_curve

    t0 = time.perf_counter()
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    torch.set_num_threads(max(1, int(threads)))
    tok_file = resolve_tokenizer_file(tokenizer_path)
    tok = load_tokenizer(tok_file)
    eos = eos_id(tok)
    pairs, no_image, images, inputs, targets = _data(train_path, cfg, tok, eos)
    load_seconds = time.perf_counter() - t0

    seed = int(cfg["seed"])
    torch.manual_seed(seed)
    model = cap.build_captioner(cfg, tok.get_vocab_size(with_added_tokens=True), eos)
    model.train()
    bs = int(cfg["batch_size"])
    steps = max(1, int(cfg["max_samples"]) // bs)
    warm = cfg["warmup"]
    warmup_steps = min(int(round(warm * steps)) if warm < 1 else int(warm), steps)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _LRLambda(steps, warmup_steps, cfg["min_lr_ratio"]))
    rng = np.random.Generator(np.random.PCG64(seed))
    history = []
    t_loop = time.perf_counter()
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(pairs), size=bs))
        total, n = cap.caption_loss_sum(model, images[idx], inputs[idx], targets[idx])
        loss = total / max(1, n)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg["grad_clip"]))
        lr_now = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise SandboxError(f"training diverged at step {step + 1}: loss is {value} (try a lower lr)")
        history.append({"step": step + 1, "tokens": (step + 1) * bs, "loss": value, "lr": lr_now})
        if progress and ((step + 1) % 50 == 0 or step + 1 == steps):
            print(f"[image_captioner] step {step + 1}/{steps} loss {value:.4f}", flush=True)
    loop_seconds = time.perf_counter() - t_loop

    out_dir = Path(out_dir)
    cap.save_captioner(model, out_dir / "model", tok_file, {"seed": seed, "steps": steps})
    write_json(out_dir / "loss_curve.json", history)
    plot_loss_curve(history, out_dir / "loss_curve.png",
                    title=f"{Path(train_path).name}: captioner {cfg['n_layer']}L d{cfg['d_model']}, "
                          f"{steps * bs:,} pairs (x-axis: pairs)")
    last = [h["loss"] for h in history[-10:]]
    metrics = {"steps": steps, "samples": steps * bs, "pool_pairs": len(pairs), "rows_without_image": no_image,
               "epochs": round(steps * bs / len(pairs), 3), "final_train_loss_avg10": sum(last) / len(last),
               "params": sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()),
               "seed": seed, "threads": int(threads), "load_seconds": round(load_seconds, 3),
               "train_seconds": round(loop_seconds, 3), "wall_seconds": round(time.perf_counter() - t0, 3),
               "train_path": str(train_path), "model_dir": str(out_dir / "model"),
               "config": {k: cfg[k] for k in sorted(cfg)}}
    write_json(out_dir / "train_metrics.json", metrics)
    return metrics


def evaluate_captioner(model_dir, val_path, *, threads: int = 1, batch_size: int = 128,
                       max_new_tokens: int | None = None, image_key: str = "images",
                       text_key: str = "text") -> tuple[dict, dict, dict]:
    """(loss metrics, references {id: [caption]}, predictions {id: caption}) on ``val_path``."""
    import torch

    t0 = time.perf_counter()
    torch.set_num_threads(max(1, int(threads)))
    model, tok, meta = cap.load_captioner(model_dir)
    arch = meta["arch"]
    cfg = {"image_key": image_key, "text_key": text_key, **arch}
    pairs, no_image, images, inputs, targets = _data(val_path, cfg, tok, model.eos)
    total, count = 0.0, 0
    predictions = {}
    with torch.inference_mode():
        for sl in cap.batches(len(pairs), batch_size):
            s, n = cap.caption_loss_sum(model, images[sl], inputs[sl], targets[sl])
            total, count = total + float(s), count + n
            ids = cap.generate(model, images[sl], max_new_tokens or arch["max_caption_tokens"])
            for p, row in zip(pairs[sl], ids):
                predictions[p["id"]] = tok.decode(row).strip()
    loss = total / max(1, count)
    references = {p["id"]: [p["caption"]] for p in pairs}
    metrics = {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": count, "pairs": len(pairs),
               "rows_without_image": no_image, "seconds": round(time.perf_counter() - t0, 3),
               "model_dir": str(model_dir), "val_path": str(val_path)}
    return metrics, references, predictions


__all__ = ["DEFAULTS", "train_captioner", "evaluate_captioner"]
