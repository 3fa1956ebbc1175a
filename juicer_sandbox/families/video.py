"""The text-to-video families: EasyAnimate (LoRA training, generation), VBench, and the inception metrics.

Their component types keep the original DJ-Sandbox's names and config keys
(``components/easyanimate.py``, ``components/vbench.py``, ``components/video_inception.py``).
"""
from __future__ import annotations

from . import Code, Family

_HF_CACHES = ("$HF_HUB_CACHE/models--{id_dashes}", "$HF_HOME/hub/models--{id_dashes}",
              "~/.cache/huggingface/hub/models--{id_dashes}")
# DJ-Sandbox's patch to EasyAnimate (adds train_lora.py/.sh, infer_lora.py/.sh, the Data-Juicer dataset
# reader), at the data-juicer commit the original's setup_easyanimate.sh applies it from
EASYANIMATE_PATCH = ("https://raw.githubusercontent.com/modelscope/data-juicer/"
                     "c07c2d793cd85f7d5151ddc560fe92a0b6a0ba4b/thirdparty/models/patch/easyanimate.diff",
                     "fe6ade2d1e5899c3937c9cd6778086dcd4812b5b4c2529513cf4ce80de26f473")

FAMILIES = [
    Family(
        "easyanimate", env="easyanimate",
        types=(("model_train", "easyanimate"), ("model_infer", "easyanimate")),
        imports=("torch", "diffusers", "transformers", "accelerate", "xformers", "decord", "omegaconf"),
        code=Code("https://github.com/aigc-apps/EasyAnimate.git", "b54412ceb0af6a06bf907e049920f18508c862f1",
                  home_key="easyanimate_home", marker="train_lora.py", patch=EASYANIMATE_PATCH),
        weights=("train.model_path.pretrained_model_name_or_path", "train.model_path.transformer_path"),
        weight_caches=_HF_CACHES, gpu="required", gpus_key="train.infer_config.gpu_num", launcher="accelerate",
        runtime_min=720, mem_mb=64000,
        weights_hint="the PixArt-alpha base model directory (or its Hugging Face id already in the HF cache) and "
                     "the EasyAnimate checkpoint (easyanimate_mm_16x256x256_pretrain.safetensors), given as "
                     "train.model_path.pretrained_model_name_or_path / transformer_path",
        doc="EasyAnimate LoRA training (accelerate, one process per GPU) and text-to-video generation "
            "(one infer_lora.py per GPU), with DJ-Sandbox's patch",
    ),
    Family(
        "vbench", env="vbench", types=(("data_evaluator", "vbench_video_evaluator"),),
        imports=("vbench", "torch"), executables=("vbench", "bash"), gpu="required", gpus_key="num_gpus",
        runtime_min=240,
        doc="VBench scores per dimension of generated videos (`vbench evaluate`, checkpoints in $VBENCH_CACHE_DIR)",
    ),
    Family(
        "video_inception", env="video_metrics", types=(("data_evaluator", "video_inception_evaluator"),),
        imports=("torch", "cv2", "numpy"), weights=("detector_path",), gpu="optional", runtime_min=120,
        weights_hint="the TorchScript feature extractor as a local file, given as detector_path: I3D "
                     "i3d_torchscript.pt (FVD/KVD) or Inception inception-2015-12-05.pt (FID/KID/IS); the URLs "
                     "are in components/video_inception.py",
        doc="FID/FVD/KID/KVD/IS of generated against real videos (models/video_metrics.py)",
    ),
]
