"""Iterative loops: max_iter_num, iter_targets and iter_updater as a static DAG with gates."""
from __future__ import annotations

import json

import pytest
import yaml

from .conftest import demo_slice, run_snakemake

pytestmark = pytest.mark.e2e


def test_loop_stops_when_the_target_is_met_and_feeds_outputs_back(workdir):
    data = demo_slice(workdir / "data", 10)
    spec = {
        "work_dir": "out", "max_iter_num": 3,
        "iter_targets": ["anonymous.compare.res_1.samples_after >= 30"],
        "iter_updater": {"anonymous.merge.res_1": "anonymous.merge.extra_configs.dataset_path.0"},
        "execution_job_configs": [{
            "hook": "DataPoolManipulationHook", "meta_name": "merge",
            "extra_configs": {"type": "data_pool_merging", "dataset_path": [str(data), str(data)],
                              "export_path": "exports/merged"}}],
        "evaluation_job_configs": [{
            "hook": "EvaluateDataHook", "meta_name": "compare",
            "input": {"extra_configs.after_path": "anonymous.merge.res_1"},
            "extra_configs": {"type": "stats_comparison", "before_path": str(data)}}],
    }
    (workdir / "loop.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run_snakemake(workdir, "loop.yaml")

    def record(job):
        return json.loads((workdir / "out" / job / "context.json").read_text())

    # iteration 1 merges (data, data); iteration 2 merges (iteration 1's output, data)
    assert record("iter_1/anonymous/evaluation_compare")["outputs"]["res_1"]["samples_after"] == 20
    assert record("iter_2/anonymous/evaluation_compare")["outputs"]["res_1"]["samples_after"] == 30
    assert record("iter_1/gate")["outputs"]["res_1"]["continue"] is True
    gate2 = record("iter_2/gate")["outputs"]["res_1"]
    assert gate2["continue"] is False and gate2["targets_met"] is True
    # the target was met: iteration 3 is planned but skipped
    assert record("iter_3/anonymous/execution_merge")["status"] == "skipped"
    assert record("iter_3/anonymous/evaluation_compare")["status"] == "skipped"
    # each iteration's export kept, under iter_N as in the original
    assert sorted(p.parent.name for p in (workdir / "exports/merged").glob("iter_*/*.jsonl")) == ["iter_1", "iter_2"]
    summary = json.loads((workdir / "out/summary.json").read_text())
    assert [j["status"] for j in summary["jobs"]].count("skipped") == 2
