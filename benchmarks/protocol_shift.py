"""How much each ``evaluate --protocol`` preset moves ROC-AUC and AP against the default, on the same scores.

    PYTHONPATH=. python -m benchmarks.protocol_shift [--fixtures ../shared/fixtures/vad] [--seeds 3] [--run RUN_DIR]

Test sets: the real UCF-Crime ground truth (290 videos, native counts from UR-DMU's list, PEL4VAD's snippet counts),
XD-Violence's 500 annotated videos (native lengths drawn; snippets = (length - 1) // 16) plus 300 normal ones, and
ShanghaiTech's 199 weak-split test videos (RTFM's masks; normal lengths drawn). Scores per snippet, as a peer's
10-crop (XD: 5-crop) files: ``random`` (uniform) and ``informative`` (0.2 x the snippet's anomalous fraction plus
0.8 x uniform noise: a model of moderate quality), each crop that score plus N(0, 0.05) noise. Each figure is the preset's ``auc_roc`` / ``ap`` minus the default's
``auc_roc`` / ``ap_pr_auc``; mean and largest absolute difference over seeds are printed as a Markdown table.

``--run`` adds a test run's ``frame_scores.npz`` + ``ground_truth.json`` (e.g. the demo's), scored with each
preset's UCF-Crime rule (its ground truth holds inclusive intervals, as UCF-Crime's reader does).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from vanguard.data.annotations import VideoAnnotation
from vanguard.metrics.ground_truth import load_ground_truth, read_frame_counts, read_ucf_temporal
from vanguard.metrics.presets import PRESETS
from vanguard.metrics.protocols import evaluate_frame_scores, snippet_frame_scores

ROOT = Path(__file__).resolve().parents[1]


def test_sets(fixtures: Path, rng: np.random.Generator) -> dict[str, tuple[list[VideoAnnotation], dict[str, int], int]]:
    """dataset -> (annotations with native counts, snippets per video, crops)."""
    ucf_dir = fixtures / "ucf_crime"
    ucf = read_ucf_temporal(ucf_dir / "Temporal_Anomaly_Annotation.txt",
                            read_frame_counts(ucf_dir / "UCF_Annotation_with_nframes.urdmu.txt"))
    pel4vad = {f.name.removesuffix("__9_gt.npy"): len(np.load(f)) // 16
               for f in (fixtures / "peers" / "pel4vad_ucf_single_gt").glob("*.npy")}
    xd_names = [line.split()[0] for line in (fixtures / "xd_violence" / "annotations.txt").read_text().splitlines() if line.strip()]
    xd_names += [f"Normal.Film.{i}__#00-00-00_00-01-00_label_A" for i in range(300)]
    xd = load_ground_truth("xd_violence", fixtures / "xd_violence" / "annotations.txt", xd_names)
    for a in xd:
        a.num_frames = max((e for _, e in a.intervals), default=0) + int(rng.integers(300, 3000))
    sht = load_ground_truth("shanghaitech", fixtures / "peers" / "rtfm_sh_test_frame_mask",
                            test_list=fixtures / "shanghaitech" / "SH_Test.txt")
    for a in sht:
        a.num_frames = a.num_frames or int(rng.integers(200, 1200))
    return {
        "ucf_crime": (ucf, pel4vad, 10),
        "xd_violence": (xd, {a.video_id: (a.num_frames - 1) // 16 for a in xd}, 5),
        "shanghaitech": (sht, {a.video_id: math.ceil(a.num_frames / 16) for a in sht}, 10),
    }


def crop_scores(anns, snippets, crops, kind: str, rng) -> dict[str, np.ndarray]:
    """Per video (crops, snippets): a per-snippet score plus a little per-crop noise (crops of one snippet agree
    closely, as a peer's 10-crop I3D scores do)."""
    out = {}
    for a in anns:
        n = snippets[a.video_id]
        base = rng.random(n)
        if kind == "informative":
            base = 0.8 * base + 0.2 * a.frame_labels(n * 16).reshape(n, 16).mean(1)
        out[a.video_id] = base + 0.05 * rng.standard_normal((crops, n))
    return out


def figures(crops: dict[str, np.ndarray], anns, dataset: str, preset: str) -> tuple[float, float]:
    p = PRESETS[preset]
    crop = p.crop.get(dataset)
    snippets = {v: c[crop] if crop is not None else c.mean(0) for v, c in crops.items()}
    m = evaluate_frame_scores({v: snippet_frame_scores(s) for v, s in snippets.items()}, anns, protocol=preset,
                              dataset=dataset, per_snippet=True)
    return m["auc_roc"], m["ap"] if preset != "default" else m["ap_pr_auc"]


def shifts(fixtures: Path, seeds: int) -> list[tuple]:
    rows = []
    data = test_sets(fixtures, np.random.default_rng(0))
    for dataset, (anns, snippets, n_crops) in data.items():
        for kind in ("random", "informative"):
            per_preset: dict[str, list[tuple[float, float]]] = {}
            base = []
            for seed in range(seeds):
                crops = crop_scores(anns, snippets, n_crops, kind, np.random.default_rng(100 + seed))
                auc0, ap0 = figures(crops, anns, dataset, "default")
                base.append((auc0, ap0))
                for name, p in PRESETS.items():
                    if name != "default" and dataset in p.rules:
                        auc1, ap1 = figures(crops, anns, dataset, name)
                        per_preset.setdefault(name, []).append((auc1 - auc0, ap1 - ap0))
            b = np.mean(base, axis=0)
            for name, diffs in per_preset.items():
                d = np.asarray(diffs)
                rows.append((dataset, kind, name, b[0], b[1], d[:, 0].mean(), np.abs(d[:, 0]).max(), d[:, 1].mean(),
                             np.abs(d[:, 1]).max()))
    return rows


def run_shifts(run_dir: Path) -> list[tuple]:
    from vanguard.metrics.scores import load_frame_scores
    from vanguard.report.predictions import load_ground_truth_json

    scores = load_frame_scores(run_dir / "frame_scores.npz")
    anns = load_ground_truth_json(run_dir / "ground_truth.json")
    base = evaluate_frame_scores(scores, anns, allow_missing=True)
    rows = []
    for name, p in PRESETS.items():
        if name != "default" and "ucf_crime" in p.rules:
            m = evaluate_frame_scores(scores, anns, allow_missing=True, protocol=name, dataset="ucf_crime")
            rows.append((run_dir.name, "run", name, base["auc_roc"], base["ap_pr_auc"], m["auc_roc"] - base["auc_roc"],
                         abs(m["auc_roc"] - base["auc_roc"]), m["ap"] - base["ap_pr_auc"], abs(m["ap"] - base["ap_pr_auc"])))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures" / "vad")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--run", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = (run_shifts(args.run) if args.run else []) + shifts(args.fixtures, args.seeds)
    print("| dataset | scores | preset | default AUC | default AP | dAUC mean | dAUC max | dAP mean | dAP max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join([*r[:3], *(f"{v:+.2e}" if i >= 2 else f"{v:.4f}" for i, v in enumerate(r[3:]))]) + " |")


if __name__ == "__main__":
    main()
