"""Text generation: a local model directory, or an OpenAI-compatible HTTP endpoint.

* :func:`generate_local` runs a model saved by ``train_lm`` (or any local
  ``save_pretrained`` directory with a ``tokenizer.json``), greedy by default or
  sampled; each row is seeded on its own from (``seed``, row index), so the
  same rows with the same seed give the same outputs.
* :func:`generate_api` POSTs to ``<base_url>/chat/completions`` with the
  standard library only (no ``openai`` package). Retries on connection errors,
  timeouts, HTTP 429 and 5xx with linear back-off; other HTTP errors fail at
  once; after ``max_retries`` retries it raises :class:`InferenceError`.

Both return NEW row dicts (the inputs are not modified) with the generated text
under ``out_key``. A prompt is a string, or a list of chat messages
(``[{"role": ..., "content": ...}]``).
"""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Iterable, Mapping

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
# OpenAI-compatible API

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def _endpoint(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions"


def chat_completion(
    payload: Mapping[str, Any],
    *,
    base_url: str,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 3,
    retry_backoff: float = 1.0,
) -> dict:
    """POST one chat-completions request; return the decoded JSON answer.

    Up to ``1 + max_retries`` attempts; waits ``retry_backoff * attempt``
    seconds between them (or the server's numeric ``Retry-After``, at most 60 s).
    """
    url = _endpoint(base_url)
    body = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    attempts = 1 + max(0, int(max_retries))
    last = "no attempt"
    for attempt in range(1, attempts + 1):
        wait = retry_backoff * attempt
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
            try:
                return json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                last = f"answer is not JSON: {raw[:200]!r}"
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace") if exc.fp is not None else ""
            last = f"HTTP {exc.code} {exc.reason}: {detail}".strip()
            if exc.code not in _RETRY_STATUS:
                raise InferenceError(f"POST {url} failed: {last}") from None
            ra = exc.headers.get("Retry-After") if exc.headers else None
            if ra and ra.strip().isdigit():
                wait = min(60.0, float(ra))
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(exc).__name__}: {reason}"
        if attempt < attempts and wait > 0:
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
) -> list[dict]:
    """Ask an OpenAI-compatible ``/chat/completions`` endpoint for each row, in order.

    ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``) defaults to ``$OPENAI_BASE_URL``;
    ``api_key`` defaults to ``$OPENAI_API_KEY`` (no header when unset).
    ``extra_body`` is merged into every request (e.g. ``{"top_p": 0.9}``).
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise InferenceError("generate_api needs base_url (or $OPENAI_BASE_URL)")
    if api_key is None:
        api_key = os.environ.get("OPENAI_API_KEY") or None
    url = _endpoint(base_url)
    out = []
    for i, row in enumerate(rows):
        payload: dict[str, Any] = {
            "model": model,
            "messages": _messages(_get_prompt(row, prompt_key, i), system_prompt),
            "max_tokens": int(max_tokens),
        }
        if temperature is not None:
            payload["temperature"] = float(temperature)
        if extra_body:
            payload.update(extra_body)
        answer = chat_completion(payload, base_url=base_url, api_key=api_key, timeout=timeout,
                                 max_retries=max_retries, retry_backoff=retry_backoff)
        out.append({**row, out_key: _answer_text(answer, url)})
    return out


__all__ = ["InferenceError", "generate_local", "generate_api", "chat_completion"]
