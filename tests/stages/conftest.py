"""Fixtures for stage tests: fresh Backbones on the session's tiny model (stages mutate them: LoRA, freezing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # synth_subclips: importable by class_path in CLI tests

from synth_subclips import make_batch  # noqa: E402


@pytest.fixture
def backbone(tiny_backbone_dir):
    """A fresh Backbone (unit tiny model, 8 frames, 64*64 pixels) that a test may inject LoRA into."""
    from vanguard.backbone import Backbone

    return Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)


@pytest.fixture
def batch_of(backbone):
    """``batch_of(indices, target, train)``: a contract batch encoded with the backbone's processor."""

    def make(indices, target="none", train=True):
        return make_batch(backbone.encoder, indices, target=target, train=train)

    return make


def fit_stage(stage, root, init_from=None, max_steps=2, logger=False, callbacks=(), dm_kwargs=None, **trainer_kwargs):
    """Fit ``stage`` for a few steps on synthetic clips with the Curriculum callback and a last-checkpoint saver;
    returns the trainer. ``root`` becomes default_root_dir (export lands in ``root/export``)."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from synth_subclips import SyntheticSubclipDataModule

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


@pytest.fixture
def fit():
    return fit_stage
