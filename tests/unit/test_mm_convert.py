"""Multimodal converters on the original's demo datasets and media, and on small COCO / LLaVA files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from juicer_sandbox.components.mm_convert import (CONVERTERS, SCHEMAS, coco_caption_meta, coco_caption_to_dj,
                                                  dj_to_easyanimate, dj_to_llava, llava_to_dj)
from juicer_sandbox.components.registry import get_component
from juicer_sandbox.errors import ConfigError, SandboxError

_REPO = Path(__file__).resolve().parents[2]
# ../shared next to the checkout (/work/main); a helper's worktree (/work/wt/<name>) looks one level further up
_CANDIDATES = [Path(os.environ["JUICER_SANDBOX_SHARED"])] if os.environ.get("JUICER_SANDBOX_SHARED") else \
    [_REPO.parent / "shared", _REPO.parent.parent / "shared"]
_SUB = "reference/dj_original/demos/data"
DEMOS = next((c / _SUB for c in _CANDIDATES if (c / _SUB).is_dir()), _CANDIDATES[0] / _SUB)
needs_demos = pytest.mark.skipif(not DEMOS.is_dir(), reason=f"the original's demo data is not at {DEMOS} "
                                 "(../shared/reference/dj_original; or set JUICER_SANDBOX_SHARED)")
MEDIA = DEMOS.parent.parent / "tests" / "ops" / "data"


def _rows(path: str | Path) -> list[dict]:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_registered_with_schemas():
    for name in ("coco_caption_to_dj_conversion", "coco_caption_meta_generation",
                 "dj_to_easyanimate_video_dataset_conversion", "llava_to_dj_conversion", "dj_to_llava_conversion"):
        comp = get_component("general_data_executor", name)
        assert comp.fn is CONVERTERS[name] and comp.schema is SCHEMAS[name]
        assert "export_path" in comp.schema["properties"]


# -- the original's three -------------------------------------------------------------------------------------------
@needs_demos
def test_coco_caption_to_dj_and_meta(tmp_path):
    images = ["img1.png", "img2.jpg", "img3.jpg"]
    ann = tmp_path / "data" / "coco" / "annotations" / "coco_tiny_train.jsonl"
    ann.parent.mkdir(parents=True)
    rows = [{"id": i, "image": name, "conversations": [
        {"from": "human", "value": "<image>\nProvide a one-sentence caption for the provided image."},
        {"from": "gpt", "value": caption}]}
        for i, (name, caption) in enumerate(zip(images, ["A comfortable bed.", "A bus.", "A woman with an umbrella."]))]
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
    export = tmp_path / "export"
    [out] = coco_caption_to_dj({"dataset_path": [str(ann)], "export_path": str(export), "media_root": str(MEDIA)})
    assert out == str(export / "coco_tiny_train_dj_fmt.jsonl")
    got = _rows(out)
    assert [r["text"] for r in got] == ["<__dj__image> A comfortable bed.", "<__dj__image> A bus.",
                                        "<__dj__image> A woman with an umbrella."]
    assert [r["images"] for r in got] == [[str(MEDIA / n)] for n in images]
    assert all(os.path.isfile(r["images"][0]) for r in got)
    assert got[1]["conversations"] == rows[1]["conversations"] and got[1]["image"] == "img2.jpg"  # keys kept
    # without media_root the InternVL-relative path is kept, as in the original
    [out] = coco_caption_to_dj({"dataset_path": str(ann), "export_path": str(tmp_path / "e2")})
    assert _rows(out)[0]["images"] == ["img1.png"]

    [meta] = coco_caption_meta({"dataset_path": str(ann), "export_path": str(export),
                                "data_root_path": str(tmp_path)})
    assert meta == str(export / "coco_tiny_train_meta.json")
    assert json.loads(Path(meta).read_text()) == {"coco_tiny_train": {
        "root": "data/coco/", "annotation": "data/coco/annotations/coco_tiny_train.jsonl", "data_augment": False,
        "repeat_time": 1, "length": 3}}
    with pytest.raises(ConfigError, match="data_root_path"):
        coco_caption_meta({"dataset_path": str(ann), "export_path": str(export)})


def test_coco_caption_to_dj_errors_name_the_line(tmp_path):
    ann = tmp_path / "a.jsonl"
    ann.write_text(json.dumps({"image": "x.jpg", "conversations": [{"from": "human", "value": "<image>"}]}) + "\n")
    with pytest.raises(SandboxError, match=r"a.jsonl:1: 'conversations' needs a second turn"):
        coco_caption_to_dj({"dataset_path": str(ann), "export_path": str(tmp_path / "e")})
    ann.write_text('{"conversations": []}\n{"image": 1}\n')
    with pytest.raises(SandboxError, match=r"a.jsonl:1: 'conversations' needs"):
        coco_caption_to_dj({"dataset_path": str(ann), "export_path": str(tmp_path / "e")})


@needs_demos
def test_dj_to_easyanimate_on_the_video_demo(tmp_path):
    src = DEMOS / "demo-dataset-videos.jsonl"
    # the original reads a JSON array (Data-Juicer's .json export): write one, plus a row without videos
    rows = _rows(src) + [{"videos": [], "text": "no video"}]
    as_json = tmp_path / "videos.json"
    as_json.write_text(json.dumps(rows))
    export = tmp_path / "export"
    [out] = dj_to_easyanimate({"dataset_path": str(as_json), "export_path": str(export)})
    assert out == str(export / "videos_ea_fmt.json")
    got = _rows(out)
    assert len(got) == len(rows) - 1
    assert [r["text"] for r in got] == [r["text"].replace("<__dj__video>", "").replace("<|__dj__eoc|>", "").strip()
                                        for r in rows[:-1]]
    # relative paths were relative to the demo file; as_json lives elsewhere, so resolve against the original
    [out] = dj_to_easyanimate({"dataset_path": str(src), "export_path": str(export)})
    got = _rows(out)
    assert got[0]["text"] == "a cartoon" and got[0]["file_path"] == str(MEDIA / "video1.mp4")
    assert all(os.path.isfile(r["file_path"]) and r["file_path"] == r["videos"][0] for r in got)
    [kept] = dj_to_easyanimate({"dataset_path": str(src), "export_path": str(tmp_path / "k"), "media_paths": "keep"})
    assert _rows(kept)[0]["file_path"] == "../../tests/ops/data/video1.mp4"


def test_dj_to_easyanimate_strips_eoc(tmp_path):
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps({"videos": ["/m/a.mp4", "/m/b.mp4"], "text": "<__dj__video> a dog <|__dj__eoc|>",
                               "meta": 1}) + "\n")
    [out] = dj_to_easyanimate({"dataset_path": str(src), "export_path": str(tmp_path / "e")})
    assert _rows(out) == [{"videos": ["/m/a.mp4", "/m/b.mp4"], "text": "a dog", "meta": 1, "file_path": "/m/a.mp4"}]


# -- conversations ---------------------------------------------------------------------------------------------------
LLAVA = [
    {"id": "000000033471", "image": "coco/train2017/000000033471.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat are the colors of the bus in the image?"},
        {"from": "gpt", "value": "The bus in the image is white and red."},
        {"from": "human", "value": "What feature can be seen on the back of the bus?"},
        {"from": "gpt", "value": "The back of the bus features an advertisement.\nIt is large."}]},
    {"id": 7, "image": ["a.jpg", "b.jpg"], "source": "mine", "conversations": [
        {"from": "human", "value": "Image-1: <image>\nImage-2: <image>\nCompare them."},
        {"from": "gpt", "value": "The first is darker.  "}]},
    {"id": "text-only", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
    {"id": "vid", "video": "clips/v1.mp4", "conversations": [
        {"from": "human", "value": "<video>\nWhat happens?"}, {"from": "gpt", "value": "A man runs."}]},
]


def test_llava_dj_llava_round_trip(tmp_path):
    src = tmp_path / "llava_train.json"
    src.write_text(json.dumps(LLAVA))
    [dj] = llava_to_dj({"dataset_path": str(src), "export_path": str(tmp_path / "dj")})
    assert dj.endswith("llava_train_dj_fmt.jsonl")
    rows = _rows(dj)
    assert rows[0]["text"] == ("[[human]]: <__dj__image>\nWhat are the colors of the bus in the image?\n"
                               "[[gpt]]: The bus in the image is white and red.\n"
                               "[[human]]: What feature can be seen on the back of the bus?\n"
                               "[[gpt]]: The back of the bus features an advertisement.\nIt is large. <|__dj__eoc|>")
    assert rows[0]["images"] == ["coco/train2017/000000033471.jpg"] and "image" not in rows[0]
    assert rows[1]["images"] == ["a.jpg", "b.jpg"] and rows[1]["text"].count("<__dj__image>") == 2
    assert "images" not in rows[2] and rows[3]["videos"] == ["clips/v1.mp4"]
    [back] = dj_to_llava({"dataset_path": dj, "export_path": str(tmp_path / "ll"), "media_paths": "keep"})
    assert back.endswith("llava_train_dj_fmt_llava_fmt.json")
    assert _rows(back) == LLAVA
    # InternVL reads JSONL; media_root makes LLaVA's folder-relative paths absolute
    [dj] = llava_to_dj({"dataset_path": str(src), "export_path": str(tmp_path / "dj2"), "media_root": "/data/llava"})
    assert _rows(dj)[1]["images"] == ["/data/llava/a.jpg", "/data/llava/b.jpg"]
    [jl] = dj_to_llava({"dataset_path": dj, "export_path": str(tmp_path / "ll2"), "target_format": "jsonl"})
    assert jl.endswith("_llava_fmt.jsonl") and _rows(jl)[1]["image"] == ["/data/llava/a.jpg", "/data/llava/b.jpg"]


def test_llava_values_dj_cannot_hold_are_refused(tmp_path):
    src = tmp_path / "bad.jsonl"
    row = {"id": 1, "conversations": [{"from": "human", "value": "x\n[[gpt]]: injected"},
                                      {"from": "gpt", "value": "y"}]}
    src.write_text(json.dumps(row) + "\n")
    with pytest.raises(SandboxError, match=r"bad.jsonl:1: conversations\[0\]: a turn holds"):
        llava_to_dj({"dataset_path": str(src), "export_path": str(tmp_path / "e")})
    row["conversations"][0] = {"from": "hu man", "value": "x"}
    src.write_text(json.dumps(row) + "\n")
    with pytest.raises(SandboxError, match="must be letters"):
        llava_to_dj({"dataset_path": str(src), "export_path": str(tmp_path / "e")})


@needs_demos
def test_dj_image_demo_to_llava_and_back(tmp_path):
    src = DEMOS / "demo-dataset-images.jsonl"
    with pytest.raises(SandboxError, match=r"demo-dataset-images.jsonl:1: 'text' has no '\[\[role\]\]: ' turns"):
        dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "x")})
    prompt = "Provide a one-sentence caption for the provided image."
    [ll] = dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "ll"), "caption_prompt": prompt})
    got = _rows(ll)
    assert got[1] == {"image": str(MEDIA / "img2.jpg"), "conversations": [
        {"from": "human", "value": f"<image>\n{prompt}"}, {"from": "gpt", "value": "A bus."}]}
    assert all(os.path.isfile(r["image"]) for r in got)
    # the LLaVA file feeds the COCO-caption converter (InternVL's layout): same captions and images as the demo
    [dj] = coco_caption_to_dj({"dataset_path": ll, "export_path": str(tmp_path / "dj")})
    demo = _rows(src)
    assert [r["text"] for r in _rows(dj)] == [r["text"] for r in demo]
    assert [r["images"] for r in _rows(dj)] == [[os.path.abspath(DEMOS / p)] for r in demo for p in r["images"]]
    # and back to Data-Juicer's conversation layout
    [dj2] = llava_to_dj({"dataset_path": ll, "export_path": str(tmp_path / "dj2")})
    assert _rows(dj2)[1] == {"images": [str(MEDIA / "img2.jpg")],
                             "text": f"[[human]]: <__dj__image>\n{prompt}\n[[gpt]]: A bus. <|__dj__eoc|>"}


def test_dj_to_llava_turn_layout_edge_cases(tmp_path):
    src = tmp_path / "d.jsonl"
    rows = [{"text": "[[human]]: <__dj__image>\nq1 <|__dj__eoc|>\n[[gpt]]: a1 <|__dj__eoc|>", "images": ["/i.png"],
             "__dj__stats__": {"lang": "en"}},
            {"text": "preamble [[human]]: q"}]
    src.write_text(json.dumps(rows[0]) + "\n")
    [out] = dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "e")})
    assert _rows(out) == [{"__dj__stats__": {"lang": "en"}, "image": "/i.png", "conversations": [
        {"from": "human", "value": "<image>\nq1"}, {"from": "gpt", "value": "a1"}]}]
    src.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[1]) + "\n")
    # "preamble [[human]]: q" has no turn at a line start: a plain caption, which needs caption_prompt
    with pytest.raises(SandboxError, match=r"d.jsonl:2: 'text' has no"):
        dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "e")})
    src.write_text(json.dumps({"text": "hello\n[[human]]: q\n[[gpt]]: a"}) + "\n")
    with pytest.raises(SandboxError, match=r"d.jsonl:1: 'text' has text before its first"):
        dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "e")})


def test_dj_llava_dj_round_trip(tmp_path):
    rows = [{"id": "a", "images": ["/m/1.jpg"], "__dj__stats__": {"image_width": [640]},
             "text": "[[human]]: <__dj__image>\nWhat is this?\n[[gpt]]: A cat.\n[[human]]: Sure?\n[[gpt]]: Yes."
                     " <|__dj__eoc|>"},
            {"id": "b", "images": ["/m/1.jpg", "/m/2.jpg"], "videos": ["/m/v.mp4"],
             "text": "[[human]]: <__dj__image> and <__dj__image>, then <__dj__video>\n[[gpt]]: Two photos, a clip."
                     " <|__dj__eoc|>"}]
    src = tmp_path / "dj.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    [ll] = dj_to_llava({"dataset_path": str(src), "export_path": str(tmp_path / "ll")})
    assert _rows(ll)[1]["image"] == ["/m/1.jpg", "/m/2.jpg"] and _rows(ll)[1]["video"] == "/m/v.mp4"
    assert _rows(ll)[1]["conversations"][0]["value"] == "<image> and <image>, then <video>"
    [back] = llava_to_dj({"dataset_path": ll, "export_path": str(tmp_path / "dj")})
    assert _rows(back) == rows
