"""Honest error bars for data arms: the combined std of a run and which sources of noise it includes.

A run of an arm is one training (training seed: initialisation and batch order) on one draw of its pool (pool
draw: which documents a random or subsampled arm got). Seed std alone understates the uncertainty of a ranking
when every seed trains on the same draw: another draw moves the random arm as much as another seed (issue 19:
a random 2,400-doc subset of a refined pool beat the full pool by 1.9 seed std). So every random or subsampled arm
draws with its seed (``data_pool_downsampling`` records the draw seed next to its pool: ``<pool>.draw.json``), and
the spread of an arm's runs is the *combined* std: training seed and pool draw together.

* :func:`variance_sources`: which sources vary among an arm's runs (``training seed`` when two runs have different
  seeds, ``pool draw`` when two runs have different draw seeds or different pool files).
* :func:`pooled_std`: the std pooled over arms, ``sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1))``, with its degrees of
  freedom; over runs that vary both sources it is the combined std.
* :func:`combine_std`: ``sqrt(sum s_k^2)`` of independent sources measured apart (e.g. a seed-only std and a
  draw-only std from two designs), the std of one run when both vary.
* :func:`gap`: the difference of two arms in units of their pooled combined std, and paired by seed (runs with the
  same seed share initialisation and batch order; with draws tied to seeds they also share the draw seed, which
  for different pools is not a shared draw, so the pairing removes the training-seed part only).
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Sequence

TRAINING_SEED = "training seed"
POOL_DRAW = "pool draw"


def variance_sources(seeds: Sequence[Any], draws: Sequence[Any]) -> list[str]:
    """The sources that vary among one arm's runs: ``training seed`` and/or ``pool draw`` (in that order).

    ``draws`` holds one draw identity per run (a draw seed, a pool path, or None where the pool is fixed)."""
    out = []
    if len(set(map(repr, seeds))) > 1:
        out.append(TRAINING_SEED)
    known = [d for d in draws if d is not None]
    if len(set(map(repr, known))) > 1:
        out.append(POOL_DRAW)
    return out


def pooled_std(groups: Iterable[Sequence[float]]) -> tuple[float | None, int]:
    """Std pooled over the groups with two or more values and its degrees of freedom; (None, 0) without any."""
    ss = dof = 0.0
    for values in groups:
        if len(values) > 1:
            ss += (len(values) - 1) * statistics.variance(values)
            dof += len(values) - 1
    if not dof:
        return None, 0
    return math.sqrt(ss / dof), int(dof)


def combine_std(*stds: float | None) -> float | None:
    """``sqrt(sum s^2)`` of independent noise sources (None entries are skipped; None when all are)."""
    known = [s for s in stds if s is not None]
    return math.sqrt(sum(s * s for s in known)) if known else None


def paired(a: dict[Any, float], b: dict[Any, float]) -> dict | None:
    """Per-seed differences a - b over the seeds both have: mean, std (ddof 1), mean/std; None below two seeds."""
    common = [s for s in a if s in b]
    if len(common) < 2:
        return None
    diffs = [a[s] - b[s] for s in common]
    sd = statistics.stdev(diffs)
    mean = statistics.fmean(diffs)
    return {"seeds": common, "diffs": diffs, "mean": mean, "std": sd, "in_std": mean / sd if sd else None}


def gap(a: dict[Any, float], b: dict[Any, float]) -> dict:
    """Arm a minus arm b (values keyed by seed): the mean gap, in the two arms' pooled std, and paired by seed."""
    va, vb = list(a.values()), list(b.values())
    delta = statistics.fmean(va) - statistics.fmean(vb)
    std, dof = pooled_std([va, vb])
    return {"delta": delta, "pooled_std": std, "dof": dof, "in_std": delta / std if std else None,
            "paired": paired(a, b)}


__all__ = ["TRAINING_SEED", "POOL_DRAW", "variance_sources", "pooled_std", "combine_std", "paired", "gap"]
