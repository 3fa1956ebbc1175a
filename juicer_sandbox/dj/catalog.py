"""A cached catalogue of Data-Juicer's operators and recipe keys.

Importing Data-Juicer's op registry costs seconds, and the Snakefile is parsed on every
`snakemake` call (and once per cluster job), so the catalogue is built once per installed
Data-Juicer version and kept as JSON under ``$JUICER_SANDBOX_CACHE`` (default
``~/.cache/juicer-sandbox``).
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import sys
import os
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ..io import write_json

_KWARG_RE = re.compile(r"kwargs\.(?:get|pop)\(\s*[\"'](\w+)[\"']")
CATALOG_FORMAT = 3  # bump when build_catalog records more (the cache file name carries it)
# Ops that run Python code written in the recipe (a lambda, a file): listed at validation.
RUNS_RECIPE_CODE = {"python_lambda_mapper", "python_file_mapper"}
ENV_FILE = "envs/data.yaml"


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


def lazy_modules(source: str) -> list[list]:
    """[module, pip package] of every LazyLoader(...) in an op's source: what Data-Juicer would
    pip-install at run time when the module is missing."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("LazyLoader")):
            continue
        args = [a.value for a in node.args if isinstance(a, ast.Constant)]
        kwargs = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
        module = args[0] if args else kwargs.get("module_name")
        if isinstance(module, str):
            package = args[1] if len(args) > 1 else kwargs.get("package_name")
            out.append([module, package or module.split(".")[0]])
    return out


_HELPER_MODULE = "data_juicer.utils.mm_utils"


@lru_cache(maxsize=1)
def _helper_lazy() -> dict[str, list[list]]:
    """Functions of Data-Juicer's media helpers (mm_utils) -> the [module, package] of the
    LazyLoaders they use (``load_video`` -> av): an op calling them installs those at run time."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[_HELPER_MODULE]))
    except (OSError, TypeError, KeyError):
        return {}
    loaders = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
            found = lazy_modules(ast.unparse(node))
            if found and isinstance(node.targets[0], ast.Name):
                loaders[node.targets[0].id] = found[0]
    uses = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            uses[node.name] = [loaders[n] for n in sorted(names & set(loaders))]
    return uses


def _helper_imports(tree) -> list[list]:
    """[module, package] the mm_utils functions an op's module imports load lazily."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == _HELPER_MODULE:
            for alias in node.names:
                out += [x for x in _helper_lazy().get(alias.name, []) if x not in out]
    return out


def _source_facts(cls) -> dict:
    """What the op's module (and the modules of its op base classes) lazily imports or evaluates,
    also through Data-Juicer's media helpers."""
    facts = {"lazy": [], "api_model": False, "evals": False}
    modules = [k.__module__ for k in cls.__mro__ if k.__module__.startswith("data_juicer.ops.")
               and not k.__module__.startswith("data_juicer.ops.base_op")]
    for module in dict.fromkeys(modules):
        try:
            source = inspect.getsource(sys.modules[module])
        except (OSError, TypeError, KeyError):
            continue
        tree = ast.parse(source)
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        facts["lazy"] += [x for x in lazy_modules(source) + _helper_imports(tree) if x not in facts["lazy"]]
        facts["api_model"] |= 'model_type="api"' in source
        facts["evals"] |= bool(calls & {"eval", "exec"})
    return facts


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
        ops[name] = {"kind": kind, "params": params, "base_kwargs": sorted(base_kwargs - set(params)),
                     **_source_facts(cls)}
    return {"dj_version": dj_version(), "config_keys": sorted(keys), "ops": ops}


@lru_cache(maxsize=1)
def load_catalog() -> dict:
    path = cache_dir() / f"dj-ops-{dj_version()}-v{CATALOG_FORMAT}.json"
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    catalog = build_catalog()
    write_json(path, catalog)
    return catalog


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def op_missing_packages(name: str, args: dict) -> list[tuple[str, str]]:
    """(module, package) an op with these arguments would make Data-Juicer install at run time."""
    spec = load_catalog()["ops"].get(name) or {}
    vllm = bool(args.get("enable_vllm"))
    needed = [(m, p) for m, p in spec.get("lazy", []) if vllm or m.split(".")[0] != "vllm"]
    if spec.get("api_model") and not vllm:
        needed.append(("openai", "openai"))  # model_type="api" loads openai through model_utils
    seen, missing = set(), []
    for module, package in needed:
        if module not in seen and not _importable(module):
            seen.add(module)
            missing.append((module, package))
    return missing


def op_runs_recipe_code(name: str, args: dict) -> bool:
    """The op evaluates Python written in the recipe (always, or through a lambda-string argument)."""
    if name in RUNS_RECIPE_CODE:
        return True
    evals = bool((load_catalog()["ops"].get(name) or {}).get("evals"))
    return evals and any(isinstance(v, str) and "lambda" in v for v in args.values())
