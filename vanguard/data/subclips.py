"""Cut a video into subclips (windows), sample frames in each, and label each window from temporal intervals.

One module owns the windowing so annotation and, later, ``predict`` on arbitrary videos cut videos identically.

A window covers ``length`` consecutive source frames and starts every ``stride`` frames; ``num_frames`` frames are
sampled uniformly over it (first and last frame of the window included). The **keyframe** (the frame the boxes
refer to) is the last sampled frame. When the video's tail is not covered by a regular window, one more window is
aligned to the last frame, so every frame of a video lies in some window (needed for frame-level evaluation). A
video shorter than ``length`` gives one window over the whole video (fewer frames when it has fewer than
``num_frames``). A subclip needs at least :data:`MIN_FRAMES` frames (Qwen3-VL's temporal patch: its processor
refuses fewer), so a video with fewer frames has no window: :func:`windows` raises :class:`TooFewFramesError`,
which annotation counts as a skipped video and ``predict`` reports, instead of a processor traceback deep in a
DataLoader worker.

Labels: a window is anomalous when at least ``min_fraction`` of its **sampled** frames (what the model sees) lie
inside an anomalous interval (inclusive frame numbers). The default 0.25 means: 4 of 16 sampled frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vanguard.errors import ConfigError
from vanguard.video import VideoDecodeError

#: frames one subclip needs at least: Qwen3-VL's temporal patch (two frames make one temporal token)
MIN_FRAMES = 2


class TooFewFramesError(VideoDecodeError):
    """A video with fewer frames than one subclip needs (:data:`MIN_FRAMES`)."""


@dataclass(frozen=True)
class WindowConfig:
    """How videos are cut into subclips.

    Args:
        length: source frames one window spans (UCF-Crime at 30 fps: 96 frames = 3.2 s).
        stride: source frames between the starts of consecutive windows (``stride == length``: no overlap).
        num_frames: frames sampled uniformly per window (the first and the last frame of the window included).
        min_fraction: a window is anomalous when at least this fraction of its sampled frames is inside an
            anomalous interval (0.25 = a quarter; must be in (0, 1]).
    """

    length: int = 96
    stride: int = 96
    num_frames: int = 16
    min_fraction: float = 0.25

    def __post_init__(self):  # ConfigError (a ValueError): one line at the CLI, not a traceback from parsing
        if self.length < 1 or self.stride < 1 or self.num_frames < 1:
            raise ConfigError(f"window length, stride and num_frames must be positive: {self}")
        if self.num_frames < MIN_FRAMES:
            raise ConfigError(f"num_frames must be at least {MIN_FRAMES} (the model's temporal patch), got {self.num_frames}")
        if self.num_frames > self.length:
            raise ConfigError(f"num_frames {self.num_frames} exceeds the window length {self.length}")
        if not 0 < self.min_fraction <= 1:
            raise ConfigError(f"min_fraction must be in (0, 1], got {self.min_fraction}")


@dataclass(frozen=True)
class Window:
    """One subclip: the source frame numbers it samples; ``frame_indices[-1]`` is the keyframe."""

    start: int  # first source frame the window spans
    end: int  # last source frame it spans (inclusive)
    frame_indices: tuple[int, ...]

    @property
    def keyframe(self) -> int:
        """Position of the keyframe in ``frame_indices`` (the last sampled frame)."""
        return len(self.frame_indices) - 1

    @property
    def keyframe_index(self) -> int:
        """Source frame number of the keyframe."""
        return self.frame_indices[-1]

    def seconds(self, fps: float) -> tuple[float, float]:
        """Start and end time of the window in seconds (end = end of its last frame)."""
        return self.start / fps, (self.end + 1) / fps


def sample_indices(start: int, end: int, num_frames: int) -> tuple[int, ...]:
    """``num_frames`` strictly increasing frame numbers spread uniformly over ``start..end`` (inclusive)."""
    span = end - start + 1
    n = min(num_frames, span)
    if n == 1:
        return (end,)
    idx = np.round(np.linspace(start, end, n)).astype(int)
    return tuple(int(i) for i in np.unique(idx))


def windows(num_frames_total: int, config: WindowConfig) -> list[Window]:
    """All windows of a video of ``num_frames_total`` frames, in order, with distinct first sampled frames.
    A video with 1 to ``MIN_FRAMES - 1`` frames raises :class:`TooFewFramesError` (none at all: no window)."""
    if num_frames_total < 1:
        return []
    if num_frames_total < MIN_FRAMES:
        raise TooFewFramesError(f"{num_frames_total} frame(s): one subclip needs at least {MIN_FRAMES} "
                                "(the model's temporal patch)")
    if num_frames_total <= config.length:
        return [Window(0, num_frames_total - 1, sample_indices(0, num_frames_total - 1, config.num_frames))]
    starts = list(range(0, num_frames_total - config.length + 1, config.stride))
    tail = num_frames_total - config.length
    if starts[-1] != tail:  # align one more window to the end so the last frames are covered
        starts.append(tail)
    return [Window(s, s + config.length - 1, sample_indices(s, s + config.length - 1, config.num_frames)) for s in starts]


def anomalous_fraction(frame_indices: Sequence[int], intervals: Sequence[tuple[int, int]]) -> float:
    """Fraction of ``frame_indices`` that fall inside any inclusive ``(start, end)`` interval."""
    if not frame_indices:
        return 0.0
    idx = np.asarray(frame_indices)
    inside = np.zeros(len(idx), dtype=bool)
    for start, end in intervals:
        inside |= (idx >= start) & (idx <= end)
    return float(inside.mean())


def window_label(window: Window, intervals: Sequence[tuple[int, int]], min_fraction: float = 0.25) -> int:
    """1 when at least ``min_fraction`` of the window's sampled frames lie inside an interval, else 0."""
    return int(anomalous_fraction(window.frame_indices, intervals) >= min_fraction - 1e-9)


def overlapping_captions(captions: Sequence, t0: float, t1: float) -> list:
    """The captions (objects with ``start``/``end`` in seconds) that overlap ``[t0, t1)``, in time order."""
    hits = [c for c in captions if c.start < t1 and c.end > t0]
    return sorted(hits, key=lambda c: (c.start, c.end))
