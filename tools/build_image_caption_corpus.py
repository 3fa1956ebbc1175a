#!/usr/bin/env python3
"""Build the image-caption demo corpus: real clip-art and stamps with the text people wrote for them.

Sources (Debian packages, installed by ``tools/install_image_corpus_packages.sh``; nothing is downloaded
and no caption is written by the project):

* ``openclipart-svg`` / ``openclipart-png``: Open Clip Art Library 0.18. The caption is the clip's
  ``dc:title`` from the SVG's RDF metadata, followed by its ``dc:description`` when that says something
  else ("Owl on Branch", "Duck (Yellow). Done originally for my daughter's school play"). The image is
  the package's PNG rendering of the same file.
* ``tuxpaint-stamps-default``: Tux Paint stamps: the PNG and the first (English) line of its
  description ``.txt`` ("A frog."). Stamps that exist only as SVG are left out (no SVG renderer).

Needs Pillow (run it with the project's ``.venv/bin/python``). Output (``--out``, default
``data/image_caption``):

* ``corpus.zip``  ONE archive: ``images/NNNNN.png`` thumbnails (RGB on white, the longest side scaled
  down to ``--thumb`` px, never up, so tiny and extreme-aspect images stay so), ``raw.jsonl`` (the
  pool to clean) and ``val.jsonl`` (clean held-out pairs). Rows are Data-Juicer's multimodal format:
  ``{"id", "text": "<__dj__image> caption <|__dj__eoc|>", "images": ["images/NNNNN.png"],
  "meta": {"source", "flags", "clean", "orig_size"}}``; image paths are relative to the jsonl file.
* ``stats.json`` counts per flag and source, arguments, package versions, the archive's SHA-256.
* ``ATTRIBUTION.md`` sources, licences, the rebuild command.

Dirt, as ``meta.flags`` (comma-separated names, "" when clean; ground truth for measuring a filter; a pipeline under test must not read it):
natural: ``empty_text`` (no title), ``filename_title`` (a file name as title: ``star_46pt03step``),
``meta_text`` (the caption names a tool, an e-mail, a URL or a licence instead of the picture),
``long_text`` (> 160 chars), ``tiny`` (original shorter side < 24 px or longer side < 40 px),
``extreme_aspect`` (original sides ratio > 3), ``generic_text`` (a caption shared by 3 or more
different images: a collection's name such as "Part of the Flat Icon Collection"), ``duplicate_image`` (the same thumbnail as an earlier
row: Open Clip Art files sorted into two categories). Injected, seeded and documented, because the
natural share is small: ``mismatched`` (``--mismatch-frac`` of the raw rows pass their caption on to the
next chosen row; a row that receives the caption it had, common with collection names, is not
flagged) and ``translated`` (``--translate-frac`` of the Tux Paint rows get one of the stamp's own
human translations, e.g. Spanish or Amharic, instead of the English line). Clip art is never a photo:
the corpus's "non-photos" are icons, buttons and shapes among depictions.

Validation: ``--val-frac`` of the clean rows chosen by a hash of ``(seed, source)``; raw rows whose
image or caption equals a validation row's are removed from the pool (no leak).
Determinism: sorted file lists, seeded ``random.Random`` per purpose, fixed zip timestamps, so the same
arguments and package versions give a byte-identical ``corpus.zip``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

PACKAGES = ["openclipart-svg", "openclipart-png", "tuxpaint-stamps-default"]
CLIPART_SVG = Path("/usr/share/openclipart/svg")
CLIPART_PNG = Path("/usr/share/openclipart/png")
STAMPS = Path("/usr/share/tuxpaint/stamps")
DPKG_STATUS = "/var/lib/dpkg/status"
NS = {"dc": "http://purl.org/dc/elements/1.1/", "cc": "http://web.resource.org/cc/"}
IMAGE, EOC = "<__dj__image>", "<|__dj__eoc|>"
META_TEXT = re.compile(r"inkscape|sodipodi|illustrator|created with|made with|generated|@|https?:|www\.|"
                       r"public domain|licen[cs]e|copyright|openclip|clipart by|\bsvg\b|hash\(0x", re.I)
GENERIC_MIN = 3  # a caption shared by this many different images names a collection, not a picture
FILENAME = re.compile(r"^[\w.-]*(_|\d{2,}|\.\w{2,4}$)[\w.-]*$")
LONG_TEXT = 160
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def dpkg_versions(names) -> dict:
    out, fields = {}, {}
    try:
        text = Path(DPKG_STATUS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line and line[:1] not in " \t")
        name = fields.get("Package", "").strip()
        if name in names and "installed" in fields.get("Status", "").split():
            out[name] = fields.get("Version", "").strip()
    return dict(sorted(out.items()))


def _clean_ws(s: str) -> str:
    return re.sub(r"\s+", " ", s or "").strip()


def clipart_items(svgs):
    for svg in svgs:
        rel = svg.relative_to(CLIPART_SVG)
        png = CLIPART_PNG / rel.with_suffix(".png")
        if not png.is_file():
            continue
        try:
            work = ET.parse(svg).getroot().find(".//cc:Work", NS)
        except ET.ParseError:
            work = None
        title = _clean_ws(work.findtext("dc:title", "", NS)) if work is not None else ""
        desc = _clean_ws(work.findtext("dc:description", "", NS)) if work is not None else ""
        caption = title
        if desc and desc.lower().rstrip(".") != title.lower().rstrip("."):
            caption = f"{title.rstrip('.')}. {desc}" if title else desc
        flags = []
        if not title:
            flags.append("empty_text" if not desc else "filename_title")
        elif FILENAME.match(title) and " " not in title:
            flags.append("filename_title")
        if META_TEXT.search(caption):
            flags.append("meta_text")
        yield {"source": f"openclipart/{rel.as_posix()}", "path": png, "caption": caption, "flags": flags,
               "translations": []}


def stamp_items(txts):
    for txt in txts:
        png = txt.with_suffix(".png")
        if not png.is_file():
            continue
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        english = _clean_ws(lines[0]) if lines else ""
        trans = [_clean_ws(line.split("=", 1)[1]) for line in lines[1:] if ".utf8=" in line]
        trans = [t for t in trans if t and t != english]
        yield {"source": f"tuxpaint-stamps/{txt.relative_to(STAMPS).with_suffix('.png').as_posix()}",
               "path": png, "caption": english, "flags": [] if english else ["empty_text"],
               "translations": trans}


def thumbnail(path: Path, side: int):
    """(png bytes, original (w, h), pixel digest) of the image on white, longest side <= ``side``."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # Debian's own renderings, some very large (up to 170 Mpx)
    with Image.open(path) as im:
        im.load()
        size = im.size
        rgba = im.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    rgb = canvas.convert("RGB")
    scale = min(1.0, side / max(size))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), Image.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", optimize=True)
    digest = hashlib.sha1(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()
    return buf.getvalue(), list(size), digest


def _hash_frac(seed: int, key: str) -> float:
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16 ** 12


def collect(args) -> list[dict]:
    svgs, txts = sorted(CLIPART_SVG.rglob("*.svg")), sorted(STAMPS.rglob("*.txt"))
    if args.limit:  # a sample of the source files, in the full build's order
        files = [(0, p) for p in svgs] + [(1, p) for p in txts]
        keep = set(random.Random(f"{args.seed}:limit").sample(range(len(files)), min(args.limit, len(files))))
        svgs = [p for i, (k, p) in enumerate(files) if i in keep and k == 0]
        txts = [p for i, (k, p) in enumerate(files) if i in keep and k == 1]
    items = list(clipart_items(svgs)) + list(stamp_items(txts))
    seen: set[str] = set()
    images_per_caption: dict[str, set] = {}
    for it in items:
        png, size, digest = thumbnail(it["path"], args.thumb)
        it.update(png=png, orig_size=size, digest=digest)
        if min(size) < 24 or max(size) < 40:
            it["flags"].append("tiny")
        if max(size) / max(1, min(size)) > 3:
            it["flags"].append("extreme_aspect")
        if len(it["caption"]) > LONG_TEXT:
            it["flags"].append("long_text")
        if digest in seen:
            it["flags"].append("duplicate_image")
        seen.add(digest)
        images_per_caption.setdefault(it["caption"].lower(), set()).add(digest)
    for it in items:
        if it["caption"] and len(images_per_caption[it["caption"].lower()]) >= GENERIC_MIN:
            it["flags"].append("generic_text")
    return items


def split(items: list[dict], args) -> tuple[list[dict], list[dict]]:
    val = [it for it in items if not it["flags"] and _hash_frac(args.seed, it["source"]) < args.val_frac]
    val_digests = {it["digest"] for it in val}
    val_caps = {it["caption"].lower() for it in val}
    raw = [it for it in items if it not in val and it["digest"] not in val_digests
           and it["caption"].lower() not in val_caps]
    rng = random.Random(f"{args.seed}:translate")
    for it in raw:
        if it["translations"] and rng.random() < args.translate_frac:
            it["caption"] = rng.choice(it["translations"])
            it["flags"].append("translated")
    rng = random.Random(f"{args.seed}:mismatch")
    chosen = sorted(rng.sample(range(len(raw)), int(round(args.mismatch_frac * len(raw)))))
    donors = chosen[1:] + chosen[:1]  # each chosen row gets the next chosen row's caption
    captions = [raw[d]["caption"] for d in donors]
    for i, cap in zip(chosen, captions):
        if cap != raw[i]["caption"]:
            raw[i]["caption"] = cap
            raw[i]["flags"].append("mismatched")
    random.Random(f"{args.seed}:order").shuffle(raw)
    return raw, val


def _row(it: dict, name: str) -> dict:
    text = f"{IMAGE} {it['caption']} {EOC}" if it["caption"] else f"{IMAGE} {EOC}"
    return {"id": name, "text": text, "images": [f"images/{name}.png"],
            "meta": {"source": it["source"], "flags": ",".join(sorted(it["flags"])), "clean": not it["flags"],
                     "orig_size": it["orig_size"]}}


def _zinfo(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def write_archive(path: Path, raw: list[dict], val: list[dict]) -> dict[str, list[dict]]:
    rows = {"raw.jsonl": [], "val.jsonl": []}
    with zipfile.ZipFile(path, "w") as zf:
        n = 0
        for fname, part in (("raw.jsonl", raw), ("val.jsonl", val)):
            for it in part:
                name = f"{n:05d}"
                n += 1
                zf.writestr(_zinfo(f"images/{name}.png", zipfile.ZIP_STORED), it["png"])
                rows[fname].append(_row(it, name))
        for fname, part in rows.items():
            data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in part)
            zf.writestr(_zinfo(fname, zipfile.ZIP_DEFLATED), data.encode("utf-8"), compresslevel=9)
    return rows


def summarize(rows: list[dict]) -> dict:
    flags: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for r in rows:
        for f in filter(None, r["meta"]["flags"].split(",")):
            flags[f] = flags.get(f, 0) + 1
        src = r["meta"]["source"].split("/")[0]
        by_source[src] = by_source.get(src, 0) + 1
    return {"pairs": len(rows), "clean": sum(r["meta"]["clean"] for r in rows),
            "flags": dict(sorted(flags.items())), "by_source": dict(sorted(by_source.items()))}


def attribution(stats: dict) -> str:
    pk = "\n".join(f"| {k} | {v} |" for k, v in stats["packages"].items())
    flags = "\n".join(f"| {k} | {v:,} |" for k, v in stats["raw"]["flags"].items())
    return f"""# Image-caption demo corpus: attribution and provenance

Generated by `tools/build_image_caption_corpus.py` (do not edit by hand). Every image and every caption
comes from a Debian package; the project wrote no caption. Injected dirt (`mismatched`, `translated`)
only moves real captions between rows (see the builder's docstring).

## Rebuild

```sh
sudo tools/install_image_corpus_packages.sh
{stats['rebuild']}
```

| package | version |
| --- | --- |
{pk}

## Sources and licences

| package | used for | licence |
| --- | --- | --- |
| openclipart-svg | captions: `dc:title` and `dc:description` of each clip's RDF metadata | public domain (Creative Commons Public Domain Dedication, `/usr/share/doc/openclipart-svg/copyright`; each clip's metadata names its author) |
| openclipart-png | images: the PNG rendering of each clip, as thumbnails | public domain, as above |
| tuxpaint-stamps-default | images (PNG stamps) and captions (first line of each stamp's `.txt`; other lines are the translations used by `translated`) | GPL-2 (`/usr/share/doc/tuxpaint-stamps-default/copyright`, Copyright 2002-2022 Bill Kendrick and contributors) |

## Numbers

`raw.jsonl`: {stats['raw']['pairs']:,} pairs, {stats['raw']['clean']:,} without a flag.
`val.jsonl`: {stats['val']['pairs']:,} clean pairs (held out: none of their images or captions is in raw).
`corpus.zip`: {stats['archive']['bytes']:,} bytes, SHA-256 `{stats['archive']['sha256']}`.

| raw flag | rows |
| --- | ---: |
{flags}

Flags are heuristics over real metadata (`meta.flags`); they are for measuring filters, a pipeline
under test must not read them.
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/image_caption")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--thumb", type=int, default=32, help="longest thumbnail side (px)")
    ap.add_argument("--val-frac", type=float, default=0.2, help="share of clean rows held out")
    ap.add_argument("--mismatch-frac", type=float, default=0.1)
    ap.add_argument("--translate-frac", type=float, default=0.3)
    ap.add_argument("--limit", type=int, default=0, help="use only this many source items (tests)")
    args = ap.parse_args(argv)
    missing = [p for p in (CLIPART_SVG, CLIPART_PNG, STAMPS) if not p.is_dir()]
    if missing:
        print(f"missing {missing[0]}: run tools/install_image_corpus_packages.sh", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw, val = split(collect(args), args)
    rows = write_archive(out / "corpus.zip", raw, val)
    blob = (out / "corpus.zip").read_bytes()
    cmd = (f"tools/build_image_caption_corpus.py --out {args.out} --seed {args.seed} --thumb {args.thumb} "
           f"--val-frac {args.val_frac} --mismatch-frac {args.mismatch_frac} --translate-frac {args.translate_frac}"
           + (f" --limit {args.limit}" if args.limit else ""))
    stats = {"args": {k: v for k, v in vars(args).items() if k != "out"}, "rebuild": f".venv/bin/python {cmd}",
             "packages": dpkg_versions(set(PACKAGES)),
             "archive": {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()},
             "raw": summarize(rows["raw.jsonl"]), "val": summarize(rows["val.jsonl"])}
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    (out / "ATTRIBUTION.md").write_text(attribution(stats), encoding="utf-8")
    print(f"{out}/corpus.zip: {stats['raw']['pairs']} raw + {stats['val']['pairs']} val pairs, "
          f"{len(blob) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
