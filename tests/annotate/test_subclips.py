"""Windowing and per-window labels (vanguard.data.subclips)."""

from __future__ import annotations

import pytest

from vanguard.data.annotations import Caption
from vanguard.data.subclips import (
    WindowConfig,
    anomalous_fraction,
    overlapping_captions,
    sample_indices,
    window_label,
    windows,
)


def test_windows_cover_every_frame_with_keyframe_last():
    cfg = WindowConfig(length=96, stride=96, num_frames=16)
    wins = windows(1000, cfg)
    covered = set()
    for w in wins:
        assert len(w.frame_indices) == 16
        assert w.frame_indices[0] == w.start and w.frame_indices[-1] == w.end
        assert w.keyframe == 15 and w.keyframe_index == w.end
        assert list(w.frame_indices) == sorted(set(w.frame_indices))
        covered |= set(range(w.start, w.end + 1))
    assert covered == set(range(1000))
    assert wins[-1].end == 999  # the tail window is aligned to the last frame
    assert len({w.frame_indices[0] for w in wins}) == len(wins)  # keys are unique


def test_stride_and_exact_fit():
    cfg = WindowConfig(length=16, stride=8, num_frames=8)
    assert [w.start for w in windows(40, cfg)] == [0, 8, 16, 24]
    assert [w.start for w in windows(41, cfg)] == [0, 8, 16, 24, 25]


def test_short_video_gives_one_window():
    cfg = WindowConfig(length=96, stride=96, num_frames=16)
    (only,) = windows(10, cfg)
    assert only.frame_indices == tuple(range(10))
    assert windows(0, cfg) == []
    assert sample_indices(5, 5, 4) == (5,)


def test_label_uses_fraction_of_sampled_frames():
    cfg = WindowConfig(length=16, stride=16, num_frames=8)
    (w,) = windows(16, cfg)  # samples 0,2,4,6,9,11,13,15
    assert anomalous_fraction(w.frame_indices, [(13, 20)]) == pytest.approx(2 / 8)
    assert window_label(w, [(13, 20)], 0.25) == 1
    assert window_label(w, [(14, 20)], 0.25) == 0  # one sampled frame (15) of eight
    assert window_label(w, [(14, 20)], 0.1) == 1
    assert window_label(w, [], 0.25) == 0
    assert window_label(w, [(0, 1), (15, 15)], 0.25) == 1  # several intervals add up


@pytest.mark.parametrize("bad", [dict(length=0), dict(num_frames=20, length=16), dict(min_fraction=0.0)])
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError):
        WindowConfig(**bad)


def test_overlapping_captions():
    caps = [Caption(3.0, 5.0, "b"), Caption(0.0, 1.0, "a"), Caption(5.0, 6.0, "c")]
    assert [c.sentence for c in overlapping_captions(caps, 0.5, 4.0)] == ["a", "b"]
    assert overlapping_captions(caps, 1.0, 3.0) == []  # touching ends do not overlap
