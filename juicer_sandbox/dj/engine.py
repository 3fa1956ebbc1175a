"""Calls into Data-Juicer 1.6.1: computing per-sample stats and running a recipe.

Each call writes the recipe to the job's own directory (never a shared temp name, so jobs
running side by side cannot race) and turns off what a sandbox job does not need (cache,
tracer, monitor), so only the ops' work is paid for.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
from pathlib import Path

import yaml

from ..core.names import DJ_STATS as STATS
from ..errors import SandboxError
from .catalog import ENV_FILE
from .media import absolute_row, copy_rows, media_keys
from .runtime import OpErrors

log = logging.getLogger(__name__)

# Settings a sandbox job always overrides: reproducible, no side files outside the job dir.
_FIXED = {"use_cache": False, "open_tracer": False, "open_monitor": False, "use_checkpoint": False,
          "op_fusion": False, "export_in_parallel": False}


class InstallRefused(SandboxError):
    """Data-Juicer tried to pip-install a package while a job ran."""


def forbid_installs() -> None:
    """Turn Data-Juicer's run-time installs (its LazyLoader pip/uv-installs a missing module on
    first use) into a clean error naming the package and the env file; pip and uv started by
    an op itself find no index."""
    from data_juicer.utils.lazy_loader import LazyLoader

    os.environ["PIP_NO_INDEX"] = "1"
    os.environ["UV_OFFLINE"] = "1"
    if getattr(LazyLoader, "_juicer_sandbox_guard", False):
        return

    def refuse(cls, package_spec, pip_args=None):
        raise InstallRefused(f"Data-Juicer needs the package {package_spec!r}, which this environment lacks, and "
                             f"would install it now; this workflow installs nothing at run time: add it to "
                             f"{ENV_FILE} and requirements.lock, and rebuild the environment")

    LazyLoader._install_package = classmethod(refuse)
    LazyLoader._juicer_sandbox_guard = True


def init_cfg(recipe: dict, work_dir: Path, export_path: Path, np: int = 1):
    """A Data-Juicer config Namespace from a recipe dict, with paths and workers set for this job."""
    from data_juicer.config import init_configs

    forbid_installs()
    if any(name in ("image_deduplicator", "ray_image_deduplicator") for name in _op_names(recipe)):
        from .runtime import load_imagededup_hashing

        load_imagededup_hashing()  # its hash methods, also without torchvision (runtime.py)

    recipe = copy.deepcopy(recipe)
    recipe.update(_FIXED)
    recipe["export_path"] = str(export_path)
    recipe["np"] = max(1, int(np))
    recipe.setdefault("project_name", "juicer-sandbox")
    recipe["work_dir"] = str(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "dj_recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return init_configs(["--config", str(path)], load_configs_only=True)


def _op_names(recipe: dict) -> list[str]:
    return [next(iter(op)) if isinstance(op, dict) and op else str(op) for op in recipe.get("process") or []]


def _stat_ops(cfg):
    from data_juicer.ops import NON_STATS_FILTERS, TAGGING_OPS, Filter, load_ops

    for op in load_ops(cfg.process):
        if isinstance(op, Filter) and op._name not in NON_STATS_FILTERS.modules:
            yield op, True
        elif op._name in TAGGING_OPS.modules:
            yield op, False


def compute_stats(recipe: dict, work_dir: Path, out_path: Path, np: int = 1,
                  warnings: list | None = None, direct: bool = True) -> int:
    """Compute the stats of every filter op in the recipe; write the dataset with them. Returns rows.

    Text filters on a JSON-lines file go through the same ops in one pass (dj/fast_stats.py; it
    steps aside on any op error); anything else, or ``direct=False``, runs one Data-Juicer dataset
    pass per op. Samples an op fails on are dropped by Data-Juicer (``skip_op_error``): none left is
    an error naming the first op error; some lost is a line appended to ``warnings``."""
    from ..io import write_jsonl
    from .fast_stats import compute_stats_direct

    cfg = init_cfg(recipe, work_dir, out_path, np)
    n = compute_stats_direct(cfg, out_path, np) if direct else None
    if n is not None:
        return n
    from data_juicer.core.data.dataset_builder import DatasetBuilder

    with OpErrors(work_dir) as errors:
        dataset = DatasetBuilder(cfg, executor_type="default").load_dataset()
        n_in = len(dataset)
        for op, is_filter in _stat_ops(cfg):
            if is_filter:
                original = op.process
                op.process = None  # stats only: the Analyzer's trick, without its plots
                dataset = dataset.process(op, work_dir=str(work_dir), open_monitor=False)
                op.process = original
            else:
                dataset = dataset.process(op, work_dir=str(work_dir), open_monitor=False)
    _check_losses(n_in, len(dataset), errors, "computing stats", warnings)
    return write_jsonl(out_path, _rows(dataset, recipe))


@contextlib.contextmanager
def produced_media_dir(out_path: Path):
    """Media that ops make (a blurred image, a clip) go to ``<artifacts>/produced_media/<op>/``, beside the
    dataset that names them, instead of beside the source media (Data-Juicer's default: possibly a
    read-only or shared folder). A ``DJ_PRODUCED_DATA_DIR`` set by the user wins."""
    if os.environ.get("DJ_PRODUCED_DATA_DIR"):
        yield
        return
    os.environ["DJ_PRODUCED_DATA_DIR"] = str(Path(out_path).resolve().parent / "produced_media")
    try:
        yield
    finally:
        os.environ.pop("DJ_PRODUCED_DATA_DIR", None)


def _check_losses(n_in: int, n_out: int, errors: OpErrors, doing: str, warnings: list | None,
                  must_keep: bool = True) -> None:
    """Fail when op errors left nothing of a non-empty dataset; otherwise note them as a warning.

    must_keep: every sample should have survived (stats only); else filters may drop samples
    legitimately, and only op errors are reported."""
    lost = n_in - n_out
    if not n_out and (errors.lines or must_keep and n_in):  # op errors imply samples came in
        why = errors.summary() or "no op error was logged"
        raise SandboxError(f"Data-Juicer dropped all {n_in or ''} samples while {doing}: {why} ".replace("  ", " ")
                           + "(a medium it cannot read, a missing program or package; the job's log has the traceback)")
    if errors.lines and warnings is not None:
        what = f"{lost} of {n_in} samples dropped" if must_keep and lost > 0 else "samples dropped"
        warnings.append(f"{what} while {doing} because an op failed on them: {errors.summary()}")


def run_recipe(recipe: dict, work_dir: Path, out_path: Path, np: int = 1, n_in: int | None = None,
               warnings: list | None = None) -> int:
    """Process the dataset with Data-Juicer's DefaultExecutor; stats are kept in the output rows.

    Nothing kept of ``n_in`` samples while ops raised errors is an error (see compute_stats)."""
    from ..io import write_jsonl
    from data_juicer.core.executor import DefaultExecutor

    cfg = init_cfg(recipe, work_dir, work_dir / "dj_export" / out_path.name, np)
    with OpErrors(work_dir) as errors, produced_media_dir(out_path):
        executor = DefaultExecutor(cfg)
        dataset = executor.run(skip_export=True)
    _check_losses(n_in or 0, len(dataset), errors, "processing", warnings, must_keep=False)
    return write_jsonl(out_path, _rows(dataset, recipe))


def filter_with_stored_stats(recipe: dict, out_path: Path) -> tuple[int, int] | None:
    """Run a filters-only recipe on rows that already carry every stat it needs.

    Each op is Data-Juicer's own filter class deciding on the stored stats (its
    process_batched/process_single), so the result is what the DefaultExecutor keeps, without
    a pass per op over the dataset. Returns (rows in, rows kept), or None when the recipe or the
    data does not qualify (then the executor runs).
    """
    from ..io import iter_jsonl, write_jsonl
    from . import stat_map
    from .catalog import load_catalog
    from .recipe import iter_ops

    catalog = load_catalog()["ops"]
    ops = list(iter_ops(recipe))
    keys: set[str] = set()
    for _, name, args in ops:
        stat_keys = stat_map.stats_keys_for(name, args)
        if catalog.get(name, {}).get("kind") != "filter" or not stat_keys:
            return None  # mappers, dedup or an op whose stats we cannot check
        keys.update(stat_keys)
    path = str(recipe.get("dataset_path", ""))
    if not ops or not path.endswith((".jsonl", ".jsonl.gz")) or not Path(path).is_file():
        return None
    n_in = 0
    for r in iter_jsonl(path):  # a first pass only checks: rows are filtered in chunks (bounded memory)
        n_in += 1
        if not isinstance(r.get(STATS), dict) or any(r[STATS].get(k) is None for k in keys):
            return None
    if not n_in:
        return None
    from data_juicer.ops.base_op import OPERATORS

    forbid_installs()
    filters = [OPERATORS.modules[name](**args) for _, name, args in ops]
    rows = copy_rows(path, iter_jsonl(path), recipe)  # written elsewhere: media paths absolute
    return n_in, write_jsonl(out_path, (row for chunk in _chunks(rows, _CHUNK) for row in _kept(filters, chunk)))


_CHUNK = 20000  # rows filtered at once: each op decides per row, so chunking changes nothing


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _kept(filters, rows: list[dict]):
    keep = [True] * len(rows)
    columns = {c: [r.get(c) for r in rows] for c in {c for r in rows for c in r}}
    for op in filters:
        if op.is_batched_op():
            flags = list(op.process_batched(columns))
        else:
            flags = [op.process_single(r) for r in rows]
        keep = [k and bool(f) for k, f in zip(keep, flags)]
    return [r for r, k in zip(rows, keep) if k]


def _rows(dataset, recipe: dict):
    """The rows Data-Juicer holds, with stats as dicts and media paths absolute (Data-Juicer
    joined its base to relative ones, which may itself be relative to the current directory)."""
    keys, cwd = media_keys(recipe), os.getcwd()
    for row in dataset:
        row = absolute_row(dict(row), keys, cwd)
        stats = row.get(STATS)
        if isinstance(stats, str):  # DJ may store stats as a JSON string after some ops
            import json

            row[STATS] = json.loads(stats)
        yield row


def plot_analysis(dataset_path: Path, out_dir: Path) -> None:
    """Data-Juicer's histogram/box/correlation plots of the stats (only when asked: they are slow)."""
    from data_juicer.analysis import ColumnWiseAnalysis, CorrelationAnalysis, OverallAnalysis
    from data_juicer.core.data import NestedDataset
    from datasets import load_dataset

    ds = NestedDataset(load_dataset("json", data_files=str(dataset_path), split="train"))
    overall = OverallAnalysis(ds, str(out_dir)).analyze()
    ColumnWiseAnalysis(ds, str(out_dir), overall_result=overall).analyze()
    CorrelationAnalysis(ds, str(out_dir)).analyze()
