"""``python -m vanguard backbone``: build the tiny Qwen3-VL, and describe a backbone directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal


def tiny(out_dir: Path, size: Literal["unit", "demo"] = "unit", seed: int = 0, frame_pixels: int = 128 * 128) -> None:
    """Write a tiny Qwen3-VL that ``from_pretrained`` loads exactly like the real Qwen3-VL-4B.

    Args:
        out_dir: directory to write (config, safetensors weights, tokenizer, processors, chat template).
        size: ``unit`` (well under 1M parameters, for tests) or ``demo`` (a few million, for the demo).
        seed: weight initialisation seed.
        frame_pixels: the processors' default pixel budget per frame.
    """
    from vanguard.tiny import build_tiny

    path = build_tiny(out_dir, size=size, seed=seed, frame_pixels=frame_pixels)
    meta = json.loads((path / "vanguard_tiny.json").read_text())
    print(f"wrote tiny Qwen3-VL ({size}, {meta['params']:,} parameters) to {path}")


def info(path: Path, num_frames: int = 16, width: int = 320, height: int = 240, frame_pixels: int = 128 * 128) -> None:
    """Print a backbone directory's structure and the video tokens one subclip costs (no weights needed).

    Args:
        path: a Qwen3-VL directory (config.json is enough for the structure).
        num_frames: frames per subclip.
        width: source frame width in pixels.
        height: source frame height in pixels.
        frame_pixels: pixel budget per frame.
    """
    from transformers import AutoConfig
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    from vanguard.processing import check_backbone_dir

    cfg = AutoConfig.from_pretrained(check_backbone_dir(path) if (Path(path) / "tokenizer.json").exists() else path)
    t, v = cfg.text_config, cfg.vision_config
    factor = v.patch_size * v.spatial_merge_size
    h, w = smart_resize(num_frames, height, width, temporal_factor=v.temporal_patch_size, factor=factor,
                        min_pixels=2 * 32 * 32, max_pixels=num_frames * frame_pixels)
    tokens = (num_frames // v.temporal_patch_size) * (h // factor) * (w // factor)
    print(json.dumps({
        "text": {"hidden": t.hidden_size, "layers": t.num_hidden_layers, "heads": t.num_attention_heads,
                 "kv_heads": t.num_key_value_heads, "vocab": t.vocab_size},
        "vision": {"hidden": v.hidden_size, "depth": v.depth, "deepstack": v.deepstack_visual_indexes},
        "subclip": {"frames": num_frames, "resized": [w, h], "video_tokens": tokens},
    }, indent=2))


def main(argv: list[str]) -> None:
    from jsonargparse import CLI

    from vanguard.pretrain import pretrain_backbone

    CLI({"tiny": tiny, "info": info, "pretrain": pretrain_backbone}, args=argv, as_positional=True, prog="vanguard backbone")
