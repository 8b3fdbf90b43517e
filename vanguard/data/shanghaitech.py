"""ShanghaiTech (weakly supervised split of Zhong et al., CVPR'19): split lists and per-frame masks.

- ``SH_Train.txt`` / ``SH_Test.txt``: one video id per line (``01_0015``), no extension. Anomalous ids have a
  4-digit number (``SS_NNNN``, from the original test set); normal ids a 3-digit one (``SS_NNN``).
- ``test_frame_mask/<id>.npy``: uint8 0/1 per native frame (length = number of frames), for anomalous videos only;
  normal videos are all zeros.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vanguard.data.annotations import AnnotationError, VideoAnnotation, read_annotation_lines
from vanguard.io import atomic_open, write_text

ANOMALY = "Anomaly"  # ShanghaiTech has no classes; anomalous videos carry this category
_ID = re.compile(r"^\d{2}_\d{3,4}$")


def is_anomalous_id(video_id: str) -> bool:
    """``01_0015`` (4-digit number) is anomalous, ``01_001`` (3-digit) normal, by the dataset's naming."""
    return len(video_id.split("_")[-1]) == 4


def read_split(path: str | os.PathLike) -> list[str]:
    """Video ids of a split list, in order; each must look like ``SS_NNN`` or ``SS_NNNN``."""
    path = Path(path)
    out = []
    for line_no, line in enumerate(read_annotation_lines(path), 1):
        vid = line.strip()
        if not vid:
            continue
        if not _ID.match(vid):
            raise AnnotationError(path, line_no, f"expected a video id like 01_0015, got {vid!r}")
        out.append(vid)
    return out


def write_split(path: str | os.PathLike, ids: Iterable[str]) -> None:
    """One id per line, no trailing newline (as the real lists)."""
    write_text(path, "\n".join(ids))


def read_frame_mask(path: str | os.PathLike) -> np.ndarray:
    """A per-frame 0/1 mask (uint8, 1-D); anything else is an error naming the file."""
    path = Path(path)
    try:
        mask = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise AnnotationError(path, None, f"not a .npy array: {err}") from None
    if mask.ndim != 1 or len(mask) == 0 or not np.isin(mask, (0, 1)).all():
        raise AnnotationError(path, None, f"expected a 1-D 0/1 frame mask, got shape {mask.shape} dtype {mask.dtype}")
    return mask.astype(np.uint8)


def write_frame_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.asarray(mask, dtype=np.uint8))


def mask_to_intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of ones as inclusive ``(start, end)`` frame intervals."""
    m = np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]])
    d = np.diff(m)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def intervals_to_mask(intervals: Iterable[tuple[int, int]], num_frames: int) -> np.ndarray:
    return VideoAnnotation("", ANOMALY, list(intervals), num_frames).frame_labels()


def read_annotation(video_id: str, mask_dir: str | os.PathLike, num_frames: int | None = None) -> VideoAnnotation:
    """The temporal GT of one video: from its mask if there is one, else (a normal id) no interval.

    An anomalous id without a mask is an error: its ground truth is unknown.
    """
    mask_path = Path(mask_dir) / f"{video_id}.npy"
    if mask_path.exists():
        mask = read_frame_mask(mask_path)
        if num_frames is not None and num_frames != len(mask):
            raise AnnotationError(mask_path, None, f"mask has {len(mask)} frames, the video {num_frames}")
        return VideoAnnotation(video_id, ANOMALY, mask_to_intervals(mask), num_frames=len(mask))
    if is_anomalous_id(video_id):
        raise AnnotationError(mask_path, None, f"anomalous video {video_id} has no frame mask")
    return VideoAnnotation(video_id, "Normal", [], num_frames=num_frames)
