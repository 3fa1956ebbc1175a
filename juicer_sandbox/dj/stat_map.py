"""Explicit map from Data-Juicer 1.6.1 filter ops to the stat their thresholds bound.

The original sandbox found an op's stats through ``StatsKeys.get_access_log``, a
process-global record of which ``StatsKeys.*`` attributes an op's code touched.
That map goes stale, is empty when stats were computed in worker processes, and
breaks on DJ 1.6.1. Here the mapping is written out by hand from each op's source
(``data_juicer/ops/filter/*.py``): for every op, which key in ``__dj__stats__``
is compared against which lower/upper argument, what values that stat can take,
and whether the argument is an ``int`` or a ``float``.

``tests/unit/test_stat_map.py`` checks the table against DJ's operator registry
(op names, argument names and types, stat key constants), so a DJ upgrade that
renames something fails loudly instead of silently leaving ops unrefined.

This module does not import data_juicer (its import costs seconds).

Valid ranges: ``(lo, hi)`` is the interval the stat can take *intersected with
the domain the argument accepts*. For example CLIP similarities are cosines in
[-1, 1], but ``text_pair_similarity_filter`` types its bounds as
``ClosedUnitInterval``, so its range is (0, 1). ``math.inf`` means unbounded.

Bounds written as text: ``image_size_filter`` / ``audio_size_filter`` take sizes as strings
("1MB", "2048"; Data-Juicer's ``size_to_bytes`` reads digits and a unit, so a refined bound is
written as a whole number of bytes, "123456"), ``video_aspect_ratio_filter`` takes ratios as
strings ("9/21"; read by ``Fraction``, so a refined bound is a decimal string). Their bindings
have ``text`` set ("bytes" or "ratio"): :func:`format_bound` writes a refined number in the
argument's form, :func:`parse_bound` reads a written one back (for ``tighten_only``).

Multimodal stats are list-valued: one value per image/video of a sample (``image_width``,
``video_duration``, ...). k-sigma describes them flattened, one value per medium, as
Data-Juicer's ``OverallAnalysis`` does (``components/stats_summary.py``): mean and std are over
all media, not over samples, which is what the ops' per-medium bounds compare against (each
medium is checked against the bounds, then ``any_or_all`` decides the sample).

Not covered (thresholds that are not a plain numeric bound on one stat):
``suffix_filter``, ``specified_field_filter``, ``specified_numeric_field_filter``
(bounds a user field, not a stat), ``general_field_filter``,
``image_watermark_filter`` / ``video_watermark_filter`` (one ``prob_threshold``),
``video_face_ratio_filter`` (threshold on a fraction of boolean frame flags),
``image_subplot_filter`` (several coupled detector thresholds),
``video_tagging_from_frames_filter``, ``llm_condition_filter`` and the LLM-API
scoring filters (``llm_analysis_filter``, ``llm_quality_score_filter``,
``llm_difficulty_score_filter``, ``llm_task_relevance_filter``) whose score scale
depends on the prompt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

INF = math.inf


@dataclass(frozen=True)
class StatBinding:
    """One stat of an op and the arguments that bound it.

    stat      -- key in a sample's ``__dj__stats__`` (a ``StatsKeys.*`` value)
    min_arg   -- argument holding the lower bound (None: the op has none)
    max_arg   -- argument holding the upper bound (None: the op has none)
    lo, hi    -- valid range of the stat / argument (``math.inf`` = unbounded)
    arg_type  -- Python type of the bound's number: ``int`` or ``float``
    when      -- conditions on other op arguments under which this binding
                 applies, as ``((arg, value), ...)``; see ``CONDITION_DEFAULTS``
    text      -- "" (the argument is the number), "bytes" or "ratio" (a string: see above)
    """

    stat: str
    min_arg: str | None
    max_arg: str | None
    lo: float
    hi: float
    arg_type: type
    when: tuple[tuple[str, Any], ...] = ()
    text: str = ""

    @property
    def args(self) -> tuple[str, ...]:
        """The bound argument names, lower first."""
        return tuple(a for a in (self.min_arg, self.max_arg) if a is not None)


def _b(stat, min_arg, max_arg, lo, hi, arg_type, when=(), text=""):
    return StatBinding(stat, min_arg, max_arg, float(lo), float(hi), arg_type, tuple(when), text)


# Defaults (as in DJ 1.6.1's signatures) of the arguments used in `when`
# conditions, applied when a recipe does not write the argument.
CONDITION_DEFAULTS: dict[str, dict[str, Any]] = {
    "alphanumeric_filter": {"tokenization": False},
}

_RATIO = (0, 1)
_COUNT = (0, INF)
_UNIT = (0, 1)  # argument typed ClosedUnitInterval

STAT_MAP: dict[str, tuple[StatBinding, ...]] = {
    # ---------------------------------------------------------------- text
    "text_length_filter": (_b("text_len", "min_len", "max_len", *_COUNT, int),),
    "words_num_filter": (_b("num_words", "min_num", "max_num", *_COUNT, int),),
    "token_num_filter": (_b("num_token", "min_num", "max_num", *_COUNT, int),),
    # tokenization=False: alnum chars / chars (a ratio in [0, 1]);
    # tokenization=True: alpha chars / tokens, which exceeds 1 for any word
    # longer than one character per token, hence unbounded above.
    "alphanumeric_filter": (
        _b("alnum_ratio", "min_ratio", "max_ratio", *_RATIO, float, when=[("tokenization", False)]),
        _b("alpha_token_ratio", "min_ratio", "max_ratio", 0, INF, float, when=[("tokenization", True)]),
    ),
    "special_characters_filter": (_b("special_char_ratio", "min_ratio", "max_ratio", *_RATIO, float),),
    "character_repetition_filter": (_b("char_rep_ratio", "min_ratio", "max_ratio", *_RATIO, float),),
    "word_repetition_filter": (_b("word_rep_ratio", "min_ratio", "max_ratio", *_RATIO, float),),
    # avg_line_length is a float (chars / lines) but the bounds are typed int.
    "average_line_length_filter": (_b("avg_line_length", "min_len", "max_len", *_COUNT, int),),
    "maximum_line_length_filter": (_b("max_line_length", "min_len", "max_len", *_COUNT, int),),
    "stopwords_filter": (_b("stopwords_ratio", "min_ratio", "max_ratio", *_RATIO, float),),
    "flagged_words_filter": (_b("flagged_words_ratio", "min_ratio", "max_ratio", *_RATIO, float),),
    "perplexity_filter": (_b("perplexity", "min_ppl", "max_ppl", 0, INF, float),),
    # fastText confidence; the op has a lower bound only (`lang` is a label).
    "language_id_score_filter": (_b("lang_score", "min_score", None, *_RATIO, float),),
    # list-valued: edges per entity; lower bound only.
    "text_entity_dependency_filter": (
        _b("num_dependency_edges", "min_dependency_num", None, *_COUNT, int),
    ),
    "text_action_filter": (_b("num_action", "min_action_num", None, *_COUNT, int),),
    # exp(mean token NLL) >= 1
    "llm_perplexity_filter": (_b("llm_perplexity", "min_score", "max_score", 1, INF, float),),
    # ratios of losses (args inherited from llm_perplexity_filter)
    "instruction_following_difficulty_filter": (_b("ifd_score", "min_score", "max_score", 0, INF, float),),
    "in_context_influence_filter": (
        _b("in_context_influence", "min_score", "max_score", 0, INF, float),
    ),
    "text_pair_similarity_filter": (_b("text_pair_similarity", "min_score", "max_score", *_UNIT, float),),
    "text_embd_similarity_filter": (_b("text_embd_similarity", "min_score", "max_score", *_UNIT, float),),
    # ---------------------------------------------------------------- image (list-valued stats)
    "image_shape_filter": (
        _b("image_width", "min_width", "max_width", *_COUNT, int),
        _b("image_height", "min_height", "max_height", *_COUNT, int),
    ),
    "image_aspect_ratio_filter": (_b("aspect_ratios", "min_ratio", "max_ratio", 0, INF, float),),
    # file sizes in bytes, bounds written as size strings
    "image_size_filter": (_b("image_sizes", "min_size", "max_size", *_COUNT, int, text="bytes"),),
    "image_face_ratio_filter": (_b("face_ratios", "min_ratio", "max_ratio", *_RATIO, float),),
    "image_face_count_filter": (_b("face_counts", "min_face_count", "max_face_count", *_COUNT, int),),
    # raw predictor logits unless the model name says it is /10-normalised
    "image_aesthetics_filter": (
        _b("image_aesthetics_scores", "min_score", "max_score", -INF, INF, float),
    ),
    "image_nsfw_filter": (_b("image_nsfw_score", "min_score", "max_score", *_RATIO, float),),
    "image_pair_similarity_filter": (_b("image_pair_similarity", "min_score", "max_score", *_UNIT, float),),
    # CLIP logits / 100 = cosine similarity
    "image_text_similarity_filter": (
        _b("image_text_similarity", "min_score", "max_score", -1, 1, float),
    ),
    # softmax probability
    "image_text_matching_filter": (
        _b("image_text_matching_score", "min_score", "max_score", *_RATIO, float),
    ),
    "phrase_grounding_recall_filter": (
        _b("phrase_grounding_recall", "min_recall", "max_recall", *_RATIO, float),
    ),
    # ---------------------------------------------------------------- audio
    # durations are float seconds but this op types its bounds as int
    "audio_duration_filter": (_b("audio_duration", "min_duration", "max_duration", *_COUNT, int),),
    "audio_size_filter": (_b("audio_sizes", "min_size", "max_size", *_COUNT, int, text="bytes"),),
    # SNR in dB, may be negative
    "audio_nmf_snr_filter": (_b("audio_nmf_snr", "min_snr", "max_snr", -INF, INF, float),),
    # ---------------------------------------------------------------- video
    "video_duration_filter": (_b("video_duration", "min_duration", "max_duration", *_COUNT, float),),
    "video_resolution_filter": (
        _b("video_width", "min_width", "max_width", *_COUNT, int),
        _b("video_height", "min_height", "max_height", *_COUNT, int),
    ),
    # width / height, bounds written as ratio strings
    "video_aspect_ratio_filter": (
        _b("video_aspect_ratios", "min_ratio", "max_ratio", 0, INF, float, text="ratio"),
    ),
    "video_motion_score_filter": (_b("video_motion_score", "min_score", "max_score", 0, INF, float),),
    "video_motion_score_raft_filter": (
        _b("video_motion_score", "min_score", "max_score", 0, INF, float),
    ),
    "video_motion_score_ptlflow_filter": (
        _b("video_motion_score", "min_score", "max_score", 0, INF, float),
    ),
    "video_ocr_area_ratio_filter": (
        _b("video_ocr_area_ratio", "min_area_ratio", "max_area_ratio", *_RATIO, float),
    ),
    "video_frames_text_similarity_filter": (
        _b("video_frames_text_similarity", "min_score", "max_score", -1, 1, float),
    ),
    "video_aesthetics_filter": (
        _b("video_frames_aesthetics_score", "min_score", "max_score", -INF, INF, float),
    ),
    "video_nsfw_filter": (_b("video_nsfw_score", "min_score", "max_score", *_RATIO, float),),
}


_UNITS = {"": 0, "b": 0, "kb": 10, "kib": 10, "mb": 20, "mib": 20, "gb": 30, "gib": 30, "tb": 40, "tib": 40,
          "pb": 50, "pib": 50}


def format_bound(binding: StatBinding, value: float, upper: bool) -> int | float | str:
    """A bound's value as its argument takes it: ints rounded outwards (lower floored, upper
    ceiled, so the kept interval contains ``value``), sizes and ratios as strings."""
    if binding.arg_type is int:
        number: int | float = int(math.ceil(value) if upper else math.floor(value))
    else:
        number = float(value)
    if binding.text == "bytes":
        return str(number)
    if binding.text == "ratio":
        return repr(number)
    return number


def parse_bound(binding: StatBinding, value: Any) -> float | None:
    """The number a written bound stands for (None: unreadable), as the op reads it."""
    if value is None or isinstance(value, bool):
        return None
    if binding.text == "bytes":
        text = str(value).strip().lower()
        digits = "".join(c for c in text if c.isdigit())
        unit = "".join(c for c in text if c.isalpha())
        return float(int(digits) << _UNITS[unit]) if digits and unit in _UNITS else None
    if binding.text == "ratio":
        from fractions import Fraction

        try:
            return float(Fraction(str(value).replace(":", "/")))
        except (ValueError, ZeroDivisionError):
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


def _matches(op_name: str, binding: StatBinding, op_args: Mapping[str, Any]) -> bool:
    defaults = CONDITION_DEFAULTS.get(op_name, {})
    for arg, want in binding.when:
        have = op_args.get(arg, defaults.get(arg))
        if isinstance(want, bool):
            if _truthy(have) != want:
                return False
        elif have != want:
            return False
    return True


def covered_ops() -> list[str]:
    """Names of all ops in the table, sorted."""
    return sorted(STAT_MAP)


def lookup(op_name: str, op_args: Mapping[str, Any] | None = None) -> list[StatBinding]:
    """Stat bindings of ``op_name`` configured with ``op_args`` (None = no args written).

    Returns an empty list for ops not in the table (non-filters, filters
    without a clean numeric threshold).
    """
    bindings = STAT_MAP.get(op_name)
    if not bindings:
        return []
    args = op_args or {}
    return [b for b in bindings if _matches(op_name, b, args)]


def stats_keys_for(op_name: str, op_args: Mapping[str, Any] | None = None) -> list[str]:
    """The ``__dj__stats__`` keys that ``op_name`` (with ``op_args``) filters on."""
    return [b.stat for b in lookup(op_name, op_args)]


__all__ = [
    "CONDITION_DEFAULTS",
    "STAT_MAP",
    "StatBinding",
    "covered_ops",
    "format_bound",
    "lookup",
    "parse_bound",
    "stats_keys_for",
]
