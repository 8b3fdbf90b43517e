"""Test-set ground truth for the protocol, from each benchmark's own files.

- UCF-Crime: ``Temporal_Anomaly_Annotation.txt`` (``Name.mp4  Class  s1  e1  s2  e2``, -1 = none, inclusive),
  optionally with native frame counts from UR-DMU's ``UCF_Annotation.txt`` (``Class/Name.mp4 NFRAMES ...``).
- XD-Violence: ``annotations.txt`` (``name s1 e1 [s2 e2 ...]``, violent videos only). Intervals are marked
  ``gt[s:e] = 1`` by the XD authors (end exclusive), so they become inclusive ``(s, e - 1)``. Test videos not listed
  are normal, which their names say (``label_A``); any other unlisted video is an error.
- ShanghaiTech: a ``test_frame_mask/`` directory of per-frame 0/1 ``.npy`` masks plus the test list
  (``SH_Test.txt``); test videos without a mask are normal (the weakly supervised split).

NOTE for the lead: ``vanguard.data.ucf_crime`` (another branch) owns the UCF-Crime formats for the data pipeline;
once merged, :func:`read_ucf_temporal` should call its reader instead of parsing here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vanguard.categories import NORMAL, XD_CODES
from vanguard.data.annotations import AnnotationError, VideoAnnotation
from vanguard.metrics.scores import video_id

Dataset = Literal["ucf_crime", "xd_violence", "shanghaitech"]


def read_frame_counts(path: str | Path) -> dict[str, int]:
    """Native frame counts from UR-DMU's list (``Class/Video.mp4 NFRAMES Class s1 e1 s2 e2``)."""
    counts = {}
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[1].isdigit():
            raise AnnotationError(path, no, "expected `Class/Video.mp4 NFRAMES ...`")
        counts[video_id(parts[0])] = int(parts[1])
    return counts


def read_ucf_temporal(path: str | Path, frame_counts: dict[str, int] | None = None) -> list[VideoAnnotation]:
    """UCF-Crime's temporal test annotation, in file order (the community's test order)."""
    anns = []
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise AnnotationError(path, no, f"expected `Video.mp4  Class  s1  e1  s2  e2`, got {len(parts)} fields")
        try:
            s1, e1, s2, e2 = map(int, parts[2:])
        except ValueError:
            raise AnnotationError(path, no, "frame numbers must be integers (-1 for none)") from None
        vid = video_id(parts[0])
        intervals = [(s, e) for s, e in ((s1, e1), (s2, e2)) if s >= 0 and e >= 0]
        if any(e < s for s, e in intervals):
            raise AnnotationError(path, no, "an interval ends before it starts")
        n = frame_counts.get(vid) if frame_counts else None
        anns.append(VideoAnnotation(vid, parts[1], intervals, num_frames=n, fps=30.0))
    return anns


_XD_LABEL = re.compile(r"label_([A-Z]\d?)")


def read_xd_annotations(path: str | Path, video_ids: Sequence[str]) -> list[VideoAnnotation]:
    """XD-Violence ground truth for ``video_ids`` (the scored test videos), in that order."""
    listed: dict[str, list[tuple[int, int]]] = {}
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or len(parts) % 2 == 0:
            raise AnnotationError(path, no, "expected `name s1 e1 [s2 e2 ...]`")
        try:
            nums = list(map(int, parts[1:]))
        except ValueError:
            raise AnnotationError(path, no, "frame numbers must be integers") from None
        listed[video_id(parts[0])] = [(s, e - 1) for s, e in zip(nums[::2], nums[1::2]) if e > s]
    anns = []
    for raw in video_ids:
        vid = video_id(raw)
        code = _XD_LABEL.search(vid)
        if vid in listed:
            cat = XD_CODES.get(code.group(1), "Violence") if code else "Violence"
            anns.append(VideoAnnotation(vid, cat, listed[vid], fps=24.0))
        elif code and code.group(1) == "A":
            anns.append(VideoAnnotation(vid, NORMAL, [], fps=24.0))
        else:
            raise AnnotationError(path, None, f"video {vid!r} is neither annotated nor named as normal (label_A)")
    return anns


def read_sht_masks(mask_dir: str | Path, test_list: str | Path) -> list[VideoAnnotation]:
    """ShanghaiTech (weak split): masks for the anomalous test videos, all-normal for the others."""
    mask_dir = Path(mask_dir)
    anns = []
    for line in Path(test_list).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        vid = video_id(line)
        mask_path = mask_dir / f"{vid}.npy"
        if not mask_path.exists():
            anns.append(VideoAnnotation(vid, NORMAL, []))
            continue
        mask = np.asarray(np.load(mask_path)).ravel().astype(bool)
        edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
        intervals = [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]
        anns.append(VideoAnnotation(vid, "Anomaly" if intervals else NORMAL, intervals, num_frames=len(mask)))
    return anns


def load_ground_truth(
    dataset: Dataset,
    gt: str | Path,
    video_ids: Sequence[str] = (),
    test_list: str | Path | None = None,
    frame_counts: str | Path | None = None,
) -> list[VideoAnnotation]:
    """Dispatch to the dataset's reader (``gt``: the UCF temporal file, XD annotations.txt, or SHT mask dir)."""
    if dataset == "ucf_crime":
        return read_ucf_temporal(gt, read_frame_counts(frame_counts) if frame_counts else None)
    if dataset == "xd_violence":
        return read_xd_annotations(gt, video_ids)
    if dataset == "shanghaitech":
        if test_list is None:
            raise ValueError("ShanghaiTech needs --test_list (SH_Test.txt)")
        return read_sht_masks(gt, test_list)
    raise ValueError(f"unknown dataset {dataset!r}")
