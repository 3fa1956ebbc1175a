"""What the original DJ-Sandbox's configs need (issue 13): placeholders, shared exports, the original's
component names and keys, command-line overrides, assets. Real parts; loopback servers only."""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from juicer_sandbox.cli import parse_overrides
from juicer_sandbox.components import api_helpers, original_models
from juicer_sandbox.components.registry import get_component
from juicer_sandbox.config.plan import compile_plan
from juicer_sandbox.errors import ConfigError, SandboxError
from juicer_sandbox.hooks.runner import Run, publish

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"text": "hello world"}\n{"text": "good day"}\n')
    monkeypatch.setenv("DATA_JUICER_MODELS_CACHE", str(tmp_path / "models"))
    return tmp_path


def plan_of(here, cfg):
    path = here / "sb.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return compile_plan(str(path))


def _recipe(export):
    return {"dataset_path": "data/a.jsonl", "export_path": export, "process": [{"text_length_filter": {"min_len": 1}}]}


# -- placeholders ---------------------------------------------------------------------------------
def test_placeholders_under_whole_config_references_are_replaced_not_validated(here):
    plan = plan_of(here, {"execution_job_configs": [
        {"hook": "ProcessDataHook", "meta_name": "p", "output": "processed", "dj_configs": _recipe("out/p.jsonl")},
        {"hook": "ProcessDataHook", "meta_name": "q", "input": {"dj_configs": "-1.processed"},
         "dj_configs": "<auto_replaced_with_previous_output>"},
        {"hook": "DataPoolManipulationHook", "meta_name": "r", "input": {"extra_configs": "-1.res_1"},
         "extra_configs": "not a mapping and not a file"}]})
    q, r = plan.jobs["anonymous/execution_q"], plan.jobs["anonymous/execution_r"]
    assert q.dj is None and q.refs["dj_configs"]["job"] == "anonymous/execution_p"
    assert r.extra == {} and r.refs["extra_configs"]["job"] == q.id


# -- shared exports: the ledger accepts the other jobs of the sandbox that share the path ------------
def _art(here, job, text):
    art = here / "wd" / job / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    (art / "x.jsonl").write_text(text)
    return art / "x.jsonl"


def test_publish_accepts_jobs_sharing_the_path_and_still_refuses_foreign_files(here):
    key = "dj_configs.export_path"
    a = {"job": "p/00_a", "hook": "ProbeViaAnalyzerHook", "exports": {key: "out/x.jsonl"},
         "shared_exports": ["p/01_b"]}
    b = {**a, "job": "p/01_b", "shared_exports": ["p/00_a"]}
    stranger = {**a, "job": "p/02_c", "shared_exports": []}
    publish(a, {key: str(_art(here, "a", "a\n"))}, "wd", None, {})
    publish(b, {key: str(_art(here, "b", "b\n"))}, "wd", None, {})
    assert (here / "out/x.jsonl").read_text() == "b\n"
    publish(a, {key: str(_art(here, "a", "a2\n"))}, "wd", None, {})  # a rerun of the earlier job
    assert (here / "out/x.jsonl").read_text() == "a2\n"
    with pytest.raises(SandboxError, match="refusing to overwrite"):
        publish(stranger, {key: str(_art(here, "c", "c\n"))}, "wd", None, {})
    (here / "out/y.jsonl").write_text("precious\n")
    with pytest.raises(SandboxError, match="refusing to overwrite out/y.jsonl"):
        publish({**a, "exports": {key: "out/y.jsonl"}}, {key: str(_art(here, "a", "a\n"))}, "wd", None, {})
    assert (here / "out/y.jsonl").read_text() == "precious\n"


# -- env_name / env_manager ----------------------------------------------------------------------------
def _infer_job(**extra):
    return {"hook": "InferModelHook", "meta_name": "i",
            "extra_configs": {"type": "api", "model": "m", "dataset_path": "data/a.jsonl", **extra}}


def test_env_keys_map_onto_the_hook_family(here):
    plan = plan_of(here, {"execution_job_configs": [_infer_job(env_name="my_env", env_manager="uv")]})
    job = plan.jobs["anonymous/execution_i"]
    assert "env_name" not in job.extra and job.env_request["family"] == "train"
    assert job.env_request["env_name"] == "my_env" and "envs={mode: venv}" in job.env_request["how"]


@pytest.mark.parametrize("extra, message", [
    ({"env_manager": "pipenv"}, "env_manager 'pipenv' is not one the original supports"),
    ({"env_name": "easyanimate", "env_manager": "conda"}, "env_name 'easyanimate' names the 'easyanimate' env family, "
                                                          "but this job \\(InferModelHook, type 'api'\\) runs in the 'train' family"),
])
def test_env_keys_errors(here, extra, message):
    with pytest.raises(ConfigError, match=message):
        plan_of(here, {"execution_job_configs": [_infer_job(**extra)]})


# -- component names -----------------------------------------------------------------------------------
def test_original_types_not_built_yet_say_so(monkeypatch):
    from juicer_sandbox.components import not_yet

    monkeypatch.setitem(not_yet.NOT_YET, "model_train", ("some_original_type",))
    with pytest.raises(ConfigError) as ei:
        get_component("model_train", "some_original_type")
    assert str(ei.value) == ("component type 'some_original_type' (model_train) of the original DJ-Sandbox is not "
                             "available yet in juicer-sandbox")


@pytest.mark.parametrize("factory, type_name", [("model_train", "easyanimate"), ("model_infer", "easyanimate"),
                                                ("data_evaluator", "vbench_video_evaluator"),
                                                ("data_evaluator", "video_inception_evaluator")])
def test_original_text_to_video_types_exist(factory, type_name):
    assert get_component(factory, type_name).type == type_name


def test_huggingface_model_must_be_a_local_directory_at_plan_time(here):
    job = {"hook": "InferModelHook", "meta_name": "h",
           "extra_configs": {"type": "huggingface", "model": "Qwen/Qwen2.5-7B-Instruct", "dataset_path": "data/a.jsonl"}}
    with pytest.raises(ConfigError) as ei:
        plan_of(here, {"execution_job_configs": [job]})
    assert ei.value.key == "execution_job_configs[0].extra_configs.model"
    assert "'Qwen/Qwen2.5-7B-Instruct' is not a local directory" in str(ei.value)


def test_unknown_helper_function_is_a_plan_error(here):
    with pytest.raises(ConfigError, match="build_messages_func"):
        plan_of(here, {"execution_job_configs": [_infer_job(build_messages_func="build_input")]})


def test_helpers_build_messages_as_the_original():
    item = {"prompt": "Grade it.", "question": "1+1?", "answer": "2"}
    kw = {"system_key": "prompt", "query_key": "question", "response_key": "answer"}
    assert api_helpers.build_messages_for_math_qa(item, **kw) == [
        {"role": "system", "content": "Grade it."}, {"role": "user", "content": "Question: 1+1?\nAnswer: 2"}]
    assert api_helpers.build_messages({"query": "hi"}) == [{"role": "user", "content": "hi"}]
    assert api_helpers.parse_output("0.5", item) == "0.5"
    with pytest.raises(SandboxError, match="input row has no key 'question'"):
        api_helpers.build_messages({"q": 1}, query_key="question")


class _Echo(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Echo.seen.append((self.path, body))
        reply = json.dumps({"choices": [{"message": {"content": f"{len(body['messages'])}:{body.get('temperature')}"}}]})
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Echo.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_api_with_the_original_helper_keys(here, echo_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", echo_server + "/v1")
    (here / "qa.jsonl").write_text(json.dumps({"prompt": "Grade.", "question": "1+1?", "answer": "2"}) + "\n")
    cfg = {"model": "m", "dataset_path": ["qa.jsonl"], "export_path": str(here / "out"), "infer_res_key": "grades",
           "build_messages_func": "build_messages_for_math_qa", "parse_output_func": "parse_output",
           "func_kwargs": {"system_key": "prompt", "query_key": "question", "response_key": "answer"},
           "sampling_params": {"temperature": 0.3}}
    run = Run({"job": "j"}, None, cfg, here, here)
    (out,) = original_models.infer_api(cfg, run)
    assert out == str(here / "out" / "qa_inference.jsonl")
    row = json.loads(Path(out).read_text())
    assert row["grades"] == "2:0.3" and row["question"] == "1+1?"
    path, body = _Echo.seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "m"
    assert body["messages"][1] == {"role": "user", "content": "Question: 1+1?\nAnswer: 2"}


def test_huggingface_runs_a_local_model_on_cpu(here):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train_from_iterator(["hello world", "good day"] * 10, trainers.BpeTrainer(vocab_size=300,
                                                                                  special_tokens=["<unk>", "<eos>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=fast.vocab_size, n_positions=64, n_embd=16, n_layer=1, n_head=2,
                                       eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id))
    model.save_pretrained(here / "tiny")
    fast.save_pretrained(here / "tiny")
    (here / "q.jsonl").write_text('{"query": "hello"}\n')
    cfg = {"model": str(here / "tiny"), "dataset_path": "q.jsonl", "export_path": str(here / "out"),
           "sampling_params": {"max_new_tokens": 3, "do_sample": False}}
    (out,) = original_models.infer_huggingface(cfg, Run({"job": "j"}, None, cfg, here, here))
    assert isinstance(json.loads(Path(out).read_text())["response"], str)
    with pytest.raises(SandboxError, match="is not a local directory; model hubs are not contacted"):
        original_models.infer_huggingface({**cfg, "model": "Qwen/Qwen2.5-7B"}, None)


@pytest.mark.parametrize("fn, module", [(original_models.infer_vllm, "vllm"),
                                        (original_models.train_modelscope, "modelscope")])
def test_vllm_and_modelscope_say_what_is_missing(fn, module):
    pytest.importorskip("torch")
    try:
        __import__(module)
        pytest.skip(f"{module} is installed here")
    except ImportError:
        pass
    with pytest.raises(SandboxError) as ei:
        fn({"model": "m", "model_name": "m", "trainer_name": "t", "train_dataset": "x", "work_dir": "w"}, None)
    assert str(ei.value).startswith(f"{module}: the {module!r} package is not installed in this job's environment")
    assert "\n" not in str(ei.value)


def test_dj_text_quality_classifier_model_file_or_local_training(here):
    from juicer_sandbox.models.quality import train_quality_classifier

    cfg = {"dataset_path": "data/a.jsonl", "export_path": str(here / "out")}
    with pytest.raises(SandboxError, match=r"needs its classifier model .*gpt3_quality_classifier.json, which is absent"):
        original_models.dj_text_quality_classifier(dict(cfg))
    (here / "clean.jsonl").write_text('{"text": "hello world"}\n')
    (here / "raw.jsonl").write_text('{"text": "zzz qqq"}\n')
    trained = original_models.dj_text_quality_classifier({**cfg, "reference_path": "clean.jsonl",
                                                          "negative_path": "raw.jsonl"})
    train_quality_classifier(["hello world"], ["zzz qqq"], seed=0).save(here / "models" / "gpt3_quality_classifier.json")
    loaded = original_models.dj_text_quality_classifier(dict(cfg))
    assert 0.0 < loaded < 1.0 and 0.0 < trained < 1.0
    assert len((here / "out" / "scores.jsonl").read_text().splitlines()) == 2


# -- HPO metric names as the original writes them ---------------------------------------------------------
def test_bare_hpo_metric_name_resolves_when_unambiguous(here):
    from juicer_sandbox.config.compat import unprefixed_metric

    plan = plan_of(here, {"execution_job_configs": [{"hook": "ProcessDataHook", "meta_name": "p",
                                                     "dj_configs": _recipe("out/p.jsonl")}],
                          "evaluation_job_configs": [
                              {"hook": "EvaluateDataHook", "meta_name": "q",
                               "extra_configs": {"type": "text_quality_classifier", "dataset_path": "out/p.jsonl",
                                                 "reference_path": "data/a.jsonl"}}]})
    assert unprefixed_metric("quality_score", plan.jobs) == ("anonymous/evaluation_q", "res_1")
    assert unprefixed_metric("mse", plan.jobs) == ("anonymous/evaluation_q", "mse")  # the one evaluation job
    assert unprefixed_metric("q.res_1", plan.jobs) is None  # prefixed names are resolved as before


# -- substitutes -------------------------------------------------------------------------------------------
def test_substitute_without_adapter_is_an_error(here):
    with pytest.raises(ConfigError, match="no substitute 'lm_loss' for component type 'api'"):
        plan_of(here, {"substitutes": {"api": "lm_loss"}, "execution_job_configs": [_infer_job()]})


# -- command line ---------------------------------------------------------------------------------------------
def test_overrides_as_the_original_command_line():
    assert parse_overrides(["--max_iter_num", "6", "--work_dir=./o", "--resume", "false", "--a.b.c", "x y",
                            "--debug"]) == {"max_iter_num": 6, "work_dir": "./o", "resume": False,
                                            "a": {"b": {"c": "x y"}}, "debug": True}
    with pytest.raises(SandboxError, match="unexpected argument 'stray'"):
        parse_overrides(["stray"])


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "juicer_sandbox", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_run_exits_non_zero_on_failure_and_passes_dry_run(here):
    (here / "sb.yaml").write_text(yaml.safe_dump({"work_dir": "wd", "execution_job_configs": [
        {"hook": "ProcessDataHook", "meta_name": "p", "dj_configs": _recipe("out/p.jsonl")}]}))
    ok = _cli("run", "--config", "sb.yaml", "--work_dir", "wd2", "-n", "--cores", "1", cwd=here)
    assert ok.returncode == 0, ok.stderr
    assert "sandbox_overrides={\"work_dir\": \"wd2\"}" in ok.stderr and "wd2/anonymous/execution_p" in ok.stdout
    bad = _cli("run", "--config", "sb.yaml", "--max_iter_num", "-1", "-n", cwd=here)
    assert bad.returncode != 0 and "max_iter_num" in bad.stderr
    assert _cli("run", "--config", "nope.yaml", cwd=here).returncode == 1


# -- assets ------------------------------------------------------------------------------------------------
def test_assets_fetch_prints_where_to_put_what_it_cannot_download(here, monkeypatch):
    from juicer_sandbox.dj import assets

    monkeypatch.setattr(assets, "_urls", lambda kind, name, hint: ["http://127.0.0.1:9/" + name])  # nothing listens
    lines = []
    missing = assets.fetch_assets([{"process": [{"language_id_score_filter": {"lang": "zh"}}]}], timeout=5,
                                  out=lines.append)
    models = here / "models"
    assert missing == 1 and lines[0].startswith(f"missing: fastText language-id model: put the file at "
                                                f"{models}/lid.176.bin (download from http://127.0.0.1:9/lid.176.bin;")
    models.mkdir()
    (models / "lid.176.bin").write_bytes(b"model")
    lines.clear()
    assert assets.fetch_assets([{"process": [{"language_id_score_filter": {}}]}], out=lines.append) == 0
    assert lines == [f"present: fastText language-id model: {models}/lid.176.bin"]


def test_assets_fetch_downloads_when_the_network_allows(here, monkeypatch):
    from juicer_sandbox.dj import assets

    (here / "srv").mkdir()
    (here / "srv" / "stopwords.json").write_text('{"en": ["the"]}')
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(here / "srv"), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(assets, "_urls", lambda kind, name, hint:
                            [f"http://127.0.0.1:{server.server_address[1]}/{hint}.json"])
        lines = []
        recipe = {"process": [{"stopwords_filter": {"stopwords_dir": str(here / "words")}}]}
        assert assets.fetch_assets([recipe], out=lines.append) == 0
    finally:
        server.shutdown()
    assert lines == [f"fetched: stopwords: {here}/words/stopwords.json"]
    assert json.loads((here / "words" / "stopwords.json").read_text()) == {"en": ["the"]}


def test_api_without_the_original_keys_is_the_project_component(here, echo_server):
    (here / "p.jsonl").write_text('{"text": "hi"}\n')
    comp = get_component("model_infer", "api")
    assert {"prompt_key", "system_prompt", "build_messages_func"} <= set(comp.schema["properties"])
    cfg = {"model": "m", "dataset_path": "p.jsonl", "export_path": str(here / "out"), "base_url": echo_server}
    (out,) = comp.fn(cfg, Run({"job": "j"}, None, cfg, here, here))
    assert json.loads(Path(out).read_text())["response"] == "1:None"
    assert _Echo.seen[0][1]["messages"] == [{"role": "user", "content": "hi"}]
