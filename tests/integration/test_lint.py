"""The workflow passes Snakemake's own linter (log, env and script directives on every rule)."""
from __future__ import annotations

import subprocess

from .conftest import REPO, SNAKEMAKE


def test_snakemake_lint_is_clean():
    proc = subprocess.run([SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr
