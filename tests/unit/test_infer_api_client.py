"""The API client as users need it: a concurrency limit, retries with back-off on 429/5xx and timeouts, a deadline
per request, the key from a named environment variable, and answers saved as they arrive so that a rerun after a
kill or a failure asks only the rows still missing. A real HTTP server on 127.0.0.1 answers; every wait is bounded.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from juicer_sandbox.models.infer import InferenceError, generate_api

REPO = Path(__file__).resolve().parents[2]


class Server:
    """An OpenAI-compatible echo server; ``behave(prompt, n)`` may return (status, body, headers) or sleep first."""

    def __init__(self, behave=None):
        self.asked: list[str] = []
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        self.behave = behave
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                prompt = body["messages"][-1]["content"]
                with srv.lock:
                    srv.asked.append(prompt)
                    n = srv.asked.count(prompt)
                    srv.inflight += 1
                    srv.max_inflight = max(srv.max_inflight, srv.inflight)
                try:
                    status, answer, headers = (srv.behave(prompt, n, self.headers) if srv.behave else None) or \
                        (200, {"choices": [{"message": {"role": "assistant", "content": f"echo: {prompt}"}}]}, {})
                finally:
                    with srv.lock:
                        srv.inflight -= 1
                raw = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, kill)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def make_server():
    servers = []

    def make(behave=None):
        servers.append(Server(behave))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _rows(n):
    return [{"text": f"r{i}"} for i in range(n)]


def test_concurrency_limit_is_reached_and_kept(make_server):
    barrier = threading.Barrier(3, timeout=20)

    def behave(prompt, n, headers):
        if prompt in ("r0", "r1", "r2"):
            barrier.wait()  # the first three return only once three requests are in flight together
        return None

    srv = make_server(behave)
    out = generate_api(_rows(12), base_url=srv.url, model="m", concurrency=3, timeout=30, retry_backoff=0)
    assert [r["response"] for r in out] == [f"echo: r{i}" for i in range(12)]  # order kept
    assert srv.max_inflight == 3
    assert sorted(srv.asked) == sorted(f"r{i}" for i in range(12))


def test_retries_429_with_retry_after_5xx_and_timeouts(make_server):
    def behave(prompt, n, headers):
        if prompt == "r0" and n == 1:
            return 429, {"error": "slow down"}, {"Retry-After": "0"}
        if prompt == "r1" and n <= 2:
            return 503, {"error": "busy"}, {}
        if prompt == "r2" and n == 1:
            time.sleep(1.5)  # longer than the client's timeout: the client retries
        return None

    srv = make_server(behave)
    out = generate_api(_rows(3), base_url=srv.url, model="m", concurrency=3, timeout=0.5, max_retries=3,
                       retry_backoff=0.01)
    assert [r["response"] for r in out] == ["echo: r0", "echo: r1", "echo: r2"]
    assert srv.asked.count("r0") == 2 and srv.asked.count("r1") == 3 and srv.asked.count("r2") == 2


def test_deadline_bounds_one_request(make_server):
    srv = make_server(lambda prompt, n, headers: (503, {"error": "down"}, {}))
    with pytest.raises(InferenceError, match="deadline of 0.6 s passed"):
        generate_api(_rows(1), base_url=srv.url, model="m", max_retries=1000, retry_backoff=0.1, deadline=0.6)
    assert 1 < len(srv.asked) < 1000


def test_key_from_named_environment_variable(make_server, monkeypatch):
    seen = []
    srv = make_server(lambda prompt, n, headers: seen.append(headers.get("Authorization")))
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    generate_api(_rows(1), base_url=srv.url, model="m", api_key_env="MY_PROVIDER_KEY")
    generate_api(_rows(1), base_url=srv.url, model="m")
    assert seen == ["Bearer sk-from-env", "Bearer sk-default"]


def test_failure_keeps_answers_and_rerun_asks_only_the_rest(make_server, tmp_path):
    broken = {"on": True}
    srv = make_server(lambda prompt, n, headers: (400, {"error": "bad row"}, {})
                      if prompt == "r3" and broken["on"] else None)
    partial = tmp_path / "answers.jsonl"
    with pytest.raises(InferenceError, match=r"row 3: .*HTTP 400.*answers kept in"):
        generate_api(_rows(6), base_url=srv.url, model="m", concurrency=1, partial_path=partial)
    assert srv.asked[:4] == ["r0", "r1", "r2", "r3"]
    answered = {int(json.loads(line)["key"].split(":")[0]) for line in partial.read_text().splitlines()}
    assert {0, 1, 2} <= answered and 3 not in answered  # a request already started when r3 failed may finish
    broken["on"] = False
    srv.asked.clear()
    out = generate_api(_rows(6), base_url=srv.url, model="m", concurrency=2, partial_path=partial)
    assert [r["response"] for r in out] == [f"echo: r{i}" for i in range(6)]
    assert sorted(srv.asked) == [f"r{i}" for i in range(6) if i not in answered]
    # a changed prompt is asked again, the unchanged rows are not
    srv.asked.clear()
    rows = _rows(6)
    rows[1]["text"] = "r1 changed"
    generate_api(rows, base_url=srv.url, model="m", partial_path=partial)
    assert srv.asked == ["r1 changed"]


CHILD = """
import json, sys
from juicer_sandbox.models.infer import generate_api
generate_api([{"text": f"r{i}"} for i in range(10)], base_url=sys.argv[1], model="m", concurrency=2,
             partial_path=sys.argv[2], timeout=60)
"""


def test_resume_after_kill_asks_no_answered_row_again(make_server, tmp_path):
    reached = threading.Event()
    release = threading.Event()

    def behave(prompt, n, headers):
        if prompt in ("r6", "r7") and n == 1:  # the killed run's last requests hang until it is killed
            reached.set()
            release.wait(timeout=30)
        return None

    srv = make_server(behave)
    partial = tmp_path / "answers.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, srv.url, str(partial)], env=env)
    try:
        assert reached.wait(timeout=60), "the child never reached row 6"
        deadline = time.monotonic() + 30  # both hanging rows in flight, rows 0-5 answered (concurrency 2)
        while len(srv.asked) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        release.set()
    answered_before = {json.loads(line)["key"].split(":")[0] for line in partial.read_text().splitlines()}
    assert answered_before == {str(i) for i in range(6)}
    srv.asked.clear()
    out = generate_api(_rows(10), base_url=srv.url, model="m", concurrency=2, partial_path=partial)
    assert [r["response"] for r in out] == [f"echo: r{i}" for i in range(10)]
    assert sorted(srv.asked) == ["r6", "r7", "r8", "r9"]  # no answered row asked twice
