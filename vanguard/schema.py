"""The shard sample: one WebDataset sample per subclip. This module validates it on write and on read.

A sample is ``{"__key__": "<video_id>-<start_frame:07d>", "mp4": bytes, "json": bytes}``. The json holds:

==============  =======================================================================================
dataset         source dataset name (``synthcrime``, ``ucf_crime``, ...)
video_id        video name without extension (``Fighting003_x264``)
split           ``train`` / ``val`` / ``test``
fps             the source video's frame rate
frame_indices   source frame indices of the sampled frames (strictly increasing)
keyframe        position in ``frame_indices`` of the frame the boxes refer to
width, height   the source frame size in pixels (boxes are relative to it)
label           0 normal / 1 anomalous (the subclip's label)
category        a name from :data:`vanguard.categories.CATEGORIES`
cues            caption cues the subclip was annotated from: ``[{"start": s, "end": e, "sentence": str}]``
boxes           ``[{"bbox_2d": [x1, y1, x2, y2], "label": str}]`` in 0..1000 on the keyframe
reasoning       the teacher's reasoning text
answer          the rendered answer (:func:`vanguard.answer.render_answer`), consistent with the fields above
teacher         teacher id; ``grounder``: grounder id
==============  =======================================================================================

Optional: ``stored_width`` and ``stored_height`` (both or neither), the size of the frames in the mp4 when
annotation resized them at write time (``shard_frame_pixels``: stored at the model's size). ``width``/``height``
stay the SOURCE frame size either way (evaluation maps boxes onto the original frames); boxes are relative, so
they hold for both. Without them (older shards, or written at source size) the mp4 has the source size (H.264
pads an odd size by one pixel).
"""

from __future__ import annotations

import json
from typing import Any

from vanguard.answer import Answer, answer_from_json, parse_answer, render_answer
from vanguard.categories import CATEGORIES, NORMAL

SPLITS = ("train", "val", "test")
FIELDS = {
    "dataset": str,
    "video_id": str,
    "split": str,
    "fps": (int, float),
    "frame_indices": list,
    "keyframe": int,
    "width": int,
    "height": int,
    "label": int,
    "category": str,
    "cues": list,
    "boxes": list,
    "reasoning": str,
    "answer": str,
    "teacher": str,
    "grounder": str,
}
#: optional fields: the mp4's frame size when it differs from the source's (stored at the model's size)
OPTIONAL_FIELDS = {"stored_width": int, "stored_height": int}
#: mp4 bytes larger than this are refused (a subclip of a few dozen frames is tens of KiB).
MAX_MP4_BYTES = 64 * 1024 * 1024


class SchemaError(ValueError):
    """A shard sample that does not follow the schema; the message names the key and the field."""


def sample_key(video_id: str, start_frame: int) -> str:
    """``<video_id>-<start_frame:07d>``; dots become underscores because webdataset splits a member name at its
    first dot (XD-Violence names such as ``City.of.God.2002__#01...`` have several)."""
    return f"{video_id.replace('.', '_')}-{start_frame:07d}"


def answer_of(meta: dict) -> Answer:
    """The Answer a metadata dict stands for (label, category, boxes)."""
    result = answer_from_json(
        {"anomaly": "yes" if meta["label"] else "no", "category": meta["category"], "boxes": meta["boxes"]}
    )
    if isinstance(result, str):
        raise SchemaError(f"{meta.get('video_id', '?')}: label/category/boxes are not a valid answer ({result})")
    return result


def validate(meta: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """Check a sample's metadata; returns it unchanged or raises :class:`SchemaError` naming what is wrong."""
    where = key or meta.get("video_id", "?")
    if not isinstance(meta, dict):
        raise SchemaError(f"{where}: metadata is not a JSON object")
    for name, kind in FIELDS.items():
        if name not in meta:
            raise SchemaError(f"{where}: missing field {name!r}")
        if not isinstance(meta[name], kind) or isinstance(meta[name], bool):
            raise SchemaError(f"{where}: field {name!r} has type {type(meta[name]).__name__}")
    vid = meta["video_id"]
    if not vid or vid in (".", "..") or any(c in vid for c in "/\\\0"):  # it names files (predictions, pages)
        raise SchemaError(f"{where}: video_id {vid!r} must be a plain name (no path separators)")
    if meta["split"] not in SPLITS:
        raise SchemaError(f"{where}: split {meta['split']!r} not in {SPLITS}")
    if meta["label"] not in (0, 1):
        raise SchemaError(f"{where}: label must be 0 or 1, got {meta['label']}")
    if meta["category"] not in CATEGORIES:
        raise SchemaError(f"{where}: unknown category {meta['category']!r}")
    if (meta["label"] == 1) == (meta["category"] == NORMAL):
        raise SchemaError(f"{where}: label {meta['label']} disagrees with category {meta['category']!r}")
    idx = meta["frame_indices"]
    if not idx or not all(isinstance(i, int) and i >= 0 for i in idx) or any(b <= a for a, b in zip(idx, idx[1:])):
        raise SchemaError(f"{where}: frame_indices must be non-empty, non-negative and strictly increasing")
    if not 0 <= meta["keyframe"] < len(idx):
        raise SchemaError(f"{where}: keyframe {meta['keyframe']} outside 0..{len(idx) - 1}")
    if meta["width"] <= 0 or meta["height"] <= 0 or meta["fps"] <= 0:
        raise SchemaError(f"{where}: width, height and fps must be positive")
    stored = [name for name in OPTIONAL_FIELDS if name in meta]
    if stored and len(stored) != len(OPTIONAL_FIELDS):
        raise SchemaError(f"{where}: stored_width and stored_height go together (got only {stored[0]!r})")
    for name in stored:
        if not isinstance(meta[name], int) or isinstance(meta[name], bool) or meta[name] <= 0:
            raise SchemaError(f"{where}: field {name!r} must be a positive int, got {meta[name]!r}")
    for cue in meta["cues"]:
        if not (isinstance(cue, dict) and {"start", "end", "sentence"} <= cue.keys()):
            raise SchemaError(f"{where}: a cue must have start, end and sentence")
    expected = answer_of(meta)
    parsed = parse_answer(meta["answer"])
    if not parsed.valid or parsed.answer != expected:
        raise SchemaError(f"{where}: answer text does not match label/category/boxes ({parsed.reason or 'differs'})")
    return meta


def encode(meta: dict[str, Any], mp4: bytes) -> dict[str, Any]:
    """Validate and build the WebDataset sample dict (for ``ShardWriter.write``)."""
    validate(meta)
    if not isinstance(mp4, (bytes, bytearray)) or not mp4:
        raise SchemaError(f"{meta['video_id']}: mp4 payload is empty")
    key = sample_key(meta["video_id"], meta["frame_indices"][0])
    return {"__key__": key, "mp4": bytes(mp4), "json": json.dumps(meta, ensure_ascii=False).encode("utf-8")}


def decode(raw: dict[str, Any]) -> tuple[str, dict[str, Any], bytes]:
    """Read a raw WebDataset sample (bytes values) back: ``(key, meta, mp4)``; raises SchemaError when invalid."""
    key = raw.get("__key__", "?")
    if "json" not in raw or "mp4" not in raw:
        raise SchemaError(f"{key}: sample lacks {'json' if 'json' not in raw else 'mp4'}")
    mp4 = raw["mp4"]
    if not isinstance(mp4, (bytes, bytearray)) or not mp4 or len(mp4) > MAX_MP4_BYTES:
        raise SchemaError(f"{key}: mp4 payload is empty or too large")
    try:
        meta = raw["json"] if isinstance(raw["json"], dict) else json.loads(raw["json"])
    except (ValueError, UnicodeDecodeError) as err:
        raise SchemaError(f"{key}: json does not parse ({err})") from None
    validate(meta, key)
    if key != "?" and key != sample_key(meta["video_id"], meta["frame_indices"][0]):
        raise SchemaError(f"{key}: key does not match video_id and first frame index")
    return key, meta, bytes(mp4)


def rendered_answer(meta: dict[str, Any]) -> str:
    """The answer text for a sample's metadata (what ``meta['answer']`` must equal)."""
    return render_answer(answer_of(meta))
