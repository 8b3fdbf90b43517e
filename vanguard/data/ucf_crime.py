"""UCF-Crime on-disk formats: the temporal annotation file of the test videos and the split lists.

``Temporal_Anomaly_Annotation.txt`` (Sultani et al.): one line per test video, two-space separated, two trailing
spaces: ``Abuse028_x264.mp4  Abuse  165  240  -1  -1  ``: name, class, then two ``start end`` pairs of native
frame numbers (inclusive; ``-1`` = no interval). Two variants in circulation are read too: VadCLIP's copy drops the
``.mp4`` suffix, and UR-DMU's ``UCF_Annotation.txt`` adds the folder and the native frame count
(``Abuse/Abuse028_x264.mp4 1412 Abuse 165 240 -1 -1``).

Split lists (``Anomaly_Train.txt`` / ``Anomaly_Test.txt``): one ``Class/Video.mp4`` per line; normal videos sit in
``Training_Normal_Videos_Anomaly/Normal_Videos001_x264.mp4`` (train, no underscore before the number) and
``Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4`` (test).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from vanguard.categories import CATEGORIES, NORMAL
from vanguard.data.annotations import AnnotationError, VideoAnnotation, read_annotation_lines
from vanguard.io import write_text

TRAIN_NORMAL_DIR = "Training_Normal_Videos_Anomaly"
TEST_NORMAL_DIR = "Testing_Normal_Videos_Anomaly"


def video_id(name: str) -> str:
    """``Fighting/Fighting003_x264.mp4`` -> ``Fighting003_x264`` (folder and extension dropped)."""
    base = name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".mp4") else base


def category_of(entry: str) -> str:
    """The class of a split-list entry: its folder, or Normal for the normal folders and ``Normal_Videos*`` names."""
    entry = entry.strip().replace("\\", "/")
    folder = entry.rsplit("/", 1)[0] if "/" in entry else ""
    if video_id(entry).startswith("Normal_Videos") or "Normal" in folder:
        return NORMAL
    if folder in CATEGORIES:
        return folder
    stem = video_id(entry)
    for cat in CATEGORIES:  # no folder: the class is the name's prefix (Fighting003_x264)
        if stem.startswith(cat) and stem[len(cat) : len(cat) + 1].isdigit():
            return cat
    raise ValueError(f"cannot tell the UCF-Crime class of {entry!r}")


def _frame(tok: str, path, line_no: int) -> int:
    try:
        return int(tok)
    except ValueError:
        raise AnnotationError(path, line_no, f"expected an integer frame number or -1, got {tok!r}") from None


def read_temporal_annotation(path: str | os.PathLike) -> list[VideoAnnotation]:
    """Parse a UCF-Crime temporal annotation file (any of the three variants) into :class:`VideoAnnotation`s.

    Intervals are inclusive native frame numbers, in file order; ``num_frames`` is set only by the UR-DMU variant.
    """
    path = Path(path)
    out: list[VideoAnnotation] = []
    seen: set[str] = set()
    for line_no, line in enumerate(read_annotation_lines(path), 1):
        toks = line.split()
        if not toks:
            continue
        num_frames = None
        if len(toks) == 7 and toks[1].isdigit():  # UR-DMU: Class/Video.mp4 NFRAMES Class s1 e1 s2 e2
            num_frames = int(toks[1])
            toks = [toks[0], *toks[2:]]
        if len(toks) != 6:
            raise AnnotationError(
                path, line_no, f"expected 'video class s1 e1 s2 e2' (6 fields), got {len(toks)}: {line.strip()!r}"
            )
        name, cat = toks[0], toks[1]
        if cat not in CATEGORIES:
            raise AnnotationError(path, line_no, f"unknown class {cat!r}; expected one of {', '.join(CATEGORIES)}")
        nums = [_frame(t, path, line_no) for t in toks[2:]]
        intervals = []
        for s, e in (nums[0:2], nums[2:4]):
            if s == -1 and e == -1:
                continue
            if s < 0 or e < s:
                raise AnnotationError(path, line_no, f"expected 0 <= start <= end or '-1 -1', got {s} {e}")
            intervals.append((s, e))
        if cat == NORMAL and intervals:
            raise AnnotationError(path, line_no, "a Normal video must have no interval (-1 -1 -1 -1)")
        vid = video_id(name)
        if vid in seen:
            raise AnnotationError(path, line_no, f"video {vid} annotated twice")
        seen.add(vid)
        out.append(VideoAnnotation(vid, cat, intervals, num_frames=num_frames))
    return out


def format_temporal_line(ann: VideoAnnotation) -> str:
    """One line in the official format (two-space separated, two trailing spaces); at most two intervals."""
    if len(ann.intervals) > 2:
        raise ValueError(f"{ann.video_id}: the UCF-Crime format holds at most two intervals")
    nums = [v for iv in ann.intervals for v in iv] + [-1] * (4 - 2 * len(ann.intervals))
    return "  ".join([f"{ann.video_id}.mp4", ann.category, *map(str, nums)]) + "  "


def write_temporal_annotation(path: str | os.PathLike, annotations: Iterable[VideoAnnotation]) -> None:
    write_text(path, "".join(format_temporal_line(a) + "\n" for a in annotations))


def read_split_list(path: str | os.PathLike) -> list[str]:
    """Entries of a split list (``Class/Video.mp4``), in file order; an entry must name an .mp4 with a known class."""
    path = Path(path)
    out = []
    for line_no, line in enumerate(read_annotation_lines(path), 1):
        entry = line.strip()
        if not entry:
            continue
        if not entry.lower().endswith(".mp4") or len(entry.split()) != 1:
            raise AnnotationError(path, line_no, f"expected one 'Class/Video.mp4' entry, got {entry!r}")
        try:
            category_of(entry)
        except ValueError as err:
            raise AnnotationError(path, line_no, str(err)) from None
        out.append(entry)
    return out


def write_split_list(path: str | os.PathLike, entries: Iterable[str]) -> None:
    write_text(path, "".join(e + "\n" for e in entries))


def split_entry(category: str, vid: str, split: str) -> str:
    """The split-list entry (``Class/Video.mp4``) of a video; normals go to the test normal folder (test) or the training one (train, val)."""
    if category == NORMAL:
        return f"{TEST_NORMAL_DIR if split == 'test' else TRAIN_NORMAL_DIR}/{vid}.mp4"
    return f"{category}/{vid}.mp4"
