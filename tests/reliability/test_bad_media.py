"""Bad and unusual media through every reader: decode_clip, annotation, the shard datamodule, the predict loader.

Unusual but valid video (greyscale, 10-bit, odd frame size, variable frame rate) is read as RGB uint8 of the right
geometry; undecodable video (empty, random bytes, cut mp4) is a VideoDecodeError for one clip, a counted skip in a
run; a shard cut mid-member loses only its tail, counted as skipped.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile

import numpy as np
import pytest
import torch

from datamodules import SkipLimitError, SubclipDataModule, video_windows_loader
from tests.annotate.helpers import read_samples, run_annotate
from tests.helpers.shards import write_test_shards
from tests.reliability.media import UNUSUAL, bad_videos, encode, encode_unusual, truncate_tar
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import WindowConfig
from vanguard.errors import ConfigError
from vanguard.schema import SchemaError, decode
from vanguard.video import VideoDecodeError, decode_clip, probe

torch.set_num_threads(1)
WINDOWS = WindowConfig(length=8, stride=8, num_frames=4, min_fraction=0.25)


@pytest.mark.parametrize("kind", sorted(UNUSUAL))
def test_unusual_video_decodes_to_rgb_of_its_geometry(kind):
    kw = UNUSUAL[kind]
    data = encode(None, **kw)
    n, fps, width, height = probe(data)
    assert n == 12 and (width, height) == (kw.get("width", 64), kw.get("height", 48)) and fps > 0
    clip = decode_clip(data, [0, 5, 11])
    assert clip.shape == (3, height, width, 3) and clip.dtype == np.uint8
    assert clip[0].std() > 0 and not np.array_equal(clip[0], clip[2])  # real pictures, not a blank fill


def test_undecodable_video_is_a_video_decode_error(tmp_path):
    for name, path in bad_videos(tmp_path).items():
        for src in (str(path), path.read_bytes()):
            with pytest.raises(VideoDecodeError):
                decode_clip(src)
            with pytest.raises(VideoDecodeError):
                probe(src)
        assert name
    with pytest.raises(VideoDecodeError, match="out of range"):
        decode_clip(encode(None, n=5), [0, 7])  # shorter than the window asked for


def _records(folder, names_and_paths):
    return [VideoRecord(video_id=name.replace("-", "_"), path=str(path), split="train", category="Normal",
                        dataset="synthcrime", intervals=[]) for name, path in names_and_paths]


def test_annotation_counts_bad_videos_and_takes_unusual_ones(tmp_path):
    folder = tmp_path / "videos"
    good = []
    for kind in UNUSUAL:
        encode_unusual(kind, folder / f"{kind}.mp4")
        good.append((kind, folder / f"{kind}.mp4"))
    encode(folder / "short.mp4", n=3)  # shorter than one 8-frame subclip: one window over its 3 frames
    good.append(("short", folder / "short.mp4"))
    bad = list(bad_videos(folder).items())
    out = tmp_path / "shards"
    stats = run_annotate(_records(folder, good + bad), out, WINDOWS)
    assert stats["rejected"]["train"] == {"decode_error": len(bad)}
    samples = read_samples(out)
    videos = {meta["video_id"] for _, _, meta, _, _ in samples}
    assert videos == {name.replace("-", "_") for name, _ in good}
    for _, _, meta, mp4, _ in samples:
        assert decode_clip(mp4).shape[0] == len(meta["frame_indices"])
        if meta["video_id"] == "odd_size":
            assert (meta["width"], meta["height"]) == (65, 47)
        if meta["video_id"] == "short":
            assert meta["frame_indices"] == [0, 1, 2]
    # the counted skips are in the done records, so a re-run does not retry them and adds nothing
    again = run_annotate(_records(folder, good + bad), out, WINDOWS)
    assert again["samples"] == stats["samples"] and len(read_samples(out)) == len(samples)


@pytest.fixture(scope="module")
def unusual_shards(tmp_path_factory):
    """Val shards holding greyscale / 10-bit / odd-size / VFR subclips (re-encoded samples of the test shards)."""
    root = tmp_path_factory.mktemp("unusual")
    data = write_test_shards(root, n_videos=4, clips_per_video=2, splits=("train", "val"), shards_per_split=1)
    for split in ("train", "val"):
        (shard,) = data["splits"][split]["shards"]
        with tarfile.open(shard) as tar:
            members = [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]
        kinds = sorted(UNUSUAL)
        with tarfile.open(shard, "w") as tar:
            mp4s = 0
            for name, blob in members:
                if name.endswith(".mp4"):
                    blob = encode_unusual(kinds[mp4s % len(kinds)], n=8)
                    mp4s += 1
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    return data


def _dm(root, backbone, **kw):
    args = dict(frame_pixels=64 * 64, num_frames=4, batch_size=2, num_workers=0, shuffle_buffer=4, target="answer",
                max_skip_fraction=0.5, min_samples_before_skip_check=4)
    return SubclipDataModule(str(root), str(backbone), **(args | kw))


def test_datamodule_reads_unusual_video(unusual_shards, tiny_backbone_dir, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    dm = _dm(unusual_shards["root"], tiny_backbone_dir)
    keys = [m["key"] for b in dm.val_dataloader() for m in b["meta"]]
    assert sorted(keys) == sorted(unusual_shards["splits"]["val"]["keys"])
    assert dm.skip_counts["val"]["skipped"] == 0
    batch = next(iter(_dm(unusual_shards["root"], tiny_backbone_dir, batches_per_epoch=1).train_dataloader()))
    assert torch.isfinite(batch["pixel_values_videos"]).all()


def test_truncated_shard_training_counts_it_evaluation_refuses_it(tmp_path, tiny_backbone_dir, monkeypatch, caplog):
    """Training (samples drawn with replacement) keeps the good samples and counts the cut shard as a skip, logged
    with the shard's name; evaluation must cover every sample, so a cut shard is one clear error naming it."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    data = write_test_shards(tmp_path, n_videos=4, clips_per_video=3, splits=("train", "val"), shards_per_split=2)
    cut = {split: data["splits"][split]["shards"][1] for split in ("train", "val")}
    for shard in cut.values():
        assert 0 < truncate_tar(shard, keep_fraction=0.5) < 12
    dm = _dm(tmp_path, tiny_backbone_dir, batches_per_epoch=6, max_skip_fraction=0.9)
    with caplog.at_level(logging.WARNING, logger="datamodules.streams"):
        batches = list(dm.train_dataloader())
    assert len(batches) == 6 and all(len(b["meta"]) == 2 for b in batches)
    assert dm.skip_counts["train"]["skipped"] >= 1
    assert any(cut["train"] in r.getMessage() and "unreadable shard" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match=f"{cut['val']}: not a readable tar shard"):
        list(dm.val_dataloader())


def test_all_shards_unreadable_stops_training(tmp_path, tiny_backbone_dir, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    data = write_test_shards(tmp_path, n_videos=2, clips_per_video=2, splits=("train",), shards_per_split=2)
    for shard in data["splits"]["train"]["shards"]:
        truncate_tar(shard, keep_fraction=0.0)  # zero-length files
    dm = _dm(tmp_path, tiny_backbone_dir, batches_per_epoch=2, min_samples_before_skip_check=10)
    with pytest.raises(SkipLimitError, match="skipped"):
        list(dm.train_dataloader())


def test_predict_loader_counts_undecodable_videos(tmp_path, tiny_backbone_dir, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    videos = []
    for kind in UNUSUAL:
        path = tmp_path / f"{kind}.mp4"
        encode_unusual(kind, path)
        videos.append((str(path), [list(range(0, 8)), list(range(4, 12))]))
    bad = bad_videos(tmp_path / "bad")
    videos += [(str(p), [list(range(0, 8))]) for p in bad.values()]
    loader = video_windows_loader(videos, str(tiny_backbone_dir), frame_pixels=64 * 64, num_frames=4, batch_size=3,
                                  max_skip_fraction=0.5, min_samples_before_skip_check=100)
    metas = [m for b in loader for m in b["meta"]]
    assert len(metas) == 2 * len(UNUSUAL)
    assert {(m["width"], m["height"]) for m in metas} == {(64, 48), (65, 47)}
    assert loader.accountant.counts.skipped == len(bad)


def test_shard_sample_with_unusual_json_is_a_schema_error():
    """A sample whose json is not UTF-8, or not an object, is refused by the schema (a counted skip in a run)."""
    for raw_json in (b"\xff\xfe not utf-8", b"[1, 2]", json.dumps({"label": 1}).encode()):
        with pytest.raises(SchemaError):
            decode({"__key__": "x-0000000", "json": raw_json, "mp4": b"\0"})
