"""Shared pieces of the benchmarks: result rows, timing helpers, tiny models and real training batches.

Every benchmark module exposes ``measure(quick=False, ...) -> list[dict]`` (rows made by :func:`row`) and a
``main()`` that prints them and, with ``--json PATH``, writes them for ``benchmarks/run_all.py``. ``quick`` is the
tiny mode the smoke test (tests/benchmarks) runs: same code path, fewer repeats and smaller data.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

#: the repository root: run every benchmark from it as a module (``python -m benchmarks.memory``)
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: the demo's subclip geometry (the backbone in experiments/synthcrime/base.yaml): 8 frames of at most 128x128 pixels
DEMO_FRAMES, DEMO_PIXELS = 8, 128 * 128


def row(bench: str, metric: str, value: float, target: str = "", unit: str = "", note: str = "") -> dict:
    """One result: ``target`` is ``""`` (information only) or ``"<= X"`` / ``">= X"``; ``met`` is computed."""
    met = None
    if target:
        op, bound = target.split()
        met = bool(value <= float(bound)) if op == "<=" else bool(value >= float(bound))
    return {"bench": bench, "metric": metric, "value": float(value), "unit": unit, "target": target, "met": met,
            "note": note}


def fmt_value(r: dict) -> str:
    v = r["value"]
    text = f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{text} {r['unit']}".strip()


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        status = "" if r["met"] is None else ("  [met]" if r["met"] else "  [MISSED]")
        target = f"  (target {r['target']})" if r["target"] else ""
        note = f"  -- {r['note']}" if r["note"] else ""
        print(f"{r['bench']:>22} | {r['metric']}: {fmt_value(r)}{target}{status}{note}", flush=True)


def cli_main(measure: Callable[..., list[dict]], description: str, add_args: Callable | None = None) -> None:
    """The ``main()`` of a benchmark module: ``--quick``, ``--json PATH`` and the module's own options."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="tiny mode (the smoke test's)")
    ap.add_argument("--json", default=None, help="also write the rows to this file (for run_all.py)")
    if add_args is not None:
        add_args(ap)
    args = vars(ap.parse_args())
    json_path = args.pop("json")
    import logging

    # quiet Lightning's banners when run as a script; measure() itself leaves global logging alone (tests call it)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    rows = measure(**args)
    print_rows(rows)
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))


def per_call(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` calls (no warm-up; do it yourself)."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def median(xs) -> float:
    return float(statistics.median(xs))


def tiny_backbone(work: Path, size: str = "unit") -> str:
    """A tiny Qwen3-VL built (once per work folder) with :func:`vanguard.tiny.build_tiny`."""
    from vanguard.tiny import build_tiny

    path = Path(work) / f"tiny_{size}"
    if not (path / "config.json").exists():
        build_tiny(path, size=size, seed=0)
    return str(path)


def quick_synthcrime(work: Path) -> str:
    """A 12-video SynthCrime (seed 0) generated once per work folder: the probes' ``--quick`` data. Its root."""
    from vanguard.data.synthcrime.writer import generate

    root = Path(work) / "synthcrime_quick"
    if not (root / "synthcrime" / "Anomaly_Test.txt").exists():
        generate(root, videos=12, zero_shot=0, seed=0, workers=1)
    return str(root / "synthcrime")


def real_shards(work: Path, n_videos: int = 4, clips: int = 4, splits=("train",)) -> Path:
    """Small real shards (320x240 H.264 subclips of 16 frames, the project's 3.2 s windows), written once."""
    from tests.helpers.shards import write_test_shards

    root = Path(work) / f"shards_{n_videos}x{clips}_{'-'.join(splits)}"
    if not (root / splits[0]).is_dir():
        write_test_shards(root, n_videos=n_videos, clips_per_video=clips, splits=splits, shards_per_split=1,
                          frames_per_clip=16, stride=6, width=320, height=240, fps=30.0)
    return root


def training_batch(backbone_path: str, shards: Path, n: int, target: str, num_frames: int = DEMO_FRAMES,
                   frame_pixels: int = DEMO_PIXELS, split: str = "train", prompt_only: bool = False) -> dict:
    """A real training batch (the datamodule's processor + batching on real shard samples), right-padded; with
    ``prompt_only`` the evaluation batch of the same samples instead (no target, left-padded, for generation)."""
    import webdataset as wds

    from datamodules.streams import SubclipProcessor, make_batch

    proc = SubclipProcessor(backbone_path, frame_pixels, num_frames, target, with_target=not prompt_only)
    tars = sorted(str(p) for p in (Path(shards) / split).glob("*.tar"))
    raws = list(wds.WebDataset(tars, shardshuffle=False, empty_check=False))
    items = [proc(raws[i % len(raws)]) for i in range(n)]
    batch = make_batch(items, [], proc.pad_token_id, "left" if prompt_only else "right")
    batch.pop("_skipped"), batch.pop("_seen")
    return batch
