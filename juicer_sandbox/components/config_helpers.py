"""Config helpers every component shares: unknown-key checks, input paths, the export directory, basenames."""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Callable

from ..errors import ComponentConfigError

#: Data file extensions removed to get a dataset's basename (longest first).
DATA_EXTENSIONS = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".parquet")

PATHS_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
    "description": "a path or a list of paths",
}
EXPORT_SCHEMA = {"type": "string", "minLength": 1, "description": "output directory (created if missing)"}


def check_keys(cfg: dict, schema: dict) -> None:
    """Reject keys of ``cfg`` that ``schema`` does not list (with a close-match hint)."""
    if not isinstance(cfg, dict):
        raise ComponentConfigError(f"extra_configs must be a mapping, got {type(cfg).__name__}")
    allowed = list(schema.get("properties", {}))
    for key in cfg:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else f"; allowed keys: {', '.join(sorted(allowed))}"
            raise ComponentConfigError(f"unknown key{extra}", key=str(key))
    ctype = cfg.get("type")
    expected = schema.get("properties", {}).get("type", {}).get("const")
    if ctype is not None and expected is not None and ctype != expected:
        raise ComponentConfigError(f"expected type '{expected}', got '{ctype}'", key="type")


def input_paths(cfg: dict, key: str = "dataset_path", must_exist: bool = True) -> list[str]:
    """``cfg[key]`` as a non-empty list of path strings (a str becomes ``[str]``); missing files are an error."""
    if key not in cfg or cfg[key] is None:
        raise ComponentConfigError("is required (a path or a list of paths)", key=key)
    value = cfg[key]
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ComponentConfigError("must be a path or a non-empty list of paths", key=key)
    paths = []
    for i, p in enumerate(value):
        if not isinstance(p, (str, os.PathLike)) or not str(p):
            raise ComponentConfigError(f"entry {i} is not a path: {p!r}", key=key)
        paths.append(str(p))
    if must_exist:
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise ComponentConfigError(f"input file(s) not found: {', '.join(missing)}", key=key)
    return paths


def one_path(cfg: dict, key: str) -> str:
    """The one existing dataset under `key` (a path, or a list of exactly one)."""
    value = cfg.get(key)
    if isinstance(value, list):
        if len(value) != 1:
            raise ComponentConfigError(f"expects one dataset, got {len(value)}", key=key)
        value = value[0]
    if not value or not os.path.exists(str(value)):
        raise ComponentConfigError(f"dataset {value!r} not found", key=key)
    return str(value)


def export_dir(cfg: dict, key: str = "export_path") -> Path:
    """The export directory (created if needed)."""
    value = cfg.get(key)
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ComponentConfigError("is required (an output directory)", key=key)
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ComponentConfigError(f"must be a directory, but {path} is a file", key=key)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_basename(path: str | os.PathLike) -> str:
    """File name without its data extension (``a/b.jsonl.gz`` -> ``b``)."""
    name = os.path.basename(os.path.normpath(str(path)))
    if os.path.isdir(path):
        return name
    for ext in DATA_EXTENSIONS:
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return os.path.splitext(name)[0]


def check_unique_names(paths: list[str], key: str, make_name: Callable[[str], str] = data_basename) -> None:
    """Two inputs whose outputs would get the same name would overwrite each other: refuse."""
    seen: dict[str, str] = {}
    for p in paths:
        name = make_name(p)
        if name in seen:
            raise ComponentConfigError(
                f"{seen[name]} and {p} have the same basename '{name}', so their outputs would overwrite "
                "each other; rename one or run them in separate jobs",
                key=key,
            )
        seen[name] = p
