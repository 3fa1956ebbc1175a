"""Does a job record still vouch for its output files? (used when planning and by each job)

A record lists, for each output file inside its artifacts, the fingerprint and the size and
mtime it had when the job wrote it. Size and mtime unchanged: trusted without reading (cheap
enough to check every record whenever the Snakefile is read); otherwise the content decides.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .content_hash import file_hash


def _paths(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _paths(v)
    elif isinstance(value, list):
        for v in value:
            yield from _paths(v)
    elif isinstance(value, str) and value:
        yield value


def output_files(record: dict, artifacts: str | os.PathLike) -> dict[str, list]:
    """{path relative to the artifacts dir: [fingerprint, size, mtime_ns]} of each output file in it."""
    root = os.path.realpath(artifacts)
    out = {}
    for value in _paths(record.get("outputs") or {}):
        real = os.path.realpath(value)
        if real.startswith(root + os.sep) and os.path.isfile(real):
            st = os.stat(real)
            out[os.path.relpath(real, root)] = [file_hash(real), st.st_size, st.st_mtime_ns]
    return out


def broken_output(record: dict, artifacts: str | os.PathLike) -> str | None:
    """The first output file that was removed or changed since the job wrote it (None: all intact)."""
    for rel, (expected, size, mtime) in (record.get("output_files") or {}).items():
        f = Path(artifacts) / rel
        try:
            st = f.stat()
        except OSError:
            return f"its output {f} was removed after the job wrote it"
        if (st.st_size, st.st_mtime_ns) != (size, mtime) and file_hash(str(f)) != expected:
            return f"its output {f} was changed after the job wrote it"
    return None
