"""Media paths: resolved as Data-Juicer resolves them, checked before a job, absolute in every copy."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from juicer_sandbox.components.dataset_rows import read_rows
from juicer_sandbox.dj.media import absolute_row, copy_rows, is_absolute, media_base, media_keys, resolve
from juicer_sandbox.dj.preflight import prepare
from juicer_sandbox.errors import SandboxError


@pytest.fixture
def layout(tmp_path):
    """data/set.jsonl whose rows name media/a.png and media/b.png relatively ('../media/...')."""
    (tmp_path / "media").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "media" / name).write_bytes(b"png")
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "set.jsonl"
    rows = [{"text": "one", "images": ["../media/a.png"]}, {"text": "two", "images": ["../media/b.png"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, path


def test_base_is_what_data_juicer_uses(tmp_path, monkeypatch):
    """formatter.unify_format: a file's directory, a directory itself, else the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jsonl").write_text("{}\n")
    assert media_base(str(tmp_path / "d" / "x.jsonl")) == str(tmp_path / "d")
    assert media_base("d/x.jsonl") == str(tmp_path / "d")
    assert media_base(str(tmp_path / "d")) == str(tmp_path / "d")
    assert media_base("d/x.jsonl d/x.jsonl") == str(tmp_path)  # a mixture: paths stay as written


def test_resolve_keeps_absolute_paths_and_urls_and_follows_symlinks_physically(tmp_path):
    assert resolve("/abs/x.png", "/base") == "/abs/x.png"
    assert resolve("https://host/x.png", "/base") == "https://host/x.png" and is_absolute("S3://b/k")
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "real" / "m.png").write_bytes(b"x")
    # link/../m.png is real/m.png on disk (the text would say tmp_path/m.png)
    got = resolve("../m.png", str(tmp_path / "link"))
    assert got == str((tmp_path / "real" / "m.png").resolve()) and os.path.exists(got)


def test_rows_get_absolute_paths_for_every_media_key():
    row = {"images": ["a.png", "/x/b.png", ""], "videos": "v.mp4", "audios": None, "text": "t.png"}
    out = absolute_row(dict(row), media_keys({}), "/base")
    assert out["images"] == ["/base/a.png", "/x/b.png", ""] and out["videos"] == "/base/v.mp4"
    assert out["audios"] is None and out["text"] == "t.png"
    assert media_keys({"image_key": "pics"}) == ["pics", "audios", "videos"]


def test_copies_keep_media_valid_where_they_are_written(layout):
    root, path = layout
    rows = read_rows(path)  # data pools and converters read with this
    assert [r["images"] for r in rows] == [[str(root / "media" / "a.png")], [str(root / "media" / "b.png")]]
    moved = root / "elsewhere" / "deep"
    moved.mkdir(parents=True)
    (moved / "copy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in copy_rows(str(path), read_rows(path))))
    for row in read_rows(moved / "copy.jsonl"):
        assert all(os.path.isfile(p) for p in row["images"])


def test_preflight_names_the_missing_medium_and_its_line(layout):
    root, path = layout
    os.remove(root / "media" / "b.png")
    with pytest.raises(SandboxError) as info:
        prepare({"dataset_path": str(path)}, root / "scratch")
    message = str(info.value)
    assert f"{path}:2: images: {root / 'media' / 'b.png'} does not exist (written '../media/b.png'" in message
    recipe, metrics = prepare({"dataset_path": str(path)}, root / "scratch", "skip")
    assert metrics["bad_lines"] == {str(path): [2]}
    kept = read_rows(recipe["dataset_path"])  # the cleaned copy lives in scratch: its paths are absolute
    assert [r["images"] for r in kept] == [[str(root / "media" / "a.png")]]


def test_preflight_resolves_a_directory_dataset_against_the_directory(tmp_path):
    """Data-Juicer's base for a dataset directory is the directory, also for files in its subfolders."""
    (tmp_path / "ds" / "part").mkdir(parents=True)
    (tmp_path / "ds" / "m.png").write_bytes(b"x")
    (tmp_path / "ds" / "part" / "p.jsonl").write_text(json.dumps({"text": "t", "images": ["m.png"]}) + "\n")
    prepare({"dataset_path": str(tmp_path / "ds")}, tmp_path / "scratch")  # passes: ds/m.png exists
    shutil.move(tmp_path / "ds" / "m.png", tmp_path / "ds" / "part" / "m.png")
    with pytest.raises(SandboxError, match=r"p.jsonl:1: images: .*ds/m.png does not exist"):
        prepare({"dataset_path": str(tmp_path / "ds")}, tmp_path / "scratch")


def test_preflight_resolves_a_mixture_against_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    for name in ("a", "b"):
        (tmp_path / "d" / f"{name}.jsonl").write_text(json.dumps({"text": "t", "images": ["d/m.png"]}) + "\n")
    (tmp_path / "d" / "m.png").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    prepare({"dataset_path": "d/a.jsonl d/b.jsonl"}, tmp_path / "scratch")  # d/m.png from the current directory
    with pytest.raises(SandboxError, match=r"a.jsonl:1: images: .*d/d/m.png does not exist"):
        prepare({"dataset_path": "d/a.jsonl"}, tmp_path / "scratch")  # one file: against its directory


def test_absolute_paths_with_dot_dot_parts_are_cleaned_physically(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "m.png").write_bytes(b"x")
    dotted = f"{tmp_path}/a/b/../../m.png"  # what Data-Juicer writes for '../../m.png' in a/b/set.jsonl
    assert resolve(dotted, "/unused") == str((tmp_path / "m.png").resolve())
    real = str((tmp_path / "m.png").resolve())
    assert absolute_row({"images": [dotted]}, ["images"], "/unused") == {"images": [real]}
