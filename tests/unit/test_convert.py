"""Format converters: exact round trips, including nested and uneven __dj__stats__."""
from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from juicer_sandbox.components import convert
from juicer_sandbox.components.config_helpers import data_basename
from juicer_sandbox.components.convert import CONVERTERS, SCHEMAS
from juicer_sandbox.components.dataset_rows import read_rows
from juicer_sandbox.errors import ComponentConfigError, SandboxError

S = "__dj__stats__"

# Uniform rows: every column can be stored natively.
UNIFORM = [
    {"text": "héllo", "meta": {"src": "a"}, S: {"lang": "fr", "lang_score": 0.9, "ppl": [1.5, 2.5]}},
    {"text": "world", "meta": {"src": "b"}, S: {"lang": "en", "lang_score": 0.5, "ppl": []}},
]
# Uneven rows: a stats key in only one row, {} stats, 1 next to 2.5, a column absent in a row, explicit null.
UNEVEN = [
    {"text": "a", S: {}, "n": 1, "extra": None},
    {"text": "b", S: {"x": 1, "nested": {"k": [1, 2]}}, "n": 2.5},
    {"text": "c", S: {"y": "s"}, "n": 3, "extra": {"deep": {}}},
]


def write_jsonl(path: Path, rows) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_registry_and_schemas():
    assert set(CONVERTERS) == {"dj_to_parquet", "parquet_to_dj", "dj_to_hf_dataset", "hf_dataset_to_dj"}
    assert set(SCHEMAS) == set(CONVERTERS)
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        v = jsonschema.Draft202012Validator(schema)
        assert v.is_valid({"type": name, "dataset_path": ["a"], "export_path": "o"})
        assert not v.is_valid({"dataset_path": "a", "export_path": "o", "other": 1})
        assert not v.is_valid({"dataset_path": "a"})


def test_basenames():
    assert data_basename("/x/pool.jsonl.gz") == "pool"
    assert data_basename("a/b.c.parquet") == "b.c"
    assert data_basename("a/b.json") == "b"
    assert data_basename("a/b.txt") == "b"


@pytest.mark.parametrize("rows", [UNIFORM, UNEVEN], ids=["uniform", "uneven"])
def test_parquet_round_trip(tmp_path, rows):
    src = write_jsonl(tmp_path / "ds.jsonl", rows)
    out = convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path / "pq")})
    assert out == [str(tmp_path / "pq" / "ds.parquet")]
    back = convert.parquet_to_dj({"dataset_path": out, "export_path": str(tmp_path / "back")})
    assert back == [str(tmp_path / "back" / "ds.jsonl")]
    assert read_rows(back[0]) == rows
    assert read_rows(out[0]) == rows  # the pools' reader decodes the same way


def test_parquet_keeps_native_types_when_lossless(tmp_path):
    src = write_jsonl(tmp_path / "ds.jsonl", UNIFORM)
    out = convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path)})[0]
    schema = pq.read_schema(out)
    assert schema.field("text").type == pa.string()
    assert pa.types.is_struct(schema.field(S).type)
    assert schema.field(S).type.field("ppl").type == pa.list_(pa.float64())
    assert json.loads(schema.metadata[b"juicer_sandbox"]) == {"json_columns": []}
    # uneven columns fall back to JSON text, listed in the metadata
    src = write_jsonl(tmp_path / "un.jsonl", UNEVEN)
    out = convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path)})[0]
    assert json.loads(pq.read_schema(out).metadata[b"juicer_sandbox"]) == {"json_columns": [S, "n", "extra"]}
    assert pq.read_schema(out).field("text").type == pa.string()


def test_parquet_from_other_tools(tmp_path):
    table = pa.table({"text": ["a", "b"], "when": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5)] * 2),
                      "m": pa.array([[("k", 1)], []], type=pa.map_(pa.string(), pa.int64()))})
    pq.write_table(table, tmp_path / "ext.parquet")
    out = convert.parquet_to_dj({"dataset_path": str(tmp_path / "ext.parquet"), "export_path": str(tmp_path / "o")})
    assert read_rows(out[0]) == [{"text": "a", "when": "2024-01-02T03:04:05", "m": {"k": 1}},
                                 {"text": "b", "when": "2024-01-02T03:04:05", "m": {}}]
    pq.write_table(pa.table({"img": [b"\x00\x01"]}), tmp_path / "bin.parquet")
    with pytest.raises(ComponentConfigError, match="column 'img' holds binary data"):
        convert.parquet_to_dj({"dataset_path": str(tmp_path / "bin.parquet"), "export_path": str(tmp_path / "o")})


def test_records_without_keys_survive(tmp_path):
    src = write_jsonl(tmp_path / "e.jsonl", [{}, {}])
    out = convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path)})[0]
    assert read_rows(out) == [{}, {}]


def test_hf_round_trip_and_byte_identical_rerun(tmp_path):
    a = write_jsonl(tmp_path / "uniform.jsonl", UNIFORM)
    b = write_jsonl(tmp_path / "uneven.jsonl", UNEVEN)
    cfg = {"dataset_path": [a, b], "export_path": str(tmp_path / "hf")}
    out = convert.dj_to_hf_dataset(cfg)
    assert out == [str(tmp_path / "hf" / "uniform"), str(tmp_path / "hf" / "uneven")]
    snap = {p: p.read_bytes() for d in out for p in sorted(Path(d).iterdir())}
    assert convert.dj_to_hf_dataset(cfg) == out
    assert {p: p.read_bytes() for d in out for p in sorted(Path(d).iterdir())} == snap
    assert not [p for p in (tmp_path / "hf").iterdir() if p.name.startswith(".")]  # no temp dirs left

    import datasets

    ds = datasets.load_from_disk(out[0])
    assert ds.column_names == ["text", "meta", S] and ds[0][S]["ppl"] == [1.5, 2.5]

    back = convert.hf_dataset_to_dj({"dataset_path": out, "export_path": str(tmp_path / "back")})
    assert back == [str(tmp_path / "back" / "uniform.jsonl"), str(tmp_path / "back" / "uneven.jsonl")]
    assert read_rows(back[0]) == UNIFORM
    assert read_rows(back[1]) == UNEVEN


def test_hf_dataset_dict_gets_one_file_per_split(tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "t"}]),
                               "test": datasets.Dataset.from_list([{"text": "u"}])})
    dd.save_to_disk(str(tmp_path / "dd"))
    out = convert.hf_dataset_to_dj({"dataset_path": str(tmp_path / "dd"), "export_path": str(tmp_path / "o")})
    assert [Path(p).name for p in out] == ["dd_train.jsonl", "dd_test.jsonl"]
    assert read_rows(out[0]) == [{"text": "t"}] and read_rows(out[1]) == [{"text": "u"}]


def test_readers(tmp_path):
    (tmp_path / "arr.json").write_text(json.dumps(UNIFORM), encoding="utf-8")
    assert read_rows(tmp_path / "arr.json") == UNIFORM
    write_jsonl(tmp_path / "lines.json", UNIFORM)  # JSON lines under .json
    assert read_rows(tmp_path / "lines.json") == UNIFORM
    with gzip.open(tmp_path / "z.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(UNEVEN[0]) + "\n")
    assert read_rows(tmp_path / "z.jsonl.gz") == UNEVEN[:1]
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SandboxError, match="record 1 is a int"):
        read_rows(tmp_path / "bad.json")


def test_errors(tmp_path):
    src = write_jsonl(tmp_path / "ds.jsonl", UNIFORM)
    with pytest.raises(ComponentConfigError, match="expected .parquet") as exc:
        convert.parquet_to_dj({"dataset_path": src, "export_path": str(tmp_path / "o")})
    assert exc.value.key == "dataset_path"
    with pytest.raises(ComponentConfigError, match="expected datasets save_to_disk directories"):
        convert.hf_dataset_to_dj({"dataset_path": src, "export_path": str(tmp_path / "o")})
    with pytest.raises(ComponentConfigError, match="not a datasets save_to_disk directory"):
        convert.hf_dataset_to_dj({"dataset_path": str(tmp_path), "export_path": str(tmp_path / "o")})
    with pytest.raises(ComponentConfigError, match="missing.jsonl"):
        convert.dj_to_parquet({"dataset_path": [src, str(tmp_path / "missing.jsonl")], "export_path": str(tmp_path)})
    with pytest.raises(ComponentConfigError, match="is a file") as exc:
        convert.dj_to_parquet({"dataset_path": src, "export_path": src})
    assert exc.value.key == "export_path"
    with pytest.raises(ComponentConfigError, match="unknown key"):
        convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path), "format": "x"})
