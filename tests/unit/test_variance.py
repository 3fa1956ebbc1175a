"""Combined variance (components/variance.py), per-seed pool draws (data_pool_downsampling) and how arm_ranking
reports which noise sources its std includes."""
from __future__ import annotations

import json
import math
import statistics

import pytest

from juicer_sandbox.components import variance
from juicer_sandbox.components.experiment import compute_arm_ranking
from juicer_sandbox.components.pools import downsample_pools


def test_pooled_std_weights_each_arm_by_its_degrees_of_freedom():
    a, b, c = [1.0, 2.0, 4.0], [3.0, 3.5], [7.0]  # c has no spread to pool
    std, dof = variance.pooled_std([a, b, c])
    expected = math.sqrt((2 * statistics.variance(a) + 1 * statistics.variance(b)) / 3)
    assert dof == 3 and std == pytest.approx(expected)
    assert variance.pooled_std([[1.0], [2.0]]) == (None, 0)


def test_combine_std_adds_independent_variances():
    assert variance.combine_std(0.03, 0.04) == pytest.approx(0.05)
    assert variance.combine_std(None, 0.02) == pytest.approx(0.02)
    assert variance.combine_std(None) is None


def test_variance_sources_names_what_varies():
    assert variance.variance_sources([0, 1, 2], [None, None, None]) == [variance.TRAINING_SEED]
    assert variance.variance_sources([0, 1], [0, 1]) == [variance.TRAINING_SEED, variance.POOL_DRAW]
    assert variance.variance_sources([0, 0], ["a.jsonl", "b.jsonl"]) == [variance.POOL_DRAW]
    assert variance.variance_sources([0, 1], [("raw", 7), ("raw", 7)]) == [variance.TRAINING_SEED]


def test_gap_in_pooled_and_paired_std():
    a = {0: 5.0, 1: 5.2, 2: 5.1}
    b = {0: 4.0, 1: 4.3, 2: 4.05}
    g = variance.gap(a, b)
    diffs = [1.0, 0.9, 1.05]
    assert g["delta"] == pytest.approx(statistics.fmean(a.values()) - statistics.fmean(b.values()))
    assert g["pooled_std"] == pytest.approx(math.sqrt((statistics.variance(a.values()) +
                                                       statistics.variance(b.values())) / 2))
    assert g["paired"]["in_std"] == pytest.approx(statistics.fmean(diffs) / statistics.stdev(diffs))
    assert variance.gap({0: 1.0}, {1: 2.0})["paired"] is None  # no common seeds


def _pool(tmp_path, n=50):
    src = tmp_path / "raw.jsonl"
    src.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(n)))
    return src


def _draw(tmp_path, src, name, **cfg):
    out = downsample_pools({"dataset_path": str(src), "export_path": str(tmp_path / name), "target_num_samples": 10,
                            **cfg})[0]
    return out, [json.loads(line)["text"] for line in open(out)]


def test_per_seed_draws_are_deterministic_and_differ_between_seeds(tmp_path):
    src = _pool(tmp_path)
    p0, d0 = _draw(tmp_path, src, "s0", shuffle_seed=0)
    _, d0_again = _draw(tmp_path, src, "s0_again", shuffle_seed=0)
    _, d1 = _draw(tmp_path, src, "s1", shuffle_seed=1)
    assert d0 == d0_again and d0 != d1
    assert json.loads(open(p0 + ".draw.json").read()) == {"source": "raw", "draw_seed": 0, "k": 10, "of": 50}
    # fixed_draw_seed freezes the draw whatever the per-seed shuffle_seed says
    _, f0 = _draw(tmp_path, src, "f0", shuffle_seed=0, fixed_draw_seed=5)
    _, f1 = _draw(tmp_path, src, "f1", shuffle_seed=1, fixed_draw_seed=5)
    assert f0 == f1


def test_arm_ranking_reports_pool_draw_only_when_draws_vary(tmp_path):
    src = _pool(tmp_path)
    per_seed = [_draw(tmp_path, src, f"r{s}", shuffle_seed=s)[0] for s in range(2)]
    fixed = [_draw(tmp_path, src, f"x{s}", shuffle_seed=s, fixed_draw_seed=3)[0] for s in range(2)]

    def ranking(pools):
        ev = [{"arm": "random", "seed": s, "loss": 5.0 + s / 10, "pool": pools[s]} for s in range(2)] + \
             [{"arm": "refined", "seed": s, "loss": 4.0 + s / 20, "pool": "refined.jsonl"} for s in range(2)]
        return compute_arm_ranking({"evaluations": ev, "baseline": "random"})

    varied, frozen = ranking(per_seed), ranking(fixed)
    rows = {r["arm"]: r for r in varied["arms"]}
    assert rows["random"]["variance_sources"] == ["training seed", "pool draw"]
    assert rows["refined"]["variance_sources"] == ["training seed"]
    assert varied["variance_sources"] == ["training seed", "pool draw"]
    assert frozen["variance_sources"] == ["training seed"]
    assert varied["combined_std"] == pytest.approx(math.sqrt((0.005 + 0.00125) / 2))
    # paired: per-seed differences -1.0 and -1.05
    assert rows["refined"]["delta_paired_std"] == pytest.approx(-1.025 / statistics.stdev([-1.0, -1.05]))
