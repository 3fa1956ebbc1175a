"""The explicit op -> stat table, and its agreement with Data-Juicer's registry."""
from __future__ import annotations

import inspect
import math
import typing

import pytest

from juicer_sandbox.dj import stat_map
from juicer_sandbox.dj.stat_map import CONDITION_DEFAULTS, STAT_MAP, StatBinding, lookup, stats_keys_for

REQUIRED_OPS = {
    "text_length_filter",
    "words_num_filter",
    "alphanumeric_filter",
    "special_characters_filter",
    "character_repetition_filter",
    "word_repetition_filter",
    "average_line_length_filter",
    "maximum_line_length_filter",
    "stopwords_filter",
    "flagged_words_filter",
    "perplexity_filter",
    "language_id_score_filter",
    "text_entity_dependency_filter",
    "token_num_filter",
}


# --------------------------------------------------------------------------- table shape (fast)


def test_required_ops_are_covered():
    assert REQUIRED_OPS <= set(STAT_MAP)
    assert stat_map.covered_ops() == sorted(STAT_MAP)


def test_excluded_ops_are_not_covered():
    for name in ("suffix_filter", "specified_field_filter", "specified_numeric_field_filter", "image_watermark_filter"):
        assert name not in STAT_MAP
        assert lookup(name, {}) == []


@pytest.mark.parametrize("op_name", sorted(STAT_MAP))
def test_bindings_are_well_formed(op_name):
    bindings = STAT_MAP[op_name]
    assert bindings and all(isinstance(b, StatBinding) for b in bindings)
    for b in bindings:
        assert b.arg_type in (int, float) and b.text in ("", "bytes", "ratio")
        assert b.lo <= b.hi
        assert not (math.isnan(b.lo) or math.isnan(b.hi))
        assert b.min_arg or b.max_arg
        assert b.args == tuple(a for a in (b.min_arg, b.max_arg) if a)
        for arg, _ in b.when:
            assert arg in CONDITION_DEFAULTS.get(op_name, {}), f"{op_name}: no default for condition {arg}"
    # bindings that apply together must not bound the same argument twice
    for args in ({}, *({a: v} for b in bindings for a, v in b.when)):
        applied = lookup(op_name, args)
        names = [a for b in applied for a in b.args]
        assert len(names) == len(set(names)), (op_name, args)


def test_lookup_simple_ops():
    (b,) = lookup("text_length_filter", {"min_len": 3})
    assert (b.stat, b.min_arg, b.max_arg, b.arg_type) == ("text_len", "min_len", "max_len", int)
    assert (b.lo, b.hi) == (0.0, math.inf)
    (b,) = lookup("special_characters_filter", None)  # op written without args
    assert (b.stat, b.lo, b.hi, b.arg_type) == ("special_char_ratio", 0.0, 1.0, float)
    (b,) = lookup("language_id_score_filter", {"lang": "en"})
    assert (b.stat, b.min_arg, b.max_arg) == ("lang_score", "min_score", None)
    assert stats_keys_for("words_num_filter", {}) == ["num_words"]
    assert stats_keys_for("image_shape_filter", {}) == ["image_width", "image_height"]
    assert lookup("clean_email_mapper", {}) == []
    assert stats_keys_for("no_such_op", None) == []


@pytest.mark.parametrize(
    "args, key",
    [
        (None, "alnum_ratio"),
        ({}, "alnum_ratio"),
        ({"tokenization": False}, "alnum_ratio"),
        ({"tokenization": True}, "alpha_token_ratio"),
        ({"tokenization": "true"}, "alpha_token_ratio"),
        ({"tokenization": "False"}, "alnum_ratio"),
    ],
)
def test_alphanumeric_depends_on_tokenization(args, key):
    assert stats_keys_for("alphanumeric_filter", args) == [key]
    (b,) = lookup("alphanumeric_filter", args)
    # alpha chars / tokens can exceed 1, alnum chars / chars cannot
    assert b.hi == (1.0 if key == "alnum_ratio" else math.inf)


# --------------------------------------------------------------------------- registry (imports data_juicer)


@pytest.fixture(scope="module")
def dj():
    import data_juicer.ops  # noqa: F401  (fills the registry)
    from data_juicer.ops.base_op import NON_STATS_FILTERS, OPERATORS, Filter
    from data_juicer.utils.constant import StatsKeysConstant

    return {"OPERATORS": OPERATORS, "NON_STATS": NON_STATS_FILTERS, "Filter": Filter, "Keys": StatsKeysConstant}


def _params(cls) -> dict[str, inspect.Parameter]:
    """Named __init__ parameters over the class hierarchy (subclasses pass **kwargs up)."""
    out: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        for name, p in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                out.setdefault(name, p)
    return out


def _is_int_annotation(ann) -> bool:
    if isinstance(ann, str):
        return ann.strip() == "int"
    if typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    return ann is int


def _source(cls) -> str:
    parts = []
    for klass in cls.__mro__:
        if klass.__module__.startswith("data_juicer.ops.filter"):
            parts.append(inspect.getsource(klass))
    return "\n".join(parts)


@pytest.mark.parametrize("op_name", sorted(STAT_MAP))
def test_table_matches_dj_registry(dj, op_name):
    ops = dj["OPERATORS"].modules
    assert op_name in ops, f"{op_name} is not a registered Data-Juicer op (renamed or removed?)"
    cls = ops[op_name]
    assert issubclass(cls, dj["Filter"]), f"{op_name} is not a Filter"
    assert op_name not in dj["NON_STATS"].modules, f"{op_name} produces no stats"
    params = _params(cls)
    src = _source(cls)
    for b in STAT_MAP[op_name]:
        # the stat key is a StatsKeys constant, and the op's code uses it
        assert getattr(dj["Keys"], b.stat, None) == b.stat, f"StatsKeys has no {b.stat}"
        assert f"StatsKeys.{b.stat}" in src, f"{op_name} never touches StatsKeys.{b.stat}"
        for arg in b.args:
            assert arg in params, f"{op_name}.__init__ has no argument {arg!r}"
            assert f"self.{arg}" in src, f"{op_name} does not store/use {arg!r}"
            ann = params[arg].annotation
            if ann is not inspect.Parameter.empty and b.text:  # sizes and ratios are written as strings
                assert ann is str or ann == "str", f"{op_name}.{arg}: annotated {ann!r}, table says text"
            elif ann is not inspect.Parameter.empty:
                assert _is_int_annotation(ann) == (b.arg_type is int), (
                    f"{op_name}.{arg}: annotated {ann!r}, table says {b.arg_type.__name__}"
                )
        for arg, _ in b.when:
            assert arg in params, f"{op_name}.__init__ has no argument {arg!r}"
            assert params[arg].default == CONDITION_DEFAULTS[op_name][arg], f"{op_name}.{arg} default changed"


def test_every_required_op_exists_in_dj(dj):
    missing = sorted(REQUIRED_OPS - set(dj["OPERATORS"].modules))
    assert not missing, f"ops missing from Data-Juicer: {missing}"


# --------------------------------------------------------------------------- bounds written as text


def test_size_and_ratio_bounds_are_written_as_the_op_reads_them():
    (size,) = lookup("image_size_filter", {})
    assert (size.stat, size.text) == ("image_sizes", "bytes")
    assert stat_map.format_bound(size, 1234.2, upper=False) == "1234"
    assert stat_map.format_bound(size, 1234.2, upper=True) == "1235"
    assert stat_map.parse_bound(size, "1MB") == 2 ** 20 and stat_map.parse_bound(size, "2048") == 2048
    assert stat_map.parse_bound(size, "1 parsec") is None
    (ratio,) = lookup("video_aspect_ratio_filter", {})
    assert stat_map.format_bound(ratio, 0.5625, upper=False) == "0.5625"
    assert stat_map.parse_bound(ratio, "9/16") == 0.5625 and stat_map.parse_bound(ratio, "16:9") == 16 / 9
    (plain,) = lookup("text_length_filter", {})
    assert stat_map.format_bound(plain, 3.5, upper=True) == 4 and stat_map.parse_bound(plain, 7) == 7.0


def test_data_juicer_reads_the_written_bounds_back():
    """What format_bound writes, the ops' own parsers turn into the number it stands for."""
    from fractions import Fraction

    from data_juicer.utils.mm_utils import size_to_bytes

    (size,) = lookup("image_size_filter", {})
    assert size_to_bytes(stat_map.format_bound(size, 118619.7, upper=True)) == 118620
    (ratio,) = lookup("video_aspect_ratio_filter", {})
    written = stat_map.format_bound(ratio, 0.4469384407385796, upper=False)
    assert float(Fraction(str(written).replace(":", "/"))) == 0.4469384407385796


def test_ksigma_on_list_valued_media_stats_and_text_bounds():
    """One value per medium (flattened, as DJ's OverallAnalysis); sizes come out as byte strings and
    tighten_only compares them as sizes ("1KB" is 1024), keeping the recipe's form where it is stricter."""
    from juicer_sandbox.components.ksigma import refine_from_stats

    rows = [{"image_sizes": [1000, 3000], "image_width": [10, 30]}, {"image_sizes": [2000], "image_width": [20]}]
    recipe = {"process": [{"image_size_filter": {"min_size": "1KB", "max_size": "1MB"}},
                          {"image_shape_filter": {}}]}
    refined, changes = refine_from_stats(recipe, rows, k=1, tighten=True)
    # sizes 1000, 3000, 2000: mean 2000, std 1000 -> [1000, 3000]; min: "1KB" (1024) is stricter than 1000
    assert refined["process"][0]["image_size_filter"] == {"min_size": "1KB", "max_size": "3000"}
    assert refined["process"][1]["image_shape_filter"] == {"min_width": 10, "max_width": 30}
    kept = [c for c in changes if c["action"] == "kept"]
    assert [(c["arg"], c["k_sigma"], c["new"]) for c in kept] == [("min_size", "1000", "1KB")]
