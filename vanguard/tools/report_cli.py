"""``python -m vanguard report RUN_DIR``: ROC/PR curves, per-category table, grounding examples, invalid answers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from vanguard.report.predictions import GROUND_TRUTH_FILE, load_ground_truth_json, read_predictions
from vanguard.report.render import render_run_report, render_video_page


def report(
    run_dir: str,
    out: str | None = None,
    gt: str | None = None,
    dataset: Literal["ucf_crime", "xd_violence", "shanghaitech"] = "ucf_crime",
    test_list: str | None = None,
    frame_counts: str | None = None,
    video_pages: bool = False,
    max_examples: int = 8,
) -> dict:
    """Write report.md and report.html (with PNG figures) for a test or predict run directory.

    Args:
        run_dir: the run directory (metrics.json, frame_scores.npz, ground_truth.json, predictions/).
        out: output folder (default RUN_DIR/report).
        gt: ground truth file to use instead of RUN_DIR/ground_truth.json (as for ``evaluate``).
        dataset: which benchmark ``gt`` belongs to.
        test_list: ShanghaiTech test list, with ``gt``.
        frame_counts: UCF-Crime native frame counts, with ``gt``.
        video_pages: also write one explanation page per video under OUT/videos/.
        max_examples: grounding examples shown.
    """
    annotations = None
    if gt:
        from vanguard.metrics.ground_truth import load_ground_truth

        videos = [v.video_id for v in read_predictions(run_dir)]
        annotations = load_ground_truth(dataset, gt, videos, test_list, frame_counts)
    elif (Path(run_dir) / GROUND_TRUTH_FILE).is_file():
        annotations = load_ground_truth_json(Path(run_dir) / GROUND_TRUTH_FILE)
    paths = render_run_report(run_dir, annotations, out, max_examples)
    if video_pages:
        by_id = {a.video_id: a for a in annotations or []}
        pages = Path(paths["html"]).parent / "videos"
        for v in read_predictions(run_dir):
            render_video_page(v, pages, by_id.get(v.video_id), Path(run_dir) / "predictions")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return {k: str(v) for k, v in paths.items()}


def main(argv: list[str] | None = None) -> None:
    from jsonargparse import CLI

    CLI(report, args=argv, prog="python -m vanguard report")


if __name__ == "__main__":
    main()
