"""Grounders: boxes on a subclip's keyframe for the objects the teacher named, in Qwen3-VL's 0..1000 convention.

- :class:`OracleGrounder`: the ground-truth boxes of the keyframe (SynthCrime has them).
- :class:`GroundingDinoGrounder`: transformers' GroundingDINO from a local directory, prompted with the teacher's
  object phrases. Pixel ``xyxy`` boxes are converted with :meth:`vanguard.answer.Box.from_pixels` relative to the
  keyframe's original width and height (clamped to 0..1000, never degenerate).

Only anomalous subclips are grounded; a normal subclip's answer has no boxes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

from vanguard.annotate.teacher import SubclipContext, TeacherAnswer
from vanguard.answer import Box
from vanguard.errors import BackboneNotFoundError


class Grounder(ABC):
    """Base of the grounders: boxes per (context, teacher answer), in 0..1000 on the keyframe."""

    #: recorded in every sample's ``grounder`` field and in the manifest
    id: str = "grounder"

    def setup(self, device=None) -> None:  # noqa: B027 - optional hook: load weights on the rank's device
        """Load what the grounder needs on ``device`` (called once per rank before annotating)."""

    @abstractmethod
    def ground(self, contexts: list[SubclipContext], answers: list[TeacherAnswer]) -> list[list[Box]]:
        """Boxes for each (context, answer) pair, in order."""


class OracleGrounder(Grounder):
    """The ground-truth boxes of the keyframe (from the video record), whatever the teacher named."""

    def __init__(self):
        self.id = "oracle"

    def ground(self, contexts: list[SubclipContext], answers: list[TeacherAnswer]) -> list[list[Box]]:
        return [ctx.keyframe_boxes for ctx in contexts]


def phrases_to_prompt(phrases) -> str:
    """GroundingDINO's text form: lower-case phrases separated by ". " with a trailing ".": ``"a person. a car."``"""
    return " ".join(p.strip().lower().rstrip(".") + "." for p in phrases if p.strip())


def clean_label(raw: str, phrases) -> str:
    """A box's label: the first teacher phrase its text span contains, else the cleaned span, else phrase one."""
    text = " ".join(re.sub(r"\[(cls|sep|pad|unk|mask)\]|[.,]", " ", raw.lower()).split())
    for phrase in phrases:
        if phrase and phrase in text:
            return phrase
    return text or (phrases[0] if phrases else "object")


class GroundingDinoGrounder(Grounder):
    """GroundingDINO (``AutoModelForZeroShotObjectDetection``) prompted with the teacher's object phrases.

    Args:
        model_dir: local directory with the model and its processor (nothing is downloaded).
        threshold: minimum box score kept (GroundingDINO's box threshold; the model card's default is 0.35).
        text_threshold: minimum score of the text tokens that name a box (model card default 0.25).
        max_boxes: keep at most this many boxes per keyframe, best first.
        batch_size: keyframes per forward pass.
    """

    def __init__(self, model_dir: str, threshold: float = 0.35, text_threshold: float = 0.25, max_boxes: int = 4,
                 batch_size: int = 8):
        self.model_dir = str(model_dir)
        self.threshold = threshold
        self.text_threshold = text_threshold
        self.max_boxes = max_boxes
        self.batch_size = batch_size
        self.id = f"grounding-dino:{Path(self.model_dir).name}"
        self.model = self.processor = None
        self.device = None

    def setup(self, device=None) -> None:
        import torch
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        if self.model is not None:
            return
        path = Path(self.model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise BackboneNotFoundError(f"GroundingDINO directory {str(path)!r} lacks config.json")
        self.processor = AutoProcessor.from_pretrained(path, trust_remote_code=False)
        self.model = AutoModelForZeroShotObjectDetection.from_pretrained(path, trust_remote_code=False)
        self.device = torch.device(device or "cpu")
        self.model.to(self.device).eval()

    def ground(self, contexts: list[SubclipContext], answers: list[TeacherAnswer]) -> list[list[Box]]:
        self.setup(self.device)
        out: list[list[Box]] = [[] for _ in contexts]
        todo = [i for i, a in enumerate(answers) if a.anomaly and a.objects]
        for b in range(0, len(todo), self.batch_size):
            chunk = todo[b : b + self.batch_size]
            for i, boxes in zip(chunk, self._detect([contexts[i] for i in chunk], [answers[i] for i in chunk])):
                out[i] = boxes
        return out

    def _detect(self, contexts: list[SubclipContext], answers: list[TeacherAnswer]) -> list[list[Box]]:
        import torch
        from PIL import Image

        images = [Image.fromarray(ctx.frames[-1]) for ctx in contexts]  # the keyframe is the last sampled frame
        texts = [phrases_to_prompt(a.objects) for a in answers]
        inputs = self.processor(images=images, text=texts, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        sizes = [(img.height, img.width) for img in images]
        results = self.processor.post_process_grounded_object_detection(
            outputs, inputs["input_ids"], threshold=self.threshold, text_threshold=self.text_threshold,
            target_sizes=sizes,
        )
        boxes_per_image = []
        for res, ctx, answer in zip(results, contexts, answers):
            order = torch.argsort(res["scores"], descending=True)[: self.max_boxes].tolist()
            names = res["text_labels"] if "text_labels" in res else None
            boxes = []
            for k in order:
                x1, y1, x2, y2 = (float(v) for v in res["boxes"][k])
                label = clean_label(str(names[k]) if names is not None else "", answer.objects)
                boxes.append(Box.from_pixels(x1, y1, x2, y2, ctx.width, ctx.height, label))
            boxes_per_image.append(boxes)
        return boxes_per_image
