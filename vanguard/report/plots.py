"""PNG plots for the reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vanguard.metrics.protocols import BinaryCurve  # noqa: E402
from vanguard.report.predictions import PixelBox  # noqa: E402

MAX_POINTS = 4000  # curve points drawn (the curve itself has up to one point per distinct score)


def _plain(text: str) -> str:
    """Model text in a figure: no mathtext (a stray ``$`` must not break or restyle the plot)."""
    return text.replace("$", r"\$")


def _thin(*arrays: np.ndarray) -> list[np.ndarray]:
    n = len(arrays[0])
    if n <= MAX_POINTS:
        return list(arrays)
    idx = np.unique(np.r_[np.linspace(0, n - 1, MAX_POINTS).astype(int), n - 1])
    return [a[idx] for a in arrays]


def roc_pr_curves(scores: np.ndarray, labels: np.ndarray, roc_path: Path, pr_path: Path) -> tuple[Path, Path]:
    """The pooled frame-level ROC and PR curves (the same curve the metrics use)."""
    c = BinaryCurve.from_scores(scores, labels)
    tpr, fpr = np.r_[0, c.tps] / max(c.positives, 1), np.r_[0, c.fps] / max(c.negatives, 1)
    precision, recall = np.r_[1.0, c.tps / (c.tps + c.fps)], np.r_[0.0, c.tps / max(c.positives, 1)]
    for path, (x, y), (xl, yl), title in (
        (roc_path, _thin(fpr, tpr), ("false positive rate", "true positive rate"), f"ROC (AUC {c.roc_auc():.4f})"),
        (pr_path, _thin(recall, precision), ("recall", "precision"), f"PR (AP trapezoid {c.ap_pr_auc():.4f})"),
    ):
        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
        ax.plot(x, y, lw=1.5)
        if path == roc_path:
            ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel=xl, ylabel=yl, title=title, xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return roc_path, pr_path


def score_timeline(
    frame_scores: np.ndarray,
    fps: float,
    path: Path,
    intervals: Sequence[tuple[int, int]] = (),
    title: str = "",
    events: Sequence[tuple[float, float, str]] = (),
    threshold: float = 0.5,
) -> Path:
    """Anomaly score over time (seconds), ground-truth anomalous intervals shaded, the decision threshold dashed,
    and the events (start s, end s, label) marked as numbered bars along the top."""
    t = np.arange(len(frame_scores)) / fps
    fig, ax = plt.subplots(figsize=(9, 2.6), dpi=100)
    for s, e in intervals:
        ax.axvspan(s / fps, (e + 1) / fps, color="tab:red", alpha=0.2, lw=0, label="ground truth" if s == intervals[0][0] else None)
    for i, (start, end, label) in enumerate(events):
        ax.axvspan(start, end, ymin=0.9, ymax=1.0, color="tab:orange", lw=0, label="events" if i == 0 else None)
        ax.text((start + end) / 2, 0.95, _plain(f"{i + 1} {label}"), ha="center", va="center", fontsize=7,
                transform=ax.get_xaxis_transform(), clip_on=True)
    ax.plot(t, frame_scores, lw=1.2, c="tab:blue", label="anomaly score")
    ax.axhline(threshold, ls="--", c="grey", lw=0.8, label=f"threshold {threshold:g}")
    ax.set(xlabel="time (s)", ylabel="score", ylim=(-0.02, 1.02), xlim=(0, max(t[-1], 1e-3)), title=_plain(title))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)  # beside the plot: never over an event
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def keyframe_with_boxes(
    image: np.ndarray, path: Path, boxes: Sequence[PixelBox] = (), gt_boxes: Sequence[PixelBox] = (), title: str = ""
) -> Path:
    """The keyframe with predicted boxes (solid, labelled) and ground-truth boxes (dashed green)."""
    h, w = image.shape[:2]
    fig, ax = plt.subplots(figsize=(max(3.0, 4.0 * w / max(h, 1)), 4.0), dpi=100)
    ax.imshow(image)
    for b in gt_boxes:
        ax.add_patch(Rectangle((b.x1, b.y1), b.x2 - b.x1, b.y2 - b.y1, fill=False, ec="lime", lw=2, ls="--"))
    for b in boxes:
        ax.add_patch(Rectangle((b.x1, b.y1), b.x2 - b.x1, b.y2 - b.y1, fill=False, ec="red", lw=2))
        ax.text(b.x1, max(b.y1 - 2, 0), _plain(b.label), color="white", fontsize=7, va="bottom",
                bbox={"facecolor": "red", "alpha": 0.7, "pad": 1, "lw": 0})
    ax.set_axis_off()
    if title:
        ax.set_title(_plain(title), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def bar_chart(values: dict[str, float], path: Path, title: str, xlabel: str = "rate") -> Path:
    fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(values), 3) + 1), dpi=100)
    ax.barh(list(values), list(values.values()), color="tab:orange")
    ax.set(xlabel=xlabel, title=title)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
