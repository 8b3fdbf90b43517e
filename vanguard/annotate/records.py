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

from vanguard.answer import Box
from vanguard.data.annotations import AnnotationError, Caption, VideoRecord
from vanguard.io import write_json


def record_to_json(record: VideoRecord) -> dict:
    out = {k: v for k, v in dataclasses.asdict(record).items() if k not in ("captions", "boxes", "intervals")}
    out["intervals"] = None if record.intervals is None else [list(i) for i in record.intervals]
    out["captions"] = [dataclasses.asdict(c) for c in record.captions]
    out["boxes"] = None if record.boxes is None else {
        str(f): [b.as_json() for b in boxes] for f, boxes in sorted(record.boxes.items())}
    return out


def record_from_json(obj: dict, base: Path, where: str) -> VideoRecord:
    try:
        path = Path(obj["path"])
        boxes = obj.get("boxes")
        return VideoRecord(
            video_id=str(obj["video_id"]), path=str(path if path.is_absolute() else base / path), split=obj["split"],
            category=obj.get("category", "Normal"), dataset=obj.get("dataset", "custom"),
            num_frames=obj.get("num_frames"), fps=obj.get("fps"), width=obj.get("width"), height=obj.get("height"),
            intervals=None if obj.get("intervals") is None else [(int(s), int(e)) for s, e in obj["intervals"]],
            captions=[Caption(float(c["start"]), float(c["end"]), str(c["sentence"])) for c in obj.get("captions", [])],
            boxes=None if boxes is None else {
                int(f): [Box(*b["bbox_2d"], label=b.get("label", "object")) for b in bs] for f, bs in boxes.items()},
        )
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
