"""Data-Juicer's Ray executor on a local Ray head: same kept rows as the default executor.

A Ray head is started on 127.0.0.1 (`ray start --head --block`, every port chosen free, its own
temp dir) in a new session; `run_recipe_ray` connects to it by address from a separate driver
process, like a Snakemake job would. The head listens on every interface, so it uses Ray's token
authentication with a token of its own (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH), which also keeps
the test independent of a ~/.ray/auth_token left by an earlier local `ray.init()` (Ray 2.60 turns
token auth on for `ray start` when that file exists, but a driver only sends a token when
RAY_AUTH_MODE=token). The finalizer stops exactly that session's processes (not
`ray stop --force`, which kills every Ray on the machine, other people's included).
"""
from __future__ import annotations

import gzip
import itertools
import json
import os
import secrets
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


def _stop_session(sid: int, grace: float = 5) -> None:
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
    """(address 127.0.0.1:port, environment a driver needs) of a 2-CPU Ray head started here."""
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray puts unix sockets under it
    token = Path(temp_dir) / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    log = open(Path(temp_dir) / "head.log", "w+")
    cmd = [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
           "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
           "--temp-dir", temp_dir,
           "--dashboard-agent-listen-port", str(_free_port()), "--dashboard-agent-grpc-port", str(_free_port()),
           "--runtime-env-agent-port", str(_free_port()), "--metrics-export-port", str(_free_port())]
    head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)

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
            return f"127.0.0.1:{port}", env
        assert head.poll() is None, f"ray start exited ({head.returncode}):\n{text[-4000:]}"
        time.sleep(0.5)
    pytest.fail(f"Ray head not up after 90 s:\n{text[-4000:]}")


def _freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                          text=True, check=True).stdout


# The driver: a fresh process, as in a Snakemake job. Ray mode must not leak into the default run.
DRIVER = """
import json, os, sys
from pathlib import Path
from juicer_sandbox.dj.engine import run_recipe
from juicer_sandbox.dj.ray_engine import run_recipe_ray

recipe, tmp, address = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
before = os.environ.get("RAY_JOB")
n_ray = run_recipe_ray(recipe, tmp / "ray", tmp / "ray.jsonl", address)
leaked = os.environ.get("RAY_JOB") != before
n_default = run_recipe(recipe, tmp / "default", tmp / "default.jsonl")
print("RESULT " + json.dumps({"ray": n_ray, "default": n_default, "leaked": leaked}))
"""


def test_ray_executor_keeps_what_the_default_executor_keeps(ray_head, tmp_path):
    address, env = ray_head
    data = tmp_path / "raw.jsonl"
    with gzip.open(REPO / "data/demo/raw.jsonl.gz", "rt", encoding="utf-8") as src, open(data, "w") as fh:
        fh.writelines(itertools.islice(src, 300))
    recipe = {"project_name": "ray-test", "dataset_path": str(data), "text_keys": "text", "process": FILTERS}
    before = _freeze()
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(recipe), str(tmp_path), address],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert _freeze() == before, "a run changed the Python environment"
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert "Connecting to existing Ray cluster" in proc.stderr  # it used the head, not a local Ray

    assert not result["leaked"], "Data-Juicer's Ray mode leaked into the driver process"
    n_ray, n_default = result["ray"], result["default"]
    assert 0 < n_ray < 300
    assert n_ray == n_default
    ray_rows = [json.loads(line) for line in open(tmp_path / "ray.jsonl")]
    default_rows = [json.loads(line) for line in open(tmp_path / "default.jsonl")]
    assert len(ray_rows) == n_ray
    # the same documents, in the input order, with the filters' stats kept
    assert [r["text"] for r in ray_rows] == [r["text"] for r in default_rows]
    assert {"text_len", "alnum_ratio"} <= set(ray_rows[0]["__dj__stats__"])
    assert all(200 <= r["__dj__stats__"]["text_len"] <= 5000 for r in ray_rows)


ORIGINAL = Path(os.environ.get("DJ_ORIGINAL", REPO.parent / "shared" / "reference" / "dj_original"))
MEDIA = ORIGINAL / "tests/ops/data"


@pytest.mark.skipif(not (MEDIA / "img1.png").is_file(), reason=f"the original's demo media are not at {MEDIA}")
def test_ray_workers_run_the_image_deduplicator_without_torchvision(ray_head, tmp_path):
    """Data-Juicer refuses image_deduplicator under Ray; it runs as its Ray twin, whose hasher is pickled
    into Ray workers, which import imagededup afresh: without torchvision they need the same hash-only
    import as a job's own process (dj/runtime.py), given them as Ray's worker_process_setup_hook."""
    address, env = ray_head
    rows = [{"text": text, "images": [str(MEDIA / name)]} for text, name in
            [("a bed", "img1.png"), ("a bus", "img2.jpg"), ("the bed again", "img1.png"), ("a woman", "img3.jpg")]]
    data = tmp_path / "images.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = {"project_name": "ray-images", "dataset_path": str(data), "text_keys": "text", "image_key": "images",
              "process": [{"image_shape_filter": {"min_width": 300}}, {"image_deduplicator": {"method": "phash"}}]}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(recipe), str(tmp_path), address],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert result["ray"] == result["default"] == 3  # run as ray_image_deduplicator: the same samples kept
    kept = [json.loads(line) for line in open(tmp_path / "ray.jsonl")]
    assert [r["text"] for r in kept] == ["a bed", "a bus", "a woman"]
    assert all("__dj__is_unique" not in r and r["__dj__stats__"]["image_width"] for r in kept)
