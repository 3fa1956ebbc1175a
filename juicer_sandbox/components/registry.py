"""Component factories: ``extra_configs.type`` -> implementation, schema and output count.

Each factory names the modules that hold its registries. A module provides a mapping of
type name -> callable and ``SCHEMAS`` (type -> JSON schema of ``extra_configs``); it may
provide ``OUTPUTS`` (type -> number of values the component returns, default 1).
Modules are imported on first use, so a job only pays for the components it runs.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError


@dataclass(frozen=True)
class Factory:
    name: str
    sources: tuple[tuple[str, str], ...]  # (module, registry attribute)


FACTORIES: dict[str, Factory] = {
    f.name: f
    for f in [
        Factory("data_pool_manipulator", (("juicer_sandbox.components.pools", "MANIPULATORS"),)),
        Factory("general_probe", (("juicer_sandbox.components.ranking", "PROBES"),
                                  ("juicer_sandbox.components.experiment", "PROBES"))),
        Factory("general_data_executor", (("juicer_sandbox.components.convert", "CONVERTERS"),
                                          ("juicer_sandbox.components.mm_convert", "CONVERTERS"),
                                          ("juicer_sandbox.components.image_caption", "CONVERTERS"))),
        Factory("data_evaluator", (("juicer_sandbox.components.evaluators", "DATA_EVALUATORS"),
                                   ("juicer_sandbox.components.data_quality", "DATA_EVALUATORS"),
                                   ("juicer_sandbox.components.caption_metrics", "DATA_EVALUATORS"),
                                   ("juicer_sandbox.components.original_models", "DATA_EVALUATORS"),
                                   ("juicer_sandbox.components.vbench", "DATA_EVALUATORS"),
                                   ("juicer_sandbox.components.video_inception", "DATA_EVALUATORS"))),
        Factory("model_train", (("juicer_sandbox.components.model_factories", "TRAINERS"),
                                ("juicer_sandbox.components.original_models", "TRAINERS"),
                                ("juicer_sandbox.components.easyanimate", "TRAINERS"),
                                ("juicer_sandbox.components.internvl", "TRAINERS"),
                                ("juicer_sandbox.components.trinity", "TRAINERS"),
                                ("juicer_sandbox.components.image_caption", "TRAINERS"))),
        # original_models first: its `api` also takes the original's helper-function keys
        Factory("model_infer", (("juicer_sandbox.components.original_models", "INFERENCERS"),
                                ("juicer_sandbox.components.model_factories", "INFERENCERS"),
                                ("juicer_sandbox.components.easyanimate", "INFERENCERS"))),
        Factory("model_evaluator", (("juicer_sandbox.components.model_factories", "MODEL_EVALUATORS"),
                                    ("juicer_sandbox.components.caption_metrics", "MODEL_EVALUATORS"),
                                    ("juicer_sandbox.components.internvl_eval", "MODEL_EVALUATORS"),
                                    ("juicer_sandbox.components.image_caption", "MODEL_EVALUATORS"))),
    ]
}


@dataclass(frozen=True)
class Component:
    factory: str
    type: str
    fn: Callable[..., Any]
    schema: dict
    n_outputs: int
    module: str  # the module whose registry holds it (its code fingerprint starts there)


def _entries(factory: Factory):
    for module_name, attr in factory.sources:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # a factory source not built yet
            raise
        registry = getattr(module, attr)
        schemas = getattr(module, "SCHEMAS", {})
        outputs = getattr(module, "OUTPUTS", {})
        for type_name, fn in registry.items():
            yield type_name, fn, schemas.get(type_name, {"type": "object"}), outputs.get(type_name, 1), module_name


def plan_paths(factory: str, type_name: Any) -> Callable[[dict], None] | None:
    """A component's plan-time path fixer (its module's ``PLAN_PATHS[type]``), or None; unknown types give
    None here (their error comes with the component check)."""
    try:
        comp = get_component(factory, type_name)
    except ConfigError:
        return None
    return getattr(importlib.import_module(comp.module), "PLAN_PATHS", {}).get(comp.type)


def get_component(factory: str, type_name: Any, file: str | None = None, key: str | None = None) -> Component:
    """Look up a component; an unknown or missing type lists the valid names."""
    valid = {}
    for name, fn, schema, n, module in _entries(FACTORIES[factory]):
        valid.setdefault(name, Component(factory, name, fn, schema, n, module))
    if type_name not in valid:
        from .not_yet import not_yet_available

        later = not_yet_available(factory, type_name)
        if later:
            raise ConfigError(later, file=file, key=key)
        what = "is missing" if type_name is None else f"{type_name!r} is not a known {factory} type"
        raise ConfigError(f"component type {what}; valid types: {', '.join(sorted(valid)) or '(none installed)'}",
                          file=file, key=key)
    return valid[type_name]
