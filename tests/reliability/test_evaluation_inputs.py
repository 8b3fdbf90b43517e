"""Inputs that used to give a silently wrong figure or a traceback in ``python -m vanguard evaluate`` (real files,
real subprocesses), and a ``test`` run on shards missing test videos (real run files, the real report CLI).

Each bad input ends in one line on stderr naming the file and the video, exit 2, no traceback and no metrics.json;
a figure on fewer videos than the test set is refused, or with ``--allow_missing true`` printed under a WARNING.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = ["Abuse028_x264", "Arrest001_x264", "Normal_Videos_003_x264", "Normal_Videos_006_x264"]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def _evaluate(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vanguard", "evaluate", *map(str, args)], env=_env(),
                          capture_output=True, text=True, timeout=120)


def _refused(proc: subprocess.CompletedProcess, *named: str) -> str:
    """The run ended in one error line naming ``named``: exit 2, no traceback."""
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("vanguard evaluate: error:") and all(n in line for n in named), line
    return line


@pytest.fixture
def gt(tmp_path, fixtures_dir) -> Path:
    """Four lines of the real UCF-Crime temporal file (two anomalous, two normal videos)."""
    lines = (fixtures_dir / "ucf_crime" / "Temporal_Anomaly_Annotation.txt").read_text().splitlines()
    path = tmp_path / "Temporal_Anomaly_Annotation.txt"
    path.write_text("\n".join(line for line in lines if line.split("  ")[0].removesuffix(".mp4") in VIDEOS) + "\n")
    return path


def _good_scores(n: int = 2000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {v: rng.random(n) for v in VIDEOS}


def test_nan_and_inf_scores_are_refused_naming_the_video(tmp_path, gt):
    for bad in (np.nan, np.inf, -np.inf):
        scores = _good_scores()
        scores["Normal_Videos_003_x264"][:] = bad  # all-NaN used to rank lowest: a perfectly "normal" video
        np.savez(tmp_path / "s.npz", **scores)
        _refused(_evaluate(tmp_path / "s.npz", gt), "s.npz", "Normal_Videos_003_x264", "NaN or infinite")
        assert not (tmp_path / "metrics.json").exists()


def test_one_video_under_two_names_is_refused_not_overwritten(tmp_path, gt):
    scores = {k: [round(x, 4) for x in v.tolist()] for k, v in _good_scores().items()}
    spelled = dict(scores, **{"Abuse/Abuse028_x264.mp4": [0.0] * 2000})  # two spellings of one video
    (tmp_path / "two.json").write_text(json.dumps(spelled))
    _refused(_evaluate(tmp_path / "two.json", gt), "two.json", "'Abuse028_x264'", "'Abuse/Abuse028_x264.mp4'")
    body = json.dumps(scores)[:-1] + ', "Arrest001_x264": [0.5, 0.5]}'  # the same key given twice
    (tmp_path / "twice.json").write_text(body)
    _refused(_evaluate(tmp_path / "twice.json", gt), "twice.json", "Arrest001_x264")
    peer = tmp_path / "peer"
    peer.mkdir()
    for v, s in _good_scores(160).items():
        np.save(peer / f"{v}.npy", s[:10])
    np.save(peer / "Abuse028_x264_i3d.npy", np.zeros(10))  # used to be averaged in as if it were a crop
    _refused(_evaluate(peer, gt), "Abuse028_x264", "keep one")


@pytest.mark.parametrize("case", ["missing", "empty npz", "empty json object", "not json", "json array", "not numbers",
                                  "no scores for a video", "text in npy", "3-D peer array"])
def test_unreadable_score_files_name_the_file(tmp_path, gt, case):
    path = tmp_path / ("peer" if "peer" in case or "npy" in case else "s.json")
    if case == "empty npz":
        path = tmp_path / "s.npz"
        path.write_bytes(b"")
    elif case == "empty json object":
        path.write_text("{}")
    elif case == "not json":
        path.write_text("Abuse028_x264: 0.1 0.2\n")
    elif case == "json array":
        path.write_text("[[0.1, 0.2], [0.3]]")
    elif case == "not numbers":
        path.write_text(json.dumps({"Abuse028_x264": ["high", "low"]}))
    elif case == "no scores for a video":
        path.write_text(json.dumps({**{v: [0.1] * 20 for v in VIDEOS}, "Arrest001_x264": []}))
    elif case in ("text in npy", "3-D peer array"):
        path.mkdir()
        np.save(path / "Abuse028_x264.npy", np.array(["a", "b"]) if case == "text in npy" else np.zeros((2, 3, 4)))
    line = _refused(_evaluate(path, gt), path.name)
    expected = {"missing": "no such score", "empty npz": "not a readable .npz", "empty json object": "holds no video",
                "not json": "not a JSON object", "json array": "expected a JSON object", "not numbers": "'Abuse028_x264': expected a list of numbers",
                "no scores for a video": "'Arrest001_x264' has no scores", "text in npy": "list of numbers",
                "3-D peer array": "got shape (2, 3, 4)"}[case]
    assert expected in line, line


def test_missing_ground_truth_file_is_named(tmp_path):
    np.savez(tmp_path / "s.npz", **_good_scores())
    _refused(_evaluate(tmp_path / "s.npz", tmp_path / "nowhere.txt"), "nowhere.txt", "no such ground truth")


def test_crop_layout_is_never_guessed(tmp_path, gt):
    """RoadAccidents021's case: 9 snippets and 10 crops. The shorter axis used to be taken as the crops, averaging
    over time and adding 16 frames with exit 0; now a 2-D array needs --crop_layout."""
    rng = np.random.default_rng(1)
    peer = tmp_path / "peer"
    peer.mkdir()
    crops = {v: rng.random((10, n)) for v, n in zip(VIDEOS, (9, 200, 50, 50))}
    for v, c in crops.items():
        np.save(peer / f"{v}.npy", c.T)  # (snippets, crops): 9 x 10 for Abuse028
    _refused(_evaluate(peer, gt), "Abuse028_x264.npy", "(9, 10)", "--crop_layout")
    ok = _evaluate(peer, gt, "--crop_layout", "snippets_crops", "--out", tmp_path / "m.json")
    assert ok.returncode == 0, ok.stderr[-2000:]
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n_frames"] == (9 + 200 + 50 + 50) * 16
    from vanguard.metrics.ground_truth import read_ucf_temporal

    anns = read_ucf_temporal(gt)
    labels = np.concatenate([a.frame_labels(crops[a.video_id].shape[1] * 16) for a in anns])
    pred = np.concatenate([np.repeat(crops[a.video_id].mean(0), 16) for a in anns])
    assert m["auc_roc"] == pytest.approx(roc_auc_score(labels, pred), abs=1e-9)


def test_a_figure_covers_every_test_video_or_is_refused_naming_them(tmp_path, gt):
    scores = _good_scores()
    del scores["Arrest001_x264"], scores["Normal_Videos_006_x264"]
    scores["Shooting999_x264"] = np.zeros(100)  # not a test video of this ground truth
    np.savez(tmp_path / "s.npz", **scores)
    line = _refused(_evaluate(tmp_path / "s.npz", gt), "2 of 4 test videos have no scores", "Arrest001_x264",
                    "Normal_Videos_006_x264")
    assert "allow_missing" in line and not (tmp_path / "metrics.json").exists()
    flagged = _evaluate(tmp_path / "s.npz", gt, "--allow_missing", "true")
    assert flagged.returncode == 0, flagged.stderr[-2000:]
    warning = "WARNING: these figures cover 2 of 4 test videos"
    assert warning in flagged.stdout and warning in flagged.stderr.splitlines()[-1]  # first and last thing read
    assert "Shooting999_x264" in flagged.stderr  # scored but not in the ground truth: said, not counted
    cov = json.loads((tmp_path / "metrics.json").read_text())["coverage"]
    assert cov["missing"] == ["Arrest001_x264", "Normal_Videos_006_x264"] and not cov["complete"]


def test_xd_violent_video_without_scores_is_missing_not_ignored(tmp_path, fixtures_dir):
    """XD-Violence ground truth used to be built only for the scored videos: a run scoring 40 of the 500 violent
    test videos got a figure with exit 0."""
    ann = fixtures_dir / "xd_violence" / "annotations.txt"
    names = [line.split()[0].removesuffix(".mp4") for line in ann.read_text().splitlines()[:40]]
    np.savez(tmp_path / "s.npz", **{n: np.random.default_rng(2).random(4000) for n in names})
    _refused(_evaluate(tmp_path / "s.npz", ann, "--dataset", "xd_violence"), "460 of 500 test videos")


def test_test_run_on_shards_missing_test_videos_is_flagged_in_terminal_and_report(tmp_path):
    """The ``test`` loop's evaluation (callbacks.FrameLevelEvaluation) on records of 2 of 4 catalog test videos:
    the printed summary and the report say so above the figures (it used to be only inside metrics.json)."""
    from callbacks.evaluation import evaluate_test_run, summary_table
    from vanguard.data.annotations import VideoRecord

    catalog = [VideoRecord(f"vid{i}", f"videos/vid{i}.mp4", "test", "Fighting" if i < 2 else "Normal",
                           dataset="synthcrime", num_frames=64, fps=8.0, width=64, height=48,
                           intervals=[(16, 40)] if i < 2 else []) for i in range(4)]
    records = [{"key": f"vid{i}-{s:07d}", "video_id": f"vid{i}", "frame_indices": list(range(s, s + 16, 4)),
                "score": 0.9 if (i == 0 and 16 <= s <= 40) else 0.1, "label": int(i == 0 and 16 <= s <= 40),
                "category": "Normal", "pred_category": "Normal", "keyframe": s + 12, "gt_boxes": [], "width": 64,
                "height": 48, "fps": 8.0, "reasoning": None}
               for i in (0, 3) for s in range(0, 64, 16)]
    metrics = evaluate_test_run(tmp_path, records, catalog)
    assert metrics["coverage"]["missing"] == ["vid1", "vid2"]
    table = summary_table(metrics)
    assert table.splitlines()[0].startswith("WARNING: these figures cover 2 of 4 test videos")
    proc = subprocess.run([sys.executable, "-m", "vanguard", "report", str(tmp_path)], env=_env(),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (tmp_path / "report" / "report.md").read_text()
    assert report.index("WARNING: these figures cover 2 of 4 test videos") < report.index("auc_roc")
    assert "vid1, vid2" in report
