"""The teacher: what it must answer for a subclip (one JSON schema), how answers are validated, and two teachers.

Every teacher answers, per subclip, one JSON object::

    {"observations": str, "reasoning": str, "anomaly": "yes" | "no", "category": <a CATEGORIES name>,
     "objects": [short noun phrases of the objects involved]}

:func:`parse_teacher_answer` validates it (never raises) and gives either a :class:`TeacherAnswer` or a reason
from :data:`REJECT_REASONS`. Where the subclip's label is known (temporal intervals), an answer that contradicts it
is invalid too; where it is not (UCF-Crime training videos of an anomalous class), the teacher decides, but an
anomalous answer must name the video's class.

- :class:`ScriptedTeacher` writes the schema from the generator's ground truth (SynthCrime), with varied wording.
- :class:`QwenTeacher` prompts a Qwen3-VL model from a local directory; invalid answers are retried, then rejected.
"""

from __future__ import annotations

import json
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vanguard.answer import Box, anomaly_and_category
from vanguard.categories import CATEGORIES

#: Why a teacher answer is refused; the annotation stats count each.
REJECT_REASONS = (
    "empty",  # nothing generated
    "not_json",  # no JSON object can be read from the text
    "not_object",  # JSON, but not an object
    "missing_key",  # one of the five keys is absent
    "bad_type",  # observations/reasoning not non-empty strings, objects not a list of strings
    "bad_anomaly",  # anomaly is not "yes"/"no"
    "unknown_category",  # category not in CATEGORIES
    "inconsistent",  # anomaly "yes" with Normal, or "no" with an anomalous category
    "no_objects",  # an anomalous answer names no object to ground
    "contradicts_label",  # the subclip's label is known and the answer says otherwise
    "wrong_category",  # anomalous, but not the video's class
)
TEACHER_KEYS = ("observations", "reasoning", "anomaly", "category", "objects")


@dataclass(frozen=True)
class TeacherAnswer:
    """A validated teacher answer for one subclip."""

    observations: str
    reasoning: str
    anomaly: bool
    category: str
    objects: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "observations": self.observations,
            "reasoning": self.reasoning,
            "anomaly": "yes" if self.anomaly else "no",
            "category": self.category,
            "objects": list(self.objects),
        }


@dataclass
class SubclipContext:
    """Everything a teacher and a grounder may look at for one subclip.

    ``label`` is the known subclip label (from intervals) or None when the teacher must decide. ``boxes`` maps
    source frame numbers to ground-truth boxes (0..1000) where the dataset has them (SynthCrime), else empty.
    """

    key: str
    video_id: str
    dataset: str
    split: str
    video_category: str
    fps: float
    frame_indices: tuple[int, ...]
    width: int
    height: int
    frames: np.ndarray | None = None  # (T, H, W, 3) uint8, the sampled frames
    cues: list[dict] = field(default_factory=list)  # overlapping captions: {"start", "end", "sentence"}
    label: int | None = None
    intervals: list[tuple[int, int]] | None = None
    boxes: dict[int, list[Box]] = field(default_factory=dict)

    @property
    def keyframe_index(self) -> int:
        return self.frame_indices[-1]

    @property
    def keyframe_boxes(self) -> list[Box]:
        return list(self.boxes.get(self.keyframe_index, []))

    @property
    def seconds(self) -> tuple[float, float]:
        return self.frame_indices[0] / self.fps, (self.frame_indices[-1] + 1) / self.fps


@dataclass(frozen=True)
class TeacherResult:
    """A teacher's outcome for one subclip: an answer, or the reason of the last failed attempt."""

    answer: TeacherAnswer | None
    reason: str | None = None
    attempts: int = 1


_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def _extract_json(text: str):
    """The first JSON object in ``text`` (a fenced block, the whole text, or the outermost ``{...}``)."""
    candidates = []
    fence = _FENCE.search(text)
    if fence:
        candidates.append(fence.group(1))
    candidates.append(text)
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            continue
    raise ValueError("no JSON object")


def validate_teacher_json(obj: object, label: int | None, video_category: str) -> TeacherAnswer | str:
    """Check a decoded teacher answer against the schema and what is known about the subclip."""
    if not isinstance(obj, dict):
        return "not_object"
    if not set(TEACHER_KEYS) <= obj.keys():
        return "missing_key"
    obs, reasoning, objects = obj["observations"], obj["reasoning"], obj["objects"]
    if not (isinstance(obs, str) and obs.strip() and isinstance(reasoning, str) and reasoning.strip()):
        return "bad_type"
    if not isinstance(objects, list) or not all(isinstance(o, str) and o.strip() for o in objects):
        return "bad_type"
    checked = anomaly_and_category(obj)
    if isinstance(checked, str):
        return checked
    anomaly, category = checked
    if anomaly and not objects:
        return "no_objects"
    if label is not None and anomaly != bool(label):
        return "contradicts_label"
    if anomaly and category != video_category:
        return "wrong_category"
    phrases = tuple(dict.fromkeys(o.strip().lower() for o in objects))
    return TeacherAnswer(obs.strip(), reasoning.strip(), anomaly, category, phrases)


def parse_teacher_answer(text: str | None, label: int | None, video_category: str) -> TeacherAnswer | str:
    """Parse and validate a teacher's text; returns the answer or a reason from :data:`REJECT_REASONS`."""
    if text is None or not text.strip():
        return "empty"
    try:
        obj = _extract_json(text.strip())
    except ValueError:
        return "not_json"
    return validate_teacher_json(obj, label, video_category)


class Teacher(ABC):
    """Base of the teachers: ``annotate`` a batch of subclip contexts, one :class:`TeacherResult` each."""

    #: recorded in every sample's ``teacher`` field and in the manifest
    id: str = "teacher"

    def setup(self, device=None) -> None:  # noqa: B027 - optional hook: load weights on the rank's device
        """Load what the teacher needs on ``device`` (called once per rank before annotating)."""

    @abstractmethod
    def annotate(self, contexts: list[SubclipContext]) -> list[TeacherResult]:
        """Answer for each context, in order."""


class ScriptedTeacher(Teacher):
    """Writes the teacher schema from ground truth (category, intervals, captions, boxes), no model.

    The wording varies per subclip (templates, synonyms, clause order; seeded by the sample key and ``seed``) so a
    student cannot learn one sentence. Every answer still goes through :func:`parse_teacher_answer`.

    Args:
        seed: seed of the wording choices (the same seed and key give the same text).
        delay_s: seconds to sleep per subclip, to mimic a slow model (benchmarks and restart tests only).
    """

    def __init__(self, seed: int = 0, delay_s: float = 0.0):
        self.seed = seed
        self.delay_s = delay_s
        self.id = "scripted"

    def annotate(self, contexts: list[SubclipContext]) -> list[TeacherResult]:
        from vanguard.annotate.wording import scripted_answer

        results = []
        for ctx in contexts:
            if self.delay_s:
                time.sleep(self.delay_s)
            text = json.dumps(scripted_answer(ctx, self.seed))
            parsed = parse_teacher_answer(text, ctx.label, ctx.video_category)
            results.append(TeacherResult(None, parsed) if isinstance(parsed, str) else TeacherResult(parsed))
        return results


class QwenTeacher(Teacher):
    """Qwen3-VL loaded from a local directory, prompted with the subclip's frames, captions and video class.

    Frames go in with their real fps and source frame indices (``VideoMetadata``), so the model's timestamps are
    right. Generation is batched (left padding). The first attempt is greedy; retries sample at ``temperature`` so
    they can differ. After ``max_retries`` retries the subclip is rejected with the reason of its last answer.

    Args:
        model_dir: the local Qwen3-VL directory (``config.json``, tokenizer, processor); nothing is downloaded.
        max_new_tokens: generation budget per answer.
        max_retries: extra attempts for invalid answers (0 = no retry).
        batch_size: subclips per ``generate`` call.
        frame_pixels: pixel budget per frame (frames are resized by the processor to fit it).
        temperature: sampling temperature of the retries.
        dtype: torch dtype name of the weights (``auto`` keeps the checkpoint's, ``bfloat16`` on GPUs).
    """

    def __init__(
        self,
        model_dir: str,
        max_new_tokens: int = 512,
        max_retries: int = 2,
        batch_size: int = 4,
        frame_pixels: int = 256 * 256,
        temperature: float = 0.7,
        dtype: str = "auto",
    ):
        self.model_dir = str(model_dir)
        self.max_new_tokens = max_new_tokens
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.frame_pixels = frame_pixels
        self.temperature = temperature
        self.dtype = dtype
        self.id = f"qwen3vl:{Path(self.model_dir).name}"
        self.model = self.processor = None
        self.device = None

    def setup(self, device=None) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        from vanguard.processing import check_backbone_dir, load_processor

        if self.model is not None:
            return
        path = check_backbone_dir(self.model_dir)
        self.processor = load_processor(path)
        self.processor.tokenizer.padding_side = "left"
        dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
        self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype, trust_remote_code=False)
        self.device = torch.device(device or "cpu")
        self.model.to(self.device).eval()

    def prompt(self, ctx: SubclipContext) -> str:
        """The user's text for one subclip (the video goes before it in the conversation)."""
        t0, t1 = ctx.seconds
        lines = [
            "You annotate surveillance video for anomaly detection.",
            f"The whole video is labelled: {ctx.video_category}. This subclip spans {t0:.1f}-{t1:.1f} s.",
        ]
        if ctx.cues:
            lines.append("Human captions of the video overlapping this subclip:")
            lines += [f"[{c['start']:.1f}-{c['end']:.1f} s] {c['sentence']}" for c in ctx.cues]
        if ctx.label is not None:
            truth = f"shows the {ctx.video_category} event" if ctx.label else "does not show the anomaly"
            lines.append(f"Ground truth: this subclip {truth}; explain what is seen accordingly.")
        lines.append(
            'Answer with one JSON object only: {"observations": what is seen over time, "reasoning": why it is or '
            'is not anomalous, "anomaly": "yes" or "no", "category": one of ' + ", ".join(CATEGORIES) + ', "objects": '
            "[short noun phrases of the objects involved]}."
        )
        return "\n".join(lines)

    def _generate(self, contexts: list[SubclipContext], sample: bool) -> list[str]:
        import torch
        from transformers.video_utils import VideoMetadata

        texts, videos, metas = [], [], []
        for ctx in contexts:
            messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": self.prompt(ctx)}]}]
            texts.append(self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
            frames = np.ascontiguousarray(ctx.frames)
            videos.append(torch.from_numpy(frames).permute(0, 3, 1, 2))
            t, h, w, _ = frames.shape
            metas.append(VideoMetadata(total_num_frames=t, fps=float(ctx.fps), width=w, height=h,
                                       frames_indices=list(ctx.frame_indices)))
        longest = max(2, max(len(v) for v in videos)) * self.frame_pixels
        inputs = self.processor(
            text=texts, videos=videos, video_metadata=metas, padding=True, return_tensors="pt",
            videos_kwargs={"size": {"shortest_edge": 2 * 32 * 32, "longest_edge": longest}, "do_sample_frames": False},
        ).to(self.device)
        kwargs = {"do_sample": True, "temperature": self.temperature} if sample else {"do_sample": False}
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                      pad_token_id=self.processor.tokenizer.pad_token_id, **kwargs)
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.tokenizer.batch_decode(new, skip_special_tokens=True)

    def annotate(self, contexts: list[SubclipContext]) -> list[TeacherResult]:
        self.setup(self.device)
        results: list[TeacherResult | None] = [None] * len(contexts)
        reasons: dict[int, str] = {}
        todo = list(range(len(contexts)))
        for attempt in range(self.max_retries + 1):
            failed = []
            for b in range(0, len(todo), self.batch_size):
                chunk = todo[b : b + self.batch_size]
                texts = self._generate([contexts[i] for i in chunk], sample=attempt > 0)
                for i, text in zip(chunk, texts):
                    parsed = parse_teacher_answer(text, contexts[i].label, contexts[i].video_category)
                    if isinstance(parsed, str):
                        reasons[i] = parsed
                        failed.append(i)
                    else:
                        results[i] = TeacherResult(parsed, attempts=attempt + 1)
            todo = failed
            if not todo:
                break
        for i in todo:
            results[i] = TeacherResult(None, reasons[i], attempts=self.max_retries + 1)
        return results  # type: ignore[return-value]
