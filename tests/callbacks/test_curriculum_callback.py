"""callbacks.Curriculum: setup-time loading/freezing/LoRA, parameter counts, export location, idempotence."""

from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch import LightningModule

from callbacks import Curriculum
from vanguard.adapters import parameter_counts
from vanguard.backbone import Backbone
from vanguard.errors import ConfigError
from vanguard.stages import ClassifierWarmup, GroundingStage, ReasoningStage


def _backbone(path):
    return Backbone(str(path), num_frames=8, frame_pixels=64 * 64)


def test_setup_prints_counts_and_exports_to_default_root(tiny_backbone_dir, fit, tmp_path, capsys):
    stage = GroundingStage(_backbone(tiny_backbone_dir))
    fit(stage, tmp_path, max_steps=1)
    out = capsys.readouterr().out
    trainable, total = parameter_counts(stage)
    assert f"trainable parameters: {trainable:,} of {total:,}" in out
    info = json.loads((tmp_path / "export" / "stage.json").read_text())
    assert info["stage"] == "GroundingStage" and info["adapter"] is True and info["backbone_trainable"] == []
    cfg = json.loads((tmp_path / "export" / "adapter" / "adapter_config.json").read_text())
    assert "language_model" in cfg["target_modules"] and "visual" not in cfg["target_modules"]
    assert cfg["r"] == 16


def test_export_dir_option_and_second_fit_does_not_reinject(tiny_backbone_dir, tmp_path):
    import lightning.pytorch as pl

    from tests.stages.synth_subclips import SyntheticSubclipDataModule

    stage = GroundingStage(_backbone(tiny_backbone_dir))
    cb = Curriculum(export_dir=str(tmp_path / "elsewhere"), lora_r=4)
    kw = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path),
    )
    pl.Trainer(max_steps=1, callbacks=[cb], **kw).fit(stage, SyntheticSubclipDataModule(stage.backbone.path))
    n_lora = sum("lora_A" in n for n, _ in stage.named_parameters())
    assert (tmp_path / "elsewhere" / "head.safetensors").is_file() and not (tmp_path / "export").exists()
    pl.Trainer(max_steps=2, callbacks=[cb], **kw).fit(stage, SyntheticSubclipDataModule(stage.backbone.path))
    assert sum("lora_A" in n for n, _ in stage.named_parameters()) == n_lora  # no LoRA on LoRA


def test_stage1_export_into_stage3_gets_a_fresh_adapter(tiny_backbone_dir, fit, tmp_path, capsys):
    stage1 = ClassifierWarmup(_backbone(tiny_backbone_dir))
    fit(stage1, tmp_path / "s1", max_steps=2)
    stage3 = ReasoningStage(_backbone(tiny_backbone_dir))
    fit(stage3, tmp_path / "s3", init_from=str(tmp_path / "s1" / "export"), max_steps=0)
    assert "(head.safetensors)" in capsys.readouterr().out
    for a, b in zip(stage1.head.state_dict().values(), stage3.head.state_dict().values()):
        assert torch.equal(a, b)
    assert any("lora_" in n and p.requires_grad for n, p in stage3.named_parameters())


def test_lora_on_vision_when_configured(tiny_backbone_dir, tmp_path):
    import lightning.pytorch as pl

    from tests.stages.synth_subclips import SyntheticSubclipDataModule

    stage = GroundingStage(_backbone(tiny_backbone_dir))
    trainer = pl.Trainer(
        max_steps=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        enable_progress_bar=False,
        default_root_dir=str(tmp_path),
        callbacks=[Curriculum(lora_vision=True, lora_r=4, export=False)],
    )
    trainer.fit(stage, SyntheticSubclipDataModule(stage.backbone.path))
    vision_lora = [n for n, p in stage.backbone.vision_tower.named_parameters() if "lora_" in n]
    assert vision_lora and all(
        p.requires_grad for n, p in stage.backbone.vision_tower.named_parameters() if "lora_" in n
    )
    assert not any(p.requires_grad for n, p in stage.backbone.vision_tower.named_parameters() if "lora_" not in n)
    assert not (tmp_path / "export").exists()


def test_curriculum_refuses_a_module_that_is_not_a_stage():
    class Plain(LightningModule):
        pass

    with pytest.raises(ConfigError, match="vanguard.stages"):
        Curriculum().setup(trainer=None, pl_module=Plain(), stage="fit")
