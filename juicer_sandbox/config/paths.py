"""Paths in job configs: which keys name inputs, where they are found, and where exports go."""
from __future__ import annotations

import os
import re

from . import sandbox
from .sandbox import resolve_path

# Params name absolute paths in the workflow directory (shipped configs, data, resources) and in
# the working directory by these prefixes, so moving the checkout or the work dir changes no
# job's params (and reruns nothing). The runner turns them back into absolute paths at job start.
WORKFLOW_PREFIX = "@workflow/"
WORKDIR_PREFIX = "@workdir/"

# Keys whose string values must name an existing file/dir (or one a job produces).
PATH_KEYS = {
    "dataset_path", "dataset_path_1", "dataset_path_2", "predicted_dataset_path", "ground_truth_dataset_path",
    "train_dataset", "eval_dataset", "valid_path", "val_path", "validation_path", "reference_path",
    "model_name_or_path", "tokenizer_path", "stopwords_dir", "flagged_words_dir", "target_like", "model_path",
    "before_path", "after_path", "negative_path",
}

def walk_strings(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk_strings(v, f"{prefix}[{i}]")
    elif isinstance(obj, str):
        yield prefix, obj


def leaf_key(where: str) -> str:
    return re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]


def export_target(hook: str, key: str, dj: dict | None, extra: dict | None) -> str | None:
    """The user path a hook's export key publishes to, from the job's configs (None: not set)."""
    root, rest = key.split(".", 1)
    cfg = (extra if root == "extra_configs" else dj) or {}
    value = cfg.get(rest)
    if not isinstance(value, str) or not value:
        return None
    if hook == "ProbeViaAnalyzerHook" and not cfg.get("export_original_dataset"):
        return stats_export_path(value)  # like DJ's Analyzer: only the stats file is exported
    return value


def stats_export_path(export_path: str) -> str:
    """Where Data-Juicer's Analyzer writes the stats for an export path: <stem>_stats.jsonl."""
    root, ext = os.path.splitext(export_path)
    return f"{root}_stats.jsonl" if ext else os.path.join(export_path, "stats.jsonl")


def locate_inputs(obj, base_dir: str) -> None:
    """Input paths (PATH_KEYS) missing from the current directory but found next to the config
    or in the workflow directory are replaced by that location (see sandbox.resolve_path)."""
    if isinstance(obj, list):
        for v in obj:
            locate_inputs(v, base_dir)
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        if key in PATH_KEYS and isinstance(value, str) and value:
            obj[key] = resolve_path(value, base_dir)
        elif key in PATH_KEYS and isinstance(value, list):
            obj[key] = [resolve_path(v, base_dir) if isinstance(v, str) else v for v in value]
        else:
            locate_inputs(value, base_dir)


def split_mixture(value: str) -> list[str]:
    """DJ's dataset_path may be a mixture 'a.jsonl 0.5 b.jsonl'; return the path tokens."""
    if os.path.exists(value) or " " not in value.strip():
        return [value]
    return [t for t in value.split() if not re.fullmatch(r"[0-9.]+", t)]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def work_relative(path: str, cwd: str | None = None) -> str:
    """An absolute path inside the working directory, relative to it; any other path unchanged."""
    if not os.path.isabs(path):
        return path
    norm, cwd = os.path.normpath(path), os.path.abspath(cwd or os.getcwd())
    return os.path.relpath(norm, cwd) if _under(norm, cwd) else path


def portable_paths(obj, cwd: str | None = None):
    """A copy of `obj` (params) whose absolute paths inside the working directory start with
    WORKDIR_PREFIX and those inside the workflow directory with WORKFLOW_PREFIX; others are kept."""
    if isinstance(obj, dict):
        return {k: portable_paths(v, cwd) for k, v in obj.items()}
    if isinstance(obj, list):
        return [portable_paths(v, cwd) for v in obj]
    if not isinstance(obj, str) or not os.path.isabs(obj):
        return obj
    relative = work_relative(obj, cwd)
    if relative != obj:
        return WORKDIR_PREFIX + relative
    path, workflow = os.path.normpath(obj), os.path.normpath(str(sandbox.WORKFLOW_DIR))
    if _under(path, workflow):
        return WORKFLOW_PREFIX + os.path.relpath(path, workflow)
    return obj


def local_paths(obj):
    """The inverse of portable_paths at job start: prefixed paths become absolute paths in this
    checkout and in this working directory (a job runs in the working directory)."""
    if isinstance(obj, dict):
        return {k: local_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [local_paths(v) for v in obj]
    if isinstance(obj, str) and obj.startswith(WORKFLOW_PREFIX):
        return os.path.join(str(sandbox.WORKFLOW_DIR), obj[len(WORKFLOW_PREFIX):])
    if isinstance(obj, str) and obj.startswith(WORKDIR_PREFIX):
        return os.path.normpath(os.path.join(os.getcwd(), obj[len(WORKDIR_PREFIX):]))
    return obj
