"""References between jobs and dotted-key updates of job configs.

A reference (right-hand side of a job's ``input``) is
``<pipeline>.<meta_name>.<output_key>[.<deeper>...]`` or ``-1.<output_key>[...]``
("the job that ran just before this one"). Unlike the original, a reference that names
nothing is an error at compile time instead of a silent ``None``.

A key to update (left-hand side of ``input``/``local``) starts with ``dj_configs`` or
``extra_configs``; the rest is a dotted path. As in Data-Juicer's ``nested_query``, the
whole remaining dotted string is tried as a flat key first, then the path is descended;
a digit segment indexes a list and ``a:b`` slices it (e.g. the top two of a ranking: ``res_1.0:2``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CONFIG_ROOTS = ("dj_configs", "extra_configs")
# references the compiler adds (not config keys): a sweep trial's jobs -> the trial's parameters,
# an iteration's jobs -> the previous iteration's gate
HPO_PARAMS = "__hpo_params__"
ITER_GATE = "__iter_gate__"


@dataclass(frozen=True)
class Ref:
    raw: str
    pipeline: str | None  # None for "-1"
    meta_name: str | None
    output: str
    deeper: tuple[str, ...]

    @property
    def is_last(self) -> bool:
        return self.pipeline is None


def parse_ref(text: str) -> Ref:
    parts = str(text).strip().split(".")
    if any(p == "" for p in parts[1:]):
        raise ValueError(f"reference {text!r} has an empty part (two dots in a row, or a trailing dot)")
    if parts[0] == "-1":
        if len(parts) < 2 or not parts[1]:
            raise ValueError(f"reference {text!r}: '-1' must be followed by an output key, e.g. '-1.res_1'")
        return Ref(text, None, None, parts[1], tuple(parts[2:]))
    if len(parts) < 3 or not all(parts[:3]):
        raise ValueError(
            f"reference {text!r} must look like '<pipeline>.<meta_name>.<output_key>' or '-1.<output_key>'")
    return Ref(text, parts[0], parts[1], parts[2], tuple(parts[3:]))


def split_key(key: str) -> tuple[str, str]:
    """'dj_configs.dataset_path' -> ('dj_configs', 'dataset_path'); whole-config updates give ''."""
    root, _, rest = str(key).partition(".")
    if root not in CONFIG_ROOTS:
        raise ValueError(f"key {key!r} must start with 'dj_configs' or 'extra_configs'")
    return root, rest


def get_dotted(obj: Any, path: str | tuple[str, ...] | list[str]) -> Any:
    parts = path.split(".") if isinstance(path, str) else list(path)
    cur = obj
    i = 0
    while i < len(parts):
        if isinstance(cur, dict):
            flat = ".".join(parts[i:])
            if flat in cur:
                return cur[flat]
            if parts[i] not in cur:
                raise KeyError(".".join(parts[: i + 1]))
            cur = cur[parts[i]]
        elif isinstance(cur, list) and re.fullmatch(r"-?\d*:-?\d*", parts[i]):  # a slice, e.g. 0:2
            start, _, stop = parts[i].partition(":")
            cur = cur[int(start) if start else None:int(stop) if stop else None]
        elif isinstance(cur, list) and parts[i].lstrip("-").isdigit():
            try:
                cur = cur[int(parts[i])]
            except IndexError:
                raise KeyError(".".join(parts[: i + 1])) from None
        else:
            raise KeyError(".".join(parts[: i + 1]))
        i += 1
    return cur


def set_dotted(obj: dict, path: str, value: Any) -> None:
    """Set obj[path] where path is dotted; creates intermediate dicts as needed."""
    parts = path.split(".")
    cur: Any = obj
    i = 0
    while i < len(parts) - 1:
        flat = ".".join(parts[i:])
        if isinstance(cur, dict) and flat in cur:
            cur[flat] = value
            return
        seg = parts[i]
        if isinstance(cur, list) and seg.isdigit():
            cur = cur[int(seg)]
        elif isinstance(cur, dict):
            if cur.get(seg) is None:
                cur[seg] = {}
            cur = cur[seg]
        else:
            raise KeyError(".".join(parts[: i + 1]))
        i += 1
    last = parts[-1]
    if isinstance(cur, list) and last.isdigit():
        cur[int(last)] = value
    elif isinstance(cur, dict):
        cur[last] = value
    else:
        raise KeyError(path)
