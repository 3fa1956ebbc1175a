"""video_inception_evaluator: the metrics through a real TorchScript feature extractor on videos whose
features are known, so FVD/FID have hand-computed values; the original's result lines parsed."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from juicer_sandbox.components import video_inception as vi
from juicer_sandbox.errors import SandboxError


class ColorNet(torch.nn.Module):
    """A TorchScript stand-in for I3D / Inception with the same call: features = mean colour per channel;
    without return_features, class probabilities that are the same for every input."""

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        dims = [2, 3, 4] if x.dim() == 5 else [2, 3]
        feats = x.float().mean(dim=dims)
        if return_features:
            return feats
        return torch.softmax(torch.zeros(x.shape[0], 5), dim=1) * 0 + torch.tensor([0.4, 0.3, 0.2, 0.05, 0.05])


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    path = tmp_path_factory.mktemp("det") / "colornet.pt"
    torch.jit.save(torch.jit.script(ColorNet()), str(path))
    return vi.load_detector(str(path), "fvd2048_16f", "cpu")


def _constant(value: int, frames: int = 20):
    return np.full((frames, 4, 6, 3), value, dtype=np.uint8)


def test_fvd_of_two_point_feature_sets_is_the_closed_form(detector):
    # every clip of a constant video has feature (v, v, v): real = {0, 2} half each, fake = {10, 14} half each
    # (clips cycle over the videos, 1024 each); mean 1 vs 12, covariances J and 4J (J = all-ones 3x3):
    # |dmu|^2 = 3 * 11^2 = 363; tr(J + 4J - 2 sqrt(4 J^2)) = (sqrt(3) - sqrt(12))^2 = 3  ->  366
    real, fake = [_constant(0), _constant(2)], [_constant(10), _constant(14)]
    result = vi.evaluate({"metric": "fvd2048_16f", "seed": 1}, real, fake, detector, "cpu")
    assert result["results"]["fvd2048_16f"] == pytest.approx(366.0, abs=1e-6)
    assert result["metric"] == "fvd2048_16f" and result["world_size"] == 1 and "total_time_str" in result
    # the same videos on both sides: 0
    same = vi.evaluate({"metric": "fvd2048_128f_subsample8f"}, [_constant(3, 130), _constant(9, 130)],
                       [_constant(9, 130), _constant(3, 130)], detector, "cpu")
    assert same["results"]["fvd2048_128f_subsample8f"] == pytest.approx(0.0, abs=1e-6)


def test_fid_kid_is_on_frames(detector):
    real, fake = [_constant(0, 5), _constant(2, 5)], [_constant(10, 5), _constant(14, 5)]
    assert vi.evaluate({"metric": "fid50k"}, real, fake, detector, "cpu")["results"] == {"fid50k": pytest.approx(366.0)}
    # 10 frames a side: every subset (m = 10, without replacement) is all of them, so KID is exact. Frames
    # 5 x 0 and 5 x v = (2,2,2) on both sides, k = (a.b/3 + 1)^3: k(0,.) = 1, k(v,v) = 125. Ordered pairs
    # i != j within a side: 20 + 50 + 20 x 125 = 2570; across: 25 + 50 + 25 x 125 = 3200
    kid = vi.evaluate({"metric": "kid50k"}, real, real[::-1], detector, "cpu")["results"]["kid50k"]
    assert kid == pytest.approx((2 * 2570 / 90 - 2 * 3200 / 100) * 1000)  # the unbiased estimate, x1000
    # identical class probabilities for every frame: p(y|x) = p(y), so KL = 0 and IS = 1 in every split
    assert vi.evaluate({"metric": "is50k"}, [], fake * 5, detector, "cpu")["results"] == {
        "is50k_mean": pytest.approx(1.0), "is50k_std": pytest.approx(0.0, abs=1e-12)}


def test_runs_are_named_as_the_original():
    runs = [{"fvd2048_16f": 10.0}, {"fvd2048_16f": 14.0}]
    assert vi.combine_runs(runs) == {"fvd2048_16f_run01": 10.0, "fvd2048_16f_run02": 14.0,
                                     "fvd2048_16f_mean": 12.0, "fvd2048_16f_std": 2.0}
    assert vi.combine_runs(runs[:1]) == runs[0]


def test_clip_sampling():
    rng = np.random.default_rng(0)
    video = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1).repeat(3, axis=3)
    clips = vi.sample_clips([video, video[:5]], 6, 4, 8, rng)  # span 25: the 5-frame video is skipped
    assert len(clips) == 6 and all(c.shape == (3, 4, 1, 1) for c in clips)
    assert all(np.diff(c[0, :, 0, 0].astype(int)).tolist() == [8, 8, 8] for c in clips)
    with pytest.raises(SandboxError, match="no video has the 25 frames"):
        vi.sample_clips([video[:5]], 1, 4, 8, rng)


def test_missing_detector_is_one_line(tmp_path):
    with pytest.raises(SandboxError) as err:
        vi.load_detector(None, "fvd2048_16f", "cpu")
    assert "\n" not in str(err.value) and vi.I3D_URL in str(err.value) and "detector_path" in str(err.value)
    with pytest.raises(SandboxError, match="inception-2015-12-05.pt"):
        vi.load_detector(str(tmp_path / "absent.pt"), "fid50k", "cpu")


def test_result_file_in_the_originals_format(tmp_path):
    # calc_metrics appends json.dumps(dict(result_dict, num_runs=..., real_data_path=..., fake_data_path=...))
    lines = [{"results": {"fvd2048_16f": 312.5}, "metric": "fvd2048_16f", "total_time": 81.2,
              "total_time_str": "1m 21s", "world_size": 1, "num_runs": 1, "real_data_path": "real.jsonl",
              "fake_data_path": "fake.jsonl"},
             {"results": {"is50k_mean": 3.1, "is50k_std": 0.2}, "metric": "is50k", "total_time": 5.0,
              "total_time_str": "5s", "world_size": 1, "num_runs": 1, "real_data_path": None,
              "fake_data_path": "fake.jsonl"}]
    path = tmp_path / "inception_eval_results.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert vi.parse_result_file(str(path)) == lines
    path.write_text('{"metric": "fid50k"}\n')
    with pytest.raises(SandboxError, match=":1: not an inception-metrics result"):
        vi.parse_result_file(str(path))


def test_video_paths(tmp_path):
    data = tmp_path / "fake.jsonl"
    data.write_text('{"videos": ["a.mp4", "b.mp4"], "text": "x"}\n{"videos": ["c.mp4"]}\n')
    assert vi.video_paths(str(data), "/root") == ["/root/a.mp4", "/root/b.mp4", "/root/c.mp4"]
    with pytest.raises(SandboxError, match="is not a file"):
        vi.video_paths(str(tmp_path / "none.jsonl"), None)


def test_decoding_real_videos(tmp_path, detector):
    cv2 = pytest.importorskip("cv2", reason="OpenCV decodes the videos (in the family's env)")
    path = str(tmp_path / "v.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 8, (32, 24))
    for _ in range(20):
        writer.write(np.full((24, 32, 3), 128, dtype=np.uint8))
    writer.release()
    frames = vi.decode_frames(path, 12, 16)
    assert frames.shape == (20, 12, 16, 3) and abs(int(frames.mean()) - 128) <= 2
