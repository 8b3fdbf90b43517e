"""Test-set ground truth for the protocol: a thin adapter over the dataset readers, which own the formats.

- UCF-Crime: :func:`vanguard.data.ucf_crime.read_temporal_annotation` (``Temporal_Anomaly_Annotation.txt``, any of
  its three variants), optionally with native frame counts from UR-DMU's ``UCF_Annotation.txt`` (read by the same
  reader: its ``Class/Name.mp4 NFRAMES Class s1 e1 s2 e2`` variant).
- XD-Violence: :func:`vanguard.data.xd_violence.read_annotations` + ``annotation_for_video``.
- ShanghaiTech: :func:`vanguard.data.shanghaitech.read_split` + ``read_frame_mask`` (``test_frame_mask/``).

One interval convention everywhere: :class:`~vanguard.data.annotations.VideoAnnotation` intervals are INCLUSIVE
``(start, end)`` native frame numbers (the UCF-Crime file's). The XD-Violence authors mark ``gt[s:e] = 1`` (end
exclusive), so the XD reader turns a file pair ``s e`` into ``(s, e - 1)``; ShanghaiTech masks become the inclusive
runs of ones. This module adds no conversion of its own.

Evaluation-specific rules kept here (not format rules): the benchmarks' frame rates (30 / 24 fps), XD test videos
not listed in ``annotations.txt`` must be named normal (``label_A``), and a ShanghaiTech test video without a mask
is scored as normal (a warning counts anomalous-named ones: the real mask folder has every anomalous video, a
partial copy does not).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from vanguard.categories import NORMAL
from vanguard.data import shanghaitech, ucf_crime, xd_violence
from vanguard.data.annotations import AnnotationError, VideoAnnotation, read_annotation_lines
from vanguard.errors import ConfigError
from vanguard.metrics.scores import video_id

Dataset = Literal["ucf_crime", "xd_violence", "shanghaitech"]

UCF_FPS = 30.0
XD_FPS = 24.0


def read_frame_counts(path: str | Path) -> dict[str, int]:
    """Native frame counts from UR-DMU's list (``Class/Video.mp4 NFRAMES Class s1 e1 s2 e2``)."""
    counts = {}
    for ann in ucf_crime.read_temporal_annotation(path):
        if ann.num_frames is None:
            raise AnnotationError(path, None, f"{ann.video_id}: no frame count (expected UR-DMU's `Class/Video.mp4 NFRAMES ...`)")
        counts[ann.video_id] = ann.num_frames
    return counts


def read_ucf_temporal(path: str | Path, frame_counts: dict[str, int] | None = None) -> list[VideoAnnotation]:
    """UCF-Crime's temporal test annotation, in file order (the community's test order)."""
    anns = ucf_crime.read_temporal_annotation(path)
    for ann in anns:
        if frame_counts and ann.video_id in frame_counts:
            ann.num_frames = frame_counts[ann.video_id]
        ann.fps = UCF_FPS
    return anns


def read_xd_annotations(
    path: str | Path, video_ids: Sequence[str], test_list: str | Path | None = None
) -> list[VideoAnnotation]:
    """XD-Violence ground truth of the test set: the videos of ``test_list`` (one name a line) in its order, or
    without one the scored ``video_ids`` in their order followed by every annotated (violent) video not scored, so
    a missing violent video is seen; normal videos not scored can be seen only with a test list."""
    annotated = {video_id(a.video_id): a for a in xd_violence.read_annotations(path)}
    if test_list is not None:
        names = list(dict.fromkeys(video_id(line) for line in read_annotation_lines(test_list) if line.strip()))
    else:
        scored = {video_id(v) for v in video_ids}
        names = list(video_ids) + [v for v in annotated if v not in scored]
    anns = []
    for raw in names:
        vid = video_id(raw)
        try:
            ann = xd_violence.annotation_for_video(vid, annotated)
        except ValueError as err:
            raise AnnotationError(path, None, f"video {vid!r} is neither annotated nor named as normal (label_A): {err}") from None
        ann.fps = XD_FPS
        anns.append(ann)
    return anns


def read_sht_masks(mask_dir: str | Path, test_list: str | Path) -> list[VideoAnnotation]:
    """ShanghaiTech (weak split): masks for the anomalous test videos, all-normal for the others."""
    mask_dir = Path(mask_dir)
    anns, unmasked = [], []
    for vid in shanghaitech.read_split(test_list):
        if (mask_dir / f"{vid}.npy").exists():
            anns.append(shanghaitech.read_annotation(vid, mask_dir))
            continue
        if shanghaitech.is_anomalous_id(vid):
            unmasked.append(vid)
        anns.append(VideoAnnotation(vid, NORMAL, []))
    if unmasked:
        warnings.warn(
            f"{mask_dir}: {len(unmasked)} anomalous-named test videos have no mask and are scored as normal, "
            f"e.g. {unmasked[:3]}",
            stacklevel=2,
        )
    return anns


def load_ground_truth(
    dataset: Dataset,
    gt: str | Path,
    video_ids: Sequence[str] = (),
    test_list: str | Path | None = None,
    frame_counts: str | Path | None = None,
) -> list[VideoAnnotation]:
    """Dispatch to the dataset's reader (``gt``: the UCF temporal file, XD annotations.txt, or SHT mask dir).

    ``test_list``: ShanghaiTech's ``SH_Test.txt`` (required), or XD-Violence's test video names (optional: with it
    a missing normal video is seen too)."""
    for name, given in (("ground truth", gt), ("test list", test_list), ("frame counts", frame_counts)):
        if given is not None and not Path(given).exists():
            raise AnnotationError(given, None, f"no such {name} file or folder")
    if dataset == "ucf_crime":
        return read_ucf_temporal(gt, read_frame_counts(frame_counts) if frame_counts else None)
    if dataset == "xd_violence":
        return read_xd_annotations(gt, video_ids, test_list)
    if dataset == "shanghaitech":
        if test_list is None:
            raise ConfigError("ShanghaiTech needs --test_list (SH_Test.txt)")
        return read_sht_masks(gt, test_list)
    raise ConfigError(f"unknown dataset {dataset!r}")
