"""The predictions format (one module owns it): what ``predict`` and ``test`` say about each subclip of a video.

A run directory holds::

    metrics.json            evaluate_frame_scores(...) (test only)
    frame_scores.npz        per-video frame scores (vanguard.metrics.scores)
    ground_truth.json       the test videos' temporal GT, when known (save_ground_truth)
    predictions/<video_id>.json   one VideoPredictions per video (write_video_predictions)
    predictions/keyframes/  optional keyframe PNGs referenced by subclips (``keyframe_png``, relative path)

A video's record leads with its ``events`` (consecutive flagged subclips merged: :mod:`vanguard.report.events`),
each with its start and end in seconds, category, peak and mean score, keyframe with boxes and one reasoning; the
``threshold`` that flagged them is recorded beside them. ``subclips`` follow.

Each subclip record: video id, start/end frame (inclusive) and seconds, anomaly score, category, boxes in pixels
of the source frame (``[x1, y1, x2, y2]`` + label, always inside the frame), reasoning, the raw model text and the
parse reason (None = valid answer); optionally ground-truth boxes and the keyframe index/PNG.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vanguard.answer import parse_answer
from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoAnnotation
from vanguard.io import write_json
from vanguard.metrics.protocols import subclip_frame_scores

FORMAT = "vanguard.predictions/2"  # /2: events and threshold (a /1 file reads with its events merged at 0.5)
READABLE = ("vanguard.predictions/1", FORMAT)
PREDICTIONS_DIR = "predictions"
GROUND_TRUTH_FILE = "ground_truth.json"


@dataclass
class PixelBox:
    """A box in pixels of the source frame (top-left origin, x first)."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str = "object"


@dataclass
class SubclipPrediction:
    video_id: str
    start_frame: int
    end_frame: int  # inclusive
    start_s: float
    end_s: float
    score: float
    category: str
    boxes: list[PixelBox] = field(default_factory=list)
    reasoning: str | None = None
    raw_text: str = ""
    parse_reason: str | None = None  # None: the text parsed as a valid answer
    keyframe: int | None = None  # frame index the boxes refer to
    keyframe_png: str | None = None  # relative to the predictions directory
    gt_boxes: list[PixelBox] | None = None


@dataclass
class Event:
    """Consecutive flagged subclips of one video, merged: what happened, when, where and why."""

    start_frame: int
    end_frame: int  # inclusive
    start_s: float
    end_s: float
    category: str
    peak_score: float
    mean_score: float
    subclips: int  # how many subclips it merges
    keyframe: int | None = None  # the frame its boxes refer to (the representative subclip's keyframe)
    keyframe_png: str | None = None  # relative to the predictions directory
    boxes: list[PixelBox] = field(default_factory=list)
    reasoning: str | None = None


@dataclass
class VideoPredictions:
    video_id: str
    fps: float
    num_frames: int
    width: int
    height: int
    path: str | None = None  # the source video, for keyframes
    subclips: list[SubclipPrediction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    threshold: float = 0.5  # the decision threshold the events were flagged with
    #: what ``predict`` predicted it with (model digest, windows, threshold, video file), so a re-run can skip it
    run: dict | None = None

    def frame_scores(self, reduce: str = "mean") -> np.ndarray:
        """Per-frame scores of the whole video (the protocol's subclip expansion)."""
        return subclip_frame_scores([(s.start_frame, s.end_frame, s.score) for s in self.subclips], self.num_frames, reduce)


def subclip_prediction(
    video_id: str,
    start_frame: int,
    end_frame: int,
    fps: float,
    width: int,
    height: int,
    score: float,
    raw_text: str,
    keyframe: int | None = None,
    keyframe_png: str | None = None,
    gt_boxes: list[PixelBox] | None = None,
    category: str | None = None,
) -> SubclipPrediction:
    """Build one record from the model's score and text: the answer is parsed and its boxes mapped to pixels.

    ``category``: the head's decided category (one decision); None takes the answer's ("invalid" if none). A
    subclip without text (no generation there) has no parse reason."""
    parsed = parse_answer(raw_text)
    boxes, parsed_category = [], "invalid"
    if parsed.answer is not None:
        parsed_category = parsed.answer.category
        for b in parsed.answer.boxes:
            x1, y1, x2, y2 = b.to_pixels(width, height)
            boxes.append(PixelBox(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), b.label))
    return SubclipPrediction(
        video_id=video_id,
        start_frame=int(start_frame),
        end_frame=int(end_frame),
        start_s=round(start_frame / fps, 3),
        end_s=round((end_frame + 1) / fps, 3),
        score=float(score),
        category=category if category is not None else parsed_category,
        boxes=boxes,
        reasoning=parsed.reasoning,
        raw_text=raw_text,
        parse_reason=parsed.reason if raw_text or category is None else None,
        keyframe=keyframe,
        keyframe_png=keyframe_png,
        gt_boxes=gt_boxes,
    )


def file_stem(video_id: str) -> str:
    """``video_id`` as a file name in one folder; an id that is a path (``../x``, ``a/b``) is refused, so a
    hostile shard or predictions file cannot make a report write outside its folder."""
    if not video_id or video_id in (".", "..") or any(c in video_id for c in "/\\\0"):
        raise ValueError(f"video id {video_id!r} is not a plain file name")
    return video_id


def write_video_predictions(run_dir: str | Path, video: VideoPredictions) -> Path:
    """Write ``predictions/<video_id>.json`` atomically."""
    path = Path(run_dir) / PREDICTIONS_DIR / f"{file_stem(video.video_id)}.json"
    write_json(path, {"format": FORMAT, **asdict(video)})
    return path


def _boxes(raw) -> list[PixelBox] | None:
    return None if raw is None else [PixelBox(**b) for b in raw]


def read_video_predictions(path: str | Path) -> VideoPredictions:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    fmt = raw.pop("format", None)
    if fmt not in READABLE:
        raise ValueError(f"{path}: not a {FORMAT} file")
    subclips = []
    for s in raw.pop("subclips"):
        s["boxes"], s["gt_boxes"] = _boxes(s["boxes"]), _boxes(s.get("gt_boxes"))
        subclips.append(SubclipPrediction(**s))
    events = [Event(**{**e, "boxes": _boxes(e.get("boxes")) or []}) for e in raw.pop("events", [])]
    video = VideoPredictions(**raw, subclips=subclips, events=events)
    if fmt != FORMAT:  # written before events: merged here, at the threshold of the time (0.5)
        from vanguard.report.events import with_events

        with_events(video, video.threshold)
    return video


def read_predictions(run_dir: str | Path) -> list[VideoPredictions]:
    """Every video's predictions in a run directory (sorted by video id); empty when there are none."""
    folder = Path(run_dir) / PREDICTIONS_DIR
    return [read_video_predictions(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def save_ground_truth(run_dir: str | Path, annotations: list[VideoAnnotation]) -> Path:
    """The test videos' temporal ground truth beside the scores, so a report can draw curves later."""
    path = Path(run_dir) / GROUND_TRUTH_FILE
    write_json(
        path,
        [
            {"video_id": a.video_id, "category": a.category, "intervals": [list(iv) for iv in a.intervals],
             "num_frames": a.num_frames, "fps": a.fps}
            for a in annotations
        ],
    )
    return path


def load_ground_truth_json(path: str | Path) -> list[VideoAnnotation]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        VideoAnnotation(r["video_id"], r.get("category", NORMAL), [tuple(iv) for iv in r.get("intervals", [])],
                        num_frames=r.get("num_frames"), fps=r.get("fps"))
        for r in raw
    ]
