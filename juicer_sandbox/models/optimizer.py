"""AdamW with weight decay on matrices only, and its schedule: linear warm-up then cosine."""
from __future__ import annotations

import math
from typing import Any, Mapping


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
