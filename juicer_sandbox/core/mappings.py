"""Small helpers on nested mappings, shared by config loading and components."""
from __future__ import annotations


def deep_merge(base: dict, extra: dict) -> dict:
    """Merge `extra` into `base` recursively (mappings merge, anything else replaces); returns `base`."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base
