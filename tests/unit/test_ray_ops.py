"""The Ray path's recipe: Data-Juicer's deduplicators become their Ray twins (dj/ray_engine.py)."""
import pytest

from juicer_sandbox.dj.ray_engine import ray_ops
from juicer_sandbox.errors import SandboxError


def test_deduplicators_become_their_ray_twins_with_their_arguments():
    recipe = {"dataset_path": "d.jsonl", "process": [
        {"image_shape_filter": {"min_width": 4}}, {"image_deduplicator": {"method": "dhash"}},
        {"document_deduplicator": {"lowercase": True}}, "video_deduplicator"]}
    out = ray_ops(recipe)
    assert out["process"] == [{"image_shape_filter": {"min_width": 4}}, {"ray_image_deduplicator": {"method": "dhash"}},
                              {"ray_document_deduplicator": {"lowercase": True}}, {"ray_video_deduplicator": {}}]
    assert recipe["process"][1] == {"image_deduplicator": {"method": "dhash"}}  # not mutated
    # consider_text: false is what the twin does anyway
    assert ray_ops({"process": [{"image_deduplicator": {"consider_text": False}}]})["process"] == [
        {"ray_image_deduplicator": {}}]


def test_consider_text_has_no_twin_and_is_refused_naming_the_op():
    with pytest.raises(SandboxError, match=r"process\[1\] video_deduplicator: consider_text: true has no Ray twin"):
        ray_ops({"process": [{"text_length_filter": None}, {"video_deduplicator": {"consider_text": True}}]})
