"""The original DJ-Sandbox's ``video_inception_evaluator`` (EvaluateDataHook): FID, FVD, KID, KVD, IS.

Keys as the original's ``InceptionEvaluator`` (``calc_metrics`` of its ``tools/mm_eval/inception_metrics``):
``fake_data_path``/``real_data_path`` (Data-Juicer JSONL, video paths under ``videos``), ``fake_mm_dir``/
``real_mm_dir`` (roots for relative video paths), ``metric``, ``detector_path``, ``result_path``,
``num_runs``, ``height``/``width`` (frames are resized to this), ``replace_cache``, ``verbose``, ``seed``.

Metrics (the original's names and sampling): ``fvd2048_16f``, ``fvd2048_128f``, ``fvd2048_128f_subsample8f``
and ``kvd2048_16f`` on 2048 random clips per side through I3D; ``fid50k``, ``kid50k`` (x1000) and
``is50k`` on up to 50,000 frames through Inception-v3. The math is :mod:`..models.video_metrics`.
``isv2048_ucf``, ``prv2048_3n_16f`` and ``pr50k_3n`` are not available here.

The feature extractor comes from ``detector_path``, a local TorchScript file (the original downloaded it
when that key was null): I3D ``i3d_torchscript.pt`` for the video metrics, ``inception-2015-12-05.pt``
for the frame metrics. A missing file stops the job with one line saying where to get it. Features are
not cached between runs (the original pickled them; nothing is unpickled here), so ``replace_cache`` has
no effect. FID uses the full 2048-d features (the original folded them to 512 with a slicing bug).

Result: the original's dict ``{"results": {<metric>: value, ...}, "metric", "total_time",
"total_time_str", "world_size"}``; the line ``{..., "num_runs", "real_data_path", "fake_data_path"}`` is
appended to ``<artifacts>/export/<name of result_path>`` (:func:`parse_result_file` reads such files).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

from ..errors import SandboxError
from ..io import iter_jsonl
from ..models import video_metrics as vm

I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"


@dataclass(frozen=True)
class Metric:
    kind: str  # fvd | kvd | fid | kid | is
    clips: bool  # I3D on clips (True) or Inception on frames
    items: int  # max items per side
    num_frames: int = 1
    subsample: int = 1


METRICS = {
    "fvd2048_16f": Metric("fvd", True, 2048, 16),
    "fvd2048_128f": Metric("fvd", True, 2048, 128),
    "fvd2048_128f_subsample8f": Metric("fvd", True, 2048, 16, 8),
    "kvd2048_16f": Metric("kvd", True, 2048, 16),
    "fid50k": Metric("fid", False, 50000),
    "kid50k": Metric("kid", False, 50000),
    "is50k": Metric("is", False, 50000),
}
NOT_HERE = ("isv2048_ucf", "prv2048_3n_16f", "pr50k_3n")


def video_paths(data_path: str, mm_dir: str | None) -> list[str]:
    if not data_path or not os.path.isfile(data_path):
        raise SandboxError(f"video_inception_evaluator: dataset {data_path!r} is not a file")
    out = []
    for row in iter_jsonl(data_path):
        for v in row.get("videos") or []:
            out.append(os.path.join(mm_dir, v) if mm_dir else v)
    if not out:
        raise SandboxError(f"video_inception_evaluator: {data_path} lists no videos (key `videos`)")
    return out


def decode_frames(path: str, height: int, width: int):
    """uint8 frames [T, H, W, 3] (RGB) resized to height x width, as the original's dataset (OpenCV)."""
    try:
        import cv2
    except ImportError:
        raise SandboxError("video_inception_evaluator: OpenCV (cv2) is not installed in this job's env; it "
                           "decodes the videos (opencv-python-headless)") from None
    import numpy as np

    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), (width, height)))
    cap.release()
    if not frames:
        raise SandboxError(f"video_inception_evaluator: no frame could be read from {path}")
    return np.stack(frames)


def sample_clips(videos, n_items: int, num_frames: int, subsample: int, rng):
    """`n_items` clips [3, T, H, W] of `num_frames` frames `subsample` apart, at random starts, cycling over
    the videos in random order (as the original's infinite loader); videos too short are skipped."""
    import numpy as np

    span = (num_frames - 1) * subsample + 1
    usable = [v for v in videos if len(v) >= span]
    if not usable:
        raise SandboxError(f"video_inception_evaluator: no video has the {span} frames a clip needs")
    out = []
    while len(out) < n_items:
        for i in rng.permutation(len(usable)):
            start = int(rng.integers(0, len(usable[i]) - span + 1))
            out.append(np.ascontiguousarray(usable[i][start:start + span:subsample].transpose(3, 0, 1, 2)))
            if len(out) == n_items:
                break
    return out


def sample_frames(videos, n_items: int, rng):
    """Up to `n_items` frames [3, H, W] drawn without replacement from all frames of all videos."""
    import numpy as np

    index = [(v, t) for v, frames in enumerate(videos) for t in range(len(frames))]
    chosen = rng.permutation(len(index))[:n_items]
    return [np.ascontiguousarray(videos[index[k][0]][index[k][1]].transpose(2, 0, 1)) for k in chosen]


def load_detector(path: str | None, metric: str, device: str):
    url = I3D_URL if METRICS[metric].clips else INCEPTION_URL
    name = "I3D (i3d_torchscript.pt)" if METRICS[metric].clips else "Inception-v3 (inception-2015-12-05.pt)"
    if not path or not os.path.isfile(path):
        raise SandboxError(f"video_inception_evaluator: {metric} needs the {name} feature extractor as a local "
                           f"file: detector_path is {path!r}; download it once from {url} and set detector_path")
    import torch

    return torch.jit.load(path, map_location=device).eval()


def run_detector(detector, items: list, kwargs: dict, device: str, batch_size: int):
    """Detector outputs for uint8 items, batched; float64 numpy [n, features]."""
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            batch = torch.as_tensor(np.stack(items[i:i + batch_size]), device=device)
            out.append(detector(batch, **kwargs).double().cpu().numpy())
    return np.concatenate(out)


def compute_once(metric: str, real, fake, detector, device: str, rng, seed: int) -> dict:
    """One run of `metric` on decoded real/fake videos (lists of uint8 [T, H, W, 3] arrays)."""
    spec = METRICS[metric]
    if spec.clips:
        kwargs, batch = dict(rescale=True, resize=True, return_features=True), max(1, 64 // spec.num_frames)
        take = lambda videos: sample_clips(videos, spec.items, spec.num_frames, spec.subsample, rng)  # noqa: E731
    else:
        kwargs = dict(no_output_bias=True) if spec.kind == "is" else dict(return_features=True)
        batch = 64
        take = lambda videos: sample_frames(videos, spec.items, rng)  # noqa: E731
    gen = run_detector(detector, take(fake), kwargs, device, batch)
    if spec.kind == "is":
        mean, std = vm.inception_score(gen, num_splits=10, device=device)
        return {f"{metric}_mean": mean, f"{metric}_std": std}
    ref = run_detector(detector, take(real), kwargs, device, batch)
    if spec.kind in ("fvd", "fid"):
        return {metric: vm.fid_from_features(ref, gen, device)}
    value = vm.kernel_distance(ref, gen, num_subsets=100, max_subset_size=1000, seed=seed, device=device)
    return {metric: value * (1000.0 if spec.kind == "kid" else 1.0)}


def combine_runs(runs: list[dict]) -> dict:
    """The original's naming: one run as is; several as <key>_runNN plus <key>_mean and <key>_std."""
    if len(runs) == 1:
        return dict(runs[0])
    import numpy as np

    out = {f"{k}_run{i + 1:02d}": v for i, r in enumerate(runs) for k, v in r.items()}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[f"{key}_mean"], out[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
    return out


def _format_time(seconds: float) -> str:
    s = int(math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s"


def evaluate(cfg: dict, real, fake, detector, device: str) -> dict:
    import numpy as np

    start = time.time()
    seed = int(cfg.get("seed", 42))
    rng = np.random.default_rng(seed)
    runs = [compute_once(cfg["metric"], real, fake, detector, device, rng, seed + i)
            for i in range(int(cfg.get("num_runs") or 1))]
    total = time.time() - start
    return {"results": combine_runs(runs), "metric": cfg["metric"], "total_time": total,
            "total_time_str": _format_time(total), "world_size": 1}


def parse_result_file(path: str) -> list[dict]:
    """The lines of a result file the original (or this evaluator) appended: one JSON object per run."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise SandboxError(f"{path}:{n}: not a JSON line ({exc})") from None
            if not isinstance(row, dict) or not isinstance(row.get("results"), dict) or "metric" not in row:
                raise SandboxError(f"{path}:{n}: not an inception-metrics result (needs `results` and `metric`)")
            rows.append(row)
    return rows


def video_inception_evaluator(cfg: dict) -> dict:
    metric = cfg.get("metric", "fvd2048_16f")
    cfg = {**cfg, "metric": metric}
    device = vm.default_device()
    detector = load_detector(cfg.get("detector_path"), metric, device)
    h, w = int(cfg.get("height") or 240), int(cfg.get("width") or 320)
    fake = [decode_frames(p, h, w) for p in video_paths(cfg["fake_data_path"], cfg.get("fake_mm_dir"))]
    real = [] if METRICS[metric].kind == "is" else \
        [decode_frames(p, h, w) for p in video_paths(cfg.get("real_data_path"), cfg.get("real_mm_dir"))]
    result = evaluate(cfg, real, fake, detector, device)
    line = dict(result, num_runs=int(cfg.get("num_runs") or 1), real_data_path=cfg.get("real_data_path"),
                fake_data_path=cfg["fake_data_path"])
    name = os.path.basename(cfg.get("result_path") or "") or "inception_eval_results.jsonl"
    os.makedirs(cfg["export_path"], exist_ok=True)
    with open(os.path.join(cfg["export_path"], name), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    print(json.dumps(line))
    return result


_STR = {"type": ["string", "null"]}
DATA_EVALUATORS = {"video_inception_evaluator": video_inception_evaluator}
SCHEMAS = {"video_inception_evaluator": {
    "type": "object", "additionalProperties": False, "required": ["fake_data_path"],
    "properties": {"type": {"type": "string"}, "fake_data_path": {"type": "string"}, "real_data_path": _STR,
                   "fake_mm_dir": _STR, "real_mm_dir": _STR, "metric": {"enum": list(METRICS)},
                   "detector_path": _STR, "result_path": _STR, "export_path": _STR,
                   "num_runs": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1},
                   "width": {"type": "integer", "minimum": 1}, "replace_cache": {"type": "boolean"},
                   "verbose": {"type": "boolean"}, "seed": {"type": "integer"}}}}
