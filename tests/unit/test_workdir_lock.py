"""The work-dir lock refuses a second run of the same work dir, from another process and directory."""
from __future__ import annotations

import subprocess
import sys

import pytest

from juicer_sandbox.core import workdir_lock
from juicer_sandbox.errors import SandboxError

HOLD = "import sys, time; from juicer_sandbox.core import workdir_lock as w; w.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)"


def test_a_second_process_is_refused_while_the_first_holds_it(tmp_path):
    work = tmp_path / "out"
    other_cwd = tmp_path / "elsewhere"
    other_cwd.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(work)], cwd=other_cwd, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SandboxError, match=rf"work_dir {work} is in use by another run \(pid {holder.pid}"):
            workdir_lock.acquire(str(work))
    finally:
        holder.kill()
        holder.wait()
    workdir_lock.acquire(str(work))  # the kernel released the killed holder's lock
    workdir_lock.release(str(work))
