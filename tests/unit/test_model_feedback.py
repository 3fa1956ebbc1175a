"""Model-feedback refinement (components/model_feedback.py), hand-computed, without a Run."""
import json

import pytest

from juicer_sandbox.components.model_feedback import best_pools, loss_threshold


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_loss_threshold_by_quantile_keeps_the_low_loss_samples(tmp_path):
    data = _jsonl(tmp_path / "probed.jsonl", [{"text": t, "__dj__stats__": {"model_loss": v}}
                                              for t, v in zip("abcde", [1.0, 2.0, 3.0, 4.0, 5.0])])
    recipe = {"process": [{"text_length_filter": {"min_len": 5}}]}
    out, info = loss_threshold(recipe, {"dataset_path": data, "keep_quantile": 0.5})
    assert info == {"method": "loss_threshold", "stat": "model_loss", "rule": "quantile 0.5", "threshold": 3.0, "expected_kept": 3,
                    "samples": 5}
    assert out["dataset_path"] == data
    assert out["process"][-1] == {"specified_numeric_field_filter": {"field_key": "__dj__stats__.model_loss",
                                                                     "max_value": 3.0}}
    assert recipe == {"process": [{"text_length_filter": {"min_len": 5}}]}  # not mutated


def test_loss_threshold_by_k_sigma(tmp_path):
    data = _jsonl(tmp_path / "probed.jsonl", [{"__dj__stats__": {"model_loss": v}} for v in [1.0, 2.0, 3.0]])
    _, info = loss_threshold(None, {"dataset_path": data, "k": 1})
    assert info["threshold"] == pytest.approx(3.0) and info["rule"] == "mean + 1 * std"  # 2 + 1 * 1


def test_best_pools_takes_the_stat_range_of_the_best_pool(tmp_path):
    (tmp_path / "text_len").mkdir()
    best = _jsonl(tmp_path / "text_len" / "raw_text_len_1.jsonl", [{"__dj__stats__": {"text_len": v}}
                                                                     for v in [12.5, 40.2]])
    worse = _jsonl(tmp_path / "text_len" / "raw_text_len_0.jsonl", [{"__dj__stats__": {"text_len": 3}}])
    recipe = {"process": [{"text_length_filter": {"min_len": 1, "max_len": 100}}, {"clean_email_mapper": None}]}
    out, info = best_pools(recipe, {"dataset_path": [best, worse]})
    assert out["process"][0] == {"text_length_filter": {"min_len": 12, "max_len": 41}}  # floor / ceil for ints
    assert [c["from_pool"] for c in info["changes"]] == [best]


def test_best_pools_flattens_per_image_stats_of_rows_with_different_image_counts(tmp_path):
    # image_width is one value per image: rows with 1, 3 and 0 images (and a missing value) in the
    # best pool; the bound is the range over all images, as Data-Juicer's analyzer counts them
    (tmp_path / "image_width").mkdir()
    best = _jsonl(tmp_path / "image_width" / "raw_image_width_1.jsonl", [
        {"images": ["a.png"], "__dj__stats__": {"image_width": [120]}},
        {"images": ["b.png", "c.png", "d.png"], "__dj__stats__": {"image_width": [64, 800, 300]}},
        {"images": [], "__dj__stats__": {"image_width": []}},
        {"images": ["e.png"], "__dj__stats__": {"image_width": [None]}}])
    worse = _jsonl(tmp_path / "image_width" / "raw_image_width_0.jsonl", [
        {"images": ["f.png", "g.png"], "__dj__stats__": {"image_width": [2, 3000]}}])
    recipe = {"process": [{"image_shape_filter": {"min_width": 1, "max_width": 5000, "min_height": 1}}]}
    out, info = best_pools(recipe, {"dataset_path": [best, worse]})
    assert out["process"][0] == {"image_shape_filter": {"min_width": 64, "max_width": 800, "min_height": 1}}
    assert [c["from_pool"] for c in info["changes"]] == [best]
