"""Publishing a job's exports to the paths the user named, and keeping them honest.

Each publication is recorded in a ledger (``<work_dir>/.published/<hash of path>.json``) with the
job that wrote it, the artifact it came from and the content fingerprint of what was written:

* a path that exists and was not written by this job is never overwritten (the job fails and
  says so); one this job wrote but that was edited since is kept aside as
  ``<name>.edited-<time>`` before the new result is written, and the job's warnings say so;
* an export deleted since it was published is copied back from its artifact when the next run
  starts (:func:`restore_exports`), so what the work dir says was exported is there.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

from ..config.paths import export_target
from ..core.content_hash import path_hash
from ..dj.media import all_media_keys, rewrite_file, work_roots
from ..errors import SandboxError
from ..io import abs_path, atomic_path, read_json, replace_dir, write_json

log = logging.getLogger("juicer_sandbox")


def iteration_path(path: str, subdir: str) -> str:
    """As the original: a file a/b/x.jsonl -> a/b/iter_N/x.jsonl, a directory a/b -> a/b/iter_N."""
    name = os.path.basename(path)
    if "." in name[1:]:
        return os.path.join(os.path.dirname(path), subdir, name)
    return os.path.join(path, subdir)


def _in_work_dir(work_dir: str, path: str) -> str:
    """A user path inside the work dir as relative to it (a moved work dir keeps its ledger), else as given."""
    rel = os.path.relpath(path, os.path.abspath(work_dir))
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def _published_ledger(work_dir: str, user_path: str) -> Path:
    folder = Path(work_dir) / ".published"
    ledger = folder / (hashlib.sha1(_in_work_dir(work_dir, user_path).encode()).hexdigest() + ".json")
    if not ledger.exists():  # a ledger written before paths inside the work dir were kept relative
        old = folder / (hashlib.sha1(user_path.encode()).hexdigest() + ".json")
        return old if old.exists() else ledger
    return ledger


def _read_ledger(ledger: Path) -> dict:
    try:
        return read_json(ledger) if ledger.exists() else {}
    except (ValueError, OSError):
        return {}


def _copy(src: Path, dst: str, work_dir: str, keys: list[str]) -> None:
    """Copy an artifact to its user path; JSON-lines datasets in it get media paths valid at the new place
    (dj/media.py: relative inside the work dir, else absolute)."""
    roots = work_roots(work_dir)
    if src.is_dir():
        tmp = Path(dst).with_name(f".{Path(dst).name}.tmp{os.getpid()}")  # a sibling: same relative paths
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        for path in sorted(src.rglob("*.jsonl")):
            rewrite_file(str(path), str(tmp / path.relative_to(src)), keys, roots)
        replace_dir(tmp, dst)
    elif not (src.name.endswith(".jsonl") and rewrite_file(str(src), dst, keys, roots)):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def publish(spec: dict, exports: dict, work_dir: str, dj: dict | None, extra: dict,
            warnings: list | None = None) -> tuple[dict, dict]:
    """Copy exported artifacts to the user-given paths; refuse to overwrite files we did not write."""
    published, aliases = {}, {}
    for key in exports:
        # known at compile time, or only now (a recipe produced by another job names it)
        user_path = spec["exports"].get(key) or export_target(spec["hook"], key, dj, extra)
        if not user_path:
            continue
        src = Path(exports[key])
        dst = abs_path(user_path)
        aliases[dst] = str(src.resolve())  # later jobs naming the user path read the artifact
        if spec.get("export_subdir"):
            dst = iteration_path(dst, spec["export_subdir"])
        if not spec.get("publish", True):
            continue
        ledger = _published_ledger(work_dir, dst)
        if os.path.lexists(dst):
            entry = _read_ledger(ledger)
            if entry.get("job") != spec["job"] and entry.get("job") not in spec.get("shared_exports", ()):
                raise SandboxError(f"refusing to overwrite {user_path} ({key}): it exists and was not written by "
                                   f"this job; move it away or choose another path")
            if entry.get("hash") and path_hash(dst) != entry["hash"]:  # edited by hand since we wrote it
                aside = f"{dst}.edited-{time.strftime('%Y%m%d-%H%M%S')}"
                os.replace(dst, aside)
                note = f"{user_path} was edited after this job wrote it: kept as {aside}, then rewritten"
                log.warning("%s", note)
                if warnings is not None:
                    warnings.append(note)
        _copy(src, dst, work_dir, all_media_keys(dj))
        # the artifact relative to the work dir: a moved work dir still restores from it
        artifact = os.path.relpath(src.resolve(), Path(work_dir).resolve())
        write_json(ledger, {"job": spec["job"], "path": _in_work_dir(work_dir, dst), "artifact": artifact,
                            "hash": path_hash(dst)})
        published[dst] = str(src.resolve())
    return published, aliases


def restore_exports(work_dir: str) -> list[str]:
    """Copy back every published export that was deleted, from its artifact; returns the paths."""
    restored = []
    ledger_dir = Path(work_dir) / ".published"
    if not ledger_dir.is_dir():
        return restored
    for ledger in sorted(ledger_dir.glob("*.json")):
        entry = _read_ledger(ledger)
        dst, artifact = entry.get("path"), entry.get("artifact")
        dst = os.path.join(work_dir, dst) if dst else None  # relative to the work dir, or absolute
        artifact = os.path.join(work_dir, artifact) if artifact else None
        if not dst or not artifact or os.path.lexists(dst) or not os.path.exists(artifact):
            continue
        _copy(Path(artifact), dst, work_dir, all_media_keys())
        write_json(ledger, {**entry, "hash": path_hash(dst)})
        restored.append(dst)
    return restored
