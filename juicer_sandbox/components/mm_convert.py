"""Multimodal format converters for ``GeneralDataExecutorHook``: COCO captions, EasyAnimate, LLaVA / ShareGPT.

Each converter is ``fn(cfg) -> list[str]`` (one output path per input); ``cfg`` holds ``dataset_path`` (a path or a
list) and ``export_path`` (a directory). Data-Juicer's multimodal format: ``text`` with the special tokens
``<__dj__image>`` / ``<__dj__video>`` where media go and ``<|__dj__eoc|>`` ending a chunk, and the media in
``images`` / ``videos`` lists. Relative media paths in a Data-Juicer file resolve against that file's directory
(as Data-Juicer resolves them), so converters reading Data-Juicer files write them absolute by default
(``media_paths: absolute``; ``keep`` copies them unchanged). Bad input is one error naming file, line and key.

The original's three (names, keys and output layout as in DJ-Sandbox):

* ``coco_caption_to_dj_conversion``: InternVL COCO-caption JSONL rows (``image``, ``conversations``) ->
  ``<export>/<name>_dj_fmt.jsonl``; each row keeps its keys and gains ``images = [image]`` and
  ``text = "<__dj__image> " + conversations[1].value``. InternVL's image paths are relative to its data root, not to
  the file: they are kept, or joined to ``media_root`` (made absolute) when that is set.
* ``coco_caption_meta_generation``: per input, ``<export>/<name>_meta.json`` =
  ``{<name>: {root, annotation: relpath(abspath(input), data_root_path), data_augment: false, repeat_time: 1,
  length: <rows>}}`` (InternVL's meta file); ``root`` defaults to ``data/coco/``. ``data_root_path`` is required
  (the original silently used the current directory when it was missing).
* ``dj_to_easyanimate_video_dataset_conversion``: a Data-Juicer JSON array (or JSONL) ->
  ``<export>/<name>_ea_fmt.json``, a JSON array; rows without videos are dropped, ``file_path = videos[0]``, and
  ``text`` loses its special tokens and surrounding spaces. Differs on purpose: ``<|__dj__eoc|>`` is removed too
  (the original left it in the caption EasyAnimate trains on) and media paths are made absolute (see above).

Conversations (what LLaVA, Mini-Gemini and InternVL train on; ShareGPT-style ``conversations`` of ``from`` /
``value``; Data-Juicer's ``tools/multimodal`` layout):

* ``llava_to_dj_conversion``: a LLaVA JSON array (or JSONL) -> ``<export>/<name>_dj_fmt.jsonl``. ``image`` /
  ``video`` (a path or a list) -> ``images`` / ``videos``; the turns -> ``text = "[[from]]: value"`` joined by
  ``"\\n"``, ``<image>`` / ``<video>`` -> ``<__dj__image>`` / ``<__dj__video>``, plus a final
  ``" <|__dj__eoc|>"``; other keys are kept. (Data-Juicer's own tool keeps ``<image>`` in the text; here the
  Data-Juicer token is used so that Data-Juicer's image ops see the images.)
* ``dj_to_llava_conversion``: the reverse -> ``<export>/<name>_llava_fmt.json`` (a JSON array; ``target_format:
  jsonl`` writes ``_llava_fmt.jsonl``, the layout InternVL reads). One medium -> a string, several -> a list, none ->
  no key. A row whose text has no ``[[role]]: `` turns (a plain caption such as the image demo's
  ``"<__dj__image> A bus."``) becomes one human turn (its media tokens + ``caption_prompt``) and one ``gpt`` turn
  (the caption); without ``caption_prompt`` such a row is an error.

What a round trip keeps: LLaVA -> DJ -> LLaVA gives the same records (ids, media, roles, turn texts byte for byte,
extra keys) with these exceptions, which a LLaVA row cannot carry through Data-Juicer's text: a one-element media
list comes back as a string; a turn containing a literal Data-Juicer token or a line starting ``[[role]]: `` is
refused (it would be read back as a separate turn); roles must be letters, digits or ``_``. DJ -> LLaVA -> DJ keeps
``text`` (in the turn layout), ``images``, ``videos`` (absolute) and the other keys, but not: text before the first
turn, ``<|__dj__eoc|>`` between turns (chunk boundaries) and the distinction between ``images: []`` and no key.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ComponentConfigError, SandboxError
from ..io import write_json, write_jsonl

IMAGE, VIDEO, EOC = "<__dj__image>", "<__dj__video>", "<|__dj__eoc|>"
_DJ_TOKEN = re.compile(r"<__dj__\w+>|<\|__dj__\w+\|>")
_TURN = re.compile(r"(?:^|\n)\[\[(\w+)\]\]: ")


# -- I/O -------------------------------------------------------------------------------------------------------------
def _inputs(cfg: dict) -> list[str]:
    value = cfg.get("dataset_path")
    paths = [value] if isinstance(value, str) else list(value or [])
    if not paths:
        raise ComponentConfigError("is required (a path or a list of paths)", key="dataset_path")
    for p in paths:
        if not isinstance(p, str) or not os.path.isfile(p):
            raise ComponentConfigError(f"input file not found: {p}", key="dataset_path")
    return paths


def _export(cfg: dict) -> Path:
    value = cfg.get("export_path")
    if not value:
        raise ComponentConfigError("is required (an output directory)", key="export_path")
    Path(value).mkdir(parents=True, exist_ok=True)
    return Path(value)


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for ext in (".jsonl", ".json"):
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return os.path.splitext(name)[0]


def read_records(path: str) -> Iterator[tuple[str, dict]]:
    """``(where, row)`` for each row of a JSON array (``.json`` starting with ``[``) or of a JSONL file."""
    with open(path, encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
        fh.seek(0)
        if path.endswith(".json") and head.startswith("["):
            try:
                rows = json.load(fh)
            except json.JSONDecodeError as exc:
                raise SandboxError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
            items: Any = ((f"{path}: [{i}]", row) for i, row in enumerate(rows))
        else:
            items = _jsonl(path, fh)
        for where, row in items:
            if not isinstance(row, dict):
                raise SandboxError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def _jsonl(path: str, fh) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(fh, 1):
        if line.strip():
            try:
                yield f"{path}:{lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                raise SandboxError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None


def _need(where: str, row: dict, key: str, kind: type | tuple = str) -> Any:
    if key not in row:
        raise SandboxError(f"{where}: missing key '{key}'")
    if not isinstance(row[key], kind):
        raise SandboxError(f"{where}: '{key}' has the wrong type ({type(row[key]).__name__})")
    return row[key]


def _media_list(where: str, row: dict, key: str) -> list[str]:
    value = row.get(key)
    items = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise SandboxError(f"{where}: '{key}' must be a path or a list of paths")
    return list(items)


def _resolver(cfg: dict, base: str) -> Callable[[str], str]:
    """Media path mapping for Data-Juicer input: absolute against ``base`` (the file's directory) or kept."""
    if cfg.get("media_paths", "absolute") == "keep":
        return lambda p: p
    return lambda p: p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))


def _rooted(cfg: dict) -> Callable[[str], str]:
    """Media path mapping for InternVL / LLaVA input: joined to ``media_root`` when set, else kept."""
    root = cfg.get("media_root")
    if not root:
        return lambda p: p
    return lambda p: p if os.path.isabs(p) else os.path.abspath(os.path.join(root, p))


# -- the original's converters --------------------------------------------------------------------------------------
def coco_caption_to_dj(cfg: dict) -> list[str]:
    """``coco_caption_to_dj_conversion``: InternVL COCO captions -> ``<name>_dj_fmt.jsonl``."""
    export, outputs = _export(cfg), []
    media = _rooted(cfg)
    for path in _inputs(cfg):
        rows = []
        for where, row in read_records(path):
            turns = _need(where, row, "conversations", list)
            if len(turns) < 2 or not isinstance(turns[1], dict) or not isinstance(turns[1].get("value"), str):
                raise SandboxError(f"{where}: 'conversations' needs a second turn with a string 'value' (the caption)")
            rows.append({**row, "images": [media(_need(where, row, "image"))], "text": f"{IMAGE} {turns[1]['value']}"})
        out = export / f"{_stem(path)}_dj_fmt.jsonl"
        write_jsonl(out, rows)
        outputs.append(str(out))
    return outputs


def coco_caption_meta(cfg: dict) -> list[str]:
    """``coco_caption_meta_generation``: one InternVL meta file ``<name>_meta.json`` per input."""
    root_path = cfg.get("data_root_path")
    if not root_path:
        raise ComponentConfigError("is required: the directory InternVL's annotation paths are relative to",
                                   key="data_root_path")
    export, outputs = _export(cfg), []
    for path in _inputs(cfg):
        length = sum(1 for _ in read_records(path))
        name = _stem(path)
        meta = {"root": cfg.get("root", "data/coco/"), "annotation": os.path.relpath(os.path.abspath(path), root_path),
                "data_augment": False, "repeat_time": 1, "length": length}
        out = export / f"{name}_meta.json"
        write_json(out, {name: meta})
        outputs.append(str(out))
    return outputs


def dj_to_easyanimate(cfg: dict) -> list[str]:
    """``dj_to_easyanimate_video_dataset_conversion``: DJ videos -> ``<name>_ea_fmt.json`` (a JSON array)."""
    export, outputs = _export(cfg), []
    for path in _inputs(cfg):
        media = _resolver(cfg, os.path.dirname(os.path.abspath(path)))
        rows = []
        for where, row in read_records(path):
            videos = [media(v) for v in _media_list(where, row, "videos")]
            if not videos:
                continue
            text = " ".join(_DJ_TOKEN.sub(" ", _need(where, row, "text")).split())
            rows.append({**row, "videos": videos, "text": text, "file_path": videos[0]})
        out = export / f"{_stem(path)}_ea_fmt.json"
        write_json(out, rows)
        outputs.append(str(out))
    return outputs


# -- conversations ---------------------------------------------------------------------------------------------------
def _turn_value_to_dj(where: str, value: str, tokens: dict[str, str]) -> str:
    if _DJ_TOKEN.search(value) or re.search(r"(?:^|\n)\[\[\w+\]\]: ", value):
        raise SandboxError(f"{where}: a turn holds a Data-Juicer token or a '[[role]]: ' line, which the "
                           "Data-Juicer text cannot keep apart from its own markup")
    for llava_token, dj_token in tokens.items():
        value = value.replace(llava_token, dj_token)
    return value


def llava_to_dj(cfg: dict) -> list[str]:
    """``llava_to_dj_conversion``: LLaVA / ShareGPT conversations -> ``<name>_dj_fmt.jsonl``."""
    export, outputs = _export(cfg), []
    tokens = {cfg.get("image_special_token", "<image>"): IMAGE, cfg.get("video_special_token", "<video>"): VIDEO}
    media = _rooted(cfg)
    for path in _inputs(cfg):
        rows = []
        for where, row in read_records(path):
            turns = _need(where, row, "conversations", list)
            parts = []
            for i, turn in enumerate(turns):
                if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) \
                        or not isinstance(turn.get("value"), str):
                    raise SandboxError(f"{where}: conversations[{i}] needs string 'from' and 'value'")
                if not re.fullmatch(r"\w+", turn["from"]):
                    raise SandboxError(f"{where}: conversations[{i}].from {turn['from']!r} must be letters/digits/_")
                value = _turn_value_to_dj(f"{where}: conversations[{i}]", turn["value"], tokens)
                parts.append(f"[[{turn['from']}]]: {value}")
            new = {k: v for k, v in row.items() if k not in ("image", "video", "conversations")}
            for src, dst in (("image", "images"), ("video", "videos")):
                if src in row:
                    new[dst] = [media(p) for p in _media_list(where, row, src)]
            new["text"] = "\n".join(parts) + f" {EOC}"
            rows.append(new)
        out = export / f"{_stem(path)}_dj_fmt.jsonl"
        write_jsonl(out, rows)
        outputs.append(str(out))
    return outputs


def _drop_eoc(text: str) -> str:
    """``text`` without the ``" <|__dj__eoc|>"`` (or bare ``<|__dj__eoc|>``) that ends it."""
    for suffix in (f" {EOC}", EOC):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def _dj_turns(where: str, text: str, prompt: str | None) -> list[tuple[str, str]]:
    body = _drop_eoc(text)
    pieces = _TURN.split(body)
    if len(pieces) == 1:  # a plain caption, no turns
        if prompt is None:
            raise SandboxError(f"{where}: 'text' has no '[[role]]: ' turns; set caption_prompt to convert plain "
                               "captions (they become a human prompt and a gpt answer)")
        media = "".join(f"{t}\n" for t in _DJ_TOKEN.findall(body) if t in (IMAGE, VIDEO))
        return [("human", media + prompt), ("gpt", " ".join(_DJ_TOKEN.sub(" ", body).split()))]
    if pieces[0].strip():
        raise SandboxError(f"{where}: 'text' has text before its first '[[role]]: ' turn: {pieces[0][:60]!r}")
    turns = []
    for role, value in zip(pieces[1::2], pieces[2::2]):
        value = _drop_eoc(value)
        turns.append((role, value.replace(f" {EOC}\n", "\n").replace(EOC, "")))
    return turns


def dj_to_llava(cfg: dict) -> list[str]:
    """``dj_to_llava_conversion``: Data-Juicer -> LLaVA / ShareGPT ``<name>_llava_fmt.json`` (or ``.jsonl``)."""
    export, outputs = _export(cfg), []
    image_token, video_token = cfg.get("image_special_token", "<image>"), cfg.get("video_special_token", "<video>")
    jsonl = cfg.get("target_format", "json") == "jsonl"
    for path in _inputs(cfg):
        media = _resolver(cfg, os.path.dirname(os.path.abspath(path)))
        rows = []
        for where, row in read_records(path):
            turns = _dj_turns(where, _need(where, row, "text"), cfg.get("caption_prompt"))
            new = {k: v for k, v in row.items() if k not in ("text", "images", "videos")}
            for src, dst in (("images", "image"), ("videos", "video")):
                paths = [media(p) for p in _media_list(where, row, src)]
                if paths:
                    new[dst] = paths[0] if len(paths) == 1 else paths
            new["conversations"] = [{"from": role, "value": v.replace(IMAGE, image_token).replace(VIDEO, video_token)}
                                    for role, v in turns]
            rows.append(new)
        out = export / f"{_stem(path)}_llava_fmt.{'jsonl' if jsonl else 'json'}"
        write_jsonl(out, rows) if jsonl else write_json(out, rows)
        outputs.append(str(out))
    return outputs


# -- registry --------------------------------------------------------------------------------------------------------
_PATHS = {"anyOf": [{"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]}
_MEDIA_PATHS = {"enum": ["absolute", "keep"], "default": "absolute",
                "description": "relative media paths of Data-Juicer input: absolute (against the file) or kept"}
_MEDIA_ROOT = {"type": ["string", "null"], "default": None,
               "description": "directory the input's relative media paths are relative to (made absolute)"}


def _schema(name: str, required: tuple = (), **props) -> dict:
    return {"type": "object", "additionalProperties": False, "required": ["dataset_path", *required],
            "properties": {"type": {"const": name}, "dataset_path": _PATHS,
                           "export_path": {"type": ["string", "null"]}, **props}}


_TOKENS = {"image_special_token": {"type": "string", "minLength": 1, "default": "<image>"},
           "video_special_token": {"type": "string", "minLength": 1, "default": "<video>"}}

CONVERTERS: dict[str, Callable[[dict], list[str]]] = {
    "coco_caption_to_dj_conversion": coco_caption_to_dj,
    "coco_caption_meta_generation": coco_caption_meta,
    "dj_to_easyanimate_video_dataset_conversion": dj_to_easyanimate,
    "llava_to_dj_conversion": llava_to_dj,
    "dj_to_llava_conversion": dj_to_llava,
}

SCHEMAS: dict[str, dict] = {
    "coco_caption_to_dj_conversion": _schema("coco_caption_to_dj_conversion", media_root=_MEDIA_ROOT),
    "coco_caption_meta_generation": _schema("coco_caption_meta_generation", ("data_root_path",),
                                            data_root_path={"type": "string", "minLength": 1},
                                            root={"type": "string", "default": "data/coco/"}),
    "dj_to_easyanimate_video_dataset_conversion": _schema("dj_to_easyanimate_video_dataset_conversion",
                                                          media_paths=_MEDIA_PATHS),
    "llava_to_dj_conversion": _schema("llava_to_dj_conversion", media_root=_MEDIA_ROOT, **_TOKENS),
    "dj_to_llava_conversion": _schema("dj_to_llava_conversion", media_paths=_MEDIA_PATHS, **_TOKENS,
                                      target_format={"enum": ["json", "jsonl"], "default": "json"},
                                      caption_prompt={"type": ["string", "null"], "default": None}),
}
