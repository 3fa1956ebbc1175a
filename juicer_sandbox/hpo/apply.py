"""Applying one trial's parameters to a job's Data-Juicer recipe and extra configs (pure Python).

Parameter names address what they change:

``<op_name>.<arg>[.<key>...]``
    sets ``arg`` (or a key nested below it) on **every** op called ``op_name`` in
    ``recipe["process"]``. Ops may be written ``- op: {args}``, ``- op:`` (no args) or ``- op``.
    (Data-Juicer's own ``merge_config`` only patched the *last* op of that name.)
``<meta_name>.extra_configs.<key>[.<key>...]``
    sets a key of the ``extra_configs`` of the job whose ``meta_name`` it is.
``<meta_name>.dj_configs.<key>[.<key>...]``
    sets a key of that job's recipe (e.g. ``probe.dj_configs.np``).
``<key>`` (no dot)
    a Data-Juicer top-level key (``np``, ``text_keys``, ...): sets ``recipe[key]`` of every job
    that has a recipe (as ``merge_config`` did for keys without a dot).

A name is job-addressed when its second component is ``extra_configs`` or ``dj_configs``;
:func:`apply_params` then touches only the job whose ``meta_name`` matches the first component.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from ..errors import ConfigError

JOB_SECTIONS = ("extra_configs", "dj_configs")


def _kind(name: str) -> tuple[str, list[str]]:
    parts = name.split(".")
    if len(parts) >= 3 and parts[1] in JOB_SECTIONS:
        return "job", parts
    if len(parts) == 2 and parts[1] in JOB_SECTIONS:
        return "job-bare", parts
    if len(parts) >= 2:
        return "op", parts
    return "top", parts


def _set_path(target: dict, path: list[str], value: Any, where: str) -> None:
    node = target
    for i, key in enumerate(path[:-1]):
        nxt = node.get(key)
        if nxt is None:
            nxt = node[key] = {}
        elif not isinstance(nxt, dict):
            raise ConfigError(f"cannot set {'.'.join(path)}: {'.'.join(path[:i + 1])} is not a mapping "
                              f"({type(nxt).__name__})", key=where)
        node = nxt
    node[path[-1]] = copy.deepcopy(value)


def _op_entries(recipe: dict) -> list[tuple[int, str, Any]]:
    process = recipe.get("process")
    out = []
    if not isinstance(process, list):
        return out
    for i, entry in enumerate(process):
        if isinstance(entry, str):
            out.append((i, entry, None))
        elif isinstance(entry, dict) and len(entry) == 1:
            name, args = next(iter(entry.items()))
            out.append((i, name, args))
    return out


def op_names(recipe: Mapping | None) -> set[str]:
    """Names of the ops in ``recipe["process"]``."""
    if not isinstance(recipe, Mapping):
        return set()
    return {name for _i, name, _a in _op_entries(dict(recipe))}


def apply_params(params: Mapping[str, Any], recipe: dict | None, extra: dict | None,
                 meta_name: str | None) -> tuple[dict | None, dict | None]:
    """Return copies of ``(recipe, extra)`` with ``params`` applied for the job ``meta_name``.

    Inputs are not modified. ``None`` stays ``None`` unless a job-addressed parameter for this job
    sets a key in it (then it starts as ``{}``). Parameters addressing ops that the recipe does
    not have, or another job, are skipped: use :func:`validate_param_names` to catch names that
    address nothing at all.
    """
    recipe = copy.deepcopy(recipe) if recipe is not None else None
    extra = copy.deepcopy(extra) if extra is not None else None
    for name, value in params.items():
        kind, parts = _kind(name)
        if kind == "job-bare":
            raise ConfigError(f"parameter {name!r} names a whole section; use {name}.<key>", key=f"parameters.{name}")
        if kind == "job":
            if meta_name is None or parts[0] != meta_name:
                continue
            if parts[1] == "extra_configs":
                extra = {} if extra is None else extra
                _set_path(extra, parts[2:], value, f"parameters.{name}")
            else:
                recipe = {} if recipe is None else recipe
                _set_path(recipe, parts[2:], value, f"parameters.{name}")
        elif kind == "op":
            if recipe is None:
                continue
            op, path = parts[0], parts[1:]
            for i, entry_name, args in _op_entries(recipe):
                if entry_name != op:
                    continue
                if args is None:
                    args = {}
                elif not isinstance(args, dict):
                    raise ConfigError(f"op {op} at process[{i}] has non-mapping arguments", key=f"parameters.{name}")
                _set_path(args, path, value, f"parameters.{name}")
                recipe["process"][i] = {op: args}
        else:
            if recipe is not None:
                recipe[name] = copy.deepcopy(value)
    return recipe, extra


def validate_param_names(sweep, recipes: Mapping[str, Mapping | None], metas: Iterable[str] | None = None,
                         dj_config_keys: Iterable[str] | None = None) -> None:
    """Raise :class:`ConfigError` for a sweep parameter that would change nothing.

    ``sweep`` is a :class:`~juicer_sandbox.hpo.sweep.Sweep` (or anything with ``parameters`` and
    ``file``); ``recipes`` maps each job's ``meta_name`` to its recipe (``None`` when the job has
    none); ``metas`` lists every job's ``meta_name`` (default: the keys of ``recipes``).
    ``<op>.<arg>`` needs ``op`` in at least one recipe; ``<meta>.extra_configs.*`` needs a job
    ``meta``; ``<meta>.dj_configs.*`` needs that job to have a recipe; a plain ``<key>`` needs
    some recipe to exist and, when ``dj_config_keys`` (Data-Juicer's top-level keys) is given, to
    be one of them.
    """
    file = getattr(sweep, "file", None)
    names = list(getattr(sweep, "parameters", sweep))
    metas = set(recipes) if metas is None else set(metas) | set(recipes)
    have_recipe = {m for m, r in recipes.items() if r is not None}
    all_ops: set[str] = set()
    for r in recipes.values():
        all_ops |= op_names(r)
    keys = set(dj_config_keys) if dj_config_keys is not None else None
    for name in names:
        kind, parts = _kind(name)
        where = f"parameters.{name}"
        if kind == "job-bare":
            raise ConfigError(f"names a whole section; use {name}.<key>", file=file, key=where)
        if kind == "job":
            if parts[0] not in metas:
                raise ConfigError(f"no job has meta_name {parts[0]!r} (jobs: {', '.join(sorted(metas)) or 'none'})",
                                  file=file, key=where)
            if parts[1] == "dj_configs" and parts[0] not in have_recipe:
                raise ConfigError(f"job {parts[0]!r} has no dj_configs recipe to set {'.'.join(parts[2:])} in",
                                  file=file, key=where)
        elif kind == "op":
            if parts[0] not in all_ops:
                hint = f" (ops in the recipes: {', '.join(sorted(all_ops))})" if all_ops else " (no recipe has ops)"
                raise ConfigError(f"no recipe has an op {parts[0]!r}{hint}; a parameter with a dot is "
                                  f"<op_name>.<arg> or <meta_name>.extra_configs|dj_configs.<key>",
                                  file=file, key=where)
        else:
            if not have_recipe:
                raise ConfigError(f"{name!r} would set a Data-Juicer config key, but no job has a recipe",
                                  file=file, key=where)
            if keys is not None and name not in keys:
                raise ConfigError(f"{name!r} is not a Data-Juicer config key", file=file, key=where)
