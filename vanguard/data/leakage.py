"""Train/test leakage: which test videos a training source contains.

The UCA captions (the teacher's input) are split differently from UCF-Crime: UCA Train holds 214 of the 290
official UCF-Crime test videos (``uca_split_vs_ucfcrime_split.csv``). Any training source (a split list, a UCA JSON,
the CSV, a catalog) is compared with any test set by video id (folder and extension dropped).

The annotation step calls :func:`check_no_test_videos` before writing training shards and refuses when it returns
anything, unless the user opts in (and the opt-in is recorded in the shard manifest).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vanguard.data import shanghaitech, ucf_crime
from vanguard.data.annotations import AnnotationError


def normalize(video: str) -> str:
    """``Abuse/Abuse028_x264.mp4`` -> ``Abuse028_x264``."""
    base = video.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith((".mp4", ".avi")) else base


def check_no_test_videos(train_ids: Iterable[str], test_ids: Iterable[str]) -> list[str]:
    """The training videos that are also test videos (sorted ids); empty when there is no leakage."""
    test = {normalize(v) for v in test_ids}
    return sorted({normalize(v) for v in train_ids} & test)


def read_split_csv(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """``uca_split_vs_ucfcrime_split.csv``: video -> (UCF-Crime split, UCA split)."""
    path = Path(path)
    out = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["video", "ucfcrime_split", "uca_split"]:
            raise AnnotationError(path, 1, "expected the header 'video,ucfcrime_split,uca_split'")
        for line_no, row in enumerate(reader, 2):
            if len(row) != 3:
                raise AnnotationError(path, line_no, f"expected 3 comma-separated fields, got {len(row)}")
            out[row[0].strip()] = (row[1].strip(), row[2].strip())
    return out


def ids_from_file(spec: str) -> list[str]:
    """Video ids of a source, by file type.

    ``*.json``: UCA caption file (its keys); ``*.txt``: a split list (UCF-Crime ``Class/Video.mp4``, ShanghaiTech
    ids) or a UCA text file (first token); ``*.csv::COLUMN=VALUE``: the rows of the leakage CSV whose column has
    that value (e.g. ``uca_split_vs_ucfcrime_split.csv::uca_split=Train``).
    """
    path, _, selector = spec.partition("::")
    p = Path(path)
    if p.suffix == ".json":
        return [normalize(k) for k in json.loads(p.read_text(encoding="utf-8"))]
    if p.suffix == ".csv":
        rows = read_split_csv(p)
        col, _, value = selector.partition("=")
        if col not in ("ucfcrime_split", "uca_split") or not value:
            raise ValueError(f"{spec}: select rows with '::ucfcrime_split=test' or '::uca_split=Train'")
        idx = 0 if col == "ucfcrime_split" else 1
        return [v for v, splits in rows.items() if splits[idx] == value]
    lines = [ln.split()[0] for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [normalize(v) for v in lines]


@dataclass
class Overlap:
    train_source: str
    test_set: str
    videos: list[str]


def find_overlaps(train_sources: dict[str, list[str]], test_sets: dict[str, list[str]]) -> list[Overlap]:
    """Every (training source, test set) pair that shares videos."""
    return [
        Overlap(tname, sname, shared)
        for tname, tids in train_sources.items()
        for sname, sids in test_sets.items()
        if (shared := check_no_test_videos(tids, sids))
    ]


def dataset_root_sources(root: str | os.PathLike) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Training sources and test sets found in a dataset root (UCF-Crime / SynthCrime or ShanghaiTech layout)."""
    root = Path(root)
    train, test = {}, {}
    for tag in ("Train", "Val"):
        if (root / f"Anomaly_{tag}.txt").exists():
            train[str(root / f"Anomaly_{tag}.txt")] = [
                normalize(e) for e in ucf_crime.read_split_list(root / f"Anomaly_{tag}.txt")
            ]
        if (root / f"UCFCrime_{tag}.json").exists():
            train[str(root / f"UCFCrime_{tag}.json")] = ids_from_file(str(root / f"UCFCrime_{tag}.json"))
    if (root / "Anomaly_Test.txt").exists():
        test[str(root / "Anomaly_Test.txt")] = [
            normalize(e) for e in ucf_crime.read_split_list(root / "Anomaly_Test.txt")
        ]
    if (root / "SH_Train.txt").exists():
        train[str(root / "SH_Train.txt")] = shanghaitech.read_split(root / "SH_Train.txt")
    if (root / "SH_Test.txt").exists():
        test[str(root / "SH_Test.txt")] = shanghaitech.read_split(root / "SH_Test.txt")
    return train, test


def test_video_ids(root: str | os.PathLike, dataset: str = "ucf_crime") -> set[str]:
    """Every video id a dataset root lists as test (the set annotation must keep out of training shards)."""
    _, test_sets = dataset_root_sources(root)
    return {vid for ids in test_sets.values() for vid in ids}


def report(overlaps: list[Overlap], train_sources: dict[str, list[str]], test_sets: dict[str, list[str]]) -> str:
    """A human-readable summary, one line per (source, test set) pair."""
    lines = []
    by_pair = {(o.train_source, o.test_set): o for o in overlaps}
    for tname, tids in train_sources.items():
        for sname, sids in test_sets.items():
            o = by_pair.get((tname, sname))
            n = len(o.videos) if o else 0
            flag = "LEAK" if n else "ok  "
            example = f"  e.g. {', '.join(o.videos[:3])}" if o else ""
            lines.append(
                f"{flag} {n:4d} of {len(set(sids)):4d} test videos of {sname} are in {tname} ({len(set(tids))} videos){example}"
            )
    return "\n".join(lines)
