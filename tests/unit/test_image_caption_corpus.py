"""Checks on the shipped image-caption corpus (data/image_caption/corpus.zip) and its builder.

The checks on the shipped archive need only the files. The rebuild check needs the Debian packages
the builder reads (tools/install_image_corpus_packages.sh) and is skipped without them.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "image_caption"
ARCHIVE = DATA / "corpus.zip"
BUILDER = REPO / "tools" / "build_image_caption_corpus.py"
INSTALLER = REPO / "tools" / "install_image_corpus_packages.sh"
NATURAL = {"duplicate_image", "empty_text", "extreme_aspect", "filename_title", "generic_text", "long_text",
           "meta_text", "tiny"}
INJECTED = {"mismatched", "translated"}


@functools.lru_cache(maxsize=None)
def _zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(ARCHIVE)


@functools.lru_cache(maxsize=None)
def _rows(name: str) -> tuple:
    return tuple(json.loads(line) for line in _zip().read(name).decode("utf-8").splitlines())


@functools.lru_cache(maxsize=None)
def _stats() -> dict:
    return json.loads((DATA / "stats.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _builder():
    spec = importlib.util.spec_from_file_location("build_image_caption_corpus", BUILDER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _flags(row) -> set:
    return set(filter(None, row["meta"]["flags"].split(",")))


def test_archive_hash_size_and_members():
    blob = ARCHIVE.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == _stats()["archive"]["sha256"]
    assert len(blob) == _stats()["archive"]["bytes"] <= 15_000_000
    names = _zip().namelist()
    assert {"raw.jsonl", "val.jsonl"} <= set(names)
    assert all(n in ("raw.jsonl", "val.jsonl") or re.fullmatch(r"images/\d{5}\.png", n) for n in names)
    assert len(names) == 2 + len(_rows("raw.jsonl")) + len(_rows("val.jsonl"))


def test_counts_match_stats_and_targets():
    raw, val = _rows("raw.jsonl"), _rows("val.jsonl")
    assert len(raw) == _stats()["raw"]["pairs"] and len(val) == _stats()["val"]["pairs"]
    assert len(raw) + len(val) >= 5000 and len(val) >= 300
    counts: dict = {}
    for r in raw:
        for f in _flags(r):
            counts[f] = counts.get(f, 0) + 1
    assert counts == _stats()["raw"]["flags"]
    assert set(counts) == NATURAL | INJECTED  # every kind of dirt is there
    share = counts["mismatched"] / len(raw)  # swaps between rows with equal captions change nothing
    assert 0.4 * _stats()["args"]["mismatch_frac"] < share <= _stats()["args"]["mismatch_frac"]
    assert 0.2 < sum(r["meta"]["clean"] for r in raw) / len(raw) < 0.8


@pytest.mark.parametrize("name", ["raw.jsonl", "val.jsonl"])
def test_rows_are_data_juicer_image_text_pairs(name):
    names = set(_zip().namelist())
    ids = set()
    for r in _rows(name):
        assert set(r) == {"id", "text", "images", "meta"}
        assert r["text"].startswith("<__dj__image>") and r["text"].endswith("<|__dj__eoc|>")
        assert len(r["images"]) == 1 and r["images"][0] in names and r["images"][0] == f"images/{r['id']}.png"
        assert r["meta"]["clean"] is (not _flags(r))
        assert r["meta"]["source"].split("/")[0] in ("openclipart", "tuxpaint-stamps")
        ids.add(r["id"])
    assert len(ids) == len(_rows(name))


def test_thumbnails_are_small_real_pngs():
    from PIL import Image

    side = _stats()["args"]["thumb"]
    rows = _rows("raw.jsonl")
    for r in rows[::40] + tuple(r for r in rows if "extreme_aspect" in _flags(r)):
        with Image.open(io.BytesIO(_zip().read(r["images"][0]))) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            assert max(im.size) <= side
            if "extreme_aspect" in _flags(r):  # kept as it is: a thin strip, not a padded square
                assert min(im.size) <= side // 3 + 1, (r["id"], im.size)


def test_val_is_clean_and_held_out():
    raw, val = _rows("raw.jsonl"), _rows("val.jsonl")
    assert all(r["meta"]["clean"] for r in val)
    digest = lambda r: hashlib.sha1(_zip().read(r["images"][0])).hexdigest()  # noqa: E731
    raw_images = {digest(r) for r in raw}
    assert not any(digest(r) in raw_images for r in val)
    caption = lambda r: r["text"].lower()  # noqa: E731
    assert not {caption(r) for r in val} & {caption(r) for r in raw}
    assert not {r["meta"]["source"] for r in val} & {r["meta"]["source"] for r in raw}


def test_attribution_and_installer():
    text = (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for pkg in _builder().PACKAGES:
        assert pkg in text and pkg in _stats()["packages"]
    assert _stats()["archive"]["sha256"] in text
    assert _stats()["rebuild"].split(" ", 1)[1] in text
    m = re.search(r'^PACKAGES="([^"]+)"', INSTALLER.read_text(), re.M)
    assert m and m.group(1).split() == _builder().PACKAGES


def _installed() -> bool:
    b = _builder()
    return all(p.is_dir() for p in (b.CLIPART_SVG, b.CLIPART_PNG, b.STAMPS))


@pytest.mark.slow  # two small builds: ~1-3 min on the shared box (large source PNGs)
@pytest.mark.skipif(not _installed(), reason="image corpus packages not installed "
                                             "(tools/install_image_corpus_packages.sh)")
def test_rebuild_is_byte_identical(tmp_path):
    def build(out):
        cmd = [sys.executable, str(BUILDER), "--out", str(out), "--limit", "120", "--seed", "5"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert set(first) == {"corpus.zip", "stats.json", "ATTRIBUTION.md"}
    assert first["corpus.zip"] == second["corpus.zip"]
    stats = json.loads(first["stats.json"])
    assert stats["raw"]["pairs"] + stats["val"]["pairs"] > 50
