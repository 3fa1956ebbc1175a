"""Images and videos through the loop, end to end through `snakemake`, on Data-Juicer's own demo media.

The original's image and video demo datasets (``demos/data/demo-dataset-{images,videos}.jsonl``, media
paths relative to the dataset file, pointing at ``tests/ops/data/``) are read where they are in
``../shared/reference/dj_original/`` (``$DJ_ORIGINAL``), never copied. The shipped sandbox
``config/sandboxes/media_demo.yaml`` runs each through probe -> k-sigma -> pools -> process with
Data-Juicer ops that need no model. Checked: the stats of the real media, the refined bounds, what
processing keeps (filters, then the hash deduplicators), and that every dataset the run wrote still
names readable media after the work dir is moved.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import statistics
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, run_snakemake

ORIGINAL = Path(os.environ.get("DJ_ORIGINAL", REPO.parent / "shared" / "reference" / "dj_original"))
pytestmark = pytest.mark.e2e
needs_original = pytest.mark.skipif(
    not (ORIGINAL / "demos/data/demo-dataset-videos.jsonl").is_file(),
    reason=f"the original's demo media are not at {ORIGINAL} (../shared is not part of a user's clone; "
           f"set $DJ_ORIGINAL)")
MEDIA = ORIGINAL / "tests/ops/data"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sandbox(workdir: Path, pipeline: str, dataset: str) -> str:
    """The shipped media sandbox, one pipeline, its recipe named by absolute path, the dataset as given."""
    sandbox = yaml.safe_load((REPO / "config/sandboxes/media_demo.yaml").read_text())
    sandbox["work_dir"] = "out"
    sandbox["matrix"] = {"images": [dataset], "videos": [dataset]}
    sandbox["pipelines"] = {pipeline: sandbox["pipelines"][pipeline]}
    for jobs in sandbox["pipelines"][pipeline].values():
        for job in jobs:
            if str(job.get("dj_configs", "")).startswith("config/"):
                job["dj_configs"] = str(REPO / job["dj_configs"])
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(sandbox, sort_keys=False))
    return "sandbox.yaml"


def _media_of(path: Path, key: str) -> list[str]:
    return [p for row in _rows(path) for p in row.get(key) or []]


def _every_dataset(out: Path):
    return [p for p in out.rglob("*.jsonl") if ".snakemake" not in p.parts and not p.name.endswith("_stats.jsonl")]


def _assert_media_readable(out: Path, key: str) -> int:
    """Every media path in every dataset the run wrote is absolute and opens as an image/video."""
    import av
    from PIL import Image

    n = 0
    for dataset in _every_dataset(out):
        for p in _media_of(dataset, key):
            assert os.path.isabs(p), f"{dataset}: relative media path {p}"
            if key == "images":
                with Image.open(p) as img:
                    img.verify()
            else:
                with av.open(p) as container:
                    assert container.streams.video, p
            n += 1
    return n


@needs_original
def test_image_demo_dataset_through_the_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = ORIGINAL / "demos/data/demo-dataset-images.jsonl"
    run_snakemake(tmp_path, _sandbox(tmp_path, "images", str(dataset)))
    out = tmp_path / "out"
    probed = _rows(out / "images/probe_probe_images/artifacts/demo-dataset-images.jsonl")
    stats = [r["__dj__stats__"] for r in probed]
    # the three real photos: img1.png 336x336, img2.jpg 640x480, img3.jpg 342x500 (one value per image)
    assert [s["image_width"] for s in stats] == [[336], [640], [342]]
    assert [s["image_height"] for s in stats] == [[336], [480], [500]]
    assert [s["image_sizes"] for s in stats] == [[os.path.getsize(MEDIA / n)] for n in ("img1.png", "img2.jpg",
                                                                                         "img3.jpg")]
    refined = yaml.safe_load((out / "exports/images_k_sigma_recipe.yaml").read_text())
    ops = {next(iter(op)): next(iter(op.values())) for op in refined["process"]}
    widths = [336, 640, 342]
    mean, std = statistics.mean(widths), statistics.stdev(widths)
    assert ops["image_shape_filter"]["min_width"] == math.floor(mean - 2 * std) and \
        ops["image_shape_filter"]["max_width"] == math.ceil(mean + 2 * std)  # k: 2, floor / ceil
    sizes = [s["image_sizes"][0] for s in stats]
    assert ops["image_size_filter"]["max_size"] == str(math.ceil(statistics.mean(sizes) + 2 * statistics.stdev(sizes)))
    processed = _rows(out / "images/execution_process_images/artifacts/images_processed.jsonl")
    assert [Path(r["images"][0]).name for r in processed] == ["img1.png", "img2.jpg", "img3.jpg"]
    pools = out / "exports/image_pools/image_width"
    assert [Path(p).name for p in _media_of(pools / "demo-dataset-images_image_width_0.jsonl", "images")] == \
        ["img1.png", "img3.jpg"]  # the narrower half (336, 342)
    assert _assert_media_readable(out, "images") >= 3 * 4


@needs_original
def test_video_demo_dataset_from_the_original_layout_and_a_moved_work_dir(tmp_path, monkeypatch):
    """The issue's case: dataset_path relative to the current directory (the original's repository
    root), media relative to the dataset file; the probe's copy used to keep paths that no longer
    resolved, and processing failed on an empty dataset."""
    root = tmp_path / "dj_root"
    root.mkdir()
    for name in ("demos", "tests"):
        (root / name).symlink_to(ORIGINAL / name)
    monkeypatch.chdir(root)
    run_snakemake(root, _sandbox(root, "videos", "demos/data/demo-dataset-videos.jsonl"))
    out = root / "out"
    probed = _rows(out / "videos/probe_probe_videos/artifacts/demo-dataset-videos.jsonl")
    assert len(probed) == 6
    durations = [r["__dj__stats__"]["video_duration"][0] for r in probed]
    assert durations[0::2] == durations[1::2] and 11 < durations[0] < 12  # each video twice, video1 ~11.75 s
    assert [r["__dj__stats__"]["video_width"] for r in probed[::2]] == [[640], [480], [362]]
    # k = 1 keeps the middle video only (video1 is too wide, video3 too long and narrow); the
    # deduplicator then keeps one of its two captions
    processed = _rows(out / "videos/execution_process_videos/artifacts/videos_processed.jsonl")
    assert [(Path(r["videos"][0]).name, r["text"]) for r in processed] == [("video2.mp4", "<__dj__video> a man")]
    context = json.loads((out / "videos/execution_process_videos/context.json").read_text())
    assert context["metrics"]["samples_in"] == 6 and context["metrics"]["samples_out"] == 1
    shorter = out / "exports/video_pools/video_duration/demo-dataset-videos_video_duration_0.jsonl"
    assert [Path(p).name for p in _media_of(shorter, "videos")] == ["video1.mp4", "video1.mp4", "video2.mp4"]

    moved = tmp_path / "elsewhere" / "moved_out"  # the work dir moved away from the current directory
    moved.parent.mkdir()
    shutil.move(out, moved)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _assert_media_readable(moved, "videos") >= 6 + 6 + 1


def test_a_probe_whose_videos_cannot_be_read_fails_in_one_line(tmp_path, monkeypatch):
    """The issue's symptom was an empty probe dataset with exit 0, then a bare StopIteration in
    processing. Files that exist but are no videos: the probe fails, naming the op and its error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"not a video at all")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": f"clip {i}", "videos": ["clip.mp4"]}) + "\n"
                                              for i in range(3)))
    sandbox = _sandbox(tmp_path, "videos", "d.jsonl")
    proc = run_snakemake(tmp_path, sandbox, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "job videos/probe_probe_videos failed" in ln)
    assert "Data-Juicer dropped all 3 samples while computing stats: 3 op error(s), first: video_duration_filter: " \
        in line and "clip.mp4" in line
    assert not (tmp_path / "out/videos/probe_probe_videos/context.json").exists()
    assert not (tmp_path / "out/videos/execution_process_videos/context.json").exists()


def _archive(path: Path) -> None:
    """A tiny image-caption archive: images inside it (one twice, under two names), one row naming a photo
    outside by absolute path."""
    import zipfile

    rows = [{"text": "a bed in a bright room", "images": ["images/bed.png"]},
            {"text": "a red bus on the road", "images": [str(MEDIA / "img2.jpg")]},
            {"text": "the same bed again", "images": ["images/bed_copy.png"]},
            {"text": "a woman with a hat", "images": ["images/woman.jpg"]},
            {"text": "a cat on a sofa", "images": ["images/cat.jpg"]}]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("raw.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        for name, src in (("bed.png", "img1.png"), ("bed_copy.png", "img1.png"), ("woman.jpg", "img3.jpg"),
                          ("cat.jpg", "cat.jpg")):
            zf.write(MEDIA / src, f"images/{name}")


MOVE_SANDBOX = """
work_dir: out
pipelines:
  corpus:
    execution_job_configs:
      - {hook: GeneralDataExecutorHook, meta_name: unpack,
         extra_configs: {type: unpack_dataset_archive, dataset_path: corpus.zip, members: [raw.jsonl]}}
      - hook: DataPoolManipulationHook
        meta_name: sample
        input: {extra_configs.dataset_path: corpus.unpack.res_1}
        extra_configs: {type: data_pool_downsampling, target_num_samples: 5, shuffle_seed: 0}
  data:
    probe_job_configs:
      - hook: ProbeViaAnalyzerHook
        meta_name: probe
        dj_configs: {image_key: images, process: [{image_shape_filter: {min_width: 10}}]}
        input: {dj_configs.dataset_path: corpus.sample.res_1}
        local: {dj_configs.export_path: "{work_dir}/exports/probed.jsonl"}
    execution_job_configs:
      - hook: ProcessDataHook   # blurred copies (media an op makes, in the job's artifacts), then dedup
        meta_name: process
        dj_configs:
          image_key: images
          process: [{image_shape_filter: {min_width: 10}}, {image_blur_mapper: {p: 1.0}},
                    {image_deduplicator: {method: phash}}]
        input: {dj_configs.dataset_path: corpus.sample.res_1}
        local: {dj_configs.export_path: "{work_dir}/exports/processed.jsonl"}
      - hook: DataPoolManipulationHook
        meta_name: pools
        input: {extra_configs.dataset_path: data.probe.res_1}
        extra_configs: {type: data_pool_construction, export_path: "{work_dir}/exports/pools",
                        stats: [image_width], split_ratios: ["1/2"]}
"""


def _open_every_medium(run_dir: Path) -> tuple[int, int]:
    """Open every image of every dataset under run_dir/out as Data-Juicer would read that file (relative
    paths against its directory); returns (relative, absolute) counts. Media inside the work dir must be
    relative, so a moved work dir keeps them. Not .scratch: its per-op stats store is keyed by the dataset's
    absolute path, so a moved dataset never reads what was stored for the old place."""
    from PIL import Image

    work = run_dir / "out"
    relative = absolute = 0
    for dataset in (d for d in _every_dataset(work) if ".scratch" not in d.parts):
        for p in _media_of(dataset, "images"):
            full = Path(os.path.normpath(dataset.parent / p))
            if os.path.isabs(p):
                absolute += 1
                assert work not in full.parents, f"{dataset}: absolute path into the work dir {p}"
            else:
                relative += 1
                assert work in full.parents, f"{dataset}: relative path out of the work dir {p}"
            with Image.open(full) as img:
                img.verify()
    return relative, absolute


@needs_original
def test_datasets_inside_the_work_dir_survive_moving_it(tmp_path, monkeypatch):
    """Unpacked corpus and op-made media live in the work dir: every dataset names them relative to itself
    (media elsewhere stay absolute); after the whole run directory moves, every medium opens and a rerun
    has nothing to do."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    _archive(run_dir / "corpus.zip")
    (run_dir / "sandbox.yaml").write_text(MOVE_SANDBOX)
    run_snakemake(run_dir, "sandbox.yaml")
    processed = _rows(run_dir / "out/exports/processed.jsonl")
    texts = {r["text"] for r in processed}
    assert len(processed) == 4 and len(texts & {"a bed in a bright room", "the same bed again"}) == 1  # deduplicated
    assert all("produced_media/image_blur_mapper" in r["images"][0] for r in processed)
    assert not os.path.isabs(processed[0]["images"][0])
    relative, absolute = _open_every_medium(run_dir)
    assert relative >= 5 * 3 and absolute >= 3  # unpacked, sampled, probed, pools ...; the outside photo

    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    shutil.move(run_dir, moved)
    monkeypatch.chdir(moved)
    assert _open_every_medium(moved) == (relative, absolute)
    proc = run_snakemake(moved, "sandbox.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert not run_dir.exists()  # nothing written back at the old place
