"""Predictions JSON, the run report and the per-video page: files written, figures present, model text escaped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from vanguard.answer import Answer, Box, render_target
from vanguard.data.annotations import VideoAnnotation
from vanguard.io import write_bytes, write_json
from vanguard.metrics.protocols import evaluate_frame_scores
from vanguard.metrics.scores import save_frame_scores
from vanguard.report.events import with_events
from vanguard.report.predictions import (
    FORMAT,
    PixelBox,
    VideoPredictions,
    read_predictions,
    save_ground_truth,
    subclip_prediction,
    write_video_predictions,
)
from vanguard.report.render import render_run_report, render_video_page
from vanguard.tools.report_cli import main as report_main
from vanguard.video import encode_mp4

EVIL = "<script>alert('x')</script> & the man <b>runs</b> for $5 $x^2$"


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> PageParser:
    p = PageParser()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture()
def run_dir(tmp_path):
    """A small test run: 2 videos (one real mp4), predictions with hostile reasoning, scores, GT, metrics."""
    rng = np.random.default_rng(0)
    fps, w, h, n = 10.0, 96, 64, 60
    frames = rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    mp4 = tmp_path / "videos" / "Fighting001.mp4"
    write_bytes(mp4, encode_mp4(frames, fps))
    anns = [VideoAnnotation("Fighting001", "Fighting", [(20, 39)], num_frames=n, fps=fps),
            VideoAnnotation("Normal001", "Normal", [], num_frames=n, fps=fps)]
    run = tmp_path / "run"
    bad = Answer(True, "Fighting", (Box(100, 200, 600, 900, "person <img src=x onerror=alert(1)> $a_{b$"),))
    for ann in anns:
        subs = []
        for start in range(0, n, 10):
            end = start + 19
            anomalous = ann.anomalous and 20 <= start < 40
            text = render_target(bad if anomalous else Answer(False), EVIL) if start != 50 else "garbage {"
            subs.append(subclip_prediction(
                ann.video_id, start, min(end, n - 1), fps, w, h, 0.9 if anomalous else 0.1, text,
                keyframe=min(end, n - 1), gt_boxes=[PixelBox(10, 12, 60, 58, "person")] if anomalous else None,
            ))
        video = VideoPredictions(ann.video_id, fps, n, w, h, str(mp4) if ann.anomalous else None, subs)
        write_video_predictions(run, with_events(video, 0.5))
    videos = read_predictions(run)
    save_frame_scores(run / "frame_scores.npz", {v.video_id: v.frame_scores() for v in videos})
    save_ground_truth(run, anns)
    write_json(run / "metrics.json", evaluate_frame_scores({v.video_id: v.frame_scores() for v in videos}, anns))
    return run


def test_predictions_roundtrip_boxes_in_pixels_inside_frame(run_dir):
    videos = read_predictions(run_dir)
    assert [v.video_id for v in videos] == ["Fighting001", "Normal001"]
    fight = videos[0]
    boxed = [s for s in fight.subclips if s.boxes]
    assert boxed and all(s.category == "Fighting" and s.reasoning == EVIL.strip() for s in boxed)
    b = boxed[0].boxes[0]
    assert (b.x1, b.y1, b.x2, b.y2) == (9.6, 12.8, 57.6, 57.6)  # 0..1000 -> 96x64 pixels
    assert all(0 <= bb.x1 < bb.x2 <= fight.width and 0 <= bb.y1 < bb.y2 <= fight.height for s in fight.subclips for bb in s.boxes)
    assert fight.subclips[-1].parse_reason == "not_json" and fight.subclips[-1].category == "invalid"
    assert fight.subclips[0].end_s == pytest.approx(2.0)
    raw = json.loads((run_dir / "predictions" / "Fighting001.json").read_text())
    assert raw["format"] == FORMAT and raw["subclips"][2]["boxes"][0]["label"].startswith("person")


def test_run_report_markdown_and_html(run_dir):
    paths = render_run_report(run_dir)
    md = paths["markdown"].read_text()
    assert "auc_roc" in md and "Per-category AUC" in md and "not_json" in md and "Grounding examples" in md
    page = _parse(paths["html"])
    assert "script" not in page.tags and page.tags.count("img") == len(page.images) >= 4
    for src in page.images:
        assert (paths["html"].parent / src).is_file(), src
    assert {"roc.png", "pr.png"} <= {Path(s).name for s in page.images}
    text = "".join(page.text)
    assert "grounding_acc_iou50" in text and EVIL not in paths["html"].read_text()
    assert "Events against the ground truth" in text  # 1 event on the GT interval, none on the normal video
    assert "events_on_gt1" in text.replace(" ", "") and "false_alarm_events0" in text.replace(" ", "")
    assert "<script" not in paths["html"].read_text()  # the page itself has no scripts; model text is escaped


def test_video_page_escapes_model_text(run_dir, tmp_path):
    video = read_predictions(run_dir)[0]
    ann = VideoAnnotation("Fighting001", "Fighting", [(20, 39)], num_frames=60, fps=10.0)
    page_path = render_video_page(video, tmp_path / "pages", ann, run_dir / "predictions")
    page = _parse(page_path)
    assert "script" not in page.tags and "b" not in page.tags  # the model's markup stays text
    assert sum(EVIL.strip() in t for t in page.text) >= 2  # the reasoning, shown verbatim as text
    assert any("onerror" in t for t in page.text) and all("onerror" not in s for s in page.images)
    assert any(Path(s).name == "timeline.png" for s in page.images)
    assert any(Path(s).name.startswith("event_") for s in page.images)  # the event's keyframe, from the real mp4
    text = "".join(page.text)
    assert text.index("Event 1: Fighting, 2.0-5.0 s") < text.index("Subclips (6)")  # events lead, the table follows
    for src in page.images:
        assert (page_path.parent / src).is_file()


def test_report_cli(run_dir, capsys):
    report_main([str(run_dir), "--video_pages", "true"])
    assert (run_dir / "report" / "report.html").is_file()
    assert (run_dir / "report" / "videos" / "Normal001.html").is_file()
    assert "report.html" in capsys.readouterr().out


def test_predictions_of_the_first_format_read_with_their_events(run_dir, tmp_path):
    """A ``vanguard.predictions/1`` file (no events, no threshold) reads with its events merged at 0.5."""
    path = run_dir / "predictions" / "Fighting001.json"
    raw = json.loads(path.read_text())
    old = {k: v for k, v in raw.items() if k not in ("events", "threshold")}
    (tmp_path / "old.json").write_text(json.dumps({**old, "format": "vanguard.predictions/1"}))
    from vanguard.report.predictions import read_video_predictions

    video = read_video_predictions(tmp_path / "old.json")
    assert video.threshold == 0.5 and [(e.start_frame, e.end_frame) for e in video.events] == [(20, 49)]
    assert video.events == read_video_predictions(path).events
