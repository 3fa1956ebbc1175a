"""Multimodal ops at validation: hub models and programs they need, packages Data-Juicer would install."""
from __future__ import annotations

import pytest
import yaml

from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.dj.assets import check_models, hub_models
from juicer_sandbox.dj.catalog import load_catalog, op_missing_packages
from juicer_sandbox.errors import ConfigError

CLIP = "openai/clip-vit-base-patch32"


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("DATA_JUICER_EXTERNAL_MODELS_HOME", raising=False)
    return cache


@pytest.mark.parametrize("op, arg, model", [
    ("image_text_similarity_filter", "hf_clip", CLIP),
    ("image_nsfw_filter", "hf_nsfw_model", "Falconsai/nsfw_image_detection"),
    ("image_aesthetics_filter", "hf_scorer_model", "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE"),
    ("image_text_matching_filter", "hf_blip", "Salesforce/blip-itm-base-coco"),
    ("video_captioning_from_frames_mapper", "hf_img2seq", "Salesforce/blip2-opt-2.7b"),
])
def test_hub_model_ops_are_refused_with_the_model_and_its_path(empty_hf_cache, op, arg, model):
    assert hub_models(op, {}) == [(arg, model)]
    with pytest.raises(ConfigError) as info:
        check_models({"process": [{"image_shape_filter": None}, {op: None}]}, file="r.yaml")
    path = empty_hf_cache / ("models--" + model.replace("/", "--"))
    assert str(info.value) == (f"r.yaml: process[1].{op}: needs model {model} ({arg}) at path {path} (the Hugging "
                               f"Face cache; or set {arg} to a local model directory); model hubs are not "
                               f"contacted at run time")


def test_a_model_present_locally_is_accepted(empty_hf_cache, tmp_path, monkeypatch):
    recipe = {"process": [{"image_text_similarity_filter": {"hf_clip": CLIP}}]}
    (empty_hf_cache / f"models--{CLIP.replace('/', '--')}" / "snapshots" / "abc").mkdir(parents=True)
    check_models(recipe, file=None)  # in the Hugging Face cache
    local = tmp_path / "my_clip"
    local.mkdir()
    check_models({"process": [{"image_text_similarity_filter": {"hf_clip": str(local)}}]}, file=None)
    external = tmp_path / "external"
    (external / "Salesforce" / "blip-itm-base-coco").mkdir(parents=True)
    monkeypatch.setenv("DATA_JUICER_EXTERNAL_MODELS_HOME", str(external))  # Data-Juicer's check_model_home
    check_models({"process": [{"image_text_matching_filter": None}]}, file=None)
    with pytest.raises(ConfigError, match=f"needs model {tmp_path}/nope \\(hf_clip\\) at path {tmp_path}/nope"):
        check_models({"process": [{"image_text_similarity_filter": {"hf_clip": str(tmp_path / "nope")}}]}, file=None)


def test_ops_without_models_need_nothing(empty_hf_cache):
    for op in ("image_aspect_ratio_filter", "image_size_filter", "image_shape_filter", "image_deduplicator",
               "video_resolution_filter", "video_aspect_ratio_filter", "video_deduplicator", "text_length_filter"):
        assert hub_models(op, {}) == [], op
    check_models({"process": [{"image_deduplicator": {"method": "phash"}}]}, file=None)


def test_ffmpeg_backend_needs_the_program(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg here
    with pytest.raises(ConfigError, match="video_backend: ffmpeg .* runs the program 'ffmpeg', which is not on PATH"):
        check_models({"process": [{"video_duration_filter": {"min_duration": 1}}]}, file="r.yaml")
    check_models({"process": [{"video_duration_filter": {"video_backend": "av"}}]}, file="r.yaml")
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    check_models({"process": [{"video_duration_filter": None}]}, file="r.yaml")


def test_video_ops_declare_pyav_through_data_juicers_media_helpers(monkeypatch):
    """load_video (mm_utils) lazily imports av: an op that calls it would install av at run time."""
    ops = load_catalog()["ops"]
    for op in ("video_resolution_filter", "video_aspect_ratio_filter", "video_deduplicator"):
        assert ["av", "av"] in ops[op]["lazy"], op
    assert ["av", "av"] not in ops["image_shape_filter"]["lazy"]
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    assert op_missing_packages("video_resolution_filter", {}) == [("av", "av")]


def test_model_errors_come_after_the_plans_other_errors(empty_hf_cache, tmp_path, monkeypatch):
    """A config whose probe needs a hub model and whose later job has a plain mistake reports the mistake."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text('{"text": "x"}\n')
    recipe = {"dataset_path": "d.jsonl", "process": [{"image_text_similarity_filter": None}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    sandbox = {"work_dir": "out",
               "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "p", "dj_configs": "r.yaml"}],
               "execution_job_configs": [{"hook": "DataPoolManipulationHook", "meta_name": "x",
                                          "extra_configs": {"type": "no_such_type"}}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sandbox))
    with pytest.raises(ConfigError, match="no_such_type"):
        compile_plan("s.yaml")
    del sandbox["execution_job_configs"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sandbox))
    with pytest.raises(ConfigError, match=f"r.yaml: process\\[0\\].image_text_similarity_filter: needs model {CLIP}"):
        compile_plan("s.yaml")


def test_assets_fetch_says_where_each_hub_model_goes(empty_hf_cache):
    from juicer_sandbox.dj.assets import fetch_assets

    lines: list[str] = []
    recipe = {"process": [{"image_text_similarity_filter": None}, {"image_pair_similarity_filter": None},
                          {"image_shape_filter": None}]}
    assert fetch_assets([recipe], out=lines.append) == 1  # one CLIP for both ops
    path = empty_hf_cache / f"models--{CLIP.replace('/', '--')}"
    assert lines == [f"missing: model {CLIP} (image_text_similarity_filter.hf_clip): put it at {path} (e.g. "
                     f"`huggingface-cli download {CLIP}` where the network allows), or set hf_clip to a local model "
                     f"directory"]
    (path / "snapshots" / "a").mkdir(parents=True)
    lines.clear()
    assert fetch_assets([recipe], out=lines.append) == 0 and lines == [
        f"present: model {CLIP} (image_text_similarity_filter.hf_clip)"]
