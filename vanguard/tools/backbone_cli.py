"""``python -m vanguard backbone``: build the tiny Qwen3-VL or a reduced copy of a real one, describe a backbone
directory, caption-pretrain one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal


def tiny(out_dir: Path, size: Literal["unit", "demo", "gpu"] = "unit", seed: int = 0, frame_pixels: int = 128 * 128) -> None:
    """Write a tiny Qwen3-VL that ``from_pretrained`` loads exactly like the real Qwen3-VL-4B.

    Args:
        out_dir: directory to write (config, safetensors weights, tokenizer, processors, chat template).
        size: ``unit`` (well under 1M parameters, for tests), ``demo`` (a few million, for the demo) or ``gpu``
            (~30 million, for ``make gpu-check``).
        seed: weight initialisation seed.
        frame_pixels: the processors' default pixel budget per frame.
    """
    from vanguard.tiny import build_tiny

    path = build_tiny(out_dir, size=size, seed=seed, frame_pixels=frame_pixels)
    meta = json.loads((path / "vanguard_tiny.json").read_text())
    print(f"wrote tiny Qwen3-VL ({size}, {meta['params']:,} parameters) to {path}")


def reduced(src: Path, out_dir: Path, text_layers: int = 2, vision_depth: int = 2, narrow: bool = False, seed: int = 0,
            dtype: Literal["bfloat16", "float32"] = "bfloat16", device: str = "cpu") -> None:
    """Write a copy of a real Qwen3-VL directory with fewer layers and random weights: its tokenizer, chat template,
    processors and configuration structure as they are (a dry run of the real-model path without the weights).

    Args:
        src: a Qwen3-VL directory (config, tokenizer, processor files; weights are not read).
        out_dir: directory to write.
        text_layers: decoder layers kept.
        vision_depth: vision blocks kept (the deepstack levels are spread over them).
        narrow: also cut the widths (CPU tests); without it every width is the real one (~0.7 B parameters for
            the 4B at 2 + 2).
        seed: weight initialisation seed.
        dtype: the saved weights' dtype.
        device: where the model is initialised (``cuda`` is much faster at real widths).
    """
    from vanguard.reduced import build_reduced

    path = build_reduced(src, out_dir, text_layers, vision_depth, narrow, seed, dtype, device)
    meta = json.loads((path / "vanguard_reduced.json").read_text())
    print(f"wrote {src} cut to {text_layers} layers / {vision_depth} vision blocks ({meta['params']:,} parameters) "
          f"to {path}")


def budget_from_config(config: Path) -> dict:
    """``num_frames`` and ``frame_pixels`` of one subclip from a stage config (the backbone's ``init_args``, resolved
    with the ``base.yaml`` beside a stage file as ``fit`` composes them) or an annotation config
    (``windows.num_frames``, the teacher's ``frame_pixels``); a key the config leaves out takes the Backbone's
    default, as ``fit`` would."""
    import yaml

    from vanguard.configs import experiment_configs, resolved_config
    from vanguard.errors import ConfigError

    try:
        cfg = yaml.safe_load(Path(config).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read the config {str(config)!r}: {err}") from None
    if isinstance(cfg, dict) and "teacher" not in cfg and ("trainer" in cfg or "model" in cfg):
        # a stage config (an annotation config has a teacher): resolve it with the base.yaml beside it
        config = Path(config)
        cfg = resolved_config(experiment_configs(config.parent, config.stem))
    defaults = backbone_defaults()
    backbone = ((cfg.get("model") or {}).get("init_args") or {}).get("backbone")
    if isinstance(backbone, dict):
        args = backbone.get("init_args") or {}
        return {k: args.get(k, defaults[k]) for k in ("num_frames", "frame_pixels")}
    teacher = (cfg.get("teacher") or {}).get("init_args") or {}
    if teacher:
        return {"num_frames": (cfg.get("windows") or {}).get("num_frames", defaults["num_frames"]),
                "frame_pixels": teacher.get("frame_pixels", defaults["frame_pixels"])}
    raise ConfigError(f"{config}: no model.init_args.backbone (a stage config) nor teacher (an annotation config)")


def info(path: Path, stage_config: Path | None = None, num_frames: int | None = None, frame_pixels: int | None = None,
         width: int = 320, height: int = 240) -> None:
    """Print a backbone's structure and what one subclip costs (no weights needed).

    Args:
        path: a Qwen3-VL directory (config.json is enough for the structure; with its processor files the whole
            prompt is counted too), or a config.json file.
        stage_config: a stage config (``experiments/<exp>/stage*.yaml``, composed with the ``base.yaml`` beside it)
            or annotation config whose frames per subclip and pixel budget per frame are used (``--config`` is the
            same option).
        num_frames: frames per subclip (overrides the config's).
        frame_pixels: pixel budget per frame (overrides the config's).
        width: source frame width in pixels (UCF-Crime's is 320).
        height: source frame height in pixels (UCF-Crime's is 240).
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    from vanguard.errors import BackboneNotFoundError
    from vanguard.processing import video_tokens

    path = Path(path)
    if not (path.is_file() or (path / "config.json").is_file()):
        raise BackboneNotFoundError(f"{str(path)!r} is neither a config.json nor a directory holding one")
    if stage_config is not None:
        budget, source = budget_from_config(stage_config), str(stage_config)
    else:
        budget, source = backbone_defaults(), "assumed: the Backbone's defaults (pass --config STAGE.yaml)"
    given = {k: v for k, v in (("num_frames", num_frames), ("frame_pixels", frame_pixels)) if v}
    if given:
        budget.update(given)
        source = "command line" + ("" if len(given) == 2 else f" ({', '.join(given)}); the rest from {source}")
    cfg = AutoConfig.from_pretrained(path)
    t, v = cfg.text_config, cfg.vision_config
    with torch.device("meta"):  # parameter count without memory or weights
        params = AutoModelForImageTextToText.from_config(cfg).num_parameters()
    tokens, (h, w) = video_tokens(v, budget["num_frames"], height, width, budget["frame_pixels"])
    subclip = {"frames": budget["num_frames"], "frame_pixels": budget["frame_pixels"], "budget_from": source,
               "source": [width, height], "resized": [w, h], "video_tokens": tokens}
    if path.is_dir() and any((path / n).is_file() for n in ("processor_config.json", "preprocessor_config.json")):
        subclip["prompt_tokens"] = prompt_tokens(path, budget["num_frames"], height, width, budget["frame_pixels"])
    print(json.dumps({
        "params": params, "tied_embeddings": bool(cfg.tie_word_embeddings),
        "text": {"hidden": t.hidden_size, "layers": t.num_hidden_layers, "heads": t.num_attention_heads,
                 "kv_heads": t.num_key_value_heads, "vocab": t.vocab_size},
        "vision": {"hidden": v.hidden_size, "depth": v.depth, "deepstack": v.deepstack_visual_indexes},
        "subclip": subclip,
    }, indent=2))


def backbone_defaults() -> dict:
    """The Backbone's own ``num_frames`` and ``frame_pixels`` defaults (what a config that omits them gets)."""
    import inspect

    from vanguard.backbone import Backbone

    params = inspect.signature(Backbone).parameters
    return {k: params[k].default for k in ("num_frames", "frame_pixels")}


def prompt_tokens(path: Path, num_frames: int, height: int, width: int, frame_pixels: int) -> int:
    """Tokens of the stage prompt for one subclip (timestamps, video, question, generation prompt) with the
    directory's own processor and chat template, as :class:`vanguard.processing.SubclipEncoder` encodes it."""
    import numpy as np

    from vanguard.processing import SubclipEncoder

    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    item = SubclipEncoder(str(path), frame_pixels).encode(frames, 30.0, list(range(num_frames)), normalize=False)
    return int(item["input_ids"].shape[0])


def main(argv: list[str]) -> None:
    from jsonargparse import CLI

    from vanguard.pretrain import pretrain_backbone

    if argv[:1] == ["info"]:  # jsonargparse's CLI drops a parameter named `config` (its own option): rename it
        argv = [a.replace("--config", "--stage_config", 1) if a.split("=")[0] == "--config" else a for a in argv]
    CLI({"tiny": tiny, "reduced": reduced, "info": info, "pretrain": pretrain_backbone}, args=argv, as_positional=True, prog="vanguard backbone")
