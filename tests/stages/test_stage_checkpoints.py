"""Stage 2 training, trimmed checkpoints, resuming, and the export/reload path between stages."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.callbacks import LambdaCallback

from vanguard.backbone import Backbone
from vanguard.checkpoints import load_checkpoint
from vanguard.errors import ConfigError
from vanguard.stages import ClassifierWarmup, GroundingStage, ReasoningStage


def _snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_stage2_step_changes_lora_and_head_only(backbone, fit, tmp_path):
    stage = GroundingStage(backbone)
    before = {}
    fit(
        stage,
        tmp_path,
        max_steps=2,
        callbacks=[LambdaCallback(on_train_start=lambda t, m: before.update(_snapshot(m)))],
    )
    after = _snapshot(stage)
    assert before.keys() == after.keys()
    frozen = [n for n, p in stage.named_parameters() if not p.requires_grad]
    trained = [n for n, p in stage.named_parameters() if p.requires_grad]
    assert len(frozen) > 50 and any("lora_" in n for n in trained) and any(n.startswith("head.") for n in trained)
    for name in frozen:
        assert torch.equal(before[name], after[name]), f"frozen weight changed: {name}"
    for name in trained:
        assert not torch.equal(before[name], after[name]), f"trainable weight did not change: {name}"


def test_stage2_checkpoint_holds_only_trainable_weights_and_optimizer(backbone, fit, tmp_path):
    stage = GroundingStage(backbone)
    fit(stage, tmp_path, max_steps=2)
    path = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = load_checkpoint(path)  # weights_only=True: nothing pickled beyond tensors and primitives
    trainable = {n: p for n, p in stage.named_parameters() if p.requires_grad}
    assert set(ckpt["state_dict"]) == set(trainable)
    weight_bytes = sum(p.numel() * p.element_size() for p in trainable.values())
    optim_bytes = sum(
        t.numel() * t.element_size()
        for state in ckpt["optimizer_states"][0]["state"].values()
        for t in state.values()
        if torch.is_tensor(t)
    )
    size = path.stat().st_size
    full = sum(v.numel() * v.element_size() for v in stage.state_dict().values())
    assert size <= 1.2 * (weight_bytes + optim_bytes), (size, weight_bytes, optim_bytes)
    assert size < full  # an untrimmed checkpoint would hold the whole backbone


def test_resume_restores_lora_and_head_exactly(tiny_backbone_dir, fit, tmp_path):
    def new_stage():
        bb = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)
        return GroundingStage(bb, head_dropout=0.0)

    dm = {"num_train": 4, "shuffle": False}  # 2 steps per epoch: resume on an epoch boundary
    torch.manual_seed(0)
    straight = new_stage()
    fit(straight, tmp_path / "a", max_steps=-1, max_epochs=2, dm_kwargs=dm)

    torch.manual_seed(0)
    first = new_stage()
    fit(first, tmp_path / "b", max_steps=-1, max_epochs=1, dm_kwargs=dm)
    saved = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.ckpt")

    restored = {}
    resumed = new_stage()
    grab = LambdaCallback(on_train_start=lambda t, m: restored.update(_snapshot(m)))
    torch.manual_seed(0)
    fit(resumed, tmp_path / "b", max_steps=-1, max_epochs=2, dm_kwargs=dm, callbacks=[grab], ckpt_path="last")
    assert set(saved["state_dict"]) <= set(restored)
    for name, value in saved["state_dict"].items():
        assert torch.equal(restored[name], value), f"not restored exactly: {name}"
    end_straight, end_resumed = _snapshot(straight), _snapshot(resumed)
    for name, p in resumed.named_parameters():
        if p.requires_grad:
            assert torch.allclose(end_straight[name], end_resumed[name], atol=1e-6), name


def test_checkpoint_of_another_stage_is_refused(backbone, tiny_backbone_dir, fit, tmp_path):
    fit(ClassifierWarmup(backbone), tmp_path / "s1", max_steps=1)
    stage2 = GroundingStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    with pytest.raises(ConfigError, match="trainable weights"):
        fit(stage2, tmp_path / "s1", max_steps=2, ckpt_path=str(tmp_path / "s1" / "checkpoints" / "last.ckpt"))


def _logits(model, batch):
    model.eval()
    keys = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw")
    with torch.no_grad():
        return model(**{k: batch[k] for k in keys}).logits


def test_stage2_adapter_export_reloads_with_peft_and_into_stage3(backbone, tiny_backbone_dir, batch_of, fit, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    stage2 = GroundingStage(backbone)
    fit(stage2, tmp_path / "s2", max_steps=2)
    export = tmp_path / "s2" / "export"
    assert (export / "head.safetensors").is_file() and (export / "adapter" / "adapter_config.json").is_file()
    batch = batch_of([0, 1], target="answer")
    expected = _logits(stage2.backbone.model, batch)

    base = AutoModelForImageTextToText.from_pretrained(str(tiny_backbone_dir))
    no_adapter = _logits(base, batch)
    peft_model = PeftModel.from_pretrained(base, str(export / "adapter"))
    assert torch.allclose(_logits(peft_model, batch), expected, atol=1e-5)
    assert not torch.allclose(no_adapter, expected, atol=1e-4)  # the adapter matters

    # stage 3 starts from the export: same LM logits and the same head
    stage3 = ReasoningStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    fit(stage3, tmp_path / "s3", init_from=str(export), max_steps=0)
    assert torch.allclose(_logits(stage3.backbone.model, batch), expected, atol=1e-5)
    for (name, a), b in zip(stage2.head.state_dict().items(), stage3.head.state_dict().values()):
        assert torch.equal(a, b), name
    assert all(p.requires_grad for n, p in stage3.named_parameters() if "lora_" in n)


def test_init_from_nothing_is_a_clear_config_error(backbone, fit, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        fit(GroundingStage(backbone), tmp_path, init_from=str(tmp_path / "nope"), max_steps=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="head.safetensors"):
        fit(GroundingStage(backbone), tmp_path, init_from=str(tmp_path / "empty"), max_steps=1)


def test_head_of_another_shape_is_a_clear_config_error(backbone, tiny_backbone_dir, fit, tmp_path):
    fit(ClassifierWarmup(backbone, head_hidden=32), tmp_path / "s1", max_steps=1)
    stage = GroundingStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64), head_hidden=64)
    with pytest.raises(ConfigError, match="head_hidden"):
        fit(stage, tmp_path / "s2", init_from=str(tmp_path / "s1" / "export"), max_steps=1)
