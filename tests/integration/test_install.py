"""Install anywhere: the Makefile's interpreter check and what `make install` would install.

* With only a Python 3.10 on PATH, `make` stops with one line naming the version it needs.
* `make resolve` runs the install's exact pip command (same lock, same torch index logic) as a
  dry run from a fresh venv in a fresh directory and leaves pip's JSON report: the CPU install
  holds torch's +cpu build and no nvidia-*/triton package. What it proves: the lock resolves
  against the package sources reachable from this machine without pulling a CUDA wheel. What it
  cannot prove here: what download.pytorch.org serves (this machine cannot reach it; the +cpu
  wheel comes from pip's local find-links), and that the downloads really install (dry run).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO


def _make(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def _python310() -> str | None:
    for cand in ("python3.10", *map(str, Path("/root/.pyenv/versions").glob("3.10*/bin/python3.10"))):
        path = shutil.which(cand) if "/" not in cand else cand
        if path and subprocess.run([path, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 10))"],
                                   capture_output=True).returncode == 0:
            return path
    return None


def test_python_310_only_stops_with_one_line(tmp_path):
    py310 = _python310()
    if not py310:
        pytest.skip("no Python 3.10 interpreter on this machine to stand for an old system")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("python3", "python3.10"):
        (bindir / name).symlink_to(py310)
    # PATH holds only the 3.10 interpreter; make and bash are called by absolute path
    proc = subprocess.run(["/usr/bin/make", "--no-print-directory", "-C", str(REPO), "check-python"],
                          capture_output=True, text=True, env={**os.environ, "PATH": str(bindir)}, timeout=60)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("make")]
    assert len(lines) == 1, proc.stderr
    assert "needs Python >= 3.11" in lines[0]


def test_python_311_is_found():
    proc = _make("check-python")
    assert proc.returncode == 0, proc.stderr
    proc = _make("check-python", "PYTHON=python3.11")
    assert proc.returncode == 0, proc.stderr


def test_lock_pins_the_cpu_torch_and_cuda_is_opt_in(tmp_path):
    lock = (REPO / "requirements.lock").read_text().splitlines()
    torch = [ln for ln in lock if ln.startswith("torch==")]
    assert torch and torch[0].endswith("+cpu"), torch
    assert not [ln for ln in lock if re.match(r"(?i)nvidia[-_]|triton==", ln)]
    assert any(ln.startswith("snakefmt==") for ln in lock)
    # requires-python agrees with the lock's header
    assert 'requires-python = ">=3.11"' in (REPO / "pyproject.toml").read_text()
    # TORCH=cuda rewrites the pin to PyPI's build; TORCH=cpu keeps +cpu and adds the CPU index when it answers
    cuda = _make("-n", "install", f"VENV={tmp_path}/v", "TORCH=cuda")
    assert cuda.returncode == 0, cuda.stderr
    assert "sed -E 's/^(torch==[^+]+)\\+cpu$/\\1/'" in cuda.stdout
    assert "--extra-index-url" in _make("-n", "install", f"VENV={tmp_path}/v").stdout
    bad = _make("resolve", f"RESOLVE_DIR={tmp_path}/r", "TORCH=rocm")
    assert bad.returncode != 0 and "TORCH must be cpu or cuda" in bad.stderr


@pytest.mark.slow
def test_fresh_cpu_install_has_no_nvidia_package(tmp_path):
    report = tmp_path / "report.json"
    proc = _make("resolve", f"RESOLVE_DIR={tmp_path}/venv", f"REPORT={report}", timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    installs = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert installs["torch"].endswith("+cpu")
    assert not sorted(n for n in installs if n.startswith("nvidia") or n == "triton")
    assert {"snakemake", "py-data-juicer", "snakefmt"} <= set(installs)
