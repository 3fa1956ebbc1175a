"""References and dotted keys (juicer_sandbox.config.refs), hand-checked."""
from __future__ import annotations

import pytest

from juicer_sandbox.config.refs import Ref, get_dotted, parse_ref, set_dotted, split_key

# --------------------------------------------------------------------------- parse_ref


def test_parse_last_job_ref():
    r = parse_ref("-1.res_1")
    assert r == Ref("-1.res_1", None, None, "res_1", ())
    assert r.is_last


def test_parse_last_job_ref_with_deeper_parts():
    r = parse_ref("-1.metrics.a.b")
    assert (r.pipeline, r.meta_name, r.output, r.deeper) == (None, None, "metrics", ("a", "b"))


def test_parse_integer_output_key_of_the_original():
    r = parse_ref("-1.0")
    assert r.is_last and r.output == "0"


def test_parse_full_ref():
    r = parse_ref("p.m.out")
    assert r == Ref("p.m.out", "p", "m", "out", ())
    assert not r.is_last


def test_parse_full_ref_with_deeper_parts():
    r = parse_ref("p.m.out.deeper.x")
    assert (r.pipeline, r.meta_name, r.output, r.deeper) == ("p", "m", "out", ("deeper", "x"))
    assert r.raw == "p.m.out.deeper.x"


def test_parse_strips_surrounding_whitespace():
    r = parse_ref("  anonymous.probe.res_1 ")
    assert (r.pipeline, r.meta_name, r.output) == ("anonymous", "probe", "res_1")


@pytest.mark.parametrize("text", ["-1", "-1.", "p", "p.m", "p.m.", ".m.out", "p..out", "", "  "])
def test_parse_errors(text):
    with pytest.raises(ValueError) as ei:
        parse_ref(text)
    assert repr(text) in str(ei.value)


@pytest.mark.parametrize("text", ["p.m.out..x", "p.m.out.", "-1.res_1."])
def test_parse_rejects_empty_deeper_segments(text):
    with pytest.raises(ValueError):
        parse_ref(text)


# --------------------------------------------------------------------------- split_key


def test_split_key():
    assert split_key("dj_configs.dataset_path") == ("dj_configs", "dataset_path")
    assert split_key("extra_configs.a.b.c") == ("extra_configs", "a.b.c")
    assert split_key("dj_configs") == ("dj_configs", "")
    assert split_key("extra_configs") == ("extra_configs", "")


@pytest.mark.parametrize("key", ["dataset_path", "dj_config.x", "configs.dj_configs", ""])
def test_split_key_requires_a_config_root(key):
    with pytest.raises(ValueError, match="must start with 'dj_configs' or 'extra_configs'"):
        split_key(key)


# --------------------------------------------------------------------------- get_dotted


def test_get_nested():
    assert get_dotted({"a": {"b": {"c": 3}}}, "a.b.c") == 3
    assert get_dotted({"a": {"b": {"c": 3}}}, "a.b") == {"c": 3}
    assert get_dotted({"a": 1}, "a") == 1


def test_get_flat_dotted_key_is_tried_first():
    obj = {"a.b": "flat", "a": {"b": "nested"}}
    assert get_dotted(obj, "a.b") == "flat"


def test_get_flat_dotted_key_at_a_deeper_level():
    obj = {"x": {"a.b": "flat", "a": {"b": "nested"}}}
    assert get_dotted(obj, "x.a.b") == "flat"
    assert get_dotted({"x": {"a": {"b": "nested"}}}, "x.a.b") == "nested"


def test_get_list_indices():
    obj = {"l": [10, {"x": 5}, [7, 8]]}
    assert get_dotted(obj, "l.0") == 10
    assert get_dotted(obj, "l.1.x") == 5
    assert get_dotted(obj, "l.2.1") == 8
    assert get_dotted(obj, "l.-1.0") == 7
    assert get_dotted([{"a": 1}], "0.a") == 1


def test_get_accepts_a_tuple_or_list_path():
    obj = {"a": {"b": [1, 2]}}
    assert get_dotted(obj, ("a", "b", "1")) == 2
    assert get_dotted(obj, ["a"]) == {"b": [1, 2]}
    assert get_dotted(obj, ()) == obj  # no deeper parts: the value itself


def test_get_missing_key_raises_keyerror_naming_the_path():
    with pytest.raises(KeyError) as ei:
        get_dotted({"a": {"b": 1}}, "a.c.d")
    assert ei.value.args[0] == "a.c"


def test_get_into_a_scalar_raises_keyerror():
    with pytest.raises(KeyError) as ei:
        get_dotted({"a": 1}, "a.b")
    assert ei.value.args[0] == "a.b"


def test_get_non_digit_index_into_a_list_raises_keyerror():
    with pytest.raises(KeyError):
        get_dotted({"l": [1]}, "l.x")


def test_get_list_index_out_of_range_raises_keyerror():
    with pytest.raises(KeyError):
        get_dotted({"l": [1]}, "l.3")


# --------------------------------------------------------------------------- set_dotted


def test_set_top_level():
    obj = {"a": 1}
    set_dotted(obj, "a", 2)
    set_dotted(obj, "b", 3)
    assert obj == {"a": 2, "b": 3}


def test_set_nested_existing():
    obj = {"a": {"b": {"c": 1, "d": 2}}}
    set_dotted(obj, "a.b.c", 9)
    assert obj == {"a": {"b": {"c": 9, "d": 2}}}


def test_set_creates_intermediate_dicts():
    obj = {}
    set_dotted(obj, "x.y.z", 1)
    assert obj == {"x": {"y": {"z": 1}}}


def test_set_replaces_a_none_intermediate():
    obj = {"x": None}
    set_dotted(obj, "x.y", 1)
    assert obj == {"x": {"y": 1}}


def test_set_flat_dotted_key_is_tried_first():
    obj = {"a.b": 1, "a": {"b": 2}}
    set_dotted(obj, "a.b", 9)
    assert obj == {"a.b": 9, "a": {"b": 2}}


def test_set_flat_dotted_key_at_a_deeper_level():
    obj = {"x": {"a.b": 1}}
    set_dotted(obj, "x.a.b", 9)
    assert obj == {"x": {"a.b": 9}}


def test_set_list_indices():
    obj = {"l": [1, 2, 3]}
    set_dotted(obj, "l.1", 9)
    assert obj == {"l": [1, 9, 3]}


def test_set_inside_a_recipe_op():
    recipe = {"process": [{"text_length_filter": {"min_len": 10}}, {"words_num_filter": {"min_num": 5}}]}
    set_dotted(recipe, "process.1.words_num_filter.min_num", 20)
    set_dotted(recipe, "process.0.text_length_filter.max_len", 1000)
    assert recipe == {"process": [{"text_length_filter": {"min_len": 10, "max_len": 1000}},
                                  {"words_num_filter": {"min_num": 20}}]}


def test_set_through_a_scalar_raises_keyerror():
    with pytest.raises(KeyError):
        set_dotted({"a": 5}, "a.b", 1)
    with pytest.raises(KeyError):
        set_dotted({"a": "s"}, "a.b.c", 1)


def test_set_then_get_round_trip():
    obj = {"a": [{"b": {}}]}
    set_dotted(obj, "a.0.b.c.d", [1, 2])
    assert get_dotted(obj, "a.0.b.c.d") == [1, 2]
    assert get_dotted(obj, "a.0.b.c.d.1") == 2
