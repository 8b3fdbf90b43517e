"""``find_unused_parameters: false`` (the real configs' DDP setting) is right only if every trainable parameter of
every stage gets a gradient at every step; DDP would otherwise fail at the next step. Checked in-process here for
stages 1-3 (the 2-process stage-2 run in test_ddp.py checks the same under DDP)."""

from __future__ import annotations

import pytest

from tests.cluster.probe import RunProbe
from tests.helpers.configs import experiment_config
from tests.stages.synth_subclips import fit_stage
from vanguard.backbone import Backbone
from vanguard.stages import ClassifierWarmup, GroundingStage, ReasoningStage


@pytest.mark.parametrize("stage_cls", [ClassifierWarmup, GroundingStage, ReasoningStage])
def test_every_trainable_parameter_gets_a_gradient_every_step(stage_cls, tiny_backbone_dir, tmp_path):
    stage = stage_cls(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    probe = RunProbe(str(tmp_path / "probe"))
    fit_stage(stage, tmp_path, max_steps=2, callbacks=[probe])
    trainable = [n for n, p in stage.named_parameters() if p.requires_grad]
    assert trainable and probe.no_grad == set()
    assert any("lora_" in n for n in trainable) == (stage_cls is not ClassifierWarmup)


@pytest.mark.parametrize("stage", ["stage1", "stage2", "stage3"])
def test_real_configs_use_ddp_without_unused_parameter_search_and_bf16(stage):
    trainer = experiment_config("ucf_crime", stage)["trainer"]
    assert trainer["strategy"]["class_path"] == "lightning.pytorch.strategies.DDPStrategy"
    assert trainer["strategy"]["init_args"]["find_unused_parameters"] is False
    assert trainer["precision"] == "bf16-mixed"
