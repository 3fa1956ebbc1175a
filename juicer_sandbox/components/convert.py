"""Format conversion for ``GeneralDataExecutorHook``, plus the data readers the other components share.

Converters (registry :data:`CONVERTERS`, config schemas in :data:`SCHEMAS`); each is ``fn(cfg) -> list[str]``
where ``cfg`` is the job's ``extra_configs`` with ``dataset_path`` (str or list) and ``export_path`` (a directory):

* ``dj_to_parquet``: any readable dataset (see :func:`read_rows`) -> ``<export>/<basename>.parquet``.
* ``parquet_to_dj``: ``.parquet`` -> ``<export>/<basename>.jsonl``.
* ``dj_to_hf_dataset``: any readable dataset -> ``<export>/<basename>/`` written by ``datasets.save_to_disk``.
* ``hf_dataset_to_dj``: a ``save_to_disk`` directory -> ``<export>/<basename>.jsonl``; for a ``DatasetDict``
  directory, one file per split, ``<export>/<basename>_<split>.jsonl`` (splits in the dict's order).

``<basename>`` is the file name without its data extension (``.jsonl.gz``, ``.json.gz``, ``.jsonl``, ``.json``,
``.parquet``; any other extension is removed with ``os.path.splitext``; a directory keeps its name).

Round trip. Records must survive ``dj -> parquet/hf -> dj`` unchanged, including nested ``__dj__stats__`` dicts.
Arrow infers one type per column, which is lossy when rows differ (a stats key present in only some rows comes back
as ``null`` in the others, ``1`` next to ``2.5`` comes back as ``1.0``, an empty dict ``{}`` cannot be written to
parquet at all). So each column is stored natively when arrow reproduces every value exactly, and otherwise as a
column of JSON text (a row without the key holds ``null``). The JSON-text columns are listed under the
``juicer_sandbox`` key of the parquet schema metadata, or in ``juicer_sandbox.json`` inside the ``save_to_disk``
directory; the readers here decode them. Column order is the first-seen order of keys over the rows, so a round trip
gives equal records (key order inside a record may change when rows listed their keys in different orders).

Outputs are written atomically and are byte-identical when rerun on the same input (the HF dataset's fingerprint is
a hash of the content, not random).

The readers and the lossless arrow writing are in :mod:`.dataset_rows`; the config helpers every component
uses (:func:`~.config_helpers.check_keys`, :func:`~.config_helpers.input_paths`, ...) in :mod:`.config_helpers`.
Nothing here imports ``data_juicer``; ``pyarrow`` and ``datasets`` are imported only where they are needed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import ComponentConfigError
from ..io import atomic_path, replace_dir, write_json, write_jsonl
from .config_helpers import (EXPORT_SCHEMA, PATHS_SCHEMA, check_keys, check_unique_names, data_basename, export_dir,
                             input_paths)
from .dataset_rows import _HF_SIDECAR, _META_KEY, _is_plain, _jsonable, read_parquet_rows, read_rows, rows_to_table

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------------------
# Converters
# --------------------------------------------------------------------------------------------------------------------


def _common(cfg: dict, schema: dict) -> tuple[list[str], Path]:
    check_keys(cfg, schema)
    paths = input_paths(cfg)
    out = export_dir(cfg)
    check_unique_names(paths, "dataset_path")
    return paths, out


def dj_to_parquet(cfg: dict) -> list[str]:
    """DJ data (jsonl, jsonl.gz, json, parquet) -> ``<export>/<basename>.parquet``."""
    import pyarrow.parquet as pq

    paths, out = _common(cfg, SCHEMAS["dj_to_parquet"])
    outputs = []
    for p in paths:
        rows = read_rows(p)
        table, json_cols = rows_to_table(rows)
        table = table.replace_schema_metadata({_META_KEY: json.dumps({"json_columns": json_cols}).encode()})
        target = out / f"{data_basename(p)}.parquet"
        with atomic_path(target, suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
        log.info("dj_to_parquet: %s -> %s (%d rows, JSON-text columns: %s)", p, target, len(rows), json_cols or "none")
        outputs.append(str(target))
    return outputs


def parquet_to_dj(cfg: dict) -> list[str]:
    """``.parquet`` -> ``<export>/<basename>.jsonl``."""
    paths, out = _common(cfg, SCHEMAS["parquet_to_dj"])
    bad = [p for p in paths if not p.endswith(".parquet")]
    if bad:
        raise ComponentConfigError(f"expected .parquet files, got: {', '.join(bad)}", key="dataset_path")
    outputs = []
    for p in paths:
        target = out / f"{data_basename(p)}.jsonl"
        n = write_jsonl(target, read_parquet_rows(p))
        log.info("parquet_to_dj: %s -> %s (%d rows)", p, target, n)
        outputs.append(str(target))
    return outputs


def dj_to_hf_dataset(cfg: dict) -> list[str]:
    """DJ data -> ``<export>/<basename>/``, a ``datasets`` ``save_to_disk`` directory."""
    import datasets
    from datasets.table import InMemoryTable

    paths, out = _common(cfg, SCHEMAS["dj_to_hf_dataset"])
    outputs = []
    for p in paths:
        rows = read_rows(p)
        table, json_cols = rows_to_table(rows)
        fingerprint = hashlib.sha256(
            "\n".join(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows).encode()
        ).hexdigest()[:16]
        ds = datasets.Dataset(InMemoryTable(table.replace_schema_metadata(None)), fingerprint=fingerprint)
        target = out / data_basename(p)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=out))
        bars = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            ds.save_to_disk(str(tmp))
            write_json(tmp / _HF_SIDECAR, {"json_columns": json_cols})
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if bars:
                datasets.enable_progress_bars()
        log.info("dj_to_hf_dataset: %s -> %s (%d rows)", p, target, len(rows))
        outputs.append(str(target))
    return outputs


def hf_dataset_to_dj(cfg: dict) -> list[str]:
    """A ``save_to_disk`` directory -> ``<export>/<basename>.jsonl`` (``_<split>`` per split of a DatasetDict)."""
    import datasets

    paths, out = _common(cfg, SCHEMAS["hf_dataset_to_dj"])
    not_dirs = [p for p in paths if not os.path.isdir(p)]
    if not_dirs:
        raise ComponentConfigError(
            f"expected datasets save_to_disk directories, got files: {', '.join(not_dirs)}", key="dataset_path"
        )
    outputs = []
    for p in paths:
        try:
            loaded = datasets.load_from_disk(p)
        except (FileNotFoundError, ValueError) as exc:
            raise ComponentConfigError(f"{p} is not a datasets save_to_disk directory ({exc})", key="dataset_path")
        base = data_basename(p)
        if isinstance(loaded, datasets.DatasetDict):
            parts = [(f"{base}_{split}", ds, os.path.join(p, split)) for split, ds in loaded.items()]
        else:
            parts = [(base, loaded, p)]
        for name, ds, src in parts:
            sidecar = Path(src) / _HF_SIDECAR
            json_cols = []
            if sidecar.exists():
                json_cols = json.loads(sidecar.read_text(encoding="utf-8")).get("json_columns", [])
            rows = ds.to_list()
            for row in rows:
                for col in json_cols:
                    if col not in row:
                        continue
                    if row[col] is None:
                        del row[col]
                    else:
                        row[col] = json.loads(row[col])
            unplain = [(f.name, f.type) for f in ds.data.schema if f.name not in json_cols and not _is_plain(f.type)]
            for row in rows:
                for col, ctype in unplain:
                    if col in row:
                        row[col] = _jsonable(row[col], col, src, ctype)
            target = out / f"{name}.jsonl"
            write_jsonl(target, rows)
            log.info("hf_dataset_to_dj: %s -> %s (%d rows)", src, target, len(rows))
            outputs.append(str(target))
    return outputs


CONVERTERS: dict[str, Callable[[dict], list[str]]] = {
    "dj_to_parquet": dj_to_parquet,
    "parquet_to_dj": parquet_to_dj,
    "dj_to_hf_dataset": dj_to_hf_dataset,
    "hf_dataset_to_dj": hf_dataset_to_dj,
}

def _converter_schema(name: str, description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "type": {"const": name},
            "dataset_path": PATHS_SCHEMA,
            "export_path": EXPORT_SCHEMA,
        },
        "required": ["dataset_path", "export_path"],
        "additionalProperties": False,
    }


#: JSON schema of each converter's ``extra_configs``.
SCHEMAS: dict[str, dict] = {
    "dj_to_parquet": _converter_schema("dj_to_parquet", "DJ data -> <export>/<basename>.parquet"),
    "parquet_to_dj": _converter_schema("parquet_to_dj", ".parquet -> <export>/<basename>.jsonl"),
    "dj_to_hf_dataset": _converter_schema("dj_to_hf_dataset", "DJ data -> <export>/<basename>/ (save_to_disk)"),
    "hf_dataset_to_dj": _converter_schema(
        "hf_dataset_to_dj", "save_to_disk dir -> <export>/<basename>.jsonl (<basename>_<split>.jsonl per split)"
    ),
}
