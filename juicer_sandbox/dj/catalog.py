"""A cached catalogue of Data-Juicer's operators and recipe keys.

Importing Data-Juicer's op registry costs seconds, and the Snakefile is parsed on every
`snakemake` call (and once per cluster job), so the catalogue is built once per installed
Data-Juicer version and kept as JSON under ``$JUICER_SANDBOX_CACHE`` (default
``~/.cache/juicer-sandbox``).
"""
from __future__ import annotations

import inspect
import json
import os
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ..io import write_json

_KWARG_RE = re.compile(r"kwargs\.(?:get|pop)\(\s*[\"'](\w+)[\"']")


def cache_dir() -> Path:
    return Path(os.environ.get("JUICER_SANDBOX_CACHE", Path.home() / ".cache" / "juicer-sandbox"))


def dj_version() -> str:
    return metadata.version("py-data-juicer")


def _annotation(p: inspect.Parameter) -> str:
    if p.annotation is inspect.Parameter.empty:
        return ""
    a = p.annotation
    return a.__name__ if isinstance(a, type) else str(a).replace("typing.", "")


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


def build_catalog() -> dict:
    from data_juicer.config.config import build_base_parser
    from data_juicer.ops import Filter, Mapper
    from data_juicer.ops.base_op import OPERATORS

    keys = set()
    for action in build_base_parser()._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                keys.add(opt[2:].split(".")[0].rstrip("+"))
    ops = {}
    for name, cls in sorted(OPERATORS.modules.items()):
        params, base_kwargs = {}, set()
        for klass in cls.__mro__:
            if klass is object:
                continue
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            try:
                base_kwargs.update(_KWARG_RE.findall(inspect.getsource(init)))
            except (OSError, TypeError):
                pass
        sig = inspect.signature(cls.__init__)
        for pname, p in sig.parameters.items():
            if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = None if p.default is inspect.Parameter.empty else _jsonable(p.default)
            params[pname] = {"annotation": _annotation(p), "default": default,
                             "required": p.default is inspect.Parameter.empty}
        kind = "filter" if issubclass(cls, Filter) else "mapper" if issubclass(cls, Mapper) else "other"
        ops[name] = {"kind": kind, "params": params, "base_kwargs": sorted(base_kwargs - set(params))}
    return {"dj_version": dj_version(), "config_keys": sorted(keys), "ops": ops}


@lru_cache(maxsize=1)
def load_catalog() -> dict:
    path = cache_dir() / f"dj-ops-{dj_version()}.json"
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    catalog = build_catalog()
    write_json(path, catalog)
    return catalog
