"""The annotate pipeline end to end, in process: shards, schema, decord, stats vs ground truth, rules."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from tests.annotate.helpers import ground_truth, read_samples, run_annotate
from tests.helpers.annotation_videos import WINDOWS, make_records
from vanguard.annotate.grounder import GroundingDinoGrounder
from vanguard.annotate.module import order_records, rank_share
from vanguard.annotate.teacher import REJECT_REASONS, QwenTeacher, ScriptedTeacher
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import WindowConfig
from vanguard.errors import ConfigError
from vanguard.video import decode_clip


def test_scripted_annotation_matches_ground_truth(tmp_path, records):
    out = tmp_path / "shards"
    stats = run_annotate(records, out, WINDOWS, maxcount=3)
    rows = read_samples(out)
    truth = ground_truth(records, WINDOWS)
    assert Counter((split, key) for split, key, *_ in rows) == Counter(truth.keys())  # every subclip exactly once
    by_id = {r.video_id: r for r in records}
    for split, key, meta, mp4, shard in rows:
        assert split == meta["split"] and shard.startswith("shard-r0-")
        frames = decode_clip(mp4)  # decord reads the subclip's own mp4: its sampled frames only
        assert frames.shape == (len(meta["frame_indices"]), 64, 96, 3)
        assert meta["label"] == truth[(split, key)]
        record = by_id[meta["video_id"]]
        expected = record.boxes[meta["frame_indices"][-1]] if meta["label"] else []
        assert [b["bbox_2d"] for b in meta["boxes"]] == [[b.x1, b.y1, b.x2, b.y2] for b in expected]
        assert meta["teacher"] == "scripted" and meta["grounder"] == "oracle" and meta["reasoning"]
    # stats agree with the ground truth
    saved = json.loads((out / "stats.json").read_text())
    for split in ("train", "val", "test"):
        labels = [v for (s, _), v in truth.items() if s == split]
        assert saved["samples"][split] == len(labels) == stats["samples"][split]
        assert saved["anomalous"][split] == sum(labels)
        fighting = [v for (s, k), v in truth.items() if s == split and k.startswith("Fighting")]
        cell = saved["per_category"][split]["Fighting"]
        assert cell["samples"] == len(fighting) and cell["anomalous_fraction"] == round(sum(fighting) / len(fighting), 4)
        assert saved["boxes_per_sample"][split]["histogram"].get("2", 0) == sum(labels)
    assert saved["rejected_total"] == {}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["teacher"] == "scripted" and manifest["grounder"] == "oracle"
    assert manifest["options"]["windows"]["length"] == 16 and manifest["leakage"]["allow_test_leakage"] is False
    assert manifest["source"]["videos"] == {"train": 3, "val": 1, "test": 2}
    # running again finds everything done: nothing new, nothing duplicated
    before = sorted(p.name for p in out.rglob("*.tar"))
    run_annotate(records, out, WINDOWS, maxcount=3)
    assert sorted(p.name for p in out.rglob("*.tar")) == before
    assert len(read_samples(out)) == len(rows)


def test_test_videos_in_training_shards_are_refused(tmp_path, records):
    leak = VideoRecord(**{**records[-1].__dict__, "split": "train"})  # a test video listed for training
    with pytest.raises(ConfigError, match="test videos would go into training shards"):
        run_annotate(records + [leak], tmp_path / "a", WINDOWS)
    run_annotate(records + [leak], tmp_path / "b", WINDOWS, allow_test_leakage=True)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["leakage"] == {"allow_test_leakage": True, "leaked_videos": [leak.video_id]}


def test_other_settings_into_the_same_output_are_refused(tmp_path, records):
    run_annotate(records[:1], tmp_path / "s", WINDOWS)
    with pytest.raises(ConfigError, match="other settings"):
        run_annotate(records[:1], tmp_path / "s", WindowConfig(length=16, stride=16, num_frames=8))


def test_corrupt_video_is_counted_not_fatal(tmp_path, records):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    broken = VideoRecord("Broken_000", str(bad), "test", "Normal", "synthcrime", intervals=[])
    stats = run_annotate(records + [broken], tmp_path / "s", WINDOWS)
    assert stats["rejected"]["test"] == {"decode_error": 1}
    assert stats["videos"]["test"] == 3  # the broken one is done (recorded), not retried forever


def test_training_videos_without_intervals(tmp_path):
    records = make_records(tmp_path / "v", n_train=2, n_val=0, n_test=0, with_test_labels=False)
    run_annotate(records, tmp_path / "s", WINDOWS)
    rows = read_samples(tmp_path / "s")
    labels = {meta["video_id"]: set() for _, _, meta, _, _ in rows}
    for _, _, meta, _, _ in rows:
        labels[meta["video_id"]].add(meta["label"])
    assert labels == {"Fighting_train_000": {1}, "Normal_train_001": {0}}  # the teacher decided; normal is normal


def test_tiny_qwen_teacher_and_grounding_dino(tmp_path, tiny_backbone_dir, tiny_gdino_dir):
    records = make_records(tmp_path / "v", n_train=1, n_val=0, n_test=1)
    teacher = QwenTeacher(str(tiny_backbone_dir), max_new_tokens=12, max_retries=1, batch_size=4,
                          frame_pixels=64 * 64)
    grounder = GroundingDinoGrounder(str(tiny_gdino_dir), threshold=0.0, text_threshold=0.0, max_boxes=2)
    stats = run_annotate(records, tmp_path / "s", WINDOWS, teacher=teacher, grounder=grounder)
    total = len(ground_truth(records, WINDOWS))
    assert stats["run_subclips_total"] == total
    assert sum(stats["rejected_total"].values()) + sum(stats["samples"].values()) == total
    assert set(stats["rejected_total"]) <= set(REJECT_REASONS) and stats["rejected_total"]
    for *_, meta, _, _ in read_samples(tmp_path / "s"):  # whatever was written validates (read_samples checks)
        assert meta["teacher"] == teacher.id
    # the real grounder behind the scripted teacher: every anomalous sample gets GroundingDINO's boxes
    run_annotate(records, tmp_path / "g", WINDOWS, teacher=ScriptedTeacher(), grounder=grounder)
    rows = read_samples(tmp_path / "g")
    assert rows and all(meta["grounder"] == grounder.id for _, _, meta, _, _ in rows)
    assert all(len(meta["boxes"]) == (2 if meta["label"] else 0) for _, _, meta, _, _ in rows)


def test_shards_stored_at_the_models_size(tmp_path, records, tiny_backbone_dir, one_torch_thread):
    """``shard_frame_pixels``: each subclip's mp4 holds its frames at the size the backbone's processor picks for
    that budget; the json keeps the SOURCE width/height (plus stored_width/stored_height), and the model inputs
    have the same grid and token ids as those of the same subclip stored at source size."""
    from vanguard.processing import SubclipEncoder, target_size
    from vanguard.schema import SchemaError, validate

    frame_pixels = 64 * 64  # the 96x64 test videos -> 64x32
    small, full = tmp_path / "small", tmp_path / "full"
    run_annotate(records, small, WINDOWS, shard_frame_pixels=frame_pixels)
    run_annotate(records, full, WINDOWS)
    stored = {key: (meta, mp4) for _, key, meta, mp4, _ in read_samples(small)}
    source = {key: (meta, mp4) for _, key, meta, mp4, _ in read_samples(full)}
    assert stored.keys() == source.keys() and stored
    t = WINDOWS.num_frames
    h, w = target_size(t, 64, 96, frame_pixels)
    assert (h, w) == (32, 64)
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=frame_pixels)
    for key, (meta, mp4) in stored.items():
        frames = decode_clip(mp4)
        assert frames.shape == (t, h, w, 3)
        assert (meta["width"], meta["height"]) == (96, 64) and (meta["stored_width"], meta["stored_height"]) == (w, h)
        src_meta, src_mp4 = source[key]
        assert "stored_width" not in src_meta
        assert {k: v for k, v in meta.items() if not k.startswith("stored_")} == src_meta
        a = enc.encode(frames, meta["fps"], meta["frame_indices"], target=meta["answer"])
        b = enc.encode(decode_clip(src_mp4), meta["fps"], meta["frame_indices"], target=meta["answer"])
        for k in ("input_ids", "attention_mask", "mm_token_type_ids", "labels", "video_grid_thw", "prompt_end"):
            assert torch.equal(a[k], b[k]), k
        assert a["pixel_values_videos"].shape == b["pixel_values_videos"].shape
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["options"]["shard_frame_pixels"] == frame_pixels
    assert manifest["fingerprint"]["shard_frame_pixels"] == frame_pixels
    assert "shard_frame_pixels" not in json.loads((full / "manifest.json").read_text())["fingerprint"]
    with pytest.raises(ConfigError, match="other settings"):  # no mixing stored sizes in one output
        run_annotate(records, full, WINDOWS, shard_frame_pixels=frame_pixels)
    meta = next(iter(stored.values()))[0]
    with pytest.raises(SchemaError, match="go together"):
        validate({k: v for k, v in meta.items() if k != "stored_height"})
    with pytest.raises(SchemaError, match="positive int"):
        validate(dict(meta, stored_width=0))
    assert all(validate(m) is m for m, _ in source.values())  # shards without them stay valid


def test_shards_resized_by_the_named_backbones_processor(tmp_path, records, tiny_backbone_dir, one_torch_thread):
    """``shard_backbone``: the stored size is the one THAT backbone's processor picks (here a processor with 1x1
    merging, whose 16-pixel grid differs from Qwen3-VL's default 32), so its loader never resizes again.
    (Widths stay multiples of 32: decord cannot read back frames of a width like 48.)"""
    import shutil

    from vanguard.processing import SubclipEncoder, target_size

    backbone = tmp_path / "backbone"
    shutil.copytree(tiny_backbone_dir, backbone)
    config = json.loads((backbone / "processor_config.json").read_text())
    config["video_processor"]["merge_size"] = 1
    (backbone / "processor_config.json").write_text(json.dumps(config))
    frame_pixels = 64 * 60  # 96x64 frames: 64x32 on the default 32-grid, 64x48 on a 16-grid
    enc = SubclipEncoder(str(backbone), frame_pixels=frame_pixels)
    t = WINDOWS.num_frames
    assert target_size(t, 64, 96, frame_pixels) != target_size(t, 64, 96, frame_pixels, enc.processor.video_processor)
    h, w = target_size(t, 64, 96, frame_pixels, enc.processor.video_processor)
    run_annotate(records, tmp_path / "s", WINDOWS, shard_frame_pixels=frame_pixels, shard_backbone=backbone)
    rows = read_samples(tmp_path / "s")
    assert rows
    for *_, meta, mp4, _ in rows:
        assert (meta["stored_width"], meta["stored_height"]) == (w, h)
        assert decode_clip(mp4).shape == (t, h, w, 3)
    with pytest.raises(ConfigError, match="shard_frame_pixels is null"):
        run_annotate(records, tmp_path / "n", WINDOWS, shard_backbone=backbone)


def test_shard_crf_sets_how_much_of_the_source_the_stored_subclips_keep(tmp_path, records, one_torch_thread):
    """``shard_crf``: the stored mp4s are re-encoded at that x264 CRF. A near-lossless CRF keeps the decoded
    subclip closer to the source frames than the default 23 and costs bytes; the labels and metadata do not change,
    and the setting is part of the output's fingerprint (no mixing CRFs in one output)."""
    import numpy as np

    default, fine = tmp_path / "default", tmp_path / "fine"
    run_annotate(records, default, WINDOWS)
    run_annotate(records, fine, WINDOWS, shard_crf=0)
    a = {key: (meta, mp4) for _, key, meta, mp4, _ in read_samples(default)}
    b = {key: (meta, mp4) for _, key, meta, mp4, _ in read_samples(fine)}
    assert a.keys() == b.keys() and a
    paths = {r.video_id: r.path for r in records}
    err = {"default": [], "fine": []}
    for key, (meta, mp4) in a.items():
        assert b[key][0] == meta
        source = decode_clip(paths[meta["video_id"]], meta["frame_indices"]).astype(np.float64)
        for name, data in (("default", mp4), ("fine", b[key][1])):
            err[name].append(np.abs(decode_clip(data).astype(np.float64) - source).mean())
    # yuv420 chroma subsampling stays in both (~1.1 grey levels); the rest is the CRF
    assert np.mean(err["fine"]) < 0.9 * np.mean(err["default"]), err
    assert sum(len(m) for _, m in b.values()) > sum(len(m) for _, m in a.values())
    manifest = json.loads((fine / "manifest.json").read_text())
    assert manifest["options"]["shard_crf"] == 0 and manifest["fingerprint"]["shard_crf"] == 0
    assert "shard_crf" not in json.loads((default / "manifest.json").read_text())["fingerprint"]
    with pytest.raises(ConfigError, match="other settings"):
        run_annotate(records, default, WINDOWS, shard_crf=0)
    with pytest.raises(ConfigError, match="between 0 and 51"):
        run_annotate(records, tmp_path / "bad", WINDOWS, shard_crf=60)


def test_work_order_mixes_categories_and_is_stable():
    # UCF-Crime-style ids sort by category; shards written in that order hold one category each
    categories = ("Arson", "Fighting", "Normal_Videos", "Shooting")
    records = [VideoRecord(f"{c}{i:03d}_x264", f"/v/{c}{i}.mp4", split, category=c.replace("_Videos", ""))
               for split in ("test", "train") for c in categories for i in range(1, 13)]
    ordered = order_records(records)
    assert [r.split for r in ordered] == ["train"] * 48 + ["test"] * 48
    first_shard = ordered[:12]  # what a 12-video shard would hold
    assert len({r.category for r in first_shard}) >= 3
    # a subset (a restart, another rank's view) keeps the relative order of the full list
    subset = [r for r in records if not r.video_id.startswith("Fighting")]
    assert [r.video_id for r in order_records(subset)] == [r.video_id for r in ordered if r in subset]
    shares = [rank_share(records, rank, 3) for rank in range(3)]
    assert sorted(r.video_id + r.split for share in shares for r in share) == sorted(r.video_id + r.split for r in records)
