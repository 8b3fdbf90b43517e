"""Stage 1's feature cache: epochs after the first with ``cache_features=True`` vs ``False``, same seed.

    python -m benchmarks.feature_cache [--size demo|unit] [--epochs 3] [--batches 20] [--batch 16] [--workers 1]

Two ``ClassifierWarmup`` runs through a real ``Trainer`` + ``SubclipDataModule`` on small real shards (320x240
H.264 subclips written by ``tests.helpers.shards``), identical except for ``cache_features``. With the cache, a
sample whose key is cached is neither decoded nor processed in the workers (``SubclipProcessor.cached_keys``) and
skips the backbone. Timed: the training part of each epoch (train epoch start -> its last batch end), so the
single validation pass at the end (``check_val_every_n_epoch = epochs``) does not count; that validation runs on
features computed fresh in both runs, so its AUROC must agree (to ~1e-6: cached rows were computed in a different
padding of the batch). Target: epochs after the first >= 5x faster.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import cli_main, median, real_shards, row, tiny_backbone


def run(backbone_path: str, shards: Path, cache: bool, epochs: int, batches: int, batch: int, workers: int) -> dict:
    from lightning.pytorch import Callback, Trainer, seed_everything

    from datamodules import SubclipDataModule
    from vanguard.backbone import Backbone
    from vanguard.stages import ClassifierWarmup

    seed_everything(0, verbose=False)
    epoch_s: list[float] = []
    first_s: list[float] = []
    scores: dict[str, float] = {}

    class Clock(Callback):
        def on_train_epoch_start(self, *_):
            self.t = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.last = time.perf_counter()
            if batch_idx == 0:
                first_s.append(self.last - self.t)

        def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
            scores.update({m["key"]: float(s) for m, s in zip(batch["meta"], outputs["scores"])})

        def on_train_epoch_end(self, *_):
            epoch_s.append(self.last - self.t)

    stage = ClassifierWarmup(Backbone(backbone_path, num_frames=8, frame_pixels=128 * 128), cache_features=cache)
    dm = SubclipDataModule(str(shards), backbone_path, frame_pixels=128 * 128, num_frames=8, batch_size=batch,
                           eval_batch_size=batch, num_workers=workers, shuffle_buffer=64, batches_per_epoch=batches,
                           seed=0)
    trainer = Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      check_val_every_n_epoch=epochs, callbacks=[Clock()])
    trainer.fit(stage, datamodule=dm)
    return {"epochs": epoch_s, "first": first_s, "scores": scores, "auroc": float(trainer.callback_metrics["val/auroc"]),
            "calls": stage.backbone_calls, "cached": len(stage.feature_cache["train"])}


def measure(quick: bool = False, size: str = "demo", epochs: int = 3, batches: int = 20, batch: int = 16,
            workers: int = 1, work: str | None = None) -> list[dict]:
    import warnings

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    if quick:
        size, epochs, batches, batch = "unit", 2, 3, 4
    work_dir = Path(work or tempfile.mkdtemp(prefix="vanguard_bench_"))
    path = tiny_backbone(work_dir, size)
    shards = real_shards(work_dir, n_videos=12 if not quick else 4, clips=4, splits=("train", "val"))
    torch.set_num_threads(1)
    off = run(path, shards, False, epochs, batches, batch, workers)
    on = run(path, shards, True, epochs, batches, batch, workers)
    later_off, later_on = median(off["epochs"][1:]), median(on["epochs"][1:])
    name = "feature_cache"
    note = (f"{size} tiny, {epochs} epochs of {batches}x{batch} subclips, {workers} worker(s); epoch s without "
            f"{[round(x, 2) for x in off['epochs']]}, with {[round(x, 2) for x in on['epochs']]}; backbone calls "
            f"{off['calls']} vs {on['calls']}; time to the first batch of each epoch (worker start-up) "
            f"{[round(x, 2) for x in on['first']]} s with the cache")
    diff = abs(on["auroc"] - off["auroc"])
    score_diff = max(abs(on["scores"][k] - off["scores"][k]) for k in off["scores"])
    return [
        row(name, "stage-1 epoch after the first, no cache / cache", later_off / later_on, ">= 5", "x", note),
        row(name, "stage-1 first epoch, cache / no cache", on["epochs"][0] / off["epochs"][0], unit="x",
            note="subclips drawn again within the first epoch already hit the cache"),
        row(name, "val AUROC |cache - no cache|", diff, "<= 1e-6",
            note=f"AUROC {on['auroc']:.6f} vs {off['auroc']:.6f} on {len(off['scores'])} val subclips"),
        row(name, "val scores max |cache - no cache|", score_diff, "<= 1e-5",
            note="same seed and stream; cached rows were computed in a different batch padding"),
    ]


def add_args(ap) -> None:
    ap.add_argument("--size", default="demo", choices=["unit", "demo"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batches", type=int, default=20, help="training batches per epoch")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--work", default=None)


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
