"""pip's configured package sources, handed to uv (which does not read pip's configuration).

Standard library only: :mod:`juicer_sandbox.envs` imports it, and that module also runs inside venvs that hold
nothing but an env file's packages.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path


def pip_sources(python: str = sys.executable) -> dict[str, list[str]]:
    """pip's configured package sources (all scopes, PIP_* variables included), by option name."""
    try:
        out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_pip_config(out)


def parse_pip_config(text: str) -> dict[str, list[str]]:
    """Parse ``pip config list`` lines such as ``global.find-links='/opt/wheels'``."""
    wanted = {"index-url", "extra-index-url", "find-links", "constraint", "no-index", "cert"}
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^[^.=\s]*\.([\w-]+)=(.*)$", line.strip())
        if not m or m.group(1) not in wanted:
            continue
        try:
            value = " ".join(shlex.split(m.group(2)))
        except ValueError:
            value = m.group(2).strip("'\"")
        for item in value.split():
            if item not in found.setdefault(m.group(1), []):
                found[m.group(1)].append(item)
    return found


def uv_source_args(sources: dict[str, list[str]]) -> tuple[list[str], dict[str, str]]:
    """uv options (and environment variables) equivalent to pip's sources.

    pip takes the best matching version across all its sources; uv by default takes a package
    from the first index that has it, which would e.g. stop at an older numpy in a local extra
    index. ``--index-strategy unsafe-best-match`` gives pip's behaviour.
    """
    args: list[str] = []
    env: dict[str, str] = {}
    if sources.get("no-index", ["false"])[-1].lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    for url in sources.get("index-url", [])[-1:]:
        args += ["--index-url", url]
    for url in sources.get("extra-index-url", []):
        args += ["--extra-index-url", url]
    for link in sources.get("find-links", []):
        args += ["--find-links", link]
    for path in sources.get("constraint", []):
        if os.path.exists(path):
            args += ["--constraint", path]
    if sources.get("extra-index-url") or sources.get("find-links"):
        args += ["--index-strategy", "unsafe-best-match"]
    for cert in sources.get("cert", [])[-1:]:
        if "SSL_CERT_FILE" not in os.environ and os.path.exists(cert):
            env["SSL_CERT_FILE"] = cert
    return args, env


def find_uv() -> str | None:
    """uv next to Snakemake's interpreter (pip-installed), then $UV, then on PATH."""
    for cand in (os.environ.get("UV"), str(Path(sys.executable).with_name("uv")), shutil.which("uv")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None
