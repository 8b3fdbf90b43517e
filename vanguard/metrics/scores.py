"""Saved anomaly scores: the one module that owns their on-disk formats.

Ours (written by ``python -m vanguard test``, read by ``python -m vanguard evaluate``): one score per native frame
of each test video, either

- ``frame_scores.npz``: one float32 array per video, keyed by video id (``np.savez``), or
- ``scores.json``: ``{"video_id": [frame scores ...], ...}``.

A peer's output (RTFM / UR-DMU / PEL4VAD / VadCLIP layout): a directory of ``<video>.npy`` arrays holding one
score per 16-frame snippet. Crops are read from one of two layouts, never guessed:

- one 1-D file per crop, ``<video>__<crop>.npy`` (the peers' feature naming: ``__0`` .. ``__9``), or
- one 2-D file per video whose axes are named by ``crop_layout`` (``crops_snippets`` or ``snippets_crops``);
  a 2-D file without ``crop_layout`` is an error naming it (a video can have fewer snippets than crops:
  UCF-Crime RoadAccidents021 has 9 snippets and 10 crops, so the shorter axis says nothing).

Video ids are normalised with :func:`video_id` (basename, no extension, no crop suffix), so ``Abuse/Abuse028_x264.mp4``,
``Abuse028_x264`` and ``Abuse028_x264__5.npy`` all name the same video. Two entries that name one video (two
spellings, a JSON key given twice, ``v.npy`` beside ``v_i3d.npy``) are an error naming both, never one silently
overwriting the other; so are a missing, empty or malformed file and a score that is NaN or infinite.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from vanguard.errors import VanguardError
from vanguard.io import write_bytes, write_json

_EXTENSIONS = (".mp4", ".avi", ".mkv", ".npy", ".npz", ".json")
_CROP_SUFFIX = re.compile(r"__(\d+)$")
_FEATURE_SUFFIX = re.compile(r"_(i3d|clip|pred|scores?)$", re.IGNORECASE)

CropLayout = Literal["crops_snippets", "snippets_crops"]


class ScoreError(VanguardError, ValueError):
    """Scores that cannot give a true figure: unreadable, empty, not finite, or two entries naming one video."""


def video_id(name: str) -> str:
    """Normalise a video name from any list, annotation or score file to its id (``Abuse028_x264``)."""
    base = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    for ext in _EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    base = _CROP_SUFFIX.sub("", base)
    return _FEATURE_SUFFIX.sub("", base)


def by_video_id(entries: Iterable[tuple[str, np.ndarray]], where: str) -> dict[str, np.ndarray]:
    """``{video_id: scores}`` from ``(name, scores)`` pairs; two names of one video are a :class:`ScoreError`."""
    out: dict[str, np.ndarray] = {}
    spelled: dict[str, str] = {}
    for name, scores in entries:
        vid = video_id(name)
        if vid in out:
            raise ScoreError(f"{where}: {spelled[vid]!r} and {name!r} both name video {vid!r}; keep one")
        out[vid], spelled[vid] = scores, name
    return out


def check_scores(vid: str, scores: np.ndarray, where: str) -> np.ndarray:
    """One video's scores as float64 1-D; empty or non-finite (NaN, +-inf) scores are a :class:`ScoreError`.

    NaN would otherwise sort as the lowest score (a normal video scored all NaN would count as perfectly normal)
    and +inf above every threshold.
    """
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ScoreError(f"{where}: video {vid!r} has no scores")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ScoreError(f"{where}: video {vid!r} has {int(bad.sum())} of {arr.size} scores that are NaN or "
                         f"infinite (first at index {first}: {arr[first]})")
    return arr


def save_frame_scores(path: str | Path, scores: dict[str, np.ndarray]) -> Path:
    """Write per-video frame scores atomically; ``.npz`` or ``.json`` by the file's suffix."""
    path = Path(path)
    if path.suffix == ".npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, **{vid: np.asarray(s, dtype=np.float32) for vid, s in scores.items()})
        write_bytes(path, buf.getvalue())
    elif path.suffix == ".json":
        write_json(path, {vid: [round(float(v), 6) for v in np.asarray(s).ravel()] for vid, s in scores.items()}, indent=None)
    else:
        raise ValueError(f"{path}: frame scores are saved as .npz or .json")
    return path


def _numeric(raw, where: str, name: str) -> np.ndarray:
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScoreError(f"{where}: video {name!r}: expected a list of numbers") from None


def _read_frame_entries(path: Path) -> list[tuple[str, np.ndarray]]:
    if not path.is_file():
        raise ScoreError(f"{path}: no such score file")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return [(k, _numeric(data[k], str(path), k)) for k in data.files]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise ScoreError(f"{path}: not a readable .npz of per-video score arrays ({err})") from None
    if path.suffix == ".json":
        try:
            # pairs, not a dict: a key given twice is seen (a dict keeps only the last)
            pairs = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=list)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ScoreError(f"{path}: not a JSON object {{video_id: [frame scores]}} ({err})") from None
        if not isinstance(pairs, list) or not all(isinstance(pair, tuple) for pair in pairs):
            raise ScoreError(f"{path}: expected a JSON object {{video_id: [frame scores]}}")
        return [(k, _numeric(v, str(path), k)) for k, v in pairs]
    raise ScoreError(f"{path}: expected frame_scores.npz or scores.json")


def load_frame_scores(path: str | Path) -> dict[str, np.ndarray]:
    """Read per-video frame scores written by :func:`save_frame_scores` (ids normalised, order kept)."""
    path = Path(path)
    entries = _read_frame_entries(path)
    if not entries:
        raise ScoreError(f"{path}: holds no video's scores")
    return {vid: check_scores(vid, s, str(path)) for vid, s in by_video_id(entries, str(path)).items()}


def _crops_of(f: Path, crop_layout: CropLayout | None, one_crop: bool) -> list[np.ndarray]:
    """The crops' snippet scores in one file: a 1-D file is one crop, a 2-D one follows ``crop_layout``."""
    try:
        arr = np.load(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ScoreError(f"{f}: not a readable .npy score array ({err})") from None
    arr = _numeric(arr, str(f), f.name)
    while arr.ndim > 1 and arr.shape[-1] == 1 and (one_crop or arr.ndim > 2):  # a trailing per-snippet logit axis
        arr = arr[..., 0]
    if arr.ndim == 1:
        return [arr]
    if one_crop or arr.ndim != 2:
        raise ScoreError(f"{f}: expected one score per snippet (1-D{'' if one_crop else ', or crops x snippets'}), "
                         f"got shape {arr.shape}")
    if crop_layout is None:
        raise ScoreError(f"{f}: 2-D score array of shape {arr.shape}; say which axis holds the crops with "
                         "--crop_layout crops_snippets or snippets_crops (never guessed)")
    return list(arr if crop_layout == "crops_snippets" else arr.T)


def load_snippet_crops(
    directory: str | Path, crop_layout: CropLayout | None = None, pattern: str = "*.npy"
) -> dict[str, dict[int, np.ndarray]]:
    """A peer's per-snippet score files as ``{video_id: {crop: scores}}`` (see the module docstring)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ScoreError(f"{directory}: no such score directory")
    files = sorted(directory.glob(pattern))
    if not files:
        raise ScoreError(f"{directory}: no score arrays matching {pattern!r}")
    crops: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
    source: dict[str, str] = {}
    for f in files:
        vid, stem = video_id(f.name), f.name.removesuffix(".npy")
        suffix = _CROP_SUFFIX.search(stem)
        if vid in source and (suffix is None or source[vid] == "whole"):
            raise ScoreError(f"{directory}: {f.name!r} and another file both hold video {vid!r}; keep one")
        if suffix is not None:
            (arr,) = _crops_of(f, None, one_crop=True)
            crops[vid][int(suffix.group(1))] = check_scores(vid, arr, str(f))
            source[vid] = "crop"
        else:
            crops[vid] = {c: check_scores(vid, a, str(f)) for c, a in enumerate(_crops_of(f, crop_layout, False))}
            source[vid] = "whole"
    for vid, per_crop in crops.items():
        lengths = {len(a) for a in per_crop.values()}
        if len(lengths) != 1:
            raise ScoreError(f"{directory}: crops of {vid} have different lengths {sorted(lengths)}")
    return dict(crops)


def load_snippet_scores(
    directory: str | Path, crop_layout: CropLayout | None = None, crop: int | None = None, pattern: str = "*.npy"
) -> dict[str, np.ndarray]:
    """A peer's per-snippet scores, one array per video: the mean over its crops (RTFM, UR-DMU, PEL4VAD), or
    only crop ``crop`` where the peer scores one (VadCLIP: ``__5`` on UCF-Crime, ``__0`` on XD-Violence)."""
    out = {}
    for vid, per_crop in load_snippet_crops(directory, crop_layout, pattern).items():
        if crop is None or len(per_crop) == 1:
            out[vid] = np.mean([per_crop[c] for c in sorted(per_crop)], axis=0)
        elif crop in per_crop:
            out[vid] = per_crop[crop]
        else:
            raise ScoreError(f"{directory}: video {vid!r} has no crop {crop} (crops {sorted(per_crop)})")
    return out
