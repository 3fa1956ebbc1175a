"""Text generation: a local model directory, or an OpenAI-compatible HTTP endpoint.

* :func:`generate_local` runs a model saved by ``train_lm`` (or any local
  ``save_pretrained`` directory with a ``tokenizer.json``), greedy by default or
  sampled; each row is seeded on its own from (``seed``, row index), so the
  same rows with the same seed give the same outputs.
* :func:`generate_api` POSTs to ``<base_url>/chat/completions`` (the
  OpenAI-compatible API: base URL, key from an environment variable) with the
  standard library only (no ``openai`` package): ``concurrency`` requests at
  once; retries on connection errors, timeouts, HTTP 429 and 5xx with
  exponential back-off (or the server's ``Retry-After``), within a ``deadline``
  per request; other HTTP errors fail at once. Answers are appended to
  ``partial_path`` as they arrive, so a killed or failed job, rerun, asks only
  the rows still missing.

Both return NEW row dicts (the inputs are not modified) with the generated text
under ``out_key``. A prompt is a string, or a list of chat messages
(``[{"role": ..., "content": ...}]``).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..errors import SandboxError


class InferenceError(SandboxError):
    """An inference request failed (bad answer, or still failing after the retries)."""


def _get_prompt(row: Mapping[str, Any], key: str, i: int):
    cur: Any = row
    if key in row:
        return row[key]
    for part in key.split("."):  # dotted keys reach into nested dicts
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            raise InferenceError(f"row {i} has no prompt key {key!r}")
    return cur


def _messages(prompt, system_prompt: str | None) -> list[dict]:
    if isinstance(prompt, list):
        msgs = [dict(m) for m in prompt]
    else:
        msgs = [{"role": "user", "content": "" if prompt is None else str(prompt)}]
    if system_prompt and not any(m.get("role") == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system_prompt})
    return msgs


def _flatten_messages(prompt) -> str:
    if isinstance(prompt, list):
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)
    return "" if prompt is None else str(prompt)


# --------------------------------------------------------------------------------------------
# local model


def generate_local(
    model_dir: str | os.PathLike,
    rows: Iterable[Mapping[str, Any]],
    prompt_key: str = "text",
    out_key: str = "response",
    max_new_tokens: int = 64,
    seed: int = 0,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    threads: int = 1,
) -> list[dict]:
    """Continue each row's prompt with a local causal LM.

    The prompt is encoded after a leading ``<|endoftext|>`` (as in training);
    if prompt + ``max_new_tokens`` exceed the model's context, the prompt keeps
    its LAST tokens (and ``max_new_tokens`` is capped at context - 1).
    Generation stops at ``<|endoftext|>``. ``do_sample=False`` is greedy
    (``seed`` unused); otherwise sampling with ``temperature``/``top_k``/``top_p``
    is seeded per row.
    """
    import torch

    from .evaluate import _load
    from .lm import model_context

    model, tok, eos = _load(model_dir, threads)
    ctx = model_context(model)
    max_new = max(1, min(int(max_new_tokens), ctx - 1))
    keep = ctx - max_new
    gen_kwargs: dict[str, Any] = {
        "max_new_tokens": max_new,
        "eos_token_id": eos,
        "pad_token_id": eos,
        "do_sample": bool(do_sample),
    }
    if do_sample:
        gen_kwargs["temperature"] = float(temperature)
        gen_kwargs["top_k"] = int(top_k) if top_k else 0
        if top_p is not None:
            gen_kwargs["top_p"] = float(top_p)
    else:  # silence "temperature is set but do_sample is False"-style warnings from model defaults
        gen_kwargs.update({"temperature": None, "top_k": None, "top_p": None})

    out = []
    with torch.inference_mode():
        for i, row in enumerate(rows):
            prompt = _flatten_messages(_get_prompt(row, prompt_key, i))
            ids = [eos, *tok.encode(prompt, add_special_tokens=False).ids][-keep:]
            x = torch.tensor([ids], dtype=torch.long)
            if do_sample:
                torch.manual_seed((int(seed) * 1_000_003 + i) % (2**63))
            y = model.generate(input_ids=x, attention_mask=torch.ones_like(x), **gen_kwargs)
            new = [t for t in y[0, x.shape[1]:].tolist()]
            if eos in new:
                new = new[: new.index(eos)]
            out.append({**row, out_key: tok.decode(new, skip_special_tokens=True)})
    return out


# --------------------------------------------------------------------------------------------
# OpenAI-compatible API: concurrent requests, retries with exponential back-off, a deadline per
# request, and answers appended to a partial file as they arrive (a rerun after a kill asks only
# the rows that have no answer yet).

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def _endpoint(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions"


def _backoff(retry_backoff: float, attempt: int, max_backoff: float) -> float:
    """Exponential back-off with full jitter: uniform in [b/2, b], b = retry_backoff * 2**(attempt-1)."""
    b = min(max_backoff, retry_backoff * (2 ** (attempt - 1)))
    return b / 2 + random.random() * b / 2


def _one_attempt(url: str, body: bytes, headers: dict, timeout: float) -> tuple[dict | None, str, bool, float | None]:
    """(answer, error, retryable, retry_after) of one POST."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        try:
            return json.loads(raw.decode("utf-8")), "", False, None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None, f"answer is not JSON: {raw[:200]!r}", True, None
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace") if exc.fp is not None else ""
        ra = exc.headers.get("Retry-After") if exc.headers else None
        retry_after = float(ra) if ra and ra.strip().isdigit() else None
        return None, f"HTTP {exc.code} {exc.reason}: {detail}".strip(), exc.code in _RETRY_STATUS, retry_after
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", True, None


def chat_completion(
    payload: Mapping[str, Any],
    *,
    base_url: str,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 3,
    retry_backoff: float = 1.0,
    deadline: float | None = None,
    max_backoff: float = 60.0,
) -> dict:
    """POST one chat-completions request; return the decoded JSON answer.

    Retries connection errors, timeouts, non-JSON answers, HTTP 429 and 5xx up to ``max_retries``
    times, waiting ``retry_backoff * 2**(attempt-1)`` seconds (jittered, at most ``max_backoff``;
    the server's numeric ``Retry-After`` when it sends one). ``deadline`` (seconds) bounds the
    whole request, retries and waits included; each attempt's timeout is cut to what is left.
    """
    url = _endpoint(base_url)
    body = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    attempts = 1 + max(0, int(max_retries))
    end = time.monotonic() + deadline if deadline else None
    last = "no attempt"
    for attempt in range(1, attempts + 1):
        left = end - time.monotonic() if end else None
        if left is not None and left <= 0:
            raise InferenceError(f"POST {url}: deadline of {deadline} s passed after {attempt - 1} attempt(s); "
                                 f"last error: {last}")
        answer, last, retryable, retry_after = _one_attempt(url, body, headers,
                                                           min(timeout, left) if left is not None else timeout)
        if answer is not None:
            return answer
        if not retryable:
            raise InferenceError(f"POST {url} failed: {last}")
        if attempt < attempts:
            wait = min(max_backoff, retry_after) if retry_after is not None else _backoff(retry_backoff, attempt,
                                                                                         max_backoff)
            if end is not None:
                wait = min(wait, max(0.0, end - time.monotonic()))
            time.sleep(wait)
    raise InferenceError(f"POST {url} failed after {attempts} attempts (max_retries={max_retries}); last error: {last}")


def _answer_text(answer: Mapping[str, Any], url: str) -> str:
    try:
        choice = answer["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise InferenceError(f"{url}: answer has no choices: {json.dumps(answer)[:300]}") from None
    msg = choice.get("message") if isinstance(choice, Mapping) else None
    if isinstance(msg, Mapping):
        content = msg.get("content")
        return "" if content is None else str(content)
    if isinstance(choice, Mapping) and "text" in choice:  # completions-style servers
        return str(choice["text"])
    raise InferenceError(f"{url}: choice has no message content: {json.dumps(choice)[:300]}")


def _row_key(i: int, payload: Mapping[str, Any]) -> str:
    """Row index + hash of the exact request: a changed prompt or setting is asked again."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    return f"{i}:{digest}"


def _read_partial(path: Path) -> dict[str, str]:
    """Answers saved by an earlier (possibly killed) run; a torn last line is ignored."""
    done: dict[str, str] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
                done[rec["key"]] = rec["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


def resolve_api_key(api_key: str | None = None, api_key_env: str | None = None) -> str | None:
    """The key: ``api_key`` if given, else ``$<api_key_env>`` (default ``$OPENAI_API_KEY``); None = no header."""
    if api_key:
        return api_key
    return os.environ.get(api_key_env or DEFAULT_KEY_ENV) or None


def generate_api(
    rows: Iterable[Mapping[str, Any]],
    *,
    base_url: str | None = None,
    model: str,
    api_key: str | None = None,
    prompt_key: str = "text",
    out_key: str = "response",
    max_tokens: int = 256,
    timeout: float = 60.0,
    max_retries: int = 3,
    temperature: float | None = None,
    system_prompt: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
    retry_backoff: float = 1.0,
    api_key_env: str | None = None,
    concurrency: int = 4,
    deadline: float | None = None,
    partial_path: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Ask an OpenAI-compatible ``/chat/completions`` endpoint for each row; rows keep their order.

    ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``) defaults to ``$OPENAI_BASE_URL``; the key is
    ``api_key``, else ``$<api_key_env>`` (default ``$OPENAI_API_KEY``; no header when unset).
    ``extra_body`` is merged into every request (e.g. ``{"top_p": 0.9}``). Up to ``concurrency``
    requests are in flight at once. With ``partial_path``, each answer is appended there as it
    arrives; a rerun (after a kill or a failure) reuses those answers and asks only the rest.
    ``progress(done, total)`` is called after each answer.
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise InferenceError("generate_api needs base_url (or $OPENAI_BASE_URL)")
    key = resolve_api_key(api_key, api_key_env)
    url = _endpoint(base_url)
    rows = list(rows)
    payloads = []
    for i, row in enumerate(rows):
        payload: dict[str, Any] = {"model": model, "max_tokens": int(max_tokens),
                                   "messages": _messages(_get_prompt(row, prompt_key, i), system_prompt)}
        if temperature is not None:
            payload["temperature"] = float(temperature)
        if extra_body:
            payload.update(extra_body)
        payloads.append(payload)
    keys = [_row_key(i, p) for i, p in enumerate(payloads)]
    partial = Path(partial_path) if partial_path else None
    done = _read_partial(partial) if partial else {}
    texts: dict[int, str] = {i: done[k] for i, k in enumerate(keys) if k in done}
    todo = [i for i in range(len(rows)) if i not in texts]
    lock = threading.Lock()
    sink = None
    if partial and todo:
        partial.parent.mkdir(parents=True, exist_ok=True)
        sink = open(partial, "a", encoding="utf-8")

    def ask(i: int) -> None:
        answer = chat_completion(payloads[i], base_url=base_url, api_key=key, timeout=timeout,
                                 max_retries=max_retries, retry_backoff=retry_backoff, deadline=deadline)
        text = _answer_text(answer, url)
        with lock:
            texts[i] = text
            if sink:
                sink.write(json.dumps({"key": keys[i], "text": text}, ensure_ascii=False) + "\n")
                sink.flush()
            if progress:
                progress(len(texts), len(rows))

    try:
        _run_all(ask, todo, max(1, int(concurrency)), url, partial, len(rows), texts)
    finally:
        if sink:
            sink.close()
    return [{**row, out_key: texts[i]} for i, row in enumerate(rows)]


def _run_all(ask, todo: list[int], concurrency: int, url: str, partial: Path | None, total: int,
             texts: dict) -> None:
    """Run ``ask`` over ``todo`` with a pool; the first failure cancels what has not started."""
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(todo)), thread_name_prefix="api") as pool:
        futures = {pool.submit(ask, i): i for i in todo}
        try:
            for fut in as_completed(futures):
                fut.result()
        except InferenceError as exc:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            kept = f"; {len(texts)} of {total} answers kept in {partial}, a rerun asks only the rest" if partial else ""
            raise InferenceError(f"row {futures[fut]}: {exc}{kept}") from None


__all__ = ["InferenceError", "generate_local", "generate_api", "chat_completion", "resolve_api_key"]
