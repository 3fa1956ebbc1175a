"""Third-party code that is not a package, fetched at a pinned commit and recorded.

``fetch(repo, commit, dest, record)`` clones ``repo`` into ``dest`` (or reuses a checkout there),
checks out exactly ``commit`` (detached) and writes ``record`` (JSON: repo, commit, dest, the HEAD it
verified). Called by ``juicer-sandbox code fetch <family> [--dest DIR]`` and by rule ``fetch_code``
(``rules/thirdparty.smk``, output ``<dest>.fetched.json``), so a workflow can depend on the record.
A checkout with local changes is never touched: the fetch stops and says so.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

from ..errors import SandboxError
from ..io import write_json

RECORD_SUFFIX = ".fetched.json"
PATCH_FILE = "juicer-sandbox.patch"  # the applied patch, kept in the checkout's .git


def _git(*args: str, cwd: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SandboxError(f"git {shlex.join(args)} failed (exit {proc.returncode}): "
                           f"{(proc.stderr.strip().splitlines() or [''])[-1]}")
    return proc.stdout.strip()


def fetch(repo: str, commit: str, dest: str | os.PathLike, record: str | os.PathLike | None = None) -> dict:
    """Make ``dest`` a checkout of ``repo`` at ``commit``; return (and write) the record."""
    dest = Path(dest)
    if (dest / ".git").exists():
        if _git("status", "--porcelain", "--untracked-files=no", cwd=str(dest)):
            raise SandboxError(f"{dest} has local changes: not touching it (commit or stash them, or fetch "
                               f"into another --dest)")
    elif dest.exists() and any(dest.iterdir()):
        raise SandboxError(f"{dest} exists and is not a git checkout: fetch into an empty or new directory")
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--no-checkout", "--quiet", repo, str(dest))
    try:
        _git("cat-file", "-e", f"{commit}^{{commit}}", cwd=str(dest))
    except SandboxError:
        _git("fetch", "--quiet", "origin", commit, cwd=str(dest))
    _git("checkout", "--quiet", "--detach", commit, cwd=str(dest))
    head = _git("rev-parse", "HEAD", cwd=str(dest))
    if head != commit:
        raise SandboxError(f"{dest}: HEAD is {head} after checking out {commit}")
    out = {"repo": repo, "commit": commit, "dest": str(dest.resolve()), "head": head,
           "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if record:
        write_json(Path(record), out)
    return out


def apply_patch(dest: str | os.PathLike, url: str, sha256: str, text: bytes | None = None) -> str:
    """Apply the patch at ``url`` (checked against ``sha256``) to the checkout ``dest``, once: a checkout
    that already has it is left as it is. ``text``: the patch's bytes when already at hand. Returns
    "applied" or "already applied"."""
    import hashlib
    import urllib.request

    if text is None:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                text = resp.read()
        except OSError as exc:
            raise SandboxError(f"cannot download the patch {url}: {exc}") from None
    digest = hashlib.sha256(text).hexdigest()
    if digest != sha256:
        raise SandboxError(f"the patch {url} has sha256 {digest}, not the pinned {sha256}")
    patch = Path(dest) / ".git" / PATCH_FILE
    patch.write_bytes(text)
    try:
        _git("apply", "--check", "-R", str(patch), cwd=str(dest))
        return "already applied"
    except SandboxError:
        _git("apply", "--whitespace=nowarn", str(patch), cwd=str(dest))
        return "applied"


def fetch_family(fam, dest: str | None = None, record: str | None = None, log: str | None = None) -> dict:
    """``fetch`` with a family's pinned repo and commit (default dest: ``.thirdparty/<family>``), then its
    pinned patch if it has one (recorded with the commit); ``log`` gets one line of what was checked out."""
    if fam.code is None:
        raise SandboxError(f"family {fam.name!r} has no third-party code to fetch")
    dest = dest or os.path.join(fam.code.default_dir, fam.name)
    record = record or str(dest).rstrip("/") + RECORD_SUFFIX
    if not fam.code.patch:
        return _logged(fetch(fam.code.repo, fam.code.commit, dest, record), fam, log)
    applied = Path(dest) / ".git" / PATCH_FILE
    if applied.exists():  # our own patch counts as local changes for fetch: take it out first
        try:
            _git("apply", "-R", "--whitespace=nowarn", str(applied), cwd=str(dest))
        except SandboxError:
            pass  # not applied (or edited since): fetch says what it finds
    out = fetch(fam.code.repo, fam.code.commit, dest)
    out["patch"] = {"url": fam.code.patch[0], "sha256": fam.code.patch[1], "state": apply_patch(dest, *fam.code.patch)}
    write_json(Path(record), out)
    return _logged(out, fam, log)


def _logged(out: dict, fam, log: str | None) -> dict:
    if log:
        Path(log).write_text(f"{fam.name}: {out['repo']} @ {out['head']} in {out['dest']}"
                             + (f" + patch ({out['patch']['state']})" if "patch" in out else "") + "\n",
                             encoding="utf-8")
    return out
