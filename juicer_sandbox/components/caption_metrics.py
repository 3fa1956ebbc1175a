"""COCO caption metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr as the COCO caption evaluation computes them.

The COCO caption evaluation (coco-caption, packaged as ``pycocoevalcap``) tokenizes references and predictions
(PTB tokens, punctuation removed: :mod:`.ptb_tokenizer`) and then scores each image's one predicted caption against
its reference captions. This module computes the same numbers in plain Python (written from the metric
definitions; the test suite checks them against ``pycocoevalcap`` to 1e-9 when it is installed):

* ``Bleu_1..Bleu_4``: corpus BLEU with clipped n-gram counts summed over all images, the "closest" reference length
  per image (ties go to the shorter one) for the brevity penalty, and the reference's smoothing constants
  (``1e-15`` added to matches, ``1e-9`` to guesses and lengths), so an n-gram order without matches gives ~0.
* ``ROUGE_L``: per image, LCS-based precision and recall against each reference (tokens split on single spaces),
  the maxima over the references combined as F with beta = 1.2; the mean over images.
* ``CIDEr``: coco-caption's CIDEr, which is CIDEr-D: tf-idf n-gram vectors (n = 1..4, idf from the evaluated
  images' references, ``log(#images) - log(df)``), clipped cosine similarity, a Gaussian length penalty with
  sigma = 6, the mean over n and over references, times 10. As in the reference, the "length" in the penalty
  is the number of bigrams of the caption, and an n-gram missing from all references gets df = 1.
* ``METEOR``: METEOR 1.5 (exact, stem, synonym and paraphrase modules) is not reimplemented: it is computed by the
  METEOR 1.5 jar through Java, exactly as the reference does (``-l en -norm``, per-image ``SCORE`` lines, one
  ``EVAL`` for the corpus score). The jar comes from ``pycocoevalcap`` (or the ``meteor_jar`` key). Without Java
  or the jar, asking for METEOR is an error that says so; leave it out of ``metrics`` to skip it explicitly.

Component type ``coco_caption_metrics`` (EvaluateDataHook and EvaluateModelHook) reads a predictions file and a
references file. Predictions: JSONL rows ``{id_key, predicted_caption_key}`` or a COCO results JSON list
``[{"image_id", "caption"}]``. References: JSONL rows ``{id_key, ground_truth_caption_key}`` whose caption is a
string (one row per caption) or a list of strings, or a COCO annotations JSON ``{"annotations": [{"image_id",
"caption"}, ...]}``. Data-Juicer special tokens (``<__dj__image>``, ``<|__dj__eoc|>``, ...) are removed from both.
Images are the predicted ids (as the reference's example evaluates ``cocoRes.getImgIds()``); each needs at least
one reference and exactly one prediction. The result is ``{Bleu_1, ..., CIDEr, avg_score, num_images}``
(``avg_score`` = mean of the computed metrics, as the original's InternVL evaluator reports); per-image scores go
to ``<export_path>/caption_scores.jsonl``.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..errors import ComponentConfigError, SandboxError
from ..io import write_json, write_jsonl
from .ptb_tokenizer import tokenize_caption

ALL_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
_TINY, _SMALL = 1e-15, 1e-9  # the reference BLEU's smoothing constants
_DJ_TOKENS = re.compile(r"<__dj__\w+>|<\|__dj__\w+\|>")


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1))


# -- BLEU ---------------------------------------------------------------------------------------------------------
def bleu(gts: dict, res: dict, n: int = 4) -> tuple[list[float], list[list[float]]]:
    """Corpus BLEU-1..n and per-image BLEU-1..n (``[[b1 per image], [b2 per image], ...]``)."""
    total_match, total_guess = [0] * n, [0] * n
    total_test = total_ref = 0
    per_image: list[list[float]] = [[] for _ in range(n)]
    for key in gts:
        hyp = res[key][0].split()
        max_ref: Counter = Counter()
        ref_lens = []
        for ref in gts[key]:
            toks = ref.split()
            ref_lens.append(len(toks))
            for gram, c in _ngrams(toks, n).items():
                max_ref[gram] = max(max_ref[gram], c)
        ref_len = min(ref_lens, key=lambda length: (abs(length - len(hyp)), length))
        match, guess = [0] * n, [max(0, len(hyp) - k) for k in range(n)]
        for gram, c in _ngrams(hyp, n).items():
            match[len(gram) - 1] += min(c, max_ref.get(gram, 0))
        for k in range(n):
            total_match[k] += match[k]
            total_guess[k] += guess[k]
        total_test += len(hyp)
        total_ref += ref_len
        for k, score in enumerate(_bleu_scores(match, guess, len(hyp), ref_len)):
            per_image[k].append(score)
    return _bleu_scores(total_match, total_guess, total_test, total_ref), per_image


def _bleu_scores(match: list[int], guess: list[int], test_len: float, ref_len: float) -> list[float]:
    scores, prod = [], 1.0
    for k in range(len(match)):
        prod *= (match[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(prod ** (1.0 / (k + 1)))
    ratio = (test_len + _TINY) / (ref_len + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


# -- ROUGE-L ------------------------------------------------------------------------------------------------------
def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(gts: dict, res: dict, beta: float = 1.2) -> tuple[float, list[float]]:
    """Mean ROUGE-L F (beta 1.2, best precision and best recall over the references) and per-image scores."""
    scores = []
    for key in gts:
        cand = res[key][0].split(" ")
        precs, recs = [], []
        for ref in gts[key]:
            toks = ref.split(" ")
            common = _lcs(toks, cand)
            precs.append(common / len(cand))
            recs.append(common / len(toks))
        p, r = max(precs), max(recs)
        scores.append((1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0)
    return sum(scores) / len(scores), scores


# -- CIDEr(-D) ----------------------------------------------------------------------------------------------------
def cider(gts: dict, res: dict, n: int = 4, sigma: float = 6.0) -> tuple[float, list[float]]:
    """coco-caption's CIDEr (= CIDEr-D): mean over images and per-image scores."""
    refs_counts = {key: [_ngrams(r.split(), n) for r in gts[key]] for key in gts}
    doc_freq: Counter = Counter()
    for counts in refs_counts.values():
        doc_freq.update(set().union(*counts))
    log_images = math.log(float(len(gts)))

    def vector(counts: Counter):
        vec: list[dict] = [{} for _ in range(n)]
        norm = [0.0] * n
        for gram, tf in counts.items():
            weight = tf * (log_images - math.log(max(1.0, doc_freq.get(gram, 0.0))))
            vec[len(gram) - 1][gram] = weight
            norm[len(gram) - 1] += weight * weight
        bigrams = sum(tf for gram, tf in counts.items() if len(gram) == 2)
        return vec, [math.sqrt(v) for v in norm], bigrams

    scores = []
    for key in gts:
        vec_h, norm_h, len_h = vector(_ngrams(res[key][0].split(), n))
        total = [0.0] * n
        for ref_counts in refs_counts[key]:
            vec_r, norm_r, len_r = vector(ref_counts)
            penalty = math.exp(-((len_h - len_r) ** 2) / (2 * sigma ** 2))
            for k in range(n):
                val = sum(min(w, vec_r[k].get(g, 0.0)) * vec_r[k].get(g, 0.0) for g, w in vec_h[k].items())
                if norm_h[k] != 0 and norm_r[k] != 0:
                    val /= norm_h[k] * norm_r[k]
                total[k] += val * penalty
        scores.append(sum(total) / n / len(gts[key]) * 10.0)
    return sum(scores) / len(scores), scores


# -- METEOR (the METEOR 1.5 jar through Java) -----------------------------------------------------------------------
def find_meteor_jar(configured: str | None = None) -> str:
    """The METEOR 1.5 jar: ``configured``, else the one shipped in ``pycocoevalcap``; a clear error otherwise."""
    if configured:
        if not os.path.isfile(configured):
            raise ComponentConfigError(f"METEOR jar not found: {configured}", key="meteor_jar")
        return configured
    import importlib.util

    try:  # pycocoevalcap is a namespace package: locate its meteor module
        spec = importlib.util.find_spec("pycocoevalcap.meteor.meteor")
    except ModuleNotFoundError:
        spec = None
    jar = Path(spec.origin).parent / "meteor-1.5.jar" if spec and spec.origin else None
    if jar is None or not jar.is_file():
        raise SandboxError("METEOR needs the METEOR 1.5 jar: `pip install pycocoevalcap` (it ships the jar) or set "
                           "extra_configs.meteor_jar; or leave METEOR out of extra_configs.metrics to skip it")
    return str(jar)


def meteor(gts: dict, res: dict, jar: str | None = None) -> tuple[float, list[float]]:
    """METEOR 1.5 (``-l en -norm``) via Java: corpus score and per-image scores."""
    jar = find_meteor_jar(jar)
    java = shutil.which("java")
    if java is None:
        raise SandboxError("METEOR needs Java to run the METEOR 1.5 jar (Debian: apt-get install "
                           "default-jre-headless); or leave METEOR out of extra_configs.metrics to skip it")
    cmd = [java, "-jar", "-Xmx2G", os.path.basename(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
    proc = subprocess.Popen(cmd, cwd=os.path.dirname(os.path.abspath(jar)), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def ask(line: str) -> str:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        if not answer:
            raise SandboxError(f"METEOR jar {jar} stopped: {proc.stderr.read().strip()[-500:]}")
        return answer.strip()

    try:
        stats = []
        for key in gts:
            hyp = res[key][0].replace("|||", "").replace("  ", " ")
            refs = [r.replace("|||", "") for r in gts[key]]
            stats.append(ask(" ||| ".join(["SCORE", *refs, hyp])))
        per_image = [float(ask("EVAL ||| " + " ||| ".join(stats)))]
        per_image += [float(proc.stdout.readline().strip()) for _ in range(len(stats) - 1)]
        score = float(proc.stdout.readline().strip())
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()
    return score, per_image


# -- all together ---------------------------------------------------------------------------------------------------
def score_captions(references: dict[Any, list[str]], predictions: dict[Any, str],
                   metrics: Iterable[str] = ALL_METRICS, meteor_jar: str | None = None,
                   tokenize: bool = True) -> tuple[dict, list[dict]]:
    """Score ``predictions`` (id -> caption) against ``references`` (id -> captions) over the predicted ids.

    Returns ``(scores, per_image)``: ``scores`` maps each requested metric to its corpus value;
    ``per_image`` is ``[{"image_id", <metric>: value, ...}]`` in the predictions' order.
    """
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown or not metrics:
        raise ComponentConfigError(f"unknown metric(s) {unknown}; choose from {', '.join(ALL_METRICS)}",
                                   key="metrics")
    ids = list(predictions)
    if not ids:
        raise SandboxError("no predictions to score")
    prep = tokenize_caption if tokenize else (lambda c: c)
    gts = {i: [prep(c) for c in references[i]] for i in ids}
    res = {i: [prep(predictions[i])] for i in ids}
    scores: dict[str, float] = {}
    per_image = [{"image_id": i} for i in ids]

    def put(name: str, value: float, values: list[float]) -> None:
        scores[name] = value
        for row, v in zip(per_image, values):
            row[name] = v

    if any(m.startswith("Bleu_") for m in metrics):
        corpus, each = bleu(gts, res)
        for k in range(4):
            if f"Bleu_{k + 1}" in metrics:
                put(f"Bleu_{k + 1}", corpus[k], each[k])
    for name, fn in (("METEOR", lambda g, r: meteor(g, r, meteor_jar)), ("ROUGE_L", rouge_l), ("CIDEr", cider)):
        if name in metrics:
            put(name, *fn(gts, res))
    return {m: scores[m] for m in ALL_METRICS if m in scores}, per_image


# -- files and the component ------------------------------------------------------------------------------------------
def _records(path: str, key: str) -> list[tuple[str, dict]]:
    """``[(where, row)]`` from JSONL, or from a ``.json`` file holding a list or a COCO dict with ``annotations``."""
    if not os.path.isfile(path):
        raise ComponentConfigError(f"file not found: {path}", key=key)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SandboxError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("annotations"), list):
            return [(f"{path}: annotations[{i}]", row) for i, row in enumerate(data["annotations"])]
        if isinstance(data, list):
            return [(f"{path}: [{i}]", row) for i, row in enumerate(data)]
        raise SandboxError(f"{path}: expected a JSON list of records or a COCO file with an 'annotations' list")
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise SandboxError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    return rows


def _field(where: str, row: Any, name: str) -> Any:
    if not isinstance(row, dict) or name not in row:
        raise SandboxError(f"{where}: missing key '{name}'")
    return row[name]


def _clean(where: str, caption: Any, name: str) -> str:
    if not isinstance(caption, str):
        raise SandboxError(f"{where}: '{name}' must be a string, got {type(caption).__name__}")
    return " ".join(_DJ_TOKENS.sub(" ", caption).split())


def read_predictions(path: str, id_key: str, caption_key: str) -> dict:
    preds: dict = {}
    for where, row in _records(path, "predicted_dataset_path"):
        image = _field(where, row, id_key)
        if image in preds:
            raise SandboxError(f"{where}: second prediction for {id_key} {image!r}; one caption per image")
        preds[image] = _clean(where, _field(where, row, caption_key), caption_key)
    return preds


def read_references(path: str, id_key: str, caption_key: str) -> dict:
    refs: dict = {}
    for where, row in _records(path, "ground_truth_dataset_path"):
        value = _field(where, row, caption_key)
        captions = value if isinstance(value, list) else [value]
        refs.setdefault(_field(where, row, id_key), []).extend(_clean(where, c, caption_key) for c in captions)
    return refs


_STR = {"type": "string", "minLength": 1}
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["predicted_dataset_path", "ground_truth_dataset_path"],
    "properties": {
        "type": {"const": "coco_caption_metrics"},
        "predicted_dataset_path": {"anyOf": [_STR, {"type": "array", "items": _STR, "minItems": 1, "maxItems": 1}],
                                   "description": "predictions: JSONL rows or a COCO results JSON list"},
        "ground_truth_dataset_path": {"anyOf": [_STR, {"type": "array", "items": _STR, "minItems": 1,
                                                        "maxItems": 1}],
                                      "description": "references: JSONL rows or a COCO annotations JSON"},
        "id_key": {**_STR, "default": "image_id"},
        "predicted_caption_key": {**_STR, "default": "caption"},
        "ground_truth_caption_key": {**_STR, "default": "caption"},
        "metrics": {"type": "array", "items": {"enum": list(ALL_METRICS)}, "minItems": 1, "uniqueItems": True,
                    "default": list(ALL_METRICS)},
        "meteor_jar": {"type": ["string", "null"], "default": None,
                       "description": "METEOR 1.5 jar (default: the one in pycocoevalcap)"},
        "export_path": {"type": ["string", "null"], "description": "per-image scores go here"},
        "arm": {"type": ["string", "null"]}, "seed": {"type": ["integer", "null"]},
        "pool": {"type": ["string", "null"]}, "model_path": {"type": ["string", "null"]},
    },
}


def _one(cfg: dict, key: str) -> str:
    value = cfg[key]
    return value[0] if isinstance(value, list) else value


def _validate(cfg: dict) -> dict:
    import jsonschema

    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(cfg))
    if errors:
        err = min(errors, key=lambda e: len(e.absolute_path))
        extra = sorted(set(cfg) - set(SCHEMA["properties"])) if err.validator == "additionalProperties" else []
        key = extra[0] if extra else ".".join(str(p) for p in err.absolute_path) or None
        raise ComponentConfigError("unknown key" if extra else err.message, key=key)
    out = dict(cfg)
    for name, sub in SCHEMA["properties"].items():
        if out.get(name) is None and "default" in sub:
            out[name] = sub["default"]
    return out


def coco_caption_metrics(cfg: dict, run: Any = None) -> dict:
    """The component: score a predictions file against a references file (see the module docstring)."""
    cfg = _validate(cfg)
    id_key = cfg["id_key"]
    preds = read_predictions(_one(cfg, "predicted_dataset_path"), id_key, cfg["predicted_caption_key"])
    refs = read_references(_one(cfg, "ground_truth_dataset_path"), id_key, cfg["ground_truth_caption_key"])
    missing = [i for i in preds if not refs.get(i)]
    if missing:
        raise SandboxError(f"{_one(cfg, 'ground_truth_dataset_path')}: no reference caption for {id_key} "
                           f"{missing[0]!r} ({len(missing)} predicted id(s) without references)")
    scores, per_image = score_captions(refs, preds, cfg["metrics"], cfg["meteor_jar"])
    result = {**scores, "avg_score": sum(scores.values()) / len(scores), "num_images": len(preds)}
    for key in ("arm", "seed", "pool"):  # labels an experiment's ranking groups by
        if cfg.get(key) is not None:
            result[key] = cfg[key]
    if cfg.get("export_path"):
        write_jsonl(Path(cfg["export_path"]) / "caption_scores.jsonl", per_image)
        write_json(Path(cfg["export_path"]) / "metrics.json", result)
    return result


SCHEMAS = {"coco_caption_metrics": SCHEMA}
DATA_EVALUATORS = {"coco_caption_metrics": coco_caption_metrics}
MODEL_EVALUATORS = {"coco_caption_metrics": coco_caption_metrics}
