"""Data-pool manipulators against hand-computed expectations on tiny inline datasets."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from juicer_sandbox.components import pool_construction, pools
from juicer_sandbox.components.pools import MANIPULATORS, SCHEMAS
from juicer_sandbox.errors import ComponentConfigError

S = "__dj__stats__"

# 6 rows. Stat a (number), b (list of numbers -> mean), lang (string, skipped).
#   row:    0      1    2    3      4       5
#   a:      3      1    2    1      3       0
#   b mean: 2      0    5    2      0.5     4
ROWS = [
    {"text": "r0", S: {"a": 3, "b": [1, 3], "lang": "en"}},
    {"text": "r1", S: {"a": 1, "b": [], "lang": "en"}},
    {"text": "r2", S: {"a": 2, "b": [5], "lang": "zh"}},
    {"text": "r3", S: {"a": 1, "b": [2, 2], "lang": "en"}},
    {"text": "r4", S: {"a": 3, "b": [0, 1], "lang": "en"}},
    {"text": "r5", S: {"a": 0, "b": [4], "lang": "en"}},
]


def write(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))
    elif str(path).endswith(".json"):
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def read(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def texts(path: str) -> list[str]:
    return [r["text"] for r in read(path)]


# ---------------------------------------------------------------------------------------------------------- registry


def test_registry_and_schemas_are_valid_json_schema():
    assert set(MANIPULATORS) == {
        "data_pool_construction",
        "data_pool_combination",
        "data_pool_duplication",
        "data_pool_downsampling",
        "data_pool_merging",
        "data_pool_cartesian_join",
    }
    assert set(SCHEMAS) == set(MANIPULATORS)
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False
        assert schema["properties"]["type"] == {"const": name}
    v = jsonschema.Draft202012Validator(SCHEMAS["data_pool_construction"])
    assert v.is_valid({"type": "data_pool_construction", "dataset_path": "a.jsonl", "export_path": "o",
                       "split_ratios": ["1/3", 0.5, "0.75"]})
    assert not v.is_valid({"dataset_path": "a.jsonl", "export_path": "o", "split_ratio": [0.5]})
    assert not v.is_valid({"dataset_path": "a.jsonl", "export_path": "o", "split_ratios": [1.5]})
    assert not v.is_valid({"dataset_path": "a.jsonl", "export_path": "o", "split_ratios": ["a/b"]})
    assert SCHEMAS["data_pool_construction"]["properties"]["split_ratios"]["default"] == ["1/3", "2/3"]
    d = jsonschema.Draft202012Validator(SCHEMAS["data_pool_downsampling"])
    assert d.is_valid({"dataset_path": ["a"], "export_path": "o", "seed": 3})
    assert not d.is_valid({"dataset_path": ["a"], "export_path": "o", "duplicating_times": [2]})


def fill_defaults(cfg: dict, schema: dict) -> dict:
    """What the compiler does before a job runs: schema defaults are filled into extra_configs."""
    jsonschema.Draft202012Validator(schema).validate(cfg)
    return {**{k: v["default"] for k, v in schema["properties"].items() if "default" in v}, **cfg}


def test_schema_defaults_are_accepted_at_run_time(tmp_path):
    src = write(tmp_path / "ds.jsonl", ROWS)
    other = write(tmp_path / "other.jsonl", ROWS[:2])
    out = str(tmp_path / "o")
    cfgs = {
        "data_pool_construction": {"dataset_path": src, "export_path": out, "split_num": 3},
        "data_pool_combination": {"dataset_path": [src, other], "export_path": out},
        "data_pool_duplication": {"dataset_path": src, "export_path": out, "duplicating_times": [2]},
        "data_pool_downsampling": {"dataset_path": [src, other], "export_path": out, "seed": 3},
        "data_pool_merging": {"dataset_path": [src, other], "export_path": out},
        "data_pool_cartesian_join": {"dataset_path_1": src, "dataset_path_2": other, "export_path": out},
    }
    for name, cfg in cfgs.items():
        filled = fill_defaults({"type": name, **cfg}, SCHEMAS[name])
        assert MANIPULATORS[name](filled)
    assert [Path(p).name for p in pools.construct_pools(
        fill_defaults(cfgs["data_pool_construction"], SCHEMAS["data_pool_construction"]))][:2] == [
        "ds_a_0.jsonl", "ds_a_1.jsonl"]  # split_num wins over the filled-in split_ratios


# ----------------------------------------------------------------------------------------------------- construction


def test_construction_sorts_each_stat_independently(tmp_path):
    src = write(tmp_path / "in" / "ds.jsonl", ROWS)
    out = tmp_path / "out"
    res = pools.construct_pools({"dataset_path": src, "export_path": str(out)})
    assert res == [str(out / s / f"ds_{s}_{i}.jsonl") for s in ("a", "b") for i in range(3)]
    # n=6, ratios 1/3, 2/3: int(6/3+0.5)=2, int(12/3+0.5)=4 -> [0, 2, 4, 6]
    # a: stable ascending order 5(0) 1(1) 3(1) 2(2) 0(3) 4(3)
    assert [texts(p) for p in res[:3]] == [["r5", "r1"], ["r3", "r2"], ["r0", "r4"]]
    # b by mean, from the ORIGINAL order: 1(0) 4(0.5) 0(2) 3(2) 5(4) 2(5). A chained sort (the original's
    # bug) would give r3 before r0 because sorting by a had put r3 first.
    assert [texts(p) for p in res[3:]] == [["r1", "r4"], ["r0", "r3"], ["r5", "r2"]]
    assert read(res[0])[0] == ROWS[5]  # records are written whole
    assert not (out / "lang").exists()


def test_construction_split_points():
    assert pool_construction.split_points(6, [pool_construction.Fraction(1, 3), pool_construction.Fraction(2, 3)]) == [0, 2, 4, 6]
    assert pool_construction.split_points(7, [1 / 3, 2 / 3]) == [0, 2, 5, 7]  # int(2.83), int(5.17)
    assert pool_construction.split_points(2000, [1 / 3, 2 / 3]) == [0, 667, 1333, 2000]
    assert pool_construction.split_points(5, [0.5]) == [0, 3, 5]  # int(2.5+0.5)
    assert pool_construction.split_points(6, split_num=4) == [0, 4, 6]
    assert pool_construction.split_points(6, split_num=1) == [0, 1, 2, 3, 4, 5, 6]
    assert pool_construction.split_points(3, split_num=5) == [0, 3]


def test_construction_ratios_strings_split_num_and_stats_option(tmp_path):
    src = write(tmp_path / "ds.jsonl", ROWS)
    res = pools.construct_pools(
        {"dataset_path": [src], "export_path": str(tmp_path / "o1"), "split_ratios": ["1/2"], "stats": ["b"]}
    )
    assert [Path(p).name for p in res] == ["ds_b_0.jsonl", "ds_b_1.jsonl"]
    assert [texts(p) for p in res] == [["r1", "r4", "r0"], ["r3", "r5", "r2"]]
    # split_num wins over split_ratios; stats are taken in the order given
    res = pools.construct_pools(
        {"dataset_path": src, "export_path": str(tmp_path / "o2"), "split_num": 4, "split_ratios": [0.5],
         "stats": ["b", "a"]}
    )
    assert [Path(p).name for p in res] == ["ds_b_0.jsonl", "ds_b_1.jsonl", "ds_a_0.jsonl", "ds_a_1.jsonl"]
    assert texts(res[2]) == ["r5", "r1", "r3", "r2"] and texts(res[3]) == ["r0", "r4"]


def test_construction_small_dataset_writes_empty_parts(tmp_path):
    src = write(tmp_path / "two.jsonl", ROWS[:2])
    res = pools.construct_pools({"dataset_path": src, "export_path": str(tmp_path / "o"), "stats": ["a"]})
    # n=2: int(0.67+0.5)=1, int(1.33+0.5)=1 -> [0, 1, 1, 2]
    assert [texts(p) for p in res] == [["r1"], [], ["r0"]]


def test_construction_ignore_stats(tmp_path):
    rows = [{"text": f"p{i}"} for i in range(7)]
    src = write(tmp_path / "prompts.jsonl.gz", rows)
    res = pools.construct_pools({"dataset_path": src, "export_path": str(tmp_path / "o"), "ignore_stats": True})
    assert res == [str(tmp_path / "o" / f"prompts_ignore_stats_{i}.jsonl") for i in range(3)]
    assert [texts(p) for p in res] == [["p0", "p1"], ["p2", "p3", "p4"], ["p5", "p6"]]
    res = pools.construct_pools(
        {"dataset_path": src, "export_path": str(tmp_path / "o2"), "ignore_stats": True, "split_num": 1}
    )
    assert [texts(p) for p in res] == [[f"p{i}"] for i in range(7)]


def test_construction_nan_ranks_last_and_empty_lists_are_zero(tmp_path):
    rows = [{"text": "x", S: {"v": float("nan")}}, {"text": "y", S: {"v": [-1]}}, {"text": "z", S: {"v": []}}]
    src = write(tmp_path / "n.jsonl", rows)
    res = pools.construct_pools({"dataset_path": src, "export_path": str(tmp_path / "o"), "split_num": 1})
    assert [texts(p) for p in res] == [["y"], ["z"], ["x"]]


@pytest.mark.parametrize(
    "rows, extra, key, needle",
    [
        ([{"text": "a"}, {"text": "b"}], {}, "dataset_path", "record 1 has no '__dj__stats__'"),
        ([], {}, "dataset_path", "is empty"),
        ([], {"ignore_stats": True}, "dataset_path", "is empty"),
        ([{S: {"a": 1}}, {S: {"b": 2}}], {}, "dataset_path", "stat 'a' is missing from record 2"),
        ([{S: {"a": 1}}, {S: {"a": None}}], {"stats": ["a"]}, "stats", "stat 'a' is null in record 2"),
        ([{S: {"lang": "en"}}], {"stats": ["lang"]}, "stats", "holds strings"),
        ([{S: {"lang": "en"}}], {}, "dataset_path", "no numeric stat"),
        ([{S: {"a": 1}}, {S: {"a": "x"}}], {}, "dataset_path", "mixes numbers"),
        (ROWS, {"split_ratios": [0.5, 0.2]}, "split_ratios", "strictly increasing"),
        (ROWS, {"split_ratios": [0, 0.5]}, "split_ratios", "between 0 and 1"),
        (ROWS, {"split_ratios": ["one/3"]}, "split_ratios", "not a number"),
        (ROWS, {"split_num": 0}, "split_num", ">= 1"),
        (ROWS, {"ignore_stats": True, "stats": ["a"]}, "stats", "no effect"),
        (ROWS, {"stats": []}, "stats", "non-empty"),
        (ROWS, {"split_ratio": [0.5]}, "split_ratio", "did you mean 'split_ratios'"),
    ],
)
def test_construction_errors(tmp_path, rows, extra, key, needle):
    src = write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ComponentConfigError) as exc:
        pools.construct_pools({"dataset_path": src, "export_path": str(tmp_path / "o"), **extra})
    assert exc.value.key == key
    assert needle in str(exc.value)
    if key == "dataset_path" and "ratio" not in needle:
        assert "bad.jsonl" in str(exc.value)


def test_missing_inputs_and_basename_clash(tmp_path):
    with pytest.raises(ComponentConfigError) as exc:
        pools.construct_pools({"dataset_path": [str(tmp_path / "nope.jsonl"), str(tmp_path / "gone.jsonl")],
                               "export_path": str(tmp_path / "o")})
    assert exc.value.key == "dataset_path" and "nope.jsonl" in str(exc.value) and "gone.jsonl" in str(exc.value)
    a = write(tmp_path / "x" / "ds.jsonl", ROWS)
    b = write(tmp_path / "y" / "ds.jsonl", ROWS)
    with pytest.raises(ComponentConfigError, match="same basename 'ds'"):
        pools.duplicate_pools({"dataset_path": [a, b], "export_path": str(tmp_path / "o"), "duplicating_times": [2]})
    with pytest.raises(ComponentConfigError) as exc:
        pools.merge_pools({"dataset_path": [a]})
    assert exc.value.key == "export_path"


# ------------------------------------------------------------------------------------------------------ combination


def rec(i: int, stat: float = 0.0) -> dict:
    return {"text": f"s{i}", S: {"score": stat}}


def test_combination_three_pools_all_seven_intersections(tmp_path):
    r4_reordered = {S: {"score": 0.0}, "text": "s4"}  # same content as rec(4), other key order
    p0 = write(tmp_path / "pool_a.jsonl", [rec(1), rec(2), rec(3), rec(4)])
    p1 = write(tmp_path / "pool_b.jsonl", [r4_reordered, rec(2), rec(5), rec(4)])  # s4 twice: counts once
    p2 = write(tmp_path / "pool_c.jsonl", [rec(3), rec(6), rec(2)])
    out = tmp_path / "out"
    res = pools.combine_pools({"dataset_path": [p0, p1, p2], "export_path": str(out)})
    assert [Path(p).name for p in res] == [
        "pool__top_0_num_4.jsonl",
        "pool__top_1_num_3.jsonl",
        "pool__top_2_num_3.jsonl",
        "pool__top_0_1_num_2.jsonl",
        "pool__top_0_2_num_2.jsonl",
        "pool__top_1_2_num_1.jsonl",
        "pool__top_0_1_2_num_1.jsonl",
    ]
    got = {Path(p).name.split("_num_")[0].split("_top_")[1]: texts(p) for p in res}
    assert got == {
        "0": ["s1", "s2", "s3", "s4"],
        "1": ["s4", "s2", "s5"],
        "2": ["s3", "s6", "s2"],
        "0_1": ["s2", "s4"],  # order of pool 0
        "0_2": ["s2", "s3"],
        "1_2": ["s2"],
        "0_1_2": ["s2"],
    }
    assert read(res[3])[1] == rec(4)  # written from the first pool of the subset


def test_combination_stats_participate_and_empty_intersections_skipped(tmp_path, caplog):
    p0 = write(tmp_path / "a.jsonl", [rec(1, 0.5), rec(2, 0.5)])
    p1 = write(tmp_path / "b.jsonl", [rec(1, 0.5), rec(2, 0.7)])  # s2 with other stats: another sample
    p2 = write(tmp_path / "c.jsonl", [rec(3)])
    with caplog.at_level("INFO"):
        res = pools.combine_pools({"dataset_path": [p0, p1, p2], "export_path": str(tmp_path / "o")})
    assert [Path(p).name for p in res] == [
        "default_prefix_top_0_num_2.jsonl",
        "default_prefix_top_1_num_2.jsonl",
        "default_prefix_top_2_num_1.jsonl",
        "default_prefix_top_0_1_num_1.jsonl",
    ]
    assert read(res[3]) == [rec(1, 0.5)]
    assert "0_2, 1_2, 0_1_2" in caplog.text


def test_combination_four_pools_follow_incremental_order(tmp_path):
    ps = [write(tmp_path / f"p{i}.jsonl", [rec(0)]) for i in range(4)]
    res = pools.combine_pools({"dataset_path": ps, "export_path": str(tmp_path / "o")})
    labels = [Path(p).name[len("p_top_"):-len("_num_1.jsonl")] for p in res]
    assert labels == ["0", "1", "2", "3", "0_1", "0_2", "1_2", "0_3", "1_3", "2_3",
                      "0_1_2", "0_1_3", "0_2_3", "1_2_3", "0_1_2_3"]


# ------------------------------------------------------------------------------------------------------ duplication


def test_duplication_plain_and_shuffled(tmp_path):
    rows = [{"text": f"d{i}"} for i in range(3)]
    src = write(tmp_path / "pool.jsonl", rows)
    res = pools.duplicate_pools({"dataset_path": src, "export_path": str(tmp_path / "o"), "duplicating_times": [1, 3]})
    assert res == [str(tmp_path / "o" / "pool_x1.jsonl"), str(tmp_path / "o" / "pool_x3.jsonl")]
    assert read(res[0]) == rows and read(res[1]) == rows * 3
    res = pools.duplicate_pools({"dataset_path": [src], "export_path": str(tmp_path / "s"), "duplicating_times": [2],
                                 "shuffle": True, "shuffle_seed": 7})
    perm = np.random.default_rng(7).permutation(6)
    assert read(res[0]) == [(rows * 2)[i] for i in perm]
    res = pools.duplicate_pools({"dataset_path": [src], "export_path": str(tmp_path / "d"), "duplicating_times": [2],
                                 "shuffle": True})
    assert read(res[0]) == [(rows * 2)[i] for i in np.random.default_rng(42).permutation(6)]


@pytest.mark.parametrize("times", [[0], [2, 2], ["2"], [], None, [True]])
def test_duplication_bad_times(tmp_path, times):
    src = write(tmp_path / "pool.jsonl", [{"text": "x"}])
    cfg = {"dataset_path": src, "export_path": str(tmp_path / "o")}
    if times is not None:
        cfg["duplicating_times"] = times
    with pytest.raises(ComponentConfigError) as exc:
        pools.duplicate_pools(cfg)
    assert exc.value.key == "duplicating_times"


# ----------------------------------------------------------------------------------------------------- downsampling


def test_downsampling_default_target_is_smallest_pool(tmp_path):
    big = [{"text": f"b{i}"} for i in range(5)]
    small = [{"text": f"s{i}"} for i in range(3)]
    pb = write(tmp_path / "big.jsonl", big)
    ps = write(tmp_path / "small.json", small)  # a JSON array input
    res = pools.downsample_pools({"dataset_path": [pb, ps], "export_path": str(tmp_path / "o")})
    assert [Path(p).name for p in res] == ["big_3.jsonl", "small_3.jsonl"]
    assert read(res[0]) == [big[i] for i in np.random.default_rng(42).permutation(5)[:3]]
    assert read(res[1]) == [small[i] for i in np.random.default_rng(42).permutation(3)]


def test_downsampling_names_use_actual_count_and_seed_alias(tmp_path):
    big = [{"text": f"b{i}"} for i in range(5)]
    small = [{"text": f"s{i}"} for i in range(3)]
    pb, ps = write(tmp_path / "big.jsonl", big), write(tmp_path / "small.jsonl", small)
    res = pools.downsample_pools({"dataset_path": [pb, ps], "export_path": str(tmp_path / "o"),
                                  "target_num_samples": 4, "seed": 5})
    assert [Path(p).name for p in res] == ["big_4.jsonl", "small_3.jsonl"]
    assert read(res[0]) == [big[i] for i in np.random.default_rng(5).permutation(5)[:4]]
    res2 = pools.downsample_pools({"dataset_path": [pb, ps], "export_path": str(tmp_path / "o2"),
                                   "target_num_samples": 4, "shuffle_seed": 5})
    assert [read(p) for p in res2] == [read(p) for p in res]
    with pytest.raises(ComponentConfigError) as exc:
        pools.downsample_pools({"dataset_path": pb, "export_path": str(tmp_path / "o3"), "seed": 1,
                                "shuffle_seed": 2})
    assert exc.value.key == "seed"
    with pytest.raises(ComponentConfigError) as exc:
        pools.downsample_pools({"dataset_path": pb, "export_path": str(tmp_path / "o3"), "target_num_samples": 0})
    assert exc.value.key == "target_num_samples"


# ---------------------------------------------------------------------------------------------- merging, join, misc


def test_merging_concatenates_without_dedup(tmp_path):
    a = write(tmp_path / "top_1.jsonl", [{"text": "x"}, {"text": "y"}])
    b = write(tmp_path / "top_2.jsonl.gz", [{"text": "x"}])
    res = pools.merge_pools({"dataset_path": [a, b], "export_path": str(tmp_path / "o")})
    assert res == str(tmp_path / "o" / "top__merged.jsonl")
    assert texts(res) == ["x", "y", "x"]
    single = pools.merge_pools({"dataset_path": b, "export_path": str(tmp_path / "o2")})
    assert Path(single).name == "top_2_merged.jsonl"  # .jsonl.gz fully stripped


def test_cartesian_join_order_and_names(tmp_path):
    p0 = write(tmp_path / "prompts_0.jsonl", [{"prompt": "A"}, {"prompt": "B"}])
    p1 = write(tmp_path / "prompts_1.jsonl", [{"prompt": "C"}])
    q = write(tmp_path / "questions.jsonl", [{"q": 1}, {"q": 2}])
    res = pools.cartesian_join_pools({"dataset_path_1": [p0, p1], "dataset_path_2": q,
                                      "export_path": str(tmp_path / "o")})
    assert [Path(p).name for p in res] == [
        "prompts__questions_cartesian_join_0_0.jsonl",
        "prompts__questions_cartesian_join_1_0.jsonl",
    ]
    assert read(res[0]) == [{"prompt": "A", "q": 1}, {"prompt": "A", "q": 2},
                            {"prompt": "B", "q": 1}, {"prompt": "B", "q": 2}]
    assert read(res[1]) == [{"prompt": "C", "q": 1}, {"prompt": "C", "q": 2}]


def test_cartesian_join_renames_clashing_columns(tmp_path):
    a = write(tmp_path / "a.jsonl", [{"text": "A", "text_2": "keep", S: {"x": 1}}])
    b = write(tmp_path / "b.jsonl", [{"text": "Q1", "n": 1, S: {"y": 2}}, {"text": "Q2"}])
    res = pools.cartesian_join_pools({"dataset_path_1": a, "dataset_path_2": b, "export_path": str(tmp_path / "o")})
    assert Path(res[0]).name == "a_b_cartesian_join_0_0.jsonl"
    assert read(res[0]) == [
        {"text": "A", "text_2": "keep", S: {"x": 1}, "text_2_2": "Q1", "n": 1, S + "_2": {"y": 2}},
        {"text": "A", "text_2": "keep", S: {"x": 1}, "text_2_2": "Q2"},
    ]
    assert pools.join_renames(["a"], ["a", "a_2"]) == {"a": "a_2_2", "a_2": "a_2"}


def test_parquet_input_and_byte_identical_reruns(tmp_path):
    from juicer_sandbox.components import convert

    src = write(tmp_path / "ds.jsonl", ROWS)
    pq = convert.dj_to_parquet({"dataset_path": src, "export_path": str(tmp_path / "pq")})[0]
    cfgs = [
        ("data_pool_construction", {"dataset_path": pq}),
        ("data_pool_duplication", {"dataset_path": src, "duplicating_times": [2, 3], "shuffle": True}),
        ("data_pool_downsampling", {"dataset_path": [pq], "target_num_samples": 4}),
        ("data_pool_combination", {"dataset_path": [src, pq]}),
    ]
    for name, cfg in cfgs:
        first = MANIPULATORS[name]({**cfg, "export_path": str(tmp_path / name)})
        snap = {p: Path(p).read_bytes() for p in first}
        again = MANIPULATORS[name]({**cfg, "export_path": str(tmp_path / name)})
        assert again == first and {p: Path(p).read_bytes() for p in again} == snap
    # the parquet copy splits exactly like the JSON lines original
    assert texts(str(tmp_path / "data_pool_construction" / "b" / "ds_b_1.jsonl")) == ["r0", "r3"]
    # the two pools hold the same records, so every row survives the intersection
    assert Path(str(tmp_path / "data_pool_combination" / "ds_top_0_1_num_6.jsonl")).exists()
