"""The community's frame-level protocols (vad_anchors §2), so our numbers compare with published ones.

The default protocol is described below; each peer's variant (interval ends, frame counts, snippet truncation or
padding, crop, re-weighting, AP variant) is a preset of :mod:`vanguard.metrics.presets`, chosen by ``protocol=``
(``evaluate --protocol``; docs/protocols.md). Every result names its protocol and its ``coverage`` of the test set.

Default protocol, precisely:

1. Per video, ground truth is ``VideoAnnotation.frame_labels(N)``: frame ``i`` is 1 iff ``s <= i <= e`` for an
   annotated interval (endpoints inclusive, 0-based frame numbers, the UCF-Crime file's convention).
   ``N`` is the native frame count when the annotation knows it, else the length of the video's frame scores
   (``gt_length="auto"``); with ``gt_length="scores"`` it is always the score length, which for a peer's
   per-snippet output is ``n_snippets * 16`` (the RTFM / UR-DMU / PEL4VAD ground-truth length).
2. Scores are expanded to one per frame and cut or padded (with the last score) to exactly ``N``:
   subclip scores by :func:`subclip_frame_scores` (each frame takes the **mean** of the subclips covering it by
   default — overlapping sliding windows then localise an event better than with ``max``, which dilates it by the
   window; frames no subclip covers take the nearest covered frame's score), snippet scores by
   :func:`snippet_frame_scores` (``np.repeat(scores, 16)``).
3. All videos' frames are concatenated in test-list order and every ranking metric is computed **once** on the
   pooled vectors; never per video and averaged.

Metrics (keys of :func:`evaluate_frame_scores`'s result, described in its ``"notes"``):
``auc_roc`` (UCF-Crime / ShanghaiTech), ``ap_pr_auc`` (XD-Violence variant (a): ``precision_recall_curve`` +
trapezoidal ``auc(recall, precision)``, the XD authors'), ``ap_step`` (variant (b): ``average_precision_score``),
precision / recall / F1 at 0.5 (frame positive iff score >= 0.5), the best F1 over thresholds (tuned on the test set,
hence optimistic), the false-alarm rate on normal videos at 0.5 (PEL4VAD ``cal_false_alarm``), video-level AUC and
accuracy (video score = max frame score, UR-DMU), and per-category AUC.

One reference, not a protocol metric: ``position_prior_auc``, the ROC-AUC of a content-blind score that rates each
frame by how often frames at the same relative position in the OTHER test videos are anomalous
(:func:`position_prior_scores`). Anomalies tend to sit mid-video (weakly in UCF-Crime's test set: 0.558; strongly
in SynthCrime's: ~0.84), so a model that can read where in its video a frame lies (a video-clock timestamp, a frame
number) can score well without looking at the pixels; an ``auc_roc`` near this reference says little about what the
model sees.

The ranking metrics use one exact sort-based curve (as sklearn's ``_binary_clf_curve``, ties grouped) in float64,
~0.2 s for the 1.1 M frames of UCF-Crime; torchmetrics' exact path takes ~0.5 s per metric there. Thresholded
counts are numpy (see :func:`_stats_at`). Tests check every number against sklearn to 1e-6.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np

from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoAnnotation
from vanguard.errors import VanguardError
from vanguard.metrics.presets import frame_labels, get_protocol, label_length, reweight
from vanguard.metrics.scores import ScoreError, by_video_id, check_scores
from vanguard.metrics.scores import video_id as normalise_id


class MissingScoresError(VanguardError, KeyError):
    """Test videos without scores: a figure on the rest would not be the protocol's."""

    def __str__(self) -> str:  # KeyError quotes its message
        return str(self.args[0])

SNIPPET_FRAMES = 16
THRESHOLD = 0.5

NOTES = {
    "auc_roc": "frame-level ROC-AUC, all test videos' frames pooled (one curve), sklearn roc_auc_score equivalent",
    "ap_pr_auc": "AP variant (a): precision_recall_curve + trapezoidal auc(recall, precision) (XD-Violence authors', RTFM, UR-DMU, PEL4VAD)",
    "ap_step": "AP variant (b): step-wise average_precision_score (VadCLIP)",
    "precision_at_0.5": "frame precision, positive iff score >= 0.5",
    "recall_at_0.5": "frame recall, positive iff score >= 0.5",
    "f1_at_0.5": "frame-level binary F1 (anomalous = positive), positive iff score >= 0.5",
    "f1_best": "frame-level F1 at the best threshold chosen ON THE TEST SET (optimistic)",
    "f1_best_threshold": "the threshold of f1_best (positive iff score >= it)",
    "far_normal_at_0.5": "false-alarm rate over the frames of normal videos at 0.5 (PEL4VAD cal_false_alarm)",
    "video_auc": "video-level ROC-AUC, video score = max frame score",
    "video_accuracy_at_0.5": "video-level accuracy, anomalous iff max frame score > 0.5 (UR-DMU)",
    "video_f1_at_0.5": "video-level binary F1, anomalous iff max frame score > 0.5",
    "per_category_auc": "per category: pooled frame AUC over that category's videos plus all normal videos",
    "position_prior_auc": "reference, not a model's figure: frame ROC-AUC of a content-blind score, the anomalous "
    "rate at the same relative position (1/20 of the length) in the other test videos (leave-one-video-out)",
}
POSITION_BINS = 20


def position_prior_scores(per_labels: Sequence[np.ndarray], bins: int = POSITION_BINS) -> list[np.ndarray]:
    """Per video, each frame's content-blind score: the fraction of anomalous frames in the same relative-position
    bin (``bins`` equal parts of each video's length) over all OTHER videos (leave-one-video-out, so a video's own
    labels never score it)."""
    bin_of = [np.minimum(np.arange(len(y)) * bins // max(len(y), 1), bins - 1) for y in per_labels]
    counts = [(np.bincount(b, weights=y.astype(np.float64), minlength=bins), np.bincount(b, minlength=bins))
              for b, y in zip(bin_of, per_labels)]
    pos_all = sum(c[0] for c in counts)
    tot_all = sum(c[1] for c in counts)
    return [((pos_all - pos) / np.maximum(tot_all - tot, 1))[b] for b, (pos, tot) in zip(bin_of, counts)]


# ---- expansion to frames -------------------------------------------------------------------------------------------
def subclip_frame_scores(
    subclips: Sequence[tuple[int, int, float]], num_frames: int, reduce: Literal["mean", "max"] = "mean"
) -> np.ndarray:
    """Per-frame scores of one video from its subclips ``(start_frame, end_frame inclusive, score)``.

    Each frame takes the mean (or max) of the subclips covering it; uncovered frames take the score of the nearest
    covered frame (the earlier one on a tie). Subclip ends beyond the video are clipped.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if len(subclips) == 0:
        raise ValueError("no subclips to expand")
    arr = np.asarray([(s, e, v) for s, e, v in subclips], dtype=np.float64)
    start = np.clip(arr[:, 0].astype(np.int64), 0, num_frames - 1)
    end = np.clip(arr[:, 1].astype(np.int64), 0, num_frames - 1)
    if np.any(end < start):
        raise ValueError("a subclip ends before it starts")
    values = arr[:, 2]
    count = np.zeros(num_frames + 1)
    np.add.at(count, start, 1)
    np.add.at(count, end + 1, -1)
    count = np.cumsum(count)[:num_frames]
    if reduce == "mean":
        total = np.zeros(num_frames + 1)
        np.add.at(total, start, values)
        np.add.at(total, end + 1, -values)
        out = np.cumsum(total)[:num_frames] / np.maximum(count, 1)
    elif reduce == "max":
        out = np.full(num_frames, -np.inf)
        for s, e, v in zip(start, end, values):
            np.maximum(out[s : e + 1], v, out=out[s : e + 1])
    else:
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    covered = np.flatnonzero(count > 0.5)
    if len(covered) < num_frames:  # nearest covered frame for the gaps
        pos = np.searchsorted(covered, np.arange(num_frames))
        left = covered[np.clip(pos - 1, 0, len(covered) - 1)]
        right = covered[np.clip(pos, 0, len(covered) - 1)]
        frames = np.arange(num_frames)
        nearest = np.where(np.abs(frames - left) <= np.abs(right - frames), left, right)
        out = out[nearest]
    return out


def frame_scores_from_subclips(
    subclips: Iterable[tuple[str, int, int, float]],
    num_frames: dict[str, int],
    reduce: Literal["mean", "max"] = "mean",
) -> dict[str, np.ndarray]:
    """``(video_id, start_frame, end_frame inclusive, score)`` records of a whole test set -> per-video frame scores.

    This is what the stages' test loop calls before :func:`evaluate_frame_scores` (and saves with
    :func:`vanguard.metrics.scores.save_frame_scores`). Every video in ``num_frames`` must have a subclip.
    """
    grouped: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for vid, start, end, score in subclips:
        grouped[vid].append((start, end, score))
    missing = [v for v in num_frames if v not in grouped]
    if missing:
        raise KeyError(f"{len(missing)} videos have no scored subclip, e.g. {missing[:5]}")
    return {vid: subclip_frame_scores(grouped[vid], n, reduce) for vid, n in num_frames.items()}


def snippet_frame_scores(scores: np.ndarray, snippet: int = SNIPPET_FRAMES) -> np.ndarray:
    """A peer's per-snippet scores to frames: ``np.repeat(scores, 16)``."""
    return np.repeat(np.asarray(scores, dtype=np.float64).ravel(), snippet)


def fit_length(scores: np.ndarray, n: int) -> np.ndarray:
    """Cut, or pad with the last score, to exactly ``n`` frames (vad_anchors §2.1)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if len(scores) >= n:
        return scores[:n]
    if len(scores) == 0:
        raise ValueError("empty score vector")
    return np.concatenate([scores, np.full(n - len(scores), scores[-1])])


# ---- the exact binary curve ----------------------------------------------------------------------------------------
@dataclass
class BinaryCurve:
    """Cumulative true/false positives at each distinct threshold, thresholds descending (positive iff >= t)."""

    thresholds: np.ndarray
    tps: np.ndarray
    fps: np.ndarray

    @classmethod
    def from_scores(cls, scores: np.ndarray, labels: np.ndarray) -> BinaryCurve:
        scores = np.asarray(scores, dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        return cls.from_sorted(scores[order], np.asarray(labels).astype(bool)[order])

    @classmethod
    def from_sorted(cls, s: np.ndarray, y: np.ndarray) -> BinaryCurve:
        """From scores sorted descending and their labels (a subset of a sorted array stays sorted)."""
        last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of equal scores
        tps = np.cumsum(y, dtype=np.int64)[last]
        return cls(s[last], tps, (last + 1) - tps)

    @property
    def positives(self) -> int:
        return int(self.tps[-1])

    @property
    def negatives(self) -> int:
        return int(self.fps[-1])

    def roc_auc(self) -> float:
        if self.positives == 0 or self.negatives == 0:
            return float("nan")
        tpr = np.r_[0, self.tps] / self.positives
        fpr = np.r_[0, self.fps] / self.negatives
        return float(np.trapezoid(tpr, fpr))

    def _precision_recall(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tps / (self.tps + self.fps), self.tps / self.positives

    def ap_step(self) -> float:
        """sklearn ``average_precision_score``: sum over thresholds of (R_n - R_{n-1}) P_n."""
        if self.positives == 0:
            return float("nan")
        precision, recall = self._precision_recall()
        return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))

    def ap_pr_auc(self) -> float:
        """``auc(recall, precision)`` of sklearn's ``precision_recall_curve`` (with its (recall 0, precision 1) end)."""
        if self.positives == 0:
            return float("nan")
        precision, recall = self._precision_recall()
        return float(np.trapezoid(np.r_[1.0, precision], np.r_[0.0, recall]))

    def best_f1(self) -> tuple[float, float]:
        """(best F1, its threshold) over all thresholds."""
        if self.positives == 0:
            return float("nan"), float("nan")
        f1 = 2 * self.tps / (self.tps + self.fps + self.positives)
        i = int(np.argmax(f1))
        return float(f1[i]), float(self.thresholds[i])


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    return BinaryCurve.from_scores(scores, labels).roc_auc()


def _stats_at(scores: np.ndarray, labels: np.ndarray, threshold: float, strict: bool = False) -> dict[str, int]:
    """tp/fp/tn/fn on the protocol's binarisation (>= threshold, or > for ``strict``).

    Plain numpy counts: torchmetrics' ``binary_stat_scores`` gives the same numbers (checked in the tests) but its
    torch reductions cost ~0.2 s per call on a busy 2-core machine, more than the whole rest of the protocol.
    """
    pred = scores > threshold if strict else scores >= threshold
    y = np.asarray(labels, dtype=bool)
    tp = int(np.count_nonzero(pred & y))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(y)) - tp
    return {"tp": tp, "fp": fp, "tn": len(y) - tp - fp - fn, "fn": fn}


def _f1(st: dict[str, int]) -> float:
    denom = 2 * st["tp"] + st["fp"] + st["fn"]
    return 2 * st["tp"] / denom if denom else float("nan")


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


# ---- the protocol --------------------------------------------------------------------------------------------------
def coverage(video_scores: dict[str, np.ndarray], annotations: Sequence[VideoAnnotation]) -> dict:
    """Which test videos the scores cover: ``test_videos``, ``scored``, ``missing`` (test videos without scores),
    ``not_in_ground_truth`` (scored videos the ground truth does not list), ``complete``."""
    test_ids = [normalise_id(a.video_id) for a in annotations]
    scored = {normalise_id(k) for k in video_scores}
    missing = [v for v in test_ids if v not in scored]
    known = set(test_ids)
    return {"test_videos": len(test_ids), "scored": len(test_ids) - len(missing), "missing": missing,
            "not_in_ground_truth": sorted(scored - known), "complete": not missing}


def coverage_warning(cov: dict | None) -> str | None:
    """The line a person must read when a figure does not cover the whole test set (None when it does)."""
    if not cov or cov.get("complete", True):
        return None
    missing = cov.get("missing") or []
    return (f"WARNING: these figures cover {cov['scored']} of {cov['test_videos']} test videos, not the protocol's "
            f"test set; {len(missing)} have no scores: {_listed(missing)}")


def _listed(names: Sequence[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def pooled_frame_arrays(
    video_scores: dict[str, np.ndarray],
    annotations: Sequence[VideoAnnotation],
    gt_length: Literal["auto", "scores", "annotation"] | None = None,
    allow_missing: bool = False,
    protocol: str = "default",
    dataset: str = "ucf_crime",
    per_snippet: bool = False,
) -> tuple[list[str], list[np.ndarray], list[np.ndarray], dict[str, int]]:
    """Per video, in the annotations' (test-list) order: (ids, frame scores, frame labels), lengths matched by the
    protocol's ground-truth rule (:mod:`vanguard.metrics.presets`), and a count of where the lengths came from.

    ``per_snippet``: the scores are a peer's snippet scores repeated to frames (``snippets x 16``).
    ``gt_length`` overrides the rule's length (``annotation``: the native count, an error where unknown).
    Raises :class:`MissingScoresError` naming the missing videos unless ``allow_missing`` (then they are skipped);
    scores that are NaN or infinite, or two entries of one video, are a :class:`ScoreError`.
    """
    preset = get_protocol(protocol)
    rule = preset.rule(dataset)
    if gt_length is not None:
        rule = replace(rule, length={"auto": "auto", "scores": "scores", "annotation": "native"}[gt_length])
    scores_by_id = by_video_id(video_scores.items(), "scores")
    cov = coverage(scores_by_id, annotations)
    if cov["missing"] and not allow_missing:
        raise MissingScoresError(
            f"{len(cov['missing'])} of {cov['test_videos']} test videos have no scores, so no figure of the protocol: "
            f"{_listed(cov['missing'])} (allow_missing scores the rest, flagged as a subset)")
    ids, all_scores, all_labels, sources = [], [], [], Counter()
    for ann in annotations:
        vid = normalise_id(ann.video_id)
        if vid not in scores_by_id:
            continue
        s = check_scores(vid, scores_by_id[vid], "scores")
        if gt_length == "annotation" and ann.num_frames is None:
            raise ScoreError(f"{ann.video_id}: gt_length='annotation' but the annotation has no frame count")
        n, source = label_length(ann, len(s), rule, per_snippet)
        sources[source] += 1
        ids.append(vid)
        all_scores.append(reweight(fit_length(s, n), preset))
        all_labels.append(frame_labels(ann, n, rule, dataset))
    if not ids:
        raise ScoreError("no video has both scores and ground truth")
    return ids, all_scores, all_labels, dict(sources)


def evaluate_frame_scores(
    video_scores: dict[str, np.ndarray],
    annotations: Sequence[VideoAnnotation],
    gt_length: Literal["auto", "scores", "annotation"] | None = None,
    allow_missing: bool = False,
    protocol: str = "default",
    dataset: str = "ucf_crime",
    per_snippet: bool = False,
) -> dict:
    """Every frame-level metric of the protocol on per-video frame scores (see the module docstring).

    Args:
        video_scores: video id -> one score per frame (already expanded; see :func:`subclip_frame_scores`,
            :func:`snippet_frame_scores`).
        annotations: the test set's ground truth, in test-list order.
        gt_length: override of the protocol's ground-truth length: ``auto`` (native count if known, else the score
            length), ``scores`` or ``annotation``.
        allow_missing: skip test videos without scores instead of failing; the result's ``coverage`` says which.
        protocol: a preset of :data:`vanguard.metrics.presets.PRESETS` (ground-truth rule, weighting, AP variant).
        dataset: which benchmark's rule of the protocol applies.
        per_snippet: the scores are a peer's snippet scores repeated to frames.
    """
    ids, per_scores, per_labels, length_sources = pooled_frame_arrays(
        video_scores, annotations, gt_length, allow_missing, protocol, dataset, per_snippet
    )
    preset = get_protocol(protocol)
    threshold = THRESHOLD
    ann_by_id = {normalise_id(a.video_id): a for a in annotations}
    scores, labels = np.concatenate(per_scores), np.concatenate(per_labels).astype(bool)
    order = np.argsort(-scores, kind="stable")  # one sort serves the pooled and the per-category curves
    sorted_scores, sorted_labels = scores[order], labels[order]
    curve = BinaryCurve.from_sorted(sorted_scores, sorted_labels)
    st = _stats_at(scores, labels, threshold)
    best_f1, best_t = curve.best_f1()

    normal = np.concatenate([np.full(len(s), not ann_by_id[v].anomalous) for v, s in zip(ids, per_scores)])
    normal_stats = _stats_at(scores[normal], labels[normal], threshold)

    video_max = np.array([s.max() for s in per_scores])
    video_label = np.array([ann_by_id[v].anomalous for v in ids])
    vst = _stats_at(video_max, video_label, threshold, strict=True)

    per_category = {}
    codes = sorted({ann_by_id[v].category for v in ids} | {NORMAL})  # small ints per frame, not strings
    video_code = np.array([codes.index(ann_by_id[v].category) for v in ids], dtype=np.int8)
    sorted_code = np.repeat(video_code, [len(s) for s in per_scores])[order]
    is_normal = sorted_code == codes.index(NORMAL)
    for code, cat in enumerate(codes):
        if cat != NORMAL:
            keep = is_normal | (sorted_code == code)
            per_category[cat] = BinaryCurve.from_sorted(sorted_scores[keep], sorted_labels[keep]).roc_auc()

    return {
        "n_videos": len(ids),
        "n_anomalous_videos": int(video_label.sum()),
        "n_frames": int(len(scores)),
        "n_anomalous_frames": int(labels.sum()),
        "auc_roc": curve.roc_auc(),
        "ap_pr_auc": curve.ap_pr_auc(),
        "ap_step": curve.ap_step(),
        "precision_at_0.5": _ratio(st["tp"], st["tp"] + st["fp"]),
        "recall_at_0.5": _ratio(st["tp"], st["tp"] + st["fn"]),
        "f1_at_0.5": _f1(st),
        "f1_best": best_f1,
        "f1_best_threshold": best_t,
        "far_normal_at_0.5": _ratio(normal_stats["fp"], normal_stats["fp"] + normal_stats["tn"]),
        "video_auc": roc_auc(video_max, video_label),
        "video_accuracy_at_0.5": (vst["tp"] + vst["tn"]) / len(ids),
        "video_f1_at_0.5": _f1(vst),
        "per_category_auc": per_category,
        "position_prior_auc": roc_auc(np.concatenate(position_prior_scores(per_labels)), labels),
        "ap": curve.ap_step() if preset.ap == "ap_step" else curve.ap_pr_auc(),
        "coverage": coverage(video_scores, annotations),
        "protocol": {"name": preset.name, "summary": preset.summary, "source": preset.sources.get(dataset, ""),
                     "dataset": dataset, "ground_truth_rule": asdict(preset.rule(dataset)), "ap": preset.ap,
                     "crop": preset.crop.get(dataset), "weighting": preset.weighting, "gt_length": gt_length,
                     "gt_length_sources": length_sources, "threshold": threshold,
                     "pooling": "frames of all videos concatenated"},
        "notes": {**NOTES, "ap": f"the protocol's AP ({preset.name}: {preset.ap})"},
    }
