"""Stage weights on disk: trimmed Lightning checkpoints, and the export one stage hands to the next.

Checkpoints (``ModelCheckpoint``, for resuming the same stage) keep only the trainable weights (head, LoRA) and
the optimizer state; the frozen base is reloaded from the backbone directory. :func:`prune_frozen` drops the
frozen keys on save, :func:`check_trainable_present` refuses a checkpoint that lacks a trainable weight on load
(``strict_loading`` is off, so a silent partial load would otherwise go unnoticed).

The export (``<default_root_dir>/export/`` by default, written by ``callbacks.Curriculum`` at fit end) is what the
next stage's ``init_from`` reads::

    export/
      head.safetensors                   the classification head
      adapter/                           LoRA in peft's format (PeftModel.from_pretrained loads it), when present
        adapter_config.json  adapter_model.safetensors
      backbone_trainable.safetensors     other trained backbone weights (e.g. an unfrozen vision tower), if any
      stage.json                         which stage wrote it, head shape, backbone path and settings (frames,
                                         pixels, pooling, dtype), categories, the stage's hyper-parameters
                                         (the decision threshold among them): what vanguard.Explainer rebuilds

Everything is read without pickle: safetensors, and ``torch.load(weights_only=True)`` for checkpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from vanguard.errors import ConfigError

HEAD_FILE = "head.safetensors"
ADAPTER_DIR = "adapter"
BACKBONE_FILE = "backbone_trainable.safetensors"
INFO_FILE = "stage.json"


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A Lightning checkpoint loaded safely (``weights_only=True``, on CPU)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def slurm_resume_path(trainer) -> str | None:
    """Under SLURM, the checkpoint a launch without ``--ckpt_path`` resumes from: the newest of Lightning's
    ``<default_root_dir>/hpc_ckpt_*.ckpt`` (written on SIGUSR1) and every ``ModelCheckpoint``'s ``last*.ckpt``.

    Lightning alone resumes only from ``hpc_ckpt_*`` (``ckpt_path=None`` + SLURM detected): a job requeued after a
    node failure or resubmitted after a crash (no SIGUSR1, so no hpc checkpoint, or only an older one) would
    restart from zero or from an older hpc checkpoint while a newer step checkpoint sits in ``checkpoints/``.
    Outside SLURM this returns None (a local run resumes only when told: ``--ckpt_path last``).
    """
    from lightning.fabric.plugins.environments import SLURMEnvironment
    from lightning.pytorch.callbacks import ModelCheckpoint

    if not SLURMEnvironment.detect():
        return None
    candidates = list(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"))
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            candidates += Path(callback.dirpath).glob(f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}*.ckpt")
    existing = [p for p in candidates if p.is_file()]
    if not existing:
        return None
    return str(max(existing, key=lambda p: (p.stat().st_mtime_ns, p.name.startswith("hpc_ckpt_"))))


def trainable_keys(module: nn.Module) -> set[str]:
    return {name for name, param in module.named_parameters() if param.requires_grad}


def prune_frozen(checkpoint: dict, module: nn.Module) -> int:
    """Drop every state-dict entry that is not a trainable parameter; returns how many were dropped."""
    keep = trainable_keys(module)
    state = checkpoint.get("state_dict", {})
    dropped = [k for k in state if k not in keep]
    for k in dropped:
        del state[k]
    return len(dropped)


def check_trainable_present(checkpoint: dict, module: nn.Module) -> None:
    """Raise :class:`ConfigError` when a checkpoint lacks weights the module trains (e.g. written by another
    stage, or before LoRA was injected)."""
    missing = sorted(trainable_keys(module) - set(checkpoint.get("state_dict", {})))
    if missing:
        raise ConfigError(
            f"checkpoint lacks {len(missing)} trainable weights of {type(module).__name__} (e.g. {missing[0]!r}); "
            "was it written by a different stage? Stage weights pass through init_from, --ckpt_path only resumes"
        )


def _backbone_trainable(module) -> dict[str, torch.Tensor]:
    """Backbone weights that are not LoRA and differ from the backbone directory's, keyed as in the un-injected
    HF model: those this stage trains, and those an earlier stage trained and handed over (``init_from``), so a
    stage that freezes them again still passes them on."""
    inherited = module.inherited_backbone_keys
    out = {}
    for name, param in module.backbone.model.named_parameters():
        key = name.replace(".base_layer.", ".")
        if "lora_" not in name and (param.requires_grad or key in inherited):
            out[key] = param.detach().cpu().contiguous()
    return out


def backbone_settings(backbone) -> dict:
    """What rebuilding the backbone as the stage saw it takes, beside its path (feature size depends on them)."""
    dtype = str(getattr(backbone.model, "dtype", "torch.float32")).removeprefix("torch.")
    return {"num_frames": backbone.num_frames, "frame_pixels": backbone.frame_pixels, "pooling": backbone.pooling,
            "dtype": dtype}


def export_stage(module, out_dir: str | os.PathLike) -> Path:
    """Write the stage's trained weights to ``out_dir`` (replaced as a whole, via a temp folder + rename)."""
    from safetensors.torch import save_file

    from vanguard.adapters import has_lora, save_adapter
    from vanguard.categories import CATEGORIES

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        head = {k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()}
        save_file(head, str(tmp / HEAD_FILE))
        lora = has_lora(module.backbone.model)
        if lora:
            save_adapter(module.backbone.model, tmp / ADAPTER_DIR, base_model_path=module.backbone.path)
        extra = _backbone_trainable(module)
        if extra:
            save_file(extra, str(tmp / BACKBONE_FILE))
        info = {
            "stage": type(module).__name__,
            "target": module.target,
            "backbone_path": module.backbone.path,
            "head": {"in_features": module.head.in_features, "hidden": module.head.hidden},
            "categories": list(CATEGORIES),
            "adapter": lora,
            "backbone_trainable": sorted(extra),
            "backbone": backbone_settings(module.backbone),
            "hparams": {k: v for k, v in dict(getattr(module, "hparams", {})).items()
                        if isinstance(v, (bool, int, float, str)) or v is None},
        }
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_stage_export(module, init_from: str | os.PathLike) -> list[str]:
    """Load an export into a stage, BEFORE its own freezing/LoRA injection: head, other backbone weights (keys
    of the un-injected model), then the adapter, which injects LoRA with the saved config. Returns what was loaded.
    """
    from safetensors.torch import load_file

    from vanguard.adapters import has_lora, load_adapter

    root = Path(init_from).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"init_from {str(root)!r} does not exist: it must be the export folder of the previous stage "
            f"(its {HEAD_FILE}, and {ADAPTER_DIR}/ after a LoRA stage); run that stage first"
        )
    if not (root / HEAD_FILE).is_file():
        raise ConfigError(f"init_from {str(root)!r} has no {HEAD_FILE}: not a stage export")
    loaded = []
    head = load_file(str(root / HEAD_FILE))
    try:
        module.head.load_state_dict(head, strict=True)
    except RuntimeError as err:
        raise ConfigError(
            f"the head in {root / HEAD_FILE} does not fit {type(module).__name__} (different head_hidden or "
            f"backbone feature_size?): {str(err).splitlines()[-1].strip()}"
        ) from None
    loaded.append(HEAD_FILE)
    if (root / BACKBONE_FILE).is_file():
        weights = load_file(str(root / BACKBONE_FILE))
        result = module.backbone.model.load_state_dict(weights, strict=False)
        if result.unexpected_keys:
            raise ConfigError(f"{root / BACKBONE_FILE} has weights the backbone lacks: {result.unexpected_keys[:3]}")
        module.inherited_backbone_keys = set(weights)
        loaded.append(BACKBONE_FILE)
    if (root / ADAPTER_DIR).is_dir():
        if has_lora(module.backbone.model):
            raise ConfigError("the backbone already has LoRA: load init_from before injecting")
        load_adapter(module.backbone.model, root / ADAPTER_DIR)
        loaded.append(ADAPTER_DIR)
    return loaded
