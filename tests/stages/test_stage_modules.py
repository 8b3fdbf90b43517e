"""Stage modules: objectives, freezing/LoRA, optimizer groups, the stage-1 feature cache, sub-batches."""

from __future__ import annotations

import pytest
import torch

from vanguard.adapters import has_lora, lora_config
from vanguard.categories import CATEGORIES
from vanguard.errors import ConfigError
from vanguard.stages import (
    ClassificationFinetune,
    ClassifierWarmup,
    GroundingStage,
    MonolithicStage,
    ReasoningStage,
)
from vanguard.stages.batching import select_samples


def test_each_stage_declares_its_objective():
    table = {
        ClassifierWarmup: ("none", False, True),
        GroundingStage: ("answer", True, False),
        ReasoningStage: ("reasoning", True, False),
        MonolithicStage: ("reasoning", True, False),
        ClassificationFinetune: ("none", True, False),
    }
    for cls, (target, lora, frozen) in table.items():
        assert (cls.target, cls.uses_lora, cls.freeze_backbone) == (target, lora, frozen), cls.__name__


def test_head_outputs_anomaly_and_category_logits(backbone, batch_of):
    stage = GroundingStage(backbone)
    stage.prepare(lora_config(r=4))
    batch = batch_of([0, 1, 2], target="answer")
    features, lm_loss = stage.compute_features(batch, "train")
    assert features.shape == (3, backbone.feature_size)
    assert lm_loss is not None and torch.isfinite(lm_loss)
    out = stage.head(features)
    assert out.anomaly.shape == (3,) and out.category.shape == (3, len(CATEGORIES))


def test_grounding_prepare_trains_only_lora_and_head(backbone):
    stage = GroundingStage(backbone)
    stage.prepare(lora_config(r=4))
    trainable = [n for n, p in stage.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("head.") or "lora_" in n for n in trainable)
    assert any("lora_" in n for n in trainable) and any(n.startswith("head.") for n in trainable)
    assert not any(p.requires_grad for p in backbone.vision_tower.parameters())
    assert not any("visual" in n and "lora_" in n for n, _ in stage.named_parameters())
    groups = {g["name"]: g for g in stage.param_groups()}
    assert set(groups) == {"head", "head_no_decay", "lora"}
    assert groups["lora"]["lr"] == stage.hparams.lr_lora and groups["head"]["lr"] == stage.hparams.lr_head
    assert groups["head_no_decay"]["weight_decay"] == 0.0
    n_opt = sum(p.numel() for g in groups.values() for p in g["params"])
    assert n_opt == sum(p.numel() for p in stage.parameters() if p.requires_grad)


def test_unfrozen_vision_is_trainable_when_configured(backbone):
    stage = GroundingStage(backbone)
    stage.prepare(lora_config(r=4), freeze_vision=False)
    assert all(p.requires_grad for p in backbone.vision_tower.parameters())
    groups = {g["name"]: g for g in stage.param_groups()}
    assert groups["backbone"]["lr"] == stage.hparams.lr_lora  # lr_backbone unset: the LoRA rate


def test_final_norm_trains_when_configured_and_is_handed_on(backbone, tiny_backbone_dir, tmp_path):
    """``train_final_norm``: the LM's final RMSNorm weight trains (no weight decay), goes into the export, and a
    next stage that loads the export but freezes the norm again still exports the trained values."""
    from vanguard.backbone import Backbone
    from vanguard.checkpoints import export_stage, load_stage_export

    key = "model.language_model.norm.weight"
    stage = GroundingStage(backbone, lr_lora=5e-4, lr_backbone=2e-2)
    stage.prepare(lora_config(r=4), train_final_norm=True)
    norm = backbone.language_model.norm.weight
    trainable = {n for n, p in backbone.model.named_parameters() if p.requires_grad and "lora_" not in n}
    assert trainable == {key}
    groups = {g["name"]: g for g in stage.param_groups()}
    assert [p for p in groups["backbone_no_decay"]["params"]] == [norm]  # its own rate, no weight decay
    assert groups["backbone_no_decay"]["lr"] == 2e-2 and groups["backbone_no_decay"]["weight_decay"] == 0.0
    assert groups["lora"]["lr"] == 5e-4
    with torch.no_grad():
        norm.mul_(3.0)
    from safetensors.torch import load_file

    first = export_stage(stage, tmp_path / "stage2")
    assert torch.equal(load_file(str(first / "backbone_trainable.safetensors"))[key], norm.detach())
    nxt = ReasoningStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    assert not torch.equal(nxt.backbone.language_model.norm.weight, norm)
    load_stage_export(nxt, first)
    nxt.prepare(lora_config(r=4))  # the norm is frozen again here
    assert not nxt.backbone.language_model.norm.weight.requires_grad
    assert torch.equal(nxt.backbone.language_model.norm.weight, norm)
    second = export_stage(nxt, tmp_path / "stage3")
    assert torch.equal(load_file(str(second / "backbone_trainable.safetensors"))[key], norm.detach())
    warm = ClassifierWarmup(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    warm.prepare(train_final_norm=True)  # a frozen-backbone stage trains nothing of the backbone, norm included
    assert not any(p.requires_grad for p in warm.backbone.parameters())


def test_warmup_freezes_whole_backbone_and_injects_nothing(backbone):
    stage = ClassifierWarmup(backbone)
    stage.prepare()
    assert not has_lora(backbone.model)
    assert not any(p.requires_grad for p in backbone.parameters())
    assert all(p.requires_grad for p in stage.head.parameters())
    stage.train()
    assert not backbone.training and stage.head.training


def test_lm_stage_refuses_a_batch_without_labels(backbone, batch_of):
    stage = ReasoningStage(backbone)
    stage.prepare(lora_config(r=4))
    with pytest.raises(ConfigError, match="no labels"):
        stage.compute_features(batch_of([0, 1], target="none"), "train")


def test_classification_finetune_needs_no_labels_and_backprops_into_lora(backbone, batch_of):
    stage = ClassificationFinetune(backbone)
    stage.prepare(lora_config(r=4))
    batch = batch_of([0, 1], target="none")
    features, lm_loss = stage.compute_features(batch, "train")
    assert lm_loss is None
    losses = stage.losses(stage.head(features), batch, lm_loss)
    assert set(losses) == {"cls", "category"}
    sum(losses.values()).backward()
    lora_a = [p for n, p in stage.named_parameters() if "lora_B" in n]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in lora_a)


def test_select_samples_matches_encoding_them_alone(backbone, batch_of):
    full = batch_of([0, 1, 2], target="answer")
    sub = select_samples(full, [2, 0])
    alone = batch_of([2, 0], target="answer")
    assert [m["key"] for m in sub["meta"]] == [m["key"] for m in alone["meta"]]
    assert torch.equal(sub["pixel_values_videos"], alone["pixel_values_videos"])
    assert torch.equal(sub["video_grid_thw"], alone["video_grid_thw"])
    backbone.eval()
    with torch.no_grad():
        assert torch.allclose(backbone.features(sub), backbone.features(alone), atol=1e-5)


def test_warmup_cache_skips_the_backbone_for_cached_keys(backbone, batch_of, monkeypatch):
    stage = ClassifierWarmup(backbone)
    stage.prepare()
    stage.train()
    first = batch_of([0, 1, 2, 3])
    reference, _ = stage.compute_features(first, "train")
    assert stage.backbone_calls == 1 and len(stage.feature_cache["train"]) == 4

    # shuffled order, all cached: the backbone forward must not run at all
    monkeypatch.setattr(backbone, "forward", lambda *a, **k: pytest.fail("backbone ran on a fully cached batch"))
    shuffled = batch_of([3, 1, 0, 2])
    cached, _ = stage.compute_features(shuffled, "train")
    assert torch.equal(cached, reference[[3, 1, 0, 2]])
    monkeypatch.undo()

    # one new key among cached ones: only that sample goes through the backbone
    seen = []
    original = backbone.forward
    monkeypatch.setattr(backbone, "forward", lambda b, **k: (seen.append(len(b["meta"])), original(b, **k))[1])
    mixed = batch_of([1, 5, 2])
    features, _ = stage.compute_features(mixed, "train")
    assert seen == [1]
    assert torch.equal(features[0], reference[1]) and torch.equal(features[2], reference[2])
    monkeypatch.undo()
    with torch.no_grad():
        alone = backbone.features(batch_of([5]))
    assert torch.allclose(features[1], alone[0], atol=1e-5)
    # validation features are cached apart (left-padded prompt-only batches)
    stage.compute_features(batch_of([0, 1], train=False), "val")
    assert len(stage.feature_cache["val"]) == 2 and len(stage.feature_cache["train"]) == 5


def test_warmup_without_cache_runs_backbone_every_time(backbone, batch_of):
    stage = ClassifierWarmup(backbone, cache_features=False)
    stage.prepare()
    batch = batch_of([0, 1])
    stage.compute_features(batch, "train")
    stage.compute_features(batch, "train")
    assert stage.backbone_calls == 2
