"""`python -m vanguard evaluate` on saved scores (ours and a peer's per-snippet arrays) for the three benchmarks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from vanguard.metrics.ground_truth import read_frame_counts, read_ucf_temporal
from vanguard.metrics.scores import load_frame_scores, save_frame_scores
from vanguard.tools.evaluate_cli import main


@pytest.fixture(scope="module")
def ucf_gt(fixtures_dir):
    counts = read_frame_counts(fixtures_dir / "ucf_crime" / "UCF_Annotation_with_nframes.urdmu.txt")
    return read_ucf_temporal(fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt", counts)


def test_ucf_reader_matches_the_file(ucf_gt):
    assert len(ucf_gt) == 290 and ucf_gt[0].video_id == "Abuse028_x264" and ucf_gt[0].intervals == [(165, 240)]
    assert sum(a.num_frames for a in ucf_gt) == 1_111_808
    assert sum(not a.anomalous for a in ucf_gt) == 150


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_evaluate_our_frame_scores(tmp_path, fixtures_dir, ucf_gt, fmt):
    rng = np.random.default_rng(0)
    sub = ucf_gt[::10]  # 29 videos keep the json variant quick
    scores = {a.video_id: np.clip(0.3 * a.frame_labels() + rng.random(a.num_frames) * 0.7, 0, 1) for a in sub}
    path = save_frame_scores(tmp_path / f"scores.{fmt}", scores)
    assert set(load_frame_scores(path)) == set(scores)
    ucf = fixtures_dir / "ucf_crime"
    main([str(path), str(ucf / "Temporal_Anomaly_Annotation.txt"), "--frame_counts",
          str(ucf / "UCF_Annotation_with_nframes.urdmu.txt"), "--allow_missing", "true"])
    m = json.loads((tmp_path / "metrics.json").read_text())
    gt = np.concatenate([a.frame_labels() for a in sub])
    pred = np.concatenate([load_frame_scores(path)[a.video_id] for a in sub])
    assert m["n_videos"] == 29 and m["n_frames"] == len(gt)
    assert m["auc_roc"] == pytest.approx(roc_auc_score(gt, pred), abs=1e-6)
    assert "AP variant (a)" in m["notes"]["ap_pr_auc"] and "variant (b)" in m["notes"]["ap_step"]


def test_evaluate_peer_snippets_with_crops(tmp_path, fixtures_dir, ucf_gt):
    rng = np.random.default_rng(1)
    peer = tmp_path / "peer"
    peer.mkdir()
    means = {}
    for a in ucf_gt:
        n_snip = a.num_frames // 16
        crops = rng.random((10, n_snip))
        for c in range(10):
            np.save(peer / f"{a.video_id}__{c}.npy", crops[c])
        means[a.video_id] = crops.mean(0)
    out = tmp_path / "m.json"
    main([str(peer), str(fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt"), "--out", str(out)])
    m = json.loads(out.read_text())
    gt = np.concatenate([a.frame_labels(len(means[a.video_id]) * 16) for a in ucf_gt])
    pred = np.concatenate([np.repeat(means[a.video_id], 16) for a in ucf_gt])
    assert m["n_frames"] == len(gt) == sum(a.num_frames // 16 * 16 for a in ucf_gt)
    assert m["auc_roc"] == pytest.approx(roc_auc_score(gt, pred), abs=1e-6)
    assert m["protocol"]["name"] == "default" and m["protocol"]["gt_length_sources"] == {"snippets x 16": 290}


def test_evaluate_xd_violence_both_ap_variants(tmp_path, fixtures_dir):
    ann_path = fixtures_dir / "xd_violence" / "annotations.txt"
    rng = np.random.default_rng(2)
    violent = [line.split() for line in ann_path.read_text().splitlines()[:40] if line.strip()]
    scores, labels = {}, []
    for parts in violent:
        nums = list(map(int, parts[1:]))
        n = max(nums) + 100
        y = np.zeros(n)
        for s, e in zip(nums[::2], nums[1::2]):
            y[s:e] = 1  # the XD authors' end-exclusive marking
        vid = parts[0].removesuffix(".mp4")
        scores[vid] = np.clip(0.2 * y + rng.random(n) * 0.8, 0, 1)
        labels.append(y)
    for i in range(10):
        vid = f"Normal.Video.{i}__#00-00-00_00-01-00_label_A"
        scores[vid] = rng.random(500) * 0.8
        labels.append(np.zeros(500))
    save_frame_scores(tmp_path / "frame_scores.npz", scores)
    with pytest.raises(KeyError, match="460 of 510 test videos have no scores"):  # 40 of the 500 violent ones
        main([str(tmp_path / "frame_scores.npz"), str(ann_path), "--dataset", "xd_violence"])
    main([str(tmp_path / "frame_scores.npz"), str(ann_path), "--dataset", "xd_violence", "--allow_missing", "true"])
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["coverage"]["scored"] == 50 and len(m["coverage"]["missing"]) == 460 and not m["coverage"]["complete"]
    gt, pred = np.concatenate(labels), np.concatenate(list(scores.values()))
    p, r, _ = precision_recall_curve(gt, pred)
    assert m["ap_pr_auc"] == pytest.approx(auc(r, p), abs=1e-6)
    assert m["ap_step"] == pytest.approx(average_precision_score(gt, pred), abs=1e-6)
    assert m["far_normal_at_0.5"] == pytest.approx((np.concatenate(list(scores.values())[-10:]) >= 0.5).mean())


def test_evaluate_shanghaitech_masks(tmp_path, fixtures_dir):
    sht = fixtures_dir / "shanghaitech"
    test_ids = [x.strip() for x in (sht / "SH_Test.txt").read_text().splitlines() if x.strip()]
    rng = np.random.default_rng(3)
    scores, labels = {}, []
    for vid in test_ids:
        mask_path = sht / "test_frame_mask" / f"{vid}.npy"
        y = np.load(mask_path).astype(float) if mask_path.exists() else np.zeros(300)
        scores[vid] = np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1)
        labels.append(y)
    assert sum(y.any() for y in labels) >= 1
    save_frame_scores(tmp_path / "frame_scores.npz", scores)
    main([str(tmp_path / "frame_scores.npz"), str(sht / "test_frame_mask"), "--dataset", "shanghaitech",
          "--test_list", str(sht / "SH_Test.txt")])
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["n_videos"] == 199
    assert m["auc_roc"] == pytest.approx(roc_auc_score(np.concatenate(labels), np.concatenate(list(scores.values()))), abs=1e-6)


def test_xd_unlisted_non_normal_video_is_an_error(tmp_path, fixtures_dir):
    save_frame_scores(tmp_path / "s.npz", {"some_video_label_B1-0-0": np.zeros(10)})
    with pytest.raises(ValueError, match="neither annotated nor named as normal"):  # an AnnotationError
        main([str(tmp_path / "s.npz"), str(fixtures_dir / "xd_violence" / "annotations.txt"), "--dataset", "xd_violence"])
