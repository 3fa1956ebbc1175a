"""Component types of the original DJ-Sandbox that juicer-sandbox does not have yet.

They need third-party GPU stacks (EasyAnimate, InternVL, VBench, Trinity-RFT) or video metrics and
are planned as issues of their own; a config naming one fails at plan time with one line that
says so (instead of "not a known type").
"""
from __future__ import annotations

NOT_YET = {
    "model_train": ("trinity-rft", "internvl_coco_caption"),
    "model_evaluator": ("internvl_coco_caption",),
}


def not_yet_available(factory: str, type_name) -> str | None:
    if type_name in NOT_YET.get(factory, ()):
        return (f"component type {type_name!r} ({factory}) of the original DJ-Sandbox is not available yet "
                f"in juicer-sandbox")
    return None
