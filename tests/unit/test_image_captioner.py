"""The tiny image captioner (models/captioner*.py) and its components (components/image_caption.py),
on real PNG files drawn here with Pillow: shapes, determinism, learning, save/load, the archive unpacker."""
from __future__ import annotations

import json
import types
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from PIL import Image, ImageDraw  # noqa: E402

from juicer_sandbox.components import image_caption as ic  # noqa: E402
from juicer_sandbox.components.registry import get_component  # noqa: E402
from juicer_sandbox.errors import ComponentConfigError, SandboxError  # noqa: E402
from juicer_sandbox.models import captioner as cap  # noqa: E402
from juicer_sandbox.models.captioner_train import DEFAULTS, evaluate_captioner, train_captioner  # noqa: E402
from juicer_sandbox.models.tokenizer import train_tokenizer  # noqa: E402

SHAPES = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 180, 30)}
SMALL = {"image_size": 16, "n_layer": 1, "d_model": 32, "n_head": 2, "max_caption_tokens": 8, "enc_channels": 8,
         "batch_size": 16, "lr": 3e-3, "warmup": 2}


def _corpus(root: Path, n: int = 24) -> Path:
    """``n`` drawn images (a coloured square or disc on white) with the caption saying which."""
    (root / "img").mkdir(parents=True)
    rows = []
    for i in range(n):
        colour = list(SHAPES)[i % 3]
        shape = "square" if (i // 3) % 2 else "disc"
        im = Image.new("RGB", (20 + i % 5, 20), "white")
        draw = ImageDraw.Draw(im)
        (draw.rectangle if shape == "square" else draw.ellipse)([3, 3, 16, 16], fill=SHAPES[colour])
        im.save(root / "img" / f"{i}.png")
        rows.append({"id": f"s{i}", "text": f"<__dj__image> a {colour} {shape} <|__dj__eoc|>",
                     "images": [f"img/{i}.png"]})
    path = root / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("captions")
    path = _corpus(root)
    pairs, _ = cap.read_pairs(path)
    tok = train_tokenizer((p["caption"] for p in pairs), vocab_size=300, out_path=root / "tok.json", min_frequency=1)
    return path, tok


def test_read_pairs_resolves_relative_paths_and_strips_dj_tokens(data, tmp_path):
    path, _ = data
    pairs, no_image = cap.read_pairs(path)
    assert no_image == 0 and len(pairs) == 24
    assert pairs[0]["caption"] == "a red disc" and Path(pairs[0]["image"]).is_absolute()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "images": []}\n{"text": "y", "images": ["nope.png"]}\n', encoding="utf-8")
    with pytest.raises(SandboxError, match=r"bad\.jsonl:2: images\[0\] 'nope\.png'"):
        cap.read_pairs(bad)


def test_letterboxed_image_keeps_aspect_on_white(tmp_path):
    Image.new("RGB", (40, 10), (0, 0, 0)).save(tmp_path / "wide.png")
    x = cap.load_image(str(tmp_path / "wide.png"), 16)
    assert x.shape == (3, 16, 16) and x.dtype == torch.uint8
    assert int(x[:, 0, :].min()) == 255 and int(x[:, 8, :].max()) == 0  # white above, black band in the middle


def test_shapes_and_prefix_length(data):
    from juicer_sandbox.models.tokenizer import load_tokenizer

    tok = load_tokenizer(data[1])
    torch.manual_seed(0)
    model = cap.build_captioner({**DEFAULTS, **SMALL}, 300, 0)
    assert model.n_prefix == 4  # (16 / 8) ** 2
    images = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    inputs, targets = cap.encode_captions(["a red disc", "", "a blue square " * 5], tok, 0, 8)
    assert inputs.shape == targets.shape == (3, 9)
    assert inputs[1, 0] == 0 and targets[1, 0] == 0 and (targets[1, 1:] == -100).all()  # empty: predict <eos>
    assert (targets[2] != -100).sum() == 9  # cut to 8 tokens + <eos>
    assert model(images, inputs).shape == (3, 9, 300)
    with pytest.raises(ComponentConfigError, match="multiple of 8"):
        cap.build_captioner({**DEFAULTS, **SMALL, "image_size": 12}, 300, 0)


def test_training_is_deterministic_and_learns(data, tmp_path):
    path, tok = data
    cfg = {**SMALL, "max_samples": 16 * 40, "seed": 3}
    m1 = train_captioner(cfg, path, tmp_path / "a", tok, progress=False)
    m2 = train_captioner(cfg, path, tmp_path / "b", tok, progress=False)
    w1 = (tmp_path / "a" / "model" / cap.WEIGHTS).read_bytes()
    assert w1 == (tmp_path / "b" / "model" / cap.WEIGHTS).read_bytes()
    assert m1["steps"] == 40 and m1["final_train_loss_avg10"] == m2["final_train_loss_avg10"]
    curve = json.loads((tmp_path / "a" / "loss_curve.json").read_text())
    assert curve[-1]["loss"] < 0.5 * curve[0]["loss"]
    other = train_captioner({**cfg, "seed": 4}, path, tmp_path / "c", tok, progress=False)
    assert other["final_train_loss_avg10"] != m1["final_train_loss_avg10"]
    # evaluation on the training pairs: far below the untrained model's loss, and it reads its captions
    trained, refs, preds = evaluate_captioner(tmp_path / "a" / "model", path)
    untrained = train_captioner({**cfg, "max_samples": 16, "lr": 1e-9}, path, tmp_path / "d", tok, progress=False)
    base, _, _ = evaluate_captioner(untrained["model_dir"], path)
    assert trained["loss"] < 0.5 * base["loss"] and trained["pairs"] == 24
    assert refs["s0"] == ["a red disc"] and set(preds) == set(refs)


def test_saved_model_loads_to_the_same_outputs(data, tmp_path):
    path, tok = data
    train_captioner({**SMALL, "max_samples": 32}, path, tmp_path / "m", tok, progress=False)
    model, _, meta = cap.load_captioner(tmp_path / "m" / "model")
    assert meta["arch"]["image_size"] == 16 and meta["steps"] == 2
    blob = (tmp_path / "m" / "model" / cap.WEIGHTS).read_bytes()
    assert b"pickle" not in blob[:2000]
    images = cap.load_images(cap.read_pairs(path)[0][:2], 16)
    again, tok2, _ = cap.load_captioner(tmp_path / "m" / "model")
    assert tok2.get_vocab_size() == tok_size(tok)
    inputs, _ = cap.encode_captions(["a red disc", "a"], tok2, 0, 8)
    with torch.inference_mode():
        assert torch.equal(model(images, inputs), again(images, inputs))
    with pytest.raises(SandboxError, match="no captioner.safetensors"):
        cap.load_captioner(tmp_path)


def tok_size(tok_file) -> int:
    from juicer_sandbox.models.tokenizer import load_tokenizer

    return load_tokenizer(tok_file).get_vocab_size()


def test_components_registered_with_schemas():
    for factory, name in (("model_train", "image_captioner"), ("model_evaluator", "image_caption_eval"),
                          ("general_data_executor", "unpack_dataset_archive")):
        comp = get_component(factory, name)
        assert comp.module == "juicer_sandbox.components.image_caption"
        assert comp.schema["additionalProperties"] is False


def test_eval_component_scores_captions(data, tmp_path):
    path, tok = data
    train_captioner({**SMALL, "max_samples": 16 * 40}, path, tmp_path / "m", tok, progress=False)
    run = types.SimpleNamespace(threads=1)
    cfg = {"model_path": str(tmp_path / "m" / "model"), "val_path": str(path), "export_path": str(tmp_path / "e"),
           "arm": "refined", "seed": 0}
    metrics = ic.evaluate_image_captioner(cfg, run)
    assert {"loss", "Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"} <= set(metrics) and "METEOR" not in metrics
    assert metrics["arm"] == "refined" and metrics["pairs"] == 24
    assert 0 <= metrics["Bleu_1"] <= 1 and metrics["CIDEr"] >= 0
    preds = [json.loads(line) for line in (tmp_path / "e" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 24 and {"id", "caption"} == set(preds[0])


def _zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_unpack_archive_makes_media_absolute(tmp_path):
    png = tmp_path / "x.png"
    Image.new("RGB", (4, 4), "white").save(png)
    row = {"text": "<__dj__image> a <|__dj__eoc|>", "images": ["images/0.png"]}
    arch = _zip(tmp_path / "c.zip", {"images/0.png": png.read_bytes(), "raw.jsonl": json.dumps(row) + "\n",
                                     "val.jsonl": json.dumps(row) + "\n"})
    out = ic.unpack_dataset_archive({"dataset_path": str(arch), "export_path": str(tmp_path / "out")})
    assert [Path(p).name for p in out] == ["raw.jsonl", "val.jsonl"]
    got = json.loads(Path(out[0]).read_text())
    assert Path(got["images"][0]).is_absolute() and Path(got["images"][0]).is_file()
    with pytest.raises(ComponentConfigError, match="SHA-256"):
        ic.unpack_dataset_archive({"dataset_path": str(arch), "export_path": str(tmp_path / "o2"), "sha256": "0" * 64})
    with pytest.raises(ComponentConfigError, match="no member 'test.jsonl'"):
        ic.unpack_dataset_archive({"dataset_path": str(arch), "export_path": str(tmp_path / "o3"),
                                   "members": ["test.jsonl"]})
    evil = _zip(tmp_path / "evil.zip", {"../escape.jsonl": "{}\n"})
    with pytest.raises(ComponentConfigError, match="unsafe member path '../escape.jsonl'"):
        ic.unpack_dataset_archive({"dataset_path": str(evil), "export_path": str(tmp_path / "o4")})
    assert not (tmp_path / "escape.jsonl").exists()
