"""Option parsing and output naming shared by the data-pool manipulators (:mod:`.pools`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ComponentConfigError
from ..io import write_jsonl
from .config_helpers import data_basename




def longest_common_prefix(paths: list[str]) -> str:
    """Character-wise LCP of the basenames; ``default_prefix`` when empty."""
    return os.path.commonprefix([data_basename(p) for p in paths]) or "default_prefix"


def int_option(cfg: dict, key: str, default: Any, minimum: int) -> Any:
    value = cfg.get(key, default)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ComponentConfigError(f"must be an integer >= {minimum}, got {value!r}", key=key)
    return value


def bool_option(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ComponentConfigError(f"must be true or false, got {value!r}", key=key)
    return value


def write_pool(path: Path, rows: list[dict]) -> str:
    write_jsonl(path, rows)
    return str(path)
