"""Dataset pre-flight: every kind of bad file is named with its line, before Data-Juicer starts."""
from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from juicer_sandbox.dj.preflight import check_dataset, prepare
from juicer_sandbox.errors import SandboxError

GOOD = [{"text": f"document number {i}"} for i in range(20)]


def jsonl(path, rows, extra: bytes = b""):
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows) + extra)
    return path


def fails(tmp_path, path, *, recipe=None, match):
    with pytest.raises(SandboxError, match=match) as info:
        prepare({"dataset_path": str(path), **(recipe or {})}, tmp_path / "scratch")
    assert str(path) in str(info.value)
    return str(info.value)


def test_a_good_file_passes_unchanged(tmp_path):
    path = jsonl(tmp_path / "ok.jsonl", GOOD)
    recipe, metrics = prepare({"dataset_path": str(path)}, tmp_path)
    assert recipe["dataset_path"] == str(path) and metrics == {"records": 20, "bad_records": 0}


@pytest.mark.parametrize("line, what", [
    (b'{"text": "a"', "not valid JSON"),
    (b'{"text": "caf\xe9"}', "not valid UTF-8"),
    (b'{"text": 7}', "'text' is a int"),
    (b'{"text": null}', "'text' is null"),
    (b'{"body": "x"}', "no 'text' key"),
    (b'["text"]', "not a JSON object"),
])
def test_each_bad_record_is_named_by_file_and_line(tmp_path, line, what):
    path = jsonl(tmp_path / "d.jsonl", GOOD, line + b"\n")
    message = fails(tmp_path, path, match=what)
    assert f"{path}:21: " in message and "1 bad record(s) of 21" in message


def test_the_first_few_offenders_and_a_count(tmp_path):
    rows = [{"text": i} for i in range(30)]
    message = fails(tmp_path, jsonl(tmp_path / "d.jsonl", rows), match="30 bad record")
    assert "(and 25 more)" in message and message.count("is a int") == 5


def test_recipe_text_keys_are_the_ones_checked(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", [{"text": "a", "body": 3}])
    fails(tmp_path, path, recipe={"text_keys": ["body"]}, match="'body' is a int")
    assert prepare({"dataset_path": str(path), "text_keys": "text"}, tmp_path)[1]["bad_records"] == 0


def test_media_paths_resolve_against_the_dataset_directory(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"png")
    path = jsonl(tmp_path / "d.jsonl", [{"text": "x", "images": ["img/a.png"]},
                                        {"text": "y", "images": ["img/missing.png"]}])
    fails(tmp_path, path, match=r"d.jsonl:2: images: .*img/missing.png does not exist")


@pytest.mark.parametrize("name, content, what", [
    ("empty.jsonl", b"", "empty"),
    ("blank.jsonl", b"\n\n", "no records"),
    ("bad.parquet", b"this is not parquet", "not a readable parquet"),
])
def test_unusable_files(tmp_path, name, content, what):
    path = tmp_path / name
    path.write_bytes(content)
    fails(tmp_path, path, match=what)


def test_truncated_compressed_files(tmp_path):
    raw = b"".join(json.dumps(r).encode() + b"\n" for r in GOOD * 50)
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress(raw)[:-40])
    fails(tmp_path, gz, match="truncated")
    zst = tmp_path / "d.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(raw)[:-40])
    fails(tmp_path, zst, match="truncated")
    zst.write_bytes(zstandard.ZstdCompressor().compress(raw))
    assert prepare({"dataset_path": str(zst)}, tmp_path)[1]["records"] == 1000


def test_parquet_schema_and_nulls(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), path)
    fails(tmp_path, path, match="column 'text' holds int64")
    pq.write_table(pa.table({"body": ["a"]}), path)
    fails(tmp_path, path, match="no column 'text'")
    pq.write_table(pa.table({"text": ["a", None, "c"]}), path)
    fails(tmp_path, path, match=r"d.parquet:2: row 2: 'text' is null")
    recipe, metrics = prepare({"dataset_path": str(path), "text_keys": "text"}, tmp_path, "skip")
    assert pq.read_table(recipe["dataset_path"]).column("text").to_pylist() == ["a", "c"]


def test_skip_leaves_bad_records_out_and_says_which(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", GOOD, b'{"text": 1}\nnot json\n{"text": "last"}\n')
    recipe, metrics = prepare({"dataset_path": str(path)}, tmp_path / "scratch", "skip")
    assert metrics["bad_records"] == 2 and metrics["bad_lines"] == {str(path): [21, 22]}
    kept = [json.loads(line)["text"] for line in open(recipe["dataset_path"])]
    assert kept == [r["text"] for r in GOOD] + ["last"]


def test_skip_refuses_when_nothing_is_left(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", [{"text": None}])
    with pytest.raises(SandboxError, match="every record is bad"):
        prepare({"dataset_path": str(path)}, tmp_path, "skip")


def test_a_path_with_a_space_is_one_file_not_a_mixture(tmp_path):
    path = jsonl(tmp_path / "my data.jsonl", GOOD)
    recipe, _ = prepare({"dataset_path": str(path)}, tmp_path / "scratch")
    assert " " not in recipe["dataset_path"]
    assert open(recipe["dataset_path"]).read() == path.read_text()


def test_a_mixture_checks_every_file(tmp_path):
    a = jsonl(tmp_path / "a.jsonl", GOOD)
    b = jsonl(tmp_path / "b.jsonl", [{"text": 3}])
    with pytest.raises(SandboxError, match="b.jsonl:1: 'text' is a int"):
        prepare({"dataset_path": f"0.5 {a} 0.5 {b}"}, tmp_path)
    with pytest.raises(SandboxError, match="does not exist"):
        prepare({"dataset_path": f"{a} {tmp_path}/nope.jsonl"}, tmp_path)
    assert check_dataset(f"{a} {a}", ["text"], []).records == 40
