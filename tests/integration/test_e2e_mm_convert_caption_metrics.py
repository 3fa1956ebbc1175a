"""Multimodal converters and caption metrics through `snakemake`, on the original's image demo dataset.

DJ image demo -> LLaVA (dj_to_llava_conversion) -> DJ (coco_caption_to_dj_conversion) -> caption metrics of its
captions against references (EvaluateDataHook and EvaluateModelHook, type coco_caption_metrics).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.components.caption_metrics import score_captions

from .conftest import REPO, run_snakemake

pytestmark = pytest.mark.e2e

_SHARED = [Path(os.environ["JUICER_SANDBOX_SHARED"])] if os.environ.get("JUICER_SANDBOX_SHARED") else \
    [REPO.parent / "shared", REPO.parent.parent / "shared"]
_DEMO = next((c / "reference/dj_original/demos/data/demo-dataset-images.jsonl" for c in _SHARED
              if (c / "reference/dj_original/demos/data/demo-dataset-images.jsonl").is_file()), None)

REFS = {"img1.png": ["A bed with white sheets.", "A comfortable bed in a bedroom."],
        "img2.jpg": ["A bus parked on a street.", "A red bus."],
        "img3.jpg": ["A woman holding an umbrella, in black and white.", "An old photograph of a woman."]}
METRICS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]  # METEOR needs Java + pycocoevalcap


@pytest.mark.skipif(_DEMO is None, reason="the original's demo data is not in ../shared/reference/dj_original "
                    "(or set JUICER_SANDBOX_SHARED)")
def test_converters_and_caption_metrics_through_snakemake(workdir):
    media = _DEMO.parent.parent.parent / "tests" / "ops" / "data"
    refs = workdir / "refs.jsonl"
    refs.write_text("".join(json.dumps({"image": str(media / k), "caption": v}) + "\n" for k, v in REFS.items()))
    metrics_cfg = {"type": "coco_caption_metrics", "ground_truth_dataset_path": str(refs), "id_key": "image",
                   "predicted_caption_key": "text", "metrics": METRICS}
    spec = {
        "project_name": "mm", "work_dir": "out",
        "execution_job_configs": [
            {"hook": "GeneralDataExecutorHook", "meta_name": "to_llava",
             "extra_configs": {"type": "dj_to_llava_conversion", "dataset_path": str(_DEMO),
                               "caption_prompt": "Provide a one-sentence caption for the provided image."}},
            {"hook": "GeneralDataExecutorHook", "meta_name": "to_dj",
             "input": {"extra_configs.dataset_path": "-1.res_1"},
             "extra_configs": {"type": "coco_caption_to_dj_conversion"}}],
        "evaluation_job_configs": [
            {"hook": "EvaluateDataHook", "meta_name": "captions",
             "input": {"extra_configs.predicted_dataset_path": "anonymous.to_dj.res_1"}, "extra_configs": metrics_cfg},
            {"hook": "EvaluateModelHook", "meta_name": "model_captions",
             "input": {"extra_configs.predicted_dataset_path": "anonymous.to_dj.res_1"},
             "extra_configs": {**metrics_cfg, "arm": "demo"}}],
    }
    (workdir / "mm.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run_snakemake(workdir, "mm.yaml")
    jobs = {j["meta_name"]: j for j in json.loads((workdir / "out/summary.json").read_text())["jobs"]}
    llava = jobs["to_llava"]["outputs"]["res_1"]  # a one-path list is given as the path
    assert Path(llava).name == "demo-dataset-images_llava_fmt.json"
    dj = workdir / jobs["to_dj"]["outputs"]["res_1"]
    assert dj.name == "demo-dataset-images_llava_fmt_dj_fmt.jsonl"
    rows = [json.loads(line) for line in dj.read_text().splitlines()]
    assert [r["text"] for r in rows] == [json.loads(line)["text"] for line in _DEMO.read_text().splitlines()]
    assert all(os.path.isfile(r["images"][0]) for r in rows)

    demo = {str(media / k): json.loads(line)["text"].replace("<__dj__image>", "").strip()
            for k, line in zip(REFS, _DEMO.read_text().splitlines())}
    expected, _ = score_captions({str(media / k): v for k, v in REFS.items()}, demo, METRICS)
    for name in ("captions", "model_captions"):
        got = jobs[name]["outputs"]["res_1"]
        assert {m: got[m] for m in METRICS} == pytest.approx(expected, abs=1e-12)
        assert got["num_images"] == 3 and 0 < got["CIDEr"]
    assert jobs["model_captions"]["outputs"]["res_1"]["arm"] == "demo"
