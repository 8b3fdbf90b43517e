"""SubclipDataModule over real shards (real H.264 mp4s in real tars), the unit tiny backbone's real processor."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import torch

from datamodules import SkipLimitError, SubclipDataModule
from datamodules.streams import subsample_positions
from tests.helpers.shards import write_test_shards
from vanguard.categories import CATEGORY_INDEX
from vanguard.errors import ConfigError
from vanguard.processing import IGNORE_INDEX


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """3 train shards (odd: uneven over 2 ranks), 3 val shards, 1 test shard; 2 corrupt samples per split."""
    root = tmp_path_factory.mktemp("shards")
    return write_test_shards(root, n_videos=4, clips_per_video=3, shards_per_split={"train": 3, "val": 3, "test": 1},
                             corrupt=2, frames_per_clip=8)


def make_dm(shards, backbone, **kw):
    args = dict(frame_pixels=64 * 64, num_frames=4, batch_size=3, num_workers=2, shuffle_buffer=8, target="answer",
                max_skip_fraction=0.5, min_samples_before_skip_check=4)
    args.update(kw)
    return SubclipDataModule(str(shards["root"]), str(backbone), **args)


def as_rank(monkeypatch, rank, world_size):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world_size))


def test_subsample_positions_end_on_keyframe():
    assert subsample_positions(16, 15, 8) == [0, 2, 4, 6, 9, 11, 13, 15]
    assert subsample_positions(8, 7, 16) == list(range(8))  # never upsampled
    assert subsample_positions(8, 3, 8) == [0, 1, 2, 3]  # frames after the keyframe are dropped
    assert subsample_positions(8, 0, 4) == [0]
    for n, k, m in [(32, 31, 16), (17, 12, 5), (9, 8, 3)]:
        pos = subsample_positions(n, k, m)
        assert pos[-1] == k and pos[0] == 0 and len(pos) == min(m, k + 1) and all(b > a for a, b in zip(pos, pos[1:]))


def test_validation_covers_every_sample_once_over_two_ranks_two_workers(shards, tiny_backbone_dir, monkeypatch):
    split = shards["splits"]["val"]
    seen: list[str] = []
    per_rank, skipped = [], 0
    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        dm = make_dm(shards, tiny_backbone_dir, eval_batch_size=2)
        keys = []
        for batch in dm.val_dataloader():
            assert "labels" not in batch
            assert batch["attention_mask"][:, -1].all()  # left-padded: every row ends with a real token
            assert (batch["prompt_end"] == batch["input_ids"].shape[1] - 1).all()
            assert batch["label"].tolist() == [m["label"] for m in batch["meta"]]
            assert batch["category"].tolist() == [CATEGORY_INDEX[m["category"]] for m in batch["meta"]]
            assert batch["mm_token_type_ids"].shape == batch["input_ids"].shape
            keys += [m["key"] for m in batch["meta"]]
        per_rank.append(keys)
        seen += keys
        skipped += dm.skip_counts["val"]["skipped"]
    assert Counter(seen) == Counter(split["valid_keys"])  # each valid sample exactly once, none dropped
    assert all(per_rank) and abs(len(per_rank[0]) - len(per_rank[1])) <= 2
    assert skipped == len(split["corrupt_keys"]) == 2


def test_training_gives_every_rank_the_same_batch_count(shards, tiny_backbone_dir, monkeypatch):
    counts, first_keys = [], []
    for rank in (0, 1):
        as_rank(monkeypatch, rank, 2)
        dm = make_dm(shards, tiny_backbone_dir)
        assert dm.default_batches_per_epoch() == len(shards["splits"]["train"]["keys"]) // (3 * 2) == 2
        dm.batches_per_epoch = 5  # more batches than one pass over this rank's share of the data
        loader = dm.train_dataloader()
        assert len(loader) == 5
        for _epoch in range(2):
            batches = list(loader)
            counts.append(len(batches))
            for b in batches:
                assert b["input_ids"].shape[0] == 3  # full batches only
                assert b["attention_mask"][:, 0].all()  # right-padded
                answer_tokens = (b["labels"] != IGNORE_INDEX).sum(1)
                assert (answer_tokens > 0).all() and (answer_tokens < b["attention_mask"].sum(1)).all()
                assert not {m["key"] for m in b["meta"]} & set(shards["splits"]["train"]["corrupt_keys"])
            first_keys.append([m["key"] for m in batches[0]["meta"]])
    assert counts == [5, 5, 5, 5]
    assert len({tuple(k) for k in first_keys}) > 1  # ranks and epochs draw different streams


def test_stream_is_reseeded_from_seed_step_and_rank(shards, tiny_backbone_dir, monkeypatch):
    def first_batches(step, rank, seed=0):
        as_rank(monkeypatch, rank, 2)
        dm = make_dm(shards, tiny_backbone_dir, seed=seed, batches_per_epoch=3)
        stream = dm.train_dataloader()
        dm.global_step = lambda: step  # what a resumed run's trainer reports
        return [[m["key"] for m in b["meta"]] for b in stream]

    assert first_batches(0, 0) == first_batches(0, 0)  # reproducible for the same (seed, step, rank)
    assert first_batches(100, 0) != first_batches(0, 0)  # a resumed run does not replay the start
    assert first_batches(0, 1) != first_batches(0, 0)
    assert first_batches(0, 0, seed=1) != first_batches(0, 0)


def test_corrupt_training_samples_are_skipped_counted_and_logged(shards, tiny_backbone_dir, monkeypatch, caplog):
    as_rank(monkeypatch, 0, 1)
    dm = make_dm(shards, tiny_backbone_dir, batches_per_epoch=12)
    with caplog.at_level(logging.WARNING, logger="datamodules.streams"):
        batches = list(dm.train_dataloader())
    counts = dm.skip_counts["train"]
    assert len(batches) == 12 and counts["seen"] == 36 + counts["skipped"]
    corrupt = set(shards["splits"]["train"]["corrupt_keys"])
    logged = [r.getMessage() for r in caplog.records if "skipped train sample" in r.getMessage()]
    assert counts["skipped"] > 0 and logged
    assert all(any(k in msg for k in corrupt) for msg in logged)
    assert len(logged) == len(set(logged))  # once per key


def test_mostly_corrupt_shard_stops_the_run(tmp_path, tiny_backbone_dir, monkeypatch):
    data = write_test_shards(tmp_path, n_videos=4, clips_per_video=3, splits=("train", "val"), shards_per_split=2,
                             corrupt_shards=[1])
    as_rank(monkeypatch, 0, 1)
    dm = SubclipDataModule(str(tmp_path), str(tiny_backbone_dir), frame_pixels=64 * 64, num_frames=4, batch_size=2,
                           num_workers=2, shuffle_buffer=4, target="none", batches_per_epoch=50,
                           min_samples_before_skip_check=10)
    with pytest.raises(SkipLimitError) as err:
        list(dm.train_dataloader())
    msg = str(err.value)
    assert str(tmp_path / "train") in msg and "max_skip_fraction=1.0%" in msg and "skipped" in msg
    with pytest.raises(SkipLimitError, match="val shards in .* skipped 5 of \\d+ samples"):
        list(dm.val_dataloader())
    assert len(data["splits"]["val"]["corrupt_keys"]) == 5


def test_targets_and_frame_subsampling(shards, tiny_backbone_dir, monkeypatch):
    as_rank(monkeypatch, 0, 1)
    dm = make_dm(shards, tiny_backbone_dir, target="none", num_workers=0, batches_per_epoch=1)
    batch = next(iter(dm.train_dataloader()))
    assert "labels" not in batch and batch["attention_mask"][:, 0].all()
    meta = batch["meta"][0]
    source = shards["splits"]["train"]["meta"][meta["key"]]
    assert meta["frame_indices"] == [source["frame_indices"][p] for p in (0, 2, 5, 7)]
    assert meta["keyframe"] == 3 and meta["boxes"] == source["boxes"]
    assert batch["video_grid_thw"][:, 0].tolist() == [2] * 3  # 4 frames / temporal patch 2
    assert batch["pixel_values_videos"].dtype == torch.uint8  # normalised on the model's device (Backbone)

    dm = make_dm(shards, tiny_backbone_dir, target="reasoning", num_workers=0, batches_per_epoch=1)
    batch = next(iter(dm.train_dataloader()))
    tok = dm.processor(True).encoder.tokenizer
    row = batch["labels"][0]
    target = tok.decode(row[row != IGNORE_INDEX])
    assert target.startswith("<think>" + batch["meta"][0]["reasoning"]) and '"anomaly"' in target
    prompt = tok.decode(next(iter(dm.val_dataloader()))["input_ids"][0])
    assert "<think>" in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_clear_errors(tmp_path, tiny_backbone_dir):
    dm = SubclipDataModule(str(tmp_path / "nowhere"), str(tiny_backbone_dir), target="answer")
    with pytest.raises(ConfigError, match="does not exist"):
        dm.train_dataloader()
    dm = SubclipDataModule(str(tmp_path), str(tiny_backbone_dir))
    with pytest.raises(ConfigError, match="target"):
        dm.resolve_target()
    with pytest.raises(ConfigError):
        SubclipDataModule(str(tmp_path), str(tiny_backbone_dir), max_skip_fraction=2.0)


def test_batches_move_to_device_like_lightning_does(shards, tiny_backbone_dir, monkeypatch):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    as_rank(monkeypatch, 0, 1)
    batch = next(iter(make_dm(shards, tiny_backbone_dir, num_workers=0).test_dataloader()))
    moved = move_data_to_device(batch, torch.device("cpu"))
    assert moved["meta"] == batch["meta"] and torch.equal(moved["pixel_values_videos"], batch["pixel_values_videos"])


def test_cached_keys_are_not_decoded_and_their_batches_still_count(shards, tiny_backbone_dir, monkeypatch):
    """Stage 1's feature cache: keys the module names are validated but not decoded; a batch made only of such
    samples carries labels and meta but no model inputs, and still counts towards the epoch."""
    import types

    as_rank(monkeypatch, 0, 1)
    dm = make_dm(shards, tiny_backbone_dir, num_workers=0, target="none")
    good = set(shards["splits"]["train"]["keys"]) - set(shards["splits"]["train"]["corrupt_keys"])
    module = types.SimpleNamespace(target="none", cached_keys=lambda: frozenset(good))
    dm.trainer = types.SimpleNamespace(lightning_module=module, global_step=0, world_size=1, global_rank=0)
    dm.batches_per_epoch = 4
    decoded = []
    monkeypatch.setattr("datamodules.streams.decode_clip", lambda *a, **k: decoded.append(a) or None)
    batches = list(dm.train_dataloader())
    assert len(batches) == 4 and not decoded
    for b in batches:
        assert "input_ids" not in b and b.get("encoded_rows") == [] and len(b["label"]) == 3
        assert {m["key"] for m in b["meta"]} <= good
