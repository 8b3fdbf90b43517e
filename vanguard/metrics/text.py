"""ROUGE-L of the generated reasoning against the teacher's (torchmetrics ``ROUGEScore``).

``rougeL`` needs no NLTK data (no stemmer, no sentence splitting), so this runs offline. Scores are averaged over
pairs (torchmetrics' default), F-measure reported with its precision and recall.
"""

from __future__ import annotations

from collections.abc import Sequence


def rouge_l(predictions: Sequence[str | None], references: Sequence[str | None]) -> dict:
    """Mean ROUGE-L F/P/R over (generated, teacher) reasoning pairs; a missing generation counts as empty text."""
    from torchmetrics.text.rouge import ROUGEScore

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    pairs = [(p or "", r) for p, r in zip(predictions, references) if r]
    if not pairs:
        return {"rougeL_f": float("nan"), "rougeL_precision": float("nan"), "rougeL_recall": float("nan"), "rougeL_pairs": 0}
    scores = ROUGEScore(rouge_keys=("rougeL",))([p for p, _ in pairs], [r for _, r in pairs])
    return {
        "rougeL_f": float(scores["rougeL_fmeasure"]),
        "rougeL_precision": float(scores["rougeL_precision"]),
        "rougeL_recall": float(scores["rougeL_recall"]),
        "rougeL_pairs": len(pairs),
    }
