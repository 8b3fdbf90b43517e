"""One decision: the classification head decides whether a subclip is anomalous and which kind.

The anomaly score (sigmoid of the head's anomaly logit) against the run's recorded ``threshold`` decides anomalous
or not; an anomalous subclip takes the most likely of the ANOMALY categories (the head's Normal logit cannot
overrule the score), a normal one is Normal. The generated answer states exactly this decision (the constrained
decoder is forced to it: :meth:`vanguard.decoding.AnswerConstraint.force`); the language model writes the boxes and
the reasoning. :func:`disagreement` and :func:`missing_box` are what the metrics count, so a run shows that no
answer contradicts its score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vanguard.answer import Answer
from vanguard.categories import CATEGORIES, NORMAL

_ANOMALOUS = [i for i, c in enumerate(CATEGORIES) if c != NORMAL]


@dataclass(frozen=True)
class Decision:
    """What the head decided for one subclip."""

    score: float
    anomaly: bool
    category: str


def decide(anomaly_logits: torch.Tensor, category_logits: torch.Tensor, threshold: float = 0.5) -> list[Decision]:
    """The decisions of a batch from the head's outputs: ``(B,)`` anomaly logits, ``(B, len(CATEGORIES))``."""
    scores = torch.sigmoid(anomaly_logits.detach().float()).tolist()
    anomalous_best = category_logits.detach()[:, _ANOMALOUS].argmax(-1).tolist()
    out = []
    for score, best in zip(scores, anomalous_best, strict=True):
        anomaly = score >= threshold
        out.append(Decision(score, anomaly, CATEGORIES[_ANOMALOUS[best]] if anomaly else NORMAL))
    return out


def disagreement(answer: Answer | None, decision: Decision) -> bool:
    """Does a (parsed, valid) answer state another decision or category than the head's? An invalid answer
    (None) states none, so it does not disagree: the invalid-answer rates count it."""
    return answer is not None and (answer.anomaly != decision.anomaly or answer.category != decision.category)


def missing_box(answer: Answer | None) -> bool:
    """An anomalous answer that points at nothing."""
    return answer is not None and answer.anomaly and not answer.boxes


def ground_truth_decisions(labels: torch.Tensor, categories: torch.Tensor, head: Sequence[Decision]) -> list[Decision]:
    """The decisions the ground truth states (``answer_decision: ground_truth``, to measure grounding with the decision
    given): each sample's label, with its category (Normal for a normal sample), and the head's score kept. A sample
    whose ground truth names no decision an answer can state (no label, or an anomalous one without a known anomaly
    category) keeps the head's decision. ``labels`` and ``categories`` are the batch's (indices into CATEGORIES)."""
    out = []
    for label, index, own in zip(labels.tolist(), categories.tolist(), head, strict=True):
        category = CATEGORIES[index] if 0 <= index < len(CATEGORIES) else None
        if label == 0:
            out.append(Decision(own.score, False, NORMAL))
        elif label == 1 and category not in (None, NORMAL):
            out.append(Decision(own.score, True, category))
        else:
            out.append(own)
    return out


def forced_categories(decisions: Sequence[Decision]) -> list[str]:
    """The categories the constrained decoder is forced to (Normal for a normal decision)."""
    return [d.category for d in decisions]
