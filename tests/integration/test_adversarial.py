"""Adversarial corpus (issue 14): bad inputs and configs, each run through real `snakemake`.

For every case: a non-zero exit, no Python traceback on the console, the offending file or key
named, and nothing a rerun would trust (no record of the failing job). Most cases fail when the
plan is compiled (`snakemake -n`); the bad data files fail in the dataset pre-flight, before
Data-Juicer starts. The stateful cases (reruns, locks, exports) are in test_reruns.py.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

from .conftest import demo_slice, downsample_and_compare, run_snakemake

pytestmark = pytest.mark.e2e

ROWS = [{"text": f"A sentence of plain text, number {i}, long enough to keep."} for i in range(30)]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def _clean_failure(workdir: Path, proc, *names: str) -> None:
    console = proc.stdout + proc.stderr
    assert proc.returncode != 0, console[-3000:]
    assert "Traceback" not in console, console[-6000:]
    for name in names:
        assert name in proc.stderr, f"{name!r} not named:\n{proc.stderr[-3000:]}"


def _no_trusted_records(workdir: Path, job: str | None = None) -> None:
    records = list((workdir / "out").rglob("context.json")) if (workdir / "out").exists() else []
    if job is None:
        assert not records, records
    else:
        assert not (workdir / "out" / job / "context.json").exists()


def _write(workdir: Path, spec, name="sb.yaml") -> Path:
    path = workdir / name
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False))
    return path


def _jsonl(path: Path, rows, tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows) + tail)
    return path


def _probe(data, **recipe) -> dict:
    return {"work_dir": "out", "probe_job_configs": [{
        "hook": "ProbeViaAnalyzerHook", "meta_name": "probe",
        "dj_configs": {"dataset_path": str(data), "process": [{"text_length_filter": {"min_len": 1}}], **recipe}}]}


def _process(data, op: dict, **recipe) -> dict:
    return {"work_dir": "out", "execution_job_configs": [{
        "hook": "ProcessDataHook", "meta_name": "process",
        "dj_configs": {"dataset_path": str(data), "export_path": "out_exports/p.jsonl", "process": [op], **recipe}}]}


def _train(data, **extra) -> dict:
    return {"work_dir": "out", "execution_job_configs": [{
        "hook": "TrainModelHook", "meta_name": "lm",
        "extra_configs": {"type": "causal_lm", "dataset_path": str(data), **extra}}]}


# --------------------------------------------------------------------------- refused at plan time
# Each builder gets the work dir and returns (sandbox spec or YAML text, strings the error names).
def _down(w, **extra):
    spec = downsample_and_compare(_jsonl(w / "d.jsonl", ROWS))
    spec["execution_job_configs"][0]["extra_configs"].update(extra)
    return spec


def _ksigma_other_dataset(w):
    a, b = _jsonl(w / "a.jsonl", ROWS), _jsonl(w / "b.jsonl", ROWS)
    recipe = {"process": [{"text_length_filter": {"min_len": 1}}]}
    return {"work_dir": "out",
            "probe_job_configs": [{"hook": "ProbeViaAnalyzerHook", "meta_name": "x",
                                   "dj_configs": {**recipe, "dataset_path": str(b)}}],
            "refine_recipe_job_configs": [{"hook": "RefineRecipeViaKSigmaHook", "meta_name": "x",
                                           "dj_configs": {**recipe, "dataset_path": str(a)},
                                           "extra_configs": {"k": 3}}]}, ["dj_configs.dataset_path", "b.jsonl"]


def _sweep(w, run_cap):
    (w / "sweep.yaml").write_text(yaml.safe_dump({
        "method": "random", "metric": {"name": "compare.res_1", "goal": "maximize"}, "run_cap": run_cap,
        "parameters": {"down.extra_configs.target_num_samples": {"values": [3, 4, 5]}}}))
    return {**_down(w), "hpo_config": "sweep.yaml"}


def _dangling(w, sub: str):
    (w / "gone_link").symlink_to(w / "nowhere")
    return str(w / "gone_link" / sub)


PLAN_CASES = {
    "yaml alias bomb": lambda w: (BOMB + "work_dir: out\n", ["sb.yaml", "refused", "aliases"]),
    "recursive yaml alias": lambda w: ("a: &a [1, *a]\nwork_dir: out\n", ["sb.yaml", "refers to itself"]),
    "not yaml": lambda w: ("work_dir: [out\nprobe_job_configs: {\n", ["sb.yaml", "not valid YAML (line"]),
    "not utf-8 config": lambda w: ("work_dir: caf\udce9\n", ["sb.yaml", "not UTF-8"]),
    "config is a list": lambda w: ("- 1\n- 2\n", ["sb.yaml", "mapping"]),
    "no jobs": lambda w: ("work_dir: out\n", ["sb.yaml", "no jobs"]),
    "unknown hook": lambda w: ({"work_dir": "out", "probe_job_configs": [{"hook": "NoSuchHook"}]},
                               ["probe_job_configs[0]", "NoSuchHook"]),
    "million-combination matrix": lambda w: (
        {"work_dir": "out", "matrix": {"a": list(range(1000)), "b": list(range(1000))},
         "execution_job_configs": [{**_down(w)["execution_job_configs"][0], "foreach": ["a", "b"],
                                    "meta_name": "down_{a}_{b}"}]},
        ["execution_job_configs[0].foreach", "1,000,000", "JUICER_SANDBOX_MAX_COMBINATIONS"]),
    "run_cap one million": lambda w: (_sweep(w, 1_000_000), ["hpo_config", "1,000,000 trials", "max_jobs"]),
    "more jobs than max_jobs": lambda w: ({**_down(w), "max_jobs": 1}, ["max_jobs", "2 jobs", "max_jobs: 2"]),
    "work_dir is /": lambda w: ({**_down(w), "work_dir": "/"}, ["work_dir", "root directory"]),
    "work_dir in /proc": lambda w: ({**_down(w), "work_dir": "/proc/sandbox"}, ["work_dir", "/proc"]),
    "work_dir in /etc": lambda w: ({**_down(w), "work_dir": "/etc/sandbox"}, ["work_dir", "/etc"]),
    "work_dir through a dangling symlink": lambda w: ({**_down(w), "work_dir": _dangling(w, "out")},
                                                      ["work_dir", "gone_link", "does not exist"]),
    "work_dir is a file": lambda w: ((w / "afile").write_text("x") and {**_down(w), "work_dir": str(w / "afile")},
                                     ["work_dir", "not a directory"]),
    "export into /proc": lambda w: (_down(w, export_path="/proc/down.jsonl"),
                                    ["execution_job_configs[0].extra_configs.export_path", "/proc"]),
    "export into /sys": lambda w: (_down(w, export_path="/sys/x/down"), ["extra_configs.export_path", "/sys"]),
    "export through a dangling symlink": lambda w: (_down(w, export_path=_dangling(w, "down.jsonl")),
                                                    ["extra_configs.export_path", "gone_link"]),
    "export under a file": lambda w: ((w / "afile").write_text("x") and _down(w, export_path=str(w / "afile/d")),
                                      ["extra_configs.export_path", "is a file"]),
    "k-sigma refine on another dataset than its probe": _ksigma_other_dataset,
    "op whose package is missing": lambda w: (_process(_jsonl(w / "d.jsonl", ROWS), {"audio_duration_filter": {}}),
                                              ["audio_duration_filter", "librosa", "envs/data.yaml"]),
    "another op whose package is missing": lambda w: (_process(_jsonl(w / "d.jsonl", ROWS),
                                                               {"document_simhash_deduplicator": {}}),
                                                      ["document_simhash_deduplicator", "simhash", "envs/data.yaml"]),
    "unknown op": lambda w: (_process(_jsonl(w / "d.jsonl", ROWS), {"text_lenght_filter": {}}),
                             ["process[0].text_lenght_filter", "did you mean"]),
    "missing dataset": lambda w: (_probe(w / "nope.jsonl"), ["dataset_path", "nope.jsonl"]),
    "mixture with a missing part": lambda w: (_probe(f"{_jsonl(w / 'a.jsonl', ROWS)} {w}/missing part.jsonl"),
                                              ["dataset_path", "missing"]),
    "bad on_bad_records": lambda w: ({**_probe(_jsonl(w / "d.jsonl", ROWS)), "on_bad_records": "ignore"},
                                     ["on_bad_records"]),
    "d_model not divisible by n_head": lambda w: (_train(_jsonl(w / "d.jsonl", ROWS), d_model=130, n_head=4),
                                                  ["extra_configs.n_head", "130"]),
    "budget below one step": lambda w: (_train(_jsonl(w / "d.jsonl", ROWS), max_tokens=10),
                                        ["extra_configs.max_tokens", "one training step"]),
    "reference to no job": lambda w: ({**_down(w), "evaluation_job_configs": [{
        "hook": "EvaluateDataHook", "input": {"extra_configs.after_path": "anonymous.nobody.res_1"},
        "extra_configs": {"type": "stats_comparison", "before_path": str(w / "d.jsonl")}}]},
        ["evaluation_job_configs[0].input", "nobody"]),
    "unknown component key": lambda w: (_down(w, target_num_sample=3), ["extra_configs", "target_num_sample"]),
    "validation set of empty strings": lambda w: ({"work_dir": "out", "evaluation_job_configs": [{
        "hook": "EvaluateModelHook", "meta_name": "eval",
        "extra_configs": {"type": "lm_loss", "model_path": str(w),
                          "val_path": str(_jsonl(w / "val.jsonl", [{"text": ""}] * 5))}}]},
        ["evaluation_job_configs[0].extra_configs.val_path", "val.jsonl", "no non-empty text"]),
}


@pytest.mark.parametrize("case", sorted(PLAN_CASES))
def test_refused_at_plan_time(workdir, case):
    spec, names = PLAN_CASES[case](workdir)
    if isinstance(spec, str) and "\udce9" in spec:
        (workdir / "sb.yaml").write_bytes(spec.encode("utf-8", "surrogateescape"))
    else:
        _write(workdir, spec)
    proc = run_snakemake(workdir, "sb.yaml", "-n", check=False)
    _clean_failure(workdir, proc, *names)
    _no_trusted_records(workdir)


# --------------------------------------------------------------------------- refused before Data-Juicer starts
def _gz_truncated(w):
    raw = b"".join(json.dumps(r).encode() + b"\n" for r in ROWS * 20)
    (w / "d.jsonl.gz").write_bytes(gzip.compress(raw)[:-30])
    return w / "d.jsonl.gz", ["d.jsonl.gz", "truncated"]


def _zst_truncated(w):
    raw = b"".join(json.dumps(r).encode() + b"\n" for r in ROWS * 20)
    (w / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(raw)[:-30])
    return w / "d.jsonl.zst", ["d.jsonl.zst", "truncated"]


def _parquet(w, table):
    pq.write_table(table, w / "d.parquet")
    return w / "d.parquet"


DATA_CASES = {
    "malformed json line": lambda w: (_jsonl(w / "d.jsonl", ROWS, b'{"text": "cut\n'), ["d.jsonl:31:", "not valid JSON"]),
    "empty file": lambda w: (_jsonl(w / "d.jsonl", []), ["d.jsonl", "empty"]),
    "only blank lines": lambda w: (_jsonl(w / "d.jsonl", [], b"\n\n\n"), ["d.jsonl", "no records"]),
    "records without the text key": lambda w: (_jsonl(w / "d.jsonl", ROWS + [{"body": "x"}]),
                                               ["d.jsonl:31:", "no 'text' key"]),
    "number as text": lambda w: (_jsonl(w / "d.jsonl", ROWS[:10] + [{"text": 7}, {"text": 8}] + ROWS[10:]),
                                 ["d.jsonl:11:", "d.jsonl:12:", "'text' is a int", "2 bad record(s)"]),
    "null text": lambda w: (_jsonl(w / "d.jsonl", ROWS + [{"text": None}]), ["d.jsonl:31:", "'text' is null"]),
    "invalid utf-8": lambda w: (_jsonl(w / "d.jsonl", ROWS, b'{"text": "caf\xe9"}\n'), ["d.jsonl:31:", "UTF-8"]),
    "a json array per line": lambda w: (_jsonl(w / "d.jsonl", ROWS, b'["text"]\n'), ["d.jsonl:31:", "not a JSON object"]),
    "truncated .jsonl.gz": _gz_truncated,
    "truncated .jsonl.zst": _zst_truncated,
    "a .parquet that is not one": lambda w: ((w / "d.parquet").write_bytes(b"PAR1 but not really") and
                                             (w / "d.parquet"), ["d.parquet", "not a readable parquet"]),
    "parquet without the text column": lambda w: (_parquet(w, pa.table({"body": ["a", "b"]})),
                                                  ["d.parquet", "no column 'text'"]),
    "integer text in parquet": lambda w: (_parquet(w, pa.table({"text": [1, 2]})), ["d.parquet", "int64"]),
    "missing image": lambda w: (_jsonl(w / "d.jsonl", ROWS + [{"text": "x", "images": ["pics/none.png"]}]),
                                ["d.jsonl:31:", "pics/none.png does not exist"]),
    "recipe text_keys absent": lambda w: (_jsonl(w / "d.jsonl", ROWS), ["d.jsonl:1:", "no 'body' key"]),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_fails_before_data_juicer(workdir, case):
    data, names = DATA_CASES[case](workdir)
    recipe = {"text_keys": "body"} if case == "recipe text_keys absent" else {}
    _write(workdir, _probe(data, **recipe))
    proc = run_snakemake(workdir, "sb.yaml", check=False)
    _clean_failure(workdir, proc, "anonymous/probe_probe", *names)
    log = (workdir / "out/logs/anonymous/probe_probe.log").read_text()
    assert "data_juicer" not in log  # failed before Data-Juicer was started
    _no_trusted_records(workdir, "anonymous/probe_probe")


# --------------------------------------------------------------------------- secrets, installs
class _FakeAPI:
    """An OpenAI-compatible endpoint on localhost that records the Authorization headers it gets."""

    def __enter__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen.append(self.headers.get("Authorization"))
                body = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


@pytest.mark.parametrize("how", ["literal api_key", "api_key_env"])
def test_an_api_key_is_used_but_reaches_no_file(workdir, monkeypatch, how):
    data = _jsonl(workdir / "d.jsonl", ROWS[:2])
    key = "sk-adversarial-4c1d"
    given = {"api_key": key} if how == "literal api_key" else {"api_key_env": "MY_TEST_KEY"}
    monkeypatch.setenv("MY_TEST_KEY", key)
    with _FakeAPI() as api:
        _write(workdir, {"work_dir": "out", "execution_job_configs": [{
            "hook": "InferModelHook", "meta_name": "infer",
            "extra_configs": {"type": "api", "dataset_path": str(data), "model": "m", "base_url": api.url,
                              "max_retry_num": 0, "timeout": 10, **given}}]})
        run_snakemake(workdir, "sb.yaml")
    assert api.seen == [f"Bearer {key}"] * 2
    resolved = workdir / "out/anonymous/execution_infer/artifacts/resolved_config.json"
    extra = json.loads(resolved.read_text())["extra_configs"]
    assert extra.get("api_key") == ("***" if how == "literal api_key" else None)
    written = [p for p in workdir.rglob("*") if p.is_file() and p.name != "sb.yaml"]  # not the user's own file
    assert any(".snakemake/metadata" in str(p) for p in written)
    for path in written:
        assert key.encode() not in path.read_bytes(), path


def test_data_juicer_installs_nothing_at_run_time(tmp_path):
    """The plan refuses such ops; if one gets through anyway, the job fails instead of installing."""
    from juicer_sandbox.dj.engine import run_recipe
    from juicer_sandbox.errors import SandboxError

    def freeze():
        return subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout

    data = _jsonl(tmp_path / "d.jsonl", ROWS)
    before = freeze()
    # Data-Juicer catches the refusal per sample (skip_op_error) and drops the sample: nothing kept
    # because of op errors fails the job with the refusal as its reason
    with pytest.raises(SandboxError, match="simhash-pybind.*envs/data.yaml"):
        run_recipe({"dataset_path": str(data), "process": [{"document_simhash_deduplicator": {}}]},
                   tmp_path / "dj", tmp_path / "out.jsonl")
    assert freeze() == before


def test_a_path_with_a_space_is_one_file(workdir):
    data = _jsonl(workdir / "my data.jsonl", ROWS)
    _write(workdir, _probe(data))
    run_snakemake(workdir, "sb.yaml")
    record = json.loads((workdir / "out/anonymous/probe_probe/context.json").read_text())
    assert record["metrics"]["num_samples"] == len(ROWS)


def test_skipped_records_are_counted_and_named(workdir):
    data = _jsonl(workdir / "d.jsonl", ROWS[:10] + [{"text": 7}] + ROWS[10:], b"{broken\n")
    _write(workdir, {**_probe(data), "on_bad_records": "skip"})
    run_snakemake(workdir, "sb.yaml")
    metrics = json.loads((workdir / "out/anonymous/probe_probe/context.json").read_text())["metrics"]
    assert metrics["num_samples"] == len(ROWS) and metrics["bad_records"] == 2
    assert list(metrics["bad_lines"].values()) == [[11, 32]]
    assert "skipped 2 bad record(s)" in (workdir / "out/summary.md").read_text()


def test_stats_of_one_field_never_filter_another(tmp_path):
    """Issue 14: a probe on `title` stored text_len; a process job on `text` reused it (291 rows
    kept where the answer is 0). Now the stats are recomputed for the field the recipe reads."""
    from juicer_sandbox.dj.engine import compute_stats, filter_with_stored_stats, run_recipe
    from juicer_sandbox.dj.stats_reuse import prepare_dataset, write_provenance
    from juicer_sandbox.io import abs_path, read_jsonl

    raw = _jsonl(tmp_path / "raw.jsonl", [{"title": "long title " * 50, "text": "short"} for _ in range(20)])
    probe = {"dataset_path": str(raw), "text_keys": "title", "process": [{"text_length_filter": {"min_len": 1}}]}
    probed = tmp_path / "probed.jsonl"
    compute_stats(probe, tmp_path / "dj1", probed)
    write_provenance(probed, probe)
    process = {"dataset_path": str(raw), "text_keys": "text", "process": [{"text_length_filter": {"min_len": 100}}]}
    recipe, _ = prepare_dataset(process, {abs_path(raw): str(probed)}, tmp_path / "scratch")
    out = tmp_path / "out.jsonl"
    fast = filter_with_stored_stats(recipe, out)
    kept = fast[1] if fast else run_recipe(recipe, tmp_path / "dj2", out)
    assert kept == 0 and read_jsonl(out) == []


def test_ops_running_recipe_code_are_listed_at_validation(workdir):
    data = _jsonl(workdir / "d.jsonl", ROWS)
    _write(workdir, _process(data, {"python_lambda_mapper": {"lambda_str": "lambda s: s"}}))
    proc = run_snakemake(workdir, "sb.yaml", "-n")
    assert "execution_job_configs[0].dj_configs.process[0].python_lambda_mapper: runs code written in the recipe" \
        in proc.stderr
