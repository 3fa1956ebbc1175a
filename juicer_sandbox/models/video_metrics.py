"""The metric math of the original's ``video_inception_evaluator`` (FID, FVD, KID/KVD, IS), in torch.

Every function takes features (or class probabilities) as numpy arrays or torch tensors, computes
in float64 on ``device`` (default: CUDA when present, else CPU) and returns Python floats, so the
same code runs in a CPU test and on a GPU (``tools/gpu_check.sh``). The feature extractors
(I3D for videos, Inception-v3 for frames) are not here: see ``components/video_inception.py``.

* :func:`frechet_distance` -- ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between two Gaussians.
  ``tr((S1 S2)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of
  ``S1^(1/2) S2 S1^(1/2)`` (a symmetric PSD matrix similar to ``S1 S2``), with symmetric
  eigendecompositions only: no complex arithmetic and no Schur iteration (the original calls
  ``scipy.linalg.sqrtm(S1 @ S2)`` and keeps the real part). FID and FVD are this distance between
  the mean/covariance of real and generated features (:func:`fid_from_features`).
* :func:`kernel_distance` -- the unbiased MMD^2 estimate with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3`` averaged over random subsets (KID on Inception features, KVD on
  I3D features), as the original: ``num_subsets`` subsets of ``min(n_real, n_gen, max_subset_size)``
  rows drawn without replacement. The original's ``kid50k`` reports it x1000, ``kvd2048_16f`` as is.
* :func:`inception_score` -- ``exp(E_x KL(p(y|x) || p(y)))`` per split, mean and (population) std
  over ``num_splits`` consecutive splits, as the original; ``0 log 0`` counts as 0 (the original
  gives NaN for a class probability of exactly 0).
"""
from __future__ import annotations

from typing import Any

__all__ = ["feature_mean_cov", "frechet_distance", "fid_from_features", "kernel_distance", "mmd2_polynomial", "selfcheck",
           "inception_score", "default_device"]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _tensor(x: Any, device: str | None):
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    return t.to(device=device or default_device(), dtype=torch.float64)


def feature_mean_cov(features: Any, device: str | None = None):
    """(mean, covariance) of feature rows, covariance normalised by n (as the original's FeatureStats)."""
    x = _tensor(features, device)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"features must be a non-empty 2-D array (rows = samples), got shape {tuple(x.shape)}")
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def _psd_sqrt(matrix):
    import torch

    sym = (matrix + matrix.T) / 2
    values, vectors = torch.linalg.eigh(sym)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, device: str | None = None) -> float:
    """The Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2), squared."""
    import torch

    m1, m2 = _tensor(mu1, device), _tensor(mu2, device)
    s1, s2 = _tensor(sigma1, device), _tensor(sigma2, device)
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (m1.shape[0], m1.shape[0]):
        raise ValueError(f"shapes do not match: mu {tuple(m1.shape)}/{tuple(m2.shape)}, "
                         f"sigma {tuple(s1.shape)}/{tuple(s2.shape)}")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eigen = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0)
    trace_sqrt = eigen.sqrt().sum()
    value = (m1 - m2).square().sum() + torch.trace(s1) + torch.trace(s2) - 2 * trace_sqrt
    return float(value.cpu())


def fid_from_features(real: Any, gen: Any, device: str | None = None) -> float:
    """FID (Inception frame features) or FVD (I3D clip features): the Fréchet distance of the two sets."""
    mu_r, sig_r = feature_mean_cov(real, device)
    mu_g, sig_g = feature_mean_cov(gen, device)
    return frechet_distance(mu_g, sig_g, mu_r, sig_r, device)


def mmd2_polynomial(x: Any, y: Any, device: str | None = None) -> float:
    """Unbiased MMD^2 of two equal-size samples with k(a, b) = (a.b / d + 1)^3."""
    a, b = _tensor(x, device), _tensor(y, device)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"need two samples of the same shape with >= 2 rows, got {tuple(a.shape)}, {tuple(b.shape)}")
    m, d = a.shape
    kxx = (a @ a.T / d + 1) ** 3
    kyy = (b @ b.T / d + 1) ** 3
    kxy = (a @ b.T / d + 1) ** 3
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float((within - 2 * kxy.sum() / (m * m)).cpu())


def kernel_distance(real: Any, gen: Any, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0,
                    device: str | None = None) -> float:
    """KID/KVD: the mean over `num_subsets` random subsets of the unbiased polynomial-kernel MMD^2."""
    import numpy as np
    import torch

    r, g = _tensor(real, device), _tensor(gen, device)
    if r.ndim != 2 or g.ndim != 2 or r.shape[1] != g.shape[1]:
        raise ValueError(f"feature sets must be 2-D with the same width, got {tuple(r.shape)}, {tuple(g.shape)}")
    m = min(r.shape[0], g.shape[0], max_subset_size)
    if m < 2:
        raise ValueError(f"a kernel distance needs >= 2 samples on each side, got {r.shape[0]} and {g.shape[0]}")
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        gi = torch.as_tensor(rng.choice(g.shape[0], m, replace=False), device=g.device)
        ri = torch.as_tensor(rng.choice(r.shape[0], m, replace=False), device=r.device)
        total += mmd2_polynomial(g[gi], r[ri], device)
    return total / num_subsets


def inception_score(probs: Any, num_splits: int = 10, device: str | None = None) -> tuple[float, float]:
    """(mean, std) over `num_splits` consecutive splits of exp(mean KL(p(y|x) || p(y)))."""
    import torch

    p = _tensor(probs, device)
    if p.ndim != 2 or p.shape[0] < num_splits or num_splits < 1:
        raise ValueError(f"need a 2-D array of class probabilities with >= num_splits ({num_splits}) rows, "
                         f"got shape {tuple(p.shape)}")
    n = p.shape[0]
    scores = []
    for i in range(num_splits):
        part = p[i * n // num_splits:(i + 1) * n // num_splits]
        marginal = part.mean(dim=0, keepdim=True)
        terms = torch.where(part > 0, part * (part.clamp(min=1e-300).log() - marginal.clamp(min=1e-300).log()),
                            torch.zeros_like(part))
        scores.append(torch.exp(terms.sum(dim=1).mean()))
    s = torch.stack(scores)
    return float(s.mean().cpu()), float(s.std(unbiased=False).cpu())


def selfcheck(device: str | None = None, dim: int = 2048, n: int = 4096, seed: int = 0) -> dict:
    """The math on ``device`` against closed forms, plus FID/KID on random ``n x dim`` features (sizes and
    seconds reported), for a GPU check: ``python -c 'from juicer_sandbox.models.video_metrics import
    selfcheck; print(selfcheck("cuda"))'``. ``ok`` is False when a closed form is missed."""
    import math
    import time

    import numpy as np

    device = device or default_device()
    fd = frechet_distance([0, 0, 0], np.diag([1.0, 4.0, 9.0]), [1, 2, 2], np.diag([4.0, 4.0, 1.0]), device)
    s1, s2 = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])
    fd2 = frechet_distance([1, 1], s1, [1, 1], s2, device)
    mmd = mmd2_polynomial([[0.0], [1.0]], [[0.0], [2.0]], device)
    is_mean, _ = inception_score(np.tile(np.eye(4), (10, 1)), 10, device)
    checks = {"fd_diagonal": (fd, 14.0), "fd_2x2": (fd2, 9 - 2 * math.sqrt(10 + 2 * math.sqrt(12))),
              "mmd2_by_hand": (mmd, -13.0), "is_one_hot": (is_mean, 4.0)}
    rng = np.random.default_rng(seed)
    real, gen = rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) + 0.1
    start = time.time()
    fid = fid_from_features(real, gen, device)
    fid_s = time.time() - start
    start = time.time()
    kid = kernel_distance(real, gen, num_subsets=10, max_subset_size=1000, seed=seed, device=device)
    return {"device": device, "ok": all(abs(v - e) < 1e-6 * max(1.0, abs(e)) for v, e in checks.values()),
            **{k: v for k, (v, _) in checks.items()}, f"fid_{n}x{dim}": fid, "fid_seconds": round(fid_s, 3),
            f"kid_{n}x{dim}": kid, "kid_seconds": round(time.time() - start, 3)}
