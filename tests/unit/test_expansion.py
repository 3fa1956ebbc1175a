"""matrix/foreach expansion, matrix constants, glob (gather) references and pipeline files."""
from __future__ import annotations

import pytest
import yaml

from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.errors import ConfigError
from juicer_sandbox.hooks.runner import lookup


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n')
    return tmp_path


def _plan(here, spec, overrides=None):
    (here / "s.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return compile_plan(str(here / "s.yaml"), overrides)


def _pool_job(meta, **extra):
    return {"hook": "DataPoolManipulationHook", "meta_name": meta,
            "extra_configs": {"type": "data_pool_downsampling", "dataset_path": "d.jsonl", **extra}}


def test_foreach_expands_in_order_and_substitutes(here):
    job = _pool_job("down_{n}_s{seed}", target_num_samples="{n}", shuffle_seed="{seed}")
    job["foreach"] = ["n", "seed"]
    plan = _plan(here, {"matrix": {"n": [1, 2], "seed": [0, 7]}, "execution_job_configs": [job]})
    jobs = list(plan.jobs.values())
    assert [j.cfg.meta_name for j in jobs] == ["down_1_s0", "down_1_s7", "down_2_s0", "down_2_s7"]
    # a whole-string placeholder keeps the value's type
    assert [(j.extra["target_num_samples"], j.extra["shuffle_seed"]) for j in jobs] == [(1, 0), (1, 7), (2, 0), (2, 7)]
    assert jobs[1].cfg.where == "execution_job_configs[0]{n=1,seed=7}"


def test_foreach_mapping_form_and_automatic_names(here):
    job = _pool_job("down", target_num_samples="{n}")
    job["foreach"] = {"n": [3, 4]}
    plan = _plan(here, {"execution_job_configs": [job]})
    assert [j.cfg.meta_name for j in plan.jobs.values()] == ["down_3", "down_4"]


def test_single_valued_matrix_entries_are_constants(here):
    plan = _plan(here, {"matrix": {"n": [5]}, "execution_job_configs": [_pool_job("d", target_num_samples="{n}")]})
    assert next(iter(plan.jobs.values())).extra["target_num_samples"] == 5


def test_multi_valued_name_outside_foreach_is_an_error(here):
    with pytest.raises(ConfigError, match=r"\{n\}.*foreach"):
        _plan(here, {"matrix": {"n": [1, 2]}, "execution_job_configs": [_pool_job("d", target_num_samples="{n}")]})


def test_foreach_name_missing_from_matrix(here):
    job = _pool_job("d")
    job["foreach"] = ["nope"]
    with pytest.raises(ConfigError, match="not defined in `matrix`"):
        _plan(here, {"execution_job_configs": [job]})


def test_overrides_are_deep_merged(here):
    spec = {"matrix": {"n": [5], "m": [1]}, "execution_job_configs": [_pool_job("d", target_num_samples="{n}")]}
    plan = _plan(here, spec, overrides={"matrix": {"n": [9]}})
    assert next(iter(plan.jobs.values())).extra["target_num_samples"] == 9


def test_glob_reference_gathers_every_matching_earlier_job(here):
    job = _pool_job("down_{n}", target_num_samples="{n}")
    job["foreach"] = {"n": [1, 2, 3]}
    merge = {"hook": "DataPoolManipulationHook", "meta_name": "merge",
             "input": {"extra_configs.dataset_path": "anonymous.down_*.res_1"},
             "extra_configs": {"type": "data_pool_merging"}}
    plan = _plan(here, {"execution_job_configs": [job, _pool_job("other"), merge]})
    m = plan.jobs["anonymous/execution_merge"]
    ids = [f"anonymous/execution_down_{i + 1}" for i in range(3)]
    assert m.deps == ids
    assert [g["job"] for g in m.refs["extra_configs.dataset_path"]["gather"]] == ids
    upstream = {i: {"outputs": {"res_1": f"/p/{i}"}} for i in ids}
    assert lookup(upstream, m.refs["extra_configs.dataset_path"]) == [f"/p/{i}" for i in ids]


def test_glob_reference_matching_nothing(here):
    merge = {"hook": "DataPoolManipulationHook", "meta_name": "merge",
             "input": {"extra_configs.dataset_path": "anonymous.nothing_*.res_1"},
             "extra_configs": {"type": "data_pool_merging"}}
    with pytest.raises(ConfigError, match="matches no earlier job"):
        _plan(here, {"execution_job_configs": [_pool_job("a"), merge]})


def test_pipeline_body_from_a_file(here):
    (here / "p.yaml").write_text(yaml.safe_dump({"execution_job_configs": [_pool_job("a")]}))
    plan = _plan(here, {"pipelines": {"first": "p.yaml"}})
    assert list(plan.jobs) == ["first/execution_a"]


def test_included_pipeline_with_its_own_matrix_and_pipeline_name(here):
    body = {"execution_job_configs": [
        _pool_job("down", target_num_samples="{n}"),
        {"hook": "DataPoolManipulationHook", "meta_name": "merge",
         "input": {"extra_configs.dataset_path": "{pipeline}.down.res_1"},
         "extra_configs": {"type": "data_pool_merging"}}]}
    (here / "p.yaml").write_text(yaml.safe_dump(body))
    plan = _plan(here, {"matrix": {"n": [5]},
                        "pipelines": [{"big": "p.yaml"}, {"small": {"include": "p.yaml", "matrix": {"n": [2]}}}]})
    assert plan.jobs["big/execution_down"].extra["target_num_samples"] == 5
    assert plan.jobs["small/execution_down"].extra["target_num_samples"] == 2
    assert plan.jobs["small/execution_merge"].deps == ["small/execution_down"]


def test_every_job_exposes_its_artifacts_directory(here):
    merge = {"hook": "DataPoolManipulationHook", "meta_name": "merge",
             "input": {"extra_configs.dataset_path": "anonymous.a.__artifacts__"},
             "extra_configs": {"type": "data_pool_merging"}}
    plan = _plan(here, {"execution_job_configs": [_pool_job("a"), merge]})
    assert plan.jobs["anonymous/execution_merge"].refs["extra_configs.dataset_path"]["output"] == "__artifacts__"


def test_foreach_over_mappings_gives_dotted_placeholders(here):
    job = _pool_job("down_x{arm.t}", target_num_samples="{arm.n}")
    job["foreach"] = {"arm": [{"t": 1, "n": 10}, {"t": 2, "n": 20}]}
    plan = _plan(here, {"execution_job_configs": [job]})
    assert [(j.cfg.meta_name, j.extra["target_num_samples"]) for j in plan.jobs.values()] == [
        ("down_x1", 10), ("down_x2", 20)]


def test_reference_slices_a_list_output():
    from juicer_sandbox.config.refs import get_dotted

    assert get_dotted({"r": [1, 2, 3, 4]}, "r.0:2") == [1, 2]
    assert get_dotted({"r": [1, 2, 3, 4]}, "r.2:") == [3, 4]


def test_command_line_overrides_are_read_as_yaml_scalars(here):
    # what `snakemake --config 'sandbox_overrides={matrix: {n: [9]}}'` delivers
    spec = {"matrix": {"n": [5]}, "execution_job_configs": [_pool_job("d", target_num_samples="{n}")]}
    plan = _plan(here, spec, overrides={"matrix": {"n": ["9"]}})
    assert next(iter(plan.jobs.values())).extra["target_num_samples"] == 9
