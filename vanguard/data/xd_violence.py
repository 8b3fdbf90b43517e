"""XD-Violence formats: ``annotations.txt``, ``annotations_multiclasses.txt`` and labels in the file names.

- Names: ``<source>__#<clip>_label_<L1>-<L2>-<L3>``: up to three class codes by prominence, ``0`` pads; normal
  videos are ``..._label_A``. Codes map to categories through :data:`vanguard.categories.XD_CODES`.
- ``annotations.txt`` (violent test videos only): ``name s1 e1 [s2 e2 ...]`` native frame numbers; 14 real names
  carry a ``.mp4`` suffix, the last line has no newline.
- ``annotations_multiclasses.txt``: ``name C1 s1 e1 [C2 s2 e2 ...]``.

The XD-Violence authors' ground truth marks ``gt[s:e] = 1`` (end-exclusive, Roc-Ng/XDVioDet:list/make_gt.py), so a
file pair ``s e`` becomes the inclusive interval ``(s, e - 1)`` here, and :func:`format_line` writes it back as
``s e+1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from vanguard.categories import NORMAL, XD_CODES
from vanguard.data.annotations import AnnotationError, VideoAnnotation, read_annotation_lines
from vanguard.io import write_text

_LABEL = re.compile(r"_label_([A-Z0-9]+(?:-[A-Z0-9]+)*)$")


def video_id(name: str) -> str:
    """Strip folder and a ``.mp4`` suffix."""
    base = name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".mp4") else base


def label_codes(name: str) -> list[str]:
    """Class codes in a video name, padding ``0`` dropped: ``..._label_B2-G-0`` -> ``['B2', 'G']``; normal -> ``['A']``."""
    m = _LABEL.search(video_id(name))
    if not m:
        raise ValueError(f"{name!r} has no '_label_<codes>' part")
    codes = [c for c in m.group(1).split("-") if c != "0"]
    unknown = [c for c in codes if c not in XD_CODES]
    if unknown or not codes:
        raise ValueError(f"{name!r}: unknown XD-Violence code(s) {unknown}; expected {', '.join(XD_CODES)}")
    return codes


def category_from_name(name: str) -> str:
    """The main (first) category named by the file name (``A`` -> Normal)."""
    return XD_CODES[label_codes(name)[0]]


def _int(tok: str, path, line_no: int) -> int:
    try:
        return int(tok)
    except ValueError:
        raise AnnotationError(path, line_no, f"expected an integer frame number, got {tok!r}") from None


def read_annotations(path: str | os.PathLike) -> list[VideoAnnotation]:
    """Read ``annotations.txt`` or ``annotations_multiclasses.txt`` (told apart per line by the tokens).

    Each :class:`VideoAnnotation` has inclusive intervals, the name's first category, and (multiclass file)
    per-interval ``categories``; ``video_id`` has no ``.mp4`` suffix.
    """
    path = Path(path)
    out: list[VideoAnnotation] = []
    for line_no, line in enumerate(read_annotation_lines(path), 1):
        toks = line.split()
        if not toks:
            continue
        name, rest = toks[0], toks[1:]
        try:
            category = category_from_name(name)
        except ValueError as err:
            raise AnnotationError(path, line_no, str(err)) from None
        multiclass = bool(rest) and not rest[0].lstrip("-").isdigit()
        step = 3 if multiclass else 2
        if not rest or len(rest) % step:
            expected = "name C1 s1 e1 [C2 s2 e2 ...]" if multiclass else "name s1 e1 [s2 e2 ...]"
            raise AnnotationError(path, line_no, f"expected '{expected}', got {len(rest)} values after the name")
        intervals, cats = [], []
        for i in range(0, len(rest), step):
            if multiclass:
                code = rest[i]
                if code not in XD_CODES:
                    raise AnnotationError(
                        path, line_no, f"unknown class code {code!r}; expected one of {', '.join(XD_CODES)}"
                    )
                cats.append(XD_CODES[code])
            s, e = _int(rest[i + step - 2], path, line_no), _int(rest[i + step - 1], path, line_no)
            if s < 0 or e <= s:
                raise AnnotationError(path, line_no, f"expected 0 <= start < end, got {s} {e}")
            intervals.append((s, e - 1))
        out.append(VideoAnnotation(video_id(name), category, intervals, categories=cats))
    return out


def format_line(ann: VideoAnnotation, codes: list[str] | None = None) -> str:
    """One annotation line; with ``codes`` (one per interval) the multiclass form. Ends are written exclusive."""
    parts = [ann.video_id]
    for i, (s, e) in enumerate(ann.intervals):
        if codes is not None:
            parts.append(codes[i])
        parts += [str(s), str(e + 1)]
    return " ".join(parts)


def write_annotations(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Write annotation lines the way the real file is (no newline after the last)."""
    write_text(path, "\n".join(lines))


def annotation_for_video(
    name: str, annotated: dict[str, VideoAnnotation], num_frames: int | None = None
) -> VideoAnnotation:
    """The GT of one test video: its annotation line, or no interval for a normal (``_label_A``) video.

    A violent video without an annotation line is an error (its ground truth is unknown).
    """
    vid = video_id(name)
    if vid in annotated:
        ann = annotated[vid]
        return VideoAnnotation(vid, ann.category, list(ann.intervals), num_frames, categories=list(ann.categories))
    category = category_from_name(vid)
    if category != NORMAL:
        raise ValueError(f"violent XD-Violence video {vid} has no line in annotations.txt")
    return VideoAnnotation(vid, NORMAL, [], num_frames)
