"""Backbone pretraining (``python -m vanguard backbone pretrain``) end to end on a few SynthCrime videos.

Captioning windows ask what happens (the event, or that nothing unusual does); grounding windows end on a frame with
ground-truth boxes and ask for that frame's boxes of one label, answered in Qwen3-VL's bare box-list format.
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


def test_what_happens_names_the_event_only_where_the_window_shows_it(pretrain_world):
    from vanguard.categories import NORMAL
    from vanguard.data.catalog import load_catalog
    from vanguard.data.subclips import WindowConfig, window_label, windows
    from vanguard.pretrain_targets import NOTHING, event_phrase, named_event, what_happens

    config = WindowConfig(length=16, stride=8, num_frames=8)
    seen = set()
    categories = tuple(sorted({r.category for r in load_catalog(pretrain_world, "synthcrime", "all")} - {NORMAL}))
    for record in load_catalog(pretrain_world, dataset="synthcrime", split="all"):
        for w in windows(record.num_frames, config):
            text = what_happens(record, list(w.frame_indices))
            label = window_label(w, record.intervals or [], config.min_fraction)
            seen.add(label)
            if label:
                assert text.lower().startswith(event_phrase(record.category).lower()), text
                assert " of the frame: " in text
                assert named_event(text, categories) == record.category
            else:
                assert text.startswith(NOTHING) and named_event(text, categories) == NORMAL, text
                assert not any(event_phrase(c) in text.lower() for c in categories), text
    assert seen == {0, 1}
    assert named_event("a car drives by", categories) is None


def test_parse_box_list_keeps_only_valid_boxes():
    from vanguard.answer import parse_box_list

    good = render_boxes([Box(10, 20, 300, 400, "person")])
    assert parse_box_list(good) == [Box(10, 20, 300, 400, "person")]
    assert parse_box_list('[{"bbox_2d": [300, 20, 10, 400], "label": "person"}]') == []  # x2 <= x1
    assert parse_box_list("not json") == [] and parse_box_list('{"bbox_2d": [1, 2, 3, 4]}') == []


def test_pretrain_mixes_events_normal_windows_and_grounding(pretrain_world, tiny_backbone_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    from vanguard.data.catalog import load_catalog
    from vanguard.data.subclips import WindowConfig
    from vanguard.pretrain import CaptionClips, pretrain_backbone
    from vanguard.pretrain_targets import NOTHING
    from vanguard.processing import SubclipEncoder

    records = load_catalog(pretrain_world, dataset="synthcrime", split="all")
    anomalous = [r for r in records if r.boxes]
    assert anomalous, "the generated world has no boxes"
    encoder = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=64 * 64)
    config = WindowConfig(length=8, stride=4, num_frames=4)
    clips = CaptionClips(records, encoder, config, windows_per_video=1, seed=0, grounding_windows_per_video=2,
                         event_windows_per_video=2)
    assert clips.grounding == 2 * len(anomalous) and clips.events == 2 * len(anomalous)
    captions = [item for item in clips.items if item[3] == CAPTION_QUESTION]
    assert sum(not t.startswith(NOTHING) for *_, t, _ in captions) == clips.events
    assert sum(t.startswith(NOTHING) for *_, t, _ in captions) >= len(records)  # >= 1 normal window per video
    grounding = [item for item in clips.items if item[3] != CAPTION_QUESTION]
    assert len(grounding) == clips.grounding
    for frames, _, idx, question, target, category in grounding:
        assert frames.shape[0] == 4 and idx[-1] - idx[0] == 7
        record = next(r for r in anomalous if r.category == category and idx[-1] in r.boxes
                      and render_boxes([b for b in r.boxes[idx[-1]] if f"every {b.label} " in question]) == target)
        assert record.anomalous
    sample = clips[len(clips.items) - 1]
    assert sample["pixel_values_videos"].dtype == torch.uint8 and (sample["labels"] != -100).any()

    out = pretrain_backbone(tiny_backbone_dir, pretrain_world, tmp_path / "pretrained", split="train",
                            heldout_split="test", steps=3, batch_size=2, window_length=8, window_stride=4,
                            num_frames=4, frame_pixels=64 * 64, windows_per_video=1, event_windows_per_video=1,
                            grounding_windows_per_video=1, eval_every=2, eval_clips=6, save_dtype="bfloat16",
                            num_workers=0)
    summary = json.loads((out / "pretrain.json").read_text())
    assert summary["steps"] == 3 and summary["heldout_clips"] == 6
    assert [e["step"] for e in summary["evaluations"]] == [2, 3]  # every eval_every steps and at the end
    assert summary["heldout"] in summary["evaluations"]
    for key in ("event_accuracy", "grounding_acc_iou50"):
        assert key in summary["heldout"]
    assert torch.isfinite(torch.tensor([summary["first_loss"], summary["final_loss"]])).all()
    before = AutoModelForImageTextToText.from_pretrained(str(tiny_backbone_dir)).state_dict()
    after = AutoModelForImageTextToText.from_pretrained(str(out), dtype=torch.float32).state_dict()
    assert after[next(iter(after))].dtype == torch.float32
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained, and saved what it trained
