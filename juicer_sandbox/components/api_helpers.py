"""The original DJ-Sandbox's helper functions for LLM inference, by the same names.

An inference job names them in ``extra_configs``: ``build_messages_func`` turns one input row
into chat messages (or a list of message lists: a batch, one answer each), and
``parse_output_func`` turns the model's answer into the value stored under ``infer_res_key``.
Both get ``func_kwargs`` as keyword arguments. They are looked up in :data:`HELPER_FUNCS`
(a registry, never ``eval``); a config naming another function is an error at plan time.

* ``build_messages``: system prompt from ``item[system_key]`` (default key ``system``; left
  out when empty), user message ``item[query_key]`` (default ``query``).
* ``build_messages_for_math_qa``: like ``build_messages``, with the user message
  ``"Question: <item[query_key]>\\nAnswer: <item[response_key]>"`` (default ``response``).
* ``parse_output``: the answer unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import SandboxError


def _item_value(item: dict, key: str, func: str) -> Any:
    if key not in item:
        raise SandboxError(f"{func}: input row has no key {key!r} (its keys: {', '.join(map(str, item)) or 'none'}); "
                           f"set func_kwargs to the row's keys")
    return item[key]


def _with_system(item: dict, system_key: str, user: str) -> list[dict]:
    system = item.get(system_key, "")
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    return messages


def build_messages(item: dict, **kwargs) -> list[dict]:
    query = _item_value(item, kwargs.get("query_key", "query"), "build_messages")
    return _with_system(item, kwargs.get("system_key", "system"), query)


def build_messages_for_math_qa(item: dict, **kwargs) -> list[dict]:
    question = _item_value(item, kwargs.get("query_key", "query"), "build_messages_for_math_qa")
    answer = _item_value(item, kwargs.get("response_key", "response"), "build_messages_for_math_qa")
    return _with_system(item, kwargs.get("system_key", "system"), f"Question: {question}\nAnswer: {answer}")


def parse_output(output: str, item: dict, **kwargs) -> Any:
    return output


BUILD_FUNCS: dict[str, Callable[..., Any]] = {
    "build_messages": build_messages,
    "build_messages_for_math_qa": build_messages_for_math_qa,
}
PARSE_FUNCS: dict[str, Callable[..., Any]] = {"parse_output": parse_output}
HELPER_FUNCS = {**BUILD_FUNCS, **PARSE_FUNCS}
FUNC_KWARGS = {"system_key", "query_key", "response_key"}


def message_batches(item: dict, build: str, kwargs: dict) -> tuple[list[list[dict]], bool]:
    """(list of message lists, whether the row was a batch) for one input row."""
    messages = BUILD_FUNCS[build](item, **kwargs)
    if messages and isinstance(messages[0], list):
        return messages, True
    return [messages], False


def helper_schema() -> dict:
    """The extra_configs keys that select helpers (merged into the inference schemas)."""
    return {
        "build_messages_func": {"enum": sorted(BUILD_FUNCS)},
        "parse_output_func": {"enum": sorted(PARSE_FUNCS)},
        "func_kwargs": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
    }
