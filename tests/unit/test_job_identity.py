"""Jobs are named, not numbered; a probe's params ignore thresholds; np sets threads;
stale job directories are found and removed."""
from __future__ import annotations

import json

from juicer_sandbox.cli import main
from juicer_sandbox.config.plan import dumps_params
from juicer_sandbox.dj.stats_reuse import stats_view
from juicer_sandbox.snakemake_glue import rule_resources
from juicer_sandbox.stale import stale_jobs

from test_plan import here, plan_of, probe, process, recipe  # noqa: F401 (fixture)


def _pool(meta):
    return {"hook": "DataPoolManipulationHook", "meta_name": meta,
            "extra_configs": {"type": "data_pool_downsampling", "dataset_path": "data/a.jsonl",
                              "target_num_samples": 1}}


def test_inserting_or_reordering_jobs_changes_no_other_job(here):
    before = plan_of(here, {"probe_job_configs": [probe("a")], "execution_job_configs": [process("p"), _pool("q")]})
    after = plan_of(here, {"probe_job_configs": [probe("a")],
                           "execution_job_configs": [_pool("new"), _pool("q"), process("p")]})
    assert set(before.jobs) == {"anonymous/probe_a", "anonymous/execution_p", "anonymous/execution_q"}
    assert set(after.jobs) == set(before.jobs) | {"anonymous/execution_new"}
    for job_id, job in before.jobs.items():
        assert dumps_params(after.jobs[job_id]) == dumps_params(job), job_id


def test_duplicate_names_are_numbered_in_config_order(here):
    plan = plan_of(here, {"execution_job_configs": [_pool("q"), _pool("q"), {**_pool("q"), "meta_name": None}]})
    assert list(plan.jobs) == ["anonymous/execution_q", "anonymous/execution_q__2",
                               "anonymous/execution_manipulate_pools"]


def test_probe_params_ignore_thresholds_but_not_stat_arguments(here):
    def params(op_args):
        r = recipe("out/a.jsonl", np=3, process=[{"word_repetition_filter": op_args}, {"whitespace_normalization_mapper": {}}])
        plan = plan_of(here, {"probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "a",
                                                     "dj_configs": r}]})
        return json.loads(dumps_params(plan.jobs["anonymous/probe_a"]))

    base = params({"rep_len": 10, "min_ratio": 0.0, "max_ratio": 0.5})
    assert base == params({"rep_len": 10, "min_ratio": 0.1, "max_ratio": 0.2})
    assert base != params({"rep_len": 5, "min_ratio": 0.0, "max_ratio": 0.5})
    assert base["dj_configs"]["process"] == [{"word_repetition_filter": {"rep_len": 10}}, {"whitespace_normalization_mapper": {}}]
    assert "np" not in base["dj_configs"]


def test_stats_view_keeps_data_settings_and_op_order():
    r = {"dataset_path": "x.jsonl", "text_keys": "content", "np": 4,
         "process": [{"text_length_filter": {"min_len": 10, "max_len": 99}}, {"stopwords_filter": {"lang": "en"}}]}
    assert stats_view(r) == {"dataset_path": "x.jsonl", "text_keys": "content",
                             "process": [{"text_length_filter": {}}, {"stopwords_filter": {"lang": "en"}}]}


def test_threads_come_from_the_recipe_np_unless_resources_say(here):
    plan = plan_of(here, {"probe_job_configs": [probe("a", dj_configs=recipe("out/a.jsonl", np=2))],
                          "execution_job_configs": [process("p", resources={"threads": 1}), _pool("q")]})
    assert rule_resources({"threads": 1}, plan.jobs["anonymous/probe_a"])["threads"] == 2
    assert rule_resources({"threads": 1}, plan.jobs["anonymous/execution_p"])["threads"] == 1
    assert rule_resources({"threads": 1}, plan.jobs["anonymous/execution_q"])["threads"] == 1


def test_stale_job_directories_are_listed_and_removed(here, capsys):
    from test_plan import write

    sb = write(here / "sb.yaml", {"work_dir": "out", "execution_job_configs": [_pool("q")]})
    for job_id in ("anonymous/execution_q", "anonymous/execution_gone", "iter_1/anonymous/execution_q"):
        (here / "out" / job_id / "artifacts").mkdir(parents=True)
        (here / "out" / job_id / "context.json").write_text("{}")
    (here / "out/logs/anonymous").mkdir(parents=True)
    (here / "out/logs/anonymous/execution_gone.log").write_text("")
    assert stale_jobs("out", ["anonymous/execution_q"]) == ["anonymous/execution_gone", "iter_1/anonymous/execution_q"]
    assert main(["clean-stale", sb, "--dry-run"]) == 0 and (here / "out/anonymous/execution_gone").exists()
    assert main(["clean-stale", sb]) == 0
    assert "2 stale job directories removed" in capsys.readouterr().out
    assert not (here / "out/anonymous/execution_gone").exists() and not (here / "out/iter_1").exists()
    assert not (here / "out/logs/anonymous/execution_gone.log").exists()
    assert (here / "out/anonymous/execution_q/artifacts").is_dir()  # a current job is kept
