"""generate_api against a tiny OpenAI-compatible server on 127.0.0.1 (stdlib http.server in a thread)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from juicer_sandbox.models.infer import InferenceError, generate_api


class FakeOpenAI:
    """Records requests; answers from ``script`` (a list of (status, body)) then echoes the last user message."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, object]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.script:
                    status, answer = fake.script.pop(0)
                else:
                    user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
                    status, answer = 200, {"id": "x", "object": "chat.completion",
                                           "choices": [{"index": 0, "finish_reason": "stop",
                                                        "message": {"role": "assistant",
                                                                    "content": f"echo: {user}"}}]}
                raw = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def api():
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_requests_and_answers(api):
    rows = [{"q": "hello", "id": 1}, {"q": [{"role": "user", "content": "hi there"}], "id": 2}]
    out = generate_api(rows, base_url=api.base_url, model="tiny", api_key="sk-test", prompt_key="q",
                       out_key="ans", max_tokens=7, temperature=0.0, system_prompt="be brief", timeout=5,
                       concurrency=1)
    assert [r["ans"] for r in out] == ["echo: hello", "echo: hi there"]
    assert [r["id"] for r in out] == [1, 2] and "ans" not in rows[0]
    first = api.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-test"
    assert first["body"] == {"model": "tiny", "max_tokens": 7, "temperature": 0.0,
                             "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": "hello"}]}
    assert api.requests[1]["body"]["messages"][-1] == {"role": "user", "content": "hi there"}


def test_base_url_from_env_and_full_endpoint(api, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = generate_api([{"text": "x"}], model="m", timeout=5)
    assert out[0]["response"] == "echo: x" and "Authorization" not in api.requests[-1]["headers"]
    out = generate_api([{"text": "y"}], base_url=api.base_url + "/chat/completions/", model="m", timeout=5)
    assert out[0]["response"] == "echo: y" and api.requests[-1]["path"] == "/v1/chat/completions"


def test_retries_on_500_then_succeeds(api):
    api.script = [(500, {"error": "boom"}), (503, "busy"), (200, "{not json")]
    out = generate_api([{"text": "again"}], base_url=api.base_url, model="m", max_retries=3, retry_backoff=0,
                       timeout=5)
    assert out[0]["response"] == "echo: again"
    assert len(api.requests) == 4


def test_clear_error_after_max_retries(api):
    api.script = [(500, {"error": "down"})] * 10
    with pytest.raises(InferenceError) as ei:
        generate_api([{"text": "x"}], base_url=api.base_url, model="m", max_retries=2, retry_backoff=0, timeout=5)
    msg = str(ei.value)
    assert "after 3 attempts" in msg and "max_retries=2" in msg and "HTTP 500" in msg and "down" in msg
    assert len(api.requests) == 3


def test_client_error_is_not_retried(api):
    api.script = [(401, {"error": "bad key"})]
    with pytest.raises(InferenceError, match="HTTP 401"):
        generate_api([{"text": "x"}], base_url=api.base_url, model="m", max_retries=5, retry_backoff=0, timeout=5)
    assert len(api.requests) == 1


def test_malformed_answer_and_unreachable_server(api):
    api.script = [(200, {"no": "choices"})]
    with pytest.raises(InferenceError, match="no choices"):
        generate_api([{"text": "x"}], base_url=api.base_url, model="m", retry_backoff=0, timeout=5)
    port = api.server.server_address[1]
    api.server.shutdown()
    api.server.server_close()
    with pytest.raises(InferenceError, match="after 2 attempts"):
        generate_api([{"text": "x"}], base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1,
                     retry_backoff=0, timeout=2)
    with pytest.raises(InferenceError, match="prompt key"):
        generate_api([{"other": "x"}], base_url=f"http://127.0.0.1:{port}/v1", model="m")
