"""Lightning's overhead per training step: the stage-2 module through a Trainer vs a plain PyTorch loop.

    python -m benchmarks.framework_overhead [--size demo|unit] [--batch 4] [--steps 8] [--rounds 5]

Both sides train the SAME ``GroundingStage`` (LoRA injected as ``callbacks.Curriculum`` does, through
``stage.prepare(lora=lora_config(...))``) on the SAME fixed, real training batch (read from real shards by the
datamodule's processor), one torch thread. The Trainer runs with logger, checkpointing, progress bar and model
summary off and ``max_steps``; the plain loop does what the stage's ``training_step`` does by hand: backbone forward
(features + LM loss), head, the three losses, backward, AdamW step, LR-scheduler step, zero_grad. Per-step time
is the CPU time (one thread, so other processes on a shared machine do not inflate it) between the starts of
consecutive steps (data fetch, hooks and logging included); the first two steps of each run are warm-up. Runs are
interleaved; the figure is the median over rounds of (median Lightning step / median plain step) of the round.
Target: ratio <= 1.10.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import cli_main, median, real_shards, row, tiny_backbone, training_batch

WARMUP = 2


class Repeat(torch.utils.data.IterableDataset):
    """The same in-memory batch, ``n`` times."""

    def __init__(self, batch: dict, n: int):
        self.batch, self.n = batch, n

    def __iter__(self):
        for _ in range(self.n):
            yield self.batch


def loader(batch: dict, n: int):
    return torch.utils.data.DataLoader(Repeat(batch, n), batch_size=None, num_workers=0)


def lightning_steps(stage, batch: dict, steps: int) -> list[float]:
    from lightning.pytorch import Callback, Trainer

    starts: list[float] = []

    class Clock(Callback):
        def on_train_batch_start(self, *_):
            starts.append(time.process_time())

        def on_train_end(self, *_):
            starts.append(time.process_time())

    trainer = Trainer(accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      limit_val_batches=0, callbacks=[Clock()])
    trainer.fit(stage, train_dataloaders=loader(batch, steps))
    return [b - a for a, b in zip(starts, starts[1:])][WARMUP:]


def plain_steps(stage, batch: dict, steps: int) -> list[float]:
    """What training_step + Lightning's loop do, written by hand (same optimizer and scheduler objects)."""
    stage.train()
    config = stage.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    h = stage.hparams
    weights = {"cls": h.cls_weight, "category": h.category_weight, "lm": h.lm_weight}
    starts = []
    for b in loader(batch, steps):
        starts.append(time.process_time())
        features, lm_loss = stage.backbone.forward(b, with_loss=True)
        losses = stage.losses(stage.head(features), b, lm_loss)
        loss = sum(weights[k] * v for k, v in losses.items())
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    starts.append(time.process_time())
    return [b - a for a, b in zip(starts, starts[1:])][WARMUP:]


def measure(quick: bool = False, size: str = "demo", batch: int = 4, steps: int = 8, rounds: int = 5,
            work: str | None = None) -> list[dict]:

    from vanguard.adapters import lora_config
    from vanguard.backbone import Backbone
    from vanguard.stages import GroundingStage

    torch.set_num_threads(1)
    if quick:
        size, batch, steps, rounds = "unit", 2, 4, 1
    work_dir = Path(work or tempfile.mkdtemp(prefix="vanguard_bench_"))
    path = tiny_backbone(work_dir, size)
    data = training_batch(path, real_shards(work_dir), batch, "answer")
    torch.manual_seed(0)
    stage = GroundingStage(Backbone(path, num_frames=8, frame_pixels=128 * 128), generate_val_batches=0)
    stage.prepare(lora=lora_config(r=16, alpha=32, dropout=0.05))
    light, plain, ratios = [], [], []
    for _ in range(rounds):  # interleaved: load changes on a shared machine hit both alike
        light.append(lightning_steps(stage, data, steps))
        plain.append(plain_steps(stage, data, steps))
        ratios.append(median(light[-1]) / median(plain[-1]))
    t_light, t_plain = median(sum(light, [])), median(sum(plain, []))
    name = "framework_overhead"
    note = f"{size} tiny, batch {batch}, {rounds} rounds of {steps - WARMUP} timed steps each; " + \
        "per-round ratios " + ", ".join(f"{r:.3f}" for r in ratios)
    return [
        row(name, "Lightning step (CPU time)", t_light * 1e3, unit="ms", note=note),
        row(name, "plain PyTorch step (CPU time)", t_plain * 1e3, unit="ms"),
        row(name, "Lightning / plain step time", median(ratios), "<= 1.10", "x"),
    ]


def add_args(ap) -> None:
    ap.add_argument("--size", default="demo", choices=["unit", "demo"])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8, help="steps per run (2 of them warm-up)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default=None)


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
