"""Time the pooled frame-level protocol vs the number of frames (UCF-Crime's test set is ~1.1 M frames).

    python -m benchmarks.eval_protocol [--sizes 100000 300000 1100000 3300000] [--sklearn]

Prints seconds per size and per million frames (flat = linear, up to the sort's log factor), for the whole
``evaluate_frame_scores`` (all metrics) and for the exact curve alone; ``--sklearn`` adds roc_auc_score +
average_precision_score for reference.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import cli_main, row
from vanguard.data.annotations import VideoAnnotation
from vanguard.metrics.protocols import BinaryCurve, evaluate_frame_scores


def synthetic_test_set(total_frames: int, seed: int = 0, video_frames: int = 4000):
    rng = np.random.default_rng(seed)
    anns, scores = [], {}
    for i in range(max(2, total_frames // video_frames)):
        anomalous = i % 2 == 0
        n = video_frames
        iv = [(n // 3, n // 3 + n // 5)] if anomalous else []
        ann = VideoAnnotation(f"v{i:05d}", "Fighting" if anomalous else "Normal", iv, num_frames=n)
        y = ann.frame_labels()
        scores[ann.video_id] = np.clip(0.3 * y + rng.normal(0.3, 0.2, n), 0, 1).astype(np.float32)
        anns.append(ann)
    return anns, scores


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(quick: bool = False, sizes: tuple[int, ...] = (100_000, 300_000, 1_100_000, 3_300_000),
            sklearn: bool = False) -> list[dict]:
    if quick:
        sizes = (20_000, 60_000)
    warm_anns, warm_scores = synthetic_test_set(20_000)
    evaluate_frame_scores(warm_scores, warm_anns)  # imports and first-call setup out of the timings
    print(f"{'frames':>10} {'evaluate s':>11} {'s/Mframe':>9} {'curve s':>8} {'sklearn s':>10}")
    per_frame = {}
    for size in sizes:
        anns, scores = synthetic_test_set(size)
        n = sum(a.num_frames for a in anns)
        t_eval = best_of(lambda: evaluate_frame_scores(scores, anns), 3 if n < 2_000_000 else 2)  # noqa: B023
        flat_s = np.concatenate([scores[a.video_id] for a in anns])
        flat_y = np.concatenate([a.frame_labels() for a in anns])
        t_curve = best_of(lambda: BinaryCurve.from_scores(flat_s, flat_y).roc_auc(), 3)  # noqa: B023
        t_sk = float("nan")
        if sklearn:
            from sklearn.metrics import average_precision_score, roc_auc_score

            t_sk = best_of(lambda: (roc_auc_score(flat_y, flat_s), average_precision_score(flat_y, flat_s)), 1)  # noqa: B023
        print(f"{n:>10} {t_eval:>11.3f} {t_eval / n * 1e6:>9.3f} {t_curve:>8.3f} {t_sk:>10.3f}")
        per_frame[size] = (n, t_eval)
    name = "eval_protocol"
    rows = []
    if 1_100_000 in per_frame:
        n, t = per_frame[1_100_000]
        rows.append(row(name, f"frame-level protocol, {n / 1e6:.1f} M frames", t, "<= 1.0", "s",
                        "all metrics (evaluate_frame_scores)"))
    (n0, t0), (n1, t1) = per_frame[min(sizes)], per_frame[max(sizes)]
    rows.append(row(name, f"time per frame at {n1 / 1e6:.1f} M / at {n0 / 1e6:.2f} M", (t1 / n1) / (t0 / n0), "<= 1.5",
                    "x", f"linear = 1 (a sort adds log n: {np.log(n1) / np.log(n0):.2f})"))
    return rows


def add_args(ap) -> None:
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_100_000, 3_300_000])
    ap.add_argument("--sklearn", action="store_true")


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
