"""A path inside two jobs' exports (one exports into the other's export directory, as the original's
text-to-video configs do under ./outputs/demo-bench/) belongs to the innermost export: the plan edge goes
to that job, and at run time the path is read from that job's artifacts."""
from __future__ import annotations

import yaml

from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.hooks.runner import rewrite_paths


def _pools(meta, export, data):
    return {"hook": "DataPoolManipulationHook", "meta_name": meta,
            "extra_configs": {"type": "data_pool_downsampling", "dataset_path": data, "export_path": export,
                              "target_num_samples": 1}}


def test_plan_edge_goes_to_the_innermost_export(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    sandbox = {"execution_job_configs": [
        _pools("outer", "out/bench", "a.jsonl"),
        _pools("inner", "out/bench/models", "a.jsonl"),
        _pools("reader", "out/other", "out/bench/models/a_1.jsonl"),
        _pools("outer_reader", "out/other2", "out/bench/a_1.jsonl")]}
    (tmp_path / "sb.yaml").write_text(yaml.safe_dump(sandbox))
    jobs = compile_plan("sb.yaml").jobs
    assert jobs["anonymous/execution_reader"].deps == ["anonymous/execution_inner"]
    assert jobs["anonymous/execution_outer_reader"].deps == ["anonymous/execution_outer"]


def test_run_time_paths_come_from_the_innermost_export():
    aliases = {"/w/out/bench": "/w/jobs/outer/artifacts/export", "/w/out/bench/models": "/w/jobs/inner/artifacts/export"}
    assert rewrite_paths("/w/out/bench/models/checkpoint-2.safetensors", aliases) == \
        "/w/jobs/inner/artifacts/export/checkpoint-2.safetensors"
    assert rewrite_paths("/w/out/bench/x_ea_fmt.json", aliases) == "/w/jobs/outer/artifacts/export/x_ea_fmt.json"
