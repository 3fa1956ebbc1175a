"""Rebuild the golden command lines of the text-to-video families from the ORIGINAL's own scripts.

    python tests/golden/t2v/make_golden.py [path/to/data-juicer checkout]   (default: $DJ_ORIGINAL_REPO)

EasyAnimate: the original runs ``cd <EasyAnimate home> && bash train_lora.sh "a1" ... "a14"`` (and
``infer_lora.sh`` with 11 args), scripts that its ``thirdparty/models/patch/easyanimate.diff`` adds.
Here those two scripts are taken from that patch (git show, nothing copied into this project), run by
bash exactly as the original's executors build the call (``f'"{arg}"'`` joined), from the values of
the original's ``model_train.yaml`` / ``model_infer.yaml``, with ``accelerate`` and ``python`` on
``PATH`` replaced by a program that prints its argv (and ``CUDA_VISIBLE_DEVICES``) as JSON. What
they print is what the original would have launched; the files written here are those lines.

VBench: the original builds one shell command per dimension in ``VBenchEvaluator.run``; its two
expressions are taken from that source and evaluated with ``vbench_eval.yaml``'s values (``vbench_golden``).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCH = "thirdparty/models/patch/easyanimate.diff"
T2V_HOOKS = "data_juicer/core/sandbox/specific_hooks/text_to_video/model_hooks.py"
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["RECORD_TO"], "a") as fh:
    fh.write(json.dumps({"program": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
                         "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\\n")
"""
# the original's model_train.yaml / model_infer.yaml values, in its executors' argument order
TRAIN_ARGS = ["PixArt-alpha/PixArt-XL-2-512x512", "/PATH/TO/EASYANIMATE_MODEL", "",
              "../../../outputs/demo-bench/demo-dataset-for-train_ea_fmt.json", 256, "bf16", 8, 1, 1, 8, 42,
              "../../../outputs/demo-bench/models", "demo-bench", "demo-single-op-model-train"]
INFER_ARGS = ["PixArt-alpha/PixArt-XL-2-512x512", "/PATH/TO/EASYANIMATE_MODEL",
              "../../../outputs/demo-bench/models/checkpoint-1.safetensors", 256,
              "../../../tools/mm_eval/vbench_metrics/VBench_mini_info.json", 1, 8, "bf16", 5, 43,
              "../../../outputs/demo-bench/generated_videos"]


def _script_from_patch(repo: Path, name: str) -> str:
    diff = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{PATCH}"], capture_output=True, text=True,
                          check=True).stdout
    lines, inside = [], False
    for line in diff.splitlines():
        if line.startswith("diff --git"):
            inside = line.endswith(f" b/{name}")
        elif inside and line.startswith("+") and not line.startswith("+++"):
            lines.append(line[1:])
    return "\n".join(lines) + "\n"


def run_original(repo: Path, script: str, args: list) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        home, bin_dir, record = Path(tmp, "EasyAnimate"), Path(tmp, "bin"), Path(tmp, "record.jsonl")
        home.mkdir()
        bin_dir.mkdir()
        (home / script).write_text(_script_from_patch(repo, script))
        for prog in ("accelerate", "python"):
            (bin_dir / prog).write_text(RECORDER)
            (bin_dir / prog).chmod(0o755 | stat.S_IXUSR)
        quoted = " ".join(f'"{a}"' for a in args)  # as the original's executors
        cmd = f"cd {home} && bash {home / script} {quoted}"
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", RECORD_TO=str(record))
        subprocess.run(["bash", "-c", cmd], env=env, check=True)
        rows = [json.loads(line) for line in record.read_text().splitlines()]
    return sorted(rows, key=lambda r: r["argv"])


def vbench_golden(repo: Path) -> list[str]:
    """VBenchEvaluator.run's shell command per dimension for the original's vbench_eval.yaml: the two
    expressions it builds them with (``eval_log_path = ...``, ``cmd = ...``), taken from its source by ast
    and evaluated with that config's values."""
    import ast
    import types

    source = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{T2V_HOOKS}"], capture_output=True, text=True,
                            check=True).stdout
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "VBenchEvaluator")
    run = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "run")
    exprs = {node.targets[0].id: compile(ast.Expression(node.value), T2V_HOOKS, "eval")
             for node in ast.walk(run) if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
             and node.targets[0].id in ("eval_log_path", "cmd")}
    this = types.SimpleNamespace(num_gpus=1, full_json_dir="./tools/mm_eval/vbench_metrics/VBench_mini_info.json",
                                 output_path="./outputs/demo-bench/eval_results",
                                 videos_path="./outputs/demo-bench/generated_videos", load_ckpt_from_local=False)
    out = []
    for dimension in ("subject_consistency", "dynamic_degree"):
        scope = {"self": this, "dimension": dimension, "os": os}
        scope["eval_log_path"] = eval(exprs["eval_log_path"], scope)  # noqa: S307 (the original's own expression)
        out.append(eval(exprs["cmd"], scope))  # noqa: S307
    return out


def main() -> None:
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["DJ_ORIGINAL_REPO"])
    golden = {
        "source": f"{PATCH} at data-juicer {subprocess.run(['git', '-C', str(repo), 'rev-parse', 'HEAD'], capture_output=True, text=True, check=True).stdout.strip()}",
        "train_lora.sh": {"args": [str(a) for a in TRAIN_ARGS], "launched": run_original(repo, "train_lora.sh", TRAIN_ARGS)},
        "infer_lora.sh": {"args": [str(a) for a in INFER_ARGS], "launched": run_original(repo, "infer_lora.sh", INFER_ARGS)},
        "infer_lora.sh 2 GPUs": {"launched": run_original(repo, "infer_lora.sh", INFER_ARGS[:5] + [2] + INFER_ARGS[6:])},
        "vbench": vbench_golden(repo),
    }
    (HERE / "original_commands.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
