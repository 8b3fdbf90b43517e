"""Small pure LoRA utilities on the HF Qwen3-VL model (peft), in the spirit of torchtune's peft helpers.

LoRA is injected with ``peft.inject_adapter_in_model`` straight into the HF model, so parameter names keep their
place (``X.weight`` becomes ``X.base_layer.weight`` plus ``X.lora_A/B``). Targets are an explicit regex on the
language model: name-suffix matching would also catch vision-tower modules in some Qwen-VL versions, and
``all-linear`` would reach the vision tower, the mergers and lm_head.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from vanguard.io import atomic_open, write_text

LM_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VISION_PROJECTIONS = ("qkv", "proj", "linear_fc1", "linear_fc2")
PEFT_PREFIX = "base_model.model."  # how PeftModel.save_pretrained names keys


def lora_target_regex(lm_modules=LM_PROJECTIONS, vision: bool = False) -> str:
    """A full-match regex for peft's ``target_modules``: LM projections, plus vision attention/MLP if asked."""
    pattern = rf"model\.language_model\.layers\.\d+\.(self_attn|mlp)\.({'|'.join(lm_modules)})"
    if vision:
        pattern += rf"|model\.visual\.blocks\.\d+\.(attn|mlp)\.({'|'.join(VISION_PROJECTIONS)})"
    return pattern


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.0, vision: bool = False, lm_modules=LM_PROJECTIONS):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=lora_target_regex(lm_modules, vision))


def inject_lora(model: nn.Module, config) -> nn.Module:
    """Inject LoRA into the HF model in place (peft freezes everything but the adapters); returns the model."""
    from peft import inject_adapter_in_model

    inject_adapter_in_model(config, model)
    model._vanguard_lora_config = config  # remembered for export
    return model


def has_lora(model: nn.Module) -> bool:
    return any("lora_" in name for name, _ in model.named_parameters())


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the LoRA weights, keyed as in the HF model (no PeftModel prefix)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}


def save_adapter(model: nn.Module, out_dir: str | Path, base_model_path: str = "") -> Path:
    """Export the adapter in peft's own format: ``PeftModel.from_pretrained(base, out_dir)`` loads it."""
    from safetensors.torch import save

    config = model._vanguard_lora_config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {PEFT_PREFIX + k: v for k, v in adapter_state_dict(model).items()}
    with atomic_open(out / "adapter_model.safetensors") as fh:
        fh.write(save(tensors))
    cfg = config.to_dict()
    cfg["base_model_name_or_path"] = base_model_path
    cfg = json.loads(json.dumps(cfg, default=lambda o: sorted(o) if isinstance(o, set) else str(o)))
    write_text(out / "adapter_config.json", json.dumps(cfg, indent=2))
    return out


def load_adapter(model: nn.Module, adapter_dir: str | Path) -> nn.Module:
    """Inject the adapter saved by :func:`save_adapter` (or by peft) into ``model`` and load its weights."""
    from peft import LoraConfig, set_peft_model_state_dict
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    config = LoraConfig.from_pretrained(str(adapter_dir))
    inject_lora(model, config)
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    weights = {k.removeprefix(PEFT_PREFIX): v for k, v in weights.items()}
    result = set_peft_model_state_dict(model, weights)
    unexpected = [k for k in result.unexpected_keys if "lora_" in k]
    if unexpected:
        raise ValueError(f"adapter {adapter_dir} has weights the model lacks: {unexpected[:3]}")
    return model


def parameter_counts(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total
