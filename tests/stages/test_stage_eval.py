"""Evaluation pieces: IoU, generation metrics, the constrained-decoding hook, and test-time subclip scores."""

from __future__ import annotations

import json

import pytest
import torch

from vanguard.answer import INVALID_REASONS, parse_answer
from vanguard.metrics.answers import invalid_answer_rates
from vanguard.metrics.grounding import grounding_scores
from vanguard.metrics.grounding import pair_iou as box_iou
from vanguard.stages import ClassifierWarmup, GroundingStage
from vanguard.stages.evaluation import GenerationMetrics


def test_box_iou_and_grounding_scores():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    from vanguard.answer import Box

    gt = [Box(0, 0, 100, 100), Box(500, 500, 600, 600)]
    hits, miou = grounding_scores([Box(0, 0, 100, 110)], gt)
    assert hits == 0.5 and miou == pytest.approx((100 * 100 / (100 * 110)) / 2)


def test_generation_metrics_count_reasons_and_grounding():
    meta_anom = {"label": 1, "category": "Fighting", "boxes": [{"bbox_2d": [100, 100, 300, 300], "label": "person"}]}
    meta_norm = {"label": 0, "category": "Normal", "boxes": []}
    texts = [
        '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [100, 100, 300, 310], "label": "person"}]}',
        '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [700, 700, 900, 900], "label": "person"}]}',
        "not json at all",
        '{"anomaly": "no", "category": "Normal", "boxes": []}',
    ]
    metric = GenerationMetrics()
    metric.update([parse_answer(t) for t in texts], [meta_anom, meta_anom, meta_anom, meta_norm])
    out = metric.compute()
    assert out["answers"] == 4
    assert out["invalid_rate"] == pytest.approx(0.25)
    assert out["invalid_rate/not_json"] == pytest.approx(0.25)
    assert sum(float(out[f"invalid_rate/{r}"]) for r in INVALID_REASONS) == pytest.approx(0.25)
    assert out["grounding_acc"] == pytest.approx(1 / 3)  # three anomalous samples, one box found
    assert out["answer_category_acc"] == pytest.approx(3 / 4)


META_ANOM = {"label": 1, "category": "Fighting", "boxes": [{"bbox_2d": [100, 100, 300, 300], "label": "person"}]}
MIXED_TEXTS = [
    '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [100, 100, 300, 310], "label": "person"}]}',
    "",
    "not json at all",
    '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [300, 100, 100, 310], "label": "person"}]}',
    '{"anomaly": "yes", "category": "Fighting"}',
]


def _invalid_keys(values: dict) -> dict:
    return {k: float(v) for k, v in values.items() if k == "answers" or k.startswith("invalid_rate")}


def test_stage_metric_and_metrics_json_count_invalid_answers_alike():
    """The stage's logged invalid-answer rates (GenerationMetrics) and metrics.json's (invalid_answer_rates) are the
    same keys and values on the same answers."""
    metric = GenerationMetrics()
    metric.update([parse_answer(t) for t in MIXED_TEXTS], [META_ANOM] * len(MIXED_TEXTS))
    logged = _invalid_keys(metric.compute())
    assert logged == pytest.approx(invalid_answer_rates(MIXED_TEXTS))
    assert logged["answers"] == 5 and logged["invalid_rate"] == pytest.approx(4 / 5)
    assert sum(logged[f"invalid_rate/{r}"] > 0 for r in INVALID_REASONS) == 4  # four different reasons


def test_generation_metrics_sync_the_invalid_counts_across_ranks():
    """Under DDP, compute() gathers every state from every rank and sums it: the invalid counts (inherited from
    InvalidAnswers) too. A stand-in for the all-gather hands rank 0 rank 1's states in the order torchmetrics asks."""
    half = 2
    rank0, rank1 = GenerationMetrics(distributed_available_fn=lambda: True), GenerationMetrics()
    rank0.update([parse_answer(t) for t in MIXED_TEXTS[:half]], [META_ANOM] * half)
    rank1.update([parse_answer(t) for t in MIXED_TEXTS[half:]], [META_ANOM] * (len(MIXED_TEXTS) - half))
    other = iter(list(rank1.metric_state.values()))
    rank0.dist_sync_fn = lambda tensor, group=None: [tensor, next(other)]
    synced = rank0.compute()
    assert next(other, None) is None  # every state of rank 1 was gathered
    assert _invalid_keys(synced) == pytest.approx(invalid_answer_rates(MIXED_TEXTS))
    assert float(synced["grounding_acc"]) == pytest.approx(1 / 5)  # the rest of the states sync alike


def test_generation_is_constrained_by_default(backbone):
    from vanguard.decoding import AnswerConstraint
    from vanguard.stages import ReasoningStage

    (grounding,) = GroundingStage(backbone).logits_processor()
    (reasoning,) = ReasoningStage(backbone).logits_processor()
    assert isinstance(grounding, AnswerConstraint) and grounding.grammar.think == "none"
    assert isinstance(reasoning, AnswerConstraint) and reasoning.grammar.think == "required"
    assert GroundingStage(backbone, constrained=False).logits_processor() is None


def test_test_run_writes_subclip_scores(tiny_backbone_dir, fit, tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger

    from tests.stages.synth_subclips import SyntheticSubclipDataModule
    from vanguard.backbone import Backbone

    stage = ClassifierWarmup(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    logger = TensorBoardLogger(str(tmp_path), name="tb", version="stage1")
    trainer = fit(stage, tmp_path, max_steps=1, logger=logger)
    trainer.test(stage, SyntheticSubclipDataModule(stage.backbone.path, num_test=5))
    data = json.loads((tmp_path / "tb" / "stage1" / "subclip_scores.json").read_text())
    records = data["records"]
    assert data["stage"] == "ClassifierWarmup" and len(records) == 5 == len(stage.test_records)
    assert {r["video_id"] for r in records} == {f"synth{i}" for i in range(2000, 2005)}
    assert all(0.0 <= r["score"] <= 1.0 and len(r["frame_indices"]) == 8 for r in records)
    assert [r["label"] for r in records] == [0, 1, 0, 1, 0]
    assert "test/auroc" in trainer.callback_metrics and torch.isfinite(trainer.callback_metrics["test/auroc"])


def _answers_of_a_head_that_calls_everything_normal(backbone, batch, answer_decision):
    """A grounding stage whose head scores every subclip ~0 (it misses both anomalies), tested on ``batch``."""
    stage = GroundingStage(backbone, max_boxes=1, answer_decision=answer_decision)
    stage.prepare()
    stage.eval()
    with torch.no_grad():
        stage.head.net[-1].bias[0] = -30.0  # the anomaly logit
    with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):  # no trainer: its logging is skipped
        result = stage._eval_step(batch, 0, "test")
    return stage, result


def test_decision_given_answers_state_the_ground_truth_and_box_the_anomalies_the_head_missed(backbone, batch_of):
    """``answer_decision: ground_truth``: each answer states its sample's true decision and category, so an anomaly
    the head missed gets its boxes (grounding of the boxes alone); scores and the records' decisions stay the head's,
    and the one-decision checks compare each answer with what it was forced to state."""
    from vanguard.metrics.answers import decision_checks

    batch = batch_of([0, 1, 2, 3], train=False)  # odd indices: anomalous (Fighting), with a box
    labels = [m["label"] for m in batch["meta"]]
    head_stage, head = _answers_of_a_head_that_calls_everything_normal(backbone, batch, "head")
    assert [d.anomaly for d in head["decisions"]] == [False] * 4 and head["stated"] is head["decisions"]
    assert all(p.valid and not p.answer.anomaly and not p.answer.boxes for p in head["parsed"])
    assert all("forced_decision" not in r for r in head_stage.test_records)

    stage, given = _answers_of_a_head_that_calls_everything_normal(backbone, batch, "ground_truth")
    assert [d.anomaly for d in given["decisions"]] == [False] * 4  # the head's decisions are kept...
    assert [(d.anomaly, d.category) for d in given["stated"]] == [(bool(y), m["category"])
                                                                  for y, m in zip(labels, batch["meta"])]
    for parsed, meta in zip(given["parsed"], batch["meta"]):  # ...the answers state the truth's
        assert parsed.valid, parsed.reason
        assert parsed.answer.anomaly == bool(meta["label"]) and parsed.answer.category == meta["category"]
        assert bool(parsed.answer.boxes) == bool(meta["label"])  # an anomalous answer holds a box
    torch.testing.assert_close(given["scores"], head["scores"])
    records = stage.test_records
    assert [r["decision"] for r in records] == [False] * 4  # F1 and events read the head's decision
    assert [r["forced_decision"] for r in records] == [bool(y) for y in labels]
    assert decision_checks(records) == {"head_disagreements": 0, "anomalous_without_box": 0}
    values = stage.test_generation.compute()
    assert float(values["head_disagreement_rate"]) == 0.0 and float(values["answer_anomaly_acc"]) == 1.0
    assert float(head_stage.test_generation.compute()["grounding_acc"]) == 0.0  # end to end: no box, no hit


def test_decision_given_needs_the_constrained_decoder(backbone):
    from vanguard.errors import ConfigError

    with pytest.raises(ConfigError, match="answer_decision 'ground_truth'.*constrained true"):
        GroundingStage(backbone, constrained=False, answer_decision="ground_truth")
