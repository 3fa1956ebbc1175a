"""PTB tokenization as the COCO caption evaluation does it, in Python.

The COCO caption evaluation (coco-caption / ``pycocoevalcap``) tokenizes every caption with Stanford CoreNLP 3.4.1's
``PTBTokenizer -preserveLines -lowerCase`` (Java) and then drops the tokens in :data:`PUNCTUATIONS`. This module is
an equivalent written from the tokenizer's observed behaviour, so the metrics need no Java:

* lower case; runs of whitespace separate tokens; every caption is one line;
* ``( ) [ ] { }`` become ``-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-``. These are *kept*: the reference's punctuation
  list names the upper-case forms (``-LRB-``) while ``-lowerCase`` has already lower-cased them, so they never match;
* double quotes become `````` / ``''``, single quotes `` ` `` / ``'`` (all removed); curly quotes and apostrophes
  are normalised first (``don’t`` -> ``do n't``); ``—``/``–`` and runs of ``-`` become ``--``; ``…`` and runs of
  three or more dots become ``...``; ``£`` becomes ``#``, ``€`` becomes ``$``, ``¢`` becomes ``cents``;
* contractions split as in the Penn Treebank: ``do n't``, ``ca n't``, ``wo n't``, ``it 's``, ``i 'm``, ``we 're``,
  ``they 'll``, ``she 'd``, ``you 've``, ``can not``, ``gon na``, ``wan na``, ``got ta``, ``'t is``;
  a trailing apostrophe (``dogs'``) is split off;
* a period ending a word is split off (``dog.`` -> ``dog .``) unless the word is an abbreviation: letter-dot
  sequences (``u.s.``, ``p.m.``, ``e.g.``) and common ones (``mr.``, ``dr.``, ``st.``, ``etc.``, ...);
  internal periods stay (``word.another``, ``3.5``, ``.5``);
* numbers keep ``, . : / -`` between digits (``1,000``, ``5:30``, ``1/2``, ``2-3``); ``$``, ``%``, ``#`` before a
  digit split off; words keep internal hyphens, slashes and ``@`` (``black-and-white``, ``a/b``, ``e-mail``);
  ``AT&T``-style upper-case ``&`` words stay whole, any other ``&`` is its own token; runs of ``!``/``?`` are one
  token (``!!!`` and ``?!`` are not in the punctuation list, so they are kept, as in the reference), and so are
  runs of ``_`` or ``*``; a single letter with a period is an abbreviation (``l.``);
  URLs and e-mail addresses stay whole; ``* = \\ ~ ^ | _ < >`` are single tokens.

Known differences from the Java tokenizer. On 764 sentences of the project's web-text demo corpus (manuals, code,
shell sessions, IRC logs, several languages) 63 tokenize differently, all in code-like or markup text: ``>>>``,
``c++``, ``<b>``-style tags with attributes, emoticons, ``__name__``-style words, file names (Java splits some
extensions: ``readme . txt``), e-mail addresses followed by a comma, ``「」``, quote direction inside code. Also
``rock'n'roll`` stays one token (Java: ``rock 'n' roll``) and ``12:30pm`` gives ``12 : 30pm`` (Java: ``12:30 pm``).
``tests/unit/test_caption_metrics.py`` compares this tokenizer with the Java one on its captions and cases when
``pycocoevalcap`` and Java are available.
"""
from __future__ import annotations

import re

#: Tokens the COCO caption evaluation removes after tokenization (its list, verbatim).
PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                          ".", "?", "!", ",", ":", "-", "--", "...", ";"])

_ABBREVIATIONS = ("mr|mrs|ms|dr|prof|st|jr|sr|vs|etc|inc|co|corp|ltd|ave|blvd|rd|mt|ft|jan|feb|mar|apr|jun|jul|"
                  "aug|sep|sept|oct|nov|dec|gen|gov|sen|rep|rev|capt|col|lt|sgt|messrs")
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
_CHAR_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
                           "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u00a3": "#", "\u20ac": "$", "\u00a0": " "})
_SPLIT_WORDS = {"cannot": ("can", "not"), "gonna": ("gon", "na"), "gotta": ("got", "ta"),
                "wanna": ("wan", "na"), "gimme": ("gim", "me"), "lemme": ("lem", "me")}
_CONTRACTION = re.compile(r"(?i)^(.+?)(n't|'s|'m|'re|'ll|'d|'ve)$")
_W = r"[^\W_]"  # a letter or digit

_TOKEN = re.compile(rf"""
  (?P<url>https?://\S+|www\.\S+\w|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
| (?P<ellipsis>\.{{3,}}|\u2026)
| (?P<dashes>-{{2,}}|\u2014|\u2013)
| (?P<quotes>``|'')
| (?P<cents>\u00a2)
| (?P<num>[+-]?(?:\d+(?:[.,:/-]\d+)*|\.\d+)(?!{_W}))
| (?P<abbr>(?:(?:[A-Za-z]\.)+|(?i:(?:{_ABBREVIATIONS})\.))(?!{_W}))
| (?P<amp>[A-Z]+(?:&[A-Z]+)+(?!{_W}))
| (?P<apos>(?<!\S)'\d+s?(?!{_W})|'[tT](?=(?i:is|was)\b)|'n'|'(?i:s|m|d|re|ll|ve)(?!{_W}))
| (?P<tag><[A-Za-z]+>)
| (?P<word>(?:[#@](?=[A-Za-z]))?{_W}+(?:(?:[-/.@]|_+|'(?={_W})){_W}+)*)
| (?P<bang>[!?]+|_+|\*+)
| (?P<sym>\S)
""", re.VERBOSE)


def _word_tokens(word: str) -> list[str]:
    whole = _SPLIT_WORDS.get(word.lower())
    if whole:
        return [word[:len(whole[0])], word[len(whole[0]):]]
    m = _CONTRACTION.match(word)
    if m and m.group(1) and not m.group(1).endswith("'"):
        return [m.group(1), m.group(2)]
    return [word]


def ptb_tokens(line: str) -> list[str]:
    """All PTB tokens of one caption (lower-cased, punctuation included)."""
    line = line.translate(_CHAR_MAP)
    out: list[str] = []
    for m in _TOKEN.finditer(line):
        kind, text = m.lastgroup, m.group()
        if kind == "ellipsis":
            out.append("...")
        elif kind == "dashes":
            out.append("--")
        elif kind == "cents":
            out.append("cents")
        elif kind == "word":
            out.extend(_word_tokens(text))
        elif kind == "sym" and text in _BRACKETS:
            out.append(_BRACKETS[text])
        elif kind == "sym" and text == '"':
            before = line[:m.start()].rstrip(" \t")
            opening = m.start() == 0 or line[m.start() - 1].isspace() or not before or before[-1] in "([{"
            out.append("``" if opening else "''")
        elif kind == "sym" and text == "'" and (m.start() == 0 or line[m.start() - 1].isspace()) \
                and line[m.end():m.end() + 1].strip():
            out.append("`")  # an opening single quote
        else:
            out.append(text)
    return [t.lower() for t in out]


def tokenize_caption(caption: str) -> str:
    """One caption as the COCO evaluation sees it: PTB tokens minus :data:`PUNCTUATIONS`, joined by spaces."""
    caption = caption.replace("\n", " ")
    return " ".join(t for t in ptb_tokens(caption) if t not in PUNCTUATIONS)


def tokenize_all(captions: dict) -> dict:
    """``{key: [caption, ...]}`` -> ``{key: [tokenized caption, ...]}`` (the reference tokenizer's interface)."""
    return {key: [tokenize_caption(c) for c in caps] for key, caps in captions.items()}
