"""Peak resident memory of a training step of each demo stage, and of stage 2 at two batch sizes.

    python -m benchmarks.memory [--size demo|unit] [--batch 4] [--small 2] [--large 8] [--steps 3]

Each measurement runs in its own fresh process (``python -m benchmarks.memory --child ...``, one torch thread):
it loads the tiny Qwen3-VL (``build_tiny(size="demo")`` by default), reads a real training batch for the stage's
target, wraps the stage as ``callbacks.Curriculum`` does (``stage.prepare(lora_config(...))``) and runs ``--steps``
Lightning training steps on that fixed batch. It reports the process's peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``)
and its RSS just before training (model + batch loaded), so ``peak - before`` is what the steps themselves cost.
Memory per sample is the difference of the stage-2 peaks at two batch sizes divided by the difference in size.

The tiny tokenizer has ~1k words; the 4B model's vocabulary has 151,936 rows, and what the logits cost grows with it.
So stage 2 is measured again on the same tiny model with its (tied) embeddings resized to ``--vocab`` rows, twice:
as the Backbone computes the loss (logits only at the answer's positions, ``vanguard.backbone.causal_lm_forward``)
and, for reference, as HF does by default (logits at every position; the child replaces that function with one
returning ``model(**inputs).loss``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import DEMO_FRAMES, DEMO_PIXELS, ROOT, cli_main, real_shards, row, tiny_backbone

STAGES = {1: ("ClassifierWarmup", "none"), 2: ("GroundingStage", "answer"), 3: ("ReasoningStage", "reasoning")}


def every_position_forward(model, inputs: dict, **kwargs) -> tuple:
    """HF's default, the reference arm: logits at every position, HF's own loss."""
    out = model(**inputs, **kwargs)
    return out, out.loss


def big_vocab_backbone(path: str, vocab: int) -> str:
    """A copy of the tiny backbone at ``path`` whose tied embeddings have ``vocab`` rows (written once)."""
    from transformers import AutoModelForImageTextToText

    from vanguard.processing import load_processor

    out = Path(f"{path}_vocab{vocab}")
    if not (out / "config.json").exists():
        model = AutoModelForImageTextToText.from_pretrained(path)
        model.resize_token_embeddings(vocab, mean_resizing=False)
        model.save_pretrained(out)
        load_processor(path).save_pretrained(out)
    return str(out)


def child(stage_no: int, batch: int, steps: int, backbone: str, shards: str, all_logits: bool = False) -> dict:
    """Runs in the measuring process: load, one batch, ``steps`` Lightning steps; returns MiB figures."""

    import psutil
    import torch
    from lightning.pytorch import Trainer

    import vanguard.backbone
    import vanguard.stages as stages
    from benchmarks.common import training_batch
    from benchmarks.framework_overhead import loader
    from vanguard.adapters import lora_config
    from vanguard.backbone import Backbone

    torch.set_num_threads(1)
    if all_logits:
        vanguard.backbone.causal_lm_forward = every_position_forward
    cls_name, target = STAGES[stage_no]
    data = training_batch(backbone, Path(shards), batch, target, DEMO_FRAMES, DEMO_PIXELS)
    kwargs = {"cache_features": False} if stage_no == 1 else {"generate_val_batches": 0}
    stage = getattr(stages, cls_name)(Backbone(backbone, num_frames=DEMO_FRAMES, frame_pixels=DEMO_PIXELS), **kwargs)
    stage.prepare(lora=lora_config(r=16, alpha=32, dropout=0.05))
    before = psutil.Process().memory_info().rss / 2**20
    trainer = Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(stage, train_dataloaders=loader(data, steps))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"before_mib": before, "peak_mib": peak, "tokens": int(data["input_ids"].numel()),
            "answer_tokens": int((data["labels"] != -100).sum()) if "labels" in data else 0}


def measure_one(stage_no: int, batch: int, steps: int, backbone: str, shards: Path, all_logits: bool = False) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", str(stage_no), "--batch", str(batch), "--steps",
           str(steps), "--backbone", backbone, "--shards", str(shards)] + (["--all-logits"] if all_logits else [])
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"memory child failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure(quick: bool = False, size: str = "demo", batch: int = 4, small: int = 2, large: int = 8, steps: int = 3,
            vocab: int = 151_936, work: str | None = None) -> list[dict]:
    if quick:
        size, batch, steps, vocab = "unit", 2, 1, min(vocab, 8192)
    work_dir = Path(work or tempfile.mkdtemp(prefix="vanguard_bench_"))
    path = tiny_backbone(work_dir, size)
    shards = real_shards(work_dir)
    name = "memory"
    rows = []
    for stage_no in ((2,) if quick else (1, 2, 3)):
        r = measure_one(stage_no, batch, steps, path, shards)
        rows.append(row(name, f"stage {stage_no} step peak RSS (batch {batch})", r["peak_mib"], unit="MiB",
                        note=f"{r['peak_mib'] - r['before_mib']:.0f} MiB above the loaded model; {size} tiny, "
                             f"{DEMO_FRAMES} frames <= {DEMO_PIXELS} px"))
    if not quick:
        lo, hi = measure_one(2, small, steps, path, shards), measure_one(2, large, steps, path, shards)
        per_sample = (hi["peak_mib"] - lo["peak_mib"]) / (large - small)
        rows.append(row(name, "stage 2 memory per sample", per_sample, unit="MiB",
                        note=f"peak {lo['peak_mib']:.0f} MiB at batch {small}, {hi['peak_mib']:.0f} MiB at batch "
                             f"{large} ({hi['tokens'] // large} tokens per sample)"))
    if vocab:
        big = big_vocab_backbone(path, vocab)
        kept, every = measure_one(2, batch, steps, big, shards), measure_one(2, batch, steps, big, shards, all_logits=True)
        what = f"{vocab:,}-row vocabulary, {kept['tokens'] // batch} tokens per sample, {kept['answer_tokens']} answer tokens in all"
        rows.append(row(name, f"stage 2 step peak RSS (batch {batch}), {vocab:,} words: logits at the answer", kept["peak_mib"],
                        unit="MiB", note=f"{kept['peak_mib'] - kept['before_mib']:.0f} MiB above the loaded model; {what}"))
        rows.append(row(name, f"stage 2 step peak RSS (batch {batch}), {vocab:,} words: logits everywhere (HF default)",
                        every["peak_mib"], unit="MiB",
                        note=f"{every['peak_mib'] - every['before_mib']:.0f} MiB above the loaded model; same batch"))
    return rows


def add_args(ap) -> None:
    ap.add_argument("--size", default="demo", choices=["unit", "demo"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--small", type=int, default=2)
    ap.add_argument("--large", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=151_936, help="stage 2 again with this many vocabulary rows (0: skip)")
    ap.add_argument("--work", default=None)


if __name__ == "__main__":
    if "--child" in sys.argv:
        import argparse

        ap = argparse.ArgumentParser()
        for flag, typ in (("--child", int), ("--batch", int), ("--steps", int), ("--backbone", str), ("--shards", str)):
            ap.add_argument(flag, type=typ, required=True)
        ap.add_argument("--all-logits", action="store_true")
        a = ap.parse_args()
        print(json.dumps(child(a.child, a.batch, a.steps, a.backbone, a.shards, a.all_logits)))
    else:
        cli_main(measure, __doc__.splitlines()[0], add_args)
