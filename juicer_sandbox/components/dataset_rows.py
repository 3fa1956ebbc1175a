"""Dataset rows in and out: read any dataset file into dicts, and write rows to arrow losslessly.

Arrow infers one type per column, which is lossy when rows differ; a column arrow cannot reproduce exactly is
stored as JSON text and listed under the ``juicer_sandbox`` key of the parquet schema metadata (or in
``juicer_sandbox.json`` next to a ``save_to_disk`` dataset); the readers here decode it (see :mod:`.convert`).
"""
from __future__ import annotations

import datetime as _dt
import decimal
import gzip
import json
import os
from typing import Any, Iterable

from ..core.names import DJ_STATS as STATS_FIELD
from ..errors import ComponentConfigError, SandboxError
from ..io import read_jsonl

_META_KEY = b"juicer_sandbox"
_HF_SIDECAR = "juicer_sandbox.json"


# --------------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------------


def read_rows(path: str | os.PathLike) -> list[dict]:
    """Read a dataset file into a list of dicts.

    ``.jsonl`` / ``.jsonl.gz`` (JSON lines), ``.json`` / ``.json.gz`` (a JSON array; JSON lines are accepted too, as
    some tools write them under ``.json``), ``.parquet`` (with the JSON-text columns of :func:`rows_to_table`
    decoded). Anything else is read as JSON lines. Relative media paths (``images``, ``videos``, ``audios``) come
    back absolute, resolved as Data-Juicer resolves them (``dj/media.py``), so rows written anywhere keep them valid.
    """
    from ..dj.media import copy_rows

    return list(copy_rows(str(path), _read_rows(path)))


def _read_rows(path: str | os.PathLike) -> list[dict]:
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
