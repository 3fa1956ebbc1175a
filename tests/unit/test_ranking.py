"""data_pool_ranking against hand-computed orders."""
from __future__ import annotations

import json

import jsonschema
import pytest

from juicer_sandbox.components.ranking import PROBES, SCHEMAS, lookup, rank_pools
from juicer_sandbox.errors import ComponentConfigError

P = ["p0", "p1", "p2", "p3"]


def test_registry_and_schema():
    assert PROBES == {"data_pool_ranking": rank_pools}
    schema = SCHEMAS["data_pool_ranking"]
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    assert v.is_valid({"type": "data_pool_ranking", "dataset_path": P, "metrics": [{"a": 1}, 2, "m.json", 3],
                       "ranking_keys": ["a.b"], "descending": False, "top_n": 3})
    assert not v.is_valid({"dataset_path": P, "metrics": [1, 2, 3, 4], "top": 2})
    assert not v.is_valid({"dataset_path": P, "metrics": [1, 2, 3, 4], "top_n": 0})
    # the compiler fills schema defaults into extra_configs before the job runs
    filled = {**{k: d["default"] for k, d in schema["properties"].items() if "default" in d},
              "dataset_path": P, "metrics": [1, 4, 2, 3]}
    assert v.is_valid(filled) and rank_pools(filled) == ["p1", "p3", "p2", "p0"]


def test_descending_is_default_and_stable():
    metrics = [{"avg_score": 0.5}, {"avg_score": 0.9}, {"avg_score": 0.5}, {"avg_score": 0.7}]
    ranked = rank_pools({"dataset_path": P, "metrics": metrics, "ranking_keys": ["avg_score"]})
    assert ranked == ["p1", "p3", "p0", "p2"]
    assert rank_pools({"dataset_path": P, "metrics": metrics, "ranking_keys": "avg_score", "descending": False}) == [
        "p0", "p2", "p3", "p1"]
    assert rank_pools({"dataset_path": P, "metrics": metrics, "ranking_keys": ["avg_score"], "top_n": 2}) == [
        "p1", "p3"]
    assert rank_pools({"dataset_path": P, "metrics": metrics, "ranking_keys": ["avg_score"], "top_n": 9}) == [
        "p1", "p3", "p0", "p2"]


def test_several_keys_ascending_like_the_prompt_recipe():
    metrics = [
        {"mse": 0.4, "format_error": 2},
        {"mse": 0.2, "format_error": 5},
        {"mse": 0.2, "format_error": 1},
        {"mse": 0.9, "format_error": 0},
    ]
    cfg = {"dataset_path": P, "metrics": metrics, "ranking_keys": ["mse", "format_error"], "descending": False,
           "top_n": 3}
    assert rank_pools(cfg) == ["p2", "p1", "p0"]


def test_dotted_keys_nested_lists_and_literal_dots():
    m = {"eval": {"scores": [{"avg": 3}]}, "a.b": 7, "a": {"b": 1}}
    assert lookup(m, "eval.scores.0.avg") == (True, 3)
    assert lookup(m, "a.b") == (True, 7)  # the literal key wins
    assert lookup(m, "eval.missing") == (False, None)
    metrics = [{"r": {"CIDEr": 1.0}}, {"r": {"CIDEr": 3.0}}, {"r": {"CIDEr": 2.0}}]
    assert rank_pools({"dataset_path": P[:3], "metrics": metrics, "ranking_keys": ["r.CIDEr"]}) == ["p1", "p2", "p0"]


def test_numeric_metrics_need_no_keys_and_nan_is_last():
    assert rank_pools({"dataset_path": P, "metrics": [1, 3, 2, 3]}) == ["p1", "p3", "p2", "p0"]
    nan = float("nan")
    assert rank_pools({"dataset_path": P, "metrics": [1, nan, 2, 0]}) == ["p2", "p0", "p3", "p1"]
    assert rank_pools({"dataset_path": P, "metrics": [1, nan, 2, 0], "descending": False}) == ["p3", "p0", "p2", "p1"]


def test_metrics_files_are_read(tmp_path):
    files = []
    for i, m in enumerate([{"acc": 0.1}, {"acc": 0.8}, 0.5]):
        f = tmp_path / f"m{i}.json"
        f.write_text(json.dumps(m))
        files.append(str(f))
    assert rank_pools({"dataset_path": P[:2], "metrics": files[:2], "ranking_keys": ["acc"]}) == ["p1", "p0"]
    assert rank_pools({"dataset_path": "only", "metrics": files[2]}) == ["only"]  # always a list


@pytest.mark.parametrize(
    "cfg, key, needles",
    [
        ({"dataset_path": P, "metrics": [1, 2]}, "metrics", ["2 entries", "has 4"]),
        ({"dataset_path": P[:2], "metrics": [{"a": 1}, {"b": 2}], "ranking_keys": ["a"]}, "ranking_keys",
         ["'a' is missing", "pool p1"]),
        ({"dataset_path": P[:2], "metrics": [{"a": 1}, {"a": None}], "ranking_keys": ["a"]}, "ranking_keys",
         ["'a' is null", "pool p1"]),
        ({"dataset_path": P[:2], "metrics": [{"a": 1}, {"a": 2}]}, "ranking_keys", ["required when metrics are dicts"]),
        ({"dataset_path": P[:2], "metrics": [1, 2], "ranking_keys": ["a"]}, "ranking_keys", ["no keys"]),
        ({"dataset_path": P[:2], "metrics": [{"a": 1}, {"a": "x"}], "ranking_keys": ["a"]}, "ranking_keys",
         ["mixes numbers and strings"]),
        ({"dataset_path": P[:2], "metrics": [{"a": [1]}, {"a": [2]}], "ranking_keys": ["a"]}, "ranking_keys",
         ["is a list"]),
        ({"dataset_path": P[:2], "metrics": [1, "/no/such/metrics.json"]}, "metrics", ["/no/such/metrics.json", "p1"]),
        ({"dataset_path": P[:2], "metrics": [1, [2]]}, "metrics", ["entry 1", "got list"]),
        ({"dataset_path": P[:2]}, "metrics", ["required"]),
        ({"metrics": [1]}, "dataset_path", ["required"]),
        ({"dataset_path": P[:2], "metrics": [1, 2], "top_n": 0}, "top_n", [">= 1"]),
        ({"dataset_path": P[:2], "metrics": [1, 2], "descending": "yes"}, "descending", ["true or false"]),
        ({"dataset_path": P[:2], "metrics": [1, 2], "ranking_key": "a"}, "ranking_key", ["ranking_keys"]),
    ],
)
def test_errors(cfg, key, needles):
    with pytest.raises(ComponentConfigError) as exc:
        rank_pools(cfg)
    assert exc.value.key == key
    for needle in needles:
        assert needle in str(exc.value)


def test_bad_metrics_file(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text("{not json")
    with pytest.raises(ComponentConfigError, match="broken.json.*not valid JSON"):
        rank_pools({"dataset_path": ["a"], "metrics": [str(f)]})
