"""Secrets never reach a file the workflow writes.

A config names the environment variable that holds a key (``api_key_env: OPENAI_API_KEY``);
a literal ``api_key`` is accepted but kept out of every file: when the plan is compiled the
value moves into an environment variable of this process (inherited by the job processes
Snakemake starts) and the config keeps ``"***"`` plus ``api_key_env`` naming that variable.
So Snakemake's params and metadata, ``resolved_config.json`` and the records hold ``***``,
and editing the key does not rerun anything. At run time :func:`resolve_secrets` puts the
value back for the component, and :func:`redact` is applied to whatever is written.
"""
from __future__ import annotations

import copy
import hashlib
import os
from typing import Any

from ..errors import SandboxError

REDACTED = "***"
ENV_PREFIX = "JUICER_SANDBOX_SECRET_"


def is_secret_key(key: Any) -> bool:
    k = str(key).lower()
    return k in ("api_key", "api_token", "access_token", "password", "secret_key") or k.endswith("_api_key")


def stash_secrets(obj: Any, owner: str) -> Any:
    """A copy of obj with literal secrets replaced by '***' and `<key>_env` naming the variable
    that now holds them (set in this process's environment). `owner` (e.g. the job id) makes
    the variable name stable across runs."""
    if isinstance(obj, list):
        return [stash_secrets(v, f"{owner}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        if is_secret_key(key) and isinstance(value, str) and value and value != REDACTED:
            name = ENV_PREFIX + hashlib.sha256(f"{owner}.{key}".encode()).hexdigest()[:16].upper()
            os.environ[name] = value
            out[key] = REDACTED
            out[f"{key}_env"] = name
        else:
            out[key] = stash_secrets(value, f"{owner}.{key}")
    return out


def resolve_secrets(obj: Any, where: str = "") -> Any:
    """The run-time copy: each `<key>_env` read from the environment into `<key>`."""
    if isinstance(obj, list):
        return [resolve_secrets(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    out = {k: resolve_secrets(v, f"{where}.{k}" if where else str(k)) for k, v in obj.items()}
    for key in list(out):
        if not (isinstance(key, str) and key.endswith("_env") and is_secret_key(key[:-4])):
            continue
        name, target = out[key], key[:-4]
        if out.get(target) not in (None, "", REDACTED):
            continue  # a literal given at run time (e.g. by another job) wins
        if not isinstance(name, str) or not os.environ.get(name):
            shown = f"{where}.{key}" if where else key
            hint = " (it held the key written in the config: rerun from the same snakemake command)" \
                if str(name).startswith(ENV_PREFIX) else ""
            raise SandboxError(f"{shown}: the environment variable {name} is not set{hint}")
        out[target] = os.environ[name]
    return out


def redact(obj: Any) -> Any:
    """A copy safe to write: every secret-named value is '***'."""
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, dict):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "") else redact(v)) for k, v in obj.items()}
    return copy.copy(obj)
