"""Backbone pretraining (``python -m vanguard backbone pretrain``) end to end on a few SynthCrime videos.

Captioning windows ask for the overlapping caption sentences; grounding windows end on a frame with ground-truth
boxes and ask for that frame's boxes of one label, answered in Qwen3-VL's bare box-list format.
"""

from __future__ import annotations

import json
import random

import pytest
import torch

from vanguard.answer import Box, render_boxes
from vanguard.data.annotations import VideoRecord
from vanguard.pretrain import CAPTION_QUESTION, GROUNDING_QUESTION, grounding_target

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pretrain_world(tmp_path_factory):
    from vanguard.tools.data_cli import main

    out = tmp_path_factory.mktemp("pretrain_world")
    main(["synthcrime", str(out), "--videos", "8", "--zero_shot", "0", "--seed", "5"])
    return out / "synthcrime"


def test_grounding_target_names_one_label_and_all_its_boxes():
    fire = [Box(10, 20, 30, 40, "fire"), Box(50, 60, 70, 80, "fire")]
    record = VideoRecord("v", "v.mp4", "train", category="Arson", boxes={7: [*fire, Box(1, 2, 3, 4, "person")]})
    questions = set()
    for seed in range(20):
        question, answer = grounding_target(record, 7, random.Random(seed))
        questions.add(question)
        boxes = json.loads(answer)
        label = boxes[0]["label"]
        assert question == GROUNDING_QUESTION.format(label=label)
        expected = [b for b in record.boxes[7] if b.label == label]
        assert answer == render_boxes(expected) and len(boxes) == len(expected)
    assert len(questions) == 2  # both labels get asked for
    assert grounding_target(record, 8, random.Random(0)) is None


def test_pretrain_mixes_captioning_and_grounding(pretrain_world, tiny_backbone_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    from vanguard.data.catalog import load_catalog
    from vanguard.pretrain import CaptionClips, pretrain_backbone
    from vanguard.processing import SubclipEncoder

    records = load_catalog(pretrain_world, dataset="synthcrime", split="all")
    anomalous = [r for r in records if r.boxes]
    assert anomalous, "the generated world has no boxes"
    encoder = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=64 * 64)
    clips = CaptionClips(records, encoder, num_frames=4, frame_stride=2, windows_per_video=1, seed=0,
                         grounding_windows_per_video=2)
    assert clips.grounding == 2 * len(anomalous)
    by_id = {r.path: r for r in records}
    grounding = [item for item in clips.items if item[3] != CAPTION_QUESTION]
    assert len(grounding) == clips.grounding
    for frames, _, idx, question, target in grounding:
        assert frames.shape[0] == 4 and idx == list(range(idx[0], idx[0] + 8, 2))
        key = idx[-1]  # the last sampled frame is the one asked about
        record = next(r for r in by_id.values() if r.boxes and key in r.boxes
                      and render_boxes([b for b in r.boxes[key] if f"every {b.label} " in question]) == target)
        assert record.anomalous
    sample = clips[len(clips.items) - 1]
    assert sample["pixel_values_videos"].dtype == torch.uint8 and (sample["labels"] != -100).any()

    out = pretrain_backbone(tiny_backbone_dir, pretrain_world, tmp_path / "pretrained", split="all", steps=3,
                            batch_size=2, num_frames=4, frame_stride=2, frame_pixels=64 * 64, windows_per_video=1,
                            grounding_windows_per_video=1, num_workers=0)
    summary = json.loads((out / "pretrain.json").read_text())
    assert summary["steps"] == 3 and summary["grounding_clips"] == len(anomalous)
    assert summary["clips"] > summary["grounding_clips"]
    assert torch.isfinite(torch.tensor([summary["first_loss"], summary["final_loss"]])).all()
    before = AutoModelForImageTextToText.from_pretrained(str(tiny_backbone_dir)).state_dict()
    after = AutoModelForImageTextToText.from_pretrained(str(out)).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained, and saved what it trained
