"""The common form every annotation reader returns, and the frame-level ground truth built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vanguard.categories import NORMAL
from vanguard.errors import VanguardError


class AnnotationError(VanguardError, ValueError):
    """A malformed annotation line or file; the message names the file, the line and what was expected."""

    def __init__(self, path, line_no: int | None, message: str):
        where = f"{path}:{line_no}" if line_no is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line_no = path, line_no


def read_annotation_text(path) -> str:
    """The text of an annotation file (UTF-8, a leading BOM dropped); bytes that are not UTF-8 are an
    :class:`AnnotationError` naming the file and the line, not a bare ``UnicodeDecodeError``."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line_no = data.count(b"\n", 0, err.start) + 1
        raise AnnotationError(path, line_no, f"not UTF-8 text (byte {data[err.start]:#04x})") from None


def read_annotation_lines(path) -> list[str]:
    """The lines of a UTF-8 annotation file (see :func:`read_annotation_text`)."""
    return read_annotation_text(path).splitlines()


@dataclass
class VideoAnnotation:
    """One test video's temporal ground truth.

    ``intervals`` are inclusive ``(start, end)`` frame numbers of the anomalous parts (the UCF-Crime file's
    convention; other formats are converted by their reader). ``num_frames`` is the native frame count when known.
    """

    video_id: str
    category: str = NORMAL
    intervals: list[tuple[int, int]] = field(default_factory=list)
    num_frames: int | None = None
    fps: float | None = None
    categories: list[str] = field(default_factory=list)  # per interval, where a format gives them

    @property
    def anomalous(self) -> bool:
        return bool(self.intervals) or self.category != NORMAL

    def frame_labels(self, num_frames: int | None = None) -> np.ndarray:
        """0/1 label per frame, length ``num_frames`` (default: the native count); endpoints inclusive."""
        n = num_frames if num_frames is not None else self.num_frames
        if n is None:
            raise ValueError(f"{self.video_id}: frame count unknown; pass num_frames")
        labels = np.zeros(n, dtype=np.uint8)
        for start, end in self.intervals:
            labels[max(0, start) : min(n, end + 1)] = 1
        return labels


@dataclass
class Caption:
    """One UCA-style caption segment: times in seconds, segments may overlap."""

    start: float
    end: float
    sentence: str


@dataclass
class VideoRecord:
    """Everything the annotation pipeline needs about one source video (built by a catalog reader).

    ``intervals`` (inclusive frame numbers) and ``boxes`` (frame number -> boxes in 0..1000) are the ground truth
    where the dataset has it (test sets, SynthCrime); for UCF-Crime training videos only ``category`` is known.
    """

    video_id: str
    path: str
    split: str
    category: str = NORMAL
    dataset: str = "ucf_crime"
    num_frames: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    intervals: list[tuple[int, int]] | None = None
    captions: list[Caption] = field(default_factory=list)
    boxes: dict[int, list] | None = None  # frame -> list[vanguard.answer.Box]

    @property
    def anomalous(self) -> bool:
        return self.category != NORMAL
