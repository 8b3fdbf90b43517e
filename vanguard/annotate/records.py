"""A JSON form of :class:`~vanguard.data.annotations.VideoRecord` lists ("records files").

Lets ``annotate`` run on any set of videos without a catalog reader: a JSON list of objects with ``video_id``,
``path`` (absolute, or relative to the file), ``split``, and optionally ``category``, ``dataset``, ``fps``,
``num_frames``, ``width``, ``height``, ``intervals`` (``[[start, end], ...]`` inclusive frames), ``captions``
(``[{"start", "end", "sentence"}]`` in seconds) and ``boxes`` (``{"<frame>": [{"bbox_2d": [...], "label": ...}]}``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from vanguard.answer import COORD_MAX, Box
from vanguard.categories import CATEGORIES
from vanguard.data.annotations import AnnotationError, Caption, VideoRecord
from vanguard.io import write_json
from vanguard.schema import SPLITS


def record_to_json(record: VideoRecord) -> dict:
    out = {k: v for k, v in dataclasses.asdict(record).items() if k not in ("captions", "boxes", "intervals")}
    out["intervals"] = None if record.intervals is None else [list(i) for i in record.intervals]
    out["captions"] = [dataclasses.asdict(c) for c in record.captions]
    out["boxes"] = None if record.boxes is None else {
        str(f): [b.as_json() for b in boxes] for f, boxes in sorted(record.boxes.items())}
    return out


def check_record(record: VideoRecord) -> VideoRecord:
    """Refuse values the pipeline would otherwise turn into silently rejected subclips or wrong labels."""
    if record.category not in CATEGORIES:
        raise ValueError(f"unknown category {record.category!r}; expected one of {', '.join(CATEGORIES)}")
    if record.split not in SPLITS:
        raise ValueError(f"split {record.split!r} not in {SPLITS}")
    for s, e in record.intervals or []:
        if not 0 <= s <= e:
            raise ValueError(f"interval ({s}, {e}): expected 0 <= start <= end frames")
    for c in record.captions:
        if not 0 <= c.start <= c.end:
            raise ValueError(f"caption [{c.start}, {c.end}]: expected 0 <= start <= end seconds")
    for frame, frame_boxes in (record.boxes or {}).items():
        for b in frame_boxes:
            if not (0 <= b.x1 < b.x2 <= COORD_MAX and 0 <= b.y1 < b.y2 <= COORD_MAX):
                raise ValueError(f"frame {frame}: box {[b.x1, b.y1, b.x2, b.y2]} is not inside 0..{COORD_MAX}, x1<x2, y1<y2")
    return record


def record_from_json(obj: dict, base: Path, where: str) -> VideoRecord:
    try:
        path = Path(obj["path"])
        boxes = obj.get("boxes")
        return check_record(VideoRecord(
            video_id=str(obj["video_id"]), path=str(path if path.is_absolute() else base / path), split=obj["split"],
            category=obj.get("category", "Normal"), dataset=obj.get("dataset", "custom"),
            num_frames=obj.get("num_frames"), fps=obj.get("fps"), width=obj.get("width"), height=obj.get("height"),
            intervals=None if obj.get("intervals") is None else [(int(s), int(e)) for s, e in obj["intervals"]],
            captions=[Caption(float(c["start"]), float(c["end"]), str(c["sentence"])) for c in obj.get("captions", [])],
            boxes=None if boxes is None else {
                int(f): [Box(*b["bbox_2d"], label=b.get("label", "object")) for b in bs] for f, bs in boxes.items()},
        ))
    except (KeyError, TypeError, ValueError) as err:
        raise AnnotationError(where, None, f"bad video record ({type(err).__name__}: {err})") from None


def save_records(path: str | Path, records: list[VideoRecord]) -> None:
    """Write ``records`` as a records file (atomically)."""
    write_json(path, [record_to_json(r) for r in records], indent=None)


def load_records(path: str | Path) -> list[VideoRecord]:
    """Read a records file; a malformed entry raises AnnotationError naming the file and the entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise AnnotationError(path, None, f"cannot read records file ({err})") from None
    if not isinstance(data, list):
        raise AnnotationError(path, None, "a records file is a JSON list of video records")
    return [record_from_json(obj, path.parent, f"{path}[{i}]") for i, obj in enumerate(data)]
