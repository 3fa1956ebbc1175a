"""Static facts about every hook: its rule, stage, outputs, paths and component factory.

Importing this module is cheap (no Data-Juicer, no torch); the implementations are named
as ``module:function`` and imported only inside the job that runs them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HookSpec:
    name: str
    rule: str  # the Snakemake rule that runs it (rules/<stage>.smk)
    impl: str  # "juicer_sandbox.hooks.<module>:<function>"
    n_outputs: int | None = 1  # None: decided by the component (see components.registry)
    factory: str | None = None  # component factory chosen by extra_configs.type
    uses_dj: bool = False  # dj_configs is a Data-Juicer recipe that is validated
    produces: tuple[str, ...] = field(default_factory=tuple)  # config keys holding export paths
    env: str = "data"  # envs/<env>.yaml
    gpu: bool = False


HOOKS: dict[str, HookSpec] = {
    h.name: h
    for h in [
        HookSpec("ProbeViaAnalyzerHook", "probe_via_analyzer", "juicer_sandbox.hooks.probe:probe_via_analyzer",
                 uses_dj=True, produces=("dj_configs.export_path",)),
        HookSpec("ProbeViaModelInferHook", "probe_via_model_infer", "juicer_sandbox.hooks.model:probe_via_model_infer",
                 produces=("extra_configs.export_path",), env="train"),
        HookSpec("GeneralProbeHook", "general_probe", "juicer_sandbox.hooks.probe:general_probe",
                 factory="general_probe"),
        HookSpec("RefineRecipeViaKSigmaHook", "refine_via_ksigma", "juicer_sandbox.hooks.refine:refine_via_ksigma",
                 uses_dj=True, produces=("extra_configs.path_k_sigma_recipe",)),
        HookSpec("RefineRecipeViaModelFeedbackHook", "refine_via_model_feedback",
                 "juicer_sandbox.hooks.refine:refine_via_model_feedback", uses_dj=True,
                 produces=("extra_configs.path_refined_recipe",)),
        HookSpec("ProcessDataHook", "process_data", "juicer_sandbox.hooks.execute:process_data",
                 uses_dj=True, produces=("dj_configs.export_path",)),
        HookSpec("DataPoolManipulationHook", "manipulate_pools", "juicer_sandbox.hooks.execute:manipulate_pools",
                 factory="data_pool_manipulator", produces=("extra_configs.export_path",)),
        HookSpec("GeneralDataExecutorHook", "general_data_executor",
                 "juicer_sandbox.hooks.execute:general_data_executor", factory="general_data_executor",
                 produces=("extra_configs.export_path",)),
        HookSpec("TrainModelHook", "train_model", "juicer_sandbox.hooks.model:train_model",
                 factory="model_train", produces=("extra_configs.export_path",), env="train", gpu=True),
        HookSpec("InferModelHook", "infer_model", "juicer_sandbox.hooks.model:infer_model",
                 factory="model_infer", produces=("extra_configs.export_path",), env="train", gpu=True),
        HookSpec("EvaluateDataHook", "evaluate_data", "juicer_sandbox.hooks.evaluate:evaluate_data",
                 n_outputs=None, factory="data_evaluator"),
        HookSpec("EvaluateModelHook", "evaluate_model", "juicer_sandbox.hooks.model:evaluate_model",
                 factory="model_evaluator", env="train"),
    ]
}


def hook_spec(name: str) -> HookSpec:
    return HOOKS[name]
