"""Dataset pre-flight: check a job's input data before Data-Juicer starts.

Data-Juicer meets a bad record late (after its start-up and the load) and reacts badly: a
malformed line is a traceback deep in ``datasets``, a number where text belongs drops the
whole batch with exit 0, a ``null`` text row vanishes. So every dataset a Data-Juicer job
reads is streamed once here first, at about the speed of ``json.loads`` alone
(bench/bench_preflight.py):

* JSON lines: one JSON object per line, valid UTF-8, each configured text key
  (the recipe's ``text_keys``, default ``text``) present and a string, media paths
  (``image_key``/``audio_key``/``video_key`` lists) existing, relative ones resolved as
  Data-Juicer resolves them (``media.py``: against the dataset file's directory, a dataset
  directory itself, or the current directory for a mixture of files);
* ``.gz``/``.zst`` complete (a truncated stream is an error, not a short dataset);
* parquet: a parquet file whose schema has the text keys as string columns, without nulls;
* not empty.

A bad file fails with ``file:line: what is wrong`` for the first few offenders and a count.
With ``on_bad_records: skip`` the bad records are left out of a cleaned copy (in the job's
scratch directory), and the count and line numbers go to the job's metrics.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SandboxError
from .media import is_absolute, media_base, media_keys as recipe_media_keys, resolve, work_roots
from .preflight_files import _LINE_FILES, _open_lines, absolute_copies, copy_without, dataset_files

MAX_SHOWN = 5  # offenders named in the message
MAX_LINES_KEPT = 1000  # line numbers kept in the metrics
JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst")
_MISSING = object()


@dataclass
class Report:
    """What the check found in one dataset (all its files)."""

    records: int = 0
    n_bad: int = 0
    shown: list[str] = field(default_factory=list)  # 'file:line: what' for the first offenders
    bad_lines: dict[str, list[int]] = field(default_factory=dict)  # file -> line numbers
    relative_media: bool = False  # some media path is relative (a moved copy must rewrite it)
    # files of a mixture or directory written by the sandbox (inside the work dir): their relative media
    # paths are relative to themselves, not to Data-Juicer's base, so Data-Juicer gets an absolute copy
    own_bases: dict[str, str] = field(default_factory=dict)  # file -> its directory
    rebase: list[str] = field(default_factory=list)  # those of them holding relative media paths
    fatal: str | None = None  # a problem no skipping can fix (empty, truncated, not parquet)

    def bad(self, file: str, line: int, what: str) -> None:
        self.n_bad += 1
        if len(self.shown) < MAX_SHOWN:
            self.shown.append(f"{file}:{line}: {what}")
        self.bad_lines.setdefault(file, []).append(line)

    def message(self) -> str:
        more = f" (and {self.n_bad - len(self.shown)} more)" if self.n_bad > len(self.shown) else ""
        return (f"{self.n_bad} bad record(s) of {self.records}{more}; fix them, or set on_bad_records: skip "
                f"to leave them out:\n  " + "\n  ".join(self.shown))


def _keys(value, default) -> list[str]:
    if value is None:
        value = default
    return [value] if isinstance(value, str) else [str(v) for v in value]


def recipe_keys(recipe: dict) -> tuple[list[str], list[str]]:
    """(text keys, media keys) a recipe reads, with Data-Juicer's defaults."""
    return _keys(recipe.get("text_keys"), "text"), recipe_media_keys(recipe)


def _media_ok(value, base: str, cache: dict, report: Report) -> str | None:
    """None if every path exists, else the first missing one (as written, and where it was looked for)."""
    for p in value if isinstance(value, list) else [value]:
        if not isinstance(p, str):
            return f"{p!r} is not a path"
        if p.lower().startswith(("http://", "https://", "s3://", "gs://", "hdfs://")):
            continue  # remote: Data-Juicer fetches it
        full = p
        if not is_absolute(p):
            report.relative_media = True
            full = resolve(p, base)
        ok = cache.get(full)
        if ok is None:
            ok = cache[full] = os.path.exists(full)
        if not ok:
            return f"{full} does not exist" + ("" if full == p else f" (written {p!r}, relative to {base})")
    return None


def _text_problem(rec: dict, key: str) -> str | None:
    value = rec.get(key, _MISSING)
    if value is _MISSING and "." in key:  # a nested text key 'a.b'
        value = rec
        for part in key.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
    if type(value) is str:
        return None
    if value is _MISSING:
        return f"no {key!r} key"
    if value is None:
        return f"{key!r} is null"
    return f"{key!r} is a {type(value).__name__} ({json.dumps(value)[:40]}), not a string"


def check_record(rec, text_keys, media_keys, base, cache, report) -> str | None:
    if type(rec) is not dict:
        return f"not a JSON object (a {type(rec).__name__})"
    for key in text_keys:
        problem = _text_problem(rec, key)
        if problem:
            return problem
    for key in media_keys:
        value = rec.get(key)
        if value:
            missing = _media_ok(value, base, cache, report)
            if missing:
                return f"{key}: {missing}"
    return None


def check_json_lines(path: str, text_keys: list[str], media_keys: list[str], report: Report,
                     base: str | None = None) -> None:
    """base: where relative media paths resolve (default: the file's directory)."""
    base, cache, loads = base or media_base(path), {}, json.loads
    lineno = 0
    try:
        for lineno, raw in enumerate(_open_lines(path), 1):
            if raw.isspace() or not raw:
                continue
            try:
                rec = loads(raw)
            except UnicodeDecodeError as exc:
                report.records += 1
                report.bad(path, lineno, f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})")
                continue
            except ValueError as exc:
                report.records += 1
                report.bad(path, lineno, f"not valid JSON ({getattr(exc, 'msg', exc)})")
                continue
            report.records += 1
            problem = check_record(rec, text_keys, media_keys, base, cache, report)
            if problem:
                report.bad(path, lineno, problem)
    except (EOFError, OSError, zlib.error) as exc:
        report.fatal = f"{path}: compressed file is damaged or truncated after line {lineno} ({exc})"


def check_json_array(path: str, text_keys: list[str], media_keys: list[str], report: Report,
                     base: str | None = None) -> None:
    """A .json file holding one JSON list of records (line = the record's position)."""
    try:
        with open(path, "rb") as fh:
            records = json.loads(fh.read())
    except ValueError as exc:
        report.fatal = f"{path}: not valid JSON ({exc})"
        return
    if not isinstance(records, list):
        records = [records]
    base, cache = base or media_base(path), {}
    for i, rec in enumerate(records, 1):
        report.records += 1
        problem = check_record(rec, text_keys, media_keys, base, cache, report)
        if problem:
            report.bad(path, i, f"record {i}: {problem}")


def check_parquet(path: str, text_keys: list[str], report: Report) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        report.fatal = f"{path}: not a readable parquet file ({exc})"
        return
    schema = pf.schema_arrow
    report.records += pf.metadata.num_rows
    for key in text_keys:
        if key not in schema.names:
            report.fatal = f"{path}: no column {key!r} (columns: {', '.join(schema.names)})"
            return
        typ = schema.field(key).type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            report.fatal = f"{path}: column {key!r} holds {typ}, not text (strings)"
            return
    offset = 0
    for batch in pf.iter_batches(columns=text_keys, batch_size=65536):
        for key in text_keys:
            col = batch.column(key)
            if col.null_count:
                for i, v in enumerate(col.is_null().to_pylist()):
                    if v:
                        report.bad(path, offset + i + 1, f"row {offset + i + 1}: {key!r} is null")
        offset += batch.num_rows


def check_file(path: str, text_keys: list[str], media_keys: list[str], report: Report,
               base: str | None = None) -> None:
    if os.path.getsize(path) == 0:
        report.fatal = f"{path}: the file is empty"
        return
    name = path.lower()
    if name.endswith(".parquet"):
        check_parquet(path, text_keys, report)
    elif name.endswith(".json"):
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
        if head.startswith(b"["):
            check_json_array(path, text_keys, media_keys, report, base)
        else:
            _LINE_FILES.add(path)
            check_json_lines(path, text_keys, media_keys, report, base)
    elif name.endswith(JSON_SUFFIXES):
        check_json_lines(path, text_keys, media_keys, report, base)
    # other formats (csv, txt, ...) are left to Data-Juicer


def check_dataset(dataset_path: str, text_keys: list[str], media_keys: list[str],
                  work_dir: str | None = None) -> Report:
    """As Data-Juicer, one base for the whole dataset_path, except for files inside ``work_dir`` (written by
    the sandbox: media relative to themselves, ``media.py``) in a mixture or directory."""
    report, base = Report(), media_base(dataset_path)
    roots = [r.rstrip(os.sep) + os.sep for r in work_roots(work_dir)] if work_dir else []
    for path in dataset_files(dataset_path):
        before, relative = report.records, report.relative_media
        own = os.path.dirname(os.path.abspath(path))
        if own != base and any(os.path.abspath(path).startswith(r) for r in roots):
            report.own_bases[path], report.relative_media = own, False
            check_file(path, text_keys, media_keys, report, own)
            if report.relative_media:
                report.rebase.append(path)
            report.relative_media = report.relative_media or relative
        else:
            check_file(path, text_keys, media_keys, report, base)
        if report.fatal:
            return report
        if report.records == before and path.lower().endswith(JSON_SUFFIXES):
            report.fatal = f"{path}: holds no records"
            return report
    return report


def prepare(recipe: dict, scratch: str | os.PathLike, on_bad_records: str = "fail",
            work_dir: str | None = None) -> tuple[dict, dict]:
    """Check the recipe's dataset; returns (recipe to run, metrics). Raises SandboxError naming
    the file and lines when records are bad (unless on_bad_records is 'skip') or the file is unusable.
    ``work_dir``: where the sandbox writes (check_dataset)."""
    path = recipe.get("dataset_path")
    if not isinstance(path, str) or not path.strip():
        return recipe, {}
    text_keys, media_keys = recipe_keys(recipe)
    report = check_dataset(path, text_keys, media_keys, work_dir)
    if report.fatal:
        raise SandboxError(report.fatal)
    metrics = {"records": report.records, "bad_records": report.n_bad}
    dest = Path(scratch) / "preflight"
    recipe = dict(recipe)
    single = os.path.exists(path)
    if report.n_bad:
        if on_bad_records != "skip":
            raise SandboxError(f"dataset_path {path}: {report.message()}")
        if report.n_bad >= report.records:
            raise SandboxError(f"dataset_path {path}: every record is bad, nothing is left to process:\n  "
                               + "\n  ".join(report.shown))
        if single and os.path.isdir(path):
            raise SandboxError(f"dataset_path {path}: on_bad_records: skip cleans files, not directories; "
                               f"fix these records:\n  " + "\n  ".join(report.shown))
        metrics["bad_lines"] = {f: lines[:MAX_LINES_KEPT] for f, lines in report.bad_lines.items()}
        numbered = bool(report.own_bases)  # sandbox-written files of a mixture often share a name
        cleaned = {f: copy_without(f, set(lines), dest, media_keys, report.relative_media,
                                   report.own_bases.get(f, media_base(path)), stem=f"{i}" if numbered else None)
                   for i, (f, lines) in enumerate(report.bad_lines.items())}
        cleaned.update({f: copy_without(f, set(), dest, media_keys, True, report.own_bases[f], stem=f"own{i}")
                        for i, f in enumerate(report.rebase) if f not in cleaned})
        if single:
            recipe["dataset_path"] = cleaned[path]
        else:
            recipe["dataset_path"] = " ".join(shlex.quote(cleaned.get(t, t)) for t in shlex.split(path))
        metrics["cleaned_dataset"] = recipe["dataset_path"]
    elif report.rebase:
        recipe["dataset_path"] = absolute_copies(path, report.own_bases, report.rebase, dest, media_keys)
    elif single and re.search(r"\s", path):  # Data-Juicer would read one path with a space as a mixture
        if os.path.isfile(path) and report.relative_media:
            recipe["dataset_path"] = copy_without(path, set(), dest, media_keys, True, media_base(path))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            link = dest / re.sub(r"\s+", "_", Path(path).name)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(os.path.abspath(path))
            recipe["dataset_path"] = str(link)
    return recipe, metrics


def check_job_data(recipe: dict, scratch: str | os.PathLike, extra: dict | None,
                   work_dir: str | None = None) -> tuple[dict, dict]:
    """prepare() for a hook job: (recipe to run, metrics to merge into the job's metrics)."""
    mode = (extra or {}).get("on_bad_records", "fail")
    recipe, found = prepare(recipe, scratch, mode, work_dir)
    if not found:
        return recipe, {}
    metrics = {"bad_records": found["bad_records"]}
    if found["bad_records"]:
        metrics["bad_lines"] = found["bad_lines"]
        where = "; ".join(f"{f} line(s) {', '.join(map(str, lines[:20]))}{' ...' if len(lines) > 20 else ''}"
                          for f, lines in found["bad_lines"].items())
        metrics["warnings"] = [f"skipped {found['bad_records']} bad record(s) of {found['records']} "
                               f"(on_bad_records: skip): {where}"]
    return recipe, metrics
