#!/usr/bin/env bash
# The prepared GPU check of the model families (tools/gpu_check.py has the steps): the tiny model trained
# from scratch, Hugging Face and vLLM inference on it, DeepSpeed ZeRO-1 training of it on every visible
# GPU, and the FID/FVD/KID/IS math on the GPU. Writes one JSON; under 8 minutes on one GPU.
#
#   tools/gpu_check.sh [OUT_DIR]        # default: $OUT if set (the device tool's result folder), else ./gpu_check
#   PYTHON=/path/to/python tools/gpu_check.sh
#
# Python: $PYTHON, else .venv/bin/python, else python3. A step whose package (vllm, deepspeed) is not
# installed on the machine is recorded as skipped with the reason; exit code 1 when a step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu_check}}"
mkdir -p "$out"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/nvidia-smi.txt" 2>&1 || true
# 7.5 minutes for everything; each step also has its own limit inside (DeepSpeed launch: 5 min)
timeout 450 env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}" \
  "$py" tools/gpu_check.py --out "$out/gpu_check.json" --work "$out/work"
rc=$?
echo "gpu_check: exit $rc, results in $out/gpu_check.json"
exit $rc
