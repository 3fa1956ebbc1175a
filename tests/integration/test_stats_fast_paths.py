"""Stored-stats fast paths give exactly what Data-Juicer's executor gives."""
from __future__ import annotations

import pytest
import yaml

from juicer_sandbox.dj.engine import compute_stats, filter_with_stored_stats, run_recipe
from juicer_sandbox.io import read_jsonl

from .conftest import REPO, demo_slice

pytestmark = pytest.mark.e2e


def test_filtering_on_stored_stats_matches_the_default_executor(tmp_path):
    data = demo_slice(tmp_path, 600)
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe["dataset_path"] = str(data)
    with_stats = tmp_path / "with_stats.jsonl"
    compute_stats(recipe, tmp_path / "dj1", with_stats)
    # stricter thresholds than the probe's, on the stats the probe stored
    recipe = {**recipe, "dataset_path": str(with_stats)}
    recipe["process"][1] = {"words_num_filter": {"min_num": 20, "max_num": 400}}
    recipe["process"][4] = {"character_repetition_filter": {"max_ratio": 0.1}}
    fast, slow = tmp_path / "fast.jsonl", tmp_path / "slow.jsonl"
    n_in, n_fast = filter_with_stored_stats(recipe, fast)
    n_slow = run_recipe(recipe, tmp_path / "dj2", slow)
    assert n_in == 600 and 0 < n_fast < 600
    assert n_fast == n_slow
    assert read_jsonl(fast) == read_jsonl(slow)


def test_no_fast_path_without_stats_or_with_other_ops(tmp_path):
    data = demo_slice(tmp_path, 20)
    recipe = {"dataset_path": str(data), "process": [{"text_length_filter": {"min_len": 5}}]}
    assert filter_with_stored_stats(recipe, tmp_path / "x.jsonl") is None  # no stats in the rows
    recipe["process"].append({"clean_html_mapper": {}})
    assert filter_with_stored_stats(recipe, tmp_path / "y.jsonl") is None
