"""Per-sample stats of a filters-only recipe in one pass, without a dataset pass per op.

``engine.compute_stats`` runs each filter as one ``map`` over a HF dataset: every op rewrites
the whole dataset to Arrow files and starts ``np`` worker processes, so six text filters on 20k
documents cost two to three times their own CPU time. Here the same op objects (Data-Juicer's,
built by its own config loader from the recipe, so with the recipe's global settings such as
``text_keys``) call the same wrapped ``compute_stats`` Data-Juicer's map calls, all ops per batch
of rows, in ``np`` forked workers, reading and writing JSON lines as the job does anyway.

It returns None (and the caller runs ``compute_stats``) unless the result is sure to equal
Data-Juicer's: a ``.jsonl``/``.jsonl.gz`` file without stats, media or tag fields whose rows all
have the same keys and value types at every depth (so Arrow would change no value), only stats
filters (no tagging op, no CUDA), and no op error (Data-Juicer drops the rows of a failing batch).
Rows whose text is None are left out, as Data-Juicer's loader does. ``tests/unit/test_fast_stats.py``
checks the rows equal ``compute_stats``'s.
"""
from __future__ import annotations

import gzip
import json
import logging
import multiprocessing
from pathlib import Path

from ..core.names import DJ_STATS as STATS
from ..io import atomic_path

log = logging.getLogger(__name__)
MEDIA_KEYS = ("images", "audios", "videos")
_OPS: list = []  # the ops, set in the parent before the workers fork
_TEXT_KEYS: list = []
_CODEC: list = []  # the stats column's feature, when it stores stats as JSON text (see _stats_feature)
_MEDIA: list = []  # the recipe's media fields (image_key, ...): rows with one go through Data-Juicer


class _NotSure(Exception):
    """The data or an op is outside what this path reproduces exactly."""


def compute_stats_direct(cfg, out_path: Path, np: int = 1) -> int | None:
    """Write the dataset of ``cfg`` (Data-Juicer's config of the recipe, ``engine.init_cfg``) with every
    op's stats to out_path; the row count, or None (see the module)."""
    path = str(getattr(cfg, "dataset_path", "") or "")
    if not path.endswith((".jsonl", ".jsonl.gz")) or not Path(path).is_file() or str(out_path).endswith(".gz"):
        return None
    ops, text_keys = _stats_ops(cfg)
    feature = _stats_feature() if ops is not None else None
    if feature is None:
        return None
    _OPS[:], _TEXT_KEYS[:], _CODEC[:] = ops, text_keys, [feature]
    _MEDIA[:] = sorted({getattr(cfg, k, None) for k in ("image_key", "audio_key", "video_key", "image_bytes_key")}
                       - {None} | set(MEDIA_KEYS))
    try:
        with atomic_path(out_path) as tmp:
            n = _run(path, tmp, max(1, int(np)))
    except _NotSure as exc:
        log.info("stats through Data-Juicer's dataset passes: %s", exc)
        return None
    except Exception as exc:  # noqa: BLE001 (an op raised: Data-Juicer's passes report it their way)
        log.info("stats through Data-Juicer's dataset passes after an error here: %r", exc)
        return None
    finally:
        _OPS[:], _TEXT_KEYS[:], _CODEC[:], _MEDIA[:] = [], [], [], []
    return n


def _stats_feature():
    """How Data-Juicer's dataset stores the stats column, found as it does (a column of {} that a map
    fills): with the pinned `datasets` a ``Json`` feature, whose encoding (pandas' ujson, 10 digits)
    rounds floats; the same encode/decode is applied here. Any other storage: None (not reproduced)."""
    from data_juicer.core.data import NestedDataset, add_same_content_to_new_column
    from datasets import Dataset

    value = 0.367816091954023

    def fill(sample):
        sample[STATS]["x"] = value
        return sample

    ds = NestedDataset(Dataset.from_list([{"text": "a"}, {"text": "b"}]))
    ds = ds.map(add_same_content_to_new_column, fn_kwargs={"new_column_name": STATS, "initial_value": {}},
                keep_in_memory=True)
    ds = ds.map(fill, keep_in_memory=True)
    feature = ds.features.get(STATS)
    if type(feature).__name__ != "Json":
        return None
    stored = ds[0][STATS]
    return feature if stored == feature.decode_example(feature.encode_example({"x": value})) else None


def _stats_ops(cfg):
    from data_juicer.ops import NON_STATS_FILTERS, TAGGING_OPS, Filter, load_ops

    ops = load_ops(cfg.process)
    for op in ops:
        if (not isinstance(op, Filter) or op._name in NON_STATS_FILTERS.modules or op._name in TAGGING_OPS.modules
                or op.use_cuda() or getattr(op, "index_key", None) is not None):
            return None, None
    keys = cfg.text_keys if isinstance(cfg.text_keys, list) else [cfg.text_keys]
    return (ops or None), [k for k in keys if k]


def _run(path: str, out: str, np: int) -> int:
    schema = None
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(np) if np > 1 else _Inline() as pool:
            for wave in _waves(_lines(path), 1000, 4 * np):
                for lines, row_schema in pool.map(_work, wave):
                    schema = _merge(schema, row_schema, "rows")
                    fh.writelines(lines)
                    n += len(lines)
    return n


def _lines(path: str):
    with (gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")) as fh:
        yield from fh


def _waves(lines, size: int, per_wave: int):
    """Batches of `size` lines, `per_wave` batches at a time (bounded memory for any file size)."""
    wave, batch = [], []
    for line in lines:
        if line.strip():
            batch.append(line)
        if len(batch) == size:
            wave.append(batch)
            batch = []
            if len(wave) == per_wave:
                yield wave
                wave = []
    if batch:
        wave.append(batch)
    if wave:
        yield wave


def _work(lines: list[str]):
    """One batch through every op (in a worker): the output lines and the batch's value types."""
    rows = [json.loads(line) for line in lines]
    schema = None
    for row in rows:
        if not isinstance(row, dict) or STATS in row or any(k in row for k in _MEDIA):
            raise _NotSure("rows that are not plain objects, or carry stats or media")
        schema = _merge(schema, _schema(row), "rows")
    rows = [r for r in rows if all(r.get(k) is not None for k in _TEXT_KEYS)]  # as Data-Juicer's loader
    if not rows:
        return [], schema
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    stats = [{} for _ in rows]
    for op in _OPS:
        stats = _op_stats(op, columns, stats)
    out = []
    feature = _CODEC[0]
    for row, st in zip(rows, stats):
        row[STATS] = feature.decode_example(feature.encode_example(st))  # as the dataset stores it
        out.append(json.dumps(row, ensure_ascii=False) + "\n")
    return out, schema


def _op_stats(op, columns: dict, stats: list) -> list:
    if op.is_batched_op():
        res = op.compute_stats({**columns, STATS: stats})
        new = list(res.get(STATS, []))
    else:
        new = []
        for i in range(len(stats)):
            res = op.compute_stats({**{k: [v[i]] for k, v in columns.items()}, STATS: [stats[i]]})
            new += list(res.get(STATS, []))
    if len(new) != len(stats) or not all(isinstance(s, dict) for s in new):
        raise _NotSure(f"{op._name} dropped rows (an op error)")
    return new


def _schema(value):
    """A value's type shape; None fits any type (Arrow keeps it as a null)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return ("dict", tuple((k, _schema(v)) for k, v in value.items()))
    if isinstance(value, list):
        item = None
        for v in value:
            item = _merge(item, _schema(v), "list items")
        return ("list", item)
    return type(value).__name__


def _merge(a, b, where: str):
    if a is None:
        return b
    if b is None or a == b:
        return a
    if a[0] == b[0] == "list" and isinstance(a, tuple) and isinstance(b, tuple):
        return ("list", _merge(a[1], b[1], where))
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "dict" \
            and [k for k, _ in a[1]] == [k for k, _ in b[1]]:
        return ("dict", tuple((k, _merge(x, y, where)) for (k, x), (_, y) in zip(a[1], b[1])))
    raise _NotSure(f"{where} differ in keys or value types (Arrow would fill or convert values)")


class _Inline:
    """A one-process stand-in for a Pool (np = 1)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def map(fn, items):
        return [fn(item) for item in items]
