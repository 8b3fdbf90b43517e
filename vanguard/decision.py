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


def forced_categories(decisions: Sequence[Decision]) -> list[str]:
    """The categories the constrained decoder is forced to (Normal for a normal decision)."""
    return [d.category for d in decisions]
