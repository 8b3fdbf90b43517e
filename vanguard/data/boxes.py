"""UCF-Crime box annotations in Liu & Ma's layout (ACM MM'19, xuzero/UCFCrime_BoundingBox_Annotation).

``Test_annotation.pkl``: a pickled dict ``video -> list of [frame_image_path, x1, y1, x2, y2]`` in pixels of the
frame, e.g. ``['.../Arrest024_x264/image_2668.jpg', 1, 77, 261, 154]``; the frame number is in the file name, and a
frame with several boxes has several entries. A pickle can run code, so it is read with a restricted unpickler that
accepts plain data only (builtins list, dict, str, int, float, tuple) and refuses any other class.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

from vanguard.answer import Box
from vanguard.data.annotations import AnnotationError
from vanguard.io import write_bytes

_FRAME = re.compile(r"(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)

PixelBox = tuple[float, float, float, float]


_ALLOWED = {"list", "dict", "str", "int", "float", "tuple"}


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # only the plain builtins (py2 pickles name them through __builtin__)
        if module in ("builtins", "__builtin__") and name in _ALLOWED:
            return super().find_class("builtins", name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: box files hold plain data only")


def safe_load_pickle(path: str | os.PathLike):
    """Unpickle plain data (no classes, no callables) from ``path``."""
    data = Path(path).read_bytes()
    try:
        return _PlainDataUnpickler(io.BytesIO(data)).load()
    except Exception as err:
        raise AnnotationError(path, None, f"not a plain-data pickle: {err}") from None


def frame_number(image_path: str) -> int:
    """``.../Arrest024_x264/image_2668.jpg`` -> 2668."""
    m = _FRAME.search(image_path)
    if not m:
        raise ValueError(f"no frame number in {image_path!r}")
    return int(m.group(1))


def read_box_annotation(path: str | os.PathLike) -> dict[str, dict[int, list[PixelBox]]]:
    """Video id -> frame number -> pixel boxes ``(x1, y1, x2, y2)``; errors name the video and entry."""
    data = safe_load_pickle(path)
    if not isinstance(data, dict):
        raise AnnotationError(path, None, f"expected a dict video -> entries, got {type(data).__name__}")
    out: dict[str, dict[int, list[PixelBox]]] = {}
    for video, entries in data.items():
        vid = str(video).rsplit("/", 1)[-1].removesuffix(".mp4")
        if not isinstance(entries, list):
            raise AnnotationError(path, None, f"video {video!r}: expected a list of [image_path, x1, y1, x2, y2]")
        frames = out.setdefault(vid, {})
        for i, entry in enumerate(entries):
            ok = isinstance(entry, (list, tuple)) and len(entry) == 5 and isinstance(entry[0], str)
            ok = ok and all(isinstance(v, (int, float)) for v in entry[1:])
            if not ok:
                raise AnnotationError(path, None, f"video {video!r}, entry {i}: expected [image_path, x1, y1, x2, y2]")
            try:
                frame = frame_number(entry[0])
            except ValueError as err:
                raise AnnotationError(path, None, f"video {video!r}, entry {i}: {err}") from None
            x1, y1, x2, y2 = (float(v) for v in entry[1:])
            if x2 <= x1 or y2 <= y1:
                raise AnnotationError(path, None, f"video {video!r}, entry {i}: expected x1 < x2 and y1 < y2")
            frames.setdefault(frame, []).append((x1, y1, x2, y2))
    return out


def to_relative(frames: Mapping[int, list[PixelBox]], width: int, height: int, label: str) -> dict[int, list[Box]]:
    """Pixel boxes -> :class:`vanguard.answer.Box` in 0..1000 of a ``width`` x ``height`` frame."""
    return {
        f: [Box.from_pixels(*b, width=width, height=height, label=label) for b in boxes] for f, boxes in frames.items()
    }


def write_box_annotation(path: str | os.PathLike, boxes: Mapping[str, Mapping[int, list[PixelBox]]]) -> None:
    """Write ``video -> frame -> pixel boxes`` in Liu & Ma's layout (plain data pickle, integer pixels)."""
    data = {
        vid: [
            [f"{vid}/image_{frame:04d}.jpg", *(int(round(v)) for v in box)]
            for frame in sorted(frames)
            for box in frames[frame]
        ]
        for vid, frames in boxes.items()
    }
    write_bytes(path, pickle.dumps(data, protocol=4))
