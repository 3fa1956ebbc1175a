"""Execution hooks: run a Data-Juicer recipe, manipulate data pools, convert formats."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..io import write_json
from .probe import dataset_stem
from .runner import Result, Run

log = logging.getLogger(__name__)


def process_data(run: Run) -> Result:
    """ProcessDataHook: Data-Juicer's DefaultExecutor on the recipe.

    Stats already in the input (or computed by an earlier probe of the same raw dataset)
    are reused; the output keeps its stats so later probes reuse them too.
    """
    from ..dj.engine import filter_with_stored_stats, run_recipe
    from ..dj.preflight import check_job_data
    from ..dj.stats_reuse import prepare_dataset, write_provenance

    original = run.dj or {}
    recipe, inherited = prepare_dataset(original, run.stats_sources, run.scratch)
    # before Data-Juicer starts
    recipe, checked = check_job_data(recipe, run.scratch, run.extra, run.spec.get("work_dir"))
    export_name = Path(original.get("export_path") or f"{dataset_stem(original.get('dataset_path', ''))}.jsonl").name
    if not export_name.endswith(".jsonl"):
        export_name = dataset_stem(export_name) + ".jsonl"
    out = run.artifacts / export_name
    ray = recipe.get("executor_type") == "ray"  # Data-Juicer's Ray executor (ray_address or auto)
    fast = None
    if not ray and run.extra.get("stored_stats_fast_path", True):
        fast = filter_with_stored_stats(recipe, out)  # reads the rows once, counts them too
    if fast:
        (n_in, n_out), engine = fast, "Data-Juicer filters on stored stats"
    else:
        n_in = _count_rows(recipe.get("dataset_path"))
        if ray:
            from ..dj.ray_engine import run_recipe_ray

            n_out, engine = run_recipe_ray(recipe, run.scratch / "dj", out, recipe.get("ray_address")), "RayExecutor"
        else:
            n_out = run_recipe(recipe, run.scratch / "dj", out, np=run.threads, n_in=n_in,
                               warnings=checked.setdefault("warnings", []))
            engine = "DefaultExecutor"
    write_provenance(out, recipe, inherited)
    log.info("processed %s: %s -> %d samples", recipe.get("dataset_path"), n_in, n_out)
    if n_in and not n_out:  # never silently: an empty result from a non-empty input is worth a look
        checked.setdefault("warnings", []).append(f"kept 0 of {n_in} samples: the output is empty")
    if not checked.get("warnings", True):
        del checked["warnings"]
    return Result(outputs=str(out), metrics={"samples_in": n_in, "samples_out": n_out, "engine": engine,
                                             "reused_stats_from": recipe.get("dataset_path"), **checked},
                  exports={"dj_configs.export_path": str(out)})


def _count_rows(path) -> int | None:
    if not path or not os.path.isfile(str(path)):
        return None
    from ..io import iter_jsonl

    try:
        return sum(1 for _ in iter_jsonl(path))
    except Exception:  # not jsonl (parquet, ...): unknown
        return None


def _component_job(run: Run, factory: str) -> Result:
    """Run a component that writes under extra_configs.export_path (redirected into artifacts)."""
    comp, cfg = run.component(factory)
    result = comp.fn(cfg)
    write_json(run.artifacts / "result.json", result)
    return Result(outputs=result, exports=run.exports_of(cfg))


def manipulate_pools(run: Run) -> Result:
    """DataPoolManipulationHook: the manipulator named by extra_configs.type."""
    return _component_job(run, "data_pool_manipulator")


def general_data_executor(run: Run) -> Result:
    """GeneralDataExecutorHook: the converter named by extra_configs.type."""
    return _component_job(run, "general_data_executor")
