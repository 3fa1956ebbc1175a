"""summary.md's filter-drop table on media stats: one value per image, two stats per op, size strings."""
from __future__ import annotations

import json

import yaml

from juicer_sandbox.summary import build_summary


def _records(tmp_path, any_or_all="any"):
    stats = tmp_path / "stats.jsonl"
    rows = [{"image_width": [100, 900], "image_height": [50], "image_sizes": [2048]},  # one wide image of two
            {"image_width": [900], "image_height": [50], "image_sizes": [2048]},
            {"image_width": [300], "image_height": [800], "image_sizes": [2048]},
            {"image_width": [300], "image_height": [50], "image_sizes": [10]}]
    stats.write_text("".join(json.dumps({"__dj__stats__": r}) + "\n" for r in rows))
    recipe = tmp_path / "refined.yaml"
    recipe.write_text(yaml.safe_dump({"process": [{"image_shape_filter": {"any_or_all": any_or_all}},
                                                  {"image_size_filter": {}}]}))

    def change(i, op, arg, stat, new):
        return {"op_index": i, "op_name": op, "action": "set", "arg": arg, "stat": stat, "new": new}

    changes = [change(0, "image_shape_filter", "max_width", "image_width", 500),
               change(0, "image_shape_filter", "max_height", "image_height", 100),
               change(1, "image_size_filter", "min_size", "image_sizes", "1KB")]
    probe = {"job": "p/probe_x", "pipeline": "p", "meta_name": "x", "hook": "ProbeViaAnalyzerHook",
             "outputs": {"__stats__": str(stats)}, "metrics": {"num_samples": 4}}
    refine = {"job": "p/refine_x", "pipeline": "p", "meta_name": "x", "hook": "RefineRecipeViaKSigmaHook",
              "outputs": {"res_1": str(recipe)}, "metrics": {"changes": changes}}
    other = {**probe, "job": "q/probe_x", "pipeline": "q"}  # another pipeline's probe: not compared with p's
    return [probe, refine, other]


def _table(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| image_")]


def test_drops_count_per_medium_and_per_stat(tmp_path):
    _, md = build_summary(_records(tmp_path), "s.yaml", "out")
    # any (the default): row 1 keeps its 100-wide image; row 2's only image is too wide; row 3 too tall;
    # row 4 is 10 bytes, under "1KB" (1024)
    assert _table(md) == ["| image_shape_filter | image_width | −∞ … 500 | 1 | 3 |",
                          "| image_shape_filter | image_height | −∞ … 100 | 1 | 2 |",
                          "| image_size_filter | image_sizes | 1024 … ∞ | 1 | 1 |"]
    assert "→" not in md  # p's probe is not compared with q's


def test_any_or_all_all_drops_a_sample_with_one_medium_outside(tmp_path):
    _, md = build_summary(_records(tmp_path, "all"), "s.yaml", "out")
    assert _table(md)[0] == "| image_shape_filter | image_width | −∞ … 500 | 2 | 2 |"
