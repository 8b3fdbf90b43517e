"""In-memory synthetic subclips following the batch contract (model keys + label + category + meta), and a small
map-style LightningDataModule over them for end-to-end ``fit`` tests until the real SubclipDataModule exists.

Anomalous clips show a bright square (the ground-truth box) on a noisy background; normal clips do not.
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from vanguard.answer import Answer, Box, render_answer
from vanguard.categories import CATEGORY_INDEX, NORMAL
from vanguard.processing import SubclipEncoder, collate
from vanguard.schema import sample_key
from vanguard.targets import asks_reasoning, training_text

ANOMALY = "Fighting"


def make_clip(index: int, anomalous: bool, num_frames: int = 8, height: int = 48, width: int = 64, split="train"):
    """(frames THWC uint8, meta) of one synthetic subclip; deterministic in ``index``."""
    rng = np.random.default_rng(index)
    frames = rng.integers(0, 60, (num_frames, height, width, 3), dtype=np.uint8)
    boxes: tuple[Box, ...] = ()
    if anomalous:
        x1, y1 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        x2, y2 = x1 + width // 3, y1 + height // 3
        frames[:, y1:y2, x1:x2] = (250, 30, 30)
        boxes = (Box.from_pixels(x1, y1, x2, y2, width, height, "person"),)
    answer = Answer(anomalous, ANOMALY if anomalous else NORMAL, boxes)
    start = 16 * index
    video_id = f"synth{index:03d}"
    meta = {
        "dataset": "synthetic",
        "video_id": video_id,
        "split": split,
        "fps": 10.0,
        "frame_indices": [start + 2 * i for i in range(num_frames)],
        "keyframe": num_frames - 1,
        "width": width,
        "height": height,
        "label": int(anomalous),
        "category": answer.category,
        "cues": [],
        "boxes": [b.as_json() for b in boxes],
        "reasoning": "Two people fight in the middle." if anomalous else "People walk normally.",
        "answer": render_answer(answer),
        "teacher": "synthetic",
        "grounder": "synthetic",
        "key": sample_key(video_id, start),
    }
    return frames, meta


def encode_item(encoder: SubclipEncoder, frames, meta, target: str) -> dict:
    item = encoder.encode(
        frames, meta["fps"], meta["frame_indices"], target=training_text(target, meta), reasoning=asks_reasoning(target)
    )
    item["label"] = torch.tensor(meta["label"])
    item["category"] = torch.tensor(CATEGORY_INDEX[meta["category"]])
    item["meta"] = meta
    return item


def collate_items(items: list[dict], pad_token_id: int, padding_side: str) -> dict:
    model_items = [{k: v for k, v in it.items() if k not in ("label", "category", "meta")} for it in items]
    batch = collate(model_items, pad_token_id, padding_side)
    batch["label"] = torch.stack([it["label"] for it in items])
    batch["category"] = torch.stack([it["category"] for it in items])
    batch["meta"] = [it["meta"] for it in items]
    return batch


def make_batch(encoder: SubclipEncoder, indices, target: str = "none", train: bool = True, num_frames: int = 8):
    """A collated batch of clips ``indices`` (odd index = anomalous): right-padded with labels for training,
    left-padded prompt-only for evaluation."""
    items = []
    for i in indices:
        frames, meta = make_clip(i, anomalous=i % 2 == 1, num_frames=num_frames, split="train" if train else "val")
        items.append(encode_item(encoder, frames, meta, target if train else "none"))
    return collate_items(items, encoder.tokenizer.pad_token_id, "right" if train else "left")


class _Clips(Dataset):
    def __init__(self, encoder, indices, target, num_frames, split):
        self.encoder, self.indices, self.target, self.num_frames, self.split = (
            encoder,
            indices,
            target,
            num_frames,
            split,
        )

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, n):
        i = self.indices[n]
        frames, meta = make_clip(i, anomalous=i % 2 == 1, num_frames=self.num_frames, split=self.split)
        return encode_item(self.encoder, frames, meta, self.target)


class SyntheticSubclipDataModule(LightningDataModule):
    """Map-style synthetic subclips: training batches carry the stage's target (right-padded), eval batches are
    prompt-only and left-padded, as in the batch contract.

    Args:
        backbone_path: backbone directory (its processor encodes the clips).
        num_train: training clips. num_val: validation clips. num_test: test clips.
        batch_size: training batch size. eval_batch_size: eval batch size.
        num_frames: frames per clip. frame_pixels: pixel budget per frame.
        target: training target; None asks the model (``trainer.lightning_module.target``).
        shuffle: shuffle the training clips.
    """

    def __init__(
        self,
        backbone_path: str,
        num_train: int = 8,
        num_val: int = 4,
        num_test: int = 4,
        batch_size: int = 2,
        eval_batch_size: int = 2,
        num_frames: int = 8,
        frame_pixels: int = 64 * 64,
        target: str | None = None,
        shuffle: bool = True,
    ):
        super().__init__()
        self.encoder = SubclipEncoder(backbone_path, frame_pixels=frame_pixels)
        self.num_train, self.num_val, self.num_test = num_train, num_val, num_test
        self.batch_size, self.eval_batch_size, self.num_frames, self.target = (
            batch_size,
            eval_batch_size,
            num_frames,
            target,
        )
        self.shuffle = shuffle

    def _target(self) -> str:
        return self.target or self.trainer.lightning_module.target

    def _loader(self, indices, target, shuffle, batch_size, side, split):
        pad = self.encoder.tokenizer.pad_token_id
        return DataLoader(
            _Clips(self.encoder, indices, target, self.num_frames, split),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=lambda items: collate_items(items, pad, side),
        )

    def train_dataloader(self):
        return self._loader(
            list(range(self.num_train)), self._target(), self.shuffle, self.batch_size, "right", "train"
        )

    def val_dataloader(self):
        idx = list(range(1000, 1000 + self.num_val))
        return self._loader(idx, "none", False, self.eval_batch_size, "left", "val")

    def test_dataloader(self):
        idx = list(range(2000, 2000 + self.num_test))
        return self._loader(idx, "none", False, self.eval_batch_size, "left", "test")


def fit_stage(stage, root, init_from=None, max_steps=2, logger=False, callbacks=(), dm_kwargs=None, **trainer_kwargs):
    """Fit ``stage`` for a few steps on synthetic clips with the Curriculum callback and a last-checkpoint saver;
    returns the trainer. ``root`` becomes default_root_dir (export lands in ``root/export``)."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from callbacks import Curriculum

    ckpt_path = trainer_kwargs.pop("ckpt_path", None)
    trainer = pl.Trainer(
        default_root_dir=str(root),
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=logger,
        num_sanity_val_steps=0,
        limit_val_batches=trainer_kwargs.pop("limit_val_batches", 0),
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            Curriculum(init_from=init_from, lora_dropout=0.0),
            ModelCheckpoint(dirpath=str(root / "checkpoints"), save_last=True, save_top_k=0, every_n_train_steps=1),
            *callbacks,
        ],
        **trainer_kwargs,
    )
    dm = SyntheticSubclipDataModule(stage.backbone.path, **(dm_kwargs or {}))
    trainer.fit(stage, dm, ckpt_path=ckpt_path)
    return trainer
