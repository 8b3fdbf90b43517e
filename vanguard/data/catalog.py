"""Build :class:`VideoRecord`s for a dataset root, from its own on-disk files, with the format readers.

Layouts (``videos_dir`` defaults to ``videos``; when the root has no such folder the entries are under the root):

- ``ucf_crime`` / ``synthcrime``: ``Anomaly_{Train,Test}.txt`` (+ ``Anomaly_Val.txt``, SynthCrime's addition),
  ``Temporal_Anomaly_Annotation.txt`` (test GT), ``Temporal_Anomaly_Annotation_{Train,Val}.txt`` (SynthCrime
  only: it knows the truth of every video), UCA caption files ``UCFCrime_*.json`` and Liu & Ma box files
  ``*_annotation.pkl`` (all present files are merged by video name: the UCA split is not the UCF-Crime split).
  Real UCF-Crime training videos get ``intervals=None`` (only the category is known).
- ``xd_violence``: ``videos/*.mp4`` (label in the name), ``annotations.txt`` (+ ``annotations_multiclasses.txt``
  for per-interval classes, + ``Test_annotation.pkl`` boxes if present); a test set only.
- ``shanghaitech``: ``SH_Train.txt`` / ``SH_Test.txt``, ``test_frame_mask/<id>.npy``, ``videos/<id>.<ext>``
  (+ ``Test_annotation.pkl`` if present).
"""

from __future__ import annotations

import os
from pathlib import Path

from vanguard.categories import NORMAL, box_object
from vanguard.data import boxes as box_io
from vanguard.data import shanghaitech, uca, ucf_crime, xd_violence
from vanguard.data.annotations import Caption, VideoRecord
from vanguard.video import VideoDecodeError, probe

DATASETS = ("ucf_crime", "synthcrime", "xd_violence", "shanghaitech")
SPLITS = ("train", "val", "test", "all")
_TAG = {"train": "Train", "val": "Val", "test": "Test"}


def load_catalog(
    root: str | os.PathLike,
    dataset: str = "ucf_crime",
    split: str = "test",
    videos_dir: str = "videos",
    probe_videos: bool = True,
    skip_unreadable: bool = False,
) -> list[VideoRecord]:
    """The videos of one split of a dataset root, with all the ground truth its files hold.

    Args:
        root: the dataset folder (layouts in this module's docstring).
        dataset: ``ucf_crime``, ``synthcrime`` (same layout as UCF-Crime), ``xd_violence`` or ``shanghaitech``.
        split: ``train``, ``val`` (SynthCrime), ``test`` or ``all`` (every split list present, in that order).
        videos_dir: folder under ``root`` holding the videos (split-list entries are relative to it).
        probe_videos: open each existing video to fill ``num_frames``, ``fps``, ``width``, ``height`` (boxes need
            the size to become 0..1000 coordinates; without it they are left out).
        skip_unreadable: a video that cannot be opened keeps those fields empty instead of raising
            ``VideoDecodeError`` (annotation then counts it as a ``decode_error`` skip: one corrupt video among
            thousands must not stop the job, at the same video on every re-run).

    Returns records in split-list order (anomalous first in the real lists). Missing files a split needs are errors.
    """
    root = Path(root)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    vroot = root / videos_dir if (root / videos_dir).is_dir() else root
    if dataset in ("ucf_crime", "synthcrime"):
        records = _ucf_layout(root, vroot, dataset, split)
    elif dataset == "xd_violence":
        records = _xd_layout(root, vroot, split)
    else:
        records = _sht_layout(root, vroot, split)
    box_files = sorted(root.glob("*_annotation.pkl"))
    pixel_boxes: dict = {}
    for f in box_files:
        pixel_boxes.update(box_io.read_box_annotation(f))
    for rec in records:
        if probe_videos and Path(rec.path).is_file():
            try:
                rec.num_frames, rec.fps, rec.width, rec.height = probe(rec.path)
            except VideoDecodeError as err:
                if not skip_unreadable:
                    raise VideoDecodeError(f"{rec.path}: {err}") from None
        if rec.video_id in pixel_boxes and rec.width and rec.height:
            rec.boxes = box_io.to_relative(pixel_boxes[rec.video_id], rec.width, rec.height, box_object(rec.category))
    return records


def _splits(split: str, available: tuple[str, ...]) -> list[str]:
    return [s for s in available if split in ("all", s)]


def _ucf_layout(root: Path, vroot: Path, dataset: str, split: str) -> list[VideoRecord]:
    captions: dict[str, list[Caption]] = {}
    for f in sorted(root.glob("UCFCrime_*.json")):
        captions.update(uca.read_uca_json(f))
    present = tuple(s for s in ("train", "val", "test") if (root / f"Anomaly_{_TAG[s]}.txt").exists())
    wanted = _splits(split, present)
    if split != "all" and not wanted:
        raise FileNotFoundError(f"{root / f'Anomaly_{_TAG[split]}.txt'}: no split list for {split!r}")
    records = []
    for sp in wanted:
        entries = ucf_crime.read_split_list(root / f"Anomaly_{_TAG[sp]}.txt")
        ann_file = root / (
            "Temporal_Anomaly_Annotation.txt" if sp == "test" else f"Temporal_Anomaly_Annotation_{_TAG[sp]}.txt"
        )
        temporal = {a.video_id: a for a in ucf_crime.read_temporal_annotation(ann_file)} if ann_file.exists() else None
        for entry in entries:
            vid, cat = ucf_crime.video_id(entry), ucf_crime.category_of(entry)
            intervals = None
            if temporal is not None:
                if vid not in temporal:
                    raise ValueError(f"{ann_file}: no line for {vid} of {root / f'Anomaly_{_TAG[sp]}.txt'}")
                ann = temporal[vid]
                if ann.category != cat:
                    raise ValueError(f"{ann_file}: {vid} is {ann.category}, its split list says {cat}")
                intervals = list(ann.intervals)
            records.append(
                VideoRecord(
                    vid, str(vroot / entry), sp, cat, dataset, intervals=intervals, captions=captions.get(vid, [])
                )
            )
    return records


def _xd_layout(root: Path, vroot: Path, split: str) -> list[VideoRecord]:
    if split not in ("test", "all"):
        raise ValueError(f"{root}: the XD-Violence layout here is a test set; ask for split='test'")
    anns = {a.video_id: a for a in xd_violence.read_annotations(root / "annotations.txt")}
    multi = root / "annotations_multiclasses.txt"
    if multi.exists():
        for a in xd_violence.read_annotations(multi):
            if a.video_id in anns:
                anns[a.video_id].categories = a.categories
    records = []
    for path in sorted(vroot.glob("*.mp4")):
        ann = xd_violence.annotation_for_video(path.name, anns)
        records.append(
            VideoRecord(ann.video_id, str(path), "test", ann.category, "xd_violence", intervals=list(ann.intervals))
        )
    return records


def _sht_layout(root: Path, vroot: Path, split: str) -> list[VideoRecord]:
    records = []
    for sp in _splits(split, ("train", "test")):
        for vid in shanghaitech.read_split(root / f"SH_{_TAG[sp]}.txt"):
            ann = shanghaitech.read_annotation(vid, root / "test_frame_mask")
            found = sorted(vroot.glob(f"{vid}.*"))
            path = found[0] if found else vroot / f"{vid}.mp4"
            cat = NORMAL if not ann.intervals else shanghaitech.ANOMALY
            records.append(
                VideoRecord(
                    vid, str(path), sp, cat, "shanghaitech", num_frames=ann.num_frames, intervals=list(ann.intervals)
                )
            )
    return records
