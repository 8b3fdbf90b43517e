"""``callbacks.ExplanationWriter``: what ``python -m vanguard predict`` leaves behind, per video.

Under ``out_dir``:

- ``predictions/<video_id>.json``: the predictions format (:mod:`vanguard.report.predictions`): the video's events
  (consecutive flagged subclips merged, :mod:`vanguard.report.events`: start/end seconds, category, peak and mean
  score, keyframe with boxes, one reasoning), then per subclip its time span, anomaly score, the head's category,
  boxes in pixels of the source frame (inside the frame), reasoning; ``run`` records what it was predicted with;
- ``predictions/keyframes/<video_id>_<frame>.png``: each subclip's keyframe (the frame its boxes refer to);
- ``<video_id>.html``: the explanation page (:func:`vanguard.report.render.render_video_page`: the events with
  their keyframe, boxes and reasoning, a timeline with the events marked and ground truth shaded when the datamodule
  knows it, the subclip table below; model text is escaped);
- ``index.html``: this run's videos with their events (pages of other runs in the folder are not listed).

A video's files are written (atomically) as soon as its last window is predicted, and its rows are dropped, so memory
stays flat in the number and length of videos and a killed run keeps every finished video. The loader splits windows
into contiguous parts per rank: a video cut between two ranks (at most ``world_size - 1`` of them) and a video with
undecodable windows are gathered and written by rank 0 at the end. SIGTERM and SIGINT stop the loop after the current
batch with what is written kept (exit 143 / 130, one line saying how to resume). A re-run of the same command skips
the videos whose predictions JSON is complete and was predicted with the same model, windows and threshold
(:func:`run_record`). Throughput is printed as video-seconds per wall-second of this run.
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from callbacks.evaluation import record_span
from vanguard.errors import ConfigError
from vanguard.io import write_bytes

#: keyframes decoded at once while a video's PNGs are written (memory stays flat in the video's length)
KEYFRAME_CHUNK = 16


class PredictStopped(SystemExit):
    """The predict loop stopped on a signal; the exit code is 128 + the signal's number."""


def save_png(path: Path, image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    write_bytes(path, buf.getvalue())
    return str(path)


def model_digest(module: torch.nn.Module) -> str:
    """A cheap fingerprint of a model's weights: every parameter's name, shape and 64 values spread over it
    (trained LoRA, head and backbone weights all change it; hashing every byte of a 4B model would take minutes)."""
    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in module.named_parameters():
            flat = p.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 64)][:64].float().cpu().numpy()
            h.update(f"{name}{tuple(p.shape)}".encode())
            h.update(sample.tobytes())
    return h.hexdigest()[:16]


def run_record(digest: str, windows: list[list[int]], video_path: str, threshold: float) -> dict:
    """What a video's predictions depend on: the model, the windows, the threshold and the video file."""
    stat = Path(video_path).stat()
    cut = hashlib.sha256(json.dumps([[w[0], w[-1], len(w)] for w in windows]).encode()).hexdigest()[:16]
    return {"model": digest, "windows": len(windows), "windows_digest": cut, "threshold": float(threshold),
            "video_bytes": stat.st_size, "video_mtime_ns": stat.st_mtime_ns}


def stored_run(path: Path) -> dict | None:
    """The ``run`` record of a complete predictions JSON, else None (absent, unreadable, older format)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run = raw.get("run") if isinstance(raw, dict) else None
    if not isinstance(run, dict) or len(raw.get("subclips") or []) != run.get("windows"):
        return None
    return run


class ExplanationWriter(BasePredictionWriter):
    """Per video, as soon as it is predicted: predictions JSON, keyframe PNGs and the HTML explanation page.

    Args:
        out_dir: output folder (``predictions/``, ``predictions/keyframes/``, one ``<video_id>.html`` per video).
        keyframes: save each subclip's keyframe as a PNG (the page and ``report`` then need not decode videos).
        max_keyframes: events shown with their keyframe on a page (in time order).
        resume: skip the videos whose predictions JSON in ``out_dir`` is complete and current.
    """

    def __init__(self, out_dir: str = "outputs/predict", keyframes: bool = True, max_keyframes: int = 12,
                 resume: bool = True):
        super().__init__(write_interval="batch")
        self.out_dir = Path(out_dir)
        self.keyframes, self.max_keyframes, self.resume = keyframes, max_keyframes, resume
        self.started = 0.0
        self.pages: list[Path] = []
        self.videos: list = []
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.expected: dict[str, int] = {}
        self.records: dict[str, dict] = {}
        self.run_ids: list[str] = []
        self.resumed: list[str] = []
        self.written = 0
        self.sigint = False
        self._old_sigint = None

    # ---- which videos this run predicts ----------------------------------------------------------------------------
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if stage != "predict" or not hasattr(datamodule, "entries"):
            return
        from vanguard.report.predictions import PREDICTIONS_DIR, file_stem

        try:  # an unwritable folder says so before the first window, not after the first video
            (self.out_dir / PREDICTIONS_DIR).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.out_dir / PREDICTIONS_DIR):
                pass
        except OSError as err:
            raise ConfigError(f"{self.out_dir}: cannot write predictions there ({err.strerror or err})") from None
        digest = model_digest(pl_module)
        threshold = float(dict(getattr(pl_module, "hparams", {})).get("threshold", 0.5))
        self.run_ids, self.resumed, self.expected, self.records = [], [], {}, {}
        if hasattr(datamodule, "skip_videos"):
            datamodule.skip_videos(set())  # a second predict on the same datamodule starts from every video
        for path, windows in datamodule.entries():
            vid = Path(path).stem
            self.run_ids.append(vid)
            self.records[vid] = run_record(digest, windows, path, threshold)
            self.expected[vid] = len(windows)
            if self.resume and stored_run(self.out_dir / PREDICTIONS_DIR / f"{file_stem(vid)}.json") == self.records[vid]:
                self.resumed.append(vid)
        if self.resumed and hasattr(datamodule, "skip_videos"):
            datamodule.skip_videos(set(self.resumed))
            if trainer.is_global_zero:
                print(f"[predict] resuming: {len(self.resumed)} of {len(self.run_ids)} videos already predicted in "
                      f"{self.out_dir} with this model and these windows, skipped", flush=True)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.pages, self.videos, self.pending, self.written = [], [], defaultdict(list), 0
        self.started = time.perf_counter()
        self.sigint = False
        self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        self.sigint = True

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._old_sigint is not None:
            signal.signal(signal.SIGINT, self._old_sigint)
            self._old_sigint = None

    # ---- the loop --------------------------------------------------------------------------------------------------
    def write_on_batch_end(self, trainer, pl_module, prediction: list[dict], batch_indices, batch: dict,
                           batch_idx: int, dataloader_idx: int) -> None:
        for row, meta in zip(prediction, batch["meta"], strict=True):
            vid = row["video_id"]
            self.pending[vid].append({**row, **{k: meta[k] for k in ("video_path", "fps", "width", "height")}})
            if len(self.pending[vid]) == self.expected.get(vid, -1):
                self.write_video(self.pending.pop(vid), trainer.datamodule)
        if trainer.received_sigterm or self.sigint:
            self.stop(trainer, signal.SIGTERM if trainer.received_sigterm else signal.SIGINT)

    def stop(self, trainer: Trainer, signum: int) -> None:
        if trainer.is_global_zero:
            self.write_index()
        done = len(self.resumed) + self.written
        print(f"vanguard predict: stopped by {signal.Signals(signum).name}; {done} of {len(self.run_ids)} videos are "
              f"written in {self.out_dir} (rank {trainer.global_rank}); run the same command again to predict the rest",
              file=sys.stderr, flush=True)
        raise PredictStopped(128 + signum)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        rest = dict(self.pending)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, rest)
            rest = defaultdict(list)
            for part in gathered:
                for vid, rows in part.items():
                    rest[vid].extend(rows)
        self.pending = defaultdict(list)
        if trainer.is_global_zero:
            for vid in sorted(rest):  # cut between ranks, or some windows undecodable (the JSON says how many)
                self.write_video(rest[vid], trainer.datamodule)
            self.write_index()
            wall = time.perf_counter() - self.started
            now = [v for v in self.videos if v.video_id not in set(self.resumed)]  # predicted by this run
            seconds = sum(v.num_frames / v.fps for v in now)
            print(f"[predict] {len(self.run_ids)} videos ({len(self.resumed)} resumed), "
                  f"{sum(len(v.subclips) for v in now)} subclips predicted, {seconds:.1f} s of video in "
                  f"{wall:.1f} s wall: {seconds / max(wall, 1e-9):.2f} video-seconds per wall-second; "
                  f"pages in {self.out_dir}", flush=True)
        trainer.strategy.barrier("explanations_written")

    # ---- writing ---------------------------------------------------------------------------------------------------
    def write_keyframes(self, vid: str, video_path: str, frames: list[int]) -> dict[int, str]:
        """Each distinct keyframe as ``keyframes/<video_id>_<frame>.png``, decoded a chunk at a time."""
        from vanguard.report.predictions import PREDICTIONS_DIR
        from vanguard.video import decode_clip

        names = {}
        unique = sorted(set(frames))
        for i in range(0, len(unique), KEYFRAME_CHUNK):
            chunk = unique[i:i + KEYFRAME_CHUNK]
            for kf, image in zip(chunk, decode_clip(video_path, chunk), strict=True):
                names[kf] = f"keyframes/{vid}_{kf:07d}.png"
                save_png(self.out_dir / PREDICTIONS_DIR / names[kf], image)
        return names

    def write_video(self, recs: list[dict], datamodule=None) -> None:
        """One video's JSON, keyframes and page from its subclip rows."""
        from vanguard.report.events import with_events
        from vanguard.report.predictions import (
            PREDICTIONS_DIR,
            VideoPredictions,
            subclip_prediction,
            write_video_predictions,
        )
        from vanguard.report.render import render_video_page
        from vanguard.video import probe

        recs.sort(key=record_span)
        first = recs[0]
        vid = first["video_id"]
        fps, width, height = float(first["fps"]), int(first["width"]), int(first["height"])
        info = getattr(datamodule, "video_info", {}) or {}
        n = info[vid].num_frames if vid in info else probe(first["video_path"])[0]
        keyframes = [r["frame_indices"][-1] for r in recs]
        pngs = self.write_keyframes(vid, first["video_path"], keyframes) if self.keyframes else {}
        subclips = []
        for r, kf in zip(recs, keyframes, strict=True):
            start, end = record_span(r)
            subclips.append(subclip_prediction(vid, start, end, fps, width, height, r["score"], r.get("text") or "",
                                               keyframe=kf, keyframe_png=pngs.get(kf), category=r["pred_category"]))
        video = VideoPredictions(vid, fps, int(n), width, height, first["video_path"], subclips,
                                 run=self.records.get(vid))
        with_events(video, float(first.get("threshold", 0.5)))
        annotation = datamodule.ground_truth(vid) if hasattr(datamodule, "ground_truth") else None
        # the page first, the JSON last: a complete JSON is what marks the video done for a re-run
        self.pages.append(render_video_page(video, self.out_dir, annotation, self.out_dir / PREDICTIONS_DIR,
                                            self.max_keyframes))
        write_video_predictions(self.out_dir, video)
        self.videos.append(video)
        self.written += 1

    def write_index(self) -> None:
        """``index.html`` over this run's videos that are done (written now or resumed), in the datamodule's order."""
        from vanguard.report.predictions import PREDICTIONS_DIR, file_stem, read_video_predictions
        from vanguard.report.render import render_index

        if not self.run_ids:  # a datamodule that does not list its videos up front: what this run wrote
            self.videos.sort(key=lambda v: v.video_id)
            self.pages = [self.out_dir / f"{v.video_id}.html" for v in self.videos]
            render_index(self.out_dir, self.videos, self.pages)
            return
        own = {v.video_id: v for v in self.videos}
        videos = []
        for vid in self.run_ids:
            path = self.out_dir / PREDICTIONS_DIR / f"{file_stem(vid)}.json"
            if vid in own:
                videos.append(own[vid])
            elif stored_run(path) == self.records.get(vid):  # resumed, or written by another rank
                videos.append(read_video_predictions(path))
        self.videos = videos
        self.pages = [self.out_dir / f"{v.video_id}.html" for v in videos]
        render_index(self.out_dir, videos, self.pages)
