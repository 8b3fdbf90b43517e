"""The answer format: the one module that renders and parses what the model says.

Qwen3-VL's own grounding convention: boxes are ``{"bbox_2d": [x1, y1, x2, y2], "label": str}`` in relative
0..1000 coordinates of the original frame (x first, top-left origin), on the subclip's keyframe.

- Stage 2 target: the JSON answer, e.g. ``{"anomaly": "yes", "category": "Fighting", "boxes": [...]}``.
- Stage 3 target: ``<think>`` reasoning ``</think>`` followed by the same JSON answer.
- A normal subclip answers ``{"anomaly": "no", "category": "Normal", "boxes": []}``.

Parsing model text never raises: :func:`parse_answer` returns a :class:`Parsed` holding either the answer or a
typed reason (one of :data:`INVALID_REASONS`), which the metrics count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from vanguard.categories import CATEGORIES, NORMAL

COORD_MAX = 1000
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

#: Every reason a piece of model text can fail to be an answer; metrics report a rate for each.
INVALID_REASONS = (
    "empty",  # nothing but whitespace
    "unclosed_think",  # <think> without </think>
    "not_json",  # the answer part does not parse as JSON
    "not_object",  # it parses, but is not a JSON object
    "missing_key",  # one of anomaly / category / boxes is absent
    "bad_anomaly",  # anomaly is not "yes" / "no"
    "unknown_category",  # category not in CATEGORIES
    "inconsistent",  # anomaly "no" with an anomalous category, or "yes" with Normal
    "invalid_box",  # a box is not {"bbox_2d": [4 ints], "label": str}
    "out_of_range",  # a coordinate outside 0..1000
    "x2_le_x1",  # degenerate or reversed box
    "y2_le_y1",
)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in 0..1000 relative coordinates, x first, top-left origin."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str = "object"

    def as_json(self) -> dict:
        return {"bbox_2d": [self.x1, self.y1, self.x2, self.y2], "label": self.label}

    def to_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Map back to pixels of a ``width`` x ``height`` frame (x / 1000 * W)."""
        return (
            self.x1 / COORD_MAX * width,
            self.y1 / COORD_MAX * height,
            self.x2 / COORD_MAX * width,
            self.y2 / COORD_MAX * height,
        )

    @classmethod
    def from_pixels(cls, x1: float, y1: float, x2: float, y2: float, width: int, height: int, label: str) -> Box:
        """Convert absolute pixel xyxy (e.g. GroundingDINO's output) to 0..1000, clamped, never degenerate."""

        def rel(v: float, size: int) -> int:
            return int(min(COORD_MAX, max(0, round(v / size * COORD_MAX))))

        a, b, c, d = rel(x1, width), rel(y1, height), rel(x2, width), rel(y2, height)
        if c <= a:
            a, c = (a, a + 1) if a < COORD_MAX else (COORD_MAX - 1, COORD_MAX)
        if d <= b:
            b, d = (b, b + 1) if b < COORD_MAX else (COORD_MAX - 1, COORD_MAX)
        return cls(a, b, c, d, label)


@dataclass(frozen=True)
class Answer:
    """What the model answers for one subclip."""

    anomaly: bool
    category: str = NORMAL
    boxes: tuple[Box, ...] = field(default_factory=tuple)

    def as_json(self) -> dict:
        return {
            "anomaly": "yes" if self.anomaly else "no",
            "category": self.category,
            "boxes": [b.as_json() for b in self.boxes],
        }


@dataclass(frozen=True)
class Parsed:
    """The result of parsing model text: ``answer`` is set when ``reason`` is None."""

    answer: Answer | None
    reasoning: str | None = None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


def render_answer(answer: Answer) -> str:
    """The JSON answer text (stage 2 target)."""
    return json.dumps(answer.as_json(), ensure_ascii=False)


def render_boxes(boxes) -> str:
    """A bare list of boxes, Qwen3-VL's generic grounding answer (``[{"bbox_2d": [...], "label": ...}]``)."""
    return json.dumps([b.as_json() for b in boxes], ensure_ascii=False)


def render_target(answer: Answer, reasoning: str | None = None) -> str:
    """The full target text: ``<think>reasoning</think>`` + JSON answer when reasoning is given (stage 3)."""
    text = render_answer(answer)
    if reasoning is None:
        return text
    return f"{THINK_OPEN}{reasoning.strip()}{THINK_CLOSE}\n{text}"


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _box(obj: object) -> Box | str:
    if not isinstance(obj, dict) or "bbox_2d" not in obj:
        return "invalid_box"
    coords, label = obj["bbox_2d"], obj.get("label", "object")
    if not isinstance(coords, list) or len(coords) != 4 or not isinstance(label, str):
        return "invalid_box"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in coords):
        return "invalid_box"
    if not all(0 <= v <= COORD_MAX for v in coords):
        return "out_of_range"
    x1, y1, x2, y2 = coords
    if x2 <= x1:
        return "x2_le_x1"
    if y2 <= y1:
        return "y2_le_y1"
    return Box(x1, y1, x2, y2, label)


def parse_box_list(text: str) -> list[Box]:
    """The valid boxes of a bare box list (what :func:`render_boxes` writes); [] when it is not one. Never raises."""
    try:
        obj = json.loads(text.strip())
    except (ValueError, RecursionError):
        return []
    boxes = [_box(raw) for raw in obj] if isinstance(obj, list) else []
    return [b for b in boxes if isinstance(b, Box)]


def anomaly_and_category(obj: dict) -> tuple[bool, str] | str:
    """``(anomaly, category)`` of a decoded answer-like object with "anomaly" (yes/no) and a known "category"
    that agree with each other, or the reason they do not (shared by the student's and the teacher's schemas)."""
    if obj["anomaly"] not in ("yes", "no"):
        return "bad_anomaly"
    category = obj["category"]
    if category not in CATEGORIES:
        return "unknown_category"
    anomaly = obj["anomaly"] == "yes"
    if anomaly == (category == NORMAL):
        return "inconsistent"
    return anomaly, category


def answer_from_json(obj: object) -> Answer | str:
    """Validate a decoded JSON value as an answer; returns the Answer or the reason it is not one."""
    if not isinstance(obj, dict):
        return "not_object"
    if not {"anomaly", "category", "boxes"} <= obj.keys():
        return "missing_key"
    checked = anomaly_and_category(obj)
    if isinstance(checked, str):
        return checked
    anomaly, category = checked
    if not isinstance(obj["boxes"], list):
        return "invalid_box"
    boxes = []
    for raw in obj["boxes"]:
        box = _box(raw)
        if isinstance(box, str):
            return box
        boxes.append(box)
    return Answer(anomaly, category, tuple(boxes))


def parse_answer(text: str) -> Parsed:
    """Parse model text (with or without a ``<think>`` block, with or without a json fence). Never raises."""
    if text is None or not text.strip():
        return Parsed(None, reason="empty")
    text = text.strip()
    reasoning = None
    if text.startswith(THINK_OPEN):
        end = text.find(THINK_CLOSE)
        if end < 0:
            return Parsed(None, reasoning=text[len(THINK_OPEN) :].strip(), reason="unclosed_think")
        reasoning = text[len(THINK_OPEN) : end].strip()
        text = text[end + len(THINK_CLOSE) :].strip()
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1)
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return Parsed(None, reasoning=reasoning, reason="not_json")
    result = answer_from_json(obj)
    if isinstance(result, str):
        return Parsed(None, reasoning=reasoning, reason=result)
    return Parsed(result, reasoning=reasoning)
