"""k-sigma refinement: describe_stats, refine_recipe_k_sigma, write_recipe (hand-computed)."""
from __future__ import annotations

import copy
import json
import math

import pytest
import yaml

from juicer_sandbox.components.ksigma import refine_recipe_k_sigma
from juicer_sandbox.components.stats_summary import describe_stats
from juicer_sandbox.dj.recipe import write_recipe
from juicer_sandbox.errors import ComponentConfigError, ConfigError

# [1, 2, 3, 4, 10]: mean 4, sample variance (9+4+1+0+36)/4 = 12.5
STD = math.sqrt(12.5)


def _rows(key, values):
    return [{key: v} for v in values]


def _sets(log):
    return {(e["op_index"], e["arg"]): e["new"] for e in log if e["action"] == "set"}


def _skips(log):
    return [e for e in log if e["action"] == "skipped"]


# --------------------------------------------------------------------------- describe_stats


def test_describe_hand_computed():
    out = describe_stats(_rows("text_len", [1, 2, 3, 4, 10]))
    d = out["text_len"]
    assert d["count"] == 5
    assert d["mean"] == pytest.approx(4.0)
    assert d["std"] == pytest.approx(STD)
    assert (d["min"], d["25%"], d["50%"], d["75%"], d["max"]) == (1.0, 2.0, 3.0, 4.0, 10.0)
    assert list(d) == ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def test_describe_custom_percentiles_interpolate_linearly():
    d = describe_stats(_rows("x", [1, 2, 3, 4, 10]), percentiles=(0.9, 0.125))["x"]
    # positions 0.125*4 = 0.5 -> 1.5 ; 0.9*4 = 3.6 -> 4 + 0.6*6 = 7.6
    assert d["12.5%"] == pytest.approx(1.5)
    assert d["90%"] == pytest.approx(7.6)
    assert "25%" not in d
    with pytest.raises(ComponentConfigError):
        describe_stats([], percentiles=(1.5,))


def test_describe_flattens_list_valued_stats():
    rows = _rows("image_width", [[1, 2], [3], [], [4, 10], None])
    d = describe_stats(rows)["image_width"]
    assert d["count"] == 5
    assert d["mean"] == pytest.approx(4.0)
    assert d["std"] == pytest.approx(STD)


def test_describe_skips_non_numeric_and_missing():
    rows = [
        {"lang": "en", "lang_score": 0.5, "flag": True, "text_len": 3},
        {"lang": "fr", "lang_score": 0.7, "flag": False, "text_len": None},
        {"lang_score": float("nan"), "text_len": 5},
    ]
    out = describe_stats(rows)
    assert set(out) == {"lang_score", "text_len"}
    assert out["lang_score"]["count"] == 2 and out["lang_score"]["mean"] == pytest.approx(0.6)
    assert out["text_len"]["count"] == 2 and out["text_len"]["mean"] == pytest.approx(4.0)


def test_describe_accepts_whole_samples_and_empty_stats():
    rows = [
        {"text": "a", "__dj__stats__": {"text_len": 7, "face_ratios": []}},
        {"text": "b", "__dj__stats__": {"face_ratios": []}},
    ]
    out = describe_stats(rows)
    assert out["text_len"] == {
        "count": 1, "mean": 7.0, "std": None, "min": 7.0, "25%": 7.0, "50%": 7.0, "75%": 7.0, "max": 7.0
    }
    assert out["face_ratios"]["count"] == 0 and out["face_ratios"]["mean"] is None
    assert describe_stats([]) == {}


def test_describe_matches_dj_overall_analysis_semantics():
    """Same numbers as pandas describe on the exploded column (what DJ's OverallAnalysis does)."""
    pd = pytest.importorskip("pandas")
    import random

    rnd = random.Random(7)
    rows = [{"s": [rnd.random() * 100 for _ in range(rnd.randint(0, 4))], "t": rnd.randint(0, 50)} for _ in range(200)]
    ours = describe_stats(rows, percentiles=(0.1, 0.25, 0.5, 0.75))
    df = pd.DataFrame(rows)
    for col in ("s", "t"):
        series = df[col].explode().infer_objects() if col == "s" else df[col]
        ref = series.astype(float).describe(percentiles=[0.1, 0.25, 0.5, 0.75])
        for label in ("count", "mean", "std", "min", "10%", "25%", "50%", "75%", "max"):
            assert ours[col][label] == pytest.approx(float(ref[label])), (col, label)


# --------------------------------------------------------------------------- refine


OVERALL = {"text_len": {"count": 5, "mean": 4.0, "std": STD}}


def test_refine_int_bounds_k1_and_k3():
    recipe = {"project_name": "p", "process": [{"text_length_filter": {"min_len": 10, "max_len": 10000}}]}
    out1, log1 = refine_recipe_k_sigma(recipe, OVERALL, k=1)
    # 4 - 3.5355 = 0.4645 -> floor 0 ; 4 + 3.5355 = 7.5355 -> ceil 8
    assert out1["process"][0]["text_length_filter"] == {"min_len": 0, "max_len": 8}
    out3, _ = refine_recipe_k_sigma(recipe, OVERALL, k=3)
    # 4 - 10.607 < 0 -> clipped to 0 ; 4 + 10.607 = 14.607 -> ceil 15
    assert out3["process"][0]["text_length_filter"] == {"min_len": 0, "max_len": 15}
    for v in out3["process"][0]["text_length_filter"].values():
        assert type(v) is int
    # the log records what changed
    entry = next(e for e in log1 if e["arg"] == "max_len")
    assert entry["action"] == "set" and entry["op_index"] == 0 and entry["op_name"] == "text_length_filter"
    assert (entry["old"], entry["new"], entry["stat"]) == (10000, 8, "text_len")
    assert entry["mean"] == pytest.approx(4.0) and entry["std"] == pytest.approx(STD)
    assert entry["raw"] == pytest.approx(4 + STD)


def test_refine_int_rounding_widens_interval():
    overall = {"avg_line_length": {"count": 9, "mean": 50.0, "std": 10.25}}
    out, _ = refine_recipe_k_sigma({"process": [{"average_line_length_filter": None}]}, overall, k=2)
    # 50 - 20.5 = 29.5 -> 29 ; 50 + 20.5 = 70.5 -> 71
    assert out["process"][0]["average_line_length_filter"] == {"min_len": 29, "max_len": 71}


def test_refine_ratio_clipped_to_unit_interval():
    stats = describe_stats(_rows("special_char_ratio", [0.1, 0.2, 0.3, 0.4, 0.9]))
    # mean 0.38, std sqrt(0.388/4) = 0.31145
    recipe = {"process": [{"special_characters_filter": {"min_ratio": 0.0, "max_ratio": 0.25}}]}
    out, log = refine_recipe_k_sigma(recipe, stats, k=3)
    args = out["process"][0]["special_characters_filter"]
    assert args == {"min_ratio": 0.0, "max_ratio": 1.0}
    assert all(type(v) is float for v in args.values())
    raws = {e["arg"]: e["raw"] for e in log}
    assert raws["min_ratio"] == pytest.approx(0.38 - 3 * math.sqrt(0.097))
    assert raws["max_ratio"] == pytest.approx(0.38 + 3 * math.sqrt(0.097))
    # k=1 stays inside [0, 1]: no clipping
    out, _ = refine_recipe_k_sigma(recipe, stats, k=1)
    args = out["process"][0]["special_characters_filter"]
    assert args["min_ratio"] == pytest.approx(0.38 - math.sqrt(0.097))
    assert args["max_ratio"] == pytest.approx(0.38 + math.sqrt(0.097))


def test_refine_op_without_args_gets_both_bounds():
    recipe = {"process": [{"text_length_filter": None}]}
    out, log = refine_recipe_k_sigma(recipe, OVERALL, k=1)
    assert out["process"][0] == {"text_length_filter": {"min_len": 0, "max_len": 8}}
    assert {e["old"] for e in log} == {None}
    assert recipe == {"process": [{"text_length_filter": None}]}  # input untouched


def test_refine_only_existing_args():
    recipe = {"process": [{"text_length_filter": {"max_len": 100}}, {"words_num_filter": None}]}
    overall = {**OVERALL, "num_words": {"count": 5, "mean": 4.0, "std": STD}}
    out, log = refine_recipe_k_sigma(recipe, overall, k=1, only_existing_args=True)
    assert out["process"][0] == {"text_length_filter": {"max_len": 8}}
    assert out["process"][1] == {"words_num_filter": None}
    skipped = {(e["op_index"], e["arg"]) for e in _skips(log)}
    assert skipped == {(0, "min_len"), (1, "min_num"), (1, "max_num")}
    assert all("only_existing_args" in e["reason"] for e in _skips(log))


def test_refine_ops_not_in_map_are_logged_and_untouched():
    recipe = {
        "process": [
            {"clean_email_mapper": None},
            {"suffix_filter": {"suffixes": [".txt"]}},
            {"document_deduplicator": {"lowercase": True}},
            {"text_length_filter": {"min_len": 5}},
        ]
    }
    out, log = refine_recipe_k_sigma(recipe, OVERALL, k=1)
    assert out["process"][:3] == recipe["process"][:3]
    reasons = {e["op_index"]: e["reason"] for e in _skips(log)}
    assert reasons[0] == "not a filter op"
    assert reasons[2] == "not a filter op"
    assert "stat_map" in reasons[1]
    assert _sets(log) == {(3, "min_len"): 0, (3, "max_len"): 8}


def test_refine_missing_empty_and_nan_stats_are_skipped_with_reason():
    recipe = {
        "process": [
            {"text_length_filter": {"min_len": 5}},
            {"words_num_filter": {"min_num": 5}},
            {"special_characters_filter": None},
            {"stopwords_filter": None},
        ]
    }
    overall = {
        "num_words": {"count": 0, "mean": None, "std": None},
        "special_char_ratio": {"count": 1, "mean": 0.2, "std": float("nan")},
        "stopwords_ratio": {"count": 3, "mean": float("nan"), "std": 0.1},
    }
    out, log = refine_recipe_k_sigma(recipe, overall)
    assert out == recipe
    reasons = {e["op_index"]: e["reason"] for e in log}
    assert reasons[0] == "no stats"
    assert "count 0" in reasons[1]
    assert "NaN" in reasons[2] and "NaN" in reasons[3]
    assert all(e["action"] == "skipped" for e in log)


def test_refine_alphanumeric_tokenization():
    overall = {
        "alnum_ratio": {"count": 5, "mean": 0.8, "std": 0.1},
        "alpha_token_ratio": {"count": 5, "mean": 3.0, "std": 0.5},
    }
    recipe = {
        "process": [
            {"alphanumeric_filter": {"tokenization": False, "min_ratio": 0.25}},
            {"alphanumeric_filter": {"tokenization": True, "min_ratio": 0.25}},
            {"alphanumeric_filter": None},
        ]
    }
    out, log = refine_recipe_k_sigma(recipe, overall, k=3)
    a, b, c = (op["alphanumeric_filter"] for op in out["process"])
    # 0.8 ± 0.3 -> [0.5, 1.1] -> max clipped to 1
    assert a["min_ratio"] == pytest.approx(0.5) and a["max_ratio"] == 1.0
    # 3.0 ± 1.5 -> [1.5, 4.5], a token ratio may exceed 1
    assert b["min_ratio"] == pytest.approx(1.5) and b["max_ratio"] == pytest.approx(4.5)
    assert c["min_ratio"] == pytest.approx(0.5) and c["max_ratio"] == 1.0
    stats_used = {e["op_index"]: e["stat"] for e in log}
    assert stats_used == {0: "alnum_ratio", 1: "alpha_token_ratio", 2: "alnum_ratio"}


def test_refine_one_sided_and_multi_stat_ops():
    overall = {
        "lang_score": {"count": 4, "mean": 0.9, "std": 0.05},
        "image_width": {"count": 4, "mean": 500.0, "std": 100.0},
    }
    recipe = {"process": [{"language_id_score_filter": {"lang": "en"}}, {"image_shape_filter": {"min_width": 1}}]}
    out, log = refine_recipe_k_sigma(recipe, overall, k=2)
    assert out["process"][0]["language_id_score_filter"] == {"lang": "en", "min_score": pytest.approx(0.8)}
    # width refined, height has no stats and is left alone (logged)
    assert out["process"][1]["image_shape_filter"] == {"min_width": 300, "max_width": 700}
    assert [(e["op_index"], e["stat"], e["reason"]) for e in _skips(log)] == [(1, "image_height", "no stats")]


def test_refine_list_valued_stat_end_to_end():
    stats = describe_stats(_rows("image_width", [[1, 2], [3], [4, 10]]))
    out, _ = refine_recipe_k_sigma({"process": [{"image_shape_filter": None}]}, stats, k=1)
    assert out["process"][0]["image_shape_filter"] == {"min_width": 0, "max_width": 8}


def test_refine_does_not_mutate_input_and_keeps_other_keys():
    recipe = {
        "project_name": "demo",
        "dataset_path": "data.jsonl",
        "np": 4,
        "process": [{"text_length_filter": {"min_len": 10, "max_len": 10000}}],
    }
    before = copy.deepcopy(recipe)
    out, _ = refine_recipe_k_sigma(recipe, OVERALL, k=3)
    assert recipe == before
    assert out is not recipe and out["process"][0] is not recipe["process"][0]
    assert list(out) == list(recipe)
    assert {k: v for k, v in out.items() if k != "process"} == {k: v for k, v in before.items() if k != "process"}


def test_refine_accepts_dj_overall_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"text_len": [1, 2, 3, 4, 10]}).describe()  # DJ's overall layout
    out, _ = refine_recipe_k_sigma({"process": [{"text_length_filter": None}]}, df, k=1)
    assert out["process"][0]["text_length_filter"] == {"min_len": 0, "max_len": 8}


@pytest.mark.parametrize("k", [-1, float("nan"), float("inf"), "3", True])
def test_refine_rejects_bad_k(k):
    with pytest.raises(ComponentConfigError) as exc:
        refine_recipe_k_sigma({"process": []}, {}, k=k)
    assert exc.value.key == "k"


@pytest.mark.parametrize(
    "recipe, key",
    [
        ({}, "process"),
        ({"process": {"text_length_filter": None}}, "process"),
        ({"process": [{"a_filter": None, "b_filter": None}]}, "process[0]"),
        ({"process": ["text_length_filter"]}, "process[0]"),
        ({"process": [{"text_length_filter": [1, 2]}]}, "process[0].text_length_filter"),
    ],
)
def test_refine_rejects_malformed_recipes(recipe, key):
    with pytest.raises(ConfigError) as exc:
        refine_recipe_k_sigma(recipe, OVERALL)
    assert exc.value.key == key


# --------------------------------------------------------------------------- write_recipe


RECIPE = {
    "project_name": "demo",
    "dataset_path": "data/in.jsonl",
    "export_path": "out/res.jsonl",
    "np": 2,
    "process": [
        {"whitespace_normalization_mapper": None},
        {"text_length_filter": {"min_len": 10, "max_len": 10000}},
        {"alphanumeric_filter": {"tokenization": False, "min_ratio": 0.25}},
        {"language_id_score_filter": {"lang": ["en", "zh"], "min_score": 0.8}},
    ],
}
STATS = {
    "text_len": {"count": 5, "mean": 912.3745, "std": 1064.4374},
    "alnum_ratio": {"count": 5, "mean": 0.7312345678901234, "std": 0.0923456789},
    "lang_score": {"count": 5, "mean": 0.91, "std": 0.07},
}


@pytest.mark.parametrize("name", ["refined.yaml", "refined.yml", "sub/dir/refined.json"])
def test_write_recipe_reloads_identically(tmp_path, name):
    refined, _ = refine_recipe_k_sigma(RECIPE, STATS, k=3)
    path = write_recipe(refined, tmp_path / name)
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    assert loaded == refined
    assert list(loaded) == list(RECIPE)  # key order kept, not sorted
    assert [next(iter(op)) for op in loaded["process"]] == [next(iter(op)) for op in RECIPE["process"]]
    assert loaded["process"][1]["text_length_filter"] == {"min_len": 0, "max_len": 4106}
    assert not list(path.parent.glob(".*"))  # no temp files left behind


def test_write_recipe_rejects_other_extensions(tmp_path):
    with pytest.raises(ConfigError):
        write_recipe(RECIPE, tmp_path / "recipe.txt")
    with pytest.raises(ConfigError):
        write_recipe(RECIPE, tmp_path / "recipe")
    assert not list(tmp_path.iterdir())


def test_write_recipe_plain_types(tmp_path):
    import numpy as np

    recipe = {"process": [{"text_length_filter": {"min_len": np.int64(3), "max_len": np.float64(7.5)}}], "t": (1, 2)}
    loaded = yaml.safe_load(write_recipe(recipe, tmp_path / "r.yaml").read_text())
    assert loaded == {"process": [{"text_length_filter": {"min_len": 3, "max_len": 7.5}}], "t": [1, 2]}


def test_ksigma_module_does_not_import_data_juicer():
    import subprocess
    import sys

    code = (
        "import sys, juicer_sandbox.components.ksigma as k; "
        "sys.exit(1 if any(m == 'data_juicer' or m.startswith('data_juicer.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_tighten_only_keeps_stricter_recipe_bounds_and_says_so():
    from juicer_sandbox.components.ksigma import note_kept_bounds as _note_kept_bounds, tighten_only

    recipe = {"process": [{"text_length_filter": {"min_len": 10}},
                          {"alphanumeric_filter": {"min_ratio": 0.25, "max_ratio": 1.0}}]}
    overall = {"text_len": {"mean": 50.0, "std": 30.0}, "alnum_ratio": {"mean": 0.8, "std": 0.05}}
    refined, changes = refine_recipe_k_sigma(recipe, overall, k=3)
    tight = tighten_only(recipe, refined)
    # k-sigma would loosen min_len to 0 (50 - 90 clipped): the recipe's 10 stays
    assert tight["process"][0]["text_length_filter"]["min_len"] == 10
    assert tight["process"][0]["text_length_filter"]["max_len"] == 140
    # k-sigma tightens min_ratio to 0.65: taken
    assert tight["process"][1]["alphanumeric_filter"]["min_ratio"] == pytest.approx(0.65)
    _note_kept_bounds(changes, tight)
    by_arg = {c["arg"]: c for c in changes if "arg" in c}
    assert by_arg["min_len"]["action"] == "kept" and by_arg["min_len"]["new"] == 10
    assert by_arg["min_len"]["k_sigma"] == 0
    assert by_arg["max_len"]["action"] == "set"
    assert by_arg["min_ratio"]["action"] == "set"


def test_refine_from_stats_is_the_whole_hook_algorithm():
    """From per-sample stats rows to the written recipe's bounds, with and without tighten_only."""
    from juicer_sandbox.components.ksigma import refine_from_stats

    recipe = {"process": [{"text_length_filter": {"min_len": 10, "max_len": 1000}}]}
    lengths = [10, 20, 30, 40, 200]  # mean 60, sample std 79.06: 60 -/+ 1*std = [-19.06, 139.06]
    rows = [{"__dj__stats__": {"text_len": v}} for v in lengths]
    loose, changes = refine_from_stats(recipe, rows, k=1)
    assert loose["process"][0]["text_length_filter"] == {"min_len": 0, "max_len": 140}
    assert {c["action"] for c in changes if "arg" in c} == {"set"}
    tight, changes = refine_from_stats(recipe, iter(rows), k=1, tighten=True)
    assert tight["process"][0]["text_length_filter"] == {"min_len": 10, "max_len": 140}
    kept = [c for c in changes if c.get("action") == "kept"]
    assert [(c["arg"], c["new"], c["k_sigma"]) for c in kept] == [("min_len", 10, 0)]
    assert recipe["process"][0]["text_length_filter"] == {"min_len": 10, "max_len": 1000}  # input untouched
