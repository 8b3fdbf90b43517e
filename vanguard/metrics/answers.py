"""How often the model's text is not a valid answer, by reason (:data:`vanguard.answer.INVALID_REASONS`), and how
often a valid answer breaks the one-decision rule (:mod:`vanguard.decision`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from vanguard.answer import INVALID_REASONS, parse_answer


def invalid_answer_rates(texts: Iterable[str | None] = (), reasons: Iterable[str | None] | None = None) -> dict:
    """Rates over all answers: ``invalid_rate`` and ``invalid_rate/<reason>`` for every reason (zeros included).

    Pass the raw ``texts`` (parsed here with :func:`vanguard.answer.parse_answer`) or, when they were parsed
    already, their ``reasons`` (None = valid).
    """
    if reasons is None:
        reasons = [parse_answer(t).reason for t in texts]
    counts = Counter(reasons)
    total = sum(counts.values())
    unknown = set(counts) - set(INVALID_REASONS) - {None}
    if unknown:
        raise ValueError(f"unknown invalid-answer reasons {sorted(unknown)}")
    out = {"answers": total, "invalid_rate": (total - counts[None]) / total if total else float("nan")}
    for reason in INVALID_REASONS:
        out[f"invalid_rate/{reason}"] = counts[reason] / total if total else float("nan")
    return out


def decision_checks(records: Iterable[dict]) -> dict:
    """Over test records with a generated answer (``pred_answer`` JSON or None, the head's ``decision`` and
    ``pred_category``): ``head_disagreements``, valid answers whose decision or category differs from the head's,
    and ``anomalous_without_box``, anomalous answers with no box. Both are 0 under the constrained decoder."""
    from vanguard.answer import answer_from_json
    from vanguard.decision import Decision, disagreement, missing_box

    disagree = without_box = 0
    for r in records:
        answer = answer_from_json(r["pred_answer"]) if r.get("pred_answer") else None
        if answer is None or isinstance(answer, str):
            continue
        if "decision" in r:
            disagree += disagreement(answer, Decision(r["score"], bool(r["decision"]), r["pred_category"]))
        without_box += missing_box(answer)
    return {"head_disagreements": disagree, "anomalous_without_box": without_box}
