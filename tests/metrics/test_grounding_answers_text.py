"""Grounding IoU, invalid-answer rates (one list, and counts merged across ranks) and ROUGE-L against hand
computations."""

from __future__ import annotations

import math

import pytest

from vanguard.answer import INVALID_REASONS, Answer, Box, render_answer
from vanguard.metrics.answers import InvalidAnswers, invalid_answer_rates
from vanguard.metrics.grounding import grounding_metrics
from vanguard.metrics.text import rouge_l


def test_grounding_by_hand():
    gt = [Box(0, 0, 100, 100), Box(500, 500, 600, 600)]
    # first gt: pred (0,0,100,50) -> IoU 0.5 exactly; second gt: no overlap -> 0; one extra hallucinated box
    pred = [Box(0, 0, 100, 50), Box(900, 900, 950, 950)]
    m = grounding_metrics([(pred, gt), ([], [Box(10, 10, 20, 20)]), ([Box(1, 1, 2, 2)], [])])
    assert m["grounding_gt_boxes"] == 3 and m["grounding_subclips"] == 2
    assert m["grounding_acc_iou50"] == pytest.approx(1 / 3)
    assert m["mean_iou"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert m["box_precision_iou50"] == pytest.approx(1 / 2)
    assert m["boxes_on_normal"] == 1
    # overlapping boxes: (0,0,100,100) vs (50,0,150,100): inter 5000, union 15000
    assert grounding_metrics([([[50, 0, 150, 100]], [[0, 0, 100, 100]])])["mean_iou"] == pytest.approx(1 / 3)


def test_invalid_rates_by_reason():
    good = render_answer(Answer(True, "Arson", (Box(1, 2, 3, 4, "fire"),)))
    texts = [good, good, "", "not json", '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [5, 1, 2, 4]}]}']
    m = invalid_answer_rates(texts)
    assert m["answers"] == 5 and m["invalid_rate"] == pytest.approx(3 / 5)
    assert m["invalid_rate/empty"] == m["invalid_rate/not_json"] == m["invalid_rate/x2_le_x1"] == pytest.approx(1 / 5)
    assert all(f"invalid_rate/{r}" in m for r in INVALID_REASONS)
    with pytest.raises(ValueError):
        invalid_answer_rates(reasons=["bogus"])


def test_no_answer_has_no_rate():
    m = invalid_answer_rates(reasons=[])
    assert m["answers"] == 0 and isinstance(m["answers"], int)
    assert math.isnan(m["invalid_rate"]) and all(math.isnan(m[f"invalid_rate/{r}"]) for r in INVALID_REASONS)


def test_invalid_counts_of_two_ranks_add_before_the_rates():
    # rank 0: 3 answers, 1 not_json; rank 1: 1 answer, empty. Averaging the two ranks' rates would give (1/3 + 1) / 2
    rank0, rank1 = InvalidAnswers(), InvalidAnswers()
    rank0.update([None, None, "not_json"])
    rank1.update(["empty"])
    rank0.merge_state(rank1)  # the sum reduction DDP's sync applies to every state
    m = {k: v.item() for k, v in rank0.compute().items()}
    assert m == invalid_answer_rates(reasons=[None, None, "not_json", "empty"])
    assert m["answers"] == 4 and m["invalid_rate"] == pytest.approx(2 / 4) and m["invalid_rate/empty"] == 0.25


def test_rouge_l_by_hand():
    # LCS("the cat sat on the mat", "the cat was on the mat") = "the cat on the mat" = 5 tokens of 6 and 6
    m = rouge_l(["the cat sat on the mat"], ["the cat was on the mat"])
    assert m["rougeL_f"] == pytest.approx(5 / 6, abs=1e-4)
    # 3 of 4 predicted tokens in order, reference 6 tokens: P = 3/4, R = 3/6
    m = rouge_l(["a man runs away"], ["a man quickly runs off somewhere"])
    p, r = 3 / 4, 3 / 6
    assert m["rougeL_precision"] == pytest.approx(p, abs=1e-4) and m["rougeL_recall"] == pytest.approx(r, abs=1e-4)
    assert m["rougeL_f"] == pytest.approx(2 * p * r / (p + r), abs=1e-4)
    assert rouge_l([None], ["something"])["rougeL_f"] == 0
