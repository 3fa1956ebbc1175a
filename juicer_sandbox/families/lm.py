"""The language-model and image-text families: Hugging Face, vLLM, ModelScope, InternVL, Trinity-RFT.

Their component types keep the original DJ-Sandbox's names and config keys
(``components/original_models.py``, ``components/internvl.py``, ``components/trinity.py``).
"""
from __future__ import annotations

from . import Code, Family

_HF_CACHES = ("$HF_HUB_CACHE/models--{id_dashes}", "$HF_HOME/hub/models--{id_dashes}",
              "~/.cache/huggingface/hub/models--{id_dashes}")
_MS_CACHES = ("$MODELSCOPE_CACHE/{id}", "$MODELSCOPE_CACHE/models/{id}", "~/.cache/modelscope/hub/{id}",
              "~/.cache/modelscope/hub/models/{id}")

FAMILIES = [
    Family(
        "huggingface", env="train", types=(("model_infer", "huggingface"),),
        imports=("torch", "transformers"), weights=("model",), gpu="optional",
        weights_hint="a local model directory in Hugging Face format (e.g. `hf download ORG/NAME --local-dir DIR` "
                     "once, where the network allows), given as extra_configs.model",
        doc="transformers text-generation pipeline on a local model directory; CPU, or the GPUs the job asks for",
    ),
    Family(
        "vllm", env="vllm", types=(("model_infer", "vllm"),), imports=("vllm", "torch"),
        weights=("model",), weight_caches=_HF_CACHES, gpu="required", gpus_key="model_params.tensor_parallel_size",
        runtime_min=120,
        weights_hint="a local model directory (or a Hugging Face id already in the HF cache), given as "
                     "extra_configs.model",
        doc="vLLM offline inference; tensor_parallel_size = the GPUs the job holds (the original: all on the node)",
    ),
    Family(
        "modelscope", env="modelscope", types=(("model_train", "modelscope"),), imports=("modelscope", "torch"),
        weights=("model_name",), weight_caches=_MS_CACHES, gpu="optional", runtime_min=240,
        weights_hint="the ModelScope model in the ModelScope cache ($MODELSCOPE_CACHE), e.g. `modelscope download "
                     "--model ORG/NAME` once where the network allows, or a local directory as model_name",
        doc="ModelScope build_trainer(...).train() with the original's keys",
    ),
    Family(
        "internvl", env="internvl",
        types=(("model_train", "internvl_coco_caption"), ("model_evaluator", "internvl_coco_caption")),
        imports=("torch", "transformers", "deepspeed", "peft", "flash_attn", "pycocoevalcap", "pycocotools"),
        executables=("bash",),
        code=Code("https://github.com/OpenGVLab/InternVL.git", "2410d1dbf208f0e799459aff9376e5747dbf41a2",
                  home_key="internvl_home", marker="internvl_chat/internvl/train/internvl_chat_finetune.py"),
        weights=("model_name_or_path", "ckpt_paths"), gpu="required", gpus_key="num_gpus", launcher="torchrun",
        runtime_min=720, mem_mb=64000,
        weights_hint="InternVL2 weights under <internvl_home>/internvl_chat/pretrained/ (InternVL's COCO-caption "
                     "fine-tuning tutorial: `hf download OpenGVLab/InternVL2-1B --local-dir ...` once)",
        doc="InternVL2 LoRA fine-tuning (torchrun + DeepSpeed ZeRO-1) and COCO-caption evaluation (evaluate.sh)",
    ),
    Family(
        "trinity", env="trinity", types=(("model_train", "trinity-rft"),), imports=("trinity",),
        executables=("trinity",), gpu="required", runtime_min=720,
        doc="Trinity-RFT reinforcement fine-tuning: `trinity run --config <trinity_config_path>`",
    ),
]
