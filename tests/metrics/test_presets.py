"""`evaluate --protocol P` reproduces each peer: its own ground-truth files frame for frame, and its figures as
sklearn computes them the peer's way (independent re-implementations of their scripts below) to 1e-9.

The peers' files and rules are in ../shared/fixtures/vad/README.md, section peers/.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from vanguard.metrics.ground_truth import load_ground_truth, read_frame_counts, read_ucf_temporal
from vanguard.metrics.presets import PRESETS, frame_labels, label_length
from vanguard.metrics.scores import save_frame_scores
from vanguard.tools.evaluate_cli import main


# ---- the peers' ground truth, written as their scripts write it ----------------------------------------------------
def rtfm_ucf_gt(pairs: list[tuple[int, int]], n: int) -> np.ndarray:
    """RTFM list/make_gt_ucf.py: range(s, e + 1), or range(s, e) when e + 1 passes the last frame."""
    gt = np.zeros(n)
    for s, e in pairs:
        gt[list(range(s, e + 1) if e + 1 <= n else range(s, min(e, n)))] = 1
    return gt


def exclusive_gt(pairs: list[tuple[int, int]], n: int) -> np.ndarray:
    """VadCLIP make_gt_ucf.py / PEL4VAD single_gt / VERA: gt[s:e] = 1."""
    gt = np.zeros(n)
    for s, e in pairs:
        gt[s:e] = 1
    return gt


def xdviodet_gt(pairs: list[tuple[int, int]], lens: int) -> np.ndarray:
    """Roc-Ng/XDVioDet list/make_gt.py: gt[s:e] on the native frames, drop the last frame, then (lens-1) % 16 more."""
    gt = exclusive_gt(pairs, lens)[:-1]
    mod = (lens - 1) % 16
    return gt[:-mod] if mod else gt


def rtfm_sh_gt(mask: np.ndarray) -> np.ndarray:
    """RTFM list/make_gt_sh.py: ceil(len / 16) snippets, the mask padded to them with its last label."""
    n = math.ceil(len(mask) / 16) * 16
    return np.concatenate([mask, np.full(n - len(mask), mask[-1])]).astype(float)


def lavad_gt(pairs: list[tuple[int, int]], n: int) -> np.ndarray:
    """lucazanella/lavad src/eval.py get_video_labels: start <= frame <= end on native frames."""
    return np.array([any(s <= i <= e for s, e in pairs) for i in range(n)], dtype=float)


def vera_window(pred: np.ndarray) -> np.ndarray:
    """VERA compute_auc.py gaussian_smoothing(pred, int(len / 2)): centroid int(n / 2)."""
    n = len(pred)
    return np.exp(-0.5 * ((np.arange(n) - int(n / 2)) / int(n / 2)) ** 2) * pred


def figures(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    fpr, tpr, _ = roc_curve(gt, pred)
    precision, recall, _ = precision_recall_curve(gt, pred)
    return {"auc_roc": auc(fpr, tpr), "ap_pr_auc": auc(recall, precision), "ap_step": average_precision_score(gt, pred),
            "roc_auc_score": roc_auc_score(gt, pred)}


# ---- fixtures ------------------------------------------------------------------------------------------------------
def _ucf_pairs(line: str) -> tuple[str, list[tuple[int, int]]]:
    name, _, s1, e1, s2, e2 = line.strip().split("  ")
    return name.removesuffix(".mp4"), [(int(s), int(e)) for s, e in ((s1, e1), (s2, e2)) if int(s) >= 0]


@pytest.fixture(scope="module")
def ucf(fixtures_dir):
    """(videos in test order with their file pairs, native counts, PEL4VAD's shipped gt arrays)."""
    lines = (fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt").read_text().splitlines()
    videos = [_ucf_pairs(line) for line in lines if line.strip()]
    counts = read_frame_counts(fixtures_dir / "ucf_crime" / "UCF_Annotation_with_nframes.urdmu.txt")
    shipped = {f.name.removesuffix("__9_gt.npy"): np.load(f) for f in (fixtures_dir / "peers" / "pel4vad_ucf_single_gt").glob("*.npy")}
    assert len(videos) == len(shipped) == 290
    return videos, counts, shipped


@pytest.fixture(scope="module")
def xd(fixtures_dir):
    """500 annotated videos with the file's pairs and a drawn native length, plus 60 normal (label_A) videos."""
    rng = np.random.default_rng(11)
    out = []
    for line in (fixtures_dir / "xd_violence" / "annotations.txt").read_text().splitlines():
        if line.strip():
            name, *nums = line.split()
            pairs = list(zip(map(int, nums[::2]), map(int, nums[1::2])))
            out.append((name.removesuffix(".mp4"), pairs, max(e for _, e in pairs) + int(rng.integers(1, 400))))
    out += [(f"Normal.Film.{i}__#00-00-00_00-01-00_label_A", [], int(rng.integers(300, 3000))) for i in range(60)]
    return out


# ---- ground truth, frame for frame ---------------------------------------------------------------------------------
def test_pel4vad_and_vadclip_reproduce_pel4vads_shipped_ucf_arrays(fixtures_dir, ucf):
    videos, _, shipped = ucf
    anns = {a.video_id: a for a in read_ucf_temporal(fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt")}
    differ = {}
    for name in ("pel4vad", "vadclip", "rtfm", "default"):
        rule = PRESETS[name].rule("ucf_crime")
        differ[name] = sum(int((frame_labels(anns[v], len(g), rule, "ucf_crime") != g).sum()) for v, g in shipped.items())
    assert differ["pel4vad"] == differ["vadclip"] == 0
    # RTFM's inclusive end marks the last frame of each interval too: the 149-154 frames of the fixtures' README
    assert differ["rtfm"] == differ["default"] == sum(int((rtfm_ucf_gt(p, len(shipped[v])) != shipped[v]).sum()) for v, p in videos)
    assert 149 <= differ["rtfm"] <= 154
    rtfm = PRESETS["rtfm"].rule("ucf_crime")
    assert all(np.array_equal(frame_labels(anns[v], len(shipped[v]), rtfm, "ucf_crime"), rtfm_ucf_gt(p, len(shipped[v])))
               for v, p in videos)


def test_rtfm_pads_shanghaitech_masks_with_their_last_label(fixtures_dir):
    masks = fixtures_dir / "peers" / "rtfm_sh_test_frame_mask"
    anns = load_ground_truth("shanghaitech", masks, test_list=fixtures_dir / "shanghaitech" / "SH_Test.txt")
    order = [line.rsplit("/", 1)[-1].removesuffix("_i3d.npy")
             for line in (fixtures_dir / "peers" / "rtfm_shanghai_i3d_test_10crop.list").read_text().split()]
    by_id = {a.video_id: a for a in anns}
    assert sorted(order) == sorted(by_id) and all(by_id[v].anomalous for v in order[:44])
    rtfm, default = PRESETS["rtfm"].rule("shanghaitech"), PRESETS["default"].rule("shanghaitech")
    changed = 0
    for vid in order[:44]:
        mask = np.load(masks / f"{vid}.npy")
        want = rtfm_sh_gt(mask)
        n, _ = label_length(by_id[vid], len(mask), rtfm, per_snippet=False)  # our per-frame scores: native length
        assert n == len(want) and np.array_equal(frame_labels(by_id[vid], n, rtfm, "shanghaitech"), want), vid
        changed += int((frame_labels(by_id[vid], n, default, "shanghaitech") != want).sum())
    assert changed > 0  # the default pads with 0: the frames after a mask that ends anomalous


def test_xdviodet_rule_reproduces_make_gt_for_every_annotated_video(fixtures_dir, xd):
    anns = {a.video_id: a for a in load_ground_truth("xd_violence", fixtures_dir / "xd_violence" / "annotations.txt",
                                                      [v for v, _, _ in xd])}
    for name in ("xdviodet", "rtfm", "urdmu", "vadclip", "pel4vad"):
        rule = PRESETS[name].rule("xd_violence")
        mismatched = 0
        for vid, pairs, lens in xd:
            want = xdviodet_gt(pairs, lens)
            n, _ = label_length(anns[vid], lens, rule, per_snippet=False)
            mismatched += abs(n - len(want)) + int((frame_labels(anns[vid], n, rule, "xd_violence") != want[:n]).sum())
        assert mismatched == 0, name
    lavad = PRESETS["lavad"].rule("xd_violence")
    assert all(np.array_equal(frame_labels(anns[v], lens, lavad, "xd_violence"), lavad_gt(p, lens)) for v, p, lens in xd[::25])


# ---- figures equal sklearn run the peer's way ----------------------------------------------------------------------
def _run(tmp_path, scores, gt, *extra) -> dict:
    out = tmp_path / f"metrics-{len(list(tmp_path.glob('metrics-*')))}.json"
    main([str(scores), str(gt), "--out", str(out), *map(str, extra)])
    return json.loads(out.read_text())


def _check(m: dict, ref: dict, ap: str) -> None:
    assert m["auc_roc"] == pytest.approx(ref["auc_roc"], abs=1e-9)
    assert m["ap"] == pytest.approx(ref[ap], abs=1e-9) and m["protocol"]["ap"] == ap


@pytest.fixture(scope="module")
def ucf_peer(tmp_path_factory, ucf):
    """Ten random crops per UCF-Crime test video, as many snippets as PEL4VAD's shipped gt has."""
    videos, _, shipped = ucf
    rng = np.random.default_rng(5)
    folder = tmp_path_factory.mktemp("ucf_peer")
    crops = {}
    for vid, _ in videos:
        crops[vid] = rng.random((10, len(shipped[vid]) // 16))
        for c in range(10):
            np.save(folder / f"{vid}__{c}.npy", crops[vid][c])
    return folder, crops


@pytest.mark.parametrize("preset", ["rtfm", "urdmu", "pel4vad", "vadclip"])
def test_ucf_snippet_presets_equal_the_peers_sklearn(tmp_path, fixtures_dir, ucf, ucf_peer, preset):
    videos, _, shipped = ucf
    folder, crops = ucf_peer
    per_video = {v: c[5] if preset == "vadclip" else c.mean(0) for v, c in crops.items()}  # VadCLIP tests crop __5
    pred = np.concatenate([np.repeat(per_video[v], 16) for v, _ in videos])
    if preset in ("rtfm", "urdmu"):
        gt = np.concatenate([rtfm_ucf_gt(p, len(per_video[v]) * 16) for v, p in videos])
    else:
        gt = np.concatenate([shipped[v] for v, _ in videos])  # PEL4VAD's own files
    m = _run(tmp_path, folder, fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt", "--protocol", preset)
    ref = figures(gt, pred)
    assert m["n_frames"] == len(gt) and m["protocol"]["name"] == preset and m["coverage"]["complete"]
    _check(m, ref, "ap_step" if preset == "vadclip" else "ap_pr_auc")
    assert ref["roc_auc_score"] == pytest.approx(ref["auc_roc"], abs=1e-12)


def test_lavad_and_vera_on_ucf_native_frames(tmp_path, fixtures_dir, ucf):
    videos, counts, _ = ucf
    rng = np.random.default_rng(6)
    ucf_dir = fixtures_dir / "ucf_crime"
    snippets = {v: rng.random(math.ceil(counts[v] / 16)) for v, _ in videos}  # LAVAD: one score every 16 frames
    lavad_dir = tmp_path / "lavad"
    lavad_dir.mkdir()
    for v, s in snippets.items():
        np.save(lavad_dir / f"{v}.npy", s)
    m = _run(tmp_path, lavad_dir, ucf_dir / "Temporal_Anomaly_Annotation.txt", "--protocol", "lavad",
             "--frame_counts", ucf_dir / "UCF_Annotation_with_nframes.urdmu.txt")
    pred = np.concatenate([np.repeat(snippets[v], 16)[: counts[v]] for v, _ in videos])
    gt = np.concatenate([lavad_gt(p, counts[v]) for v, p in videos])
    assert m["n_frames"] == len(gt) == 1_111_808
    _check(m, figures(gt, pred), "ap_pr_auc")

    frames = {v: np.repeat(rng.random(math.ceil(counts[v] / 16)), 16)[: counts[v]] for v, _ in videos}
    npz = save_frame_scores(tmp_path / "frame_scores.npz", frames)
    m = _run(tmp_path, npz, ucf_dir / "Temporal_Anomaly_Annotation.txt", "--protocol", "vera",
             "--frame_counts", ucf_dir / "UCF_Annotation_with_nframes.urdmu.txt")
    f32 = {v: s.astype(np.float32).astype(np.float64) for v, s in frames.items()}  # as the npz stores them
    pred = np.concatenate([vera_window(f32[v]) for v, _ in videos])
    gt = np.concatenate([exclusive_gt([(s, min(e, counts[v])) for s, e in p], counts[v]) for v, p in videos])
    _check(m, figures(gt, pred), "ap_pr_auc")
    assert m["protocol"]["weighting"] == "vera_centre"


@pytest.mark.parametrize("preset", ["xdviodet", "rtfm", "urdmu", "pel4vad", "vadclip"])
def test_xd_snippet_presets_equal_the_peers_sklearn(tmp_path, fixtures_dir, xd, preset):
    rng = np.random.default_rng(7)
    folder = tmp_path / "xd_peer"
    folder.mkdir()
    per_video = {}
    for vid, _, lens in xd:  # five crops, (lens - 1) // 16 snippets: XDVioDet's features
        crops = rng.random((5, (lens - 1) // 16))
        np.save(folder / f"{vid}.npy", crops.T)  # one (snippets, crops) array per video
        per_video[vid] = crops[0] if preset == "vadclip" else crops.mean(0)  # VadCLIP tests crop __0
    m = _run(tmp_path, folder, fixtures_dir / "xd_violence" / "annotations.txt", "--dataset", "xd_violence",
             "--protocol", preset, "--crop_layout", "snippets_crops")
    gt = np.concatenate([xdviodet_gt(p, lens) for _, p, lens in xd])
    pred = np.concatenate([np.repeat(per_video[v], 16) for v, _, _ in xd])
    assert m["n_frames"] == len(gt) and m["n_videos"] == 560
    _check(m, figures(gt, pred), "ap_step" if preset == "vadclip" else "ap_pr_auc")


@pytest.mark.parametrize("preset", ["lavad", "vera"])
def test_xd_native_presets_equal_the_peers_sklearn(tmp_path, fixtures_dir, xd, preset):
    rng = np.random.default_rng(8)
    frames = {v: np.repeat(rng.random(math.ceil(lens / 16)), 16)[:lens] for v, _, lens in xd}
    npz = save_frame_scores(tmp_path / "frame_scores.npz", frames)
    m = _run(tmp_path, npz, fixtures_dir / "xd_violence" / "annotations.txt", "--dataset", "xd_violence",
             "--protocol", preset)
    f32 = {v: s.astype(np.float32).astype(np.float64) for v, s in frames.items()}
    if preset == "lavad":
        gt = np.concatenate([lavad_gt(p, lens) for _, p, lens in xd])
        pred = np.concatenate([f32[v] for v, _, _ in xd])
    else:  # VERA compute_auc_XD_Violence.py: end capped at the length, gt[s:e], the centred window
        gt = np.concatenate([exclusive_gt([(s, min(e, lens)) for s, e in p], lens) for _, p, lens in xd])
        pred = np.concatenate([vera_window(f32[v]) for v, _, _ in xd])
    _check(m, figures(gt, pred), "ap_pr_auc")


def test_rtfm_shanghaitech_equals_make_gt_sh_and_sklearn(tmp_path, fixtures_dir):
    rng = np.random.default_rng(9)
    masks = fixtures_dir / "peers" / "rtfm_sh_test_frame_mask"
    order = [line.rsplit("/", 1)[-1].removesuffix("_i3d.npy")
             for line in (fixtures_dir / "peers" / "rtfm_shanghai_i3d_test_10crop.list").read_text().split()]
    folder = tmp_path / "sh_peer"
    folder.mkdir()
    gts, preds = [], []
    for vid in order:  # RTFM's order: 44 anomalous first
        mask = np.load(masks / f"{vid}.npy") if (masks / f"{vid}.npy").exists() else np.zeros(int(rng.integers(200, 900)))
        gt = rtfm_sh_gt(mask) if mask.any() else np.zeros(math.ceil(len(mask) / 16) * 16)
        crops = rng.random((10, len(gt) // 16))
        np.save(folder / f"{vid}_i3d.npy", crops)
        gts.append(gt)
        preds.append(np.repeat(crops.mean(0), 16))
    m = _run(tmp_path, folder, masks, "--dataset", "shanghaitech", "--protocol", "rtfm", "--crop_layout",
             "crops_snippets", "--test_list", fixtures_dir / "shanghaitech" / "SH_Test.txt")
    gt, pred = np.concatenate(gts), np.concatenate(preds)
    assert m["n_frames"] == len(gt) and m["n_videos"] == 199
    _check(m, figures(gt, pred), "ap_pr_auc")
    default = _run(tmp_path, folder, masks, "--dataset", "shanghaitech", "--crop_layout", "crops_snippets",
                   "--test_list", fixtures_dir / "shanghaitech" / "SH_Test.txt")
    assert default["auc_roc"] != pytest.approx(m["auc_roc"], abs=1e-9)  # padding with 0 moves the figure


def test_a_preset_without_a_rule_for_the_dataset_is_refused(tmp_path, fixtures_dir):
    from vanguard.errors import ConfigError

    save_frame_scores(tmp_path / "s.npz", {"Abuse028_x264": np.zeros(10)})
    with pytest.raises(ConfigError, match="protocol 'xdviodet' has no rule for 'ucf_crime'.*presets for ucf_crime: default, rtfm"):
        main([str(tmp_path / "s.npz"), str(fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt"),
              "--protocol", "xdviodet"])


def test_help_lists_every_preset_on_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    lines = capsys.readouterr().out.splitlines()
    for name, preset in PRESETS.items():
        assert f"  {name:<9} {preset.summary}" in lines, name
