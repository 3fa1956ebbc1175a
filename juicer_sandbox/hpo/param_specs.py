"""One parameter of a W&B sweep: its distribution inferred, its keys and values checked, nested
specs flattened to dotted names (used by :func:`juicer_sandbox.hpo.sweep.load_sweep`)."""
from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from ..errors import ConfigError

#: distribution -> (required keys, {optional key: default})
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {}),
    "categorical_w_probabilities": (("values", "probabilities"), {}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform": (("min", "max"), {}),
    "log_uniform_values": (("min", "max"), {}),
    "inv_log_uniform": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "q_log_uniform": (("min", "max"), {"q": 1.0}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _canon(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _param_spec(name: str, raw: Any, file: str | None) -> dict:
    """One parameter's normalised spec: ``distribution`` plus every key with its default filled."""
    key = f"parameters.{name}"
    spec = _spec_keys(raw, file, key)

    def bad(k, msg):
        return ConfigError(msg, file=file, key=f"{key}.{k}")

    _check_numbers(spec, bad)
    _check_lists(spec, bad)
    return spec


def _spec_keys(raw: Any, file: str | None, key: str) -> dict:
    """The distribution (given or inferred) and the keys it allows and needs, defaults filled."""
    if not isinstance(raw, dict):
        raise ConfigError("a parameter must be a mapping such as {values: [...]} or {min: .., max: ..}",
                          file=file, key=key)
    raw = dict(raw)
    dist = raw.pop("distribution", None)
    if dist is None:
        if "values" in raw:
            dist = "categorical_w_probabilities" if "probabilities" in raw else "categorical"
        elif "value" in raw:
            dist = "constant"
        elif "min" in raw and "max" in raw:
            dist = "int_uniform" if _is_int(raw["min"]) and _is_int(raw["max"]) else "uniform"
        else:
            raise ConfigError("cannot infer the distribution: give `values`, `value`, `min`+`max`, "
                              "or `distribution`", file=file, key=key)
    if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        raise ConfigError(f"unknown distribution {dist!r}; one of {', '.join(DISTRIBUTIONS)}",
                          file=file, key=f"{key}.distribution")
    if dist == "categorical" and "probabilities" in raw:
        raise ConfigError("`probabilities` needs distribution categorical_w_probabilities (or no distribution)",
                          file=file, key=f"{key}.probabilities")
    required, optional = DISTRIBUTIONS[dist]
    for k in raw:
        if k not in required and k not in optional:
            allowed = ", ".join(("distribution",) + required + tuple(optional))
            raise ConfigError(f"unknown key {k!r} for distribution {dist} (allowed: {allowed})",
                              file=file, key=f"{key}.{k}")
    for k in required:
        if k not in raw:
            raise ConfigError(f"distribution {dist} needs `{k}`", file=file, key=key)
    spec = {"distribution": dist}
    spec.update(copy.deepcopy(optional))
    spec.update(copy.deepcopy(raw))
    return spec


def _check_numbers(spec: dict, bad) -> None:
    dist = spec["distribution"]
    for k in ("min", "max", "q", "mu", "sigma", "a", "b"):
        if k in spec and not _is_num(spec[k]):
            raise bad(k, f"`{k}` must be a number, got {spec[k]!r}")
        if k in spec and not math.isfinite(spec[k]):
            raise bad(k, f"`{k}` must be finite")
    if dist == "int_uniform":
        for k in ("min", "max"):
            if not _is_int(spec[k]):
                raise bad(k, f"int_uniform needs integer `{k}`, got {spec[k]!r} (use uniform for floats)")
    if "min" in spec and spec["min"] >= spec["max"]:
        raise bad("min", f"min {spec['min']} is not less than max {spec['max']}")
    if dist.endswith("_values") and spec["min"] <= 0:
        raise bad("min", f"{dist} needs min > 0 (the bounds are values on a log scale), got {spec['min']}")
    if "q" in spec and spec["q"] <= 0:
        raise bad("q", f"q must be > 0, got {spec['q']}")
    if "sigma" in spec and spec["sigma"] < 0:
        raise bad("sigma", f"sigma must be >= 0, got {spec['sigma']}")
    for k in ("a", "b"):
        if k in spec and spec[k] <= 0:
            raise bad(k, f"beta `{k}` must be > 0, got {spec[k]}")
    if dist in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        for k in ("min", "max"):
            if abs(spec[k]) > 700:
                raise bad(k, f"{dist} bounds are natural-log exponents; exp({spec[k]}) overflows "
                             f"(did you mean {dist}_values?)")


def _check_lists(spec: dict, bad) -> None:
    dist = spec["distribution"]
    if dist in ("categorical", "categorical_w_probabilities"):
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise bad("values", "`values` must be a non-empty list")
        seen = set()
        for v in values:
            c = _canon(v)
            if c in seen:
                raise bad("values", f"duplicate value {v!r}")
            seen.add(c)
    if dist == "categorical_w_probabilities":
        probs = spec["probabilities"]
        if not isinstance(probs, list) or len(probs) != len(spec["values"]):
            raise bad("probabilities", "`probabilities` must be a list as long as `values`")
        if any(not _is_num(p) or p < 0 for p in probs):
            raise bad("probabilities", "probabilities must be numbers >= 0")
        if abs(sum(probs) - 1.0) > 1e-6:
            raise bad("probabilities", f"probabilities must sum to 1 (they sum to {sum(probs)})")


def _flatten(params: Any, file: str | None, prefix: str = "") -> dict[str, dict]:
    where = f"parameters.{prefix[:-1]}.parameters" if prefix else "parameters"
    if not isinstance(params, dict) or not params:
        raise ConfigError("`parameters` must be a non-empty mapping of parameter name -> spec", file=file,
                          key=where)
    out: dict[str, dict] = {}
    for name, raw in params.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"invalid parameter name {name!r} (letters, digits, _ . -; not starting "
                              f"with a digit)", file=file, key=f"{where}.{name}")
        full = prefix + name
        if isinstance(raw, dict) and "parameters" in raw:
            extra = set(raw) - {"parameters"}
            if extra:
                raise ConfigError(f"a nested parameter has only `parameters`, not {sorted(extra)}", file=file,
                                  key=f"parameters.{full}")
            out.update(_flatten(raw["parameters"], file, prefix=full + "."))
        else:
            out[full] = _param_spec(full, raw, file)
    return out
