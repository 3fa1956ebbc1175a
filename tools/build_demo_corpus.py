#!/usr/bin/env python3
"""Build the demo corpus: real English prose mixed with real dirt.

Everything comes from Debian packages installed on this machine (see
``--check-packages`` and ``tools/install_corpus_packages.sh``); nothing is
downloaded and nothing is written by hand.  Standard library only.

Outputs (in ``--out``, default ``data/demo``):

* ``raw.jsonl.gz``  the pool to clean: clean + dirty rows, shuffled.
* ``val.jsonl.gz``  clean held-out validation rows.  Held out *by page/file*:
  a held-out HTML page or fortune file contributes nothing at all to the raw
  pool, so near-duplicates cannot leak; exact duplicates of validation texts
  are removed from the raw pool as well.
* ``stats.json``    docs/chars per kind and per source package, the arguments
  and the Debian package versions the build read.
* ``ATTRIBUTION.md`` where each part comes from, licences, rebuild command.
* with ``--reference-out FILE``: a clean *reference* set for the data-driven refinements (reference
  perplexity, the stats quality classifier, reference bounds; CCNet's Wikipedia role): the clean documents
  of the same packages that the seeded clean draw left out of the raw pool (the pool holds about twice the
  clean characters the raw pool takes), minus any text in raw or val; a seeded shuffle capped at
  ``--reference-max-chars``.  Disjoint from raw and val by text (the held-out validation pages contribute
  nothing); it shares pages with raw, never with val.  Writing it does not change raw/val/stats.

Each row is ``{"text": str, "meta": {"source": "<package>/<file>",
"kind": <kind>, "clean": bool}}``.  Kinds:

* ``clean``        Python-docs ``<p>`` paragraphs grouped to 300-1500 chars,
                   Debian Administrator's Handbook en-US paragraphs (grouped
                   the same way), English fortune cookies (one per row).
* ``boilerplate``  Sphinx / Publican navigation, sidebar and footer text.
* ``code``         ``<pre>`` blocks and chunks of Python stdlib sources.
* ``markup``       raw HTML slices of the doc pages, ``_static`` JS and CSS.
* ``blob``         base64 / hex dumps of real PNG images from the docs.
* ``non-english``  de/es/it/pl/ru fortunes, handbook translations.
* ``repetition``   real sentences repeated, phrase spam, character runs.
* ``short``        real 1-6-word headings.
* ``ascii-art``    ASCII-art fortune files.

The ``meta`` labels are for measuring a filter (precision/recall); a pipeline
under test must not read them.

Determinism: file lists are sorted, every random choice comes from a
``random.Random`` seeded with ``(--seed, purpose)``, validation membership is
a hash of ``(--seed, path)``, JSON is written with a fixed key order and gzip
with ``mtime=0`` and no file name, so the same arguments on the same package
versions give byte-identical files (``--jobs`` does not change the output).
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import platform
import random
import re
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser

PACKAGES = [
    "python3-doc",
    "debian-handbook",
    "fortunes",
    "fortunes-min",
    "fortunes-de",
    "fortunes-es",
    "fortunes-it",
    "fortunes-pl",
    "fortunes-ru",
    "libpython3-stdlib",
]

DIRTY_KINDS = [
    "boilerplate",
    "code",
    "markup",
    "blob",
    "non-english",
    "repetition",
    "short",
    "ascii-art",
]
KINDS = ["clean"] + DIRTY_KINDS

PY_DOC_LINK = "/usr/share/doc/python3-doc/html"
HANDBOOK_HTML = "/usr/share/doc/debian-handbook/html"
FORTUNE_DIR = "/usr/share/games/fortunes"
DPKG_INFO = "/var/lib/dpkg/info"
DPKG_STATUS = "/var/lib/dpkg/status"

# Handbook translations used as non-English text (the others are mostly
# untranslated, i.e. still English).
HANDBOOK_LANGS = ["de-DE", "es-ES", "fr-FR", "it-IT", "ja-JP", "pt-BR", "ru-RU", "zh-CN"]
# Fortune files that are ASCII art rather than prose: (package, path under FORTUNE_DIR).
ASCII_ART_FILES = [
    ("fortunes", "ascii-art"),
    ("fortunes-de", "de/asciiart"),
    ("fortunes-it", "it/banner"),
    ("fortunes-pl", "pl/cows"),
]
FORTUNES_MIN_FILES = {"fortunes", "literature", "riddles"}
FOREIGN_FORTUNE_DIRS = [("fortunes-de", "de"), ("fortunes-es", "es"), ("fortunes-it", "it"),
                        ("fortunes-pl", "pl"), ("fortunes-ru", "ru")]
# Python-doc pages that are indexes / tables of contents, not prose.
PY_SKIP_PAGES = re.compile(r"^(genindex.*|py-modindex|search|contents|whatsnew/changelog)\.html$")

CLEAN_MIN, CLEAN_MAX = 300, 1500
BOILER_MAX = 4000
PRE_MIN, PRE_MAX = 40, 3000
# How many times a dirty kind may reuse its pool (exact duplicates are
# realistic dirt, but a kind must not be mostly copies of itself).
MAX_REUSE = {"boilerplate": 2, "code": 1, "markup": 1, "blob": 1, "non-english": 1,
             "repetition": 1, "short": 1, "ascii-art": 3}

EN_STOP = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more
most my no nor not now of off on once only or other our ours out over own same she should so
some such than that the their theirs them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would
you your yours
""".split())


class MissingPackage(RuntimeError):
    pass


# --------------------------------------------------------------------------
# locating the installed packages
# --------------------------------------------------------------------------

def dpkg_versions(names):
    """Installed versions of ``names`` from the dpkg status file ({} if unreadable)."""
    out = {}
    try:
        with open(DPKG_STATUS, encoding="utf-8", errors="replace") as fh:
            blocks = fh.read().split("\n\n")
    except OSError:
        return out
    for block in blocks:
        fields = {}
        for line in block.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, val = line.partition(":")
            fields[key.strip()] = val.strip()
        name = fields.get("Package")
        if name in names and "installed" in fields.get("Status", "").split():
            out[name] = fields.get("Version", "?")
    return out


def dpkg_file_list(pkg):
    """Files owned by ``pkg`` according to dpkg (None if dpkg has no list)."""
    for cand in sorted(os.listdir(DPKG_INFO)) if os.path.isdir(DPKG_INFO) else []:
        if cand == pkg + ".list" or (cand.startswith(pkg + ":") and cand.endswith(".list")):
            with open(os.path.join(DPKG_INFO, cand), encoding="utf-8", errors="replace") as fh:
                return [line.rstrip("\n") for line in fh if line.strip()]
    return None


def locate_sources():
    """Return the source paths; raise MissingPackage naming every absent package."""
    missing = []
    src = {}
    py_html = os.path.realpath(PY_DOC_LINK)
    if os.path.isfile(os.path.join(py_html, "library", "index.html")):
        src["py_html"] = py_html
        m = re.search(r"python(3\.\d+)", py_html)
        src["py_version"] = m.group(1) if m else None
    else:
        missing.append("python3-doc")
        src["py_version"] = None
    if os.path.isfile(os.path.join(HANDBOOK_HTML, "en-US", "index.html")):
        src["handbook"] = HANDBOOK_HTML
    else:
        missing.append("debian-handbook")
    if not os.path.isfile(os.path.join(FORTUNE_DIR, "cookie")):
        missing.append("fortunes")
    if not os.path.isfile(os.path.join(FORTUNE_DIR, "fortunes")):
        missing.append("fortunes-min")
    for pkg, sub in FOREIGN_FORTUNE_DIRS:
        if not os.path.isdir(os.path.join(FORTUNE_DIR, sub)):
            missing.append(pkg)
    # stdlib: the libpython3.X-stdlib package matching the docs' version.
    versions = [src["py_version"]] if src["py_version"] else []
    if not versions:
        versions = sorted((d[len("python"):] for d in os.listdir("/usr/lib")
                           if re.fullmatch(r"python3\.\d+", d)),
                          key=lambda v: int(v.split(".")[1]), reverse=True)
    stdlib = None
    for ver in versions:
        files = dpkg_file_list(f"libpython{ver}-stdlib")
        if files:
            stdlib = (f"libpython{ver}-stdlib", f"/usr/lib/python{ver}", files)
            break
    if stdlib is None:
        missing.append("libpython3-stdlib")
    else:
        src["stdlib"] = stdlib
    if missing:
        raise MissingPackage(
            "missing Debian package(s): " + " ".join(missing)
            + "\ninstall with: sudo tools/install_corpus_packages.sh"
            + "   (or: apt-get install -y --no-install-recommends " + " ".join(PACKAGES) + ")")
    return src


# --------------------------------------------------------------------------
# HTML parsing (html.parser; one pass per page)
# --------------------------------------------------------------------------

VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
SKIP = frozenset("head script style svg noscript template title".split())
BLOCK = frozenset("p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 tr table pre section nav "
                  "form blockquote br hr".split())
HEADINGS = frozenset("h1 h2 h3 h4".split())


def norm_ws(s):
    return " ".join(s.split())


class PageParser(HTMLParser):
    """Splits a Sphinx (Python docs) or Publican (handbook) page into
    paragraphs, ``<pre>`` blocks, headings and boilerplate text."""

    def __init__(self, dialect):
        super().__init__(convert_charrefs=True)
        self.dialect = dialect
        self.stack = []          # (tag, flags)
        self.n = {"skip": 0, "content": 0, "boiler": 0, "para": 0, "pre": 0,
                  "head": 0, "hlink": 0, "body": 0, "table": 0}
        self.paras, self.pres, self.headings = [], [], []
        self.boiler = []
        self._para, self._pre, self._head = [], [], []

    # region bookkeeping -------------------------------------------------
    def _in_boiler(self):
        if self.n["body"] == 0 or self.n["skip"]:
            return False
        if self.dialect == "sphinx":
            return self.n["content"] == 0
        return self.n["boiler"] > 0

    def _in_content(self):
        if self.n["body"] == 0 or self.n["skip"]:
            return False
        if self.dialect == "sphinx":
            return self.n["content"] > 0
        return self.n["boiler"] == 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag in BLOCK and self._in_boiler():
            self.boiler.append("\n")
        if tag in VOID:
            return
        flags = []
        if tag == "body":
            flags.append("body")
        if tag == "table":
            flags.append("table")
        if tag in SKIP:
            flags.append("skip")
        if self.dialect == "sphinx":
            if tag == "div" and "body" in cls:
                flags.append("content")
            in_content = self.n["content"] > 0 or "content" in flags
        else:
            if (tag == "div" and a.get("id") == "banner") or (tag == "p" and a.get("id") == "title") \
                    or (tag == "ul" and "docnav" in cls):
                flags.append("boiler")
            in_content = self.n["boiler"] == 0 and "boiler" not in flags
        if in_content and self.n["body"] and not self.n["skip"]:
            if tag == "pre":
                flags.append("pre")
            elif tag in HEADINGS:
                flags.append("head")
            elif tag == "a" and "headerlink" in cls:
                flags.append("hlink")
            elif self.n["table"] or "table" in flags:
                pass            # table cells are not prose
            elif self.dialect == "sphinx" and tag == "p" and not (
                    {"admonition-title", "rubric", "topic-title", "sidebar-title"} & set(cls)):
                flags.append("para")
            elif self.dialect == "publican" and tag == "div" and "para" in cls:
                flags.append("para")
        for f in flags:
            self.n[f] += 1
        self.stack.append((tag, flags))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in BLOCK and self._in_boiler():
            self.boiler.append("\n")
        if tag in VOID:
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                break
        else:
            return
        while len(self.stack) > i:
            _, flags = self.stack.pop()
            for f in flags:
                self.n[f] -= 1
                if f == "para" and self.n["para"] == 0:
                    t = norm_ws("".join(self._para))
                    if t:
                        self.paras.append(t)
                    self._para = []
                elif f == "pre" and self.n["pre"] == 0:
                    t = "\n".join(line.rstrip() for line in "".join(self._pre).strip("\n").split("\n"))
                    if t.strip():
                        self.pres.append(t)
                    self._pre = []
                elif f == "head" and self.n["head"] == 0:
                    t = norm_ws("".join(self._head)).rstrip("¶").strip()
                    if t:
                        self.headings.append(t)
                    self._head = []

    def handle_data(self, data):
        if self.n["skip"] or self.n["body"] == 0:
            return
        if self._in_boiler():
            self.boiler.append(data)
        elif self._in_content():
            if self.n["pre"]:
                self._pre.append(data)
            elif self.n["hlink"]:
                pass
            elif self.n["head"]:
                self._head.append(data)
            elif self.n["para"]:
                self._para.append(data)

    def boiler_text(self):
        lines = (norm_ws(x) for x in "".join(self.boiler).split("\n"))
        return "\n".join(x for x in lines if x)


def parse_page(job):
    """Worker: (dialect, path, want_all) -> dict of extracted parts."""
    dialect, path, want_all = job
    with open(path, encoding="utf-8", errors="replace") as fh:
        html = fh.read()
    p = PageParser(dialect)
    p.feed(html)
    p.close()
    if not want_all:
        return {"paras": p.paras}
    return {"paras": p.paras, "pres": p.pres, "headings": p.headings,
            "boiler": p.boiler_text()}


# --------------------------------------------------------------------------
# text helpers
# --------------------------------------------------------------------------

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_WORD = re.compile(r"[^\W\d_]+")


def split_sentences(text):
    return [s.strip() for s in _SENT_SPLIT.split(text) if s.strip()]


def lang_stats(text):
    """(share of words that are English stopwords, number of words,
    share of letters that are non-ASCII)."""
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0, 0, 0.0
    letters = "".join(words)
    non_ascii = len(letters) - len(letters.encode("ascii", "ignore"))
    return sum(w in EN_STOP for w in words) / len(words), len(words), non_ascii / len(letters)


def english_stop_frac(text):
    frac, n, _ = lang_stats(text)
    return frac, n


def looks_english(text):
    """Heuristic used only to keep labels honest (drop English text from the
    non-English pool and foreign text from the clean pool)."""
    frac, n, non_ascii = lang_stats(text)
    if non_ascii > 0.3:
        return False
    if n >= 5:
        return frac >= 0.18
    return frac >= 0.25


def clearly_foreign(text):
    frac, n, non_ascii = lang_stats(text)
    return non_ascii > 0.3 or (n >= 8 and frac < 0.05)


def is_prose(para):
    """Drop list items that are bare identifiers ("PyMem_Malloc()", "Functions:")."""
    n = len(para.split())
    return n >= 5 or (n >= 3 and para[-1:] in ".!?")


def split_long(para, hi):
    """Split a paragraph longer than ``hi`` at sentence boundaries."""
    if len(para) <= hi:
        return [para]
    out, cur = [], ""
    for s in split_sentences(para):
        if len(s) > hi:
            if cur:
                out.append(cur)
            cur = ""
            continue
        if cur and len(cur) + 1 + len(s) > hi:
            out.append(cur)
            cur = s
        else:
            cur = f"{cur} {s}" if cur else s
    if cur:
        out.append(cur)
    return out


def group_paragraphs(paras, lo=CLEAN_MIN, hi=CLEAN_MAX):
    """Group consecutive paragraphs into documents of lo..hi characters."""
    groups, cur = [], []

    def cur_len():
        return sum(len(x) for x in cur) + 2 * max(len(cur) - 1, 0)

    for para in paras:
        for piece in split_long(para, hi):
            if cur and cur_len() + 2 + len(piece) > hi:
                if cur_len() >= lo:
                    groups.append("\n\n".join(cur))
                cur = []
            cur.append(piece)
            if cur_len() >= lo:
                groups.append("\n\n".join(cur))
                cur = []
    if cur:
        tail = "\n\n".join(cur)
        if groups and len(groups[-1]) + 2 + len(tail) <= hi:
            groups[-1] = groups[-1] + "\n\n" + tail
        elif len(tail) >= lo:
            groups.append(tail)
    return groups


_OVERSTRIKE = re.compile(r".\x08")


def read_fortunes(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        raw = fh.read()
    raw = _OVERSTRIKE.sub("", raw).replace("\r\n", "\n")
    out = []
    for chunk in re.split(r"(?m)^%[ \t]*$", raw):
        lines = [line.rstrip() for line in chunk.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines)
        if text.strip():
            out.append(text)
    return out


def hash_unit(seed, key):
    """A number in [0, 1) that depends only on (seed, key)."""
    h = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


def held_out(seed, key, frac):
    return hash_unit(seed, key) < frac


def rng_for(seed, purpose):
    return random.Random(f"juicer-sandbox-demo:{seed}:{purpose}")


def trim_lines(text, limit):
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip()


# --------------------------------------------------------------------------
# pools
# --------------------------------------------------------------------------

def list_files(root, suffix, exclude=None):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in filenames:
            if f.endswith(suffix):
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if exclude is None or not exclude(rel):
                    out.append(rel)
    return sorted(out)


class Pools:
    """Everything extracted from the packages, split into train and val."""

    def __init__(self, args, src, log):
        self.args, self.src, self.log = args, src, log
        self.clean, self.val = [], []                 # (text, source)
        self.dirty = {k: [] for k in DIRTY_KINDS}     # static pools: (text, source)
        self.sub = {}                                 # generated sub-pools
        self.sentences = []                           # (sentence, source) for repetition
        self.en_paras = set()

    def build(self):
        a, src = self.args, self.src
        py_pkg = "python%s-doc" % src["py_version"] if src["py_version"] else "python3-doc"
        self.py_pkg = py_pkg
        py_pages = [p for p in list_files(src["py_html"], ".html",
                                          lambda r: r.startswith("_") or PY_SKIP_PAGES.match(r))]
        hb_root = src["handbook"]
        hb_pages = list_files(os.path.join(hb_root, "en-US"), ".html")
        if a.limit_pages:
            py_pages, hb_pages = py_pages[: a.limit_pages], hb_pages[: a.limit_pages]
        self.py_pages, self.hb_pages = py_pages, hb_pages
        py_val = {p for p in py_pages if held_out(a.seed, f"{py_pkg}/{p}", a.val_frac)}
        hb_val = {p for p in hb_pages if held_out(a.seed, f"debian-handbook/en-US/{p}", a.val_frac)}
        self.held = sorted([f"{py_pkg}/{p}" for p in py_val]
                           + [f"debian-handbook/en-US/{p}" for p in hb_val])
        train_hb = [p for p in hb_pages if p not in hb_val]

        jobs = [("sphinx", os.path.join(src["py_html"], p), True) for p in py_pages]
        jobs += [("publican", os.path.join(hb_root, "en-US", p), True) for p in hb_pages]
        tr_jobs = [(lang, p) for lang in HANDBOOK_LANGS for p in train_hb
                   if os.path.isfile(os.path.join(hb_root, lang, p))]
        jobs += [("publican", os.path.join(hb_root, lang, p), False) for lang, p in tr_jobs]
        t0 = time.time()
        if a.jobs > 1:
            with ProcessPoolExecutor(max_workers=a.jobs) as ex:
                results = list(ex.map(parse_page, jobs, chunksize=8))
        else:
            results = [parse_page(j) for j in jobs]
        self.log(f"parsed {len(jobs)} HTML pages in {time.time() - t0:.1f}s")
        py_res = results[: len(py_pages)]
        hb_res = results[len(py_pages): len(py_pages) + len(hb_pages)]
        tr_res = results[len(py_pages) + len(hb_pages):]

        pres, heads, boiler = [], [], []
        for pages, res, prefix, held in ((py_pages, py_res, py_pkg, py_val),
                                         (hb_pages, hb_res, "debian-handbook/en-US", hb_val)):
            for page, r in zip(pages, res):
                source = f"{prefix}/{page}"
                self.en_paras.update(r["paras"])
                docs = group_paragraphs([p for p in r["paras"] if is_prose(p)])
                if page in held:
                    self.val.extend((d, source) for d in docs)
                    continue
                self.clean.extend((d, source) for d in docs)
                for para in r["paras"]:
                    for s in split_sentences(para):
                        if 40 <= len(s) <= 300 and s[-1:] in ".!?" and looks_english(s):
                            self.sentences.append((s, source))
                for pre in r["pres"]:
                    if len(pre) >= PRE_MIN:
                        pres.append((trim_lines(pre, PRE_MAX), source))
                for h in r["headings"]:
                    if 1 <= len(h.split()) <= 6:
                        heads.append((h, source))
                if r["boiler"]:
                    boiler.append((trim_lines(r["boiler"], BOILER_MAX), source))
        self.dirty["boilerplate"] = boiler
        self.dirty["short"] = dedupe(heads)

        # handbook translations -> non-English
        foreign_hb = []
        for (lang, page), r in zip(tr_jobs, tr_res):
            paras = [p for p in r["paras"]
                     if p not in self.en_paras and len(p) >= 40 and not looks_english(p)]
            for d in group_paragraphs(paras, lo=100, hi=CLEAN_MAX):
                foreign_hb.append((d, f"debian-handbook/{lang}/{page}"))

        # fortunes
        fdir = FORTUNE_DIR
        en_files = sorted(
            f for f in os.listdir(fdir)
            if os.path.isfile(os.path.join(fdir, f)) and not os.path.islink(os.path.join(fdir, f))
            and "." not in f and f != "ascii-art")
        fortunes = {}
        for f in en_files:
            source = f"{'fortunes-min' if f in FORTUNES_MIN_FILES else 'fortunes'}/{f}"
            fortunes[source] = [t for t in read_fortunes(os.path.join(fdir, f))
                                if not clearly_foreign(t)]
        # Hold out whole files, in seeded-hash order, until about val_frac of
        # all English fortunes are held out (files differ 100x in size).
        target = a.val_frac * sum(len(v) for v in fortunes.values())
        held_ft, n_held = set(), 0
        for source in sorted(fortunes, key=lambda s: hash_unit(a.seed, s)):
            if n_held >= target:
                break
            held_ft.add(source)
            n_held += len(fortunes[source])
        for source, texts in fortunes.items():
            if source in held_ft:
                self.held.append(source)
                self.val.extend((t, source) for t in texts)
            else:
                self.clean.extend((t, source) for t in texts)
                for t in texts:
                    s = norm_ws(t)
                    if 40 <= len(s) <= 300 and "\t" not in t and looks_english(s):
                        self.sentences.append((s, source))
        self.held.sort()
        art_paths = {sub for _, sub in ASCII_ART_FILES}
        foreign_ft = []
        for pkg, sub in FOREIGN_FORTUNE_DIRS:
            base = os.path.join(fdir, sub)
            for rel in list_files(base, "", lambda r: r.split(os.sep)[0] == "off"
                                  or r.endswith((".dat", ".u8"))
                                  or os.path.islink(os.path.join(base, r))):
                if f"{sub}/{rel}" in art_paths:
                    continue
                for t in read_fortunes(os.path.join(base, rel)):
                    if not looks_english(t) and len(_WORD.findall(t)) >= 2:
                        foreign_ft.append((t, f"{pkg}/{sub}/{rel}"))
        self.sub["non-english"] = [(foreign_ft, 0.6), (foreign_hb, 0.4)]
        art = []
        for pkg, sub in ASCII_ART_FILES:
            path = os.path.join(fdir, sub)
            if os.path.isfile(path):
                art.extend((t, f"{pkg}/{sub}") for t in read_fortunes(path))
        self.dirty["ascii-art"] = art

        # code: <pre> blocks + stdlib chunks (generated)
        stdlib_pkg, stdlib_root, stdlib_files = src["stdlib"]
        self.stdlib_pkg, self.stdlib_root = stdlib_pkg, stdlib_root
        self.stdlib_files = sorted(
            os.path.relpath(f, stdlib_root) for f in stdlib_files
            if f.endswith(".py") and f.startswith(stdlib_root + "/") and os.path.isfile(f)
            and not re.search(r"/(tests?|idle_test)/|/pydoc_data/|/this\.py$", f))
        self.sub["code"] = [(dedupe(pres), 0.5), ("stdlib", 0.5)]
        # markup: HTML slices (generated) + static JS/CSS chunks (generated)
        self.html_pages = ([(os.path.join(src["py_html"], p), f"{py_pkg}/{p}")
                            for p in py_pages if p not in py_val]
                           + [(os.path.join(hb_root, "en-US", p), f"debian-handbook/en-US/{p}")
                              for p in train_hb])
        static = [(os.path.join(src["py_html"], "_static", f), f"{py_pkg}/_static/{f}")
                  for f in list_files(os.path.join(src["py_html"], "_static"), "")
                  if f.endswith((".js", ".css")) and os.path.getsize(
                      os.path.join(src["py_html"], "_static", f)) > 500]
        static += [(os.path.join(hb_root, "en-US", "Common_Content", "css", f),
                    f"debian-handbook/en-US/Common_Content/css/{f}")
                   for f in list_files(os.path.join(hb_root, "en-US", "Common_Content", "css"), ".css")]
        self.static_files = static
        self.sub["markup"] = [("html", 0.6), ("static", 0.4)]
        # blob: PNG images shipped with the docs
        pngs = [(os.path.join(src["py_html"], f), f"{py_pkg}/{f}")
                for f in list_files(src["py_html"], ".png")]
        pngs += [(os.path.join(hb_root, "en-US", "images", f), f"debian-handbook/en-US/images/{f}")
                 for f in list_files(os.path.join(hb_root, "en-US", "images"), ".png")]
        self.pngs = [(p, s) for p, s in pngs if os.path.getsize(p) >= 64]
        self.sentences = dedupe(self.sentences)
        self.val = dedupe(self.val)
        val_texts = {t for t, _ in self.val}
        self.clean = [(t, s) for t, s in dedupe(self.clean) if t not in val_texts]
        self.log(f"pools: clean {len(self.clean)} val {len(self.val)} pre {len(pres)} "
                 f"headings {len(self.dirty['short'])} boiler {len(boiler)} "
                 f"foreign fortunes {len(foreign_ft)} foreign handbook {len(foreign_hb)} "
                 f"ascii-art {len(art)} stdlib files {len(self.stdlib_files)} pngs {len(self.pngs)} "
                 f"sentences {len(self.sentences)}")


def dedupe(items):
    seen, out = set(), []
    for t, s in items:
        if t not in seen:
            seen.add(t)
            out.append((t, s))
    return out


# --------------------------------------------------------------------------
# dirty generators
# --------------------------------------------------------------------------

def take_static(pool, budget, rng, reuse):
    """Draw whole items from ``pool`` (shuffled) until ``budget`` chars."""
    out, used = [], 0
    if not pool:
        return out
    for _ in range(reuse):
        order = list(range(len(pool)))
        rng.shuffle(order)
        for i in order:
            if used >= budget:
                return out
            out.append(pool[i])
            used += len(pool[i][0])
    return out


def take_generated(gen, budget):
    out, used = [], 0
    while used < budget:
        item = gen()
        if item is None:
            break
        if item[0].strip():
            out.append(item)
            used += len(item[0])
    return out


class FileCache:
    def __init__(self, binary=False):
        self.binary, self.d = binary, {}

    def get(self, path):
        if path not in self.d:
            with open(path, "rb" if self.binary else "r",
                      **({} if self.binary else {"encoding": "utf-8", "errors": "replace"})) as fh:
                self.d[path] = fh.read()
        return self.d[path]


def gen_stdlib(pools, rng, cache):
    files = pools.stdlib_files

    def one():
        rel = files[rng.randrange(len(files))]
        lines = cache.get(os.path.join(pools.stdlib_root, rel)).split("\n")
        if len(lines) < 5:
            return ("", "")
        n = rng.randint(8, 60)
        start = rng.randrange(max(1, len(lines) - n))
        chunk = "\n".join(lines[start: start + n]).strip("\n")
        return (trim_lines(chunk, 2500), f"{pools.stdlib_pkg}/{rel}")
    return one


def gen_html_slice(pools, rng, cache):
    pages = pools.html_pages

    def one():
        path, source = pages[rng.randrange(len(pages))]
        html = cache.get(path)
        n = rng.randint(300, 2000)
        if len(html) <= n:
            return (html.strip(), source)
        start = html.find("<", rng.randrange(len(html) - n))
        if start < 0:
            return ("", "")
        end = html.rfind(">", start, start + n)
        return (html[start: end + 1].strip() if end > start else "", source)
    return one


def gen_static(pools, rng, cache):
    files = pools.static_files

    def one():
        path, source = files[rng.randrange(len(files))]
        text = cache.get(path)
        n = rng.randint(300, 2000)
        if len(text) <= n:
            return (text.strip(), source)
        start = rng.randrange(len(text) - n)
        nl = text.find("\n", start, start + 200)
        start = nl + 1 if nl >= 0 else start
        chunk = text[start: start + n]
        nl = chunk.rfind("\n")
        if nl > n // 2:
            chunk = chunk[:nl]
        return (chunk.strip(), source)
    return one


def gen_blob(pools, rng, cache):
    pngs = pools.pngs

    def one():
        path, source = pngs[rng.randrange(len(pngs))]
        data = cache.get(path)
        style = rng.choice(["b64-wrapped", "b64-line", "data-uri", "hex", "xxd"])
        if style in ("hex", "xxd"):
            nbytes = rng.randint(80, 700)
        else:
            nbytes = rng.randint(150, 1400)
        start = 0 if rng.random() < 0.3 else rng.randrange(max(1, len(data) - nbytes))
        chunk = data[start: start + nbytes]
        if style == "b64-wrapped":
            b = base64.b64encode(chunk).decode()
            text = "\n".join(b[i: i + 76] for i in range(0, len(b), 76))
        elif style == "b64-line":
            text = base64.b64encode(chunk).decode()
        elif style == "data-uri":
            text = "data:image/png;base64," + base64.b64encode(chunk).decode()
        elif style == "hex":
            text = chunk.hex()
        else:
            rows = []
            for off in range(0, len(chunk), 16):
                row = chunk[off: off + 16]
                hexpart = " ".join(row[i: i + 2].hex() for i in range(0, len(row), 2))
                asc = "".join(chr(c) if 32 <= c < 127 else "." for c in row)
                rows.append(f"{start + off:08x}: {hexpart:<39}  {asc}")
            text = "\n".join(rows)
        return (text, source)
    return one


RUN_CHARS = list("=-*#!.~_+?") + ["ha", "lol", "a", "o", "x", "\u2588"]


def gen_repetition(pools, rng):
    sents = pools.sentences

    def one():
        s, source = sents[rng.randrange(len(sents))]
        style = rng.random()
        if style < 0.45:        # the same sentence over and over
            k = rng.randint(4, 30)
            sep = rng.choice([" ", " ", "\n", "\n\n"])
            text = sep.join([s] * k)
        elif style < 0.75:      # phrase spam
            words = s.split()
            n = rng.randint(2, min(5, len(words)))
            i = rng.randrange(len(words) - n + 1)
            phrase = " ".join(words[i: i + n]).strip(".,;:")
            k = rng.randint(10, 60)
            sep = rng.choice([" ", " ", ", ", "\n", " | "])
            text = sep.join([phrase] * k)
        else:                   # character runs around a real sentence
            c = rng.choice(RUN_CHARS)
            run = c * rng.randint(max(1, 20 // len(c)), max(2, 400 // len(c)))
            where = rng.random()
            if where < 0.35:
                text = run
            elif where < 0.7:
                text = f"{s} {run}"
            else:
                text = f"{run}\n{s}\n{run}"
        return (trim_lines(text, 3000), source)
    return one


# --------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------

def capacity(pools, kind):
    """Characters a dirty kind can supply (None = unlimited / generated)."""
    reuse = MAX_REUSE[kind]
    if kind in pools.sub:
        total = 0
        for sp, _ in pools.sub[kind]:
            if isinstance(sp, str):
                return None
            total += sum(len(t) for t, _ in sp) * reuse
        return total
    if kind in ("blob", "repetition"):
        return None
    return sum(len(t) for t, _ in pools.dirty[kind]) * reuse


def allocate(total_dirty, caps):
    """Equal share per kind, water-filling: a kind that cannot fill its
    share gives the rest to the others."""
    alloc = {k: 0.0 for k in caps}
    open_kinds = list(caps)
    remaining = float(total_dirty)
    while open_kinds and remaining > 1:
        share = remaining / len(open_kinds)
        capped = [k for k in open_kinds if caps[k] is not None and caps[k] - alloc[k] <= share]
        if not capped:
            for k in open_kinds:
                alloc[k] += share
            remaining = 0
            break
        for k in capped:
            give = caps[k] - alloc[k]
            alloc[k] += give
            remaining -= give
            open_kinds.remove(k)
    return alloc


def make_dirty(pools, kind, budget, seed):
    rng = rng_for(seed, kind)
    reuse = MAX_REUSE[kind]
    if kind in ("boilerplate", "short", "ascii-art"):
        return take_static(pools.dirty[kind], budget, rng, reuse)
    if kind == "blob":
        return take_generated(gen_blob(pools, rng, FileCache(binary=True)), budget)
    if kind == "repetition":
        return take_generated(gen_repetition(pools, rng), budget)
    out = []
    for sp, w in pools.sub[kind]:
        sub_budget = budget * w
        if sp == "stdlib":
            out += take_generated(gen_stdlib(pools, rng, FileCache()), sub_budget)
        elif sp == "html":
            out += take_generated(gen_html_slice(pools, rng, FileCache()), sub_budget)
        elif sp == "static":
            out += take_generated(gen_static(pools, rng, FileCache()), sub_budget)
        else:
            out += take_static(sp, sub_budget, rng, reuse)
    return out


def row(text, source, kind):
    return {"text": text, "meta": {"source": source, "kind": kind, "clean": kind == "clean"}}


def summarize(rows):
    kinds = {}
    pkgs = {}
    for r in rows:
        m = r["meta"]
        k = kinds.setdefault(m["kind"], {"docs": 0, "chars": 0})
        k["docs"] += 1
        k["chars"] += len(r["text"])
        p = pkgs.setdefault(m["source"].split("/")[0], {})
        pk = p.setdefault(m["kind"], {"docs": 0, "chars": 0})
        pk["docs"] += 1
        pk["chars"] += len(r["text"])
    lengths = {}
    for r in rows:
        lengths.setdefault(r["meta"]["kind"], []).append(len(r["text"]))
    for k, v in kinds.items():
        ls = sorted(lengths[k])
        v["median_chars"] = ls[len(ls) // 2]
    chars = sum(v["chars"] for v in kinds.values())
    dirty = sum(v["chars"] for k, v in kinds.items() if k != "clean")
    ordered = {k: kinds[k] for k in KINDS if k in kinds}
    return {"docs": len(rows), "chars": chars,
            "dirty_docs": sum(v["docs"] for k, v in kinds.items() if k != "clean"),
            "dirty_chars": dirty,
            "dirty_char_frac": round(dirty / chars, 4) if chars else 0.0,
            "kinds": ordered,
            "by_package": {p: {k: pkgs[p][k] for k in KINDS if k in pkgs[p]} for p in sorted(pkgs)}}


def write_jsonl_gz(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for r in rows:
                gz.write(json.dumps(r, ensure_ascii=False).encode("utf-8"))
                gz.write(b"\n")
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_reference(args, pools, raw_rows, val_texts, log):
    """The clean pool documents the raw draw left out, minus raw/val texts; seeded shuffle, capped."""
    raw_texts = {r["text"] for r in raw_rows}
    left = [(t, s) for t, s in pools.clean if t not in raw_texts and t not in val_texts]
    rng_for(args.seed, "reference").shuffle(left)
    out, used = [], 0
    for t, s in left:
        if used >= args.reference_max_chars:
            break
        out.append(row(t, s, "clean"))
        used += len(t)
    path = args.reference_out
    if path.endswith(".gz"):
        write_jsonl_gz(path, out)
    else:
        write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))
    log(f"reference: {len(out)} docs / {used} chars of {len(left)} left-over clean docs -> {path}")
    return out


def rebuild_command(args):
    parts = ["python3 tools/build_demo_corpus.py", f"--out {args.out}", f"--seed {args.seed}",
             f"--dirty-frac {args.dirty_frac}", f"--val-frac {args.val_frac}",
             f"--max-raw-chars {args.max_raw_chars}"]
    if args.limit_pages:
        parts.append(f"--limit-pages {args.limit_pages}")
    return " ".join(parts)


def build(args, log=lambda m: print(m, file=sys.stderr)):
    src = locate_sources()
    pools = Pools(args, src, log)
    pools.build()

    # 1. clean budget, 2. dirty budget per kind
    clean_pool_chars = sum(len(t) for t, _ in pools.clean)
    clean_target = min(clean_pool_chars, args.max_raw_chars * (1 - args.dirty_frac))
    rng = rng_for(args.seed, "clean")
    order = list(range(len(pools.clean)))
    rng.shuffle(order)
    clean, used = [], 0
    for i in order:
        if used >= clean_target:
            break
        clean.append(pools.clean[i])
        used += len(pools.clean[i][0])
    total_dirty = used * args.dirty_frac / (1 - args.dirty_frac) if args.dirty_frac < 1 else 0
    caps = {k: capacity(pools, k) for k in DIRTY_KINDS}
    alloc = allocate(total_dirty, caps)
    log(f"clean chars {used}, dirty target {int(total_dirty)}: "
        + ", ".join(f"{k}={int(v)}" for k, v in alloc.items()))

    val_texts = {t for t, _ in pools.val}
    clean_texts = {t for t, _ in clean}
    rows = [row(t, s, "clean") for t, s in clean]
    for kind in DIRTY_KINDS:
        for t, s in make_dirty(pools, kind, alloc[kind], args.seed):
            if t in val_texts or t in clean_texts:
                continue
            rows.append(row(t, s, kind))
    rng_for(args.seed, "shuffle-raw").shuffle(rows)
    if args.reference_out:
        write_reference(args, pools, rows, val_texts, log)
    val_rows = [row(t, s, "clean") for t, s in pools.val]
    rng_for(args.seed, "shuffle-val").shuffle(val_rows)

    os.makedirs(args.out, exist_ok=True)
    write_jsonl_gz(os.path.join(args.out, "raw.jsonl.gz"), rows)
    write_jsonl_gz(os.path.join(args.out, "val.jsonl.gz"), val_rows)
    versions = dpkg_versions(set(PACKAGES) | {pools.py_pkg, pools.stdlib_pkg})
    stats = {
        "args": {"seed": args.seed, "dirty_frac": args.dirty_frac, "val_frac": args.val_frac,
                 "max_raw_chars": args.max_raw_chars, "limit_pages": args.limit_pages},
        "rebuild": rebuild_command(args),
        "packages": {k: versions[k] for k in sorted(versions)},
        # html.parser and zlib can change extraction / compressed bytes
        "toolchain": {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION},
        "held_out": pools.held,
        "raw": summarize(rows),
        "val": summarize(val_rows),
    }
    write_text(os.path.join(args.out, "stats.json"),
               json.dumps(stats, indent=1, ensure_ascii=False) + "\n")
    write_text(os.path.join(args.out, "ATTRIBUTION.md"), attribution(stats, pools))
    return stats


# --------------------------------------------------------------------------
# ATTRIBUTION.md
# --------------------------------------------------------------------------

LICENCES = [
    ("python3-doc → {py_pkg}", "Python documentation HTML: clean paragraphs; boilerplate, "
     "`<pre>` code, raw HTML slices, `_static` JS/CSS, PNG blobs, headings",
     "Python Software Foundation License Version 2 (page footers: \"This page is licensed "
     "under the Python Software Foundation License Version 2\"; examples additionally Zero "
     "Clause BSD); `/usr/share/doc/{py_pkg}/copyright` reproduces the Python licence stack "
     "(PSF / BeOpen / CNRI / CWI). jQuery and underscore.js in `_static`: MIT (their headers)."),
    ("debian-handbook", "The Debian Administrator's Handbook HTML: en-US clean paragraphs; "
     "Publican navigation, `<pre>` code, HTML slices, CSS, PNG blobs, headings; "
     "de/es/fr/it/ja/pt-BR/ru/zh-CN translations as non-English text",
     "GPL-2.0+ or CC-BY-SA-3.0 (`Files: *`; Copyright 2003-2015 Raphaël Hertzog, "
     "2006-2015 Roland Mas, 2013-2015 Freexian SARL)."),
    ("fortunes", "English fortune cookies (clean); `ascii-art` file (ascii-art)",
     "BSD licence (Copyright (c) 1991 The Regents of the University of California; "
     "`/usr/share/doc/fortunes/copyright`, \"This program falls under the BSD copyright\")."),
    ("fortunes-min", "English fortune cookies `fortunes`, `literature`, `riddles` (clean)",
     "BSD licence, same copyright file as `fortunes`."),
    ("fortunes-de", "German fortunes (non-english); `de/asciiart` (ascii-art)", "GPL-2+ "
     "(Copyright 1999-2012 Andreas Tille)."),
    ("fortunes-es", "Spanish fortunes except `es/off/` (non-english)", "GPL-2+ for the package; "
     "\"All fortunes' text and quotes are presumed to be in the public domain\"."),
    ("fortunes-it", "Italian fortunes (non-english); `it/banner` (ascii-art)",
     "\"Consider this package freeware (public domain)\" (fortune-it COPYING-POLICY)."),
    ("fortunes-pl", "Polish fortunes (non-english); `pl/cows` (ascii-art)",
     "GPL-2+ (© 2000-2010 LinuxPL and PLD teams)."),
    ("fortunes-ru", "Russian fortunes (non-english)",
     "GPL-2 (`Files: *`; Copyright 2003 Pavel Maryanov)."),
    ("libpython3-stdlib → {stdlib_pkg}", "chunks of Python standard-library `.py` sources (code); "
     "test packages and `pydoc_data` excluded",
     "Python Software Foundation License Version 2 (`/usr/share/doc/{stdlib_pkg}/copyright`)."),
]


def attribution(stats, pools):
    fmt = {"py_pkg": pools.py_pkg, "stdlib_pkg": pools.stdlib_pkg}
    raw, val = stats["raw"], stats["val"]
    lines = [
        "# Demo corpus: attribution and provenance",
        "",
        "Generated by `tools/build_demo_corpus.py` (do not edit by hand). Every text comes "
        "from a Debian package installed on the build machine; nothing was written by the "
        "project except the *repetition* kind, which repeats real sentences (and character "
        "runs) taken from the sources below.",
        "",
        "## Rebuild",
        "",
        "```sh",
        "sudo tools/install_corpus_packages.sh",
        stats["rebuild"],
        "```",
        "",
        "Output is byte-identical for the same arguments, the same package versions and the "
        "same Python/zlib:",
        "",
        "| package | version |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in stats["packages"].items()]
    lines += ["", "built with Python {python} (html.parser) and zlib {zlib}.".format(**stats["toolchain"])]
    lines += ["", "## Sources and licences (as stated in `/usr/share/doc/<package>/copyright`)", "",
              "| package | used for | licence |", "| --- | --- | --- |"]
    lines += [f"| {p.format(**fmt)} | {u} | {lic.format(**fmt)} |" for p, u, lic in LICENCES]
    lines += [
        "",
        "## Numbers",
        "",
        f"`raw.jsonl.gz`: {raw['docs']:,} docs, {raw['chars']:,} chars, "
        f"{raw['dirty_char_frac'] * 100:.1f} % of characters dirty "
        f"({raw['dirty_docs']:,} dirty docs).  ",
        f"`val.jsonl.gz`: {val['docs']:,} clean docs, {val['chars']:,} chars, held out by "
        f"page/file ({len(stats['held_out'])} pages/files, listed in `stats.json`).",
        "",
        "| kind | raw docs | raw chars | median chars |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k, v in raw["kinds"].items():
        lines.append(f"| {k} | {v['docs']:,} | {v['chars']:,} | {v['median_chars']:,} |")
    lines += [
        "",
        "Per package (raw):",
        "",
        "| package | kind | docs | chars |",
        "| --- | --- | ---: | ---: |",
    ]
    for p, kinds in raw["by_package"].items():
        for k, v in kinds.items():
            lines.append(f"| {p} | {k} | {v['docs']:,} | {v['chars']:,} |")
    lines += [
        "",
        "## Notes",
        "",
        "* `meta.kind` / `meta.clean` are ground-truth labels for measuring a filter; a "
        "pipeline under test must not read them.",
        "* Clean = Python-docs `<p>` paragraphs and handbook en-US paragraphs grouped into "
        f"{CLEAN_MIN}-{CLEAN_MAX}-char docs, and English fortunes (one per doc). "
        "Index/TOC pages (genindex, py-modindex, contents, search, changelog) are skipped.",
        "* Dirty kinds get an equal share of the dirty characters; a kind whose pool is too "
        "small (short headings, ASCII art) gives the rest to the others. Boilerplate may "
        "repeat a page's navigation up to twice, ASCII art up to three times; other pools "
        "are used at most once.",
        "* Validation: all clean docs of the held-out pages/files; a held-out page contributes "
        "nothing else (no boilerplate, code, markup, headings, sentences) to the raw pool, and "
        "exact duplicates of validation texts are removed from the raw pool.",
        "* Non-English rows are filtered with an English-stopword heuristic so that "
        "untranslated (English) handbook paragraphs and English quotes in the foreign "
        "fortune files are not labelled non-English.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/demo", help="output directory (default data/demo)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dirty-frac", type=float, default=0.5,
                    help="share of raw-pool characters that are dirty (default 0.5)")
    ap.add_argument("--val-frac", type=float, default=0.05,
                    help="share of HTML pages held out for validation; whole English fortune "
                         "files are held out until about this share of fortunes is (default 0.05)")
    ap.add_argument("--max-raw-chars", type=int, default=10_000_000,
                    help="cap on the raw pool's characters (default 10,000,000)")
    ap.add_argument("--limit-pages", type=int, default=0,
                    help="use only the first N pages (sorted) of each HTML collection; "
                         "for quick tests (default 0 = all)")
    ap.add_argument("--reference-out",
                    help="also write a clean reference set (clean documents of the same packages left out of "
                         "raw and val; see the module docstring) to this .jsonl or .jsonl.gz")
    ap.add_argument("--reference-max-chars", type=int, default=2_000_000,
                    help="cap on the reference set's characters (default 2,000,000)")
    ap.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1),
                    help="parallel HTML parsers (does not change the output)")
    ap.add_argument("--check-packages", action="store_true",
                    help="print the apt packages this builder needs (stdout) and which are "
                         "missing (stderr); exit 1 if any is missing")
    args = ap.parse_args(argv)
    if not 0 <= args.dirty_frac < 1:
        ap.error("--dirty-frac must be in [0, 1)")
    if not 0 <= args.val_frac < 1:
        ap.error("--val-frac must be in [0, 1)")
    if args.max_raw_chars <= 0:
        ap.error("--max-raw-chars must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.check_packages:
        print(" ".join(PACKAGES))
        try:
            locate_sources()
        except MissingPackage as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    t0 = time.time()
    try:
        stats = build(args)
    except MissingPackage as e:
        print(f"build_demo_corpus: {e}", file=sys.stderr)
        return 2
    r, v = stats["raw"], stats["val"]
    print(f"wrote {args.out}: raw {r['docs']} docs / {r['chars']} chars "
          f"({r['dirty_char_frac'] * 100:.1f}% dirty), val {v['docs']} docs / {v['chars']} chars "
          f"in {time.time() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
