"""UCA (UCF-Crime Annotation, Yuan et al. CVPR'24) captions: the JSON files and the ``##`` text files.

JSON: ``{"Abuse037_x264": {"duration": 59.88, "timestamps": [[1.2, 8.2], ...], "sentences": ["...", ...]}}``; keys
are video names without extension, ``timestamps`` and ``sentences`` are parallel; segments may overlap and are not
sorted; normal videos are captioned too. Text: ``Abuse037_x264 00:01.2 00:08.2 ##A white car ...`` with times as
``[[h:]m]m:ss.s``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from vanguard.data.annotations import AnnotationError, Caption, read_annotation_lines, read_annotation_text
from vanguard.io import write_json


def read_uca_json(path: str | os.PathLike) -> dict[str, list[Caption]]:
    """Video name -> its caption segments, in file order. A malformed entry is an error naming the video."""
    captions, _ = read_uca_json_with_durations(path)
    return captions


def read_uca_json_with_durations(path: str | os.PathLike) -> tuple[dict[str, list[Caption]], dict[str, float]]:
    """Like :func:`read_uca_json`, plus each video's ``duration`` in seconds."""
    path = Path(path)
    try:
        data = json.loads(read_annotation_text(path))
    except json.JSONDecodeError as err:
        raise AnnotationError(path, err.lineno, f"not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise AnnotationError(path, None, "expected a JSON object mapping video names to caption entries")
    captions, durations = {}, {}
    for vid, entry in data.items():
        where = f"video {vid!r}"
        if not isinstance(entry, dict) or not {"duration", "timestamps", "sentences"} <= set(entry):
            raise AnnotationError(path, None, f"{where}: expected keys duration, timestamps, sentences")
        stamps, sents = entry["timestamps"], entry["sentences"]
        if not isinstance(stamps, list) or not isinstance(sents, list) or len(stamps) != len(sents):
            raise AnnotationError(path, None, f"{where}: timestamps and sentences must be lists of equal length")
        segs = []
        for i, (ts, sent) in enumerate(zip(stamps, sents)):
            ok = isinstance(ts, list) and len(ts) == 2 and all(isinstance(t, (int, float)) for t in ts)
            if not ok or not isinstance(sent, str) or not 0 <= ts[0] <= ts[1]:  # also refuses NaN
                raise AnnotationError(
                    path, None, f"{where}, segment {i}: expected [start, end] seconds (0 <= start <= end) and a sentence"
                )
            segs.append(Caption(float(ts[0]), float(ts[1]), sent.strip()))
        if not isinstance(entry["duration"], (int, float)):
            raise AnnotationError(path, None, f"{where}: duration must be a number of seconds")
        captions[vid], durations[vid] = segs, float(entry["duration"])
    return captions, durations


def write_uca_json(
    path: str | os.PathLike, captions: Mapping[str, list[Caption]], durations: Mapping[str, float]
) -> None:
    """Write captions in UCA's JSON layout (keys without extension)."""
    data = {
        vid: {
            "duration": round(float(durations[vid]), 2),
            "timestamps": [[round(c.start, 1), round(c.end, 1)] for c in segs],
            "sentences": [c.sentence for c in segs],
        }
        for vid, segs in captions.items()
    }
    write_json(path, data, indent=4)


def parse_uca_time(text: str) -> float:
    """``00:01.2`` / ``0:00.0`` / ``5:58.3`` / ``01:00:23.6`` -> seconds."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or text.strip().startswith("-"):  # "-00:02.0" would read as +2.0 s
        raise ValueError(f"bad time {text!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def read_uca_txt(path: str | os.PathLike) -> dict[str, list[Caption]]:
    """Parse UCA's text format ``Video start end ##sentence`` (the time format varies; see :func:`parse_uca_time`)."""
    path = Path(path)
    out: dict[str, list[Caption]] = {}
    for line_no, line in enumerate(read_annotation_lines(path), 1):
        if not line.strip():
            continue
        head, sep, sentence = line.partition("##")
        toks = head.split()
        if not sep or len(toks) != 3:
            raise AnnotationError(path, line_no, f"expected 'Video start end ##sentence', got {line.strip()[:80]!r}")
        try:
            start, end = parse_uca_time(toks[1]), parse_uca_time(toks[2])
        except ValueError:
            raise AnnotationError(path, line_no, f"expected times like 00:01.2, got {toks[1]!r} {toks[2]!r}") from None
        if not 0 <= start <= end:  # negative, reversed (or NaN) times
            raise AnnotationError(path, line_no, f"expected 0 <= start <= end, got {toks[1]} {toks[2]}")
        out.setdefault(toks[0], []).append(Caption(start, end, sentence.strip()))
    return out
