"""Checks on the shipped demo corpus (data/demo) and its builder.

The checks on the shipped files are fast and need nothing but the files.
The rebuild checks need the Debian packages the builder reads
(tools/install_corpus_packages.sh) and are skipped without them.
"""
from __future__ import annotations

import collections
import functools
import gzip
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
BUILDER = REPO / "tools" / "build_demo_corpus.py"
INSTALLER = REPO / "tools" / "install_corpus_packages.sh"

ALL_KINDS = {"clean", "boilerplate", "code", "markup", "blob", "non-english",
             "repetition", "short", "ascii-art"}


@functools.lru_cache(maxsize=None)
def _rows(name: str) -> tuple:
    with gzip.open(DEMO / name, "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh)


@functools.lru_cache(maxsize=None)
def _stats() -> dict:
    return json.loads((DEMO / "stats.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _builder():
    spec = importlib.util.spec_from_file_location("build_demo_corpus", BUILDER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _packages_installed() -> bool:
    try:
        _builder().locate_sources()
    except Exception:
        return False
    return True


# ---------------------------------------------------------------- shipped files

@pytest.mark.parametrize("name", ["raw.jsonl.gz", "val.jsonl.gz"])
def test_rows_have_text_and_meta(name):
    rows = _rows(name)
    assert rows
    for r in rows:
        assert set(r) == {"text", "meta"}
        assert isinstance(r["text"], str) and r["text"].strip()
        m = r["meta"]
        assert set(m) == {"source", "kind", "clean"}
        assert isinstance(m["source"], str) and "/" in m["source"]
        assert m["kind"] in ALL_KINDS
        assert m["clean"] is (m["kind"] == "clean")


def test_val_is_all_clean():
    assert all(r["meta"]["clean"] and r["meta"]["kind"] == "clean" for r in _rows("val.jsonl.gz"))


def test_no_val_text_in_raw():
    raw_texts = {r["text"] for r in _rows("raw.jsonl.gz")}
    val_texts = [r["text"] for r in _rows("val.jsonl.gz")]
    assert not raw_texts.intersection(val_texts)


def test_val_held_out_by_page_or_file():
    held = set(_stats()["held_out"])
    assert held
    assert {r["meta"]["source"] for r in _rows("val.jsonl.gz")} <= held
    assert not held.intersection(r["meta"]["source"] for r in _rows("raw.jsonl.gz"))


def test_all_kinds_present():
    kinds = {r["meta"]["kind"] for r in _rows("raw.jsonl.gz")}
    assert kinds == ALL_KINDS


def test_dirty_fraction_near_requested():
    rows = _rows("raw.jsonl.gz")
    total = sum(len(r["text"]) for r in rows)
    dirty = sum(len(r["text"]) for r in rows if not r["meta"]["clean"])
    requested = _stats()["args"]["dirty_frac"]
    assert abs(dirty / total - requested) < 0.03
    assert dirty / total >= 0.35          # the tiny LM needs a substantial dirty share
    n_dirty = sum(not r["meta"]["clean"] for r in rows)
    assert 0.2 < n_dirty / len(rows) < 0.8


def test_sizes_in_target_range():
    raw, val = _rows("raw.jsonl.gz"), _rows("val.jsonl.gz")
    assert 20_000 <= len(raw) <= 40_000
    assert 1_000 <= len(val) <= 2_500
    mb = ((DEMO / "raw.jsonl.gz").stat().st_size + (DEMO / "val.jsonl.gz").stat().st_size) / 1e6
    assert 3.0 <= mb <= 6.0


def test_stats_match_files():
    stats = _stats()
    for key, name in (("raw", "raw.jsonl.gz"), ("val", "val.jsonl.gz")):
        rows = _rows(name)
        s = stats[key]
        assert s["docs"] == len(rows)
        assert s["chars"] == sum(len(r["text"]) for r in rows)
        for kind, v in s["kinds"].items():
            sel = [r for r in rows if r["meta"]["kind"] == kind]
            assert v["docs"] == len(sel)
            assert v["chars"] == sum(len(r["text"]) for r in sel)


def test_kinds_look_like_their_label():
    by = {}
    for r in _rows("raw.jsonl.gz"):
        by.setdefault(r["meta"]["kind"], []).append(r["text"])
    assert all(1 <= len(t.split()) <= 6 for t in by["short"])
    # grouped doc paragraphs are 300-1500 chars (fortunes are one per row, any length)
    grouped = [r["text"] for name in ("raw.jsonl.gz", "val.jsonl.gz") for r in _rows(name)
               if r["meta"]["clean"] and not r["meta"]["source"].startswith("fortunes")]
    assert grouped and all(300 <= len(t) <= 1500 for t in grouped)
    b64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    for t in by["blob"]:
        chars = [c for c in t if not c.isspace()]
        assert sum(c in b64 for c in chars) / len(chars) > 0.7, t[:80]
    assert sum("<" in t for t in by["markup"]) > len(by["markup"]) / 2 or \
        sum("{" in t for t in by["markup"]) > len(by["markup"]) / 2
    # clean docs are mostly English prose: the most common words are stopwords
    words = " ".join(by["clean"][:3000]).lower().split()
    top = {w for w, _ in collections.Counter(words).most_common(5)}
    assert {"the", "a", "to", "of"} & top


def test_attribution_names_packages_and_rebuild_command():
    text = (DEMO / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for pkg in _builder().PACKAGES:
        assert pkg in text
    assert _stats()["rebuild"] in text
    assert f"{_stats()['raw']['docs']:,}" in text


def test_installer_lists_builder_packages():
    m = re.search(r'^PACKAGES="([^"]+)"', INSTALLER.read_text(), re.M)
    assert m and m.group(1).split() == _builder().PACKAGES


# ---------------------------------------------------------------- the builder

def test_group_paragraphs_bounds():
    b = _builder()
    paras = [("word " * n).strip() + "." for n in (10, 30, 80, 5, 400, 3, 60, 60, 60)]
    groups = b.group_paragraphs(paras)
    assert groups
    assert all(b.CLEAN_MIN <= len(g) <= b.CLEAN_MAX for g in groups)


def _build(out: Path, *extra: str) -> None:
    cmd = [sys.executable, str(BUILDER), "--out", str(out), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(not _packages_installed(),
                    reason="Debian corpus packages not installed (tools/install_corpus_packages.sh)")
def test_rebuild_is_byte_identical(tmp_path):
    args = ("--limit-pages", "25", "--max-raw-chars", "150000", "--seed", "3")
    out = tmp_path / "demo"
    _build(out, *args)
    first = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert set(first) == {"raw.jsonl.gz", "val.jsonl.gz", "stats.json", "ATTRIBUTION.md"}
    _build(out, *args, "--jobs", "1")
    second = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert first == second
    kinds = json.loads(first["stats.json"])["raw"]["kinds"]
    assert set(kinds) == ALL_KINDS


@pytest.mark.slow
@pytest.mark.skipif(not _packages_installed(),
                    reason="Debian corpus packages not installed (tools/install_corpus_packages.sh)")
def test_full_rebuild_matches_shipped(tmp_path):
    shipped = _stats()
    if _builder().dpkg_versions(set(shipped["packages"])) != shipped["packages"]:
        pytest.skip("installed package versions differ from the ones data/demo was built from")
    a = shipped["args"]
    _build(tmp_path, "--seed", str(a["seed"]), "--dirty-frac", str(a["dirty_frac"]),
           "--val-frac", str(a["val_frac"]), "--max-raw-chars", str(a["max_raw_chars"]))
    for name in ("raw.jsonl.gz", "val.jsonl.gz"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


@pytest.mark.skipif(not _packages_installed(),
                    reason="Debian corpus packages not installed (tools/install_corpus_packages.sh)")
def test_reference_set_is_clean_disjoint_and_leaves_raw_unchanged(tmp_path):
    """--reference-out: clean left-over documents of the demo packages, no text of raw or val, no val page, and
    raw/val byte-identical to a build without it (the shipped corpus does not move)."""
    args = ("--limit-pages", "25", "--max-raw-chars", "150000", "--seed", "3")
    plain, with_ref = tmp_path / "plain", tmp_path / "with_ref"
    _build(plain, *args)
    _build(with_ref, *args, "--reference-out", str(tmp_path / "ref.jsonl"), "--reference-max-chars", "60000")
    for name in ("raw.jsonl.gz", "val.jsonl.gz"):
        assert (plain / name).read_bytes() == (with_ref / name).read_bytes(), name
    ref = [json.loads(line) for line in (tmp_path / "ref.jsonl").read_text(encoding="utf-8").splitlines()]

    def texts(name):
        with gzip.open(plain / name, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]

    raw, val = texts("raw.jsonl.gz"), texts("val.jsonl.gz")
    assert 60000 <= sum(len(r["text"]) for r in ref) < 60000 + 1600  # capped after the doc that crosses the cap
    assert all(r["meta"]["kind"] == "clean" for r in ref)
    ref_texts = {r["text"] for r in ref}
    assert len(ref_texts) == len(ref)
    assert not ref_texts & {r["text"] for r in raw} and not ref_texts & {r["text"] for r in val}
    held = set(json.loads((plain / "stats.json").read_text())["held_out"])
    assert not {r["meta"]["source"] for r in ref} & held  # no validation page feeds the reference
    assert len({r["meta"]["source"].split("/")[0] for r in ref}) >= 2  # docs and fortunes, as the clean pool
