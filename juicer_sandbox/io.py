"""Small, dependency-free file helpers shared by hooks and components.

Every writer here is atomic: it writes a temporary file next to the target and
renames it into place, so a killed job never leaves a half-written file that a
rerun would trust.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


def abs_path(path: str | os.PathLike) -> str:
    """The one spelling of a path used to match user paths, aliases and stats sources."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(str(path))))


def _open_read(path: str | os.PathLike):
    p = str(path)
    if p.endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8")
    return open(p, "r", encoding="utf-8")


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSON-lines file (optionally .gz) into a list of dicts."""
    return list(iter_jsonl(path))


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    with _open_read(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:  # name the file and line
                from .errors import SandboxError

                raise SandboxError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename onto `path` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes files private; give them the usual permissions
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict], ensure_ascii: bool = False) -> int:
    """Write rows as JSON lines atomically (gzip if the name ends in .gz). Returns the row count."""
    n = 0
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw:
            # mtime=0 and no file name in the gzip header: the same rows give the same bytes
            binary = gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) if str(path).endswith(".gz") \
                else raw
            with io.TextIOWrapper(binary, encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=ensure_ascii))
                    fh.write("\n")
                    n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    """Write JSON atomically with sorted keys (stable bytes for the same content)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=indent, sort_keys=True, ensure_ascii=False, default=str)
            fh.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, "r", encoding="utf-8") as fh:
        return json.load(fh)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def replace_dir(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Move directory `src` onto `dst`, replacing an older `dst` only after `src` is complete."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old.{os.getpid()}")
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_npz(path: str | os.PathLike, arrays: dict, meta: dict) -> str:
    """Arrays plus a JSON ``meta`` entry in one compressed ``.npz``, written atomically (model files
    of the small scorers; :func:`read_npz` reads them back without pickle). Returns the path."""
    import numpy as np

    payload = dict(arrays, meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)
    return str(path)


def read_npz(path: str | os.PathLike, what: str, fmt: str) -> tuple[dict, dict]:
    """(arrays, meta) of a :func:`write_npz` file whose meta names format ``fmt``; otherwise one
    SandboxError line naming ``what`` and the file."""
    import numpy as np

    from .errors import SandboxError

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "meta"}
            meta = json.loads(z["meta"].tobytes().decode())
    except FileNotFoundError:
        raise SandboxError(f"{what} not found: {path}") from None
    except (OSError, KeyError, ValueError) as exc:
        raise SandboxError(f"cannot read {what} {path}: {exc}") from None
    if meta.get("format") != fmt:
        raise SandboxError(f"{path} is not a {fmt} file")
    return arrays, meta
