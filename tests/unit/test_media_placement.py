"""Media paths in datasets written inside the work dir: relative to the file when the media are inside it
too, absolute otherwise; copies (exports) rewritten for their new place; and Data-Juicer given absolute
copies where it would read a sandbox-written file against another base (a mixture, a directory)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from juicer_sandbox.dj.media import place, place_tree, rewrite_file, work_roots
from juicer_sandbox.dj.preflight import prepare


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_place_is_relative_only_when_file_and_medium_are_both_inside_the_work_dir(tmp_path):
    work = str(tmp_path / "out")
    roots = work_roots(work)
    assert place(f"{work}/a/artifacts/img/x.png", f"{work}/b/artifacts", roots) == "../../a/artifacts/img/x.png"
    assert place("/elsewhere/x.png", f"{work}/b/artifacts", roots) == "/elsewhere/x.png"  # medium outside
    assert place(f"{work}/a/x.png", str(tmp_path / "exports"), roots) == f"{work}/a/x.png"  # file outside
    assert place(f"{work}-old/x.png", f"{work}/b", roots) == f"{work}-old/x.png"  # a prefix is not a parent
    assert place("https://h/x.png", f"{work}/b", roots) == "https://h/x.png"


def test_a_jobs_artifacts_are_placed_and_survive_a_move(tmp_path):
    work = tmp_path / "run" / "out"
    media = work / "unpack" / "artifacts" / "images"
    media.mkdir(parents=True)
    (media / "x.png").write_bytes(b"png")
    outside = tmp_path / "photo.png"
    outside.write_bytes(b"png")
    data = _write(work / "sample" / "artifacts" / "pool.jsonl",
                  [{"text": "a", "images": [str(media / "x.png"), str(outside)]}, {"text": "no media"}])
    stats = _write(work / "sample" / "artifacts" / "stats.jsonl", [{"__dj__stats__": {"image_width": [3]}}])
    before = stats.read_bytes()
    assert place_tree(work / "sample", ["images"], work_roots(work)) == [str(data)]
    rows = _rows(data)
    assert rows[0]["images"] == ["../../unpack/artifacts/images/x.png", str(outside)] and rows[1] == {"text": "no media"}
    assert stats.read_bytes() == before  # no media key: untouched
    assert place_tree(work / "sample", ["images"], work_roots(work)) == []  # placed once, stays so

    shutil.move(tmp_path / "run", tmp_path / "moved")
    moved = tmp_path / "moved" / "out" / "sample" / "artifacts" / "pool.jsonl"
    assert os.path.isfile(moved.parent / _rows(moved)[0]["images"][0])


def test_an_export_copy_is_rewritten_for_its_place(tmp_path):
    work = tmp_path / "out"
    (work / "a" / "img").mkdir(parents=True)
    (work / "a" / "img" / "x.png").write_bytes(b"png")
    src = _write(work / "a" / "artifacts" / "d.jsonl", [{"images": ["../img/x.png"]}])
    inside, outside = work / "exports" / "deep" / "d.jsonl", tmp_path / "user" / "d.jsonl"
    for dst in (inside, outside):
        dst.parent.mkdir(parents=True)
        assert rewrite_file(str(src), str(dst), ["images"], work_roots(work))
    assert _rows(inside)[0]["images"] == ["../../a/img/x.png"]
    assert _rows(outside)[0]["images"] == [str(work / "a" / "img" / "x.png")]


def test_data_juicer_gets_absolute_copies_of_sandbox_files_in_a_mixture_or_a_directory(tmp_path, monkeypatch):
    """Data-Juicer reads a mixture's relative paths against the current directory and a directory's against
    the directory: a sandbox-written file's paths (relative to itself) would not resolve."""
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "out"
    for job in ("j1", "j2"):
        (work / job / "img").mkdir(parents=True)
        (work / job / "img" / "x.png").write_bytes(job.encode())
        _write(work / job / "artifacts" / "data.jsonl", [{"text": job, "images": ["../img/x.png"]}])
    files = [str(work / job / "artifacts" / "data.jsonl") for job in ("j1", "j2")]
    recipe = {"dataset_path": " ".join(files), "image_key": "images"}
    out, metrics = prepare(recipe, tmp_path / "scratch", work_dir=str(work))
    copies = out["dataset_path"].split()
    assert len(copies) == 2 and not set(copies) & set(files) and metrics["bad_records"] == 0
    for copy, job in zip(copies, ("j1", "j2")):
        (row,) = _rows(copy)
        assert row["images"] == [str(work / job / "img" / "x.png")] and row["text"] == job
    # the same files outside the work dir are the user's: Data-Juicer's rule, so the paths are missing
    import pytest
    from juicer_sandbox.errors import SandboxError

    with pytest.raises(SandboxError, match="does not exist"):
        prepare(recipe, tmp_path / "scratch2", work_dir=str(tmp_path / "other"))

    # a directory holding sandbox-written files in subdirectories
    out, _ = prepare({"dataset_path": str(work), "image_key": "images", "text_keys": "text"},
                     tmp_path / "scratch3", work_dir=str(work))
    copied = sorted(Path(out["dataset_path"]).rglob("*.jsonl"))
    assert len(copied) == 2 and all(os.path.isfile(_rows(c)[0]["images"][0]) for c in copied)


def test_the_media_key_scan_finds_a_key_split_across_read_chunks(tmp_path):
    """rewrite_file scans a dataset in chunks (a million-row text dataset is never held whole): a media key lying
    across two chunks must still be found, and a file naming none must not be."""
    from juicer_sandbox.dj.media import _mentions, _needles

    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "abcdefg", "images": ["x.png"]}\n')
    needles = _needles(["images", "videos"])
    start = path.read_bytes().index(b'"images"')
    for chunk in (4, 5, start + 3, 64):
        assert _mentions(str(path), needles, chunk=chunk)
    path.write_text('{"text": "images and videos, not as keys"}\n')
    assert not any(_mentions(str(path), needles, chunk=c) for c in (3, 7, 64))
