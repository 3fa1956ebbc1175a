"""W&B sweep configurations: validation, normalisation, grid order and budgets (juicer_sandbox.hpo.sweep)."""
from __future__ import annotations

import itertools

import pytest
import yaml

from juicer_sandbox.errors import ConfigError
from juicer_sandbox.hpo.sweep import EARLY_TERMINATE_NOTE, load_sweep

# Data-Juicer's tools/hpo/configs/quality_score_hpo.yaml, plus the budget it passes to wandb.agent
DJ_SWEEP = {
    "sweep_name": "hpo_for_data-juicer",
    "sweep_max_count": 10,
    "method": "bayes",
    "metric": {"name": "quality_score", "goal": "maximize"},
    "parameters": {
        "character_repetition_filter.rep_len": {"values": [2, 4, 8, 16]},
        "character_repetition_filter.max_ratio": {"values": [0.3, 0.5, 0.7]},
        "text_length_filter.min_len": {"distribution": "q_log_uniform_values", "min": 256, "max": 8192},
    },
}


def sweep(**kw):
    cfg = {"method": "random", "run_cap": 5, "parameters": {"x": {"values": [1, 2]}}}
    cfg.update(kw)
    return cfg


def err(cfg, file=None) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_sweep(cfg, file=file)
    return ei.value


def test_dj_sweep_loads():
    s = load_sweep(DJ_SWEEP)
    assert (s.method, s.metric_name, s.goal, s.max_trials, s.name) == ("bayes", "quality_score", "maximize", 10,
                                                                        "hpo_for_data-juicer")
    assert list(s.parameters) == list(DJ_SWEEP["parameters"])  # file order kept
    assert s.parameters["text_length_filter.min_len"] == {"distribution": "q_log_uniform_values", "min": 256,
                                                          "max": 8192, "q": 1.0}
    assert s.parameters["character_repetition_filter.rep_len"] == {"distribution": "categorical",
                                                                   "values": [2, 4, 8, 16]}
    assert s.seed == 0 and s.early_terminate is None and s.notes == []


def test_load_from_yaml_file_and_errors_name_the_file(tmp_path):
    p = tmp_path / "hpo.yaml"
    p.write_text(yaml.safe_dump(DJ_SWEEP))
    assert load_sweep(str(p)).file == str(p)
    bad = dict(DJ_SWEEP, parameters={"a": {"distribution": "lognormal"}})
    p.write_text(yaml.safe_dump(bad))
    e = err(str(p))
    assert e.file == str(p) and e.key == "parameters.a.distribution"
    assert "lognormal" in str(e) and "log_normal" in str(e)
    assert err(str(tmp_path / "missing.yaml")).file.endswith("missing.yaml")


def test_distribution_inference_like_wandb():
    s = load_sweep(sweep(parameters={
        "c": {"values": ["a", "b"]}, "k": {"value": 3}, "i": {"min": 1, "max": 9}, "f": {"min": 0, "max": 1.0},
        "p": {"values": [1, 2], "probabilities": [0.25, 0.75]}, "n": {"distribution": "normal"},
        "qb": {"distribution": "q_beta", "a": 2}}))
    d = {k: v["distribution"] for k, v in s.parameters.items()}
    assert d == {"c": "categorical", "k": "constant", "i": "int_uniform", "f": "uniform",
                 "p": "categorical_w_probabilities", "n": "normal", "qb": "q_beta"}
    assert s.parameters["n"] == {"distribution": "normal", "mu": 0.0, "sigma": 1.0}
    assert s.parameters["qb"] == {"distribution": "q_beta", "a": 2, "b": 1.0, "q": 1.0}


def test_nested_parameters_are_flattened():
    s = load_sweep(sweep(parameters={"probe": {"parameters": {"extra_configs": {"parameters": {
        "lr": {"min": 0.1, "max": 0.5}}}}}, "np": {"value": 2}}))
    assert list(s.parameters) == ["probe.extra_configs.lr", "np"]


@pytest.mark.parametrize("cfg, key, words", [
    (sweep(bogus=1), "bogus", "unknown sweep key"),
    (sweep(method="custom"), "method", "grid, random, bayes"),
    (sweep(metrics=[{"name": "a"}, {"name": "b"}]), "metrics", "custom scheduler"),
    (sweep(parameters={}), "parameters", "non-empty"),
    (sweep(parameters={"x": {"values": [1], "distribution": "cauchy"}}), "parameters.x.distribution", "cauchy"),
    (sweep(parameters={"x": {"min": 1, "max": 2, "step": 1}}), "parameters.x.step", "unknown key"),
    (sweep(parameters={"x": {"min": 2, "max": 2}}), "parameters.x.min", "not less than max"),
    (sweep(parameters={"x": {"min": 3.0, "max": 1.0}}), "parameters.x.min", "not less than max"),
    (sweep(parameters={"x": {"distribution": "log_uniform_values", "min": 0, "max": 1}}), "parameters.x.min",
     "min > 0"),
    (sweep(parameters={"x": {"distribution": "log_uniform", "min": 1, "max": 1e4}}), "parameters.x.max",
     "exponents"),
    (sweep(parameters={"x": {"distribution": "int_uniform", "min": 0.5, "max": 3}}), "parameters.x.min",
     "integer"),
    (sweep(parameters={"x": {"distribution": "q_uniform", "min": 0, "max": 3, "q": 0}}), "parameters.x.q", "q"),
    (sweep(parameters={"x": {"distribution": "normal", "sigma": -1}}), "parameters.x.sigma", "sigma"),
    (sweep(parameters={"x": {"distribution": "beta", "a": 0}}), "parameters.x.a", "> 0"),
    (sweep(parameters={"x": {"values": []}}), "parameters.x.values", "non-empty"),
    (sweep(parameters={"x": {"values": [1, 2, 1]}}), "parameters.x.values", "duplicate"),
    (sweep(parameters={"x": {"values": [1, 2], "probabilities": [0.5, 0.6]}}), "parameters.x.probabilities",
     "sum to 1"),
    (sweep(parameters={"x": {"values": [1, 2], "probabilities": [1.0]}}), "parameters.x.probabilities",
     "as long as"),
    (sweep(parameters={"x": {"distribution": "uniform", "min": 0}}), "parameters.x", "needs `max`"),
    (sweep(parameters={"x": {"foo": 1}}), "parameters.x", "cannot infer"),
    (sweep(parameters={"1x": {"value": 1}}), "parameters.1x", "invalid parameter name"),
    (sweep(metric={"name": "q", "goal": "max"}), "metric.goal", "minimize or maximize"),
    (sweep(metric={"goal": "maximize"}), "metric.name", "non-empty"),
    (sweep(metric={"name": "q", "impute": "mean"}), "metric.impute", "worst"),
    (sweep(run_cap=0), "run_cap", "positive integer"),
    (sweep(seed=-1), "seed", "seed"),
    (sweep(early_terminate="hyperband"), "early_terminate", "mapping"),
    (sweep(early_terminate={"type": "hyperband"}), "early_terminate", "min_iter"),
    (sweep(early_terminate={"type": "median"}), "early_terminate.type", "hyperband"),
    (sweep(early_terminate={"type": "hyperband", "min_iter": 3, "eta": 1}), "early_terminate.eta", "> 1"),
])
def test_located_errors(cfg, key, words):
    e = err(cfg, file="sweep.yaml")
    assert e.key == key, str(e)
    assert e.file == "sweep.yaml"
    assert words in str(e)


def test_bayes_needs_metric_and_random_bayes_need_a_budget():
    assert err({"method": "bayes", "run_cap": 3, "parameters": {"x": {"values": [1]}}}).key == "metric"
    for method in ("random", "bayes"):
        cfg = {"method": method, "metric": {"name": "m"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
        e = err(cfg)
        assert e.key == "run_cap" and "sweep_max_count" in str(e)
    # both caps: the smaller wins
    assert load_sweep(sweep(run_cap=7, sweep_max_count=4)).max_trials == 4
    assert load_sweep(sweep(run_cap=3, sweep_max_count=9)).max_trials == 3


def test_wandb_only_keys_are_accepted_and_ignored():
    s = load_sweep(sweep(program="train.py", command=["${env}", "python"], entity="e", project="p",
                         description="d", name="n"))
    assert s.name == "n"


def test_grid_rejects_continuous_distributions_naming_the_parameter():
    for spec in ({"min": 0.0, "max": 1.0}, {"distribution": "log_uniform_values", "min": 1, "max": 10},
                 {"distribution": "normal"}, {"values": [1, 2], "probabilities": [0.5, 0.5]}):
        e = err({"method": "grid", "parameters": {"ok": {"values": [1]}, "lr": spec}})
        assert e.key == "parameters.lr" and "grid" in str(e)


def test_grid_order_size_and_caps_follow_wandb():
    cfg = {"method": "grid", "parameters": {
        "zeta": {"values": ["a", "b"]},  # file order is not grid order: W&B sorts by name
        "alpha": {"min": 1, "max": 3},  # int_uniform: 1, 2, 3
        "mid": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},  # arange: max excluded
        "const": {"value": {"k": 1}}}}
    s = load_sweep(cfg)
    assert s.max_trials == s.grid_size() == 2 * 3 * 4
    pts = s.grid_points()
    expected = [{"zeta": z, "alpha": a, "mid": m, "const": {"k": 1}}
                for a, m, z in itertools.product([1, 2, 3], [0.0, 0.25, 0.5, 0.75], ["a", "b"])]
    assert pts == expected
    assert [list(p) for p in pts[:1]] == [["zeta", "alpha", "mid", "const"]]  # keys in file order
    assert all(s.grid_point(i) == pts[i] for i in range(len(pts)))
    with pytest.raises(IndexError):
        s.grid_point(len(pts))
    assert load_sweep(dict(cfg, run_cap=5)).max_trials == 5
    assert load_sweep(dict(cfg, run_cap=500, sweep_max_count=30)).max_trials == 24


def test_grid_q_uniform_integers():
    s = load_sweep({"method": "grid", "parameters": {"n": {"distribution": "q_uniform", "min": 2, "max": 11, "q": 3}}})
    assert [p["n"] for p in s.grid_points()] == [2, 5, 8]
    assert all(isinstance(p["n"], int) for p in s.grid_points())


def test_early_terminate_is_parsed_and_documented_as_not_applied():
    s = load_sweep(dict(DJ_SWEEP, early_terminate={"type": "hyperband", "max_iter": 27, "s": 2}))
    assert s.early_terminate == {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": True}
    assert EARLY_TERMINATE_NOTE in s.notes and "not applied" in EARLY_TERMINATE_NOTE
    s = load_sweep(dict(DJ_SWEEP, early_terminate={"type": "hyperband", "min_iter": 3, "eta": 2}))
    assert s.early_terminate["min_iter"] == 3 and s.early_terminate["eta"] == 2


def test_fingerprint_ignores_budget_but_not_space_or_seed():
    a = load_sweep(sweep(run_cap=5))
    assert a.fingerprint() == load_sweep(sweep(run_cap=50)).fingerprint()
    assert a.fingerprint() != load_sweep(sweep(run_cap=5, seed=1)).fingerprint()
    assert a.fingerprint() != load_sweep(sweep(parameters={"x": {"values": [1, 3]}})).fingerprint()
    assert a.to_dict()["max_trials"] == 5
