"""The frame-level protocol against an independent sklearn computation on the real UCF-Crime ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    auc,
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from vanguard.data.annotations import VideoAnnotation
from vanguard.metrics.protocols import (
    BinaryCurve,
    evaluate_frame_scores,
    fit_length,
    frame_scores_from_subclips,
    position_prior_scores,
    snippet_frame_scores,
    subclip_frame_scores,
)


def _read_ucf(fixtures_dir) -> list[VideoAnnotation]:
    """Minimal independent parse: the 2-space temporal file + frame counts from UR-DMU's list."""
    counts = {}
    for line in (fixtures_dir / "ucf_crime" / "UCF_Annotation_with_nframes.urdmu.txt").read_text().splitlines():
        if line.strip():
            name, n = line.split()[:2]
            counts[name.split("/")[-1].removesuffix(".mp4")] = int(n)
    anns = []
    for line in (fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt").read_text().splitlines():
        if not line.strip():
            continue
        name, cat, s1, e1, s2, e2 = line.strip().split("  ")
        vid = name.removesuffix(".mp4")
        iv = [(int(s), int(e)) for s, e in ((s1, e1), (s2, e2)) if int(s) >= 0]
        anns.append(VideoAnnotation(vid, cat, iv, num_frames=counts[vid]))
    return anns


@pytest.fixture(scope="module")
def ucf(fixtures_dir):
    anns = _read_ucf(fixtures_dir)
    assert len(anns) == 290 and sum(a.anomalous for a in anns) == 140
    return anns


def _synthetic_scores(anns, rng, quantise: bool):
    """Noisy scores correlated with the labels; quantised to create many ties."""
    out = {}
    for a in anns:
        y = a.frame_labels().astype(float)
        s = np.clip(0.35 * y + rng.normal(0.3, 0.2, len(y)), 0, 1)
        out[a.video_id] = np.round(s, 2) if quantise else s
    return out


@pytest.mark.parametrize("quantise", [False, True])
def test_pooled_metrics_equal_sklearn_on_real_ucf_gt(ucf, quantise):
    rng = np.random.default_rng(7)
    scores = _synthetic_scores(ucf, rng, quantise)
    m = evaluate_frame_scores(scores, ucf)

    gt = np.concatenate([a.frame_labels() for a in ucf])
    pred = np.concatenate([scores[a.video_id] for a in ucf])
    assert m["n_frames"] == len(gt) == 1_111_808  # the native total of UR-DMU's list
    assert m["auc_roc"] == pytest.approx(roc_auc_score(gt, pred), abs=1e-6)
    assert m["ap_step"] == pytest.approx(average_precision_score(gt, pred), abs=1e-6)
    p, r, _ = precision_recall_curve(gt, pred)
    assert m["ap_pr_auc"] == pytest.approx(auc(r, p), abs=1e-6)
    assert m["ap_pr_auc"] != pytest.approx(m["ap_step"], abs=1e-9)  # the two variants really differ
    hard = (pred >= 0.5).astype(int)
    assert m["f1_at_0.5"] == pytest.approx(f1_score(gt, hard), abs=1e-6)
    assert m["precision_at_0.5"] == pytest.approx(precision_score(gt, hard), abs=1e-6)
    assert m["recall_at_0.5"] == pytest.approx(recall_score(gt, hard), abs=1e-6)
    f1_curve = 2 * p * r / np.maximum(p + r, 1e-300)
    assert m["f1_best"] == pytest.approx(f1_curve.max(), abs=1e-6)
    assert m["f1_best"] == pytest.approx(f1_score(gt, (pred >= m["f1_best_threshold"]).astype(int)), abs=1e-6)

    normal = np.concatenate([np.full(a.num_frames, not a.anomalous) for a in ucf])
    assert m["far_normal_at_0.5"] == pytest.approx(hard[normal].mean(), abs=1e-9)

    vmax = np.array([scores[a.video_id].max() for a in ucf])
    vlab = np.array([a.anomalous for a in ucf])
    assert m["video_auc"] == pytest.approx(roc_auc_score(vlab, vmax), abs=1e-6)
    assert m["video_accuracy_at_0.5"] == pytest.approx(((vmax > 0.5) == vlab).mean(), abs=1e-9)

    assert set(m["per_category_auc"]) == {a.category for a in ucf} - {"Normal"}
    keep = [a for a in ucf if a.category in ("Arson", "Normal")]
    ref = roc_auc_score(
        np.concatenate([a.frame_labels() for a in keep]), np.concatenate([scores[a.video_id] for a in keep])
    )
    assert m["per_category_auc"]["Arson"] == pytest.approx(ref, abs=1e-6)


def test_position_prior_is_leave_one_video_out_and_reads_only_the_position():
    """Frames are scored by the anomalous rate of the same 1/20 of the length in the OTHER videos: mid-video
    anomalies give the prior a high AUC with no score at all; a video's own labels never score it."""
    mid = [VideoAnnotation(f"A{i}", "Fighting", [(40 + i, 110 - i)], num_frames=160) for i in range(10)]
    normal = [VideoAnnotation(f"N{i}", num_frames=100 + 10 * i) for i in range(10)]
    flat = {a.video_id: np.zeros(a.num_frames) for a in mid + normal}
    m = evaluate_frame_scores(flat, mid + normal)
    assert m["auc_roc"] == 0.5 and m["position_prior_auc"] > 0.75

    labels = [a.frame_labels() for a in mid + normal]
    prior = position_prior_scores(labels)
    bin_of = lambda n: np.minimum(np.arange(n) * 20 // n, 19)  # noqa: E731
    # frame 80 of A0 (bin 10): the anomalous fraction of bin 10 over the other 19 videos, by hand
    others = [(y, bin_of(len(y))) for y in labels[1:]]
    hand = sum(y[b == 10].sum() for y, b in others) / sum((b == 10).sum() for _, b in others)
    assert prior[0][80] == pytest.approx(hand)
    # one anomalous video among normal ones: nothing else is anomalous anywhere, so its prior is 0
    alone = position_prior_scores([mid[0].frame_labels()] + [a.frame_labels() for a in normal])
    assert not alone[0].any()


def test_position_prior_on_the_real_ucf_crime_test_set(ucf):
    """The content-blind reference on UCF-Crime's own 290 test videos (native frame counts): recorded in the README."""
    m = evaluate_frame_scores({a.video_id: np.zeros(a.num_frames) for a in ucf}, ucf)
    assert 0.5 < m["position_prior_auc"] < 0.8
    print(f"UCF-Crime position_prior_auc {m['position_prior_auc']:.4f}")


def test_pooled_is_not_the_mean_of_per_video_aucs(ucf):
    rng = np.random.default_rng(1)
    anomalous = [a for a in ucf if a.anomalous][:20]
    scores = {}
    for i, a in enumerate(anomalous):  # each video ranks well internally, but offsets differ across videos
        y = a.frame_labels().astype(float)
        scores[a.video_id] = 0.2 * y + rng.normal(0, 0.05, len(y)) + 0.3 * (i % 3)
    pooled = evaluate_frame_scores(scores, anomalous)["auc_roc"]
    per_video = np.mean([roc_auc_score(a.frame_labels(), scores[a.video_id]) for a in anomalous])
    assert per_video > 0.95 and pooled < per_video - 0.05


def test_peer_snippet_scores_use_snippet_length_ground_truth(ucf):
    """RTFM convention: N = n_snippets * 16 (a video of 8096 frames with 505 snippets gets 8080 labels)."""
    rng = np.random.default_rng(3)
    sub = ucf[:5] + ucf[-5:]
    snippets = {a.video_id: rng.random(a.num_frames // 16 - 1) for a in sub}
    m = evaluate_frame_scores({k: snippet_frame_scores(v) for k, v in snippets.items()}, sub, gt_length="scores")
    gt = np.concatenate([a.frame_labels(len(snippets[a.video_id]) * 16) for a in sub])
    pred = np.concatenate([np.repeat(snippets[a.video_id], 16) for a in sub])
    assert m["n_frames"] == len(gt)
    assert m["auc_roc"] == pytest.approx(roc_auc_score(gt, pred), abs=1e-6)


def test_missing_videos_fail_loudly(ucf):
    scores = {a.video_id: np.zeros(a.num_frames) for a in ucf[1:]}
    with pytest.raises(KeyError, match="1 of 290"):
        evaluate_frame_scores(scores, ucf)
    assert evaluate_frame_scores(scores, ucf, allow_missing=True)["n_videos"] == 289


def test_subclip_expansion_mean_max_and_gaps():
    # frames 0..9; subclips [2,5]=0.2 and [4,7]=0.8; frames 0,1 and 8,9 uncovered
    sub = [(2, 5, 0.2), (4, 7, 0.8)]
    mean = subclip_frame_scores(sub, 10, "mean")
    np.testing.assert_allclose(mean, [0.2, 0.2, 0.2, 0.2, 0.5, 0.5, 0.8, 0.8, 0.8, 0.8])
    mx = subclip_frame_scores(sub, 10, "max")
    np.testing.assert_allclose(mx, [0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    # a gap in the middle: frames 4,5 take the nearest covered frame (3 -> 0.1, 6 -> 0.9); tie goes left
    gap = subclip_frame_scores([(0, 3, 0.1), (6, 9, 0.9)], 10)
    np.testing.assert_allclose(gap, [0.1] * 5 + [0.9] * 5)
    gap = subclip_frame_scores([(0, 3, 0.1), (7, 9, 0.9)], 10)
    np.testing.assert_allclose(gap[4:7], [0.1, 0.1, 0.9])  # frame 5 is 2 from both: tie -> left


def test_fit_length_and_snippets():
    np.testing.assert_array_equal(snippet_frame_scores(np.array([0.1, 0.9]), 2), [0.1, 0.1, 0.9, 0.9])
    np.testing.assert_array_equal(fit_length(np.array([1.0, 2.0]), 4), [1, 2, 2, 2])
    np.testing.assert_array_equal(fit_length(np.arange(5.0), 3), [0, 1, 2])


def test_curve_degenerate_cases():
    c = BinaryCurve.from_scores(np.array([0.1, 0.2]), np.array([0, 0]))
    assert np.isnan(c.roc_auc()) and np.isnan(c.ap_step())
    c = BinaryCurve.from_scores(np.array([0.5, 0.5, 0.5]), np.array([1, 0, 1]))
    assert c.roc_auc() == pytest.approx(0.5)


def test_threshold_counts_match_torchmetrics():
    import torch
    from torchmetrics.functional.classification import binary_stat_scores

    from vanguard.metrics.protocols import _stats_at

    rng = np.random.default_rng(0)
    s, y = np.round(rng.random(5000), 1), rng.random(5000) < 0.3
    ours = _stats_at(s, y, 0.5)
    tp, fp, tn, fn, _ = binary_stat_scores(torch.from_numpy(s >= 0.5).long(), torch.from_numpy(y).long()).tolist()
    assert ours == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


def test_frame_scores_from_subclip_records():
    recs = [("a", 0, 3, 0.2), ("b", 0, 1, 0.7), ("a", 2, 5, 0.6)]
    out = frame_scores_from_subclips(recs, {"a": 6, "b": 3})
    np.testing.assert_allclose(out["a"], [0.2, 0.2, 0.4, 0.4, 0.6, 0.6])
    np.testing.assert_allclose(out["b"], [0.7, 0.7, 0.7])
    with pytest.raises(KeyError, match="1 videos"):
        frame_scores_from_subclips(recs, {"a": 6, "c": 4})
