"""Every module the component registry names exists and holds the registry it is named for.

The registry skips a source module that is not there (a family not built yet), so a renamed module left under
its old name in FACTORIES would make its components vanish without a word; this test makes that loud.
"""
from __future__ import annotations

import importlib

from juicer_sandbox.components.registry import FACTORIES


def test_every_factory_source_imports_and_has_its_registry():
    problems = []
    for factory in FACTORIES.values():
        for module_name, attr in factory.sources:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                problems.append(f"{factory.name}: {module_name} ({exc})")
                continue
            if not isinstance(getattr(module, attr, None), dict) or not getattr(module, attr):
                problems.append(f"{factory.name}: {module_name}.{attr} is not a non-empty registry")
    assert not problems, "component registry sources:\n" + "\n".join(problems)


def test_model_factories_hold_the_model_components():
    for f in ("model_train", "model_infer", "model_evaluator"):
        sources = [m for m, _ in FACTORIES[f].sources]
        assert "juicer_sandbox.components.model_factories" in sources, f
        assert "juicer_sandbox.components.model_components" not in sources, f"{f}: the module's old name"
