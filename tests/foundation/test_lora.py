"""Issue 2: LoRA on the language model only; an exported adapter reloads through peft with identical logits."""

from __future__ import annotations

import numpy as np
import torch

from vanguard import adapters
from vanguard.processing import MODEL_KEYS, collate


def _batch(bb):
    frames = np.random.default_rng(0).integers(0, 255, size=(8, 96, 128, 3), dtype=np.uint8)
    item = bb.encoder.encode(frames, 30.0, list(range(8)), target='{"anomaly": "no", "category": "Normal", "boxes": []}')
    return collate([item], bb.tokenizer.pad_token_id)


def _logits(model, batch):
    with torch.no_grad():
        return model(**{k: batch[k] for k in MODEL_KEYS if k in batch and k != "labels"}).logits


def test_lora_leaves_vision_tower_untouched(tiny_backbone_dir):
    from vanguard.backbone import Backbone

    bb = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)
    vision_before = {k: v.clone() for k, v in bb.vision_tower.state_dict().items()}
    adapters.inject_lora(bb.model, adapters.lora_config(r=4))
    lora_names = [n for n, _ in bb.model.named_parameters() if "lora_" in n]
    assert lora_names and all(".language_model." in n for n in lora_names)
    assert not any(p.requires_grad for p in bb.vision_tower.parameters())
    # a training step moves LoRA weights but never the vision tower
    opt = torch.optim.SGD([p for p in bb.parameters() if p.requires_grad], lr=0.5)
    _, loss = bb(_batch(bb))
    loss.backward()
    opt.step()
    after = bb.vision_tower.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in vision_before.items())
    moved = [n for n, p in bb.model.named_parameters() if "lora_B" in n and p.abs().sum() > 0]
    assert moved


def test_adapter_roundtrip_through_peft(tiny_backbone_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    from vanguard.backbone import Backbone

    bb = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)
    adapters.inject_lora(bb.model, adapters.lora_config(r=4))
    torch.manual_seed(0)
    for name, p in bb.model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)  # non-zero B so the adapter changes the logits
    batch = _batch(bb)
    expected = _logits(bb.model, batch)
    base_logits = _logits(AutoModelForImageTextToText.from_pretrained(tiny_backbone_dir), batch)
    assert not torch.allclose(expected, base_logits)

    adapters.save_adapter(bb.model, tmp_path / "adapter", str(tiny_backbone_dir))
    reloaded = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(tiny_backbone_dir), tmp_path / "adapter")
    assert torch.allclose(_logits(reloaded, batch), expected, atol=1e-6)
    ours = adapters.load_adapter(AutoModelForImageTextToText.from_pretrained(tiny_backbone_dir), tmp_path / "adapter")
    assert torch.allclose(_logits(ours, batch), expected, atol=1e-6)
