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

This module also holds helpers used by :mod:`.pools` and :mod:`.ranking`: :func:`read_rows`, :func:`data_basename`,
:func:`input_paths`, :func:`export_dir`, :func:`check_keys`. It does not import ``data_juicer``; ``pyarrow`` and
``datasets`` are imported only where they are needed.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import difflib
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.names import DJ_STATS as STATS_FIELD
from ..errors import ComponentConfigError, SandboxError
from ..io import atomic_path, read_jsonl, replace_dir, write_json, write_jsonl

log = logging.getLogger(__name__)


#: Data-file extensions removed from a path to get its basename (longest first).
DATA_EXTENSIONS = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".parquet")

_META_KEY = b"juicer_sandbox"
_HF_SIDECAR = "juicer_sandbox.json"


# --------------------------------------------------------------------------------------------------------------------
# Config helpers shared by the components
# --------------------------------------------------------------------------------------------------------------------


def check_keys(cfg: dict, schema: dict) -> None:
    """Reject keys of ``cfg`` that ``schema`` does not list (with a close-match hint)."""
    if not isinstance(cfg, dict):
        raise ComponentConfigError(f"extra_configs must be a mapping, got {type(cfg).__name__}")
    allowed = list(schema.get("properties", {}))
    for key in cfg:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else f"; allowed keys: {', '.join(sorted(allowed))}"
            raise ComponentConfigError(f"unknown key{extra}", key=str(key))
    ctype = cfg.get("type")
    expected = schema.get("properties", {}).get("type", {}).get("const")
    if ctype is not None and expected is not None and ctype != expected:
        raise ComponentConfigError(f"expected type '{expected}', got '{ctype}'", key="type")


def input_paths(cfg: dict, key: str = "dataset_path", must_exist: bool = True) -> list[str]:
    """``cfg[key]`` as a non-empty list of path strings (a str becomes ``[str]``); missing files are an error."""
    if key not in cfg or cfg[key] is None:
        raise ComponentConfigError("is required (a path or a list of paths)", key=key)
    value = cfg[key]
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ComponentConfigError("must be a path or a non-empty list of paths", key=key)
    paths = []
    for i, p in enumerate(value):
        if not isinstance(p, (str, os.PathLike)) or not str(p):
            raise ComponentConfigError(f"entry {i} is not a path: {p!r}", key=key)
        paths.append(str(p))
    if must_exist:
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise ComponentConfigError(f"input file(s) not found: {', '.join(missing)}", key=key)
    return paths


def export_dir(cfg: dict, key: str = "export_path") -> Path:
    """The export directory (created if needed)."""
    value = cfg.get(key)
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ComponentConfigError("is required (an output directory)", key=key)
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ComponentConfigError(f"must be a directory, but {path} is a file", key=key)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_basename(path: str | os.PathLike) -> str:
    """File name without its data extension (``a/b.jsonl.gz`` -> ``b``)."""
    name = os.path.basename(os.path.normpath(str(path)))
    if os.path.isdir(path):
        return name
    for ext in DATA_EXTENSIONS:
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return os.path.splitext(name)[0]


def check_unique_names(paths: list[str], key: str, make_name: Callable[[str], str] = data_basename) -> None:
    """Two inputs whose outputs would get the same name would overwrite each other: refuse."""
    seen: dict[str, str] = {}
    for p in paths:
        name = make_name(p)
        if name in seen:
            raise ComponentConfigError(
                f"{seen[name]} and {p} have the same basename '{name}', so their outputs would overwrite "
                "each other; rename one or run them in separate jobs",
                key=key,
            )
        seen[name] = p


# --------------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------------


def read_rows(path: str | os.PathLike) -> list[dict]:
    """Read a dataset file into a list of dicts.

    ``.jsonl`` / ``.jsonl.gz`` (JSON lines), ``.json`` / ``.json.gz`` (a JSON array; JSON lines are accepted too, as
    some tools write them under ``.json``), ``.parquet`` (with the JSON-text columns of :func:`rows_to_table`
    decoded). Anything else is read as JSON lines.
    """
    p = str(path)
    if os.path.isdir(p):
        raise ComponentConfigError(
            f"{p} is a directory, not a data file (convert a datasets save_to_disk directory with hf_dataset_to_dj)",
            key="dataset_path",
        )
    if p.endswith(".parquet"):
        return read_parquet_rows(p)
    if p.endswith(".json") or p.endswith(".json.gz"):
        with (gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")) as fh:
            text = fh.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            try:
                return _check_dicts([json.loads(ln) for ln in text.splitlines() if ln.strip()], p)
            except json.JSONDecodeError as exc:
                raise SandboxError(f"{p}: neither a JSON array nor JSON lines ({exc.msg})") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise SandboxError(f"{p}: expected a JSON array of records, got {type(data).__name__}")
        return _check_dicts(data, p)
    return _check_dicts(read_jsonl(p), p)


def _check_dicts(rows: list, path: str) -> list[dict]:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SandboxError(f"{path}: record {i + 1} is a {type(row).__name__}, not a JSON object")
    return rows


def read_parquet_rows(path: str) -> list[dict]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    json_cols = json.loads(meta[_META_KEY]).get("json_columns", []) if _META_KEY in meta else []
    return _table_to_rows(table, json_cols, path)


def _table_to_rows(table, json_cols: Iterable[str], source: str) -> list[dict]:
    json_cols = [c for c in json_cols if c in table.column_names]
    unplain = [(f.name, f.type) for f in table.schema if f.name not in json_cols and not _is_plain(f.type)]
    rows = table.to_pylist()
    for row in rows:
        for col in json_cols:
            value = row[col]
            if value is None:
                del row[col]
            else:
                row[col] = json.loads(value)
        for col, ctype in unplain:
            row[col] = _jsonable(row[col], col, source, ctype)
    return rows


def _is_plain(t) -> bool:
    """True when every value of arrow type ``t`` converts to a JSON-ready Python value."""
    import pyarrow as pa

    if pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t):
        return True
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _is_plain(t.value_type)
    if pa.types.is_struct(t):
        return all(_is_plain(t.field(i).type) for i in range(t.num_fields))
    return False


def _jsonable(value: Any, col: str, source: str, t=None) -> Any:
    """A JSON-ready copy of ``value`` (read from an arrow column of type ``t``, when known)."""
    import pyarrow as pa

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if t is not None and pa.types.is_map(t):  # arrow maps come back as lists of (key, value) pairs
        return {str(k): _jsonable(v, col, source, t.item_type) for k, v in value}
    if isinstance(value, dict):
        is_struct = t is not None and pa.types.is_struct(t)
        ftypes = {t.field(i).name: t.field(i).type for i in range(t.num_fields)} if is_struct else {}
        return {str(k): _jsonable(v, col, source, ftypes.get(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        vt = t.value_type if t is not None and hasattr(t, "value_type") else None
        return [_jsonable(v, col, source, vt) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        raise ComponentConfigError(
            f"{source}: column '{col}' holds binary data, which cannot be written to JSON lines", key="dataset_path"
        )
    raise ComponentConfigError(
        f"{source}: column '{col}' holds {type(value).__name__} values, which cannot be written to JSON lines",
        key="dataset_path",
    )


# --------------------------------------------------------------------------------------------------------------------
# Writing arrow tables losslessly
# --------------------------------------------------------------------------------------------------------------------


def _column_names(rows: list[dict]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for k in row:
            names.setdefault(k, None)
    return list(names)


def _has_empty_struct(t) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_has_empty_struct(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _has_empty_struct(t.value_type)
    return False


def _canon(values: Any) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def rows_to_table(rows: list[dict]):
    """An arrow table for ``rows`` plus the names of the columns stored as JSON text (see the module docstring)."""
    import pyarrow as pa

    arrays, names, json_cols = [], [], []
    for col in _column_names(rows):
        present = [col in row for row in rows]
        values = [row.get(col) for row in rows]
        arr = None
        if all(present):
            try:
                arr = pa.array(values)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                arr = None
            if arr is not None and (_has_empty_struct(arr.type) or _canon(arr.to_pylist()) != _canon(values)):
                arr = None
        if arr is None:
            arr = pa.array(
                [json.dumps(v, ensure_ascii=False) if p else None for v, p in zip(values, present)], type=pa.string()
            )
            json_cols.append(col)
        arrays.append(arr)
        names.append(col)
    if not names:
        # no keys at all: keep the row count with an all-null JSON column, which the readers drop again
        names, json_cols = ["__juicer_sandbox_empty__"], ["__juicer_sandbox_empty__"]
        arrays = [pa.array([None] * len(rows), type=pa.string())]
    return pa.Table.from_arrays(arrays, names=names), json_cols


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

PATHS_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
    "description": "a path or a list of paths",
}
EXPORT_SCHEMA = {"type": "string", "minLength": 1, "description": "output directory (created if missing)"}


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
