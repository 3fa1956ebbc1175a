"""The data-driven refinements in one small sandbox through `snakemake` (real Data-Juicer, torch, Optuna):
reference perplexity as a probe stat -> model feedback at the held-out reference's quantile -> processing;
the stats + n-gram quality classifier with its held-out AUC and a keep rule calibrated on the reference; the
recipe's bounds set from the reference's stats (reference_bounds); threshold_search returning a recipe that Data-Juicer
processes; a random arm drawn per seed, and a ranking whose combined std says it includes the pool draw."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, demo_slice, run_snakemake

pytestmark = pytest.mark.e2e

TINY_LM = {"type": "causal_lm", "arch": "gpt2", "n_layer": 1, "d_model": 32, "n_head": 2, "context": 32,
           "batch_size": 8, "max_tokens": 8192}


def _reference(dest: Path, n: int) -> Path:
    """Clean rows from beyond the raw slice (a test stand-in for the user's clean reference set)."""
    out = dest / "ref.jsonl"
    rows = []
    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as src:
        for i, line in enumerate(src):
            if i >= 2000 and json.loads(line)["meta"]["clean"]:
                rows.append(line)
            if len(rows) == n:
                break
    out.write_text("".join(rows))
    return out


def _sandbox(workdir: Path, raw: Path, ref: Path, val: Path) -> str:
    recipe = {"text_keys": "text", "np": 1,
              "process": [{"alphanumeric_filter": {"min_ratio": 0.25}},
                          {"special_characters_filter": {"max_ratio": 0.25}},
                          {"words_num_filter": {"min_num": 10}}]}
    a = "anonymous"
    search = {"method": "threshold_search", "trials": 2, "search_tokens": 4096, "validate_tokens": 8192,
              "eval_tokens": 4000, "reference_path": str(ref), "path_refined_recipe": "exports/search.yaml",
              "model": {k: v for k, v in TINY_LM.items() if k not in ("type", "max_tokens")}}
    spec = {
        "work_dir": "out", "seed": 0, "matrix": {"seed": [0, 1]},
        "probe_job_configs": [
            {"hook": "ProbeViaAnalyzerHook", "meta_name": "probe", "dj_configs": recipe,
             "local": {"dj_configs.dataset_path": str(raw), "dj_configs.export_path": "exports/probed.jsonl"}},
            {"hook": "ProbeViaAnalyzerHook", "meta_name": "probe_ref", "dj_configs": recipe,
             "local": {"dj_configs.dataset_path": str(ref), "dj_configs.export_path": "exports/ref_probed.jsonl"}},
            {"hook": "TrainModelHook", "meta_name": "tok",
             "extra_configs": {"type": "bpe_tokenizer", "dataset_path": str(raw), "vocab_size": 512}},
            {"hook": "ProbeViaModelInferHook", "meta_name": "ref_ppl",
             "input": {"extra_configs.dataset_path": f"{a}.probe.res_1", "extra_configs.tokenizer_path": f"{a}.tok.res_1"},
             "extra_configs": {"reference_path": str(ref)}},
        ],
        "refine_recipe_job_configs": [
            {"hook": "RefineRecipeViaModelFeedbackHook", "meta_name": "ppl_feedback", "dj_configs": recipe,
             "input": {"extra_configs.dataset_path": f"{a}.ref_ppl.res_1",
                       "extra_configs.reference_path": f"{a}.ref_ppl.__artifacts__"},
             "extra_configs": {"method": "loss_threshold", "stat": "ref_loss", "path_refined_recipe": "exports/ppl.yaml"}},
            {"hook": "RefineRecipeViaModelFeedbackHook", "meta_name": "search", "dj_configs": recipe,
             "input": {"extra_configs.dataset_path": f"{a}.probe.res_1", "extra_configs.tokenizer_path": f"{a}.tok.res_1"},
             "extra_configs": search},
            {"hook": "RefineRecipeViaModelFeedbackHook", "meta_name": "bounds", "dj_configs": recipe,
             "input": {"extra_configs.dataset_path": f"{a}.probe.res_1",
                       "extra_configs.reference_path": f"{a}.probe_ref.res_1"},
             "extra_configs": {"method": "reference_bounds", "path_refined_recipe": "exports/bounds.yaml"}},
        ],
        "execution_job_configs": [
            {"hook": "ProcessDataHook", "meta_name": "process_ppl", "dj_configs": "exports/ppl.yaml"},
            {"hook": "ProcessDataHook", "meta_name": "process_search", "dj_configs": "exports/search.yaml"},
            {"hook": "ProcessDataHook", "meta_name": "process_bounds", "dj_configs": "exports/bounds.yaml"},
            {"hook": "DataPoolManipulationHook", "meta_name": "random_s{seed}", "foreach": ["seed"],
             "input": {"extra_configs.target_like": f"{a}.process_search.res_1"},
             "extra_configs": {"type": "data_pool_downsampling", "dataset_path": str(raw), "shuffle_seed": "{seed}"}},
            {"hook": "TrainModelHook", "meta_name": "lm_s{seed}",
             "input": {"extra_configs.tokenizer_path": f"{a}.tok.res_1",
                       "extra_configs.dataset_path": f"{a}.process_search.res_1"},
             "extra_configs": {**TINY_LM, "seed": "{seed}"}},
        ],
        "evaluation_job_configs": [
            {"hook": "EvaluateDataHook", "meta_name": "classifier",
             "input": {"extra_configs.dataset_path": f"{a}.probe.res_1", "extra_configs.reference_path": f"{a}.probe_ref.res_1"},
             "extra_configs": {"type": "stats_quality_classifier"}},
        ],
    }
    # the random arm trains on its own draw per seed
    lm = spec["execution_job_configs"][-1]
    spec["execution_job_configs"][-1:] = [
        {**lm, "meta_name": "lm_search_s{seed}", "foreach": ["seed"]},
        {**lm, "meta_name": "lm_random_s{seed}", "foreach": ["seed"],
         "input": {**lm["input"], "extra_configs.dataset_path": f"{a}.random_s{{seed}}.res_1"}},
    ]
    for arm, pool in (("search", f"{a}.process_search.res_1"), ("random", f"{a}.random_s{{seed}}.res_1")):
        spec["evaluation_job_configs"].append(
            {"hook": "EvaluateModelHook", "meta_name": f"eval_{arm}_s{{seed}}", "foreach": ["seed"],
             "input": {"extra_configs.model_path": f"{a}.lm_{arm}_s{{seed}}.res_1", "extra_configs.pool": pool},
             "extra_configs": {"type": "lm_loss", "val_path": str(val), "arm": arm, "seed": "{seed}"}})
    spec["evaluation_job_configs"].append(
        {"hook": "GeneralProbeHook", "meta_name": "rank", "input": {"extra_configs.evaluations": f"{a}.eval_*.res_1"},
         "extra_configs": {"type": "arm_ranking", "baseline": "random", "export_path": "{work_dir}/ranking"}})
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return "sandbox.yaml"


def _record(workdir: Path, name: str) -> dict:
    return json.loads((workdir / "out/anonymous" / name / "context.json").read_text())


def test_data_driven_refinements_in_a_sandbox(workdir):
    raw = demo_slice(workdir / "data", 300)
    ref = _reference(workdir / "data", 120)
    val = workdir / "data" / "val.jsonl"
    with gzip.open(REPO / "data/demo/val.jsonl.gz", "rt", encoding="utf-8") as src:
        val.write_text("".join(line for _, line in zip(range(40), src)))
    run_snakemake(workdir, _sandbox(workdir, raw, ref, val))
    _check(workdir)


def _check(workdir: Path) -> None:
    ppl = _record(workdir, "probe_ref_ppl")["metrics"]
    assert ppl["stat"] == "ref_loss" and ppl["num_samples"] == 300 and ppl["heldout_docs"] > 0
    feedback = _record(workdir, "refine_ppl_feedback")["metrics"]
    assert feedback["rule"].startswith("quantile 0.9 of the held-out reference") and 0 < feedback["expected_kept"] < 300
    # the recipe's own three filters and the ref_loss bound: at most what the bound alone keeps
    assert 0 < _record(workdir, "execution_process_ppl")["metrics"]["samples_out"] <= feedback["expected_kept"]
    ppl_recipe = yaml.safe_load((workdir / "exports/ppl.yaml").read_text())
    assert ppl_recipe["process"][-1]["specified_numeric_field_filter"]["max_value"] == feedback["threshold"]
    classifier = _record(workdir, "evaluation_classifier")["metrics"]["res_2"]
    assert 0.5 < classifier["auc_heldout"] <= 1.0 and "stopwords_ratio" not in classifier["stats"]
    assert classifier["threshold"] == classifier["reference_threshold"]  # calibrated on the held-out reference
    bounds = _record(workdir, "refine_bounds")["metrics"]
    assert bounds["method"] == "reference_bounds" and 0.9 <= bounds["reference_kept"] < 1
    assert len(bounds["bounds"]) == 6  # both sides of the three ops, from the reference's stats
    assert _record(workdir, "execution_process_bounds")["metrics"]["samples_out"] == bounds["expected_kept"]
    search = _record(workdir, "refine_search")["metrics"]
    assert search["method"] == "threshold_search" and len(search["trials"]) == 2
    recipe = yaml.safe_load((workdir / "exports/search.yaml").read_text())
    assert [list(op)[0] for op in recipe["process"]] == ["alphanumeric_filter", "special_characters_filter",
                                                          "words_num_filter"]
    ranking = json.loads((workdir / "out/ranking/ranking.json").read_text())
    rows = {r["arm"]: r for r in ranking["arms"]}
    assert rows["random"]["variance_sources"] == ["training seed", "pool draw"]
    assert rows["search"]["variance_sources"] == ["training seed"]
    assert ranking["variance_sources"] == ["training seed", "pool draw"] and ranking["combined_std"] is not None
    md = (workdir / "out/summary.md").read_text()
    assert "includes training seed + pool draw" in md
