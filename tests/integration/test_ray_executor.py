"""Data-Juicer's Ray executor on a local Ray head: same kept rows as the default executor.

A Ray head is started on 127.0.0.1 (`ray start --head --block`, every port chosen free, its own
temp dir) in a new session; `run_recipe_ray` connects to it by address. The finalizer stops
exactly that session's processes (not `ray stop --force`, which kills every Ray on the machine,
other people's included).
"""
from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.e2e

RAY = str(Path(sys.executable).with_name("ray"))
FILTERS = [{"text_length_filter": {"min_len": 200, "max_len": 5000}},
           {"alphanumeric_filter": {"min_ratio": 0.6}}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(sid: int) -> list[int]:
    """Processes in session `sid` (the one the head was started in): what we started, nothing else."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            if fields[0] != "Z" and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


def _stop_session(sid: int, grace: float = 10) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _session_pids(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while _session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _session_pids(sid):
            return


@pytest.fixture(scope="module")
def ray_head(request):
    """Address (127.0.0.1:port) of a Ray head with 2 CPUs that this fixture started."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray puts unix sockets under it
    log = open(Path(temp_dir) / "head.log", "w+")
    cmd = [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
           "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
           "--temp-dir", temp_dir,
           "--dashboard-agent-listen-port", str(_free_port()), "--dashboard-agent-grpc-port", str(_free_port()),
           "--runtime-env-agent-port", str(_free_port()), "--metrics-export-port", str(_free_port())]
    head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))

    def stop():
        _stop_session(head.pid)  # start_new_session: the session id is the head's pid
        head.wait(timeout=30)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)

    request.addfinalizer(stop)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read()
        if "Ray runtime started" in text:
            return f"127.0.0.1:{port}"
        assert head.poll() is None, f"ray start exited ({head.returncode}):\n{text[-4000:]}"
        time.sleep(0.5)
    pytest.fail(f"Ray head not up after 90 s:\n{text[-4000:]}")


def _freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                          text=True, check=True).stdout


def test_ray_executor_keeps_what_the_default_executor_keeps(ray_head, tmp_path):
    from juicer_sandbox.dj.engine import run_recipe
    from juicer_sandbox.dj.ray_engine import run_recipe_ray

    data = tmp_path / "raw.jsonl"
    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as src, open(data, "w") as fh:
        fh.writelines(itertools.islice(src, 300))
    recipe = {"project_name": "ray-test", "dataset_path": str(data), "text_keys": "text", "process": FILTERS}
    ray_mode = os.environ.get("RAY_JOB")
    before = _freeze()

    n_ray = run_recipe_ray(recipe, tmp_path / "ray", tmp_path / "ray.jsonl", ray_head)
    assert os.environ.get("RAY_JOB") == ray_mode, "Data-Juicer's Ray mode leaked into this process"
    n_default = run_recipe(recipe, tmp_path / "default", tmp_path / "default.jsonl")

    assert _freeze() == before, "a run changed the Python environment"
    assert 0 < n_ray < 300
    assert n_ray == n_default
    ray_rows = [json.loads(line) for line in open(tmp_path / "ray.jsonl")]
    default_rows = [json.loads(line) for line in open(tmp_path / "default.jsonl")]
    assert len(ray_rows) == n_ray
    # the same documents, in the input order, with the filters' stats kept
    assert [r["text"] for r in ray_rows] == [r["text"] for r in default_rows]
    assert {"text_len", "alnum_ratio"} <= set(ray_rows[0]["__dj__stats__"])
    assert all(200 <= r["__dj__stats__"]["text_len"] <= 5000 for r in ray_rows)
