"""video_windows_loader over real source mp4s: prompt-only left-padded batches, each window once across ranks."""

from __future__ import annotations

from collections import Counter

import pytest

from datamodules import video_windows_loader
from tests.helpers.shards import write_test_shards
from vanguard.errors import ConfigError


def test_windows_of_source_videos(tmp_path, tiny_backbone_dir, monkeypatch):
    data = write_test_shards(tmp_path / "shards", n_videos=2, clips_per_video=3, splits=("test",), shards_per_split=1,
                             frames_per_clip=8, source_dir=tmp_path / "videos")
    sources = data["splits"]["test"]["sources"]
    videos: dict[str, list] = {}
    for path, window in sources.values():
        videos.setdefault(path, []).append(window)
    bad = next(iter(videos))
    videos[bad].append([200, 201])  # past the end of a 48-frame video: skipped and counted
    seen, skipped = [], 0
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = video_windows_loader(list(videos.items()), str(tiny_backbone_dir), frame_pixels=64 * 64,
                                      num_frames=4, batch_size=2, num_workers=2, min_samples_before_skip_check=100)
        for batch in loader:
            assert "labels" not in batch and batch["attention_mask"][:, -1].all()
            assert batch["label"].tolist() == [-1] * len(batch["meta"])
            for m in batch["meta"]:
                window = sources[m["key"]][1]
                assert m["frame_indices"] == [window[p] for p in (0, 2, 5, 7)] and m["keyframe"] == 3
                assert m["fps"] == pytest.approx(15.0) and (m["width"], m["height"]) == data["size"]
            seen += [m["key"] for m in batch["meta"]]
        skipped += loader.accountant.counts.skipped
    assert Counter(seen) == Counter(list(sources))
    assert skipped == 1


def test_bad_inputs_are_clear_errors(tmp_path, tiny_backbone_dir):
    with pytest.raises(ConfigError, match="does not exist"):
        video_windows_loader([(str(tmp_path / "missing.mp4"), [[0, 1]])], str(tiny_backbone_dir))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    with pytest.raises(ConfigError, match="strictly increasing"):
        video_windows_loader([(str(video), [[3, 2]])], str(tiny_backbone_dir))
