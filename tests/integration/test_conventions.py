"""Workflow-catalog conventions: snakefmt-clean rule files, a license, documented config keys (test_workflow_config)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SNAKEFMT = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or shutil.which("snakefmt")


@pytest.mark.skipif(SNAKEFMT is None, reason="snakefmt not installed (it is in requirements.lock: make install)")
def test_snakefmt_check_is_clean():
    proc = subprocess.run([SNAKEFMT, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_license_is_apache_2_and_declared():
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    assert 'license = "Apache-2.0"' in (REPO / "pyproject.toml").read_text()
