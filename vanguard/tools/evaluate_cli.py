"""``python -m vanguard evaluate``: the frame-level protocols on saved scores (ours, or a peer's per-snippet arrays)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from vanguard.io import write_json
from vanguard.metrics.ground_truth import load_ground_truth
from vanguard.metrics.protocols import evaluate_frame_scores, snippet_frame_scores
from vanguard.metrics.scores import load_frame_scores, load_snippet_scores
from vanguard.report.tables import metrics_table


def _json_safe(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def evaluate(
    scores: str,
    gt: str,
    dataset: Literal["ucf_crime", "xd_violence", "shanghaitech"] = "ucf_crime",
    out: str | None = None,
    test_list: str | None = None,
    frame_counts: str | None = None,
    snippet_frames: int = 16,
    gt_length: Literal["auto", "scores", "annotation"] | None = None,
    allow_missing: bool = False,
) -> dict:
    """Score saved anomaly scores with the community's pooled frame-level protocol; writes metrics.json.

    Args:
        scores: our ``frame_scores.npz`` / ``scores.json`` (one score per frame per video, written by ``test``), or
            a directory of a peer's per-snippet ``<video>.npy`` arrays (one score per ``snippet_frames`` frames,
            crops averaged).
        gt: ground truth: UCF-Crime ``Temporal_Anomaly_Annotation.txt``, XD-Violence ``annotations.txt``, or
            ShanghaiTech's ``test_frame_mask`` directory.
        dataset: which benchmark ``gt`` belongs to.
        out: where to write metrics.json (default: beside the scores file, or inside the scores directory).
        test_list: ShanghaiTech test list (``SH_Test.txt``); required for ``shanghaitech``.
        frame_counts: UCF-Crime native frame counts (UR-DMU's ``UCF_Annotation.txt``); without it a video's ground
            truth has as many frames as its scores.
        snippet_frames: frames per peer snippet (16 for I3D / CLIP features).
        gt_length: ground-truth length per video: ``auto`` (native count if known, else the score length),
            ``scores`` or ``annotation``; default ``scores`` for peer snippets (their convention), else ``auto``.
        allow_missing: skip test videos that have no scores instead of failing.
    """
    path = Path(scores)
    peer = path.is_dir()
    if peer:
        video_scores = {k: snippet_frame_scores(v, snippet_frames) for k, v in load_snippet_scores(path).items()}
    else:
        video_scores = load_frame_scores(path)
    annotations = load_ground_truth(dataset, gt, list(video_scores), test_list, frame_counts)
    metrics = evaluate_frame_scores(
        video_scores, annotations, gt_length=gt_length or ("scores" if peer else "auto"), allow_missing=allow_missing
    )
    metrics["protocol"].update(
        {"dataset": dataset, "scores": str(path), "source": "peer per-snippet arrays" if peer else "frame scores"}
    )
    metrics = _json_safe(metrics)
    out_path = Path(out) if out else (path if peer else path.parent) / "metrics.json"
    write_json(out_path, metrics)
    print(metrics_table(metrics))
    print(f"\nwrote {out_path}")
    return metrics


def main(argv: list[str] | None = None) -> None:
    from jsonargparse import CLI

    CLI(evaluate, args=argv, prog="python -m vanguard evaluate")


if __name__ == "__main__":
    main()
