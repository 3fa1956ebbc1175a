"""The image-to-text miniature in quick mode (CI): config/sandboxes/image_caption_demo.yaml end to end
through `snakemake` on the shipped corpus archive, with a tiny training budget."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import REPO, run_snakemake

pytestmark = pytest.mark.e2e

QUICK = "{matrix: {pairs: [2000], budget: [1920]}}"  # 2,000 raw pairs; 30 steps of 64 pairs per arm


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_image_caption_demo_quick_mode(workdir):
    for sub in ("config", "data"):
        os.symlink(REPO / sub, workdir / sub)
    run_snakemake(workdir, "config/sandboxes/image_caption_demo.yaml", config={"sandbox_overrides": QUICK})
    out = workdir / "outputs/image_caption_demo"
    summary = json.loads((out / "summary.json").read_text())["jobs"]
    res = {j["job"]: j["outputs"].get("res_1") for j in summary}
    raw = _rows(workdir / res["corpus/execution_sample"])
    processed = _rows(workdir / res["caption/execution_process"])
    assert len(raw) == 2000 and 0 < len(processed) < len(raw)
    # the unpacked images live in the work dir: named relative to the dataset file, as Data-Juicer reads them
    base = (workdir / res["caption/execution_process"]).parent
    assert all(not os.path.isabs(r["images"][0]) and (base / r["images"][0]).is_file() for r in processed[:50])
    # the refinement removes generic (collection-name) captions and keeps most clean pairs
    share = lambda rows, f: sum(f in r["meta"]["flags"] for r in rows) / len(rows)  # noqa: E731
    assert share(processed, "generic_text") < share(raw, "generic_text") / 2
    recipe = (out / "exports/k_sigma_recipe.yaml").read_text()
    assert "image_shape_filter" in recipe and "document_deduplicator" in recipe and "image_deduplicator" in recipe

    evals = {j["metrics"]["arm"]: j["metrics"] for j in summary if j["hook"] == "EvaluateModelHook"}
    assert set(evals) == {"raw", "refined", "random"}
    for m in evals.values():
        assert 0 < m["loss"] < 10 and m["pairs"] > 300
        assert {"Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"} <= set(m)
    trains = [j["metrics"] for j in summary if j["hook"] == "TrainModelHook" and "samples" in j["metrics"]]
    assert len(trains) == 3 and {t["samples"] for t in trains} == {1920}
    random_pairs = {t["pool_pairs"] for t in trains if "random" in t["train_path"]}
    assert random_pairs == {len(processed)}  # the control arm has the refined arm's size
    ranking = json.loads(next(out.glob("caption/*rank_arms/artifacts/export/ranking.json")).read_text())
    assert {row["arm"] for row in ranking["arms"]} == {"raw", "refined", "random"}
    model_dir = workdir / res["caption/execution_train_refined_s0"]
    assert (model_dir / "captioner.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
