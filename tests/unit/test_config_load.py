"""Loading and normalising DJ-Sandbox configs (juicer_sandbox.config.sandbox), hand-checked."""
from __future__ import annotations

import pytest
import yaml

from juicer_sandbox.config.plan import compile_plan, dumps_params
from juicer_sandbox.config.sandbox import DEFAULT_PIPELINE, STAGES, load_sandbox
from juicer_sandbox.errors import ConfigError


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"text": "hello world"}\n')
    return tmp_path


def write(path, obj) -> str:
    text = obj if isinstance(obj, str) else yaml.safe_dump(obj, sort_keys=False)
    path = str(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def recipe(export="out/probe.jsonl"):
    return {"dataset_path": "data/a.jsonl", "export_path": export,
            "process": [{"text_length_filter": {"min_len": 1}}]}


def probe(meta, export=None, **kw):
    dj = recipe(export or f"out/{meta}.jsonl")
    return {"hook": "ProbeViaAnalyzerHook", "meta_name": meta, "dj_configs": dj, **kw}


def load_error(path) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_sandbox(path)
    return ei.value


# --------------------------------------------------------------------------- single pipeline


def test_single_pipeline_is_named_anonymous_and_stages_run_in_fixed_order(here):
    # the lists are written evaluation-first; the pipeline still runs probe -> refine -> execution -> evaluation
    path = write(here / "sb.yaml", {
        "evaluation_job_configs": [probe("ev1"), probe("ev2")],
        "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "proc",
                                   "dj_configs": recipe("out/x.jsonl")}],
        "probe_job_configs": [probe("pr")],
    })
    sb = load_sandbox(path)
    assert DEFAULT_PIPELINE == "anonymous"
    assert [name for name, _ in sb.pipelines] == ["anonymous"]
    jobs = sb.pipelines[0][1]
    assert [(j.stage, j.meta_name, j.order) for j in jobs] == [
        ("probe_job_configs", "pr", 0),
        ("execution_job_configs", "proc", 1),
        ("evaluation_job_configs", "ev1", 2),
        ("evaluation_job_configs", "ev2", 3),
    ]
    assert [j.where for j in jobs] == ["probe_job_configs[0]", "execution_job_configs[0]",
                                      "evaluation_job_configs[0]", "evaluation_job_configs[1]"]
    assert all(j.pipeline == "anonymous" and j.file == path for j in jobs)
    # settings hold no job lists
    assert not set(STAGES) & set(sb.settings) and "pipelines" not in sb.settings


def test_job_fields_are_normalised(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [
        {"hook": "ProbeViaAnalyzerHook", "meta_name": "", "dj_configs": recipe(), "output": "only"},
        {"hook": "ProbeViaAnalyzerHook", "meta_name": 7, "dj_configs": recipe("out/b.jsonl"), "input": None,
         "local": None},
        {"hook": "ProbeViaAnalyzerHook", "dj_configs": recipe("out/c.jsonl"), "output": ["a"]},
    ]})
    j0, j1, j2 = load_sandbox(path).pipelines[0][1]
    assert j0.meta_name is None and j0.output == ["only"]  # empty meta_name -> None; a str output -> [str]
    assert j1.meta_name == "7" and j1.input == {} and j1.local == {} and j1.output is None
    assert j2.meta_name is None and j2.output == ["a"]


# --------------------------------------------------------------------------- pipelines


def _plan_fingerprint(plan):
    return [(j.id, j.deps, j.output_keys, j.refs, dumps_params(j)) for j in plan.jobs.values()]


def test_pipelines_mapping_and_list_forms_give_the_same_plan(here):
    p1 = {"probe_job_configs": [probe("a")]}
    p2 = {"probe_job_configs": [probe("b", input={"dj_configs.dataset_path": "p1.a.res_1"})],
          "execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "proc",
                                     "dj_configs": recipe("out/proc.jsonl")}]}
    as_map = write(here / "map.yaml", {"work_dir": "wd", "pipelines": {"p1": p1, "p2": p2}})
    as_list = write(here / "list.yaml", {"work_dir": "wd", "pipelines": [{"p1": p1}, {"p2": p2}]})

    sm, sl = load_sandbox(as_map), load_sandbox(as_list)
    assert [n for n, _ in sm.pipelines] == [n for n, _ in sl.pipelines] == ["p1", "p2"]
    assert [j.where for _, js in sm.pipelines for j in js] == [
        "pipelines.p1.probe_job_configs[0]", "pipelines.p2.probe_job_configs[0]",
        "pipelines.p2.execution_job_configs[0]"]
    assert [j.where for _, js in sl.pipelines for j in js] == [
        "pipelines[0].p1.probe_job_configs[0]", "pipelines[1].p2.probe_job_configs[0]",
        "pipelines[1].p2.execution_job_configs[0]"]

    fm, fl = _plan_fingerprint(compile_plan(as_map)), _plan_fingerprint(compile_plan(as_list))
    assert fm == fl
    assert [f[0] for f in fm] == ["p1/probe_a", "p2/probe_b", "p2/execution_proc"]
    assert fm[1][1] == ["p1/probe_a"]


def test_pipelines_together_with_top_level_lists_is_an_error(here):
    path = write(here / "sb.yaml", {"pipelines": {"p": {"probe_job_configs": [probe("a")]}},
                                    "execution_job_configs": [{"hook": "ProcessDataHook"}]})
    err = load_error(path)
    assert err.file == path and err.key == "pipelines"
    assert "execution_job_configs" in str(err) and "pipelines" in str(err)


def test_pipeline_name_with_a_dot_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"pipelines": {"a.b": {"probe_job_configs": [probe("x")]}}}))
    assert err.key == "pipelines.a.b" and "'a.b'" in str(err)
    err = load_error(write(here / "sb2.yaml", {"pipelines": [{"a.b": {"probe_job_configs": [probe("x")]}}]}))
    assert err.key == "pipelines[0].a.b"


def test_pipeline_defined_twice_in_list_form_is_an_error(here):
    body = {"probe_job_configs": [probe("x")]}
    err = load_error(write(here / "sb.yaml", {"pipelines": [{"p": body}, {"p": body}]}))
    assert err.key == "pipelines[1].p" and "twice" in str(err)


def test_unknown_key_inside_a_pipeline_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"pipelines": {"p": {"probe_job_configs": [probe("x")], "foo": 1}}}))
    assert err.key == "pipelines.p" and "'foo'" in str(err)


# --------------------------------------------------------------------------- job files


def test_job_entry_may_be_a_path_to_a_job_file(here):
    (here / "jobs").mkdir()
    # the recipe path inside the job file is relative to the job file's directory
    write(here / "jobs" / "recipe.yaml", recipe())
    write(here / "jobs" / "probe.yaml", {"hook": "ProbeViaAnalyzerHook", "meta_name": "from_file",
                                         "dj_configs": "recipe.yaml", "output": "stats"})
    path = write(here / "sb.yaml", {"probe_job_configs": ["jobs/probe.yaml"]})
    (job,) = load_sandbox(path).pipelines[0][1]
    assert job.file == "jobs/probe.yaml" and job.where == "probe_job_configs[0]"
    assert (job.hook, job.meta_name, job.dj_configs, job.output) == (
        "ProbeViaAnalyzerHook", "from_file", "recipe.yaml", ["stats"])

    plan = compile_plan(path)
    (pj,) = plan.jobs.values()
    assert pj.id == "anonymous/probe_from_file"
    assert pj.dj == recipe() and pj.output_keys == ["stats"]  # loaded relative to the job file
    assert "jobs/recipe.yaml" not in pj.file_inputs  # its content is in the params


def test_job_file_resolves_against_the_sandbox_directory(here):
    (here / "cfg").mkdir()
    write(here / "cfg" / "job.yaml", probe("x"))
    path = write(here / "cfg" / "sb.yaml", {"probe_job_configs": ["job.yaml"]})
    (job,) = load_sandbox(path).pipelines[0][1]
    assert job.file == str(here / "cfg" / "job.yaml") and job.meta_name == "x"


def test_job_file_with_a_typo_names_the_job_file(here):
    write(here / "job.yaml", {"hook": "ProcessDataHook", "ouput": "x"})
    err = load_error(write(here / "sb.yaml", {"probe_job_configs": ["job.yaml"]}))
    assert err.file == "job.yaml" and "'ouput'" in str(err)


def test_missing_job_file_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"probe_job_configs": ["nope.yaml"]}))
    assert err.file == "nope.yaml" and "not found" in str(err)


def test_job_file_must_hold_a_mapping(here):
    write(here / "job.yaml", "- hook: ProcessDataHook\n")
    err = load_error(write(here / "sb.yaml", {"probe_job_configs": ["job.yaml"]}))
    assert err.file == "job.yaml" and "mapping" in str(err)


# --------------------------------------------------------------------------- schema


def test_unknown_top_level_key_names_file_and_key(here):
    path = write(here / "sb.yaml", {"foo": 1, "probe_job_configs": [probe("a")]})
    err = load_error(path)
    assert err.file == path
    assert str(err).startswith(f"{path}: ") and "'foo'" in str(err)
    assert "allowed keys" in str(err) and "max_iter_num" in str(err)


@pytest.mark.parametrize("form", ["single", "map", "list"])
def test_typo_in_a_job_key_names_file_and_key_path(here, form):
    job = {"hook": "ProcessDataHook", "ouput": "x"}
    if form == "single":
        cfg = {"probe_job_configs": [probe("ok")], "execution_job_configs": [job]}
        where = "execution_job_configs[0]"
    elif form == "map":
        cfg = {"pipelines": {"p": {"execution_job_configs": [job]}}}
        where = "pipelines.p.execution_job_configs[0]"
    else:
        cfg = {"pipelines": [{"p": {"execution_job_configs": [job]}}]}
        where = "pipelines[0].p.execution_job_configs[0]"
    path = write(here / "sb.yaml", cfg)
    err = load_error(path)
    assert err.file == path and err.key == where
    assert str(err).startswith(f"{path}: {where}: ")
    assert "'ouput'" in str(err) and "output" in str(err)  # the allowed keys are listed


def test_job_without_hook_is_an_error(here):
    path = write(here / "sb.yaml", {"probe_job_configs": [{"meta_name": "x"}]})
    err = load_error(path)
    assert err.key == "probe_job_configs[0]" and "'hook'" in str(err)


def test_schema_defaults_are_filled(here):
    sb = load_sandbox(write(here / "sb.yaml", {"probe_job_configs": [probe("a")]}))
    assert sb.settings == {
        "project_name": "hello_world",
        "experiment_name": "experiment1",
        "work_dir": "./outputs/hello_world",
        "hpo_config": None,
        "resume": False,
        "debug": False,
        "seed": 42,
        "max_jobs": 20000,
        "on_bad_records": "fail",
        "wandb": False,
        "max_iter_num": 1,
        "iter_targets": [],
        "iter_targets_mode": "all",
        "iter_updater": {},
    }
    assert compile_plan(sb).work_dir == "outputs/hello_world"


def test_given_settings_are_kept(here):
    sb = load_sandbox(write(here / "sb.yaml", {"work_dir": "wd", "seed": 7, "resume": True,
                                               "probe_job_configs": [probe("a")]}))
    assert (sb.settings["work_dir"], sb.settings["seed"], sb.settings["resume"]) == ("wd", 7, True)
    plan = compile_plan(sb)
    (job,) = plan.jobs.values()
    assert job.seed == 7 and plan.context_path(job.id) == "wd/anonymous/probe_a/context.json"


def test_overrides_replace_file_values(here):
    sb = load_sandbox(write(here / "sb.yaml", {"seed": 7, "probe_job_configs": [probe("a")]}), {"seed": 9})
    assert sb.settings["seed"] == 9


def test_wrong_type_of_setting_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"seed": "x", "probe_job_configs": [probe("a")]}))
    assert err.key == "seed"


def test_max_iter_num_zero_without_targets_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"max_iter_num": 0, "probe_job_configs": [probe("a")]}))
    assert err.key == "max_iter_num" and "iter_targets" in str(err)


def test_max_iter_num_zero_with_targets_is_accepted(here):
    sb = load_sandbox(write(here / "sb.yaml", {"max_iter_num": 0, "iter_targets": ["anonymous.a.res_1 > 0"],
                                               "probe_job_configs": [probe("a")]}))
    assert sb.settings["max_iter_num"] == 0


def test_negative_max_iter_num_is_an_error(here):
    err = load_error(write(here / "sb.yaml", {"max_iter_num": -1, "probe_job_configs": [probe("a")]}))
    assert err.key == "max_iter_num"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "project_name: x\n", "probe_job_configs: []\n",
                                  "pipelines:\n  p:\n"])
def test_config_without_jobs_is_an_error(here, text):
    path = write(here / "sb.yaml", text)
    err = load_error(path)
    assert err.file == path and "no jobs" in str(err)


def test_config_that_is_not_a_mapping_is_an_error(here):
    err = load_error(write(here / "sb.yaml", "- a\n- b\n"))
    assert "mapping" in str(err)


def test_invalid_yaml_reports_the_line(here):
    path = write(here / "sb.yaml", "project_name: x\nprobe_job_configs: [1,\nwork_dir: y\n")
    err = load_error(path)
    assert err.file == path
    assert "not valid YAML" in str(err) and "(line 4, column 1)" in str(err)


def test_invalid_yaml_mid_file_reports_its_line(here):
    # a tab-indented mapping value: the scanner fails on line 3
    path = write(here / "sb.yaml", "project_name: x\nprobe_job_configs:\n\t- hook: A\n")
    err = load_error(path)
    assert "line 3" in str(err)


def test_missing_sandbox_file_is_an_error(here):
    err = load_error("nope.yaml")
    assert err.file == "nope.yaml" and "not found" in str(err)
