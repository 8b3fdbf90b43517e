"""The front door: ``python -m vanguard explain VIDEO --model EXPORT`` (a real subprocess) and ``vanguard.Explainer``
on a tiny stage-3 export; the page opens in headless Chromium with every image loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.evaluation.test_predict import FPS, SECONDS, foreign_video
from vanguard.categories import CATEGORIES
from vanguard.report.predictions import read_predictions
from vanguard.tools.browser import find_chromium, image_status

ROOT = Path(__file__).resolve().parents[2]
SCORE = 0.88  # the tiny head is set to score every window this, with Fighting its most likely anomaly category


@pytest.fixture(scope="module")
def tiny_export(tiny_backbone_dir, tmp_path_factory) -> Path:
    """A stage-3 export of the tiny backbone whose head scores every window SCORE (category Fighting)."""
    from vanguard.adapters import lora_config
    from vanguard.backbone import Backbone
    from vanguard.checkpoints import export_stage
    from vanguard.stages import ReasoningStage

    stage = ReasoningStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64), max_new_tokens=48,
                           max_boxes=2, no_repeat_ngram_size=4)
    stage.prepare(lora_config(r=4))
    last = stage.head.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[0] = torch.logit(torch.tensor(SCORE))
        last.bias[1 + CATEGORIES.index("Fighting")] = 3.0
    return export_stage(stage, tmp_path_factory.mktemp("tiny_stage3") / "export")


@pytest.fixture(scope="module")
def explained(tiny_export, tmp_path_factory) -> dict:
    """``python -m vanguard explain`` run once as a user runs it."""
    base = tmp_path_factory.mktemp("explain")
    video = foreign_video(base / "street.mp4")
    out = base / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "vanguard", "explain", str(video), "--model", str(tiny_export), "--out", str(out),
         "--window_seconds", "2", "--stride_seconds", "1", "--batch_size", "5", "--accelerator", "cpu"],
        capture_output=True, text=True, timeout=600, cwd=base, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"out": out, "stdout": done.stdout, "video": video}


@pytest.mark.slow
def test_explain_cli_prints_the_event_and_writes_the_page(explained):
    out, stdout = explained["out"], explained["stdout"]
    (video,) = read_predictions(out)
    (event,) = video.events  # every window is flagged: one event over the whole video
    assert (event.start_s, event.end_s) == (0.0, pytest.approx(SECONDS))
    assert event.category == "Fighting" and event.subclips == 5
    assert event.peak_score == pytest.approx(SCORE) and event.mean_score == pytest.approx(SCORE)
    assert event.boxes and event.reasoning is not None  # require_boxes: an anomalous answer points at something
    assert (out / "predictions" / event.keyframe_png).is_file()
    assert all(s.category == "Fighting" for s in video.subclips)  # one decision: the head's, in every answer
    assert video.threshold == 0.5 and video.num_frames == FPS * SECONDS
    raw = json.loads((out / "predictions" / "street.json").read_text())
    assert raw["events"][0]["category"] == "Fighting"
    assert "street (6.0 s): 1 event" in stdout and "1. Fighting, 0.0-6.0 s, peak score 0.88" in stdout
    assert f"open {out / 'index.html'}" in stdout
    page = (out / "street.html").read_text()
    assert page.index("Event 1: Fighting") < page.index("Subclips (5)")  # the events lead, the table follows
    assert "street.html" in (out / "index.html").read_text()


@pytest.mark.slow
def test_explain_page_images_load_in_headless_chromium(explained):
    if find_chromium() is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium)")
    for page in (explained["out"] / "street.html", explained["out"] / "index.html"):
        images = image_status(page)
        assert all(ok for _, ok in images), images
        if page.name == "street.html":
            assert {Path(src).name for src, _ in images} == {"timeline.png", "event_01.png"}


@pytest.mark.slow
def test_explainer_from_python_and_a_video_without_event(tiny_export, tmp_path):
    from vanguard import Explainer

    video = foreign_video(tmp_path / "quiet.mp4")
    explainer = Explainer.load(str(tiny_export), threshold=0.95, window_seconds=2.0, stride_seconds=1.0,
                               accelerator="cpu")
    assert explainer.stage.hparams.threshold == 0.95 and explainer.stage.hparams.max_new_tokens == 48
    assert explainer.explain(video, tmp_path / "out") == []  # 0.88 < 0.95: nothing flagged, no text generated
    (pred,) = read_predictions(tmp_path / "out")
    assert not pred.events and not any(s.raw_text for s in pred.subclips)
    assert "No event: no subclip reached the threshold 0.95." in explainer.pages[0].read_text()


def test_explain_bad_input_is_one_line_exit_2(tiny_export, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    video = foreign_video(tmp_path / "clip.mp4")
    for args, expected in (([str(tmp_path / "nope.mp4"), "--model", str(tiny_export)], "neither a video file"),
                           ([str(tmp_path / "empty")], "neither a video file"),
                           ([str(video), "--model", str(tmp_path / "no_export")], "no stage.json")):
        done = subprocess.run([sys.executable, "-m", "vanguard", "explain", *args], capture_output=True, text=True,
                              timeout=300, env=env, cwd=tmp_path)
        assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
def test_text_only_for_flagged_windows_and_events_split_at_unflagged_ones(tiny_export, tmp_path):
    """Windows flagged T T F F T give two events (0-3 s and 4-6 s); only the flagged windows get text, generated
    as a sub-batch of the batch, and each answer states its window's decision."""
    from vanguard import Explainer
    from vanguard.decision import Decision

    flags = [True, True, False, False, True]
    explainer = Explainer.load(str(tiny_export), window_seconds=2.0, stride_seconds=1.0, batch_size=5,
                               accelerator="cpu")
    categories = ["Arson", "Arson", "Normal", "Normal", "Robbery"]
    explainer.stage.decide = lambda out: [Decision(0.9 if f else 0.1, f, c) for f, c in zip(flags, categories)]
    events = explainer.explain(foreign_video(tmp_path / "clip.mp4"), tmp_path / "out")
    assert [(e.start_s, e.end_s, e.category, e.subclips) for e in events] == [
        (0.0, pytest.approx(3.0), "Arson", 2), (pytest.approx(4.0), pytest.approx(6.0), "Robbery", 1)]
    (pred,) = read_predictions(tmp_path / "out")
    assert [bool(s.raw_text) for s in pred.subclips] == flags
    assert [s.category for s in pred.subclips] == categories
    for s in pred.subclips[:2] + pred.subclips[4:]:
        assert s.parse_reason is None and s.boxes
