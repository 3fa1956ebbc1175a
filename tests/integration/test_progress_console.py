"""Failures on Snakemake's console, through a real run of the workflow (the periodic progress lines are tested
in tests/unit/test_progress.py: whether a job lives long enough for one here would be a matter of timing)."""
from __future__ import annotations

import yaml

from .conftest import downsample_and_compare, run_snakemake


def test_unexpected_failure_prints_log_path_and_traceback_end(workdir):
    # a bug (not a user error): the console names the log and shows the traceback's end; the log has all of it
    bad = workdir / "data/rows.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe latin-1 bytes"}\n')  # not UTF-8: not foreseen by the code
    (workdir / "sandbox.yaml").write_text(yaml.safe_dump(downsample_and_compare(bad, work_dir="out_bad")))
    proc = run_snakemake(workdir, "sandbox.yaml", check=False)
    text = proc.stderr + proc.stdout
    assert proc.returncode != 0
    assert "juicer-sandbox: job anonymous/execution_down failed" in text
    log = workdir / "out_bad/logs/anonymous/execution_down.log"
    assert str(log.relative_to(workdir)) in text or str(log) in text
    assert "Traceback (most recent call last)" in log.read_text()
