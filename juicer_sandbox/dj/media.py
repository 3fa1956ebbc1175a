"""Media paths in datasets: where Data-Juicer looks for them, and keeping them valid in every copy.

Data-Juicer 1.6.1 reads a relative media path (``images``/``videos``/``audios``, or the recipe's
``image_key``/``video_key``/``audio_key``) against a base directory it takes from the recipe's
``dataset_path`` (``format/formatter.py:unify_format``): the file's directory when it names one file,
the directory itself when it names a directory, and nothing (the current directory) when it names
a mixture of files or does not exist. URLs (``http://``, ``s3://``, ...) count as absolute. The
pre-flight check (``preflight.py``) resolves paths the same way, so what it calls missing is what
Data-Juicer would fail to read.

A copy of a dataset written somewhere else (a probe's dataset with stats, a processed dataset, a
data pool, a cleaned copy) must not carry a relative path to its new place, where it no longer
resolves. Every dataset a job writes therefore holds **absolute** media paths: relative ones are
resolved against the base of the file they were read from (for rows Data-Juicer loaded, against the
current directory, since Data-Juicer already joined its base). Absolute paths stay valid wherever the
dataset or its work dir is moved, as long as the media stay where they are. A resolved path keeps
its file name and has its directory resolved physically (``..`` after a symlink means what the
file system says, not what the text says); absolute paths with ``..`` parts (Data-Juicer's join of
its base and ``../x``) are cleaned the same way.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Iterable, Iterator

MEDIA_KEYS = {"image_key": "images", "audio_key": "audios", "video_key": "videos"}
_REMOTE = ("http://", "https://", "s3://", "gs://", "hdfs://")


def media_keys(recipe: dict | None = None) -> list[str]:
    """The row keys holding media paths for a recipe (Data-Juicer's defaults when it names none)."""
    recipe = recipe or {}
    keys = [recipe.get(k) or default for k, default in MEDIA_KEYS.items()]
    return [k for k in keys if isinstance(k, str)]


def is_absolute(path: str) -> bool:
    """As Data-Juicer's is_absolute_path: an absolute local path or a URL."""
    return path.lower().startswith(_REMOTE) or os.path.isabs(path)


def media_base(dataset_path: str) -> str:
    """The absolute directory Data-Juicer resolves relative media paths of this dataset_path against."""
    path = str(dataset_path)
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return os.path.abspath(path)
    return os.getcwd()  # a mixture ('a.jsonl b.jsonl') or no file: Data-Juicer leaves paths as written


def _needs_rewrite(path: str) -> bool:
    """Relative, or absolute with '.'/'..' parts (Data-Juicer's join of a base and '../x')."""
    if path.lower().startswith(_REMOTE):
        return False
    return not os.path.isabs(path) or "/../" in path or "/./" in path


def resolve(path: str, base: str) -> str:
    """``path`` as Data-Juicer would open it, absolute and without '..' (URLs unchanged)."""
    if not _needs_rewrite(path):
        return path
    joined = os.path.join(base, path)  # an absolute path stays itself
    if ".." not in joined and "/./" not in joined and not path.startswith("./"):
        return joined  # nothing to resolve: the text and the file system agree
    return os.path.join(_real_dir(os.path.dirname(joined)), os.path.basename(joined))


@lru_cache(maxsize=4096)
def _real_dir(directory: str) -> str:
    """realpath of a media directory, once per directory (datasets name many files in few folders)."""
    return os.path.realpath(directory)


def absolute_row(row: dict, keys: Iterable[str], base: str) -> dict:
    """Make the row's relative media paths absolute (in place); returns the row."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value:
            row[key] = resolve(value, base)
        elif isinstance(value, list) and any(isinstance(p, str) and _needs_rewrite(p) for p in value):
            row[key] = [resolve(p, base) if isinstance(p, str) and p else p for p in value]
    return row


def absolute_rows(rows: Iterable[dict], keys: Iterable[str], base: str) -> Iterator[dict]:
    """absolute_row over a stream of rows."""
    keys = list(keys)
    for row in rows:
        yield absolute_row(row, keys, base) if isinstance(row, dict) else row


def copy_rows(dataset_path: str, rows: Iterable[dict], recipe: dict | None = None) -> Iterator[dict]:
    """Rows read from ``dataset_path``, ready to be written anywhere: media paths made absolute (under the
    recipe's media keys; without a recipe, as for data pools and converters, Data-Juicer's defaults)."""
    return absolute_rows(rows, media_keys(recipe), media_base(dataset_path))
