"""Grounding quality: accuracy at IoU 0.5 and mean IoU of predicted boxes against ground-truth boxes.

Definitions (per subclip that has ground-truth boxes, on the 0..1000 grid of its keyframe):

- each ground-truth box takes its best IoU over the subclip's predicted boxes (0 when there are none);
- ``grounding_acc_iou50`` = fraction of ground-truth boxes whose best IoU >= 0.5 (recall at IoU 0.5);
- ``mean_iou`` = mean of those best IoUs;
- ``box_precision_iou50`` = fraction of predicted boxes (on subclips with ground truth) that overlap some
  ground-truth box at IoU >= 0.5, so hallucinated extra boxes are counted;
- ``boxes_on_normal`` = predicted boxes on subclips whose ground truth has no boxes (normal subclips).

IoU is ``torchvision.ops.box_iou``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torchvision.ops import box_iou

from vanguard.answer import Box

IOU_THRESHOLD = 0.5


def _tensor(boxes: Sequence[Box | Sequence[float]]) -> torch.Tensor:
    rows = [(b.x1, b.y1, b.x2, b.y2) if isinstance(b, Box) else tuple(b)[:4] for b in boxes]
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)


def best_ious(pred: Sequence[Box | Sequence[float]], gt: Sequence[Box | Sequence[float]]) -> torch.Tensor:
    """Each ground-truth box's best IoU over the predicted boxes (0 where there are none), float64."""
    p, g = _tensor(pred), _tensor(gt)
    if len(g) == 0 or len(p) == 0:
        return torch.zeros(len(g), dtype=torch.float64)
    return box_iou(g, p).max(dim=1).values


def pair_iou(a: Box | Sequence[float], b: Box | Sequence[float]) -> float:
    """IoU of two xyxy boxes (``Box`` or 4 numbers in the same coordinates)."""
    return float(box_iou(_tensor([a]), _tensor([b]))[0, 0])


def grounding_scores(pred: Sequence[Box], gt: Sequence[Box], threshold: float = IOU_THRESHOLD) -> tuple[float, float]:
    """One subclip: (fraction of its GT boxes hit at IoU >= threshold by some predicted box, mean best IoU); the
    per-subclip form of :func:`grounding_metrics` that the stages' torchmetrics state sums over a run."""
    best = best_ious(pred, gt)
    if len(best) == 0:
        return 0.0, 0.0
    return float((best >= threshold).double().mean()), float(best.mean())


def grounding_metrics(pairs: Iterable[tuple[Sequence[Box], Sequence[Box]]]) -> dict:
    """``pairs``: per subclip, (predicted boxes, ground-truth boxes); boxes are :class:`Box` or xyxy sequences."""
    best: list[torch.Tensor] = []
    matched_pred = n_pred = boxes_on_normal = subclips = 0
    for pred, gt in pairs:
        p, g = _tensor(pred), _tensor(gt)
        if len(g) == 0:
            boxes_on_normal += len(p)
            continue
        subclips += 1
        n_pred += len(p)
        best.append(best_ious(pred, gt))
        if len(p):
            matched_pred += int((box_iou(g, p).max(dim=0).values >= IOU_THRESHOLD).sum())
    ious = torch.cat(best) if best else torch.zeros(0, dtype=torch.float64)
    nan = float("nan")
    return {
        "grounding_subclips": subclips,
        "grounding_gt_boxes": len(ious),
        "grounding_acc_iou50": float((ious >= IOU_THRESHOLD).double().mean()) if len(ious) else nan,
        "mean_iou": float(ious.mean()) if len(ious) else nan,
        "box_precision_iou50": matched_pred / n_pred if n_pred else nan,
        "boxes_on_normal": boxes_on_normal,
    }
