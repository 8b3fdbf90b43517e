"""Train/test leakage: which test videos a training source contains.

The UCA captions (the teacher's input) are split differently from UCF-Crime: UCA Train holds 214 of the 290
official UCF-Crime test videos (``uca_split_vs_ucfcrime_split.csv``). Any training source (a split list, a UCA JSON,
the CSV, a catalog) is compared with any test set by video id (folder and extension dropped).

Ids alone miss a test video copied into training under another name: :func:`identical_files` compares the files
themselves (sizes, then SHA-256 of the files that share a size, so a whole dataset costs a few hashes), and
:func:`copied_test_videos` names each training video that is a byte-identical copy of a test video.

The annotation step calls :func:`check_no_test_videos` and :func:`copied_test_videos` before writing training
shards and refuses when they return anything, unless the user opts in (and the opt-in is recorded in the shard
manifest). ``python -m vanguard data check-leakage --root`` runs both on a dataset root.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vanguard.data import shanghaitech, ucf_crime
from vanguard.data.annotations import AnnotationError, read_annotation_text


def normalize(video: str) -> str:
    """``Abuse/Abuse028_x264.mp4`` -> ``Abuse028_x264``."""
    base = video.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith((".mp4", ".avi")) else base


def check_no_test_videos(train_ids: Iterable[str], test_ids: Iterable[str]) -> list[str]:
    """The training videos that are also test videos (sorted ids); empty when there is no leakage."""
    test = {normalize(v) for v in test_ids}
    return sorted({normalize(v) for v in train_ids} & test)


def identical_files(paths: Sequence[str | os.PathLike]) -> list[list[int]]:
    """Groups of indices into ``paths`` whose files hold the same bytes (each group in order, at least two long;
    the same file named twice is a group too). Missing files are left out. Only files sharing a size are hashed."""
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, path in enumerate(paths):
        try:
            by_size[os.stat(path).st_size].append(i)
        except OSError:
            continue
    groups = []
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        by_digest: dict[str, list[int]] = defaultdict(list)
        for i in same_size:
            with open(paths[i], "rb") as fh:
                by_digest[hashlib.file_digest(fh, "sha256").hexdigest()].append(i)
        groups += [g for g in by_digest.values() if len(g) > 1]
    return sorted(groups)


def copied_test_videos(train: dict[str, str], test: dict[str, str]) -> list[tuple[str, str]]:
    """``(training id, test id)`` for each training video whose file is a byte-identical copy of a test video's
    file under another id (the same id is :func:`check_no_test_videos`' finding), sorted; ``train`` and ``test``
    map video ids to paths."""
    items = [(vid, path, False) for vid, path in train.items()] + [(vid, path, True) for vid, path in test.items()]
    pairs = set()
    for group in identical_files([path for _, path, _ in items]):
        tests = [items[i][0] for i in group if items[i][2]]
        pairs |= {(items[i][0], tests[0]) for i in group if tests and not items[i][2] and items[i][0] not in tests}
    return sorted(pairs)


def root_video_paths(root: str | os.PathLike) -> tuple[dict[str, str], dict[str, str]]:
    """``({id: path} of training/val videos, {id: path} of test videos)`` present on disk in a UCF-Crime /
    SynthCrime or ShanghaiTech root (for the content comparison)."""
    from vanguard.data.catalog import load_catalog

    root = Path(root)
    dataset = "shanghaitech" if (root / "SH_Test.txt").exists() else "ucf_crime"
    train, test = {}, {}
    try:
        records = load_catalog(root, dataset=dataset, split="all", probe_videos=False)
    except (OSError, ValueError) as err:  # AnnotationError (a VanguardError) included: one line naming the file
        raise AnnotationError(root, None, f"cannot read the dataset root ({err})") from None
    for record in records:
        if Path(record.path).is_file():
            (test if record.split == "test" else train)[record.video_id] = record.path
    return train, test


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
    if not p.is_file():
        raise AnnotationError(p, None, "no such file (expected a split list .txt, a UCA caption .json or the CSV)")
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise AnnotationError(p, getattr(err, "lineno", None), f"not a JSON caption file ({err})") from None
        if not isinstance(data, dict):
            raise AnnotationError(p, None, "expected a UCA caption file: a JSON object keyed by video name")
        return [normalize(k) for k in data]
    if p.suffix == ".csv":
        rows = read_split_csv(p)
        col, _, value = selector.partition("=")
        if col not in ("ucfcrime_split", "uca_split") or not value:
            raise AnnotationError(p, None, "select rows with '::ucfcrime_split=test' or '::uca_split=Train'")
        idx = 0 if col == "ucfcrime_split" else 1
        return [v for v, splits in rows.items() if splits[idx] == value]
    lines = [ln.split()[0] for ln in read_annotation_text(p).splitlines() if ln.strip()]
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
