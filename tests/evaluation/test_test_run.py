"""`test` end to end on a tiny run: callbacks.FrameLevelEvaluation writes metrics.json, frame scores, ground truth
and predictions (the report CLI then works on the run), with numbers checked against an independent computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lightning.pytorch import Trainer
from sklearn.metrics import average_precision_score, roc_auc_score

from callbacks.evaluation import FrameLevelEvaluation, record_span
from datamodules import SubclipDataModule
from vanguard.answer import INVALID_REASONS
from vanguard.backbone import Backbone
from vanguard.metrics.scores import load_frame_scores
from vanguard.report.predictions import read_predictions
from vanguard.stages import ReasoningStage

pytestmark = pytest.mark.slow  # a tiny-model test run with generation: ~20-50 s each on a shared 2-core machine


def _run_test(tiny_backbone_dir, synth_test_set, out, constrained: bool, callback=None, max_new_tokens=128,
              **stage_args):
    stage = ReasoningStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64),
                           max_new_tokens=max_new_tokens, constrained=constrained, **stage_args)
    data = SubclipDataModule(str(synth_test_set["shards"]), str(tiny_backbone_dir), frame_pixels=64 * 64,
                             num_frames=8, batch_size=6, num_workers=0)
    callback = callback or FrameLevelEvaluation()
    trainer = Trainer(default_root_dir=str(out), logger=False, accelerator="cpu", devices=1,
                      enable_checkpointing=False, enable_progress_bar=False, callbacks=[callback])
    with pytest.warns(UserWarning, match="no callbacks.Curriculum"):
        trainer.test(stage, data)
    return stage, callback


@pytest.fixture(scope="module")
def test_run(tiny_backbone_dir, synth_test_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("test_run")
    stage, callback = _run_test(tiny_backbone_dir, synth_test_set, out, constrained=True)
    return out, stage, callback


def test_metrics_match_an_independent_frame_level_computation(test_run, synth_test_set):
    out, stage, _ = test_run
    m = json.loads((out / "metrics.json").read_text())
    scores = load_frame_scores(out / "frame_scores.npz")
    assert set(scores) == set(synth_test_set["categories"]) and m["n_videos"] == 4
    # independent expansion: mean of the covering subclips, uncovered frames (the 48-frame sources' last frame
    # of each 16-frame window) take the nearest earlier covered frame
    gt, pred = [], []
    for vid, cat in synth_test_set["categories"].items():
        n = 48
        acc, cnt = np.zeros(n), np.zeros(n)
        for r in (r for r in stage.test_records if r["video_id"] == vid):
            s, e = record_span(r)
            acc[s : e + 1] += r["score"]
            cnt[s : e + 1] += 1
        frame = np.array([acc[i] / cnt[i] if cnt[i] else acc[i - 1] / cnt[i - 1] for i in range(n)])
        assert np.allclose(scores[vid], frame, atol=1e-6)
        y = np.zeros(n)
        if cat != "Normal":
            y[16:41] = 1
        gt.append(y)
        pred.append(frame)
    gt, pred = np.concatenate(gt), np.concatenate(pred)
    assert m["n_frames"] == len(gt) == 4 * 48
    assert m["auc_roc"] == pytest.approx(roc_auc_score(gt, pred), abs=1e-6)
    assert m["ap_step"] == pytest.approx(average_precision_score(gt, pred), abs=1e-6)
    assert "variant (a)" in m["notes"]["ap_pr_auc"] and "variant (b)" in m["notes"]["ap_step"]
    for key in ("f1_at_0.5", "f1_best", "precision_at_0.5", "recall_at_0.5", "far_normal_at_0.5"):
        assert key in m
    assert set(m["per_category_auc"]) == {c for c in synth_test_set["categories"].values() if c != "Normal"}
    labels = [r["label"] for r in stage.test_records]
    assert m["subclip"]["auc_roc"] == pytest.approx(roc_auc_score(labels, [r["score"] for r in stage.test_records]))
    assert m["protocol"]["constrained"] is True and m["protocol"]["unscored_videos"] == []


def test_generation_metrics_are_reported(test_run):
    out, stage, _ = test_run
    gen = json.loads((out / "metrics.json").read_text())["generation"]
    assert gen["answers"] == len(stage.test_records) == 12
    assert all(f"invalid_rate/{r}" in gen for r in INVALID_REASONS)
    reasons = [r["parse_reason"] for r in stage.test_records]
    assert gen["invalid_rate"] == pytest.approx(sum(r is not None for r in reasons) / len(reasons))
    assert "grounding_acc_iou50" in gen and "mean_iou" in gen and gen["grounding_subclips"] == 6
    assert gen["rougeL_pairs"] == 12 and gen["rougeL_f"] is not None
    # one decision: every answer states the head's decision and category; an anomalous one holds a box
    assert gen["head_disagreements"] == 0 and gen["anomalous_without_box"] == 0
    for r in stage.test_records:
        assert (r["pred_answer"]["anomaly"] == "yes") == r["decision"] == (r["score"] >= 0.5)
        assert r["pred_answer"]["category"] == r["pred_category"]
    assert gen["repetition_texts"] == 12 and 0.0 <= gen["repetition_rate"] <= 1.0


def test_events_are_counted_against_the_ground_truth(test_run, synth_test_set):
    out, stage, _ = test_run
    m = json.loads((out / "metrics.json").read_text())
    events, videos = m["events"], read_predictions(out)
    assert m["protocol"]["threshold"] == 0.5
    assert events["videos"] == 4 and events["events"] == sum(len(v.events) for v in videos)
    normal = [v for v in videos if synth_test_set["categories"][v.video_id] == "Normal"]
    assert events["false_alarm_events"] == sum(len(v.events) for v in normal)
    assert events["events_on_gt"] + events["events_elsewhere"] + events["false_alarm_events"] == events["events"]
    for v in videos:  # each event spans flagged subclips only, and its category is the head's
        flagged = [s for s in v.subclips if s.score >= 0.5]
        for e in v.events:
            inside = [s for s in v.subclips if e.start_frame <= s.start_frame and s.end_frame <= e.end_frame]
            assert len(inside) == e.subclips and all(s.score >= 0.5 for s in inside)
            assert e.category in {s.category for s in inside} and e.category != "Normal"
        assert sum(e.subclips for e in v.events) == len(flagged)


def test_predictions_and_ground_truth_make_a_report(test_run, synth_test_set):
    from vanguard.tools.report_cli import main as report_main

    out, stage, _ = test_run
    videos = read_predictions(out)
    assert [v.video_id for v in videos] == sorted(synth_test_set["categories"])
    for v in videos:
        assert v.num_frames == 48 and (v.width, v.height) == (96, 64) and len(v.subclips) == 3
        for s in v.subclips:
            assert all(0 <= b.x1 <= b.x2 <= 96 and 0 <= b.y1 <= b.y2 <= 64 for b in s.boxes + (s.gt_boxes or []))
            assert s.raw_text
    assert any(s.gt_boxes for v in videos for s in v.subclips)
    gt = json.loads((out / "ground_truth.json").read_text())
    assert {g["video_id"]: g["intervals"] for g in gt}["synth_test_001"] == [[16, 40]]
    report_main([str(out), "--video_pages", "true"])
    page = (out / "report" / "report.html").read_text()
    assert "Frame-level protocol" in page and "Invalid answers" in page and (out / "report" / "figures" / "roc.png").is_file()
    assert len(list((out / "report" / "videos").glob("*.html"))) == 4


def test_explicit_annotations_and_max_reduce(tiny_backbone_dir, synth_test_set, tmp_path, capsys):
    cb = FrameLevelEvaluation(annotations=str(synth_test_set["root"]), dataset="synthcrime", reduce="max")
    stage, cb = _run_test(tiny_backbone_dir, synth_test_set, tmp_path, constrained=False, callback=cb,
                          max_new_tokens=16)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["protocol"]["reduce"] == "max" and m["protocol"]["constrained"] is False
    assert m == cb.metrics
    # the stage's logged invalid-answer rates and metrics.json's agree: the same keys, the same answers counted
    # (16 unconstrained tokens of a random tiny model never make a valid answer)
    gen, logged = m["generation"], stage.trainer.callback_metrics
    rates = {k: v for k, v in gen.items() if k.startswith("invalid_rate")}
    assert gen["answers"] == len(stage.test_records) and rates["invalid_rate"] == 1.0
    assert len(rates) == len(INVALID_REASONS) + 1
    assert {k: float(logged[f"test/{k}"]) for k in rates} == pytest.approx(rates)
    assert "frame-level test metrics (4 videos, 192 frames)" in capsys.readouterr().out  # the summary table
    frames = load_frame_scores(tmp_path / "frame_scores.npz")
    r = next(r for r in stage.test_records if r["video_id"] == "synth_test_000")
    s, e = record_span(r)
    assert frames["synth_test_000"][s : e + 1].min() >= r["score"] - 1e-6  # max over covering subclips


def test_decision_given_answers_state_the_truth_while_scores_and_decisions_stay_the_heads(tiny_backbone_dir,
                                                                                          synth_test_set, tmp_path):
    """``answer_decision: ground_truth``: every answer states its subclip's true decision and category (an anomalous
    one with a box), metrics.json says so, and its one-decision checks compare with what was forced."""
    stage, _ = _run_test(tiny_backbone_dir, synth_test_set, tmp_path, constrained=True, max_new_tokens=64,
                         answer_decision="ground_truth")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["protocol"]["answer_decision"] == "ground_truth"
    gen = m["generation"]
    assert gen["answers"] == 12 and gen["grounding_subclips"] == 6
    assert gen["head_disagreements"] == 0 and gen["anomalous_without_box"] == 0
    for r in stage.test_records:
        assert (r["pred_answer"]["anomaly"] == "yes") == bool(r["label"]) == r["forced_decision"]
        assert r["pred_answer"]["category"] == r["category"] == r["forced_category"]
        assert bool(r["pred_answer"]["boxes"]) == bool(r["label"])
        assert r["decision"] == (r["score"] >= 0.5)  # F1 and events: the head's
