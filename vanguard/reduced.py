"""A loadable copy of a real Qwen3-VL directory with fewer layers (and, for CI, narrower widths), random weights.

What a user with the real weights runs goes through the real files: the tokenizer (151,669 ids), the chat template,
the image and video processor settings and the configuration's structure (deepstack, interleaved mrope, GQA, tied
or untied embeddings). :func:`build_reduced` keeps every one of those files as it is, rewrites ``config.json`` with
fewer decoder layers and vision blocks (``narrow`` also cuts the widths, keeping the head and GQA ratios, the
mrope split and the vocabulary) and writes ``model.safetensors`` of a randomly initialised model, so
``Backbone(dir)``, ``AutoProcessor.from_pretrained(dir)`` and the stages load it exactly as they load the real one.
The source folder needs no weights (``../shared/fixtures/qwen3vl_4b_instruct`` holds the model card's small files).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vanguard.errors import BackboneNotFoundError
from vanguard.io import write_json
from vanguard.processing import check_backbone_dir

#: the model card's files besides config.json and the weights (those present are copied as they are)
CARD_FILES = (
    "generation_config.json", "preprocessor_config.json", "video_preprocessor_config.json", "processor_config.json",
    "chat_template.json", "chat_template.jinja", "tokenizer_config.json", "tokenizer.json", "vocab.json",
    "merges.txt", "special_tokens_map.json", "added_tokens.json",
)

#: narrow widths for CPU tests: text 128 wide (8 query / 2 key-value heads of 16, the 4B's 4:1 GQA), vision 64
NARROW_TEXT = {"hidden_size": 128, "intermediate_size": 384, "num_attention_heads": 8, "num_key_value_heads": 2,
               "head_dim": 16}
NARROW_VISION = {"hidden_size": 64, "intermediate_size": 256, "num_heads": 4}


def spread(indexes: list[int], depth: int, new_depth: int, layers: int) -> list[int]:
    """Deepstack block indexes of a ``depth``-block tower cut to ``new_depth`` blocks: each index scaled to the
    same place in the shorter tower (unchanged when nothing is cut), at most ``layers`` of them (level k feeds
    decoder layer k)."""
    return sorted({i * new_depth // depth for i in indexes})[:layers]


def mrope_split(section: list[int], head_dim: int) -> list[int]:
    """The mrope (t, h, w) split scaled to ``head_dim / 2`` frequencies, in the original's proportions."""
    half, total = head_dim // 2, sum(section)
    out = [max(1, s * half // total) for s in section]
    out[0] += half - sum(out)
    return out


def reduced_config(config: dict, text_layers: int = 2, vision_depth: int = 2, narrow: bool = False) -> dict:
    """``config.json`` (as a dict) with ``text_layers`` decoder layers, ``vision_depth`` vision blocks and the
    deepstack levels spread over them; ``narrow`` also applies :data:`NARROW_TEXT` / :data:`NARROW_VISION`."""
    cfg = json.loads(json.dumps(config))
    text, vision = cfg["text_config"], cfg["vision_config"]
    if not 1 <= text_layers <= text["num_hidden_layers"] or not 1 <= vision_depth <= vision["depth"]:
        raise ValueError(f"text_layers must be in 1..{text['num_hidden_layers']} and vision_depth in 1..{vision['depth']}")
    vision["deepstack_visual_indexes"] = spread(vision["deepstack_visual_indexes"], vision["depth"], vision_depth,
                                                text_layers)
    text["num_hidden_layers"], vision["depth"] = text_layers, vision_depth
    if narrow:
        text.update(NARROW_TEXT)
        vision.update(NARROW_VISION)
        rope_key = "rope_parameters" if "rope_parameters" in text else "rope_scaling"
        rope = text[rope_key]
        rope["mrope_section"] = mrope_split(rope["mrope_section"], text["head_dim"])
    vision["out_hidden_size"] = text["hidden_size"]  # the merger projects into the LM's width
    return cfg


def build_reduced(src: str | Path, out_dir: str | Path, text_layers: int = 2, vision_depth: int = 2,
                  narrow: bool = False, seed: int = 0, dtype: str = "bfloat16", device: str = "cpu") -> Path:
    """Write the reduced copy of the Qwen3-VL directory ``src`` to ``out_dir`` (see the module docstring).

    Args:
        src: a Qwen3-VL directory (its weights, if any, are not read).
        out_dir: where to write the loadable copy.
        text_layers: decoder layers kept (the real 4B has 36).
        vision_depth: vision blocks kept (the real 4B has 24).
        narrow: also cut the widths (CPU tests); without it every width is the real one.
        seed: weight initialisation seed.
        dtype: the saved weights' dtype.
        device: where the random model is initialised (``cuda`` is much faster at real widths).
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    src, out = check_backbone_dir(src), Path(out_dir)
    if not (src / "config.json").is_file():
        raise BackboneNotFoundError(f"{src} has no config.json")
    config = reduced_config(json.loads((src / "config.json").read_text()), text_layers, vision_depth, narrow)
    out.mkdir(parents=True, exist_ok=True)
    for name in CARD_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    write_json(out / "config.json", config)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(out), dtype=getattr(torch, dtype))
    model.save_pretrained(out)  # config.json again (as transformers writes it) and model.safetensors
    if (src / "generation_config.json").is_file():  # the card's own generation defaults, not ones derived here
        shutil.copyfile(src / "generation_config.json", out / "generation_config.json")
    write_json(out / "vanguard_reduced.json", {"source": str(src), "text_layers": text_layers,
                                               "vision_depth": vision_depth, "narrow": narrow, "seed": seed,
                                               "params": model.num_parameters()})
    return out
