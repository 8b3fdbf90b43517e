"""Grounders: the oracle's true boxes, and transformers' GroundingDINO (tiny, random weights) to 0..1000 boxes."""

from __future__ import annotations

import json

import numpy as np

from vanguard.annotate.grounder import GroundingDinoGrounder, OracleGrounder, clean_label, phrases_to_prompt
from vanguard.annotate.teacher import SubclipContext, TeacherAnswer
from vanguard.answer import Box, answer_from_json


def _ctx(key="v-0000000", width=160, height=120):
    frames = np.random.default_rng(0).integers(0, 255, size=(4, height, width, 3), dtype=np.uint8)
    boxes = {6: [Box(10, 20, 300, 400, "person")], 0: [Box(1, 2, 3, 4, "person")]}
    return SubclipContext(key, "v", "synthcrime", "test", "Fighting", 8.0, (0, 2, 4, 6), width, height, frames,
                          boxes=boxes)


def test_oracle_gives_the_keyframe_boxes():
    (boxes,) = OracleGrounder().ground([_ctx()], [TeacherAnswer("o", "r", True, "Fighting", ("x",))])
    assert boxes == [Box(10, 20, 300, 400, "person")]


def test_prompt_and_label_helpers():
    assert phrases_to_prompt(["A Person", "red car."]) == "a person. red car."
    assert clean_label("person car [SEP]", ("car", "person")) == "car"
    assert clean_label("[CLS] .", ("bag",)) == "bag"
    assert clean_label("fire", ("bag",)) == "fire"


def test_tiny_grounding_dino_boxes_are_valid_answers(tiny_gdino_dir):
    grounder = GroundingDinoGrounder(str(tiny_gdino_dir), threshold=0.0, text_threshold=0.0, max_boxes=3)
    ctxs = [_ctx("a-0000000"), _ctx("b-0000000", width=90, height=200), _ctx("c-0000000")]
    answers = [TeacherAnswer("o", "r", True, "Fighting", ("person", "car")),
               TeacherAnswer("o", "r", True, "Fighting", ("bag",)),
               TeacherAnswer("o", "r", False, "Normal", ("person",))]
    out = grounder.ground(ctxs, answers)
    assert grounder.id == f"grounding-dino:{tiny_gdino_dir.name}"
    assert len(out[0]) == 3 and len(out[1]) == 3  # threshold 0 keeps max_boxes per keyframe
    assert out[2] == []  # normal subclips are not grounded
    for boxes, phrases in zip(out[:2], (("person", "car"), ("bag",))):
        for box in boxes:
            assert 0 <= box.x1 < box.x2 <= 1000 and 0 <= box.y1 < box.y2 <= 1000
            assert box.label in phrases
        parsed = answer_from_json({"anomaly": "yes", "category": "Fighting",
                                   "boxes": json.loads(json.dumps([b.as_json() for b in boxes]))})
        assert not isinstance(parsed, str)


def test_high_threshold_keeps_nothing(tiny_gdino_dir):
    grounder = GroundingDinoGrounder(str(tiny_gdino_dir), threshold=1.01)
    assert grounder.ground([_ctx()], [TeacherAnswer("o", "r", True, "Fighting", ("person",))]) == [[]]
