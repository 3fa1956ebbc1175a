"""The original DJ-Sandbox's own configs, run as its users run them: from its repository root.

The configs come from ``../shared/reference/dj_original/`` (the original's configs, recipes and
demo data in the original repository's layout; ``$DJ_ORIGINAL`` overrides the location). They
write relative paths (``./outputs/...``), and that folder is read-only reference material, so each
test runs in a temporary "repository root" whose ``configs``, ``demos``, ``tests`` and ``tools``
are symlinks into it: every relative path the configs read resolves exactly as in the original,
and what they write lands in the temporary directory. Nothing is copied or edited.

Substitutes, only where the original would download a hub model (listed in the README):
* ``lid.176.bin`` (fastText language id, downloaded by Data-Juicer): a fastText model trained
  here on the demo texts, put where Data-Juicer looks for models;
* the GPT-3 quality classifier (``gpt3.zip``, a PySpark model): this project's classifier,
  trained here with ``juicer-sandbox assets train-quality``;
* the ModelScope GPT-3 model (``iic/nlp_gpt3_text-generation_chinese-base``): ``--substitutes
  '{modelscope: {type: causal_lm, tokenizer_path: ...}}'`` trains the project's tiny causal LM on
  the same data instead (with a BPE tokenizer trained here on the demo texts);
* the API model (``qwen2.5-32b-instruct``): a loopback OpenAI-compatible server answering with
  canned completions (``OPENAI_BASE_URL``, as for the original).
"""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORIGINAL = Path(os.environ.get("DJ_ORIGINAL", REPO.parent / "shared" / "reference" / "dj_original"))
pytestmark = pytest.mark.skipif(not (ORIGINAL / "configs").is_dir(),
                                reason=f"the original DJ-Sandbox's configs are not at {ORIGINAL} "
                                       f"(../shared is not part of a user's clone; set $DJ_ORIGINAL)")
DEMO = "configs/demo/sandbox/sandbox.yaml"
APO = "configs/data_juicer_recipes/sandbox/auto_prompt_optimization/sandbox_auto_prompt_optimization.yaml"
T2V = "configs/data_juicer_recipes/sandbox/easyanimate_text_to_video/"
INTERNVL = "configs/data_juicer_recipes/sandbox/internvl_coco_caption/sandbox_internvl_coco_caption.yaml"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A writable stand-in for the original's repository root (see the module docstring)."""
    base = tmp_path / "dj_root"
    base.mkdir()
    for name in ("configs", "demos", "tests", "tools"):
        (base / name).symlink_to(ORIGINAL / name)
    models, assets = tmp_path / "models", tmp_path / "assets"
    models.mkdir()
    assets.mkdir()
    monkeypatch.setenv("DATA_JUICER_MODELS_CACHE", str(models))
    monkeypatch.setenv("DATA_JUICER_ASSETS_CACHE", str(assets))
    monkeypatch.delenv("DATA_JUICER_EXTERNAL_MODELS_HOME", raising=False)
    monkeypatch.chdir(base)
    return base


def cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "juicer_sandbox", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def lid_substitute(models: Path, require_fasttext: bool) -> None:
    """lid.176.bin: a real fastText language-id model trained on the demo texts (CJK -> zh) when
    fastText is installed; otherwise, for plan-only tests (the plan checks that the file exists and
    never reads it), a file that says what it is."""
    try:
        import fasttext
    except ImportError:
        if require_fasttext:
            pytest.skip("fastText is not installed: the demo's language_id_score_filter cannot run")
        (models / "lid.176.bin").write_text("plan-only stand-in: the plan checks presence, not content\n")
        return
    lines = []
    for row in map(json.loads, (ORIGINAL / "demos/data/demo-dataset.jsonl").read_text().splitlines()):
        cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in row["text"])
        label = "zh" if cjk > len(row["text"]) / 4 else "en"
        lines += [f"__label__{label} {row['text']}"] * 20
    train = models / "lid_train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fasttext.train_supervised(str(train), epoch=25, seed=0, thread=1, verbose=0).save_model(
        str(models / "lid.176.bin"))


def plan_only_assets() -> None:
    """What the InternVL all-stats recipe's ops load, for plan-only tests: word lists (real, tiny)
    and model files that say what they are (the plan checks presence, never content)."""
    models = Path(os.environ["DATA_JUICER_MODELS_CACHE"])
    for name in ("en.sp.model", "en.arpa.bin"):
        (models / name).write_text("plan-only stand-in: the plan checks presence, not content\n")
    lid_substitute(models, require_fasttext=False)
    for kind in ("stopwords", "flagged_words"):
        (Path(os.environ["DATA_JUICER_ASSETS_CACHE"]) / f"{kind}.json").write_text('{"en": ["the"]}')


def quality_substitute(root: Path) -> None:
    out = Path(os.environ["DATA_JUICER_MODELS_CACHE"]) / "gpt3_quality_classifier.json"
    proc = cli("assets", "train-quality", "--reference", "demos/data/demo-dataset.jsonl",
               "--negative", "demos/data/demo-dataset-deduplication.jsonl", "--out", str(out))
    assert proc.returncode == 0, proc.stderr


# -- plans ---------------------------------------------------------------------------------------
def test_demo_plan_names_the_missing_assets(root):
    proc = cli("validate", DEMO)
    assert proc.returncode == 1
    models = os.environ["DATA_JUICER_MODELS_CACHE"]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"juicer-sandbox: error: configs/demo/process.yaml: process[0].language_id_score_filter: needs the fastText "
        f"language-id model 'lid.176.bin', which is not in {models} and cannot be downloaded here; put the file "
        f"there (or set DATA_JUICER_EXTERNAL_MODELS_HOME), or run `juicer-sandbox assets fetch` where the network "
        f"allows")
    lid_substitute(Path(models), require_fasttext=False)
    proc = cli("validate", DEMO)
    assert proc.returncode == 1
    assert f"gpt3_quality_classifier.json, which is absent" in proc.stderr
    assert "juicer-sandbox assets train-quality" in proc.stderr and "reference_path" in proc.stderr


def test_demo_plans_unchanged(root):
    lid_substitute(Path(os.environ["DATA_JUICER_MODELS_CACHE"]), require_fasttext=False)
    quality_substitute(root)
    models = os.environ["DATA_JUICER_MODELS_CACHE"]
    proc = cli("assets", "fetch", DEMO)  # everything is in place: nothing is downloaded
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [f"present: fastText language-id model: {models}/lid.176.bin",
                                        f"present: GPT-3 quality classifier: {models}/gpt3_quality_classifier.json"]
    proc = cli("validate", "--json", DEMO)
    assert proc.returncode == 0, proc.stderr
    jobs = {j["job"]: j for j in json.loads(proc.stdout)}
    assert list(jobs) == ["anonymous/probe_analysis_ori_data", "anonymous/refine_analysis_ori_data",
                          "anonymous/execution_process_data_with_refined_recipe",
                          "anonymous/execution_train_model", "anonymous/evaluation_analysis_processed_data",
                          "anonymous/evaluation_eval_data"]
    # both probes export ./outputs/demo-process/demo-processed_stats.jsonl: the later one runs after
    assert "anonymous/probe_analysis_ori_data" in jobs["anonymous/evaluation_analysis_processed_data"]["deps"]
    warning = [line for line in proc.stderr.splitlines() if "both export to" in line]
    assert warning == ["juicer-sandbox: warning: jobs anonymous/probe_analysis_ori_data and "
                       "anonymous/evaluation_analysis_processed_data both export to "
                       "./outputs/demo-process/demo-processed_stats.jsonl; anonymous/evaluation_analysis_processed_data "
                       "runs after anonymous/probe_analysis_ori_data and its copy is the one left there (each job "
                       "keeps its own copy in its artifacts)"]


def test_auto_prompt_plans_unchanged(root):
    proc = cli("validate", "--json", APO)
    assert proc.returncode == 0, proc.stderr
    jobs = [j["job"] for j in json.loads(proc.stdout)]
    assert len([j for j in jobs if j.endswith("/gate")]) == 5  # max_iter_num: 5
    assert "iter_5/select_and_merge_data_pools/execution_merge_single_prompt_data_pools" in jobs


def _plan_blocks(stdout: str) -> dict[str, tuple[str, str]]:
    """job id -> (rule, resources line) from `snakemake -n` output."""
    out, rule, job = {}, None, None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule, job = line.split()[1].rstrip(":"), None
        elif line.strip().startswith("wildcards: job="):
            job = line.strip()[len("wildcards: job="):]
        elif line.strip().startswith("resources:") and job:
            out[job] = (rule, line.strip())
    return out


# the hub models the InternVL all-stats recipe's ops load (the plan checks that each is in the HF cache)
INTERNVL_HUB_MODELS = ("EleutherAI/pythia-6.9b-deduped", "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE",
                       "Falconsai/nsfw_image_detection", "Salesforce/blip-itm-base-coco", "openai/clip-vit-base-patch32",
                       "amrul-hzz/watermark_detector", "google/owlvit-base-patch32")


def test_internvl_plans_unchanged_with_gpu_resources_on_the_slurm_profile(root, monkeypatch):
    """The original's four-pipeline InternVL config plans unedited with --profile profiles/slurm: its 10
    InternVL jobs (5 trainings and 5 evaluations with num_gpus 8) ask SLURM for 8 GPUs, 12 h and 64 GB; the
    data jobs for none. `doctor` lists what the jobs still need (its placeholders are no checkout, no weights)."""
    plan_only_assets()
    hf = root.parent / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    for name in INTERNVL_HUB_MODELS:  # plan-only stand-ins: the plan checks presence, never reads them
        (hf / f"models--{name.replace('/', '--')}" / "snapshots" / "stand-in").mkdir(parents=True)
    proc = cli("run", "--config", INTERNVL, "--profile", "profiles/slurm", "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = _plan_blocks(proc.stdout)
    gpu_jobs = {j: b for j, b in blocks.items() if b[0] in ("train_model", "evaluate_model")}
    assert len(blocks) == 21 and len(gpu_jobs) == 10, sorted(blocks)
    for job, (rule, res) in blocks.items():
        assert "slurm_partition=debug" in res, (job, res)  # the profile's defaults reached every job
        if job in gpu_jobs:
            assert ", gpu=8" in res and "runtime=720" in res and "mem_mb=64000" in res, (job, res)
        else:
            assert "gpu=" not in res and "runtime=60" in res, (job, res)
    proc = cli("doctor", INTERNVL)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("10 of 21 job(s) use a model family (internvl);")
    assert ("  MISSING code: internvl code checkout extra_configs.internvl_home = '<internvl_home>' does not exist "
            "(provide it: juicer-sandbox code fetch internvl --dest <internvl_home> "
            "(https://github.com/OpenGVLab/InternVL.git at 2410d1dbf208))") in lines
    assert "  weights: extra_configs.ckpt_paths = from an earlier job at run time" in lines


# -- runs -----------------------------------------------------------------------------------------
USER_GUIDE_SHAPE = """
project_name: 'guide-shape'
work_dir: './outputs/guide-shape'
hpo_config: null
probe_job_configs:
  - hook: 'ProbeViaAnalyzerHook'
    meta_name: 'analysis_ori_data'
    dj_configs: 'recipe.yaml'
    extra_configs:
refine_recipe_job_configs:
  - hook: 'RefineRecipeViaKSigmaHook'
    meta_name: 'analysis_ori_data'
    output: 'refined_recipe_path'
    dj_configs: 'recipe.yaml'
    extra_configs:
      path_k_sigma_recipe: './outputs/guide-process/k_sigma_new_recipe.yaml'
execution_job_configs:
  - hook: 'ProcessDataHook'
    meta_name: 'process_data_with_refined_recipe'
    input:
      dj_configs: '-1.refined_recipe_path'
    output: 'processed_dataset_path'
    dj_configs: '<auto_replaced_with_previous_output>'
    extra_configs:
evaluation_job_configs:
  - hook: 'ProbeViaAnalyzerHook'
    meta_name: 'analysis_processed_data'
    input:
      dj_configs.dataset_path: 'anonymous.process_data_with_refined_recipe.processed_dataset_path'
    dj_configs: 'recipe.yaml'
    extra_configs:
"""


@pytest.mark.e2e
def test_user_guide_shape_with_placeholder_and_shared_probe_export_runs_unedited(root):
    """The demo's shape with a text-only recipe (no hub model): runs as written, twice."""
    (root / "recipe.yaml").write_text("project_name: 'guide-process'\n"
                                      "dataset_path: './demos/data/demo-dataset.jsonl'\nnp: 4\n"
                                      "export_path: './outputs/guide-process/processed.jsonl'\n"
                                      "process:\n  - text_length_filter:\n      min_len: 10\n      max_len: 10000\n")
    (root / "guide.yaml").write_text(USER_GUIDE_SHAPE)
    proc = cli("run", "--config", "guide.yaml", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "both export to ./outputs/guide-process/processed_stats.jsonl" in proc.stderr
    later = _context(root, "outputs/guide-shape", "anonymous/evaluation_analysis_processed_data")
    published = root / "outputs/guide-process/processed_stats.jsonl"
    assert published.read_bytes() == Path(later["published"][str(published)]).read_bytes()
    # a forced rerun: the earlier probe may overwrite the later one's publication (they share it)
    proc = cli("run", "--config", "guide.yaml", "--cores", "2", "--", "--forceall")
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert published.read_bytes() == Path(later["published"][str(published)]).read_bytes()


class _Canned(http.server.BaseHTTPRequestHandler):
    """OpenAI-compatible /chat/completions with canned answers: a new prompt for Data-Juicer's
    optimize_prompt_mapper, a grade (0 or 1, fixed per question) for the grader."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "\n".join(str(m.get("content", "")) for m in body["messages"])
        if "【提示词】" in text:
            answer = "【提示词】\nScore the solution 0 or 1. Return only the number."
        else:
            answer = str(zlib.crc32(text.encode()) % 2)
        reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": answer}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "loopback")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield server
    server.shutdown()


def _context(root: Path, work_dir: str, job: str) -> dict:
    return json.loads((root / work_dir / job / "context.json").read_text())


@pytest.mark.e2e
def test_auto_prompt_runs_end_to_end(root, api_server):
    pytest.importorskip("openai", reason="Data-Juicer's optimize_prompt_mapper (API model) needs the openai package")
    proc = cli("run", "--config", APO, "--max_iter_num", "2", "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-6000:]
    work = "outputs/auto-prompt-optimization-for-grader-model"
    infer = _context(root, work, "iter_2/grader_model_prompt_optimization/execution_grader_model_inference")
    files = infer["outputs"]["grader_model_inference_result"]
    rows = [json.loads(line) for f in ([files] if isinstance(files, str) else files)
            for line in Path(f).read_text().splitlines()]
    assert rows and all(r["grades"] in ("0", "1") for r in rows)
    evaluation = _context(root, work, "iter_2/grader_model_prompt_optimization/evaluation_grades_evaluation")
    assert 0.0 <= evaluation["outputs"]["min_mse"] <= 1.0
    # the merged top prompts are published where the original put them: export_path
    # '.../new_prompts.jsonl' of a data-pool step is a directory, with iter_N inserted before it
    merged = list((root / work / "merged_top_generated_prompts/iter_2/new_prompts.jsonl").glob("*_merged.jsonl"))
    assert len(merged) == 1 and merged[0].read_text().strip()
    assert (root / work / "iter_1/gate/context.json").is_file()


@pytest.mark.e2e
def test_demo_runs_end_to_end(root):
    lid_substitute(Path(os.environ["DATA_JUICER_MODELS_CACHE"]), require_fasttext=True)
    quality_substitute(root)
    from juicer_sandbox.models.tokenizer import train_tokenizer

    texts = [json.loads(line)["text"] for line in (root / "demos/data/demo-dataset.jsonl").read_text().splitlines()]
    tok = train_tokenizer(texts * 5, vocab_size=300, out_path=root / "tokenizer.json", min_frequency=1)
    subs = f"{{modelscope: {{type: causal_lm, tokenizer_path: {tok}, max_tokens: 4096, context: 32, batch_size: 4}}}}"
    proc = cli("run", "--config", DEMO, "--substitutes", subs, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "component 'modelscope' runs as 'causal_lm'" in proc.stderr
    work = "outputs/demo-sandbox"
    refined = _context(root, work, "anonymous/refine_analysis_ori_data")["outputs"]["refined_recipe_path"]
    assert Path(refined).is_file() and (root / "outputs/demo-process/k_sigma_new_recipe.yaml").is_file()
    score = _context(root, work, "anonymous/evaluation_eval_data")["outputs"]["res_1"]
    assert 0.0 <= score <= 1.0
    # the shared probe export holds the later probe's stats (of the processed data)
    later = _context(root, work, "anonymous/evaluation_analysis_processed_data")
    published = root / "outputs/demo-process/demo-processed_stats.jsonl"
    assert published.read_bytes() == Path(later["published"][str(published)]).read_bytes()
