"""One-pass stats (dj/fast_stats.py) give exactly the rows Data-Juicer's per-op dataset passes give,
and step aside for what they do not reproduce."""
from __future__ import annotations

import json

import pytest
import yaml

from juicer_sandbox.dj import fast_stats
from juicer_sandbox.dj.engine import compute_stats, init_cfg
from juicer_sandbox.io import read_jsonl

from .conftest import REPO, demo_slice

pytestmark = pytest.mark.e2e


def compute_stats_direct(recipe, work_dir, out, np=1):
    return fast_stats.compute_stats_direct(init_cfg(recipe, work_dir, out, np), out, np)


def _recipe(data) -> dict:
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe["process"][-1]["stopwords_filter"]["stopwords_dir"] = str(REPO / "resources/words")
    return {**recipe, "dataset_path": str(data), "np": 2}


def test_one_pass_stats_equal_data_juicers_passes(tmp_path):
    data = demo_slice(tmp_path, 600)
    with open(data, "a") as fh:  # Data-Juicer's loader drops a row whose text is null; so must this
        fh.write(json.dumps({"text": None, **{k: v for k, v in read_jsonl(data)[0].items() if k != "text"}}) + "\n")
    recipe = _recipe(data)
    fast, slow = tmp_path / "fast.jsonl", tmp_path / "slow.jsonl"
    assert compute_stats_direct(recipe, tmp_path / "dj1", fast, np=2) == 600
    assert compute_stats(recipe, tmp_path / "dj2", slow, np=2, direct=False) == 600
    fast_rows, slow_rows = read_jsonl(fast), read_jsonl(slow)
    assert len(fast_rows[0]["__dj__stats__"]) == 7  # every op's stat
    assert fast_rows == slow_rows


def test_what_one_pass_does_not_reproduce_goes_through_data_juicer(tmp_path):
    data = demo_slice(tmp_path, 30)
    rows = read_jsonl(data)
    mixed = tmp_path / "mixed.jsonl"  # a value int in one row, float in another: Arrow would convert it
    mixed.write_text("".join(json.dumps({**r, "score": 1 if i else 1.5}) + "\n" for i, r in enumerate(rows)))
    assert compute_stats_direct(_recipe(mixed), tmp_path / "a", tmp_path / "a.jsonl") is None
    assert compute_stats(_recipe(mixed), tmp_path / "b", tmp_path / "b.jsonl") == 30  # still computed, by DJ
    with_mapper = {**_recipe(data), "process": [{"clean_html_mapper": {}}, {"text_length_filter": {"min_len": 5}}]}
    assert compute_stats_direct(with_mapper, tmp_path / "c", tmp_path / "c.jsonl") is None
