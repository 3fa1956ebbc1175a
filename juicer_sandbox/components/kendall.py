"""Kendall tau-b is computed here (numpy, O(n^2) pairs; arms are few): (P - Q) / sqrt((n0 - n1) (n0 - n2)) with P/Q
the concordant/discordant pairs, n0 = n(n-1)/2 and n1, n2 the pairs tied in x, in y. It equals
``scipy.stats.kendalltau(x, y).statistic`` (variant 'b'), without the scipy dependency.
"""
from __future__ import annotations

import math

import numpy as np


def kendall_tau(x, y) -> float | None:
    """Kendall tau-b of two equally long score sequences (ties handled). None when undefined: fewer than two items,
    or all items tied in x or in y."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"kendall_tau needs two 1-d sequences of equal length, got {x.shape} and {y.shape}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("kendall_tau: NaN in the scores")
    n = x.size
    if n < 2:
        return None
    i, j = np.triu_indices(n, k=1)
    dx = np.sign(x[i] - x[j])
    dy = np.sign(y[i] - y[j])
    n0 = i.size
    n1 = int(np.count_nonzero(dx == 0))  # pairs tied in x = sum over tie groups t(t-1)/2
    n2 = int(np.count_nonzero(dy == 0))
    denom = math.sqrt((n0 - n1) * (n0 - n2))
    if denom == 0:
        return None
    return float(np.sum(dx * dy) / denom)


def ranking_tau(a: list, b: list) -> tuple[float | None, list]:
    """Kendall tau between two rankings (lists best first) over the items both contain, in a's order."""
    pos_b = {item: k for k, item in enumerate(b)}
    common = [item for item in a if item in pos_b]
    pos_a = {item: k for k, item in enumerate(a)}
    return kendall_tau([-pos_a[c] for c in common], [-pos_b[c] for c in common]), common
