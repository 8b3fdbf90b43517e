"""Small generated videos (moving rectangles) and VideoRecords over them, SynthCrime-style ground truth.

Imported by the annotation tests and their conftest (a module of its own: ``from conftest import`` resolves to
whichever conftest.py pytest imported first when several test folders are collected together)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vanguard.answer import Box
from vanguard.data.annotations import Caption, VideoRecord
from vanguard.data.subclips import WindowConfig
from vanguard.video import encode_mp4

W, H, FPS = 96, 64, 8.0
#: the windows the annotation tests use: 16-frame windows (2 s at 8 fps), stride 8, 8 sampled frames
WINDOWS = WindowConfig(length=16, stride=8, num_frames=8, min_fraction=0.25)


def _rect(frame: np.ndarray, x: float, y: float, w: int, h: int, color) -> Box:
    x0, y0 = int(round(x)), int(round(y))
    frame[max(0, y0) : y0 + h, max(0, x0) : x0 + w] = color
    return Box.from_pixels(x0, y0, x0 + w, y0 + h, W, H, "person")


def make_video(path: Path, num_frames: int, anomalous: bool, seed: int) -> dict[int, list[Box]]:
    """Write an mp4 of moving rectangles; returns per-frame boxes of the people involved."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((num_frames, H, W, 3), dtype=np.uint8)
    frames[:] = rng.integers(40, 90, size=3, dtype=np.uint8)
    boxes = {}
    for t in range(num_frames):
        f = frames[t]
        if anomalous:  # two people approach each other, then stop and jitter (the "fight")
            meet = min(t, num_frames // 2)
            a = _rect(f, 5 + 1.5 * meet + (t > meet) * rng.integers(-2, 3), 20, 10, 20, (220, 40, 40))
            b = _rect(f, 80 - 1.5 * meet + (t > meet) * rng.integers(-2, 3), 22, 10, 20, (40, 40, 220))
            boxes[t] = [a, b]
        else:
            boxes[t] = [_rect(f, 2 + 2.0 * t % (W - 12), 30, 10, 20, (200, 200, 60))]
    path.write_bytes(encode_mp4(frames, FPS))
    return boxes


def make_records(root: Path, n_train: int = 3, n_val: int = 1, n_test: int = 2, num_frames: int = 40,
                 with_test_labels: bool = True) -> list[VideoRecord]:
    """Half anomalous (Fighting, interval frames 16..31), half normal, per split; captions and GT boxes."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    seed = 0
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        for i in range(n):
            anomalous = i % 2 == 0
            vid = f"{'Fighting' if anomalous else 'Normal'}_{split}_{i:03d}"
            path = root / f"{vid}.mp4"
            boxes = make_video(path, num_frames, anomalous, seed)
            seed += 1
            captions = [Caption(0.0, 2.0, "Two people walk towards each other on the street.")] if anomalous else [
                Caption(0.0, num_frames / FPS, "A person walks along the pavement.")]
            if anomalous:
                captions.append(Caption(2.0, 4.0, "The two people start fighting and push each other."))
            records.append(VideoRecord(
                video_id=vid, path=str(path), split=split, category="Fighting" if anomalous else "Normal",
                dataset="synthcrime", num_frames=num_frames, fps=FPS, width=W, height=H,
                intervals=([(16, 31)] if anomalous else []) if with_test_labels else None,
                captions=captions, boxes={t: [b for b in bs] for t, bs in boxes.items()} if anomalous else None,
            ))
    return records
