"""JSON schema of each data-pool manipulator's ``extra_configs`` (:data:`SCHEMAS`, used by :mod:`.pools`)."""
from __future__ import annotations

from .config_helpers import EXPORT_SCHEMA, PATHS_SCHEMA

DEFAULT_SPLIT_RATIOS = ("1/3", "2/3")
DEFAULT_SEED = 42

_SEED_SCHEMA = {"type": "integer", "minimum": 0, "default": DEFAULT_SEED}
_RATIO_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        {"type": "string", "pattern": r"^\s*(\d+\s*/\s*\d+|\d*\.\d+([eE][-+]?\d+)?)\s*$"},
    ]
}


def _schema(name: str, description: str, props: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {"type": {"const": name}, **props},
        "required": required,
        "additionalProperties": False,
    }


#: JSON schema of each manipulator's ``extra_configs``.
SCHEMAS: dict[str, dict] = {
    "data_pool_construction": _schema(
        "data_pool_construction",
        "split datasets into pools by their stats",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "split_ratios": {
                "type": "array",
                "items": _RATIO_SCHEMA,
                "minItems": 1,
                "default": list(DEFAULT_SPLIT_RATIOS),
                "description": "increasing ratios in (0, 1), numbers or fractions like '1/3'",
            },
            "split_num": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": None,
                "description": "rows per part; takes precedence over split_ratios",
            },
            "ignore_stats": {"type": "boolean", "default": False},
            "stats": {
                "type": ["array", "null"],
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "uniqueItems": True,
                "default": None,
                "description": "stat keys to split on (default: every numeric stat)",
            },
        },
        ["dataset_path", "export_path"],
    ),
    "data_pool_combination": _schema(
        "data_pool_combination",
        "all non-empty intersections of N pools ordered by rank",
        {"dataset_path": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path", "export_path"],
    ),
    "data_pool_duplication": _schema(
        "data_pool_duplication",
        "repeat each pool t times",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "duplicating_times": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 1,
                "uniqueItems": True,
            },
            "shuffle": {"type": "boolean", "default": False},
            "shuffle_seed": _SEED_SCHEMA,
        },
        ["dataset_path", "export_path", "duplicating_times"],
    ),
    "data_pool_downsampling": _schema(
        "data_pool_downsampling",
        "random sample of the same size from each pool",
        {
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
            "target_num_samples": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": None,
                "description": "default: the smallest pool's size",
            },
            "target_like": {
                "type": ["string", "null"],
                "description": "a dataset whose row count is the target (e.g. a random arm the size of a refined pool)",
            },
            # no "default" here: a filled-in default would clash with the `seed` alias (42 is applied at run time)
            "shuffle_seed": {"type": "integer", "minimum": 0, "description": "default 42"},
            "seed": {"type": "integer", "minimum": 0, "description": "alias of shuffle_seed"},
            "fixed_draw_seed": {"type": ["integer", "null"], "minimum": 0, "default": None,
                                "description": "when set, wins over shuffle_seed: a per-seed job (shuffle_seed: "
                                               "'{seed}') then draws the same pool for every training seed"},
        },
        ["dataset_path", "export_path"],
    ),
    "data_pool_merging": _schema(
        "data_pool_merging",
        "concatenate pools into <LCP>_merged.jsonl",
        {"dataset_path": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path", "export_path"],
    ),
    "data_pool_cartesian_join": _schema(
        "data_pool_cartesian_join",
        "join every pool of dataset_path_1 with every pool of dataset_path_2 row by row",
        {"dataset_path_1": PATHS_SCHEMA, "dataset_path_2": PATHS_SCHEMA, "export_path": EXPORT_SCHEMA},
        ["dataset_path_1", "dataset_path_2", "export_path"],
    ),
}
