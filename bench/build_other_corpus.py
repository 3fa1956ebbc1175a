#!/usr/bin/env python3
"""A 20k-document corpus no shipped recipe was tuned on, for bench/bench_vs_original.py.

Built from Debian packages installed here other than the demo corpus's (tools/build_demo_corpus.py
PACKAGES): prose from /usr/share/doc/<pkg>/ (README, NEWS, copyright, changelogs), with real dirt
from the same places: manual pages' groff source (markup), non-English manual pages, hex dumps
of /usr/bin binaries (blobs), one-line headings (short). Standard library only; deterministic
(sorted file lists, seeded shuffle). Each row: {"text", "meta": {"source", "kind"}}.

    python bench/build_other_corpus.py --out /tmp/other_corpus.jsonl --docs 20000
    python bench/build_other_corpus.py --out /tmp/o.jsonl --val-out /tmp/o_val.jsonl --reference-out /tmp/o_ref.jsonl

With --val-out / --reference-out, prose is held out *by source file* (a hash of the file's path): one file in ten
feeds the clean validation split, another one in ten the clean reference set (for reference perplexity, the
quality classifier and threshold search; never the validation split), and neither contributes to the raw corpus.
Needs no apt: it reads what is installed (documentation, manual pages, binaries); the packages of a Debian system
give a different corpus, so the command prints the kinds it got.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from build_demo_corpus import PACKAGES as DEMO_PACKAGES  # noqa: E402

_DOC_NAMES = re.compile(r"^(README|NEWS|copyright|changelog|TODO|AUTHORS|THANKS|FAQ)", re.I)


def _read(path: str) -> str:
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read(400_000)
    except OSError:
        return ""


def _paragraphs(text: str):
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if para:
            yield para


def prose_and_headings(doc_root="/usr/share/doc"):
    demo = {p.split(":")[0] for p in DEMO_PACKAGES}
    for pkg in sorted(os.listdir(doc_root)):
        if pkg in demo or pkg.startswith(("python3-doc", "python3.11-doc", "debian-handbook", "fortunes")):
            continue
        base = os.path.join(doc_root, pkg)
        for dirpath, _, files in sorted(os.walk(base)):
            for name in sorted(files):
                if not _DOC_NAMES.match(name):
                    continue
                group = []
                for para in _paragraphs(_read(os.path.join(dirpath, name))):
                    if len(para) < 60:
                        yield "short", f"{pkg}/{name}", para
                        continue
                    group.append(para)
                    if sum(map(len, group)) >= 300:
                        yield "prose", f"{pkg}/{name}", "\n\n".join(group)[:1500]
                        group = []


def man_pages(root="/usr/share/man"):
    for dirpath, _, files in sorted(os.walk(root)):
        lang = os.path.relpath(dirpath, root).split(os.sep)[0]
        kind = "markup" if lang.startswith("man") else "non-english"
        for name in sorted(files)[:400]:
            text = _read(os.path.join(dirpath, name))
            for i in range(0, min(len(text), 6000), 1200):
                chunk = text[i:i + 1200].strip()
                if len(chunk) > 100:
                    yield kind, f"man/{lang}/{name}", chunk


def blobs(root="/usr/bin", n=600):
    for name in sorted(os.listdir(root))[:n]:
        try:
            with open(os.path.join(root, name), "rb") as fh:
                data = fh.read(600)
        except OSError:
            continue
        yield "blob", f"bin/{name}", data.hex(" ", 2)


def _held(source: str, seed: int) -> str | None:
    """'val' or 'reference' for one prose source file in ten each (by a hash of its path), else None."""
    h = int(hashlib.sha256(f"{seed}:{source}".encode()).hexdigest(), 16) % 10
    return "val" if h == 0 else "reference" if h == 1 else None


def build(docs: int, seed: int, held: dict | None = None) -> list[dict]:
    """The raw corpus; with ``held`` (a dict), prose of held-out files goes to held['val'] / held['reference']."""
    rng = random.Random(seed)
    pools: dict[str, list] = {}
    for gen in (prose_and_headings(), man_pages(), blobs()):
        for kind, source, text in gen:
            row = {"text": text, "meta": {"source": source, "kind": kind}}
            part = _held(source, seed) if held is not None and kind == "prose" else None
            if part:
                held.setdefault(part, []).append(row)
                continue
            pools.setdefault(kind, []).append(row)
    share = {"prose": 0.6, "short": 0.12, "markup": 0.12, "non-english": 0.1, "blob": 0.06}
    rows = []
    for kind, frac in share.items():
        pool = pools.get(kind, [])
        rng.shuffle(pool)
        rows += pool[: int(docs * frac)]
    rest = [r for kind in share for r in pools.get(kind, [])[int(docs * share[kind]):]]
    rng.shuffle(rest)
    rows += rest[: docs - len(rows)]
    rng.shuffle(rows)
    return rows[:docs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-out", help="clean validation split (prose of held-out files)")
    ap.add_argument("--reference-out", help="clean reference set (prose of other held-out files)")
    ap.add_argument("--held-docs", type=int, default=1000, help="documents at most in each held-out file")
    args = ap.parse_args()
    held: dict | None = {} if (args.val_out or args.reference_out) else None
    rows = build(args.docs, args.seed, held)
    for part, path in (("val", args.val_out), ("reference", args.reference_out)):
        if path:
            part_rows = (held or {}).get(part, [])
            random.Random(f"{args.seed}:{part}").shuffle(part_rows)
            with open(path, "w", encoding="utf-8") as fh:
                for r in part_rows[: args.held_docs]:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            print(f"{min(len(part_rows), args.held_docs)} held-out prose docs ({part}) -> {path}")
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["meta"]["kind"]] = kinds.get(r["meta"]["kind"], 0) + 1
    print(f"{len(rows)} docs -> {args.out}: {kinds}")
    return 0 if len(rows) == args.docs else 1


if __name__ == "__main__":
    raise SystemExit(main())
