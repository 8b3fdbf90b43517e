"""Videos shorter than the model's temporal patch (one frame) or slower than about 1 fps (CCTV exports), and
folders of videos in other containers: annotation skips and counts the short ones (recorded as done, so a re-run
does not crash on them again), ``predict``'s video folder reports them, gives slow videos two-frame windows,
takes the common containers and names the files it leaves out. Real H.264/MPEG-2/WMV files, real processor."""

from __future__ import annotations

import json

import pytest

from tests.annotate.helpers import read_samples, run_annotate
from tests.reliability.media import CONTAINERS, encode, encode_container
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import MIN_FRAMES, TooFewFramesError, WindowConfig, windows
from vanguard.errors import ConfigError
from vanguard.video import VideoDecodeError

WINDOWS = WindowConfig(length=8, stride=8, num_frames=4, min_fraction=0.25)


def test_one_frame_is_a_clear_error_of_the_shared_windowing():
    with pytest.raises(TooFewFramesError, match=f"1 frame.*at least {MIN_FRAMES}") as err:
        windows(1, WINDOWS)
    assert isinstance(err.value, VideoDecodeError)  # every reader that skips undecodable videos skips it too
    assert [w.frame_indices for w in windows(2, WINDOWS)] == [(0, 1)]
    with pytest.raises(ConfigError, match="num_frames must be at least 2"):
        WindowConfig(length=8, stride=8, num_frames=1)


def test_annotation_skips_and_counts_a_one_frame_video_and_a_rerun_completes(tmp_path, capsys):
    """With ``shard_frame_pixels`` (the processor's resize, which refuses one frame) the one-frame video used to
    crash the job, and every re-run at the same video; a 0.5 fps video is annotated like any other."""
    folder = tmp_path / "videos"
    encode(folder / "one.mp4", n=1)
    encode(folder / "slow.mp4", n=16, fps=0.5)
    encode(folder / "plain.mp4", n=16)
    records = [VideoRecord(video_id=name, path=str(folder / f"{name}.mp4"), split="train", category="Normal",
                           dataset="synthcrime", intervals=[]) for name in ("one", "slow", "plain")]
    out = tmp_path / "shards"
    stats = run_annotate(records, out, WINDOWS, shard_frame_pixels=64 * 64)
    printed = capsys.readouterr().out
    assert "skipped 1 whole videos (too short for one subclip; counted as rejected 'too_few_frames'): one" in printed
    assert stats["rejected"]["train"] == {"too_few_frames": 1}
    assert stats["skipped_videos"] == {"too_few_frames": ["one"]}
    samples = read_samples(out)
    assert {meta["video_id"] for _, _, meta, _, _ in samples} == {"slow", "plain"} and len(samples) == 4
    assert json.loads((out / "stats.json").read_text())["skipped_videos"] == {"too_few_frames": ["one"]}
    again = run_annotate(records, out, WINDOWS, shard_frame_pixels=64 * 64)
    assert again["samples"] == stats["samples"] and len(read_samples(out)) == len(samples)


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "videos"
    encode(folder / "plain.mp4", n=12)
    encode(folder / "one.mp4", n=1)
    encode(folder / "cctv.mp4", n=12, fps=0.5)
    for ext in CONTAINERS:
        encode_container(folder / f"clip_{ext[1:]}{ext}", n=12)
    (folder / "notes.txt").write_text("not a video")
    (folder / "thumb.jpg").write_bytes(b"\xff\xd8")
    return folder


def test_video_folder_takes_other_containers_reports_skips_and_windows_slow_videos(mixed_folder, tiny_backbone_dir,
                                                                                  capsys):
    from datamodules import VideoFolderDataModule
    from datamodules.predict import video_windows_loader

    dm = VideoFolderDataModule(str(mixed_folder), str(tiny_backbone_dir), frame_pixels=64 * 64, num_frames=4,
                               window_seconds=2.0, stride_seconds=1.0, batch_size=4)
    dm.setup("predict")
    err = capsys.readouterr().err
    assert sorted(dm.video_info) == sorted(["plain", "cctv", *(f"clip_{ext[1:]}" for ext in CONTAINERS)])
    assert "ignored 2 file(s)" in err and "notes.txt" in err and "thumb.jpg" in err
    assert f"skipped {mixed_folder / 'one.mp4'}: 1 frame(s)" in err and str(mixed_folder / "one.mp4") in dm.skipped
    assert "cctv.mp4 has 0.5 fps: its windows span 2 frames (4.0 s) instead of 2 s" in err
    entries = dict(dm.entries())
    cctv = entries[str(mixed_folder / "cctv.mp4")]
    assert cctv and all(len(w) >= MIN_FRAMES for w in cctv)
    loader = video_windows_loader([(str(mixed_folder / "cctv.mp4"), cctv)], str(tiny_backbone_dir),
                                  frame_pixels=64 * 64, num_frames=4, batch_size=4)
    windows_seen = sum(len(batch["meta"]) for batch in loader)
    assert windows_seen == len(cctv) and loader.accountant.counts.skipped == 0


def test_catalog_annotation_counts_a_corrupt_video_instead_of_stopping(tmp_path):
    """A dataset root (UCF-Crime layout) whose training list names a corrupt file: the catalog used to raise on
    it, so the job stopped at that video on every re-run; now it is a counted ``decode_error`` skip."""
    from vanguard.annotate.cli import Source, TrainerOptions, annotate

    root = tmp_path / "ucf"
    (root / "videos" / "Normal").mkdir(parents=True)
    encode(root / "videos" / "Fighting" / "Fighting001_x264.mp4", n=16)
    (root / "videos" / "Fighting" / "Fighting002_x264.mp4").write_bytes(b"\x00" * 4096)
    encode(root / "videos" / "Fighting" / "Fighting003_x264.mp4", n=16, fps=7.0)
    (root / "Anomaly_Train.txt").write_text("Fighting/Fighting001_x264.mp4\nFighting/Fighting002_x264.mp4\n")
    (root / "Anomaly_Test.txt").write_text("Fighting/Fighting003_x264.mp4\n")
    stats = annotate(tmp_path / "shards", Source(dataset="ucf_crime", root=root, splits=["train"]), windows=WINDOWS,
                     trainer=TrainerOptions(accelerator="cpu"))
    assert stats["skipped_videos"] == {"decode_error": ["Fighting002_x264"]}
    assert stats["videos"]["train"] == 2
