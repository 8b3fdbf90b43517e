"""How often the model's text is not a valid answer, by reason (:data:`vanguard.answer.INVALID_REASONS`), and how
often a valid answer breaks the one-decision rule (:mod:`vanguard.decision`).

:class:`InvalidAnswers` is the one count of invalid answers: the stages log it per split (through
:class:`vanguard.stages.evaluation.GenerationMetrics`, which extends it) and test runs' ``metrics.json`` and the
report page read it through :func:`invalid_answer_rates`, so the rule and the key names are the same everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import torch
from torchmetrics import Metric

from vanguard.answer import INVALID_REASONS, parse_answer


class InvalidAnswers(Metric):
    """Counts answers and invalid answers per reason; ``compute()`` gives ``answers``, ``invalid_rate`` and
    ``invalid_rate/<reason>`` for every reason (zeros included), the rates NaN when there is no answer.

    ``update(reasons)``: one :attr:`vanguard.answer.Parsed.reason` per answer (None = valid). Both states are integer
    sums, so DDP ranks (and :meth:`merge_state`) add their counts before the rates are taken.
    """

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("answers", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("invalid", torch.zeros(len(INVALID_REASONS), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, reasons: Iterable[str | None]) -> None:
        counts = Counter(reasons)
        unknown = set(counts) - set(INVALID_REASONS) - {None}
        if unknown:
            raise ValueError(f"unknown invalid-answer reasons {sorted(unknown)}")
        self.answers += sum(counts.values())
        self.invalid += torch.tensor([counts[r] for r in INVALID_REASONS], dtype=torch.long, device=self.invalid.device)

    def compute(self) -> dict[str, torch.Tensor]:
        # float64, so metrics.json keeps 3 / 5 = 0.6 (float32 would write 0.6000000238); 0 / 0 = NaN: no answer, no rate
        per_reason = self.invalid.double() / self.answers
        out = {"answers": self.answers, "invalid_rate": self.invalid.sum().double() / self.answers}
        out.update({f"invalid_rate/{reason}": per_reason[i] for i, reason in enumerate(INVALID_REASONS)})
        return out


def invalid_answer_rates(texts: Iterable[str | None] = (), reasons: Iterable[str | None] | None = None) -> dict:
    """:class:`InvalidAnswers` over one list, as plain numbers: ``answers`` (int), ``invalid_rate`` and
    ``invalid_rate/<reason>`` for every reason (floats, NaN when there is no answer).

    Pass the raw ``texts`` (parsed here with :func:`vanguard.answer.parse_answer`) or, when they were parsed
    already, their ``reasons`` (None = valid).
    """
    if reasons is None:
        reasons = [parse_answer(t).reason for t in texts]
    metric = InvalidAnswers()
    metric.update(reasons)
    return {key: value.item() for key, value in metric.compute().items()}


def decision_checks(records: Iterable[dict]) -> dict:
    """Over test records with a generated answer (``pred_answer`` JSON or None, the head's ``decision`` and
    ``pred_category``): ``head_disagreements``, valid answers whose decision or category differs from the head's,
    and ``anomalous_without_box``, anomalous answers with no box. Both are 0 under the constrained decoder. A record
    whose answer was forced to another decision (``forced_decision``/``forced_category``: ``answer_decision:
    ground_truth``) is compared with that one: the check is that the answer states what it was made to state."""
    from vanguard.answer import answer_from_json
    from vanguard.decision import Decision, disagreement, missing_box

    disagree = without_box = 0
    for r in records:
        answer = answer_from_json(r["pred_answer"]) if r.get("pred_answer") else None
        if answer is None or isinstance(answer, str):
            continue
        if "forced_decision" in r:
            disagree += disagreement(answer, Decision(r["score"], bool(r["forced_decision"]), r["forced_category"]))
        elif "decision" in r:
            disagree += disagreement(answer, Decision(r["score"], bool(r["decision"]), r["pred_category"]))
        without_box += missing_box(answer)
    return {"head_disagreements": disagree, "anomalous_without_box": without_box}
