"""Media paths in datasets: where Data-Juicer looks for them, and keeping them valid in every copy.

Data-Juicer 1.6.1 reads a relative media path (``images``/``videos``/``audios``, or the recipe's
``image_key``/``video_key``/``audio_key``) against a base directory it takes from the recipe's
``dataset_path`` (``format/formatter.py:unify_format``): the file's directory when it names one file,
the directory itself when it names a directory, and nothing (the current directory) when it names
a mixture of files or does not exist. URLs (``http://``, ``s3://``, ...) count as absolute. The
pre-flight check (``preflight.py``) resolves paths the same way, so what it calls missing is what
Data-Juicer would fail to read.

A copy of a dataset written somewhere else (a probe's dataset with stats, a processed dataset, a
data pool, a cleaned copy, an export) must not carry a relative path to its new place, where it no
longer resolves. The rule for every dataset a job writes:

* rows are first made **absolute**: relative paths resolved against the base of the file they were
  read from (for rows Data-Juicer loaded, against the current directory, since Data-Juicer already
  joined its base). A resolved path keeps its file name and has its directory resolved physically
  (``..`` after a symlink means what the file system says, not what the text says); absolute paths
  with ``..`` parts (Data-Juicer's join of its base and ``../x``) are cleaned the same way;
* then, in a dataset file written **inside the work dir**, media that also lie inside the work dir
  (the unpacked corpus of ``unpack_dataset_archive``, media ops made under a processing job's
  ``artifacts/produced_media/``) are written **relative to the dataset file's directory**
  (:func:`place`), which is how Data-Juicer reads a ``dataset_path`` naming that one file. The
  runner does this for every ``*.jsonl`` under a job's artifacts after the hook ran
  (:func:`place_tree`, whatever wrote them, Data-Juicer included), publishing an export rewrites
  for the export's place (:func:`rewrite_file`); media outside the work dir stay absolute.

So a moved work dir keeps every dataset valid (``tests/integration/test_e2e_media.py`` moves one and
opens every medium), as long as media outside it stay where they are. Readers of our own resolve a
relative path against the file they read, as Data-Juicer does (``dataset_rows.read_rows``, the
captioner's ``read_pairs``, the converters). Data-Juicer itself resolves against another base when a
``dataset_path`` is a directory or a mixture: the pre-flight (``preflight.py``) then checks a
sandbox-written file's relative paths against its own directory and gives Data-Juicer a copy with
absolute paths. The per-op stats store in ``.scratch`` keeps absolute rows, keyed by the dataset's
absolute path, so a moved dataset never reads what was stored for its old place.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from ..io import atomic_path

MEDIA_KEYS = {"image_key": "images", "audio_key": "audios", "video_key": "videos"}
_REMOTE = ("http://", "https://", "s3://", "gs://", "hdfs://")


def media_keys(recipe: dict | None = None) -> list[str]:
    """The row keys holding media paths for a recipe (Data-Juicer's defaults when it names none)."""
    recipe = recipe or {}
    keys = [recipe.get(k) or default for k, default in MEDIA_KEYS.items()]
    return [k for k in keys if isinstance(k, str)]


def all_media_keys(recipe: dict | None = None) -> list[str]:
    """The recipe's media keys and Data-Juicer's default ones (a job may write both kinds of rows)."""
    return list(dict.fromkeys(media_keys(recipe) + list(MEDIA_KEYS.values())))


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


def read_dataset(path: str | os.PathLike) -> Iterator[dict]:
    """The rows of a JSON-lines dataset with relative media paths made absolute against the file, as
    Data-Juicer reads it: what a component that writes the rows elsewhere must start from."""
    from ..io import iter_jsonl

    return copy_rows(str(path), iter_jsonl(path))


def copy_rows(dataset_path: str, rows: Iterable[dict], recipe: dict | None = None) -> Iterator[dict]:
    """Rows read from ``dataset_path``, ready to be written anywhere: media paths made absolute (under the
    recipe's media keys; without a recipe, as for data pools and converters, Data-Juicer's defaults)."""
    return absolute_rows(rows, media_keys(recipe), media_base(dataset_path))


# ---- placing media paths in the files a job writes inside the work dir ----------------------------------------------

def work_roots(work_dir: str | os.PathLike) -> tuple[str, ...]:
    """The work dir as rows may name it: its absolute path and, if different, its physical one."""
    absolute = os.path.abspath(work_dir)
    return tuple(dict.fromkeys((absolute, os.path.realpath(absolute))))


def place(path: str, out_dir: str, roots: Iterable[str]) -> str:
    """An absolute media path as a dataset file in ``out_dir`` should hold it: relative to ``out_dir`` when both
    lie inside one of the work-dir ``roots`` (the pair moves together), else unchanged (absolute or a URL)."""
    if not path or not os.path.isabs(path):
        return path
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix) and (out_dir + os.sep).startswith(prefix):
            return os.path.relpath(path, out_dir)
    return path


def place_row(row: dict, keys: Iterable[str], out_dir: str, roots: Iterable[str]) -> dict:
    """place() on the row's media paths (in place); returns the row."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, str):
            row[key] = place(value, out_dir, roots)
        elif isinstance(value, list):
            row[key] = [place(p, out_dir, roots) if isinstance(p, str) else p for p in value]
    return row


def _needles(keys: Iterable[str]) -> list[bytes]:
    return [json.dumps(k).encode() for k in keys]


def _mentions(path: str, needles: list[bytes], chunk: int = 1 << 24) -> bool:
    """Whether the file holds any needle, read in chunks (a text dataset of a million rows is never held whole)."""
    keep = max(map(len, needles), default=1) - 1
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            window = tail + block
            if any(n in window for n in needles):
                return True
            tail = window[-keep:] if keep else b""
    return False


def rewrite_file(src: str, dst: str, keys: Iterable[str], roots: Iterable[str]) -> bool:
    """Write the JSON-lines dataset ``src`` as ``dst`` (may be ``src``) with its media paths valid there: relative
    ones resolved against ``src``'s directory, then placed for ``dst``'s directory. Lines naming no media key are
    copied byte for byte, streaming. Returns False when nothing was written (no line names a media key) or
    ``src`` was rewritten in place with the same bytes."""
    keys, roots = list(keys), list(roots)
    needles = _needles(keys)
    if not _mentions(src, needles):
        return False
    src_dir, dst_dir = media_base(src), os.path.dirname(os.path.abspath(dst))
    changed = False
    with atomic_path(dst) as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        for line in fin:
            if any(n in line for n in needles):
                row = json.loads(line)
                if isinstance(row, dict):
                    new = place_row(absolute_row(dict(row), keys, src_dir), keys, dst_dir, roots)
                    if new != row:
                        line, changed = (json.dumps(new, ensure_ascii=False) + "\n").encode(), True
            fout.write(line)
    return changed or src != dst


def place_tree(directory: str | os.PathLike, keys: Iterable[str], roots: Iterable[str]) -> list[str]:
    """rewrite_file() in place on every ``*.jsonl`` dataset under ``directory`` (a job's artifacts after it ran:
    whatever wrote them, Data-Juicer included); returns the files changed."""
    changed = []
    for path in sorted(Path(directory).rglob("*.jsonl")):
        if path.is_file() and rewrite_file(str(path), str(path), keys, roots):
            changed.append(str(path))
    return changed
