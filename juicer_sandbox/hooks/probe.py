"""Probe hooks: Data-Juicer statistics of a dataset, and ranking of data pools."""
from __future__ import annotations

import logging
from pathlib import Path

from ..io import abs_path, iter_jsonl, write_json, write_text
from .runner import Result, Run

log = logging.getLogger(__name__)
DEFAULT_PERCENTILES = (0.25, 0.5, 0.75)


def dataset_stem(path: str) -> str:
    name = Path(str(path).split()[0]).name
    for ext in (".gz", ".jsonl", ".json", ".parquet"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or "dataset"


def overall_table(overall: dict) -> str:
    """The overall distribution as a markdown table (one row per stat)."""
    if not overall:
        return "(no statistics)\n"
    cols = list(next(iter(overall.values())).keys())
    lines = ["| stat | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for stat, row in overall.items():
        cells = [f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in cols]
        lines.append(f"| {stat} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def probe_via_analyzer(run: Run) -> Result:
    """Per-sample stats (the dataset with __dj__stats__) and the overall distribution.

    Outputs: res_1 = the dataset with stats (so later jobs reuse them instead of recomputing).
    Artifacts: <stem>.jsonl, <stem>_stats.jsonl (stats only), overall.json, overall.md,
    analysis/*.png when ``extra_configs.plots`` is true.
    """
    from ..components.stats_summary import describe_stats
    from ..dj.engine import STATS, compute_stats, plot_analysis
    from ..io import write_jsonl

    from ..dj.media import copy_rows
    from ..dj.preflight import check_job_data
    from ..dj.op_stats import compute_stats_per_op, write_with_stats
    from ..dj.stats_reuse import covered_by, prepare_dataset, write_provenance

    original = run.dj or {}
    stem = dataset_stem(original.get("dataset_path", "dataset"))
    recipe, inherited = prepare_dataset(original, run.stats_sources, run.scratch)
    # before Data-Juicer starts
    recipe, checked = check_job_data(recipe, run.scratch, run.extra, run.spec.get("work_dir"))
    data_path = run.artifacts / f"{stem}.jsonl"
    stats_path = run.artifacts / f"{stem}_stats.jsonl"
    per_op, stats_written = None, True  # the stats file is written with the data, in the same pass
    warnings = checked.setdefault("warnings", [])
    if covered_by(recipe, inherited):  # every stat is already in the data: nothing to compute
        source = recipe["dataset_path"]  # copied elsewhere: media paths made absolute
        n = write_with_stats(copy_rows(source, iter_jsonl(source), recipe), data_path, stats_path)  # one pass
        engine = "stored stats"
    else:
        if not inherited:  # a raw dataset: stats stored per op survive reruns (dj/op_stats.py)
            per_op = compute_stats_per_op(recipe, run.scratch / "op_stats", run.scratch, data_path, np=run.threads,
                                          stats_path=stats_path)  # in the same pass
        if per_op is not None:
            n, engine = per_op["rows"], "Data-Juicer (changed ops only)" if per_op["reused"] else "Data-Juicer"
        else:
            n = compute_stats(recipe, run.scratch / "dj", data_path, np=run.threads, warnings=warnings)
            engine, stats_written = "Data-Juicer", False
    if not warnings:
        del checked["warnings"]
    write_provenance(data_path, recipe, inherited)
    if not stats_written:  # streamed (never all rows in memory): 1M documents probe in well under 2 GB
        write_jsonl(stats_path, ({STATS: row.get(STATS, {})} for row in iter_jsonl(data_path)))
    percentiles = tuple(sorted(set(DEFAULT_PERCENTILES) | set(recipe.get("percentiles") or [])))
    overall = describe_stats(iter_jsonl(stats_path), percentiles=percentiles)
    write_json(run.artifacts / "overall.json", overall)
    write_text(run.artifacts / "overall.md", overall_table(overall))
    if run.extra.get("plots"):
        plot_analysis(data_path, run.artifacts / "analysis")
    log.info("probed %d samples, %d stats", n, len(overall))
    return Result(
        outputs=str(data_path),
        metrics={"num_samples": n, "overall": overall, "engine": engine, **checked,
                 "stats_computed_ops": per_op["computed"] if per_op else None,
                 "stats_reused_ops": per_op["reused"] if per_op else None},
        exports={"dj_configs.export_path": str(data_path if recipe.get("export_original_dataset") else stats_path)},
        hidden={"__stats__": str(stats_path), "__overall__": str(run.artifacts / "overall.json")},
        stats_sources={abs_path(original.get("dataset_path", "")): str(data_path)} if original.get("dataset_path") else {},
    )



def general_probe(run: Run) -> Result:
    """GeneralProbeHook: the component named by extra_configs.type (data_pool_ranking)."""
    comp, cfg = run.component("general_probe")
    ranked = comp.fn(cfg)
    write_json(run.artifacts / "result.json", ranked)
    return Result(outputs=ranked, metrics={"ranking": ranked}, exports=run.exports_of(cfg))
