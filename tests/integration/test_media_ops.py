"""Data-Juicer's media ops in a job's engine (in-process, real Data-Juicer, real media from the
original's ``tests/ops/data``): media it cannot read are never a silent empty result, and the
perceptual-hash image deduplicator runs without torchvision."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from juicer_sandbox.dj.engine import compute_stats, run_recipe
from juicer_sandbox.errors import SandboxError

from .conftest import REPO

ORIGINAL = Path(os.environ.get("DJ_ORIGINAL", REPO.parent / "shared" / "reference" / "dj_original"))
MEDIA = ORIGINAL / "tests/ops/data"
pytestmark = pytest.mark.skipif(not (MEDIA / "video2.mp4").is_file(),
                                reason=f"the original's demo media are not at {MEDIA} (set $DJ_ORIGINAL)")


def _dataset(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_unreadable_videos_fail_the_probe_or_are_reported(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video")
    video2 = os.path.relpath(MEDIA / "video2.mp4", tmp_path)  # relative to the dataset file, as in DJ's demos
    recipe = {"process": [{"video_resolution_filter": None}], "video_key": "videos"}
    only_broken = _dataset(tmp_path / "broken.jsonl", [{"text": "a", "videos": ["broken.mp4"]}] * 2)
    with pytest.raises(SandboxError, match=r"Data-Juicer dropped all 2 samples while computing stats: 2 op "
                                           r"error\(s\), first: video_resolution_filter: "):
        compute_stats({**recipe, "dataset_path": only_broken}, tmp_path / "dj1", tmp_path / "out1.jsonl")
    mixed = _dataset(tmp_path / "mixed.jsonl", [{"text": "a", "videos": [video2]},
                                                {"text": "b", "videos": ["broken.mp4"]}])
    warnings: list = []
    n = compute_stats({**recipe, "dataset_path": mixed}, tmp_path / "dj2", tmp_path / "out2.jsonl", warnings=warnings)
    assert n == 1 and len(warnings) == 1
    assert warnings[0].startswith("1 of 2 samples dropped while computing stats because an op failed on them: "
                                  "1 op error(s), first: video_resolution_filter: ")
    (row,) = _rows(tmp_path / "out2.jsonl")
    # the relative path's ".." is resolved as the OS does (through symlinks, e.g. a linked ../shared)
    assert row["videos"] == [os.path.realpath(MEDIA / "video2.mp4")] and row["__dj__stats__"]["video_width"] == [480]


def test_processing_that_keeps_nothing_because_media_cannot_be_read_is_an_error(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    data = _dataset(tmp_path / "d.jsonl", [{"text": "a", "videos": ["broken.mp4"]}])
    recipe = {"dataset_path": data, "process": [{"video_aspect_ratio_filter": None}]}
    with pytest.raises(SandboxError, match="dropped all 1 samples while processing: 1 op error"):
        run_recipe(recipe, tmp_path / "dj", tmp_path / "out.jsonl", n_in=1)
    # a filter that legitimately keeps nothing is not an error (the hook warns)
    good = _dataset(tmp_path / "g.jsonl", [{"text": "a", "videos": [str(MEDIA / "video2.mp4")]}])
    strict = {"dataset_path": good, "process": [{"video_resolution_filter": {"min_width": 4000}}]}
    assert run_recipe(strict, tmp_path / "dj2", tmp_path / "out2.jsonl", n_in=1) == 0


def test_image_deduplicator_by_perceptual_hash(tmp_path):
    rel = {name: os.path.relpath(MEDIA / name, tmp_path) for name in ("img1.png", "img2.jpg", "img3.jpg")}
    rows = [{"text": "a bed", "images": [rel["img1.png"]]}, {"text": "a bus", "images": [rel["img2.jpg"]]},
            {"text": "the bed again", "images": [rel["img1.png"]]}, {"text": "a woman", "images": [rel["img3.jpg"]]}]
    recipe = {"dataset_path": _dataset(tmp_path / "d.jsonl", rows), "image_key": "images",
              "process": [{"image_shape_filter": {"min_width": 300}}, {"image_deduplicator": {"method": "phash"}}]}
    warnings: list = []
    assert run_recipe(recipe, tmp_path / "dj", tmp_path / "out.jsonl", n_in=4, warnings=warnings) == 3
    kept = _rows(tmp_path / "out.jsonl")
    assert [r["text"] for r in kept] == ["a bed", "a bus", "a woman"] and not warnings
    assert all(os.path.isabs(p) and os.path.isfile(p) for r in kept for p in r["images"])


def test_media_stats_are_stored_per_op_and_reused(tmp_path):
    """A probe rerun after an op is added computes that op only; a threshold edit computes nothing;
    the deduplicator (no stats) does not stop the per-op store."""
    from juicer_sandbox.dj.op_stats import compute_stats_per_op

    data = _dataset(tmp_path / "d.jsonl", [{"text": "a", "images": [os.path.relpath(MEDIA / n, tmp_path)]}
                                           for n in ("img1.png", "img2.jpg", "img3.jpg")])
    base = [{"image_shape_filter": {"min_width": 10}}, {"image_aspect_ratio_filter": None},
            {"image_deduplicator": None}]
    cache = tmp_path / "op_stats"

    def probe(process, name):
        return compute_stats_per_op({"dataset_path": data, "process": process}, cache, tmp_path / name,
                                    tmp_path / f"{name}.jsonl")

    first = probe(base, "p1")
    assert first["computed"] == ["image_shape_filter", "image_aspect_ratio_filter"] and first["reused"] == []
    second = probe([{"image_shape_filter": {"min_width": 400}}] + base[1:] + [{"image_size_filter": None}], "p2")
    assert second["computed"] == ["image_size_filter"]
    assert second["reused"] == ["image_shape_filter", "image_aspect_ratio_filter"]
    stats = [r["__dj__stats__"] for r in _rows(tmp_path / "p2.jsonl")]
    assert [s["image_width"] for s in stats] == [[336], [640], [342]]
    assert [s["image_sizes"] for s in stats] == [[os.path.getsize(MEDIA / n)] for n in ("img1.png", "img2.jpg",
                                                                                         "img3.jpg")]
    assert all(os.path.isabs(p) for r in _rows(tmp_path / "p2.jsonl") for p in r["images"])


def test_media_an_op_makes_go_to_the_jobs_own_folder(tmp_path, monkeypatch):
    """The source media are read-only reference files: Data-Juicer's default would write beside them."""
    monkeypatch.delenv("DJ_PRODUCED_DATA_DIR", raising=False)
    data = _dataset(tmp_path / "d.jsonl", [{"text": "a bed", "images": [str(MEDIA / "img1.png")]}])
    out = tmp_path / "artifacts" / "out.jsonl"
    out.parent.mkdir()
    recipe = {"dataset_path": data, "process": [{"image_blur_mapper": {"p": 1.0}}]}
    assert run_recipe(recipe, tmp_path / "dj", out, n_in=1) == 1
    (row,) = _rows(out)
    made = Path(row["images"][0])
    assert made.parent == out.parent.resolve() / "produced_media" / "image_blur_mapper" and made.is_file()
    assert "DJ_PRODUCED_DATA_DIR" not in os.environ  # set for the run only
