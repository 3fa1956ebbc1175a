"""Putting trial parameters into recipes and extra configs (juicer_sandbox.hpo.apply)."""
from __future__ import annotations

import copy

import pytest

from juicer_sandbox.errors import ConfigError
from juicer_sandbox.hpo.apply import apply_params, validate_param_names
from juicer_sandbox.hpo.sweep import load_sweep

RECIPE = {
    "np": 1,
    "process": [
        {"text_length_filter": {"min_len": 10, "max_len": 1000}},
        {"clean_email_mapper": None},  # `- clean_email_mapper:` with no args
        "whitespace_normalization_mapper",  # `- op` written bare
        {"text_length_filter": {"min_len": 5}},
    ],
}


def test_op_params_set_every_op_of_that_name_without_touching_inputs():
    before = copy.deepcopy(RECIPE)
    extra = {"k": 1}
    recipe, extra_out = apply_params({"text_length_filter.min_len": 256, "clean_email_mapper.repl": "<e>",
                                      "whitespace_normalization_mapper.x": 0}, RECIPE, extra, "job")
    assert RECIPE == before and extra == {"k": 1}
    assert recipe["process"][0] == {"text_length_filter": {"min_len": 256, "max_len": 1000}}
    assert recipe["process"][3] == {"text_length_filter": {"min_len": 256}}
    assert recipe["process"][1] == {"clean_email_mapper": {"repl": "<e>"}}
    assert recipe["process"][2] == {"whitespace_normalization_mapper": {"x": 0}}
    assert extra_out == {"k": 1} and extra_out is not extra


def test_nested_op_argument_and_missing_op_is_skipped():
    recipe, _ = apply_params({"text_length_filter.cfg.a": 1, "absent_filter.x": 2}, RECIPE, None, None)
    assert recipe["process"][0]["text_length_filter"]["cfg"] == {"a": 1}
    assert "absent_filter" not in str(recipe)


def test_job_addressed_params_only_for_that_meta_name():
    params = {"probe.extra_configs.lr": 0.1, "probe.extra_configs.opt.beta": 0.9, "probe.dj_configs.np": 4,
              "train.extra_configs.lr": 0.5}
    recipe, extra = apply_params(params, RECIPE, {"lr": 1.0, "epochs": 2}, "probe")
    assert extra == {"lr": 0.1, "epochs": 2, "opt": {"beta": 0.9}}
    assert recipe["np"] == 4
    recipe, extra = apply_params(params, RECIPE, None, "train")
    assert extra == {"lr": 0.5} and recipe["np"] == 1
    recipe, extra = apply_params(params, None, None, "other")
    assert (recipe, extra) == (None, None)


def test_plain_key_sets_top_level_of_any_recipe():
    recipe, extra = apply_params({"np": 8, "text_keys": "content"}, RECIPE, None, "x")
    assert recipe["np"] == 8 and recipe["text_keys"] == "content" and extra is None
    assert apply_params({"np": 8}, None, {"a": 1}, "x") == (None, {"a": 1})


def test_setting_below_a_non_mapping_is_an_error():
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_params({"job.extra_configs.lr.x": 1}, None, {"lr": 0.1}, "job")


def _sweep(*names):
    return load_sweep({"method": "random", "run_cap": 2, "parameters": {n: {"values": [1, 2]} for n in names}},
                      file="hpo.yaml")


def test_validate_accepts_what_addresses_something():
    recipes = {"probe": RECIPE, "train": None}
    validate_param_names(_sweep("text_length_filter.min_len", "probe.extra_configs.lr", "train.extra_configs.lr",
                                "probe.dj_configs.np", "np"), recipes, ["probe", "train"],
                         dj_config_keys=["np", "process"])


@pytest.mark.parametrize("name, words", [
    ("character_repetition_filter.rep_len", "no recipe has an op"),
    ("nobody.extra_configs.lr", "no job has meta_name 'nobody'"),
    ("train.dj_configs.np", "has no dj_configs recipe"),
    ("probe.extra_configs", "whole section"),
    ("bogus_key", "not a Data-Juicer config key"),
])
def test_validate_rejects_names_that_address_nothing(name, words):
    with pytest.raises(ConfigError) as ei:
        validate_param_names(_sweep(name), {"probe": RECIPE, "train": None}, ["probe", "train", "eval"],
                             dj_config_keys=["np", "process"])
    assert ei.value.key == f"parameters.{name}" and ei.value.file == "hpo.yaml"
    assert words in str(ei.value)


def test_validate_plain_key_needs_a_recipe():
    with pytest.raises(ConfigError, match="no job has a recipe"):
        validate_param_names(_sweep("np"), {"train": None}, ["train"])
