"""Model families: what a component type needs where its job runs (env, third-party code, weights, GPUs).

A *family* groups the component types that share one software stack, e.g. ``internvl`` (TrainModelHook
and EvaluateModelHook ``internvl_coco_caption``) or ``vllm`` (InferModelHook ``vllm``). The registry here
is data only (no torch, no third-party imports), so the planner, ``juicer-sandbox doctor`` and the job
runner can all read it cheaply; planning never needs a family's runtime environment.

How it is used:

* **plan** (``config/plan.py``, ``rules/hooks.smk``): a job whose ``extra_configs.type`` belongs to a
  family runs in that family's env (``conda: envs/<env>.yaml`` with ``--sdm conda``; ``.venvs/<env>``
  with ``envs: {mode: venv}``) and requests ``resources: gpu=N`` (:func:`gpus_for`), ``runtime`` and
  ``mem_mb`` (:func:`resources_for`); the job's own ``resources:`` win.
* **job start** (``hooks/runner.py``): :func:`.checks.require` fails the job with ONE line naming every
  missing piece (env, code, weights, GPU) and the command that provides each.
* **before submitting**: ``juicer-sandbox doctor cfg.yaml`` (:func:`.checks.doctor_rows`) lists every
  job's family, env file, code, weights and GPU need, and what is missing.
* **third-party code** that is not a package (InternVL's training scripts, EasyAnimate) is fetched at a
  pinned commit by ``juicer-sandbox code fetch <family>`` or rule ``fetch_code`` (``rules/thirdparty.smk``)
  and recorded (:mod:`.code`).
* **multi-GPU launches** go through the family's own launcher with the job's world size (:mod:`.launch`).

Registering a family (the interface for other family modules): add a module to this package that
defines ``FAMILIES``, a list of :class:`Family`; every module of the package except the framework's own
(``checks``, ``code``, ``launch``) is discovered and imported on first use. A family names:

* ``name`` and ``env``: the env file ``envs/<env>.yaml`` (pinned, commented: why each pin);
* ``types``: the ``(factory, type)`` pairs it serves (factories as in ``components/registry.py``:
  ``model_train``, ``model_infer``, ``model_evaluator``, ``data_evaluator``, ...);
* ``imports``: modules the job's env must provide (checked with ``importlib.util.find_spec`` in the job);
  ``executables``: programs it runs (``trinity``, ``bash``), looked up on the job's ``PATH``;
* ``code``: a :class:`Code` (git URL + 40-hex commit + the ``extra_configs`` key naming the checkout, e.g.
  ``internvl_home``, + a file that must exist in it), or None;
* ``weights``: ``extra_configs`` keys (dotted) naming local weights; a value is present when it is an
  existing path (a hub id is looked up in ``weight_caches``); ``weights_hint``: how to get them;
* ``gpu``: ``"none"``, ``"optional"`` (uses one when the job asks) or ``"required"``; ``gpus_key``: the
  ``extra_configs`` key (dotted) holding the GPU count (``num_gpus``), default 1 when required;
* ``launcher``: ``torchrun`` / ``accelerate`` / ``deepspeed`` / None (see :mod:`.launch`);
* ``runtime_min`` and ``mem_mb``: scheduler defaults (SLURM ``-t`` minutes, ``--mem``).

This package sits with the libraries (``tests/unit/test_import_layers.py``): it imports only the standard
library, ``..errors`` and ``..io``.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

GPU_NEEDS = ("none", "optional", "required")
LAUNCHERS = (None, "torchrun", "accelerate", "deepspeed")
_FRAMEWORK = {"checks", "code", "launch"}


@dataclass(frozen=True)
class Code:
    """Third-party code that is not a package: a git checkout at a pinned commit."""

    repo: str  # git URL
    commit: str  # 40 hex digits
    home_key: str | None = None  # extra_configs key naming the checkout (the original's internvl_home)
    marker: str | None = None  # a file that must exist in a usable checkout (relative to it)
    default_dir: str = ".thirdparty"  # where `code fetch` puts it: <default_dir>/<family>
    patch: tuple[str, str] | None = None  # (URL, sha256) of a patch `code fetch` applies (EasyAnimate: DJ-Sandbox's)


@dataclass(frozen=True)
class Family:
    name: str
    env: str
    types: tuple[tuple[str, str], ...]
    imports: tuple[str, ...] = ()
    executables: tuple[str, ...] = ()
    code: Code | None = None
    weights: tuple[str, ...] = ()
    weights_hint: str = "download them once and give their local path"
    weight_caches: tuple[str, ...] = ()  # env vars / dirs where a hub id may already be cached
    gpu: str = "none"
    gpus_key: str | None = None
    launcher: str | None = None
    runtime_min: int = 60
    mem_mb: int | None = None
    doc: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.gpu not in GPU_NEEDS:
            raise ValueError(f"family {self.name}: gpu {self.gpu!r} is not one of {GPU_NEEDS}")
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"family {self.name}: launcher {self.launcher!r} is not one of {LAUNCHERS}")
        if self.code and len(self.code.commit) != 40:
            raise ValueError(f"family {self.name}: code commit must be 40 hex digits, got {self.code.commit!r}")


_REGISTRY: dict[str, Family] | None = None


def families() -> dict[str, Family]:
    """Every registered family by name (discovered from this package's modules, once)."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, Family] = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.name in _FRAMEWORK or info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            for fam in getattr(module, "FAMILIES", ()):
                if fam.name in found:
                    raise ValueError(f"family {fam.name!r} is registered twice ({info.name})")
                found[fam.name] = fam
        owners: dict[tuple[str, str], str] = {}
        for fam in found.values():
            for pair in fam.types:
                if pair in owners:
                    raise ValueError(f"component type {pair} belongs to {owners[pair]!r} and {fam.name!r}")
                owners[pair] = fam.name
        _REGISTRY = found
    return _REGISTRY


def family_of(factory: str | None, type_name: Any) -> Family | None:
    """The family serving component type ``type_name`` of ``factory`` (None: runs in its hook's env)."""
    if not factory or not isinstance(type_name, str):
        return None
    for fam in families().values():
        if (factory, type_name) in fam.types:
            return fam
    return None


def get_dotted(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(cfg, dict) or part not in cfg:
            return None
        cfg = cfg[part]
    return cfg


def gpus_for(fam: Family | None, extra: dict | None) -> int:
    """The GPUs a job of this family asks the scheduler for: ``gpus_key`` of its config, else 1 when the
    family requires a GPU, else 0."""
    if fam is None or fam.gpu == "none":
        return 0
    value = get_dotted(extra or {}, fam.gpus_key) if fam.gpus_key else None
    if isinstance(value, bool) or not isinstance(value, int):
        return 1 if fam.gpu == "required" else 0
    return max(0, value)


def resources_for(fam: Family | None, extra: dict | None) -> dict:
    """Scheduler defaults of a job of this family (the job's own ``resources:`` win over them)."""
    if fam is None:
        return {}
    out = {"gpus": gpus_for(fam, extra), "runtime": fam.runtime_min}
    if fam.mem_mb:
        out["mem_mb"] = fam.mem_mb
    return out
