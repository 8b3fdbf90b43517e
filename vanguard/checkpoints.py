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
      stage.json                         which stage wrote it, head shape, backbone path, fingerprint and
                                         settings (frames, pixels, pooling, dtype), categories, the stage's
                                         hyper-parameters (the decision threshold among them): what
                                         vanguard.Explainer rebuilds

Loading an export checks that it fits (:func:`check_export_fits`): a stage the loading one may start from, and
the backbone it was trained on (by content fingerprint, :func:`backbone_fingerprint`), so a wrong ``init_from``
is one clear error instead of a model that predicts garbage with exit 0.

Everything is read without pickle: safetensors, and ``torch.load(weights_only=True)`` for checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import torch
from torch import nn

from vanguard.errors import ConfigError
from vanguard.io import make_temp_dir, write_bytes

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

    if not SLURMEnvironment.detect():
        return None
    existing = resumable_checkpoints(trainer)
    if not existing:
        return None
    return str(max(existing, key=lambda p: (p.stat().st_mtime_ns, p.name.startswith("hpc_ckpt_"))))


def checkpoint_dirs(trainer) -> list[Path]:
    """The folders of the trainer's ``ModelCheckpoint`` callbacks that name one."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    return sorted({Path(cb.dirpath) for cb in trainer.checkpoint_callbacks
                   if isinstance(cb, ModelCheckpoint) and cb.dirpath})


def resumable_checkpoints(trainer) -> list[Path]:
    """What ``--ckpt_path last`` (or a SLURM requeue) can resume from: Lightning's ``hpc_ckpt_*.ckpt`` in
    ``default_root_dir`` and every ``ModelCheckpoint``'s ``last*.ckpt``."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    candidates = list(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"))
    for folder in checkpoint_dirs(trainer):
        candidates += folder.glob(f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}*.ckpt")
    return [p for p in candidates if p.is_file()]


def earlier_run_files(trainer) -> list[Path]:
    """Files a fresh ``fit`` would mix with its own: checkpoints, a stage export (``callbacks.Curriculum``), event
    files in the logger's folder (a stable TensorBoard ``version``)."""
    found = list(Path(trainer.default_root_dir).glob("hpc_ckpt_*.ckpt"))
    for folder in checkpoint_dirs(trainer):
        found += sorted(folder.glob("*.ckpt"))
    for callback in trainer.callbacks:
        if getattr(callback, "export", False) and hasattr(callback, "export_path"):
            export = callback.export_path(trainer)
            if (export / INFO_FILE).is_file() or (export / HEAD_FILE).is_file():
                found.append(export)
    for logger in trainer.loggers:
        log_dir = getattr(logger, "log_dir", None)
        if log_dir and Path(log_dir).is_dir():
            found += sorted(Path(log_dir).glob("events.out.tfevents.*"))
    return found


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
    stage, or before LoRA was injected), or holds them in other shapes (another LoRA rank, head width)."""
    state = checkpoint.get("state_dict", {})
    missing = sorted(trainable_keys(module) - set(state))
    if missing:
        raise ConfigError(
            f"checkpoint lacks {len(missing)} trainable weights of {type(module).__name__} (e.g. {missing[0]!r}); "
            "was it written by a different stage? Stage weights pass through init_from, --ckpt_path only resumes"
        )
    params = dict(module.named_parameters())
    wrong = [(k, tuple(state[k].shape), tuple(params[k].shape)) for k in sorted(trainable_keys(module))
             if tuple(state[k].shape) != tuple(params[k].shape)]
    if wrong:
        key, saved, now = wrong[0]
        what = "weights"
        if ".lora_A." in key:
            what = f"LoRA rank {saved[0]}, this run's lora_r is {now[0]}:"
        elif ".lora_B." in key:
            what = f"LoRA rank {saved[1]}, this run's lora_r is {now[1]}:"
        raise ConfigError(
            f"the checkpoint was trained with other shapes ({what} {len(wrong)} weights differ, e.g. {key} "
            f"{list(saved)} saved vs {list(now)} now); resume with the settings it was trained with, or start a "
            "new run without --ckpt_path"
        )


def apply_optimizer_settings(checkpoint: dict, module) -> list[str]:
    """Put the module's configured learning rate and weight decay into a checkpoint's optimizer and scheduler
    state before Lightning restores them, keeping the schedule's progress (the current warmup/cosine factor).

    A resumed optimizer otherwise keeps the rates it was saved with, whatever the config (and ``config.yaml``)
    now say, which defeats lowering the rate after a NaN and resuming. Returns one line per change. A checkpoint
    whose parameter groups are not this run's (``freeze_vision``, ``train_final_norm`` changed) is refused."""
    groups = {g["name"]: g for g in module.param_groups()}
    changes: list[str] = []
    for state in checkpoint.get("optimizer_states", []):
        saved_groups = state.get("param_groups", [])
        saved = {g.get("name"): len(g.get("params", [])) for g in saved_groups}
        now = {name: len(g["params"]) for name, g in groups.items()}
        if saved != now:
            raise ConfigError(
                f"the checkpoint's optimizer trains other weights ({saved} parameters per group) than this run "
                f"({now}): were freeze_vision, train_final_norm or the stage changed? Resume with the settings it "
                "was trained with, or start a new run without --ckpt_path"
            )
        schedulers = [s for s in checkpoint.get("lr_schedulers", []) if len(s.get("base_lrs", [])) == len(saved_groups)]
        for j, group in enumerate(saved_groups):
            new = groups[group["name"]]
            base = group.get("initial_lr", group["lr"])
            if not math.isclose(base, new["lr"], rel_tol=1e-12, abs_tol=0.0):
                factor = group["lr"] / base if base else 1.0
                group["lr"], group["initial_lr"] = new["lr"] * factor, new["lr"]
                for sched in schedulers:
                    sched["base_lrs"][j] = new["lr"]
                    if len(sched.get("_last_lr", [])) > j:
                        sched["_last_lr"][j] = group["lr"]
                changes.append(f"lr of {group['name']} {base:g} -> {new['lr']:g}")
            if group.get("weight_decay") != new["weight_decay"]:
                changes.append(f"weight_decay of {group['name']} {group.get('weight_decay')} -> {new['weight_decay']}")
                group["weight_decay"] = new["weight_decay"]
    return changes


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
    from safetensors.torch import save

    from vanguard.adapters import has_lora, save_adapter
    from vanguard.categories import CATEGORIES

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, prefix=f".{out.name}.")
    try:
        head = {k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()}
        write_bytes(tmp / HEAD_FILE, save(head))  # not save_file: it creates 0600 files whatever the umask
        lora = has_lora(module.backbone.model)
        if lora:
            save_adapter(module.backbone.model, tmp / ADAPTER_DIR, base_model_path=module.backbone.path)
        extra = _backbone_trainable(module)
        if extra:
            write_bytes(tmp / BACKBONE_FILE, save(extra))
        info = {
            "stage": type(module).__name__,
            "target": module.target,
            "backbone_path": module.backbone.path,
            "backbone_fingerprint": backbone_fingerprint(module.backbone.path),
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


def backbone_fingerprint(path: str | os.PathLike) -> str:
    """A content fingerprint of a backbone directory: sha256 over its ``config.json`` and, for each weight file,
    its name, size and 16 evenly spaced 64 KiB samples. It reads about 1 MiB per file (well under a second for
    the real 4B model) and tells apart backbones that differ in weights, even at the same path; a copy of the
    same backbone elsewhere has the same fingerprint."""
    root = Path(path).expanduser()
    digest = hashlib.sha256()
    config = root / "config.json"
    digest.update(config.read_bytes() if config.is_file() else b"")
    chunk, samples = 1 << 16, 16
    for weights in sorted(p for p in root.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".pth")):
        size = weights.stat().st_size
        digest.update(f"{weights.name}:{size}".encode())
        with open(weights, "rb") as fh:
            for k in range(samples):
                fh.seek(max(0, (size - chunk) * k // (samples - 1)))
                digest.update(fh.read(chunk))
    return digest.hexdigest()


def read_stage_info(root: str | os.PathLike) -> dict:
    """An export's ``stage.json`` ({} for an export written before it existed)."""
    path = Path(root) / INFO_FILE
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not readable JSON ({err})") from None
    return info if isinstance(info, dict) else {}


def check_export_fits(module, root: Path, info: dict, fitting: bool = True) -> None:
    """Refuse an export the stage must not start from, with one line saying what differs.

    ``fitting``: ``fit`` (and a test of a checkpoint) may start from the stages ``type(module).starts_from``
    names or from the stage's own export; otherwise the export IS the model evaluated, so it must be the stage's
    own. The backbone must be the one the export was trained on: same fingerprint (older exports without one:
    the same directory)."""
    from vanguard.categories import CATEGORIES

    name, stage = type(module).__name__, info.get("stage")
    accepted = (name, *getattr(module, "starts_from", ())) if fitting else (name,)
    if stage and stage not in accepted:
        wanted = " or ".join(f"{s}'s" for s in accepted)
        raise ConfigError(f"init_from {str(root)!r} is {stage}'s export; {name} here needs {wanted} export "
                          "(check init_from, or the model class_path)")
    if info.get("categories") and list(info["categories"]) != list(CATEGORIES):
        raise ConfigError(f"init_from {str(root)!r} was trained on other categories ({info['categories']})")
    recorded, current = info.get("backbone_path"), module.backbone.path
    if info.get("backbone_fingerprint"):
        differs = info["backbone_fingerprint"] != backbone_fingerprint(current)
    else:
        differs = recorded is not None and Path(recorded).expanduser().resolve() != Path(current).expanduser().resolve()
    if differs:
        raise ConfigError(f"init_from {str(root)!r} was trained on the backbone {recorded!r}; this run's backbone "
                          f"{current!r} is another model (its weights or config differ): use the backbone the "
                          "export was trained on")


def load_stage_export(module, init_from: str | os.PathLike, fitting: bool = True) -> list[str]:
    """Load an export into a stage, BEFORE its own freezing/LoRA injection: head, other backbone weights (keys
    of the un-injected model), then the adapter, which injects LoRA with the saved config. Returns what was loaded.
    ``fitting``: see :func:`check_export_fits`.
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
    info = read_stage_info(root)
    check_export_fits(module, root, info, fitting=fitting)
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
