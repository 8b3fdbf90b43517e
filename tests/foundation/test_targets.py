"""The training text of each stage (vanguard.targets): what the datamodules and the stages' target attributes use."""

from __future__ import annotations

import json

import pytest

from vanguard.answer import Answer, Box, parse_answer, render_answer
from vanguard.errors import ConfigError
from vanguard.schema import SchemaError
from vanguard.stages import ClassificationFinetune, ClassifierWarmup, GroundingStage, MonolithicStage, ReasoningStage
from vanguard.targets import TARGETS, asks_reasoning, training_text

FIGHT = Answer(True, "Fighting", (Box(100, 200, 600, 900, "person"),))


def sample_meta(answer: Answer = FIGHT, reasoning: str = "  Two men trade punches by the door. ") -> dict:
    """The fields of a shard sample's metadata that the training text reads (vanguard.schema)."""
    return {"video_id": "v1", "label": int(answer.anomaly), "category": answer.category,
            "boxes": [b.as_json() for b in answer.boxes], "answer": render_answer(answer), "reasoning": reasoning}


def test_each_target_renders_its_text_in_the_answer_format():
    meta = sample_meta()
    assert training_text("none", meta) is None
    assert training_text("answer", meta) == meta["answer"]
    text = training_text("reasoning", meta)
    assert text == '<think>Two men trade punches by the door.</think>\n' + meta["answer"]
    parsed = parse_answer(text)
    assert parsed.answer == FIGHT and parsed.reasoning == "Two men trade punches by the door."


def test_the_answer_target_is_the_stored_text_and_reasoning_renders_from_the_label_fields():
    """``answer`` trains on the text annotation stored; ``reasoning`` renders the answer from label, category and
    boxes (the schema checks that the two agree), so a normal sample says so in both."""
    meta = sample_meta(Answer(False), reasoning="People walk by.")
    meta["answer"] = json.dumps({"anomaly": "no", "category": "Normal", "boxes": []}, indent=1)
    assert training_text("answer", meta) == meta["answer"]
    assert training_text("reasoning", meta) == '<think>People walk by.</think>\n' + render_answer(Answer(False))


def test_a_sample_whose_label_fields_are_not_an_answer_and_an_unknown_target_are_refused():
    meta = sample_meta()
    meta["category"] = "Normal"  # label 1 with the Normal category
    with pytest.raises(SchemaError, match="v1: label/category/boxes are not a valid answer"):
        training_text("reasoning", meta)
    with pytest.raises(ConfigError, match="target must be one of"):
        training_text("caption", sample_meta())


def test_every_stage_declares_a_known_target_and_only_reasoning_asks_to_reason():
    stages = {ClassifierWarmup: "none", ClassificationFinetune: "none", GroundingStage: "answer",
              ReasoningStage: "reasoning", MonolithicStage: "reasoning"}
    assert {stage.target for stage in stages} == set(TARGETS)
    for stage, target in stages.items():
        assert stage.target == target
        assert asks_reasoning(stage.target) == (target == "reasoning")
