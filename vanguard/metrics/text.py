"""Reasoning text: ROUGE-L against the teacher's (torchmetrics ``ROUGEScore``), and degenerate repetition.

``rougeL`` needs no NLTK data (no stemmer, no sentence splitting), so this runs offline. Scores are averaged over
pairs (torchmetrics' default), F-measure reported with its precision and recall.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

REPEAT_N, REPEAT_MAX = 4, 3  # a text repeats itself when one word 4-gram occurs more than 3 times
_WORD = re.compile(r"\w+")


def repeats(text: str | None, n: int = REPEAT_N, max_count: int = REPEAT_MAX) -> bool:
    """Does any word ``n``-gram (lower-cased, punctuation ignored) occur more than ``max_count`` times?"""
    words = _WORD.findall((text or "").lower())
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return bool(grams) and max(grams.values()) > max_count


def repetition_rate(texts: Iterable[str | None]) -> dict:
    """``repetition_rate``: the share of reasoning texts (empty ones left out) in which any word 4-gram occurs more
    than 3 times (target 0), with ``repetition_texts``, how many texts were looked at."""
    texts = [t for t in texts if t and t.strip()]
    hits = sum(repeats(t) for t in texts)
    return {"repetition_rate": hits / len(texts) if texts else float("nan"), "repetition_texts": len(texts)}


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
