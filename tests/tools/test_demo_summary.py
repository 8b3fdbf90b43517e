"""The demo's closing summary: the per-stage table from each test's metrics.json and the position reference."""

from __future__ import annotations

import json

import numpy as np

from vanguard.data.annotations import VideoAnnotation
from vanguard.metrics.protocols import evaluate_frame_scores
from vanguard.tools.demo import summary


def _write_metrics(run, metrics: dict) -> None:
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_summary_reads_every_stage_and_prints_the_position_reference(tmp_path):
    rng = np.random.default_rng(0)
    anns = [VideoAnnotation(f"A{i}", "Fighting", [(40, 100)], num_frames=160) for i in range(6)]
    anns += [VideoAnnotation(f"N{i}", num_frames=150) for i in range(6)]
    flat = evaluate_frame_scores({a.video_id: rng.random(a.num_frames) for a in anns}, anns)
    tb = tmp_path / "tensorboard" / "synthcrime"
    _write_metrics(tb / "stage1", flat)
    _write_metrics(tb / "stage2", dict(flat, generation={"grounding_acc_iou50": 0.25, "invalid_rate": 0.0}))
    _write_metrics(tb / "stage3", dict(flat, generation={"grounding_acc_iou50": 0.5, "invalid_rate": 0.0,
                                                         "rougeL_f": 0.4, "head_disagreements": 0,
                                                         "repetition_rate": 0.0}))
    _write_metrics(tb / "stage3_unconstrained", dict(flat, generation={"invalid_rate": 0.125, "head_disagreements": 7,
                                                                       "repetition_rate": 0.25}))
    _write_metrics(tb / "stage3_decision_given", dict(flat, generation={"grounding_acc_iou50": 0.75, "invalid_rate": 0.0,
                                                                        "rougeL_f": 0.3, "head_disagreements": 0,
                                                                        "repetition_rate": 0.0}))

    text, payload = summary(tb, 1140.0, {"fit stage1": 74.0, "report": 0.0})
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| stage")}
    assert set(rows) == {"stage", "stage1", "stage2", "stage3", "stage3_unconstrained", "stage3_decision_given"}
    assert f"| {flat['auc_roc']:.3f} |" in rows["stage1"] and "| 0.500 | 0.000 | 0.400 | 0.000 | 0.000 |" in rows["stage3"]
    assert rows["stage3_unconstrained"].endswith("| - | 0.125 | - | 7.000 | 0.250 |")  # answers only: no frame metrics
    assert payload["metrics"]["stage2"]["ground@0.5"] == 0.25
    # the decision given: the boxes' grounding beside stage 3's end to end, answer figures only (no frame metrics)
    assert rows["stage3_decision_given"] == "| stage3_decision_given |" + " - |" * 6 + " 0.750 | 0.000 | - | 0.000 | - |"
    assert payload["metrics"]["stage3_decision_given"]["ground@0.5"] == 0.75
    assert "stage3_decision_given = stage 3's answers forced to\nthe ground truth's decision" in text
    assert payload["metrics"]["stage1"]["video AUC"] == flat["video_auc"]
    # mid-video anomalies: the content-blind reference is high while random scores sit near 0.5
    assert payload["position_prior_auc"] == flat["position_prior_auc"] > 0.75
    assert f"reaches ROC-AUC {flat['position_prior_auc']:.3f}" in text
    assert "total time: 19.0 min (steps run this time: 1)" in text


def test_summary_without_metrics_says_nothing_it_does_not_know(tmp_path):
    text, payload = summary(tmp_path, 60.0, {})
    assert "content-blind reference" not in text and payload["position_prior_auc"] is None
    assert all(v is None for stage in payload["metrics"].values() for v in stage.values())
