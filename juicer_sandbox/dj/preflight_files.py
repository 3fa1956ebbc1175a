"""A dataset's files for the pre-flight (``preflight.py``): which files a dataset_path names, their lines, and
the copies Data-Juicer reads instead of the originals: without the bad records (``on_bad_records: skip``), and
with media paths made absolute where Data-Juicer would resolve them against another base than the one they
were written for (``media.py``)."""
from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
from pathlib import Path

from ..errors import SandboxError
from ..io import atomic_path
from .media import absolute_row, media_base


_DATA_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst", ".parquet")
_LINE_FILES: set[str] = set()  # .json files found to hold JSON lines, not one array


def dataset_files(dataset_path: str) -> list[str]:
    """The local files a dataset_path names: one path (a file or a directory), or a mixture
    '[w1] a.jsonl [w2] b.jsonl' as Data-Juicer splits it."""
    if os.path.exists(dataset_path):
        tokens = [dataset_path]
    else:
        try:
            tokens = [t for t in shlex.split(dataset_path) if not re.fullmatch(r"[0-9.]+", t)]
        except ValueError as exc:
            raise SandboxError(f"dataset_path {dataset_path!r}: cannot split it into paths ({exc})") from None
    files = []
    for token in tokens:
        if os.path.isdir(token):
            files += sorted(str(p) for p in Path(token).rglob("*") if p.is_file() and not p.name.startswith("."))
        elif os.path.isfile(token):
            files.append(token)
        else:
            whole = f" (read as a mixture of {len(tokens)} paths)" if len(tokens) > 1 else ""
            raise SandboxError(f"dataset_path: {token} does not exist{whole}")
    return files


def _zst_lines(path: str):
    import zstandard

    dobj, rest = zstandard.ZstdDecompressor().decompressobj(), b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            data = dobj.decompress(chunk)
            while dobj.eof and dobj.unused_data:  # several frames back to back
                left = dobj.unused_data
                dobj = zstandard.ZstdDecompressor().decompressobj()
                data += dobj.decompress(left)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            yield from lines
    if not dobj.eof:
        raise EOFError("the compressed stream ends early (truncated file)")
    if rest:
        yield rest


def _open_lines(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".zst"):
        return _zst_lines(path)
    return open(path, "rb", buffering=1 << 20)


def _rewrite_media(rec, media_keys: list[str], base: str):
    return absolute_row(rec, media_keys, base) if isinstance(rec, dict) else rec


def copy_without(path: str, bad: set[int], dest_dir: Path, media_keys: list[str], rewrite: bool,
                 base: str, stem: str | None = None) -> str:
    """A copy of one file without the bad lines (rows), in dest_dir; relative media paths made absolute."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if stem is None:
        stem = re.sub(r"\s+", "_", Path(path).name)
        for ext in (".gz", ".zst", ".jsonl", ".json", ".parquet"):
            stem = stem[: -len(ext)] if stem.endswith(ext) else stem
    if path.lower().endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        keep = pa.array([i + 1 not in bad for i in range(table.num_rows)])
        out = dest_dir / f"{stem}.parquet"
        pq.write_table(table.filter(keep), out)
        return str(out)
    out = dest_dir / f"{stem}.jsonl"
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        if path.lower().endswith(".json") and path not in _LINE_FILES:
            with open(path, "rb") as src:
                rows = [r for i, r in enumerate(json.loads(src.read()), 1) if i not in bad]
            for rec in rows:
                fh.write(json.dumps(_rewrite_media(rec, media_keys, base), ensure_ascii=False).encode() + b"\n")
        else:
            for lineno, raw in enumerate(_open_lines(path), 1):
                if lineno in bad or raw.isspace() or not raw:
                    continue
                if rewrite:
                    raw = json.dumps(_rewrite_media(json.loads(raw), media_keys, base), ensure_ascii=False).encode()
                fh.write(raw.rstrip(b"\r\n") + b"\n")
    return str(out)


def absolute_copies(path: str, own_bases: dict[str, str], rebase: list[str], dest: Path,
                    media_keys: list[str]) -> str:
    """The dataset_path to give Data-Juicer when sandbox-written files of a mixture or directory hold media
    paths relative to themselves: those files copied with absolute paths (a directory: all its files)."""
    base = media_base(path)
    if os.path.isdir(path):
        root = dest / "absolute" / re.sub(r"\s+", "_", Path(path).name)
        shutil.rmtree(root, ignore_errors=True)  # a copy left by an earlier run of the job
        for f in dataset_files(path):
            if not f.lower().endswith(_DATA_SUFFIXES):
                continue  # media and other files: not rows Data-Juicer reads
            rel = Path(os.path.relpath(f, path))
            copy_without(f, set(), root / rel.parent, media_keys, True, own_bases.get(f, base),
                         stem=rel.name.split(".")[0])
        return str(root)
    tokens = shlex.split(path)
    copies = {f: copy_without(f, set(), dest / "absolute", media_keys, True, own_bases[f], stem=f"{i}")
              for i, f in enumerate(rebase)}
    return " ".join(shlex.quote(copies.get(t, t)) for t in tokens)
