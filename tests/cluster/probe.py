"""``RunProbe``: a test callback (given by class path in a config) that reports what a training process did.

Each rank appends JSON lines to ``<out_dir>/events-rank<R>.jsonl``:

- ``start``: the global step training (re)started from, the process id, the cluster environment Lightning chose;
- ``hold``: the process reached ``hold_at_step`` and now waits there (once per ``out_dir``: a relaunch does not wait
  again), so a test can signal or kill it at a known step;
- ``end``: the final global step, a SHA-256 digest of the trainable parameters (in name order), the digest at
  start, and the names of trainable parameters that had no gradient at some optimizer step.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer


def trainable_digest(module: LightningModule) -> str:
    digest = hashlib.sha256()
    for name, param in sorted(module.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class RunProbe(Callback):
    """Record start/end steps and weight digests per rank; optionally wait at a step.

    Args:
        out_dir: where the per-rank event files go.
        hold_at_step: after this optimizer step, wait (up to ``hold_s`` seconds) so the test can signal or kill.
        hold_s: the longest wait.
    """

    def __init__(self, out_dir: str, hold_at_step: int | None = None, hold_s: float = 120.0):
        self.out_dir = Path(out_dir)
        self.hold_at_step = hold_at_step
        self.hold_s = hold_s
        self.no_grad: set[str] = set()
        self.start_digest = ""

    def _emit(self, trainer: Trainer, event: str, **fields) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"event": event, "rank": trainer.global_rank, "pid": os.getpid(), "step": trainer.global_step}
        with open(self.out_dir / f"events-rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps({**record, **fields}) + "\n")

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start_digest = trainable_digest(pl_module)
        env = type(trainer._accelerator_connector.cluster_environment).__name__
        self._emit(trainer, "start", cluster_environment=env, world_size=trainer.world_size)

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer) -> None:
        self.no_grad |= {n for n, p in pl_module.named_parameters() if p.requires_grad and p.grad is None}

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        marker = self.out_dir / f"held-rank{trainer.global_rank}"
        if self.hold_at_step is None or trainer.global_step != self.hold_at_step or marker.exists():
            return
        marker.touch()
        self._emit(trainer, "hold")
        deadline = time.monotonic() + self.hold_s
        while time.monotonic() < deadline:  # signal handlers run between these sleeps
            time.sleep(0.05)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._emit(
            trainer,
            "end",
            digest=trainable_digest(pl_module),
            start_digest=self.start_digest,
            trainable=sum(p.numel() for p in pl_module.parameters() if p.requires_grad),
            no_grad=sorted(self.no_grad),
        )


def read_events(out_dir: str | os.PathLike, rank: int = 0) -> list[dict]:
    path = Path(out_dir) / f"events-rank{rank}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
