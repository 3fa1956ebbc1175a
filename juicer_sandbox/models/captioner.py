"""A tiny image captioner: a small conv encoder whose output tokens prefix the project's tiny LM.

* Images are read with Pillow, composited on white, scaled so the longer side is ``image_size`` and
  centred on a white ``image_size`` square (letterboxed: the aspect ratio stays visible), as float
  RGB in [-1, 1].
* The encoder is four 3x3 convolutions (stride 1, 2, 2, 2, GELU): a ``image_size / 8`` square grid of
  ``d_model`` vectors, i.e. ``(image_size / 8)^2`` prefix tokens (16 for 32 px).
* The decoder is :func:`.lm.build_model` (GPT-2, learned positions) fed ``inputs_embeds`` = the
  prefix tokens followed by the embeddings of ``<eos> caption``; it predicts ``caption <eos>``.
  Captions are tokenised by the shared BPE tokenizer, Data-Juicer special tokens removed, cut to
  ``max_caption_tokens``.
* Saved as ``captioner.safetensors``: the weights, and the configuration as JSON in the safetensors
  header (metadata key ``juicer_sandbox.captioner``), next to the ``tokenizer.json`` it was trained
  with. Loading runs no code (nothing is unpickled).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import ComponentConfigError, SandboxError
from ..io import atomic_path, iter_jsonl

WEIGHTS = "captioner.safetensors"
_META_KEY = "juicer_sandbox.captioner"
_DJ_TOKENS = re.compile(r"<__dj__\w+>|<\|__dj__\w+\|>")
ARCH_KEYS = ("image_size", "n_layer", "d_model", "n_head", "max_caption_tokens", "enc_channels")


def clean_caption(text: Any) -> str:
    """The caption of a Data-Juicer text: special tokens removed, whitespace collapsed."""
    return " ".join(_DJ_TOKENS.sub(" ", text if isinstance(text, str) else "").split())


def read_pairs(path: str | os.PathLike, image_key: str = "images", text_key: str = "text",
               id_key: str = "id") -> tuple[list[dict], int]:
    """``([{"id", "image", "caption"}], rows without an image)`` of a Data-Juicer jsonl(.gz) file.

    The first image of each row is used; relative paths resolve against the file's directory (as
    Data-Juicer resolves them). A missing image file is an error naming file, line and path.
    """
    base = Path(os.path.abspath(path)).parent  # as Data-Juicer: the directory as named
    pairs, no_image = [], 0
    for line, row in enumerate(iter_jsonl(path), 1):
        images = row.get(image_key) if isinstance(row, dict) else None
        if isinstance(images, str):
            images = [images]
        if not images:
            no_image += 1
            continue
        img = Path(os.path.expanduser(str(images[0])))
        img = img if img.is_absolute() else base / img
        if not img.is_file():
            raise SandboxError(f"{path}:{line}: {image_key}[0] {str(images[0])!r}: no such file ({img})")
        pairs.append({"id": str(row.get(id_key, line)), "image": str(img),
                      "caption": clean_caption(row.get(text_key))})
    return pairs, no_image


def load_image(path: str, size: int):
    """uint8 tensor (3, size, size): the image on white, longer side = ``size``, centred."""
    import numpy as np
    import torch
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (size, size))
        rgba = im.convert("RGBA")
    scale = size / max(rgba.size)
    w, h = max(1, round(rgba.size[0] * scale)), max(1, round(rgba.size[1] * scale))
    rgba = rgba.resize((w, h), Image.BILINEAR)
    canvas = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    canvas.alpha_composite(rgba, ((size - w) // 2, (size - h) // 2))
    arr = np.asarray(canvas.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def load_images(pairs: list[dict], size: int):
    """uint8 tensor (N, 3, size, size) of the pairs' images."""
    import torch

    if not pairs:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    return torch.stack([load_image(p["image"], size) for p in pairs])


def encode_captions(captions: list[str], tok, eos: int, max_tokens: int):
    """(inputs, targets) int64 tensors (N, max_tokens + 1): ``<eos> ids`` and ``ids <eos>``, padded
    (inputs with eos, targets with -100); ids cut to ``max_tokens``."""
    import torch

    n, width = len(captions), max_tokens + 1
    inputs = torch.full((n, width), eos, dtype=torch.long)
    targets = torch.full((n, width), -100, dtype=torch.long)
    for i, enc in enumerate(tok.encode_batch(list(captions), add_special_tokens=False) if captions else []):
        ids = enc.ids[:max_tokens]
        inputs[i, 1:len(ids) + 1] = torch.tensor(ids, dtype=torch.long)
        targets[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        targets[i, len(ids)] = eos
    return inputs, targets


def _arch(cfg: dict) -> dict:
    arch = {k: cfg[k] for k in ARCH_KEYS}
    if arch["image_size"] % 8:
        raise ComponentConfigError(f"must be a multiple of 8, got {arch['image_size']}", key="image_size")
    if arch["d_model"] % arch["n_head"]:
        raise ComponentConfigError(f"d_model {arch['d_model']} is not divisible by n_head {arch['n_head']}",
                                   key="n_head")
    return arch


def build_captioner(cfg: dict, vocab_size: int, eos: int):
    """The captioner (a ``torch.nn.Module``), randomly initialised from the global torch RNG."""
    import torch
    from torch import nn

    from .lm import build_model

    arch = _arch(cfg)
    grid = arch["image_size"] // 8
    n_prefix = grid * grid
    lm_cfg = {"arch": "gpt2", "n_layer": arch["n_layer"], "d_model": arch["d_model"], "n_head": arch["n_head"],
              "context": n_prefix + arch["max_caption_tokens"] + 1, "tie_embeddings": True}

    class Captioner(nn.Module):
        def __init__(self):
            super().__init__()
            c, d = arch["enc_channels"], arch["d_model"]
            self.encoder = nn.Sequential(
                nn.Conv2d(3, c, 3, padding=1), nn.GELU(),
                nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
                nn.Conv2d(2 * c, d, 3, stride=2, padding=1), nn.GELU(),
                nn.Conv2d(d, d, 3, stride=2, padding=1))
            self.lm = build_model(lm_cfg, vocab_size, eos_token_id=eos)
            self.n_prefix, self.arch, self.vocab_size, self.eos = n_prefix, arch, vocab_size, eos

        def prefix(self, images):
            x = images.float() / 127.5 - 1.0
            return self.encoder(x).flatten(2).transpose(1, 2)  # (B, grid*grid, d)

        def forward(self, images, inputs, prefix=None):
            """Logits (B, L, vocab) at the caption positions (the prediction of ``targets``)."""
            pre = self.prefix(images) if prefix is None else prefix
            emb = self.lm.get_input_embeddings()(inputs)
            logits = self.lm(inputs_embeds=torch.cat([pre, emb], dim=1)).logits
            return logits[:, pre.size(1):]

    return Captioner()


def caption_loss_sum(model, images, inputs, targets):
    """(sum of nats over the target tokens, number of target tokens)."""
    import torch.nn.functional as F

    logits = model(images, inputs)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=-100, reduction="sum")
    return loss, int((targets != -100).sum())


def generate(model, images, max_new_tokens: int):
    """Greedy captions (lists of token ids, without the final <eos>) for a batch of images."""
    import torch

    eos = model.eos
    with torch.inference_mode():
        pre = model.prefix(images)
        seq = torch.full((images.size(0), 1), eos, dtype=torch.long)
        done = torch.zeros(images.size(0), dtype=torch.bool)
        for _ in range(max_new_tokens):
            nxt = model(images, seq, prefix=pre)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            done |= nxt == eos
            if bool(done.all()):
                break
    out = []
    for row in seq[:, 1:].tolist():
        out.append(row[:row.index(eos)] if eos in row else row)
    return out


def save_captioner(model, model_dir: Path, tokenizer_file: Path, extra: dict | None = None) -> None:
    """``model_dir/captioner.safetensors`` (weights + config header) and ``model_dir/tokenizer.json``."""
    from safetensors.torch import save_file

    model_dir.mkdir(parents=True, exist_ok=True)
    state = {}
    seen: dict[int, str] = {}
    aliases = {}
    for name, t in model.state_dict().items():
        if t.data_ptr() in seen:  # tied input/output embeddings: stored once
            aliases[name] = seen[t.data_ptr()]
            continue
        seen[t.data_ptr()] = name
        state[name] = t.detach().cpu().contiguous()
    meta = {"format": 1, "arch": model.arch, "vocab_size": model.vocab_size, "eos": model.eos,
            "aliases": aliases, **(extra or {})}
    with atomic_path(model_dir / WEIGHTS, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={_META_KEY: json.dumps(meta, sort_keys=True)})
    with atomic_path(model_dir / "tokenizer.json", suffix=".json") as tmp:
        tmp.write_bytes(Path(tokenizer_file).read_bytes())


def load_captioner(model_dir: str | os.PathLike):
    """(model in eval mode, tokenizer, metadata) from a directory written by :func:`save_captioner`."""
    from safetensors import safe_open

    from .tokenizer import load_tokenizer

    path = Path(model_dir) / WEIGHTS
    if not path.is_file():
        raise SandboxError(f"{model_dir}: no {WEIGHTS} (not a captioner written by image_captioner)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = json.loads((fh.metadata() or {})[_META_KEY])
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise SandboxError(f"cannot read captioner {path}: {type(exc).__name__}: {exc}") from None
    for alias, name in meta["aliases"].items():
        state[alias] = state[name]
    model = build_captioner(meta["arch"], meta["vocab_size"], meta["eos"])
    model.load_state_dict(state)
    model.eval()
    return model, load_tokenizer(model_dir), meta


def batches(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


__all__ = ["clean_caption", "read_pairs", "load_image", "load_images", "encode_captions", "build_captioner",
           "caption_loss_sum", "generate", "save_captioner", "load_captioner", "batches", "WEIGHTS"]
