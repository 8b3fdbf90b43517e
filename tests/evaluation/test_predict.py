"""`python -m vanguard predict` on a video the project did not generate (MPEG-4 Part 2, 200x150, 7 fps, 6 s):
valid predictions JSON with boxes inside the frame, HTML pages that parse, model text escaped, throughput printed."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from vanguard.cli import main
from vanguard.report.predictions import FORMAT, read_predictions

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT, FPS, SECONDS = 200, 150, 7, 6
INJECTED = "<script>alert('pwned')</script>"


def foreign_video(path: Path) -> Path:
    """Random moving shapes, encoded with PyAV's mpeg4 codec (not the project's H.264 writer)."""
    rng = np.random.default_rng(5)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        x, y = 20, 30
        for _ in range(FPS * SECONDS):
            img = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
            x, y = (x + int(rng.integers(1, 6))) % (WIDTH - 40), (y + int(rng.integers(-3, 4))) % (HEIGHT - 30)
            img[y : y + 30, x : x + 40] = rng.integers(120, 255, 3)
            cy, cx = int(rng.integers(10, HEIGHT - 10)), int(rng.integers(10, WIDTH - 10))
            img[cy - 8 : cy + 8, cx - 8 : cx + 8] = (255, 40, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def predict_config(tmp_path: Path, backbone: Path, videos: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "experiments" / "synthcrime" / "predict.yaml").read_text())
    cfg["trainer"].update(default_root_dir=str(tmp_path / "run"), accelerator="cpu", enable_progress_bar=False)
    cfg["trainer"]["callbacks"][0]["init_args"]["init_from"] = None  # a fresh (LoRA no-op) model
    cfg["trainer"]["callbacks"][1]["init_args"]["out_dir"] = str(tmp_path / "out")
    bb = cfg["model"]["init_args"]["backbone"]["init_args"]
    bb.update(path=str(backbone), num_frames=8, frame_pixels=64 * 64)
    cfg["model"]["init_args"]["max_new_tokens"] = 96
    cfg["data"]["init_args"].update(videos=str(videos), window_seconds=2.0, stride_seconds=1.0, batch_size=4, num_workers=0)
    path = tmp_path / "predict.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_predict_on_a_foreign_video(tiny_backbone_dir, tmp_path, monkeypatch, capsys):
    from vanguard.stages.base import StageBase
    from vanguard.video import probe

    video = foreign_video(tmp_path / "foreign clip.mp4")
    assert probe(str(video))[1:] == (FPS, WIDTH, HEIGHT)
    real_generate = StageBase.generate

    def generate_with_markup(self, batch, decisions=None):
        texts = real_generate(self, batch, decisions)
        texts[0] = (f"<think>{INJECTED} a person & a car</think>\n"
                    '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [0, 100, 1000, 1000], '
                    '"label": "person <b>"}]}')
        return texts

    monkeypatch.setattr(StageBase, "generate", generate_with_markup)
    main(["predict", "--config", str(predict_config(tmp_path, tiny_backbone_dir, video)),
          "--model.init_args.generate_normal", "true"])  # text for every subclip, flagged or not
    out = capsys.readouterr().out
    assert "video-seconds per wall-second" in out and f"{SECONDS:.1f} s of video" in out

    (pred,) = read_predictions(tmp_path / "out")
    raw = json.loads((tmp_path / "out" / "predictions" / "foreign clip.json").read_text())
    assert raw["format"] == FORMAT
    assert (pred.width, pred.height, pred.fps, pred.num_frames) == (WIDTH, HEIGHT, FPS, FPS * SECONDS)
    # 2 s windows (14 frames) every 1 s (7 frames) over 42 frames: starts 0, 7, ..., 28
    assert [s.start_frame for s in pred.subclips] == [0, 7, 14, 21, 28]
    assert all(s.end_frame == s.start_frame + 13 for s in pred.subclips)
    assert pred.subclips[-1].end_s == pytest.approx(SECONDS)
    for s in pred.subclips:
        assert 0.0 <= s.score <= 1.0 and s.raw_text
        assert (tmp_path / "out" / "predictions" / s.keyframe_png).is_file()
        for b in s.boxes:
            assert 0 <= b.x1 < b.x2 <= WIDTH and 0 <= b.y1 < b.y2 <= HEIGHT
    first = pred.subclips[0]
    assert first.boxes and first.boxes[0].x2 == WIDTH and first.boxes[0].y1 == pytest.approx(15.0)
    assert INJECTED in first.reasoning

    page = (tmp_path / "out" / "foreign clip.html").read_text()
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert "script" not in parser.tags and "b" not in parser.tags  # model text never becomes markup
    assert any(INJECTED in t for t in parser.text)  # ...but is shown, escaped
    assert "&lt;script&gt;" in page and "img" in parser.tags and "table" in parser.tags


def test_constrained_flag_is_off_from_the_cli(tiny_backbone_dir, tmp_path):
    from vanguard.lightning_cli import run_lightning_cli

    config = predict_config(tmp_path, tiny_backbone_dir, tmp_path)
    for flag, expected in ((["--model.init_args.constrained", "false"], False), ([], True)):
        cli = run_lightning_cli(["--config", str(config), *flag], run=False)
        assert cli.model.hparams.constrained is expected
        assert (cli.model.logits_processor() is None) is (not expected)


def test_predict_scores_only_never_generates(tiny_backbone_dir, tmp_path, monkeypatch):
    """``generate_predict false`` (zero-shot scoring): every subclip gets a score and the head's category, and no
    answer is generated."""
    from vanguard.stages.base import StageBase

    def no_generation(self, batch, decisions=None):
        raise AssertionError("generate called although generate_predict is false")

    monkeypatch.setattr(StageBase, "generate", no_generation)
    video = foreign_video(tmp_path / "clip.mp4")
    main(["predict", "--config", str(predict_config(tmp_path, tiny_backbone_dir, video)),
          "--model.init_args.generate_predict", "false"])
    (pred,) = read_predictions(tmp_path / "out")
    assert len(pred.subclips) == 5
    for s in pred.subclips:
        assert 0.0 <= s.score <= 1.0 and not s.raw_text and not s.boxes
