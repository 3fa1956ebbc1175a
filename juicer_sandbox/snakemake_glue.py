"""Small helpers the rule files call: user-error reporting and per-job resources."""
from __future__ import annotations

import sys

from .errors import SandboxError


def fail_on_user_error(fn, *args, **kwargs):
    """Run fn; a SandboxError ends Snakemake with the message only (no traceback), exit code 1."""
    try:
        return fn(*args, **kwargs)
    except SandboxError as exc:
        print(f"juicer-sandbox: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def check_config_keys(config: dict, schema_path: str) -> None:
    """Unknown top-level workflow-config keys (e.g. ``--config sanbox=x.yaml``) are a user error
    naming the valid keys (the schema's ``properties``; it also says ``additionalProperties: false``)."""
    import yaml

    with open(schema_path, encoding="utf-8") as fh:
        valid = sorted((yaml.safe_load(fh) or {}).get("properties") or {})
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise SandboxError(f"unknown workflow-config key(s) {', '.join(map(repr, unknown))} (from config/config.yaml "
                           f"or --config); valid keys: {', '.join(valid)} (see config/README.md)")


def rule_resources(config: dict, job) -> dict:
    """threads/mem_mb/gpus for a job: job `resources:` > config.resources[rule] > config defaults."""
    res = {"threads": config.get("threads", 1), "mem_mb": config.get("mem_mb", 4000), "gpus": 0}
    res.update((config.get("resources") or {}).get(job.rule, {}))
    res.update(job.cfg.resources or {})
    return res
