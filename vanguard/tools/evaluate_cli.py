"""``python -m vanguard evaluate``: the frame-level protocols on saved scores (ours, or a peer's per-snippet arrays).

A figure is published only for the whole test set of the protocol: test videos without scores are refused (or, with
``--allow_missing true``, scored as a subset flagged on the terminal and in metrics.json's ``coverage``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from vanguard.io import json_safe, write_json
from vanguard.metrics.ground_truth import load_ground_truth
from vanguard.metrics.presets import PRESETS, get_protocol, preset_lines
from vanguard.metrics.protocols import coverage_warning, evaluate_frame_scores, snippet_frame_scores
from vanguard.metrics.scores import load_frame_scores, load_snippet_scores
from vanguard.report.tables import metrics_table

Protocol = Literal[tuple(PRESETS)]  # type: ignore[valid-type]


def evaluate(
    scores: str,
    gt: str,
    dataset: Literal["ucf_crime", "xd_violence", "shanghaitech"] = "ucf_crime",
    protocol: Protocol = "default",
    out: str | None = None,
    test_list: str | None = None,
    frame_counts: str | None = None,
    snippet_frames: int = 16,
    crop_layout: Literal["crops_snippets", "snippets_crops"] | None = None,
    gt_length: Literal["auto", "scores", "annotation"] | None = None,
    allow_missing: bool = False,
) -> dict:
    """Score saved anomaly scores with a pooled frame-level protocol; writes metrics.json, which names it.

    Args:
        scores: our ``frame_scores.npz`` / ``scores.json`` (one score per frame per video, written by ``test``), or
            a directory of a peer's per-snippet ``<video>.npy`` arrays (one score per ``snippet_frames`` frames;
            crops as ``<video>__<k>.npy`` files, or 2-D arrays read by ``crop_layout``).
        gt: ground truth: UCF-Crime ``Temporal_Anomaly_Annotation.txt``, XD-Violence ``annotations.txt``, or
            ShanghaiTech's ``test_frame_mask`` directory.
        dataset: which benchmark ``gt`` belongs to.
        protocol: whose evaluation to run (one line each above); ``default`` is this project's.
        out: where to write metrics.json (default: beside the scores file, or inside the scores directory).
        test_list: ShanghaiTech test list (``SH_Test.txt``, required); XD-Violence test video names (optional:
            with it a missing normal video is refused too).
        frame_counts: UCF-Crime native frame counts (UR-DMU's ``UCF_Annotation.txt``); without it a video's ground
            truth has as many frames as its scores.
        snippet_frames: frames per peer snippet (16 for I3D / CLIP features).
        crop_layout: axes of a peer's 2-D per-video score array: ``crops_snippets`` or ``snippets_crops``
            (never guessed: a 2-D array without it is an error naming the file).
        gt_length: override the protocol's ground-truth length per video: ``auto`` (native count if known, else
            the score length), ``scores`` or ``annotation``.
        allow_missing: score the videos that have scores when some test videos have none (flagged on the terminal
            and in metrics.json ``coverage``); without it such a run is refused, naming the missing videos.
    """
    preset = get_protocol(protocol)
    preset.rule(dataset)  # a preset without a rule for this dataset is refused before any file is read
    path = Path(scores)
    peer = path.is_dir()
    if peer:
        snippets = load_snippet_scores(path, crop_layout, preset.crop.get(dataset))
        video_scores = {k: snippet_frame_scores(v, snippet_frames) for k, v in snippets.items()}
    else:
        video_scores = load_frame_scores(path)
    annotations = load_ground_truth(dataset, gt, list(video_scores), test_list, frame_counts)
    metrics = evaluate_frame_scores(video_scores, annotations, gt_length, allow_missing, protocol, dataset, peer)
    metrics["protocol"].update({"scores": str(path), "source_kind": "peer per-snippet arrays" if peer else "frame scores"})
    metrics = json_safe(metrics)
    out_path = Path(out) if out else (path if peer else path.parent) / "metrics.json"
    write_json(out_path, metrics)
    print(f"protocol: {preset.name} ({dataset}): {preset.summary}")
    print(metrics_table(metrics))
    print(f"\nwrote {out_path}")
    unlisted = metrics["coverage"]["not_in_ground_truth"]
    if unlisted:
        print(f"note: {len(unlisted)} scored videos are not in the ground truth and were not counted, e.g. "
              f"{unlisted[:5]}", file=sys.stderr)
    warning = coverage_warning(metrics["coverage"])
    if warning:
        print(warning, file=sys.stderr)
    return metrics


DESCRIPTION = (
    "Score saved anomaly scores with a pooled frame-level protocol; writes metrics.json, which names it.\n\n"
    "--protocol presets (a peer's evaluation exactly as its code runs it; docs/protocols.md):\n" + preset_lines()
)


def main(argv: list[str] | None = None) -> None:
    import argparse

    from jsonargparse import CLI, DefaultHelpFormatter

    class Formatter(DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter):
        """Keeps the description's one line per preset as written."""

    CLI(evaluate, args=argv, prog="python -m vanguard evaluate", description=DESCRIPTION, formatter_class=Formatter)


if __name__ == "__main__":
    main()
