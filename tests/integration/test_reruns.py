"""A rerun after a failure reruns what failed and everything downstream; state cannot lie.

Real Snakemake runs of a two-job sandbox without Data-Juicer (downsample -> compare), so each
case costs a few seconds. Issue 14: "rerunning the same config then prints 'Nothing to be
done', exits 0, and summary, report and models keep the old results".
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import demo_slice, downsample_and_compare, run_snakemake

pytestmark = pytest.mark.e2e

DOWN = "out/anonymous/execution_down"
COMPARE = "out/anonymous/evaluation_compare"


def _setup(workdir: Path, **extra) -> tuple[Path, Path]:
    data = demo_slice(workdir, 40)
    spec = downsample_and_compare(data)
    spec["execution_job_configs"][0]["extra_configs"].update(extra)
    sandbox = workdir / "sb.yaml"
    sandbox.write_text(yaml.safe_dump(spec))
    run_snakemake(workdir, str(sandbox))
    return sandbox, data


def _set(sandbox: Path, **values) -> None:
    spec = yaml.safe_load(sandbox.read_text())
    spec["execution_job_configs"][0]["extra_configs"].update(values)
    sandbox.write_text(yaml.safe_dump(spec))


def _mtime(workdir: Path, rel: str) -> float:
    return (workdir / rel).stat().st_mtime_ns


def _assert_all_rebuilt_after(workdir: Path, proc, since: int) -> None:
    assert "Nothing to be done" not in proc.stdout + proc.stderr
    for rel in (f"{DOWN}/context.json", f"{COMPARE}/context.json", "out/summary.json"):
        assert _mtime(workdir, rel) > since, f"{rel} was not rebuilt"
    assert _mtime(workdir, f"{COMPARE}/context.json") >= _mtime(workdir, f"{DOWN}/context.json")


def _fail_down_transiently(workdir: Path) -> Path:
    """An outage outside inputs and params: the job's scratch directory cannot be created."""
    blocker = workdir / "out" / ".scratch" / "anonymous" / "execution_down"
    if blocker.is_dir():
        os.rmdir(blocker)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("in the way")
    return blocker


def test_a_transient_failure_then_a_rerun_of_the_same_config(workdir):
    sandbox, _ = _setup(workdir)
    _set(sandbox, target_num_samples=6)
    blocker = _fail_down_transiently(workdir)
    failed = run_snakemake(workdir, str(sandbox), check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stdout + failed.stderr
    assert "juicer-sandbox: job anonymous/execution_down failed" in failed.stderr
    assert "out/logs/anonymous/execution_down.log" in failed.stderr
    assert "Traceback" in (workdir / "out/logs/anonymous/execution_down.log").read_text()
    assert not (workdir / DOWN / "context.json").exists()
    since = _mtime(workdir, f"{COMPARE}/context.json")  # the earlier run's, still there
    blocker.unlink()  # the outage is over; nothing in the config changed
    _assert_all_rebuilt_after(workdir, run_snakemake(workdir, str(sandbox)), since)


def test_a_failed_job_whose_cause_was_fixed_by_going_back(workdir):
    sandbox, _ = _setup(workdir)
    since = _mtime(workdir, f"{COMPARE}/context.json")
    _set(sandbox, target_num_samples=6)
    _fail_down_transiently(workdir).unlink()
    _fail_down_transiently(workdir)
    assert run_snakemake(workdir, str(sandbox), check=False).returncode != 0
    (workdir / "out/.scratch/anonymous/execution_down").unlink()
    _set(sandbox, target_num_samples=5)  # back to the config the old results came from
    _assert_all_rebuilt_after(workdir, run_snakemake(workdir, str(sandbox)), since)


def test_moving_a_conflicting_export_away_then_rerunning(workdir):
    sandbox, _ = _setup(workdir, export_path="exports/down")
    since = _mtime(workdir, f"{COMPARE}/context.json")
    ledger = workdir / "out" / ".published"
    for f in ledger.iterdir():
        f.unlink()  # the export now looks like someone else's file
    _set(sandbox, target_num_samples=6)
    failed = run_snakemake(workdir, str(sandbox), check=False)
    assert failed.returncode != 0 and "refusing to overwrite exports/down" in failed.stderr
    os.rename(workdir / "exports/down", workdir / "moved_away")  # the tool's own advice
    _assert_all_rebuilt_after(workdir, run_snakemake(workdir, str(sandbox)), since)
    assert (workdir / "exports/down").exists()


def test_content_changes_rerun_whatever_the_mtime(workdir):
    sandbox, data = _setup(workdir)
    since = _mtime(workdir, f"{COMPARE}/context.json")
    old = data.stat()
    rows = data.read_text().splitlines()
    data.write_text("\n".join(reversed(rows)) + "\n")  # same size, other content
    os.utime(data, ns=(old.st_atime_ns, old.st_mtime_ns - 10**12))  # older, as cp -p / rsync -a leave it
    _assert_all_rebuilt_after(workdir, run_snakemake(workdir, str(sandbox)), since)


def test_a_record_that_does_not_parse_is_rebuilt(workdir):
    sandbox, _ = _setup(workdir)
    since = _mtime(workdir, f"{COMPARE}/context.json")
    record = workdir / DOWN / "context.json"
    record.write_text(record.read_text()[:50])  # truncated
    proc = run_snakemake(workdir, str(sandbox))
    assert "does not parse" in proc.stderr
    _assert_all_rebuilt_after(workdir, proc, since)
    assert json.loads(record.read_text())["status"] == "done"


def test_exports_restored_and_hand_edits_kept_aside(workdir):
    sandbox, _ = _setup(workdir, export_path="exports/down")
    export = workdir / "exports" / "down"
    files = sorted(p for p in export.rglob("*") if p.is_file())
    original = {p: p.read_bytes() for p in files}
    import shutil

    shutil.rmtree(export)
    proc = run_snakemake(workdir, str(sandbox))
    assert "restored the deleted export" in proc.stderr
    assert {p: p.read_bytes() for p in files} == original
    files[0].write_text("edited by hand\n")
    _set(sandbox, target_num_samples=6)  # the job reruns and publishes again
    run_snakemake(workdir, str(sandbox))
    kept = [p for p in (workdir / "exports").iterdir() if ".edited-" in p.name]
    assert len(kept) == 1
    assert (kept[0] / files[0].relative_to(export)).read_text() == "edited by hand\n"
    summary = json.loads((workdir / "out/summary.json").read_text())
    down = next(j for j in summary["jobs"] if j["job"].endswith("down"))
    assert "was edited after this job wrote it" in down["metrics"]["warnings"][0]


def test_a_second_run_of_the_same_work_dir_is_refused(workdir):
    sandbox, _ = _setup(workdir)
    hold = ("import sys, time; from juicer_sandbox.core import workdir_lock as w; w.acquire(sys.argv[1]); "
            "print('held', flush=True); time.sleep(120)")
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", hold, str(workdir / "out")], cwd=elsewhere,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        _set(sandbox, target_num_samples=7)  # there is work to do
        proc = run_snakemake(workdir, str(sandbox), check=False)
        assert proc.returncode != 0 and "is in use by another run" in proc.stderr
        assert f"pid {holder.pid}" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
    run_snakemake(workdir, str(sandbox))


def test_a_truncated_output_file_reruns_its_producer(workdir):
    sandbox, _ = _setup(workdir)
    since = _mtime(workdir, f"{COMPARE}/context.json")
    record = json.loads((workdir / DOWN / "context.json").read_text())
    assert record["output_files"], "the record vouches for its output files"
    out = workdir / DOWN / "artifacts" / next(iter(record["output_files"]))
    out.write_text(out.read_text()[:30])  # truncated by hand, or by a full disk
    proc = run_snakemake(workdir, str(sandbox))
    assert "was changed after the job wrote it" in proc.stderr
    _assert_all_rebuilt_after(workdir, proc, since)
    assert json.loads(out.read_text().splitlines()[0])
