"""A literal api_key never reaches a written file; api_key_env is read from the environment."""
from __future__ import annotations

import json

import pytest

from juicer_sandbox.errors import SandboxError
from juicer_sandbox.core.secrets import REDACTED, redact, resolve_secrets, stash_secrets


def test_a_literal_key_is_stashed_and_comes_back_at_run_time(monkeypatch):
    cfg = {"type": "api", "model": "m", "api_key": "sk-very-secret", "nested": [{"api_key": "sk-2"}]}
    planned = stash_secrets(cfg, "p/00_job")
    assert "sk-" not in json.dumps(planned)
    assert planned["api_key"] == REDACTED and planned["api_key_env"].startswith("JUICER_SANDBOX_SECRET_")
    assert stash_secrets(cfg, "p/00_job") == planned  # stable: a rerun plans the same params
    run = resolve_secrets(planned)
    assert run["api_key"] == "sk-very-secret" and run["nested"][0]["api_key"] == "sk-2"
    assert "sk-" not in json.dumps(redact(run))


def test_api_key_env_names_the_variable(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    assert resolve_secrets({"api_key_env": "MY_KEY"})["api_key"] == "sk-from-env"
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(SandboxError, match="extra_configs.api_key_env: the environment variable MY_KEY is not set"):
        resolve_secrets({"extra_configs": {"api_key_env": "MY_KEY"}})
