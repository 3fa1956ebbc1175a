"""FID/FVD, KID/KVD and IS math (models/video_metrics.py) on inputs with known, hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from juicer_sandbox.models.video_metrics import (feature_mean_cov, fid_from_features, frechet_distance,
                                                  inception_score, kernel_distance, mmd2_polynomial)

CPU = "cpu"


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    # |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2 = 9 + (1-2)^2 + (2-2)^2 + (3-1)^2 = 14
    value = frechet_distance([0, 0, 0], np.diag([1.0, 4.0, 9.0]), [1, 2, 2], np.diag([4.0, 4.0, 1.0]), device=CPU)
    assert value == pytest.approx(14.0, abs=1e-10)


def test_frechet_distance_of_non_commuting_2x2_covariances():
    # for 2x2: tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) = sqrt(10 + 2 sqrt(12))
    s1, s2 = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])
    expected = 4 + 5 - 2 * math.sqrt(10 + 2 * math.sqrt(12))  # = 0.77122...
    assert frechet_distance([1, 1], s1, [1, 1], s2, device=CPU) == pytest.approx(expected, abs=1e-10)
    assert frechet_distance([1, 1], s2, [1, 1], s1, device=CPU) == pytest.approx(expected, abs=1e-10)
    assert frechet_distance([0, 0], s1, [3, 4], s1, device=CPU) == pytest.approx(25.0, abs=1e-10)


def test_frechet_distance_matches_the_eigenvalues_of_the_product_in_16_dimensions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(16, 40)), rng.normal(size=(16, 40))
    s1, s2 = a @ a.T / 40, b @ b.T / 40 + np.eye(16) * 0.1
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    eig = np.linalg.eigvals(s1 @ s2)  # real and >= 0 up to rounding: S1 S2 is similar to a PSD matrix
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum()
    assert frechet_distance(mu1, s1, mu2, s2, device=CPU) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1, device=CPU) == pytest.approx(0.0, abs=1e-9)


def test_fid_from_samples_approaches_the_population_value():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200_000, 3)) * np.sqrt([1.0, 4.0, 9.0])
    gen = rng.normal(size=(200_000, 3)) * np.sqrt([4.0, 4.0, 1.0]) + [1.0, 2.0, 2.0]
    assert fid_from_features(real, gen, device=CPU) == pytest.approx(14.0, abs=0.15)
    mean, cov = feature_mean_cov([[0.0, 0.0], [2.0, 4.0]], device=CPU)
    assert mean.tolist() == [1.0, 2.0] and cov.tolist() == [[1.0, 2.0], [2.0, 4.0]]  # normalised by n


def test_mmd2_by_hand_and_as_the_original_writes_it():
    # d=1, k(a,b) = (ab+1)^3; x = {0, 1}, y = {0, 2}: within = (2 + 2) / 2 = 2, cross = 2 * 30 / 4 = 15
    assert mmd2_polynomial([[0.0], [1.0]], [[0.0], [2.0]], device=CPU) == pytest.approx(-13.0)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.5
    a = (x @ x.T / 5 + 1) ** 3 + (y @ y.T / 5 + 1) ** 3
    b = (x @ y.T / 5 + 1) ** 3
    original = ((a.sum() - np.diag(a).sum()) / 29 - b.sum() * 2 / 30) / 30
    assert mmd2_polynomial(x, y, device=CPU) == pytest.approx(original, rel=1e-12)


def test_kernel_distance_is_unbiased_for_gaussians():
    # x ~ N(0,1), y ~ N(1,1) in 1-D: E k(x,x') = 4, E k(y,y') = 32, E k(x,y) = 7, so MMD^2 = 4 + 32 - 14 = 22
    rng = np.random.default_rng(3)
    real, gen = rng.normal(size=(20_000, 1)), rng.normal(size=(20_000, 1)) + 1.0
    value = kernel_distance(real, gen, num_subsets=100, max_subset_size=500, seed=0, device=CPU)
    assert value == pytest.approx(22.0, rel=0.05)
    same = kernel_distance(real[:10_000], real[10_000:], num_subsets=100, max_subset_size=500, seed=0, device=CPU)
    assert abs(same) < 0.5
    with pytest.raises(ValueError, match="same width"):
        kernel_distance(real, np.zeros((5, 2)), device=CPU)


def test_inception_score_known_values():
    uniform = np.full((20, 5), 0.2)
    assert inception_score(uniform, num_splits=10, device=CPU) == pytest.approx((1.0, 0.0))
    one_hot = np.tile(np.eye(4), (10, 1))  # every split of 4 rows holds each class once: IS = 4 exactly
    mean, std = inception_score(one_hot, num_splits=10, device=CPU)
    assert mean == pytest.approx(4.0) and std == pytest.approx(0.0, abs=1e-12)
    soft = [[0.9, 0.1], [0.1, 0.9]]  # KL to the marginal (0.5, 0.5): 0.9 ln 1.8 + 0.1 ln 0.2
    assert inception_score(soft, num_splits=1, device=CPU)[0] == pytest.approx(
        math.exp(0.9 * math.log(1.8) + 0.1 * math.log(0.2)))
    mixed = np.vstack([np.eye(2), np.full((2, 2), 0.5)])  # split 1: IS 2, split 2: IS 1
    assert inception_score(mixed, num_splits=2, device=CPU) == pytest.approx((1.5, 0.5))


def test_selfcheck_for_the_gpu_check_passes_on_cpu():
    out = __import__("juicer_sandbox.models.video_metrics", fromlist=["selfcheck"]).selfcheck("cpu", dim=64, n=256)
    assert out["ok"] and out["device"] == "cpu" and out["fd_diagonal"] == pytest.approx(14.0)
    assert out["fid_256x64"] > 0 and out["fid_seconds"] >= 0
