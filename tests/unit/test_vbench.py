"""vbench_video_evaluator: the original's command per dimension (golden), VBench's result files parsed in
their exact format, and the whole evaluator run against a stand-in `vbench` program."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from juicer_sandbox.components import vbench as vb
from juicer_sandbox.errors import SandboxError

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden/t2v/original_commands.json").read_text())
# the original's vbench_eval.yaml
ORIGINAL = {"type": "vbench_video_evaluator", "full_json_dir": "./tools/mm_eval/vbench_metrics/VBench_mini_info.json",
            "videos_path": "./outputs/demo-bench/generated_videos", "output_path": "./outputs/demo-bench/eval_results",
            "eval_name": "mini_test", "load_ckpt_from_local": False, "num_gpus": 1,
            "dimension_list": ["subject_consistency", "dynamic_degree"]}
# VBench 0.1.5 writes <output_path>/<dimension>_eval_results.json with json.dump(indent=4):
# {dimension: [mean score, [{"video_path": ..., "video_results": per-video value}, ...]]}
RESULT = {"subject_consistency": [0.9512, [{"video_path": "/v/a cat-0.mp4", "video_results": 0.9612},
                                           {"video_path": "/v/a cat-1.mp4", "video_results": 0.9412}]]}
DYNAMIC = {"dynamic_degree": [0.5, [{"video_path": "/v/a cat-0.mp4", "video_results": True},
                                    {"video_path": "/v/a cat-1.mp4", "video_results": False}]]}


def test_commands_are_the_originals():
    cmds = vb.vbench_commands(ORIGINAL, 1, ORIGINAL["output_path"])
    assert [c for _, c, _ in cmds] == GOLDEN["vbench"]
    assert [d for d, _, _ in cmds] == ORIGINAL["dimension_list"]
    assert cmds[1][2] == "./outputs/demo-bench/eval_results/eval_log_dynamic_degree.txt"
    default = vb.vbench_commands({"videos_path": "/v"}, 2, "/o")
    assert [d for d, _, _ in default] == list(vb.DIMENSIONS) and "--full_json_dir" not in default[0][1]


def test_result_files_in_vbenchs_format(tmp_path):
    path = tmp_path / "subject_consistency_eval_results.json"
    path.write_text(json.dumps(RESULT, indent=4))
    log = ("args: Namespace(...)\nstart evaluation\nEvaluation meta data saved to /o/subject_consistency_full_info.json\n"
           f"Evaluation results saved to {path}\ndone\n")
    assert vb.result_file_from_log(log) == str(path)
    assert vb.dimension_score(str(path), "subject_consistency") == 0.9512
    with pytest.raises(SandboxError, match="has no \\[score, per-video results\\] for 'color'"):
        vb.dimension_score(str(path), "color")
    with pytest.raises(SandboxError, match="does not say 'Evaluation results saved to"):
        vb.result_file_from_log("Traceback (most recent call last):\n  ...\nRuntimeError: CUDA\n")
    assert vb.merge({"a": 0.5, "b": 1.0}) == {"mean_score": 0.75, "detail": {"a": 0.5, "b": 1.0}}


STAND_IN = """#!/usr/bin/env python3
# a stand-in for VBench's CLI: writes its result file in VBench's format and says where, as VBench does
import argparse, json, os, sys
p = argparse.ArgumentParser(); p.add_argument("cmd"); p.add_argument("--ngpus"); p.add_argument("--full_json_dir")
p.add_argument("--output_path"); p.add_argument("--videos_path"); p.add_argument("--dimension")
p.add_argument("--load_ckpt_from_local")
a = p.parse_args()
if a.dimension == "color":
    print("RuntimeError: no GPU", file=sys.stderr); sys.exit(3)
scores = json.loads(os.environ["STAND_IN_SCORES"])
out = os.path.join(a.output_path, a.dimension + "_eval_results.json")
json.dump({a.dimension: [scores[a.dimension], [{"video_path": p, "video_results": scores[a.dimension]}
           for p in sorted(os.listdir(a.videos_path))]]}, open(out, "w"), indent=4)
print(f"ngpus={a.ngpus}")
print(f"Evaluation results saved to {out}")
"""


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vbench").write_text(STAND_IN)
    (bin_dir / "vbench").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STAND_IN_SCORES", json.dumps({"subject_consistency": 0.9, "dynamic_degree": 0.4}))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a cat-0.mp4").write_bytes(b"")
    return {**ORIGINAL, "videos_path": str(videos), "export_path": str(tmp_path / "out"), "num_gpus": None}


def test_evaluator_runs_each_dimension_and_merges(stand_in, tmp_path):
    assert vb.vbench_video_evaluator(dict(stand_in)) == pytest.approx(0.65)
    merged = json.loads((tmp_path / "out/mini_test_merged_results.json").read_text())
    assert merged == {"mean_score": pytest.approx(0.65), "detail": {"subject_consistency": 0.9, "dynamic_degree": 0.4}}
    assert "ngpus=2" in (tmp_path / "out/eval_log_dynamic_degree.txt").read_text()  # the GPUs the job holds
    ranked = vb.vbench_video_evaluator({**stand_in, "arm": "x2", "seed": 1})
    assert ranked["arm"] == "x2" and ranked["seed"] == 1 and ranked["mean_score"] == pytest.approx(0.65)


def test_evaluator_failures_are_one_line(stand_in, tmp_path, monkeypatch):
    with pytest.raises(SandboxError, match="`vbench evaluate` for color exited with 3"):
        vb.vbench_video_evaluator({**stand_in, "dimension_list": ["color"]})
    with pytest.raises(SandboxError, match="model_path names a model, not videos"):
        vb.vbench_video_evaluator({**stand_in, "videos_path": None, "model_path": "/m"})
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "absent"))
    with pytest.raises(SandboxError, match="checkpoint cache .*absent does not exist"):
        vb.vbench_video_evaluator(dict(stand_in))
