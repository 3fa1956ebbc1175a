"""A job record vouches for the files it hands on, and a record that cannot vouch is not trusted.

Each record lists the content fingerprint of every output file inside its artifacts (datasets,
stats, recipes that later jobs read). A job reading its inputs' records checks them: a record
that does not parse, or whose files were truncated, edited or removed since, is set aside
(``context.json.corrupt``) and the job fails naming it; the next run sees the record missing
and reruns its producer, then everything downstream.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..core.records import broken_output
from ..errors import SandboxError
from ..io import read_json


def _set_aside(path: str, why: str) -> SandboxError:
    os.replace(path, f"{path}.corrupt")
    return SandboxError(f"{path}: {why}; the record is kept aside as {path}.corrupt: run again to recompute it")


def read_upstream(paths) -> dict:
    """The records of the job's inputs, checked (see the module docstring)."""
    upstream = {}
    for path in paths:
        try:
            record = read_json(path)
        except (ValueError, OSError) as exc:
            raise _set_aside(path, f"does not parse ({exc})") from None
        broken = broken_output(record, Path(path).parent / "artifacts")
        if broken:
            raise _set_aside(path, broken)
        upstream[record["job"]] = record
    return upstream
