"""The stages' torchmetrics Metric over generated answers (every state a sum, so it syncs across DDP ranks).

Invalid answers are counted by :class:`vanguard.metrics.answers.InvalidAnswers` (which this Metric extends, so its
counts are this Metric's own states and sync with the rest) and grounding is scored by
:mod:`vanguard.metrics.grounding`: the project's one definition of each.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vanguard.answer import Box, Parsed
from vanguard.decision import Decision, disagreement, missing_box
from vanguard.metrics.answers import InvalidAnswers
from vanguard.metrics.grounding import grounding_scores
from vanguard.metrics.text import repeats


def gt_boxes(meta: dict) -> list[Box]:
    """The ground-truth boxes of a sample's metadata (0..1000 on the keyframe)."""
    out = []
    for raw in meta.get("boxes", []):
        x1, y1, x2, y2 = raw["bbox_2d"]
        out.append(Box(int(x1), int(y1), int(x2), int(y2), raw.get("label", "object")))
    return out


class GenerationMetrics(InvalidAnswers):
    """Answer validity (:class:`InvalidAnswers`' ``answers``, ``invalid_rate`` and ``invalid_rate/<reason>``),
    answer accuracy, grounding on anomalous samples, and the one-decision checks: answers whose decision or category
    differs from the head's, anomalous answers without a box, reasoning texts that repeat themselves
    (:func:`vanguard.metrics.text.repeats`); each should be 0.

    ``update(parsed, metas, decisions)``: one :class:`vanguard.answer.Parsed` per sample with its metadata and the
    head's :class:`vanguard.decision.Decision`. Grounding counts only anomalous samples with ground-truth boxes; an
    invalid answer scores 0 there.
    """

    full_state_update = False
    higher_is_better = None  # accuracies up, invalid and disagreement rates down

    def __init__(self, iou_threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.iou_threshold = iou_threshold
        self.add_state("anomaly_correct", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("category_correct", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("grounded", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("grounding_hits", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("iou_sum", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("disagree", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("missing_box", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("reasoned", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("repetitive", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, parsed: Sequence[Parsed], metas: Sequence[dict], decisions: Sequence[Decision] | None = None) -> None:
        if len(parsed) != len(metas):
            raise ValueError(f"{len(parsed)} answers for {len(metas)} samples")
        super().update(p.reason for p in parsed)
        for i, (p, meta) in enumerate(zip(parsed, metas, strict=True)):
            if decisions is not None:
                self.disagree += float(disagreement(p.answer, decisions[i]))
            self.missing_box += float(missing_box(p.answer))
            if p.reasoning:
                self.reasoned += 1
                self.repetitive += float(repeats(p.reasoning))
            if p.valid:
                self.anomaly_correct += float(p.answer.anomaly == bool(meta["label"]))
                self.category_correct += float(p.answer.category == meta["category"])
            gt = gt_boxes(meta)
            if meta["label"] and gt:
                hits, iou = grounding_scores(p.answer.boxes if p.valid else (), gt, self.iou_threshold)
                self.grounded += 1
                self.grounding_hits += hits
                self.iou_sum += iou

    def compute(self) -> dict[str, torch.Tensor]:
        n = self.answers.clamp(min=1)
        g = self.grounded.clamp(min=1)
        return super().compute() | {
            "answer_anomaly_acc": self.anomaly_correct / n,
            "answer_category_acc": self.category_correct / n,
            "grounding_acc": self.grounding_hits / g,
            "grounding_miou": self.iou_sum / g,
            "head_disagreement_rate": self.disagree / n,
            "missing_box_rate": self.missing_box / n,
            "repetition_rate": self.repetitive / self.reasoned.clamp(min=1),
        }
