"""``callbacks.ExplanationWriter``: what ``python -m vanguard predict`` leaves behind, per video.

Under ``out_dir``:

- ``predictions/<video_id>.json``: the predictions format (:mod:`vanguard.report.predictions`): the video's events
  (consecutive flagged subclips merged, :mod:`vanguard.report.events`: start/end seconds, category, peak and mean
  score, keyframe with boxes, one reasoning), then per subclip its time span, anomaly score, the head's category,
  boxes in pixels of the source frame (inside the frame), reasoning;
- ``predictions/keyframes/<video_id>_<frame>.png``: each subclip's keyframe (the frame its boxes refer to);
- ``<video_id>.html``: the explanation page (:func:`vanguard.report.render.render_video_page`: the events with
  their keyframe, boxes and reasoning, a timeline with the events marked and ground truth shaded when the datamodule
  knows it, the subclip table below; model text is escaped);
- ``index.html``: every video with its events.

Predictions of all ranks are gathered and written by rank 0 at the end; throughput is printed as video-seconds per
wall-second (video duration of all inputs / wall time of the predict loop, decoding and writing included).
"""

from __future__ import annotations

import io
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from callbacks.evaluation import record_span
from vanguard.io import write_bytes


def save_png(path: Path, image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    write_bytes(path, buf.getvalue())
    return str(path)


class ExplanationWriter(BasePredictionWriter):
    """Per video: predictions JSON, keyframe PNGs and the HTML explanation page; prints the throughput.

    Args:
        out_dir: output folder (``predictions/``, ``predictions/keyframes/``, one ``<video_id>.html`` per video).
        keyframes: save each subclip's keyframe as a PNG (the page and ``report`` then need not decode videos).
        max_keyframes: events shown with their keyframe on a page (in time order).
    """

    def __init__(self, out_dir: str = "outputs/predict", keyframes: bool = True, max_keyframes: int = 12):
        super().__init__(write_interval="batch")
        self.out_dir = Path(out_dir)
        self.keyframes, self.max_keyframes = keyframes, max_keyframes
        self.rows: list[dict] = []
        self.started = 0.0
        self.pages: list[Path] = []
        self.videos: list = []

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.rows, self.pages = [], []
        self.started = time.perf_counter()

    def write_on_batch_end(self, trainer, pl_module, prediction: list[dict], batch_indices, batch: dict,
                           batch_idx: int, dataloader_idx: int) -> None:
        for row, meta in zip(prediction, batch["meta"], strict=True):
            self.rows.append({**row, **{k: meta[k] for k in ("video_path", "fps", "width", "height")}})

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        rows = self.rows
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, rows)
            rows = [r for part in gathered for r in part]
        if trainer.is_global_zero:
            self.write(rows, trainer.datamodule)
            wall = time.perf_counter() - self.started
            seconds = sum(v.num_frames / v.fps for v in self.videos)
            print(f"[predict] {len(self.videos)} videos, {len(rows)} subclips, {seconds:.1f} s of video in "
                  f"{wall:.1f} s wall: {seconds / max(wall, 1e-9):.2f} video-seconds per wall-second; "
                  f"pages in {self.out_dir}", flush=True)
        trainer.strategy.barrier("explanations_written")

    def write(self, rows: list[dict], datamodule=None) -> None:
        """Group the subclip rows by video and write JSON, keyframes and the page for each."""
        from vanguard.report.events import with_events
        from vanguard.report.predictions import (
            PREDICTIONS_DIR,
            VideoPredictions,
            subclip_prediction,
            write_video_predictions,
        )
        from vanguard.report.render import render_index, render_video_page
        from vanguard.video import decode_clip, probe

        by_video: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_video[r["video_id"]].append(r)
        pred_dir = self.out_dir / PREDICTIONS_DIR
        info = getattr(datamodule, "video_info", {}) or {}
        self.videos = []
        for vid, recs in sorted(by_video.items()):
            recs.sort(key=record_span)
            first = recs[0]
            fps, width, height = float(first["fps"]), int(first["width"]), int(first["height"])
            n = info[vid].num_frames if vid in info else probe(first["video_path"])[0]
            keyframes = [r["frame_indices"][-1] for r in recs]
            images = decode_clip(first["video_path"], sorted(set(keyframes))) if self.keyframes else None
            by_frame = dict(zip(sorted(set(keyframes)), images)) if images is not None else {}
            subclips = []
            for r, kf in zip(recs, keyframes, strict=True):
                png = None
                if kf in by_frame:
                    png = f"keyframes/{vid}_{kf:07d}.png"
                    save_png(pred_dir / png, by_frame[kf])
                start, end = record_span(r)
                subclips.append(subclip_prediction(vid, start, end, fps, width, height, r["score"], r.get("text") or "",
                                                   keyframe=kf, keyframe_png=png, category=r["pred_category"]))
            video = VideoPredictions(vid, fps, int(n), width, height, first["video_path"], subclips)
            with_events(video, float(first.get("threshold", 0.5)))
            write_video_predictions(self.out_dir, video)
            annotation = datamodule.ground_truth(vid) if hasattr(datamodule, "ground_truth") else None
            self.pages.append(render_video_page(video, self.out_dir, annotation, pred_dir, self.max_keyframes))
            self.videos.append(video)
        render_index(self.out_dir, self.videos, self.pages)
