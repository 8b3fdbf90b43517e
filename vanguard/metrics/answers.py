"""How often the model's text is not a valid answer, by reason (:data:`vanguard.answer.INVALID_REASONS`)."""

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
