"""``python -m vanguard report RUN_DIR``: ROC/PR curves, per-category table, grounding examples, invalid answers."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Literal

from vanguard.errors import ConfigError, VanguardError
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
    _check_run_dir(Path(run_dir))
    try:
        return _report(run_dir, out, gt, dataset, test_list, frame_counts, video_pages, max_examples)
    except VanguardError:
        raise
    except OSError as err:  # unwritable output folder, unreadable file
        raise ConfigError(f"report: {err.filename or run_dir}: {err.strerror or err}") from None
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as err:  # a run file unlike what test/predict write
        raise ConfigError(f"{run_dir}: a file of the run is not what test/predict write "
                          f"({type(err).__name__}: {err})".splitlines()[0]) from None


RUN_FILES = ("metrics.json", "frame_scores.npz", "scores.json", "predictions")


def _check_run_dir(run_dir: Path) -> None:
    """One line for a run directory that is missing, holds none of a run's files, or unreadable JSON."""
    if not run_dir.is_dir():
        raise ConfigError(f"run_dir {str(run_dir)!r} is not a directory (a test or predict run's log folder)")
    if not any((run_dir / name).exists() for name in RUN_FILES):
        raise ConfigError(f"{run_dir} holds none of a test or predict run's files ({', '.join(RUN_FILES)})")
    for path in [run_dir / "metrics.json", run_dir / GROUND_TRUTH_FILE, *sorted((run_dir / "predictions").glob("*.json"))]:
        if path.is_file():
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise ConfigError(f"{path}: not readable JSON ({err})") from None


def _report(run_dir, out, gt, dataset, test_list, frame_counts, video_pages, max_examples) -> dict:
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
