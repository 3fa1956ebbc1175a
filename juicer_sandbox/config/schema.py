"""JSON-schema validation with defaults filled in, and readable error locations."""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "config" / "schemas"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    with open(SCHEMA_DIR / name, "r", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe loader)


def key_path(parts) -> str:
    """['pipelines', 0, 'p', 'probe_job_configs', 1, 'hook'] -> 'pipelines[0].p.probe_job_configs[1].hook'"""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


@lru_cache(maxsize=None)
def _filling():
    """Draft 2020-12 with defaults filled in. jsonschema is imported on the first validation (a job that
    validates nothing, most of them, starts 40 ms sooner)."""
    import jsonschema

    return _fill_defaults(jsonschema, jsonschema.Draft202012Validator)


def _fill_defaults(jsonschema, validator_cls):
    validate_props = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def validate(instance: Any, schema: dict, file: str | None = None, prefix: str = "") -> Any:
    """Validate `instance` in place (defaults are filled in); raise ConfigError at the first problem."""
    import jsonschema

    validator = _filling()(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        where = key_path(list(err.absolute_path))
        if prefix:
            where = f"{prefix}.{where}" if where and not where.startswith("[") else f"{prefix}{where}"
        msg = err.message
        if err.validator == "additionalProperties":
            allowed = sorted((err.schema.get("properties") or {}).keys())
            msg += f" (allowed keys: {', '.join(allowed)})" if allowed else ""
        raise ConfigError(msg, file=file, key=where or None)
    return instance
