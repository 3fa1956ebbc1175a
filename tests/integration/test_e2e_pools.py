"""Data-pool hooks through `snakemake`: a multi-pipeline config in the original's list form.

probe -> construct pools by stat quantiles -> rank (GeneralProbeHook) -> combine the top 3 ->
downsample -> merge -> duplicate -> convert to parquet. Checks file names, counts and that a
second run from scratch gives byte-identical pools (determinism).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from .conftest import demo_slice, downsample_and_compare, run_snakemake

pytestmark = pytest.mark.e2e

N = 300


def _sandbox(workdir: Path, data: Path, out: str) -> str:
    recipe = {"dataset_path": str(data), "export_path": f"{out}_exports/probe.jsonl", "text_keys": "text",
              "process": [{"text_length_filter": {"min_len": 1}}, {"alphanumeric_filter": {"min_ratio": 0.0}}]}
    pools = f"{out}_exports/pools"
    spec = {
        "project_name": "pools", "work_dir": out, "seed": 7,
        "pipelines": [
            {"probe": {"probe_job_configs": [
                {"hook": "ProbeViaAnalyzerHook", "meta_name": "stats", "dj_configs": recipe}]}},
            {"pools": {
                "execution_job_configs": [
                    {"hook": "DataPoolManipulationHook", "meta_name": "construct",
                     "input": {"extra_configs.dataset_path": "probe.stats.res_1"},
                     "extra_configs": {"type": "data_pool_construction", "export_path": pools,
                                       "split_ratios": ["1/3", "2/3"], "stats": ["alnum_ratio", "text_len"]}},
                ],
                "probe_job_configs": [],
            }},
            {"rank": {
                "probe_job_configs": [
                    {"hook": "GeneralProbeHook", "meta_name": "ranking",
                     "input": {"extra_configs.dataset_path": "pools.construct.res_1"},
                     "extra_configs": {"type": "data_pool_ranking", "metrics": [3, 1, 4, 1.5, 9, 2.6],
                                       "descending": True, "top_n": 3}}],
                "execution_job_configs": [
                    {"hook": "DataPoolManipulationHook", "meta_name": "combine", "input": {
                        "extra_configs.dataset_path": "-1.res_1"},
                     "extra_configs": {"type": "data_pool_combination"}},
                    {"hook": "DataPoolManipulationHook", "meta_name": "down", "input": {
                        "extra_configs.dataset_path": "-1.res_1"},
                     "extra_configs": {"type": "data_pool_downsampling", "target_num_samples": 20}},
                    {"hook": "DataPoolManipulationHook", "meta_name": "merge", "input": {
                        "extra_configs.dataset_path": "-1.res_1"},
                     "extra_configs": {"type": "data_pool_merging"}},
                    {"hook": "DataPoolManipulationHook", "meta_name": "dup", "input": {
                        "extra_configs.dataset_path": "-1.res_1"},
                     "extra_configs": {"type": "data_pool_duplication", "duplicating_times": [2],
                                       "shuffle": True}},
                    {"hook": "GeneralDataExecutorHook", "meta_name": "parquet", "input": {
                        "extra_configs.dataset_path": "-1.res_1"},
                     "extra_configs": {"type": "dj_to_parquet"}},
                ]}},
        ],
    }
    path = workdir / f"{out}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path.name


def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.jsonl"))}


def test_pool_hooks_end_to_end(workdir):
    data = demo_slice(workdir / "data", N)
    run_snakemake(workdir, _sandbox(workdir, data, "run1"))
    summary = json.loads((workdir / "run1/summary.json").read_text())
    jobs = {j["meta_name"]: j for j in summary["jobs"]}
    built = jobs["construct"]["outputs"]["res_1"]
    assert [Path(p).name for p in built] == [f"raw_alnum_ratio_{i}.jsonl" for i in range(3)] + \
        [f"raw_text_len_{i}.jsonl" for i in range(3)]
    # parts are N*1/3 and N*2/3 rounded half up: [0, 100, 200, 300]
    assert [sum(1 for _ in open(p)) for p in built] == [100, 100, 100] * 2
    # ranking by the given metrics, descending, top 3: pools 4 (9), 2 (4), 0 (3)
    ranked = jobs["ranking"]["outputs"]["res_1"]
    assert [Path(p).name for p in ranked] == ["raw_text_len_1.jsonl", "raw_alnum_ratio_2.jsonl",
                                               "raw_alnum_ratio_0.jsonl"]
    combined = jobs["combine"]["outputs"]["res_1"]
    assert Path(combined[0]).name.startswith("raw__top_0_num_100")
    merged = jobs["merge"]["outputs"]["res_1"]
    assert Path(merged).name.endswith("_merged.jsonl")
    dup = jobs["dup"]["outputs"]["res_1"]
    assert sum(1 for _ in open(dup)) == 2 * sum(1 for _ in open(merged))
    assert Path(jobs["parquet"]["outputs"]["res_1"]).suffix == ".parquet"
    # the user export path got the pools too
    assert (workdir / "run1_exports/pools/alnum_ratio/raw_alnum_ratio_0.jsonl").is_file()

    # same config, fresh work dir: byte-identical pools
    run_snakemake(workdir, _sandbox(workdir, data, "run2"))
    d1 = _digest(workdir / "run1" / "pools")
    d2 = _digest(workdir / "run2" / "pools")
    d1.update(_digest(workdir / "run1" / "rank"))
    d2.update(_digest(workdir / "run2" / "rank"))
    assert d1 and d1 == d2


def test_optional_offline_wandb_logging(workdir, monkeypatch):
    pytest.importorskip("wandb")
    data = demo_slice(workdir / "data", 30)
    spec = downsample_and_compare(data, wandb=True, project_name="p", experiment_name="e")
    (workdir / "wb.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run_snakemake(workdir, "wb.yaml")
    runs = list((workdir / "out/wandb").glob("offline-run-*"))
    assert len(runs) == 2  # one per job, no login, no network
