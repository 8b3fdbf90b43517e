"""``callbacks.FrameLevelEvaluation``: at test end, the stage's subclip records become the run's evaluation files.

Into ``trainer.log_dir`` (rank 0, after ``StageBase.on_test_epoch_end`` gathered every rank's records):

- ``frame_scores.npz``: per-video frame scores (:func:`vanguard.metrics.protocols.frame_scores_from_subclips`,
  frame counts from the dataset catalog's ``num_frames``), readable by ``python -m vanguard evaluate``;
- ``ground_truth.json``: the test videos' temporal GT (:func:`vanguard.report.predictions.save_ground_truth`);
- ``predictions/<video_id>.json``: the predictions format (:mod:`vanguard.report.predictions`), events included, so
  ``python -m vanguard report LOG_DIR`` works on the run;
- ``metrics.json``: the frame-level protocol (:func:`vanguard.metrics.protocols.evaluate_frame_scores`; its
  ``coverage`` lists test videos of the catalog that have no scored subclip, and the printed summary and the report
  carry a WARNING line when any is missing, since the figures then describe a subset) plus
  ``subclip`` (subclip-level AUC), ``generation`` (invalid-answer rates by reason, grounding accuracy at IoU 0.5
  and mean IoU against the sample's GT boxes on the 0..1000 grid, ROUGE-L of generated vs teacher reasoning, and
  the one-decision checks: answers that differ from the head's decision or category, anomalous answers without a
  box, the repetition rate of the reasoning) and ``events`` (events against the temporal GT:
  :func:`vanguard.report.events.event_counts`); ``protocol.threshold`` is the decision threshold.

The dataset (for frame counts and temporal GT) is ``annotations`` + ``dataset``, or by default the ``source`` the
annotation pipeline recorded in ``<shards>/manifest.json`` of the datamodule.

A subclip spans from its window's first frame (the start in its sample key, ``<video_id>-<start:07d>``) to its
last sampled frame (the keyframe); frames take the mean (or max) of the subclips covering them.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer

from vanguard.data.annotations import VideoAnnotation, VideoRecord
from vanguard.errors import ConfigError
from vanguard.metrics.protocols import coverage_warning

SUMMARY_KEYS = (
    "auc_roc", "ap_pr_auc", "ap_step", "f1_at_0.5", "f1_best", "precision_at_0.5", "recall_at_0.5",
    "far_normal_at_0.5", "video_auc",
)  # fmt: skip


def record_span(record: dict) -> tuple[int, int]:
    """(first frame, last frame inclusive) of a test record's subclip."""
    start = record["frame_indices"][0]
    key = record.get("key") or ""
    tail = key.rsplit("-", 1)[-1]
    if tail.isdigit():
        start = min(start, int(tail))
    return int(start), int(record["frame_indices"][-1])


def _boxes_xyxy(raw: list[dict]) -> list[list[float]]:
    return [list(b["bbox_2d"]) for b in raw or []]


def generation_metrics(records: list[dict], reasoning: bool) -> dict:
    """Invalid-answer rates, grounding (IoU 0.5 accuracy, mean IoU), the one-decision checks and, for reasoning
    stages, ROUGE-L and the repetition rate."""
    from vanguard.metrics.answers import decision_checks, invalid_answer_rates
    from vanguard.metrics.grounding import grounding_metrics
    from vanguard.metrics.text import repetition_rate, rouge_l

    generated = [r for r in records if "text" in r]
    if not generated:
        return {"answers": 0}
    out = invalid_answer_rates(reasons=[r["parse_reason"] for r in generated])
    pairs = [(_boxes_xyxy((r.get("pred_answer") or {}).get("boxes")), _boxes_xyxy(r.get("gt_boxes"))) for r in generated]
    out.update(grounding_metrics(pairs))
    out.update(decision_checks(generated))
    if reasoning:
        out.update(rouge_l([r.get("pred_reasoning") for r in generated], [r.get("reasoning") for r in generated]))
        out.update(repetition_rate(r.get("pred_reasoning") for r in generated))
    return out


def video_predictions(vid: str, records: list[dict], catalog: VideoRecord | None, num_frames: int):
    """The predictions file of one test video from its records (sorted by start frame)."""
    from vanguard.answer import Box
    from vanguard.report.predictions import PixelBox, VideoPredictions, subclip_prediction

    first = records[0]
    fps = float((catalog.fps if catalog and catalog.fps else None) or first["fps"])
    width = int((catalog.width if catalog and catalog.width else None) or first["width"])
    height = int((catalog.height if catalog and catalog.height else None) or first["height"])
    subclips = []
    for r in sorted(records, key=record_span):
        start, end = record_span(r)
        gt = []
        for b in r.get("gt_boxes") or []:
            x1, y1, x2, y2 = Box(*map(int, b["bbox_2d"]), b.get("label", "object")).to_pixels(width, height)
            gt.append(PixelBox(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), b.get("label", "object")))
        subclips.append(subclip_prediction(vid, start, end, fps, width, height, r["score"], r.get("text") or "",
                                           keyframe=r.get("keyframe"), gt_boxes=gt, category=r["pred_category"]))
    return VideoPredictions(vid, fps, num_frames, width, height, catalog.path if catalog else None, subclips)


def evaluate_test_run(
    out_dir: str | Path,
    records: list[dict],
    catalog: list[VideoRecord],
    reduce: Literal["mean", "max"] = "mean",
    reasoning: bool = False,
    info: dict | None = None,
    threshold: float = 0.5,
) -> dict:
    """Write frame_scores.npz, ground_truth.json, predictions/ and metrics.json for gathered test records;
    ``threshold``: the decision threshold the records' decisions used (events are merged with it)."""
    from vanguard.io import json_safe, write_json
    from vanguard.metrics.protocols import evaluate_frame_scores, frame_scores_from_subclips, roc_auc
    from vanguard.metrics.scores import save_frame_scores
    from vanguard.report.events import event_counts, with_events
    from vanguard.report.predictions import save_ground_truth, write_video_predictions

    out_dir = Path(out_dir)
    if not records:
        raise ValueError("no test records to evaluate (did the test loop run?)")
    by_video: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_video[r["video_id"]].append(r)
    known = {rec.video_id: rec for rec in catalog}
    unknown = sorted(set(by_video) - set(known))
    if unknown:
        warnings.warn(f"{len(unknown)} scored videos are not in the test catalog, e.g. {unknown[:3]}", stacklevel=2)
    num_frames = {}
    for vid, recs in by_video.items():
        n = known[vid].num_frames if vid in known else None
        if n is None:  # the source video could not be probed: cover up to the last scored frame
            n = max(record_span(r)[1] for r in recs) + 1
            warnings.warn(f"{vid}: no frame count in the catalog; using {n} (its last scored frame)", stacklevel=2)
        num_frames[vid] = int(n)
    spans = [(r["video_id"], *record_span(r), r["score"]) for r in records]
    frame_scores = frame_scores_from_subclips(spans, num_frames, reduce)
    save_frame_scores(out_dir / "frame_scores.npz", frame_scores)

    annotations = [
        VideoAnnotation(rec.video_id, rec.category, list(rec.intervals), num_frames.get(rec.video_id, rec.num_frames), rec.fps)
        for rec in catalog
        if rec.intervals is not None
    ]
    save_ground_truth(out_dir, annotations)
    metrics = evaluate_frame_scores(frame_scores, annotations, allow_missing=True)
    scores = np.array([r["score"] for r in records])
    labels = np.array([r["label"] for r in records])
    metrics["subclip"] = {"subclips": len(records), "auc_roc": roc_auc(scores, labels)}
    metrics["generation"] = generation_metrics(records, reasoning)
    unscored = [a.video_id for a in annotations if a.video_id not in frame_scores]
    metrics["protocol"].update({"reduce": reduce, "test_videos": len(annotations), "unscored_videos": unscored,
                                "threshold": threshold, **(info or {})})
    videos = [with_events(video_predictions(vid, recs, known.get(vid), num_frames[vid]), threshold)
              for vid, recs in by_video.items()]
    for video in videos:
        write_video_predictions(out_dir, video)
    metrics["events"] = event_counts(videos, annotations)
    metrics = json_safe(metrics)
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def summary_table(metrics: dict) -> str:
    """A compact Markdown table: frame-level protocol, subclip AUC, generation."""
    def fmt(v) -> str:
        return "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    rows = [(k, metrics.get(k)) for k in SUMMARY_KEYS]
    rows.append(("subclip auc_roc", metrics.get("subclip", {}).get("auc_roc")))
    gen = metrics.get("generation", {})
    for k in ("answers", "invalid_rate", "grounding_acc_iou50", "mean_iou", "rougeL_f", "head_disagreements",
              "anomalous_without_box", "repetition_rate"):
        if k in gen:
            rows.append((k, gen[k]))
    events = metrics.get("events") or {}
    for k in ("events", "events_on_gt", "false_alarm_events", "gt_intervals_found", "gt_intervals"):
        if k in events:
            rows.append((f"events: {k}", events[k]))
    rows += [(f"invalid_rate/{r}", v) for r, v in ((k.split("/", 1)[1], v) for k, v in gen.items() if k.startswith("invalid_rate/")) if v]
    head = f"frame-level test metrics ({metrics.get('n_videos')} videos, {metrics.get('n_frames')} frames)"
    warning = coverage_warning(metrics.get("coverage"))
    return "\n".join([*([warning] if warning else []), head, "| metric | value |", "|---|---|",
                      *(f"| {k} | {fmt(v)} |" for k, v in rows), *([warning] if warning else [])])


class FrameLevelEvaluation(Callback):
    """At test end (rank 0): frame scores, ground truth, predictions and metrics.json in ``trainer.log_dir``.

    Args:
        annotations: the dataset root whose test split was annotated (catalog: frame counts, temporal GT);
            None = the ``source.root`` in ``<datamodule.shards>/manifest.json``.
        dataset: ``ucf_crime`` | ``synthcrime`` | ``xd_violence`` | ``shanghaitech``; None = the manifest's.
        reduce: how overlapping subclip scores combine per frame: ``mean`` or ``max``.
        videos_dir: folder of the videos under the dataset root.
    """

    def __init__(
        self,
        annotations: str | None = None,
        dataset: str | None = None,
        reduce: Literal["mean", "max"] = "mean",
        videos_dir: str = "videos",
    ):
        if reduce not in ("mean", "max"):
            raise ConfigError(f"reduce must be 'mean' or 'max', got {reduce!r}")
        self.annotations, self.dataset, self.reduce, self.videos_dir = annotations, dataset, reduce, videos_dir
        self.metrics: dict | None = None

    def source(self, trainer: Trainer) -> tuple[str, str]:
        """(dataset root, dataset name): the init args, else the shards manifest's ``source``."""
        root, dataset = self.annotations, self.dataset
        if root is None or dataset is None:
            shards = getattr(trainer.datamodule, "shards", None)
            manifest = Path(shards) / "manifest.json" if shards else None
            if manifest is None or not manifest.is_file():
                raise ConfigError(
                    "callbacks.FrameLevelEvaluation: set annotations and dataset (no manifest.json beside the "
                    f"datamodule's shards{f' at {manifest}' if manifest else ''})"
                )
            src = json.loads(manifest.read_text(encoding="utf-8")).get("source") or {}
            root, dataset = root or src.get("root"), dataset or src.get("dataset")
            if not root or not dataset:
                raise ConfigError(f"{manifest}: no source root/dataset; set the callback's annotations and dataset")
        return str(root), str(dataset)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        from vanguard.data.catalog import load_catalog

        root, dataset = self.source(trainer)
        catalog = load_catalog(root, dataset, "test", videos_dir=self.videos_dir)
        out_dir = Path(trainer.log_dir or trainer.default_root_dir)
        hparams = getattr(pl_module, "hparams", {})
        info = {"stage": type(pl_module).__name__, "dataset": dataset, "annotations": root,
                "constrained": bool(hparams.get("constrained", False)),
                "answer_decision": hparams.get("answer_decision", "head")}  # ground_truth: the boxes alone
        self.metrics = evaluate_test_run(out_dir, pl_module.test_records, catalog, self.reduce,
                                         reasoning=getattr(pl_module, "target", "none") == "reasoning", info=info,
                                         threshold=float(hparams.get("threshold", 0.5)))
        print(summary_table(self.metrics) + f"\n[evaluation] wrote metrics.json, frame_scores.npz, ground_truth.json, "
              f"predictions/ to {out_dir}", flush=True)
