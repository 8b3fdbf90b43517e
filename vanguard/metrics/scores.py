"""Saved anomaly scores: the one module that owns their on-disk formats.

Ours (written by ``python -m vanguard test``, read by ``python -m vanguard evaluate``): one score per native frame
of each test video, either

- ``frame_scores.npz``: one float32 array per video, keyed by video id (``np.savez``), or
- ``scores.json``: ``{"video_id": [frame scores ...], ...}``.

A peer's output (RTFM / UR-DMU / PEL4VAD / VadCLIP layout): a directory of ``<video>.npy`` arrays holding one
score per 16-frame snippet. Multi-crop files (``<video>__0.npy`` .. ``<video>__9.npy``, or one array with a crop
axis) are averaged over crops, as those repositories do at test time.

Video ids are normalised with :func:`video_id` (basename, no extension, no crop suffix), so ``Abuse/Abuse028_x264.mp4``,
``Abuse028_x264`` and ``Abuse028_x264__5.npy`` all name the same video.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from vanguard.io import write_bytes, write_json

_EXTENSIONS = (".mp4", ".avi", ".mkv", ".npy", ".npz", ".json")
_CROP_SUFFIX = re.compile(r"__\d+$")
_FEATURE_SUFFIX = re.compile(r"_(i3d|clip|pred|scores?)$", re.IGNORECASE)


def video_id(name: str) -> str:
    """Normalise a video name from any list, annotation or score file to its id (``Abuse028_x264``)."""
    base = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    for ext in _EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    base = _CROP_SUFFIX.sub("", base)
    return _FEATURE_SUFFIX.sub("", base)


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


def load_frame_scores(path: str | Path) -> dict[str, np.ndarray]:
    """Read per-video frame scores written by :func:`save_frame_scores` (ids normalised, order kept)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {video_id(k): np.asarray(data[k], dtype=np.float64).ravel() for k in data.files}
    if path.suffix == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object {{video_id: [frame scores]}}")
        return {video_id(k): np.asarray(v, dtype=np.float64).ravel() for k, v in raw.items()}
    raise ValueError(f"{path}: expected frame_scores.npz or scores.json")


def load_snippet_scores(directory: str | Path, pattern: str = "*.npy") -> dict[str, np.ndarray]:
    """Read a peer's per-snippet score arrays: one score per 16-frame snippet, averaged over crops.

    A 2-D array is taken as (crops, snippets) when its first axis is the smaller one (else (snippets, crops)) and
    averaged over crops; several ``__<crop>`` files of one video are averaged too.
    """
    directory = Path(directory)
    files = sorted(directory.glob(pattern))
    if not files:
        raise FileNotFoundError(f"{directory}: no score arrays matching {pattern!r}")
    crops: dict[str, list[np.ndarray]] = defaultdict(list)
    for f in files:
        arr = np.asarray(np.load(f), dtype=np.float64).squeeze()
        if arr.ndim == 2:
            arr = arr.mean(axis=0 if arr.shape[0] <= arr.shape[1] else 1)
        if arr.ndim != 1:
            raise ValueError(f"{f}: expected one score per snippet (1-D, or crops x snippets), got shape {arr.shape}")
        crops[video_id(f.name)].append(arr)
    out = {}
    for vid, arrays in crops.items():
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"{directory}: crops of {vid} have different lengths {sorted(lengths)}")
        out[vid] = np.mean(arrays, axis=0)
    return out
