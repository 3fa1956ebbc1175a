"""Compiling a sandbox config into a job plan (juicer_sandbox.config.plan), hand-checked.

No Snakemake and no Data-Juicer processing: only the cached DJ op catalogue is read.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.config.paths import stats_export_path
from juicer_sandbox.config.plan import compile_plan, dumps_params, plan_summary
from juicer_sandbox.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"text": "hello world"}\n')
    (tmp_path / "data" / "b.jsonl").write_text('{"text": "goodbye world"}\n')
    return tmp_path


def write(path, obj) -> str:
    path = str(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(obj if isinstance(obj, str) else yaml.safe_dump(obj, sort_keys=False))
    return path


def recipe(export="out/x.jsonl", dataset="data/a.jsonl", **kw):
    r = {"dataset_path": dataset, "export_path": export, "process": [{"text_length_filter": {"min_len": 1}}]}
    r.update(kw)
    return r


def probe(meta, **kw):
    return {"hook": "ProbeViaAnalyzerHook", "meta_name": meta, "dj_configs": recipe(f"out/{meta}.jsonl"), **kw}


def ksigma(meta, path="out/k.yaml", k=3, **kw):
    return {"hook": "RefineRecipeViaKSigmaHook", "meta_name": meta, "dj_configs": recipe(f"out/{meta}_r.jsonl"),
            "extra_configs": {"path_k_sigma_recipe": path, "k": k}, **kw}


def process(meta, dj=None, **kw):
    return {"hook": "ProcessDataHook", "meta_name": meta, "dj_configs": dj or recipe(f"out/{meta}.jsonl"), **kw}


def plan_of(here, cfg, name="sb.yaml"):
    return compile_plan(write(here / name, cfg))


def plan_error(here, cfg, name="sb.yaml") -> ConfigError:
    path = write(here / name, cfg)
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    return ei.value


def inputs_of(plan, job_id):
    """What rules/plan.smk's job_inputs gives Snakemake for a job."""
    job = plan.jobs[job_id]
    return {"upstream": [plan.context_path(d) for d in job.deps], "files": job.file_inputs}


# --------------------------------------------------------------------------- ids and order


def test_job_ids_and_order(here):
    plan = plan_of(here, {
        "work_dir": "wd",
        "pipelines": [
            {"first": {"evaluation_job_configs": [probe("ev")], "probe_job_configs": [probe("a"), probe("b")],
                       "refine_recipe_job_configs": [ksigma("a")]}},
            {"second": {"execution_job_configs": [process("proc"), process(None, dj=recipe("out/anon.jsonl"))]}},
        ]})
    assert list(plan.jobs) == [
        "first/probe_a", "first/probe_b", "first/refine_a", "first/evaluation_ev",
        "second/execution_proc", "second/execution_process_data",  # no meta_name: the rule name
    ]
    assert plan.work_dir == "wd"
    assert plan.context_path("first/probe_a") == "wd/first/probe_a/context.json"
    assert [j.rule for j in plan.jobs.values()] == ["probe_via_analyzer", "probe_via_analyzer", "refine_via_ksigma",
                                                    "probe_via_analyzer", "process_data", "process_data"]
    assert [j.id for j in plan.by_rule("process_data")] == ["second/execution_proc",
                                                          "second/execution_process_data"]
    assert plan.job_regex("process_data") == "second/execution_proc|second/execution_process_data"
    assert plan.job_regex("train_model") == "(?!)"  # matches nothing
    assert plan_summary(plan)[2] == {"job": "first/refine_a", "hook": "RefineRecipeViaKSigmaHook",
                                     "deps": ["first/probe_a"]}


def test_meta_name_is_slugged_in_the_job_id(here):
    plan = plan_of(here, {"probe_job_configs": [probe("my probe/1")]})
    assert list(plan.jobs) == ["anonymous/probe_my_probe_1"]


# --------------------------------------------------------------------------- references


def test_minus_one_is_the_previous_job(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a"), probe("b")],
                          "execution_job_configs": [process("p", input={"dj_configs.dataset_path": "-1.res_1"})]})
    job = plan.jobs["anonymous/execution_p"]
    assert job.deps == ["anonymous/probe_b"]
    assert job.refs == {"dj_configs.dataset_path": {"job": "anonymous/probe_b", "output": "res_1", "deeper": []}}
    assert inputs_of(plan, job.id)["upstream"] == ["outputs/hello_world/anonymous/probe_b/context.json"]


def test_minus_one_crosses_pipelines(here):
    plan = plan_of(here, {"pipelines": {
        "p": {"probe_job_configs": [probe("a")], "evaluation_job_configs": [probe("z")]},
        "q": {"execution_job_configs": [process("proc", input={"dj_configs.dataset_path": "-1.res_1.deeper.x"})]}}})
    job = plan.jobs["q/execution_proc"]
    assert job.deps == ["p/evaluation_z"]
    assert job.refs["dj_configs.dataset_path"] == {"job": "p/evaluation_z", "output": "res_1",
                                                   "deeper": ["deeper", "x"]}


def test_minus_one_in_the_first_job_is_an_error(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [probe("a", input={"dj_configs.dataset_path": "-1.res_1"})]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    err = ei.value
    assert err.file == path and err.key == "probe_job_configs[0].input.dj_configs.dataset_path"
    assert "first" in str(err)


def test_named_reference_to_an_earlier_job(here):
    plan = plan_of(here, {"pipelines": [
        {"p": {"probe_job_configs": [probe("a"), probe("b")]}},
        {"q": {"execution_job_configs": [process("proc", input={"dj_configs.dataset_path": "p.a.res_1"})]}}]})
    job = plan.jobs["q/execution_proc"]
    assert job.deps == ["p/probe_a"]
    assert job.refs["dj_configs.dataset_path"]["job"] == "p/probe_a"


def test_named_reference_with_duplicate_meta_names_takes_the_first(here):
    a1 = probe("a")
    a2 = probe("a", dj_configs=recipe("out/a2.jsonl"))
    plan = plan_of(here, {"probe_job_configs": [a1, a2],
                          "execution_job_configs": [
                              process("p", input={"dj_configs.dataset_path": "anonymous.a.res_1"})]})
    assert plan.jobs["anonymous/execution_p"].deps == ["anonymous/probe_a"]


def test_reference_to_an_unknown_pipeline_lists_the_jobs(here):
    err = plan_error(here, {"pipelines": {
        "p": {"probe_job_configs": [probe("a"), probe("b")]},
        "q": {"execution_job_configs": [process("proc", input={"dj_configs.dataset_path": "zz.a.res_1"})]}}})
    assert err.key == "pipelines.q.execution_job_configs[0].input.dj_configs.dataset_path"
    assert "'zz.a.res_1'" in str(err) and "p.a, p.b" in str(err)


def test_reference_to_an_unknown_meta_name_lists_the_jobs(here):
    err = plan_error(here, {"probe_job_configs": [probe("a")],
                            "execution_job_configs": [
                              process("p", input={"dj_configs.dataset_path": "anonymous.zz.res_1"})]})
    assert err.key == "execution_job_configs[0].input.dj_configs.dataset_path"
    assert "anonymous.a" in str(err)


def test_reference_to_an_unknown_output_lists_the_outputs(here):
    err = plan_error(here, {"probe_job_configs": [probe("a", output="stats_path")],
                            "execution_job_configs": [
                              process("p", input={"dj_configs.dataset_path": "anonymous.a.res_1"})]})
    assert err.key == "execution_job_configs[0].input.dj_configs.dataset_path"
    assert "'res_1'" in str(err) and "anonymous/probe_a" in str(err) and "stats_path" in str(err)


def test_reference_to_a_later_job_is_an_error(here):
    err = plan_error(here, {"probe_job_configs": [probe("a", input={"dj_configs.dataset_path": "anonymous.b.res_1"}),
                                                  probe("b")]})
    assert err.key == "probe_job_configs[0].input.dj_configs.dataset_path"
    assert "no earlier job" in str(err) and "none" in str(err)


def test_reference_to_a_job_in_a_later_pipeline_is_an_error(here):
    err = plan_error(here, {"pipelines": [
        {"p": {"probe_job_configs": [probe("a", input={"dj_configs.dataset_path": "q.b.res_1"})]}},
        {"q": {"probe_job_configs": [probe("b")]}}]})
    assert err.key == "pipelines[0].p.probe_job_configs[0].input.dj_configs.dataset_path"


@pytest.mark.parametrize("text", ["-1", "p.m", "p..out"])
def test_malformed_reference_is_an_error(here, text):
    err = plan_error(here, {"probe_job_configs": [probe("a"), probe("b", input={"dj_configs.dataset_path": text})]})
    assert err.key == "probe_job_configs[1].input.dj_configs.dataset_path"


def test_input_key_must_start_with_a_config_root(here):
    err = plan_error(here, {"probe_job_configs": [probe("a"), probe("b", input={"dataset_path": "-1.res_1"})]})
    assert err.key == "probe_job_configs[1].input.dataset_path" and "dj_configs" in str(err)


def test_default_output_names(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a")]})
    assert plan.jobs["anonymous/probe_a"].output_keys == ["res_1"]


def test_default_output_names_match_what_the_evaluator_returns(here):
    (here / "data" / "pred.jsonl").write_text('{"p": 1, "g": 1}\n{"p": 2, "g": 3}\n')
    extra = {"type": "accuracy", "predicted_dataset_path": "data/pred.jsonl",
             "predicted_label_key": "p", "ground_truth_label_key": "g"}
    plan = plan_of(here, {"evaluation_job_configs": [{"hook": "EvaluateDataHook", "meta_name": "acc",
                                                      "extra_configs": extra}]})
    from juicer_sandbox.components.registry import get_component

    returned = get_component("data_evaluator", "accuracy").fn({k: v for k, v in extra.items() if k != "type"})
    assert isinstance(returned, tuple) and len(returned) == 2 and returned[1] == 0.5  # (per_file, best)
    assert plan.jobs["anonymous/evaluation_acc"].output_keys == ["res_1", "res_2"]


def test_named_outputs(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a", output="stats")],
                          "execution_job_configs": [process("p", input={"dj_configs.dataset_path": "-1.stats"})]})
    assert plan.jobs["anonymous/probe_a"].output_keys == ["stats"]
    assert plan.jobs["anonymous/execution_p"].refs["dj_configs.dataset_path"]["output"] == "stats"


@pytest.mark.parametrize("ref", ["-1.0", "anonymous.a.0"])
def test_integer_output_keys_of_the_original_are_aliases(here, ref):
    plan = plan_of(here, {"probe_job_configs": [probe("a", output="stats")],
                          "execution_job_configs": [process("p", input={"dj_configs.dataset_path": ref})]})
    assert plan.jobs["anonymous/execution_p"].refs["dj_configs.dataset_path"] == {
        "job": "anonymous/probe_a", "output": "stats", "deeper": []}


def test_integer_output_key_out_of_range_is_an_error(here):
    err = plan_error(here, {"probe_job_configs": [probe("a")],
                            "execution_job_configs": [process("p", input={"dj_configs.dataset_path": "-1.1"})]})
    assert "'1'" in str(err) and "res_1" in str(err)


def test_output_count_mismatch_is_an_error(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [probe("a", output=["x", "y"])]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    assert ei.value.file == path and ei.value.key == "probe_job_configs[0].output"
    assert "1 value(s)" in str(ei.value) and "names 2" in str(ei.value)


# --------------------------------------------------------------------------- path edges and exports


def test_recipe_exported_by_a_refine_job_makes_an_edge(here):
    plan = plan_of(here, {"work_dir": "wd", "probe_job_configs": [probe("a")],
                          "refine_recipe_job_configs": [ksigma("a", path="out/k_sigma.yaml")],
                          "execution_job_configs": [process("p", dj="out/k_sigma.yaml")]})
    refine, proc = plan.jobs["anonymous/refine_a"], plan.jobs["anonymous/execution_p"]
    assert refine.exports == {"extra_configs.path_k_sigma_recipe": "out/k_sigma.yaml"}
    assert plan.aliases[str(here / "out" / "k_sigma.yaml")] == refine.id
    assert proc.deps == [refine.id]
    assert proc.dj is None and proc.dj_from == str(here / "out" / "k_sigma.yaml")
    assert inputs_of(plan, proc.id)["upstream"] == ["wd/anonymous/refine_a/context.json"]
    assert "out/k_sigma.yaml" not in proc.file_inputs


def test_probe_exports_only_its_stats_file(here):
    plan = plan_of(here, {"probe_job_configs": [
        probe("a"), probe("b", dj_configs=recipe("out/b.jsonl", export_original_dataset=True))]})
    assert plan.jobs["anonymous/probe_a"].exports == {"dj_configs.export_path": "out/a_stats.jsonl"}
    assert plan.jobs["anonymous/probe_b"].exports == {"dj_configs.export_path": "out/b.jsonl"}
    assert stats_export_path("out/a.jsonl") == "out/a_stats.jsonl"
    assert stats_export_path("out/dir") == os.path.join("out/dir", "stats.jsonl")


def test_dataset_under_an_exported_directory_makes_an_edge(here):
    plan = plan_of(here, {
        "execution_job_configs": [{"hook": "DataPoolManipulationHook", "meta_name": "merge",
                                   "extra_configs": {"type": "data_pool_merging", "dataset_path": ["data/a.jsonl"],
                                                     "export_path": "out/pools"}}],
        "evaluation_job_configs": [probe("ev", dj_configs=recipe("out/ev.jsonl", dataset="out/pools/a_merged.jsonl"))]})
    merge = plan.jobs["anonymous/execution_merge"]
    assert merge.file_inputs == ["data/a.jsonl"]
    ev = plan.jobs["anonymous/evaluation_ev"]
    assert ev.deps == [merge.id] and ev.file_inputs == []


def test_existing_inputs_are_file_inputs(here):
    write(here / "r.yaml", recipe())
    plan = plan_of(here, {"probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "a",
                                                 "dj_configs": "r.yaml"}]})
    job = plan.jobs["anonymous/probe_a"]
    assert job.deps == [] and job.dj == recipe()
    # the recipe's content is in the params; its file is not an input (an edit the job ignores reruns nothing)
    assert sorted(job.file_inputs) == ["data/a.jsonl"]


def test_two_jobs_exporting_the_same_path_are_ordered_and_warned_about(here, capsys):
    # the original let the later job overwrite the earlier one's file; here the later job in plan
    # order depends on the earlier one, so it also writes last (issue 13)
    plan = plan_of(here, {"execution_job_configs": [process("x", dj=recipe("out/same.jsonl")),
                                                    process("y", dj=recipe("out/same.jsonl"))]})
    x, y = plan.jobs["anonymous/execution_x"], plan.jobs["anonymous/execution_y"]
    assert y.deps == [x.id] and x.shared_exports == [y.id] and y.shared_exports == [x.id]
    assert x.exports == y.exports == {"dj_configs.export_path": "out/same.jsonl"}
    assert plan.aliases[os.path.abspath("out/same.jsonl")] == y.id  # later readers read the last writer
    warning = capsys.readouterr().err.strip().splitlines()
    assert warning == ["juicer-sandbox: warning: jobs anonymous/execution_x and anonymous/execution_y both "
                       "export to out/same.jsonl; anonymous/execution_y runs after anonymous/execution_x and "
                       "its copy is the one left there (each job keeps its own copy in its artifacts)"]


def test_same_export_path_spelled_differently_is_still_shared(here):
    plan = plan_of(here, {"execution_job_configs": [process("x", dj=recipe("out/same.jsonl")),
                                                    process("y", dj=recipe("./out/../out/same.jsonl")),
                                                    process("z", dj=recipe("out/same.jsonl"))]})
    z = plan.jobs["anonymous/execution_z"]
    assert z.deps == ["anonymous/execution_y"]
    assert z.shared_exports == ["anonymous/execution_x", "anonymous/execution_y"]


def test_missing_dataset_path_names_the_key(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [probe("a", dj_configs=recipe(dataset="data/nope.jsonl"))]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    err = ei.value
    assert err.file == path and err.key == "probe_job_configs[0].dj_configs.dataset_path"
    assert "'data/nope.jsonl'" in str(err) and "does not exist" in str(err)


def test_missing_path_in_a_dataset_mixture_is_named(here):
    err = plan_error(here, {"probe_job_configs": [
        probe("a", dj_configs=recipe(dataset="data/a.jsonl 0.5 data/zz.jsonl"))]})
    assert err.key == "probe_job_configs[0].dj_configs.dataset_path" and "'data/zz.jsonl'" in str(err)


def test_dataset_path_from_a_reference_is_not_checked(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a")], "execution_job_configs": [
        process("p", dj=recipe(dataset="not/yet.jsonl"), input={"dj_configs.dataset_path": "-1.res_1"})]})
    assert plan.jobs["anonymous/execution_p"].deps == ["anonymous/probe_a"]


def test_local_is_applied_before_exports_are_registered(here):
    local = {"dj_configs.export_path": "out/local.jsonl", "dj_configs.process.0.text_length_filter.min_len": 5}
    plan = plan_of(here, {"probe_job_configs": [probe("a", local=local)]})
    job = plan.jobs["anonymous/probe_a"]
    assert job.exports == {"dj_configs.export_path": "out/local_stats.jsonl"}
    assert job.dj["process"] == [{"text_length_filter": {"min_len": 5}}]


def test_local_cannot_replace_a_whole_config(here):
    err = plan_error(here, {"probe_job_configs": [probe("a", local={"dj_configs": {"x": 1}})]})
    assert err.key == "probe_job_configs[0].local.dj_configs"


@pytest.mark.parametrize("key", ["dj_configs.np.x", "dj_configs.process.3.x"])
def test_local_key_that_cannot_be_set_is_a_config_error(here, key):
    err = plan_error(here, {"probe_job_configs": [probe("a", dj_configs=recipe(np=1), local={key: 1})]})
    assert err.key == f"probe_job_configs[0].local.{key}"


# --------------------------------------------------------------------------- hooks and components


def test_unknown_hook_lists_valid_hooks(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [{"hook": "ProbeViaAnalyserHook"}]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    err = ei.value
    assert err.file == path and err.key == "probe_job_configs[0].hook"
    assert "'ProbeViaAnalyserHook'" in str(err)
    for hook in ("ProbeViaAnalyzerHook", "RefineRecipeViaKSigmaHook", "ProcessDataHook", "DataPoolManipulationHook"):
        assert hook in str(err)


def test_unknown_component_type_lists_valid_types(here):
    err = plan_error(here, {"execution_job_configs": [
        {"hook": "DataPoolManipulationHook", "extra_configs": {"type": "data_pool_shuffling",
                                                               "dataset_path": ["data/a.jsonl"]}}]})
    assert err.key == "execution_job_configs[0].extra_configs.type"
    assert "'data_pool_shuffling'" in str(err)
    for t in ("data_pool_construction", "data_pool_merging", "data_pool_downsampling"):
        assert t in str(err)


def test_missing_component_type_lists_valid_types(here):
    err = plan_error(here, {"execution_job_configs": [{"hook": "DataPoolManipulationHook", "extra_configs": {}}]})
    assert err.key == "execution_job_configs[0].extra_configs.type"
    assert "missing" in str(err) and "data_pool_merging" in str(err)


def test_unknown_component_key_names_the_key_path(here):
    err = plan_error(here, {"execution_job_configs": [
        {"hook": "DataPoolManipulationHook",
         "extra_configs": {"type": "data_pool_merging", "dataset_path": ["data/a.jsonl"], "export_path": "out/m",
                           "exprt": 1}}]})
    assert err.key.startswith("execution_job_configs[0].extra_configs") and "'exprt'" in str(err)


# --------------------------------------------------------------------------- Data-Juicer recipe validation


def _dj_err(here, dj):
    return plan_error(here, {"probe_job_configs": [probe("a", dj_configs=dj)]})


def test_unknown_dj_op_names_the_key_path(here):
    err = _dj_err(here, recipe(process=[{"text_length_filter": {}}, {"text_lenght_filter": {"min_len": 3}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[1].text_lenght_filter"
    assert "unknown Data-Juicer op" in str(err) and "text_length_filter" in str(err)  # suggestion


def test_unknown_dj_op_argument_names_the_key_path(here):
    err = _dj_err(here, recipe(process=[{"text_length_filter": {"min_lne": 3}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[0].text_length_filter.min_lne"
    assert "min_len" in str(err)


def test_wrong_dj_op_argument_type_names_the_key_path(here):
    err = _dj_err(here, recipe(process=[{"character_repetition_filter": {"max_ratio": "high"}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[0].character_repetition_filter.max_ratio"
    assert "float" in str(err) and "'high'" in str(err)


@pytest.mark.parametrize("value", [True, "3"])
def test_int_dj_op_argument_rejects_bool_and_str(here, value):
    err = _dj_err(here, recipe(process=[{"text_length_filter": {"min_len": value}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[0].text_length_filter.min_len"


def test_valid_dj_op_arguments_pass(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a", dj_configs=recipe(process=[
        {"text_length_filter": {"min_len": 3, "max_len": 1000, "num_proc": 2}},  # a base-op kwarg is accepted
        {"character_repetition_filter": {"rep_len": 5, "max_ratio": 1}},  # an int is a valid float
        "words_num_filter",  # an op without args
    ]))]})
    assert len(plan.jobs) == 1


def test_unknown_dj_top_level_key_names_the_key_path(here):
    err = _dj_err(here, recipe(npp=2))
    assert err.key == "probe_job_configs[0].dj_configs.npp"
    assert "unknown Data-Juicer config key" in str(err) and "np" in str(err)


def test_malformed_process_entry_names_the_key_path(here):
    err = _dj_err(here, recipe(process=[{"a": {}, "b": {}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[0]"


def test_dj_error_in_a_recipe_file_has_a_clean_key_path(here):
    write(here / "r.yaml", recipe(npp=2))
    err = plan_error(here, {"probe_job_configs": [probe("a", dj_configs="r.yaml")]})
    assert err.file == "r.yaml"
    assert err.key == "npp"


def test_dj_error_in_a_recipe_file_names_that_file(here):
    write(here / "r.yaml", recipe(process=[{"nope_filter": {}}]))
    err = plan_error(here, {"probe_job_configs": [probe("a", dj_configs="r.yaml")]})
    assert err.file == "r.yaml" and "nope_filter" in err.key


# --------------------------------------------------------------------------- assets


def test_stopwords_filter_without_a_local_list_is_an_asset_error(here, monkeypatch):
    (here / "empty_assets").mkdir()
    monkeypatch.setenv("DATA_JUICER_ASSETS_CACHE", str(here / "empty_assets"))
    path = write(here / "sb.yaml", {"probe_job_configs": [probe("a", dj_configs=recipe(
        process=[{"text_length_filter": {}}, {"stopwords_filter": {"min_ratio": 0.1}}]))]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    err = ei.value
    assert err.file == path and err.key.endswith("process[1].stopwords_filter")
    assert "stopwords" in str(err) and "stopwords_dir" in str(err) and str(here / "empty_assets") in str(err)


def test_asset_error_in_an_inline_recipe_names_the_full_key_path(here, monkeypatch):
    (here / "empty_assets").mkdir()
    monkeypatch.setenv("DATA_JUICER_ASSETS_CACHE", str(here / "empty_assets"))
    err = _dj_err(here, recipe(process=[{"text_length_filter": {}}, {"stopwords_filter": {"min_ratio": 0.1}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[1].stopwords_filter"


def test_stopwords_filter_with_a_local_list_is_accepted(here, monkeypatch):
    (here / "empty_assets").mkdir()
    monkeypatch.setenv("DATA_JUICER_ASSETS_CACHE", str(here / "empty_assets"))
    (here / "words").mkdir()
    (here / "words" / "stopwords.json").write_text(json.dumps({"en": ["the", "a"]}))
    plan = plan_of(here, {"probe_job_configs": [probe("a", dj_configs=recipe(
        process=[{"stopwords_filter": {"min_ratio": 0.1, "stopwords_dir": "words"}}]))]})
    assert "words" in plan.jobs["anonymous/probe_a"].file_inputs


def test_stopwords_list_in_the_assets_cache_is_accepted(here, monkeypatch):
    (here / "assets").mkdir()
    (here / "assets" / "stopwords.json").write_text(json.dumps({"en": ["the"]}))
    monkeypatch.setenv("DATA_JUICER_ASSETS_CACHE", str(here / "assets"))
    plan = plan_of(here, {"probe_job_configs": [probe("a", dj_configs=recipe(process=["stopwords_filter"]))]})
    assert len(plan.jobs) == 1


def test_stopwords_dir_that_does_not_exist_is_a_path_error(here):
    err = _dj_err(here, recipe(process=[{"stopwords_filter": {"stopwords_dir": "no_such_dir"}}]))
    assert err.key == "probe_job_configs[0].dj_configs.process[0].stopwords_filter.stopwords_dir"


# --------------------------------------------------------------------------- k-sigma


def test_ksigma_without_a_probe_of_the_same_meta_name_is_an_error(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [probe("other")],
                                    "refine_recipe_job_configs": [ksigma("a")]})
    with pytest.raises(ConfigError) as ei:
        compile_plan(path)
    err = ei.value
    assert err.file == path and err.key == "refine_recipe_job_configs[0].meta_name"
    assert "'a'" in str(err) and "ProbeViaAnalyzerHook" in str(err)


def test_ksigma_with_a_probe_of_the_same_meta_name_depends_on_it(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a"), probe("b")],
                          "refine_recipe_job_configs": [ksigma("a")]})
    job = plan.jobs["anonymous/refine_a"]
    assert job.deps == ["anonymous/probe_a"]
    assert job.refs == {"extra_configs.stats_path": {"job": "anonymous/probe_a", "output": "__stats__",
                                                     "deeper": []}}
    # the hook schema fills its defaults (config/schemas/hooks.schema.yaml)
    assert job.extra == {"path_k_sigma_recipe": "out/k.yaml", "k": 3, "only_existing_args": False, "tighten_only": False}


def test_ksigma_with_an_explicit_stats_path_needs_no_probe(here):
    plan = plan_of(here, {"probe_job_configs": [probe("x", output="stats")],
                          "refine_recipe_job_configs": [ksigma("a", input={"extra_configs.stats_path": "-1.stats"})]})
    job = plan.jobs["anonymous/refine_a"]
    assert job.deps == ["anonymous/probe_x"]
    assert job.refs["extra_configs.stats_path"]["output"] == "stats"


# --------------------------------------------------------------------------- params


def _params(here, cfg, name="sb.yaml"):
    plan = plan_of(here, cfg, name)
    return {jid: dumps_params(j) for jid, j in plan.jobs.items()}


BASE = {"probe_job_configs": [probe("a")], "refine_recipe_job_configs": [ksigma("a")],
        "execution_job_configs": [process("p", dj="out/k.yaml")],
        "evaluation_job_configs": [probe("ev", input={"dj_configs.dataset_path": "anonymous.p.res_1"})]}
PROBE, REFINE, PROC, EV = ("anonymous/probe_a", "anonymous/refine_a", "anonymous/execution_p",
                           "anonymous/evaluation_ev")


def test_params_are_deterministic(here):
    first = _params(here, BASE)
    assert first == _params(here, BASE, "again.yaml") == _params(here, copy.deepcopy(BASE))
    assert json.loads(first[REFINE])["extra_configs"] == {"path_k_sigma_recipe": "out/k.yaml", "k": 3,
                                                         "only_existing_args": False, "tighten_only": False}


def test_params_do_not_depend_on_key_order_or_unrelated_settings(here):
    base = _params(here, BASE)
    cfg = copy.deepcopy(BASE)
    cfg["project_name"] = "renamed"
    cfg["experiment_name"] = "run7"
    cfg["debug"] = True
    dj = cfg["probe_job_configs"][0]["dj_configs"]
    cfg["probe_job_configs"][0]["dj_configs"] = dict(reversed(list(dj.items())))
    assert _params(here, cfg) == base


def test_params_change_with_an_op_argument(here):
    base = _params(here, BASE)
    cfg = copy.deepcopy(BASE)
    cfg["probe_job_configs"][0]["dj_configs"]["process"][0]["text_length_filter"]["min_len"] = 2
    assert _params(here, cfg) == base  # a threshold: the probe's stats do not depend on it
    cfg["probe_job_configs"][0]["dj_configs"]["text_keys"] = "content"  # what the stats are computed on
    changed = _params(here, cfg)
    assert changed[PROBE] != base[PROBE]
    assert {k: v for k, v in changed.items() if k != PROBE} == {k: v for k, v in base.items() if k != PROBE}


def test_params_change_with_k(here):
    base = _params(here, BASE)
    cfg = copy.deepcopy(BASE)
    cfg["refine_recipe_job_configs"][0]["extra_configs"]["k"] = 2
    changed = _params(here, cfg)
    assert changed[REFINE] != base[REFINE]
    assert json.loads(changed[REFINE])["extra_configs"]["k"] == 2
    assert {k: v for k, v in changed.items() if k != REFINE} == {k: v for k, v in base.items() if k != REFINE}


def test_params_change_with_local_and_seed(here):
    base = _params(here, BASE)
    cfg = copy.deepcopy(BASE)
    cfg["evaluation_job_configs"][0]["local"] = {"dj_configs.np": 2}
    assert _params(here, cfg)[EV] == base[EV]  # workers do not change a probe's stats
    cfg["evaluation_job_configs"][0]["local"] = {"dj_configs.text_keys": "content"}
    assert _params(here, cfg)[EV] != base[EV]
    cfg = copy.deepcopy(BASE)
    cfg["seed"] = 1
    assert all(_params(here, cfg)[k] != base[k] for k in base)


def test_params_carry_what_the_job_needs(here):
    p = json.loads(_params(here, BASE)[PROC])
    assert p["job"] == PROC and p["hook"] == "ProcessDataHook" and p["stage"] == "execution_job_configs"
    assert p["dj_configs"] is None and p["dj_from"] == "@workdir/out/k.yaml"  # the work dir may move
    assert p["output_keys"] == ["res_1"] and p["seed"] == 42 and p["work_dir"] == "outputs/hello_world"
    assert p["code"] and p["code"] != "missing"


# --------------------------------------------------------------------------- the shipped demo


def test_demo_sandbox_compiles(monkeypatch):
    monkeypatch.chdir(REPO)
    plan = compile_plan("config/sandboxes/demo.yaml")
    ids = list(plan.jobs)
    for i, job in enumerate(plan.jobs.values()):
        assert all(ids.index(d) < i for d in job.deps)  # edges only point backwards
    hooks = [j.spec.name for j in plan.jobs.values()]
    assert hooks[:3] == ["ProbeViaAnalyzerHook", "RefineRecipeViaKSigmaHook", "ProcessDataHook"]
    refine, proc = list(plan.jobs.values())[1:3]
    assert refine.id in proc.deps and proc.dj_from  # the refined recipe is a path edge


# --------------------------------------------------------------------------- relocatable params


def _params_from(root: Path, monkeypatch) -> dict[str, str]:
    """Compile one sandbox from a checkout at root/checkout with the work dir root/work."""
    from juicer_sandbox.config import sandbox

    checkout, work = root / "checkout", root / "work"
    (checkout / "data").mkdir(parents=True)
    (checkout / "data" / "a.jsonl").write_text('{"text": "hello world"}\n')
    work.mkdir()
    (work / "local.jsonl").write_text('{"text": "a file of the work dir"}\n')
    monkeypatch.setattr(sandbox, "WORKFLOW_DIR", checkout)
    monkeypatch.chdir(work)
    cfg = {"work_dir": str(work / "outputs"),  # absolute, inside the work dir
           "probe_job_configs": [probe("a")], "refine_recipe_job_configs": [ksigma("a")],
           "execution_job_configs": [process("b", dj=recipe("out/b.jsonl", dataset=str(work / "local.jsonl")))]}
    path = write(checkout / "sb.yaml", cfg)  # data/a.jsonl is found in the checkout, not in the work dir
    return {jid: dumps_params(job) for jid, job in compile_plan(path).jobs.items()}


def test_params_do_not_change_when_checkout_and_work_dir_move(tmp_path, monkeypatch):
    from juicer_sandbox.config.paths import local_paths

    first = _params_from(tmp_path / "one", monkeypatch)
    second = _params_from(tmp_path / "two", monkeypatch)
    assert first == second
    text = "".join(first.values())
    assert str(tmp_path) not in text and '"@workflow/data/a.jsonl"' in text
    assert '"work_dir": "@workdir/outputs"' in text and '"dataset_path": "@workdir/local.jsonl"' in text
    # at job start the paths are absolute again, in the checkout and the work dir the job runs from
    probe_params = local_paths(json.loads(next(v for k, v in first.items() if "/probe_" in k)))
    assert probe_params["dj_configs"]["dataset_path"] == str(tmp_path / "two" / "checkout" / "data" / "a.jsonl")
    assert probe_params["work_dir"] == str(tmp_path / "two" / "work" / "outputs")
