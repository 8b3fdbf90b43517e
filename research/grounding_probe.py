"""How far grounding at IoU 0.5 is from what SynthCrime's pixels show: boxes from the camera's background.

    python -m research.grounding_probe [--data outputs/demo/data/synthcrime] [--split test]

A reference for the demo's grounding figure, with no model: on the keyframe of every anomalous subclip of the demo's
windowing that has ground-truth boxes (the subclips the stages' grounding accuracy counts), the pixels that differ
from the camera's background (the per-pixel median of the video's frames within 4 s, as
``research/handcrafted_probe.py``; the cameras are fixed) are cleaned by a morphological opening and closing and
split into connected blobs (scipy.ndimage), and each blob's bounding box is a candidate. Arms, scored by the
project's own grounding metric (``vanguard.metrics.grounding``, accuracy at IoU 0.5 = the fraction of ground-truth
boxes some predicted box overlaps at IoU >= 0.5):

- ``largest blob``, ``3 largest blobs``: what a localiser that knows the background but not the event would place;
- ``every blob``: as if the right single blob were always chosen (an upper bound for one blob per box);
- ``blobs touching the ground truth, merged``: told which blobs belong to the event (the ground-truth box is one box
  around every subject involved), their union: what background subtraction gives at best.

Also the ground-truth boxes' median width and height on Qwen3-VL's 0..1000 grid: the demo's tiny backbone sees
128x96 frames through merged tokens of 32x32 px, 250 x 333 on that grid. ``--quick`` generates a 12-video world.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.common import cli_main, quick_synthcrime, row
from research.handcrafted_probe import FOREGROUND, add_data_args, background

BENCH = "grounding_probe"


def foreground_blobs(frame: np.ndarray, background: np.ndarray) -> list[tuple[int, tuple[int, int, int, int]]]:
    """``(area, (x1, y1, x2, y2))`` in pixels (x2, y2 exclusive) of the blobs of ``frame`` (H, W, 3) that differ from
    ``background`` (H, W, 3), largest first."""
    from scipy import ndimage

    mask = np.abs(frame.astype(np.float32) - background).sum(-1) > FOREGROUND
    mask = ndimage.binary_closing(ndimage.binary_opening(mask), iterations=2)  # specks out, a body's gaps closed
    labels, _ = ndimage.label(mask)
    blobs = []
    for i, (ys, xs) in enumerate(ndimage.find_objects(labels), 1):
        blobs.append((int((labels[ys, xs] == i).sum()), (xs.start, ys.start, xs.stop, ys.stop)))
    return sorted(blobs, key=lambda b: -b[0])


def to_grid(box: tuple[int, int, int, int], width: int, height: int):
    """A pixel box (exclusive ends) as a :class:`vanguard.answer.Box` on the keyframe's 0..1000 grid."""
    from vanguard.answer import Box

    return Box.from_pixels(*box, width, height, "object")


def union(boxes: list) -> tuple[int, int, int, int]:
    """The smallest xyxy box around ``boxes``."""
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def arms_of_subclip(frames: np.ndarray, keyframe: int, gt: list) -> dict[str, list]:
    """The predicted boxes (0..1000) of every arm on one subclip's keyframe; ``gt`` its ground-truth boxes."""
    from vanguard.metrics.grounding import pair_iou as box_iou

    height, width = frames.shape[1:3]
    blobs = [b for _, b in foreground_blobs(frames[keyframe], background(frames, keyframe).astype(np.float32))]
    gt_pixels = [g.to_pixels(width, height) for g in gt]
    event = [b for b in blobs if any(box_iou(b, g) > 0 for g in gt_pixels)]  # overlaps some truth at all
    return {
        "largest blob": [to_grid(b, width, height) for b in blobs[:1]],
        "3 largest blobs": [to_grid(b, width, height) for b in blobs[:3]],
        "every blob": [to_grid(b, width, height) for b in blobs],
        "blobs touching the ground truth, merged": [to_grid(union(event), width, height)] if event else [],
    }


def measure(quick: bool = False, data: str = "outputs/demo/data/synthcrime", split: str = "test", length: int = 16,
            stride: int = 8, num_frames: int = 8, min_fraction: float = 0.25, work: str | None = None) -> list[dict]:
    from tqdm import tqdm

    from vanguard.data.catalog import load_catalog
    from vanguard.data.subclips import WindowConfig, window_label, windows
    from vanguard.metrics.grounding import grounding_metrics
    from vanguard.video import decode_clip

    if quick:
        data = quick_synthcrime(Path(work or "outputs/bench/grounding_probe"))
    config = WindowConfig(length=length, stride=stride, num_frames=num_frames, min_fraction=min_fraction)
    records = [r for r in load_catalog(data, "synthcrime", split) if r.anomalous]
    if not records:
        raise ValueError(f"{data}: no anomalous {split} videos")
    start = time.perf_counter()
    pairs: dict[str, list] = {}
    sizes = []
    for rec in tqdm(records, desc=f"anomalous {split} videos", unit="video", disable=None):
        if rec.intervals is None or rec.boxes is None:
            raise ValueError(f"{rec.path}: no temporal or box ground truth (the probe needs SynthCrime's)")
        frames = decode_clip(rec.path)
        for w in windows(len(frames), config):
            gt = list(rec.boxes.get(w.keyframe_index, []))
            if not gt or not window_label(w, rec.intervals, config.min_fraction):
                continue
            sizes += [(g.x2 - g.x1, g.y2 - g.y1) for g in gt]
            for arm, boxes in arms_of_subclip(frames, w.keyframe_index, gt).items():
                pairs.setdefault(arm, []).append((boxes, gt))
    if not pairs:
        raise ValueError(f"{data}: no anomalous {split} subclip has ground-truth boxes on its keyframe")
    seconds = time.perf_counter() - start
    rows = []
    for arm, per_subclip in pairs.items():
        m = grounding_metrics(per_subclip)
        rows.append(row(BENCH, f"grounding accuracy at IoU 0.5, {arm}", m["grounding_acc_iou50"],
                        note=f"mean IoU {m['mean_iou']:.3f}, box precision {m['box_precision_iou50']:.3f}; "
                             f"{m['grounding_gt_boxes']} boxes on {m['grounding_subclips']} subclips"))
    blobs = np.mean([len(boxes) for boxes, _ in pairs["every blob"]])
    rows.append(row(BENCH, "blobs per keyframe, mean", blobs, note="candidates the every-blob arm places"))
    w, h = np.median(np.asarray(sizes, dtype=np.float64), axis=0)
    rows.append(row(BENCH, "ground-truth box, median width on the 0..1000 grid", w,
                    note=f"median height {h:.0f}; the tiny backbone's merged token is 250 x 333; {seconds:.0f} s"))
    return rows


def add_args(ap) -> None:
    add_data_args(ap)
    ap.add_argument("--split", default="test")


def main() -> None:
    cli_main(measure, __doc__.splitlines()[0], add_args)


if __name__ == "__main__":
    main()
