"""Data-Juicer recipes as plain dicts: op access, validation before any job runs, and writing."""
from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from ..errors import ConfigError
from ..io import write_text
from .catalog import ENV_FILE, load_catalog, op_missing_packages, op_runs_recipe_code


def iter_ops(recipe: dict) -> Iterator[tuple[int, str, dict]]:
    """Yield (index, op_name, args) for each op in recipe['process']; arg-less ops give {}."""
    for i, entry in enumerate(recipe.get("process") or []):
        if isinstance(entry, str):
            yield i, entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, args = next(iter(entry.items()))
            yield i, name, dict(args or {})
        else:
            raise ConfigError("each process entry must be `- op_name: {args}`", key=f"process[{i}]")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


_NUMERIC = {"int": (int,), "float": (int, float), "PositiveInt": (int,), "PositiveFloat": (int, float),
            "NonNegativeInt": (int,), "NonNegativeFloat": (int, float)}


def validate_recipe(recipe: Any, file: str | None, prefix: str = "dj_configs") -> None:
    """Check top-level keys, op names and op argument names/basic types against the installed DJ."""
    if not isinstance(recipe, dict):
        raise ConfigError("a Data-Juicer recipe must be a mapping", file=file, key=prefix)
    catalog = load_catalog()
    known_keys = set(catalog["config_keys"])
    for key in recipe:
        if key not in known_keys:
            raise ConfigError(f"unknown Data-Juicer config key{_suggest(key, known_keys)}", file=file,
                              key=_join(prefix, key))
    process = recipe.get("process")
    if process is not None and not isinstance(process, list):
        raise ConfigError("`process` must be a list of ops", file=file, key=_join(prefix, "process"))
    ops = catalog["ops"]
    for i, name, args in _iter_ops_located(recipe, file, prefix):
        where = _join(prefix, f"process[{i}].{name}")
        if name not in ops:
            raise ConfigError(f"unknown Data-Juicer op{_suggest(name, ops)}", file=file, key=where)
        spec = ops[name]
        accepted = set(spec["params"]) | set(spec["base_kwargs"])
        for arg, value in args.items():
            if arg not in accepted:
                raise ConfigError(f"op {name} has no argument {arg!r}{_suggest(arg, accepted)}", file=file,
                                  key=f"{where}.{arg}")
            ann = spec["params"].get(arg, {}).get("annotation", "")
            types = _NUMERIC.get(ann)
            if types and value is not None and (isinstance(value, bool) or not isinstance(value, types)):
                raise ConfigError(f"op {name} argument {arg} must be {ann}, got {value!r}", file=file,
                                  key=f"{where}.{arg}")
        check_op_environment(name, args, file, where)


def _iter_ops_located(recipe, file, prefix):
    try:
        yield from iter_ops(recipe)
    except ConfigError as exc:
        raise ConfigError(exc.detail, file=file, key=_join(prefix, exc.key)) from None


def _plain(obj: Any) -> Any:
    """Plain YAML/JSON-able data: tuples -> lists, numpy scalars -> Python numbers."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    np = sys.modules.get("numpy")  # not imported here (0.2 s at plan time): without it no numpy value exists
    if np is not None and isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_recipe(recipe: Mapping[str, Any], path: str | Path) -> Path:
    """Write a DJ recipe atomically: YAML for ``.yaml``/``.yml``, JSON for ``.json``.

    Key order is kept (``process`` stays in op order; YAML is not key-sorted,
    unlike the original's ``safe_dump``). Any other extension is a ConfigError.
    """
    target = Path(path)
    ext = target.suffix.lower()
    data = _plain(recipe)
    if ext in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    elif ext == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ConfigError(
            f"a recipe must be written to a .yaml, .yml or .json file, not {target.suffix or 'no extension'!r}",
            file=str(target),
        )
    write_text(target, text)
    return target
_WARNED: set[tuple] = set()


def check_op_environment(name: str, args: dict, file: str | None, where: str) -> None:
    """Refuse an op whose packages are missing (Data-Juicer would pip-install them at run time);
    say so, once, for an op that runs code written in the recipe."""
    missing = op_missing_packages(name, args)
    if missing:
        pkgs = ", ".join(f"{package} (module {module})" for module, package in missing)
        raise ConfigError(f"op {name} needs {pkgs}, not installed in this environment; Data-Juicer would install "
                          f"it at run time, which this workflow does not allow: add it to {ENV_FILE} and "
                          f"requirements.lock, and rebuild the environment", file=file, key=where)
    if op_runs_recipe_code(name, args) and (file, where) not in _WARNED:
        import sys

        _WARNED.add((file, where))
        print(f"juicer-sandbox: warning: {file}: {where}: runs code written in the recipe", file=sys.stderr)
