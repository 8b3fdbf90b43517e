"""A real 2-process CPU DDP (gloo) fit over subclip shards; launched by test_datamodule_ddp.py as a subprocess.

Usage: python ddp_run.py SHARDS BACKBONE OUT_DIR. Each rank writes OUT_DIR/rank<r>.json with its training batch
count per epoch and the validation keys it saw per epoch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer

from datamodules import SubclipDataModule


class MeanPixelHead(LightningModule):
    """A linear head over each sample's mean pixel value: cheap, but a real DDP gradient sync every step."""

    target = "answer"  # the datamodule asks the model (target=None)

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(1, 1)
        self.train_batches: dict[int, int] = {}
        self.val_keys: dict[int, list[str]] = {}

    def features(self, batch):
        sizes = batch["video_grid_thw"].prod(-1).tolist()
        return torch.stack([p.float().mean() for p in batch["pixel_values_videos"].split(sizes)]).unsqueeze(1)

    def training_step(self, batch, batch_idx):
        assert "labels" in batch and batch["input_ids"].shape[0] == 2
        self.train_batches[self.current_epoch] = self.train_batches.get(self.current_epoch, 0) + 1
        logits = self.head(self.features(batch)).squeeze(1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["label"].float())

    def validation_step(self, batch, batch_idx):
        self.val_keys.setdefault(self.current_epoch, []).extend(m["key"] for m in batch["meta"])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            self.head(self.features(batch)).squeeze(1), batch["label"].float()
        )
        self.log("val_loss", loss, on_epoch=True, sync_dist=True, batch_size=len(batch["meta"]))  # epoch-end sync

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main(shards: str, backbone: str, out: str) -> None:
    dm = SubclipDataModule(shards, backbone, frame_pixels=64 * 64, num_frames=4, batch_size=2, num_workers=2,
                           shuffle_buffer=8, min_samples_before_skip_check=10_000)
    model = MeanPixelHead()
    trainer = Trainer(strategy="ddp", accelerator="cpu", devices=2, max_epochs=2, num_sanity_val_steps=0,
                      logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    record = {"rank": trainer.global_rank, "train_batches": model.train_batches, "val_keys": model.val_keys,
              "skip_counts": dm.skip_counts, "global_step": trainer.global_step}
    Path(out, f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(*sys.argv[1:4])
