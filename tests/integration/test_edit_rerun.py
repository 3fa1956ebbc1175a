"""Edit-and-rerun: each kind of recipe edit reruns exactly the jobs it affects (real Snakemake),
and every rerun gives what a clean run of the edited config gives.

probe -> k-sigma refine -> process -> probe of the processed data, on 300 demo documents:
- a threshold edit reruns refine, process and the later probe, never the first probe;
- a stat-argument edit (rep_len) reruns the probe, which computes that op's stats only;
- an op added: the probe computes that op's stats only; an op removed: it computes none;
- inserting a job elsewhere renames and reruns nothing (jobs are named, not numbered).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, demo_shaped_jobs, demo_slice, run_snakemake

pytestmark = pytest.mark.e2e

PROBE, REFINE = "anonymous/probe_analysis_ori_data", "anonymous/refine_analysis_ori_data"
PROCESS, LATER = "anonymous/execution_process", "anonymous/evaluation_analysis_processed_data"


def _write(root: Path, data: Path, recipe: dict, extra_jobs: list | None = None) -> str:
    root.mkdir(parents=True, exist_ok=True)
    (root / "recipe.yaml").write_text(yaml.safe_dump({**recipe, "dataset_path": str(data)}, sort_keys=False))
    sandbox = {
        "work_dir": "out",
        **demo_shaped_jobs({"tighten_only": True}, extra_jobs),
    }
    (root / "sandbox.yaml").write_text(yaml.safe_dump(sandbox, sort_keys=False))
    return "sandbox.yaml"


def _stamps(root: Path) -> dict[str, int]:
    return {str(p.parent.relative_to(root / "out")): p.stat().st_mtime_ns
            for p in (root / "out").rglob("context.json")}


def _rerun(root: Path, data: Path, recipe: dict, extra_jobs: list | None = None) -> set[str]:
    """Write the edited config, run Snakemake, return the jobs that ran (their records changed)."""
    before = _stamps(root)
    run_snakemake(root, _write(root, data, recipe, extra_jobs))
    after = _stamps(root)
    return {job for job, stamp in after.items() if before.get(job) != stamp}


def _results(root: Path) -> dict:
    """What a run computed: the probes' data with stats, the refined recipe, the processed rows."""
    def rows(path):
        return [json.loads(line) for line in Path(path).read_text().splitlines()]

    out = root / "out"
    return {"probe": rows(out / PROBE / "artifacts/raw.jsonl"),
            "refined": yaml.safe_load((root / "exports/refined.yaml").read_text())["process"],
            "processed": rows(json.loads((out / PROCESS / "context.json").read_text())["outputs"]["res_1"]),
            "later": json.loads((out / LATER / "context.json").read_text())["metrics"]["overall"]}


def _probe_metrics(root: Path) -> dict:
    return json.loads((root / "out" / PROBE / "context.json").read_text())["metrics"]


def test_each_edit_reruns_what_it_affects_and_equals_a_clean_run(tmp_path, monkeypatch):
    data = demo_slice(tmp_path / "data", 300)
    recipe = yaml.safe_load((REPO / "config/recipes/text_filters.yaml").read_text())
    recipe["np"] = 1
    recipe["export_path"] = "exports/processed.jsonl"
    ours = tmp_path / "ours"
    ours.mkdir()
    monkeypatch.chdir(ours)
    assert _rerun(ours, data, recipe) >= {PROBE, REFINE, PROCESS, LATER}
    assert _probe_metrics(ours)["stats_computed_ops"] == [next(iter(op)) for op in recipe["process"]]
    assert _rerun(ours, data, recipe) == set()  # no-op

    def check_clean(name: str, edited: dict) -> None:
        clean = tmp_path / f"clean_{name}"
        monkeypatch.chdir(clean.parent)
        clean.mkdir()
        monkeypatch.chdir(clean)
        run_snakemake(clean, _write(clean, data, edited))
        monkeypatch.chdir(ours)
        assert _results(ours) == _results(clean), name

    # 1. a threshold edit: the probe keeps its stats; refine -> process -> later probe rerun
    recipe["process"][2]["alphanumeric_filter"]["min_ratio"] = 0.4
    assert _rerun(ours, data, recipe) == {REFINE, PROCESS, LATER}
    check_clean("threshold", recipe)

    # 2. a stat-affecting argument: only that op's stats are recomputed
    recipe["process"][5]["word_repetition_filter"]["rep_len"] = 5
    assert PROBE in _rerun(ours, data, recipe)
    metrics = _probe_metrics(ours)
    assert metrics["stats_computed_ops"] == ["word_repetition_filter"] and len(metrics["stats_reused_ops"]) == 6
    check_clean("stat_arg", recipe)

    # 3. an op added: only its stats are computed
    recipe["process"].append({"maximum_line_length_filter": {"max_len": 5000}})
    assert PROBE in _rerun(ours, data, recipe)
    assert _probe_metrics(ours)["stats_computed_ops"] == ["maximum_line_length_filter"]
    check_clean("op_added", recipe)

    # 4. an op removed: nothing to compute
    del recipe["process"][1]
    assert PROBE in _rerun(ours, data, recipe)
    assert _probe_metrics(ours)["stats_computed_ops"] == []
    probe = json.loads((ours / "out" / PROBE / "context.json").read_text())
    assert probe["timing"]["imported_data_juicer"] is False  # all stats stored: Data-Juicer not even imported
    check_clean("op_removed", recipe)

    # 5. a job inserted before the others: nothing renamed, nothing rerun but the new job (and
    #    the summary); its neighbours' ids do not move
    extra = [{"hook": "DataPoolManipulationHook", "meta_name": "inserted",
              "extra_configs": {"type": "data_pool_downsampling", "dataset_path": str(data),
                                "target_num_samples": 5}}]
    assert _rerun(ours, data, recipe, extra) == {"anonymous/execution_inserted"}
    inserted = json.loads((ours / "out/anonymous/execution_inserted/context.json").read_text())
    assert inserted["timing"]["imported_data_juicer"] is False and inserted["timing"]["startup_s"] > 0
