"""Bad model output: the teacher's answers (annotation) and the student's answers (evaluation, constrained decoding
off) that are not JSON, truncated, carry extra keys, or are huge. Parsing never raises; it gives a typed reason,
which the annotation stats and the answer metrics count."""

from __future__ import annotations

import json
import time

import pytest

from vanguard.annotate.teacher import REJECT_REASONS, TeacherAnswer, parse_teacher_answer
from vanguard.answer import INVALID_REASONS, parse_answer

TEACHER_OK = {"observations": "Two people push each other.", "reasoning": "Pushing and hitting is a fight.",
              "anomaly": "yes", "category": "Fighting", "objects": ["person in red", "person in blue"]}
STUDENT_OK = {"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [10, 20, 300, 400], "label": "person"}]}
HUGE = 10 * 1024 * 1024  # 10 MB


def _bad_texts(ok: dict) -> dict[str, str | None]:
    text = json.dumps(ok)
    return {
        "none": None,
        "empty": "   \n",
        "prose, no JSON": "The video shows a fight between two people.",
        "truncated": text[: len(text) // 2],
        "truncated at the last brace": text[:-1],
        "JSON list": json.dumps([ok]),
        "JSON string": json.dumps(text),
        "missing key": json.dumps({k: v for k, v in ok.items() if k != "category"}),
        "unknown category": json.dumps(dict(ok, category="Picnic")),
        "anomaly not yes/no": json.dumps(dict(ok, anomaly=True)),
        "null values": json.dumps(dict.fromkeys(ok)),
        "deeply nested": "[" * 100_000 + "]" * 100_000,
        "huge garbage (10 MB)": "x" * HUGE,
        "huge unclosed JSON (10 MB)": '{"reasoning": "' + "a" * HUGE,
        "NaN and control bytes": '{"anomaly": NaN, "category": "\x00\x01"}',
    }


@pytest.mark.parametrize("case", list(_bad_texts(TEACHER_OK)))
def test_teacher_answer_never_raises_and_gives_a_reason(case):
    text = _bad_texts(TEACHER_OK)[case]
    start = time.perf_counter()
    result = parse_teacher_answer(text, label=1, video_category="Fighting")
    assert result in REJECT_REASONS, result
    assert time.perf_counter() - start < 5.0  # a 10 MB answer is rejected in bounded time


@pytest.mark.parametrize("case", list(_bad_texts(STUDENT_OK)))
def test_student_answer_never_raises_and_gives_a_reason(case):
    text = _bad_texts(STUDENT_OK)[case]
    start = time.perf_counter()
    parsed = parse_answer(text)
    assert not parsed.valid and parsed.reason in INVALID_REASONS, parsed
    assert time.perf_counter() - start < 5.0


def test_extra_keys_are_ignored_not_fatal():
    """A model that adds keys (``confidence``, ``notes``) still gives its answer; the extra keys are dropped."""
    teacher = parse_teacher_answer(json.dumps(dict(TEACHER_OK, confidence=0.9, notes={"a": 1})), 1, "Fighting")
    assert isinstance(teacher, TeacherAnswer) and teacher.category == "Fighting"
    assert set(teacher.as_json()) == set(TEACHER_OK)
    parsed = parse_answer(json.dumps(dict(STUDENT_OK, confidence=0.9)))
    assert parsed.valid and parsed.answer.category == "Fighting"


def test_student_specific_failures_have_their_own_reasons():
    box = STUDENT_OK["boxes"][0]
    cases = {
        "<think>I see a fight": "unclosed_think",
        json.dumps(dict(STUDENT_OK, boxes=[dict(box, bbox_2d=[10, 20, 3000, 400])])): "out_of_range",
        json.dumps(dict(STUDENT_OK, boxes=[dict(box, bbox_2d=[300, 20, 10, 400])])): "x2_le_x1",
        json.dumps(dict(STUDENT_OK, boxes=[dict(box, bbox_2d=[10, 400, 300, 20])])): "y2_le_y1",
        json.dumps(dict(STUDENT_OK, boxes=[dict(box, bbox_2d=[10.5, 20, 300, 400])])): "invalid_box",
        json.dumps(dict(STUDENT_OK, boxes=[dict(box, bbox_2d=[True, 20, 300, 400])])): "invalid_box",
        json.dumps(dict(STUDENT_OK, category="Normal")): "inconsistent",
    }
    for text, reason in cases.items():
        assert parse_answer(text).reason == reason, text


def test_huge_valid_teacher_answer_is_accepted_whole():
    """A long but valid answer is not cut (the teacher's generation length caps it upstream)."""
    long = dict(TEACHER_OK, reasoning="They fight. " * 20_000)
    result = parse_teacher_answer("```json\n" + json.dumps(long) + "\n```", 1, "Fighting")
    assert isinstance(result, TeacherAnswer) and len(result.reasoning) > 200_000
