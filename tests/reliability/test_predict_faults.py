"""``python -m vanguard explain`` (the ``predict`` writer) killed and re-run, on videos named as XD-Violence names
them: each video's files are written when its last window is predicted, SIGTERM stops the run with exit 143 and
what is done kept, a re-run does only the rest, and the pages' links and images resolve for names holding ``#``,
``?``, ``%`` and spaces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.evaluation.test_explain import tiny_export  # noqa: F401 (a fixture)
from tests.evaluation.test_predict import foreign_video
from vanguard.report.predictions import read_video_predictions
from vanguard.tools.browser import find_chromium, image_status

ROOT = Path(__file__).resolve().parents[2]
#: legal on disk, special in a URL: XD-Violence's "#", a query "?", a percent escape, a space
NAMES = ["v1 fight#1_label_B1-0-0", "v2 50%20off", "v3?q=1", "v4"]


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]


def refs(page: Path) -> list[str]:
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


def explain_cmd(videos: Path, export: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "vanguard", "explain", str(videos), "--model", str(export), "--out", str(out),
            "--window_seconds", "2", "--stride_seconds", "1", "--batch_size", "2", "--accelerator", "cpu"]


@pytest.mark.slow
def test_sigterm_keeps_finished_videos_and_a_rerun_does_the_rest(tiny_export, tmp_path):  # noqa: F811
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in NAMES:
        foreign_video(videos / f"{name}.mp4")
    out = tmp_path / "out"
    (out / "predictions").mkdir(parents=True)
    (out / "gone.html").write_text("<p>an earlier run's page of a video not in this run</p>")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    first_json = out / "predictions" / f"{NAMES[0]}.json"

    proc = subprocess.Popen(explain_cmd(videos, tiny_export, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 300
    while not first_json.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first_json.is_file(), "the first video was not written while the run went on"
    assert (out / f"{NAMES[0]}.html").is_file()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr[-3000:]
    assert "stopped by SIGTERM" in stderr and "run the same command again" in stderr and "Traceback" not in stderr
    done = sorted(p.stem for p in (out / "predictions").glob("*.json"))
    assert NAMES[0] in done and len(done) < len(NAMES), done  # the first kept, the rest left for the re-run
    first = read_video_predictions(first_json)
    assert len(first.subclips) == first.run["windows"] == 5
    kept = {p: p.stat().st_mtime_ns for p in [first_json, *(out / "predictions" / "keyframes").glob("v1*.png")]}

    rerun = subprocess.run(explain_cmd(videos, tiny_export, out), capture_output=True, text=True, timeout=600,
                           cwd=tmp_path, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming: {len(done)} of {len(NAMES)} videos" in rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # the first video was not redone
    for name in NAMES:
        video = read_video_predictions(out / "predictions" / f"{name}.json")
        assert len(video.subclips) == video.run["windows"] == 5 and video.events
        assert f"{name} (6.0 s): 1 event" in rerun.stdout  # resumed videos are reported too

    # every link and image of the index and the pages names a file that exists (after URL-unquoting)
    index = refs(out / "index.html")
    assert sorted(unquote(r) for r in index) == sorted(f"{n}.html" for n in NAMES)  # not the stale gone.html
    for ref in index:
        page = out / unquote(ref)
        srcs = refs(page)
        assert srcs and all((out / unquote(s)).is_file() for s in srcs), (page, srcs)
    if find_chromium() is not None:
        for page in [out / "index.html", *(out / f"{n}.html" for n in NAMES)]:
            images = image_status(page)
            assert all(ok for _, ok in images), (page, images)
    assert json.loads(first_json.read_text())["run"]["model"] == first.run["model"]


@pytest.mark.slow
def test_ctrl_c_with_workers_stops_with_130_and_a_finished_folder_is_all_resumed(tiny_export, tmp_path):  # noqa: F811
    """SIGINT to the whole process group (what Ctrl-C does; the DataLoader worker gets it too): exit 130, one line,
    the first video kept; then a re-run finishes, and a third run finds everything current and predicts nothing."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in NAMES[:3]:
        foreign_video(videos / f"{name}.mp4")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [*explain_cmd(videos, tiny_export, out), "--num_workers", "1"]
    first_json = out / "predictions" / f"{NAMES[0]}.json"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not first_json.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first_json.is_file(), "the first video was not written while the run went on"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-3000:]
    assert "stopped by SIGINT" in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert len(list((out / "predictions").glob("*.json"))) < 3

    for expected in ("resuming: ", "resuming: 3 of 3 videos"):
        rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
        assert rerun.returncode == 0 and expected in rerun.stdout, rerun.stderr[-3000:]
    assert "(3 resumed), 0 subclips predicted" in rerun.stdout  # the third run predicted nothing
    assert sorted(unquote(r) for r in refs(out / "index.html")) == sorted(f"{n}.html" for n in NAMES[:3])


@pytest.mark.slow
def test_ddp_predict_writes_a_video_cut_between_ranks_once_and_resumes(tiny_backbone_dir, tmp_path):
    """Two CPU ranks: windows are split contiguously, so the middle video's windows are cut between the ranks; each
    rank writes the videos it has whole, the cut one is gathered and written by rank 0, the index lists all three,
    and a re-run resumes all of them."""
    import yaml

    from tests.evaluation.test_predict import predict_config

    videos = tmp_path / "videos"
    videos.mkdir()
    for name in NAMES[:3]:
        foreign_video(videos / f"{name}.mp4")
    config = predict_config(tmp_path, tiny_backbone_dir, videos)
    cfg = yaml.safe_load(config.read_text())
    cfg["trainer"].update(devices=2, strategy="ddp")
    cfg["model"]["init_args"]["max_new_tokens"] = 16
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vanguard", "predict", "--config", str(config)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "MEMBER: 2/2" in first.stderr and "3 videos (0 resumed), 15 subclips predicted" in first.stdout
    out = tmp_path / "out"
    for name in NAMES[:3]:
        video = read_video_predictions(out / "predictions" / f"{name}.json")
        assert [s.start_frame for s in video.subclips] == [0, 7, 14, 21, 28] and video.run["windows"] == 5
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert second.returncode == 0 and "resuming: 3 of 3 videos" in second.stdout, second.stderr[-3000:]
    assert sorted(unquote(r) for r in refs(out / "index.html")) == sorted(f"{n}.html" for n in NAMES[:3])


def test_unwritable_output_folder_is_one_line_before_predicting(tiny_export, tmp_path):  # noqa: F811
    videos = tmp_path / "videos"
    videos.mkdir()
    foreign_video(videos / f"{NAMES[0]}.mp4")
    (tmp_path / "a_file").write_text("not a folder")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(explain_cmd(videos, tiny_export, tmp_path / "a_file" / "out"), capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 2 and "cannot write predictions there" in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "a_file/out" in done.stderr
