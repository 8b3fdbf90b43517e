"""What backbone pretraining asks and what it answers, and how a generated caption is read back.

The real Qwen3-VL-Instruct arrives able to say what happens in a clip and to ground what it names. The demo's tiny
backbone learns the same two skills on SynthCrime videos of a seed of their own (``vanguard.pretrain``):

- **what happens**: the clip's caption leads with the event (``"A fight on the left of the frame: they exchange
  blows."``) or says that nothing unusual happens, followed by what the scene shows (a UCA-style sentence that
  overlaps no anomaly). Captions that only describe the scene taught the earlier tiny model the scene kind and the
  caption template, never the event (``research/caption_probe.py``: anomaly-word ROC-AUC 0.50), so the event
  comes first here and is worded one way per category.
- **referring grounding**: "locate every <label> in the last frame", answered with Qwen3-VL's bare box list.

:func:`named_event` reads back which event a generated caption names; the held-out figures of pretraining
(``vanguard.pretrain_eval``) count how often that is the truth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from vanguard.annotate.wording import EVENTS
from vanguard.answer import Box, render_boxes
from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import anomalous_fraction, overlapping_captions

CAPTION_QUESTION = "Describe what happens in this surveillance clip."
GROUNDING_QUESTION = "Locate every {label} in the last frame of the clip, and output their bbox coordinates in JSON format."
NOTHING = "Nothing unusual happens."


def event_phrase(category: str) -> str:
    """The one name of ``category``'s event that captions use (the scripted teacher's first name for it)."""
    names = EVENTS.get(category, ([category.lower()], []))[0]
    return names[0]


def _place(boxes: Sequence[Box]) -> str:
    """Where the boxes are, by their union's centre, in thirds of the frame."""
    cx = (min(b.x1 for b in boxes) + max(b.x2 for b in boxes)) / 2
    return ["on the left", "in the middle", "on the right"][min(2, int(3 * cx / 1001))] + " of the frame"


def window_boxes(record: VideoRecord, frame_indices: Sequence[int]) -> list[Box]:
    """The ground-truth boxes of the last sampled frame that has any (the keyframe when it is inside the event)."""
    for frame in reversed(list(frame_indices)):
        boxes = (record.boxes or {}).get(frame)
        if boxes:
            return list(boxes)
    return []


def what_happens(record: VideoRecord, frame_indices: Sequence[int], min_fraction: float = 0.25,
                 scene: bool = True) -> str:
    """The caption of a window: its event (by the curriculum's labelling rule, ``min_fraction`` of the sampled
    frames inside an interval), or that nothing unusual happens, then (``scene``) a scene sentence that overlaps no
    anomaly. Without the scene sentence the caption is a few tokens, most of them the decision that needs the
    pixels, so that decision carries a larger share of the loss."""
    fps = float(record.fps or 25.0)
    if record.category != NORMAL and anomalous_fraction(frame_indices, record.intervals or []) >= min_fraction - 1e-9:
        doing = EVENTS.get(record.category, ([], ["something unusual happens"]))[1][0]
        boxes = window_boxes(record, frame_indices)
        where = f" {_place(boxes)}" if boxes else ""
        text = f"{event_phrase(record.category)}{where}: {doing}."
        return text[:1].upper() + text[1:]
    events = [(s / fps, (e + 1) / fps) for s, e in (record.intervals or [])]
    quiet = [c for c in overlapping_captions(record.captions or [], frame_indices[0] / fps, (frame_indices[-1] + 1) / fps)
             if not any(c.start < b and c.end > a for a, b in events)]
    return f"{NOTHING} {quiet[0].sentence.strip()}" if quiet and scene else NOTHING


def grounding_target(record: VideoRecord, keyframe: int, rng: random.Random) -> tuple[str, str] | None:
    """``(question, answer)`` asking for every box of one label on ``keyframe``; None when the frame has no box."""
    boxes = (record.boxes or {}).get(keyframe) or []
    if not boxes:
        return None
    label = rng.choice(sorted({b.label for b in boxes}))
    return GROUNDING_QUESTION.format(label=label), render_boxes([b for b in boxes if b.label == label])


def named_event(text: str, categories: Sequence[str]) -> str | None:
    """Which of ``categories`` (or Normal) a generated caption names first; None when it names none."""
    lower = text.strip().lower()
    if lower.startswith(NOTHING.lower().rstrip(".")):
        return NORMAL
    hits = [(lower.find(event_phrase(c).lower()), c) for c in categories]
    hits = [(i, c) for i, c in hits if i >= 0]
    return min(hits)[1] if hits else None
