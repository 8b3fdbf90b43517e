"""Build a tiny Qwen3-VL directory that ``from_pretrained`` loads exactly like the real Qwen3-VL-4B.

Same structure as the 4B model (deepstack, interleaved mrope, GQA, tied embeddings), the real
``Qwen3VLForConditionalGeneration`` / ``Qwen3VLProcessor`` classes, a byte-level BPE tokenizer trained here with
the Qwen special tokens and chat template, and the real image and video processors. Nothing is downloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vanguard.answer import Answer, Box, render_target
from vanguard.categories import CATEGORIES, NORMAL

# Qwen2's pre-tokenizer regex (transformers/models/qwen2/tokenization_qwen2.py): digits split one by one.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN_SPECIAL_TOKENS = [
    "<|im_end|>",
    "<|endoftext|>",
    "<|im_start|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
PLAIN_ADDED_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>"]

# The structure of Qwen3-VL-4B-Instruct's chat template (no default system prompt; image/video items render as
# vision_start + pad + vision_end; add_vision_id prefixes "Picture N: " / "Video N: ").
CHAT_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}{%- set video_count = namespace(value=0) -%}"
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for content in message['content'] -%}"
    "{%- if content['type'] == 'image' or 'image' in content or 'image_url' in content -%}"
    "{%- set image_count.value = image_count.value + 1 -%}"
    "{%- if add_vision_id -%}Picture {{ image_count.value }}: {% endif -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif content['type'] == 'video' or 'video' in content -%}"
    "{%- set video_count.value = video_count.value + 1 -%}"
    "{%- if add_vision_id -%}Video {{ video_count.value }}: {% endif -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in content -%}{{ content['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


@dataclass(frozen=True)
class TinySize:
    """Dimensions of one tiny size; the structure rules of the 4B config hold for each."""

    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    mrope_section: tuple[int, int, int]  # sums to head_dim / 2
    vision_hidden: int
    vision_depth: int
    vision_heads: int
    vision_intermediate: int
    deepstack: tuple[int, ...]


SIZES = {
    # unit tests: well under 1M parameters
    "unit": TinySize(64, 2, 4, 2, 128, (4, 2, 2), 32, 2, 2, 64, (0, 1)),
    # the demo: a few million parameters, big enough to learn SynthCrime
    "demo": TinySize(192, 4, 6, 2, 512, (8, 4, 4), 96, 4, 4, 256, (1, 2, 3)),
    # the GPU check (benchmarks/gpu_check.py): ~30M parameters, head_dim 64, three deepstack levels
    "gpu": TinySize(512, 8, 8, 2, 1536, (16, 8, 8), 256, 6, 8, 1024, (1, 3, 5)),
}


def tokenizer_corpus() -> list[str]:
    """Text the tiny BPE is trained on: prompts, answers, reasoning and surveillance vocabulary."""
    from vanguard.prompts import CORPUS_SENTENCES, question

    lines = list(CORPUS_SENTENCES)
    lines.append(question(reasoning=False))
    lines.append(question(reasoning=True))
    for i, category in enumerate(CATEGORIES):
        anomaly = category != NORMAL
        boxes = (Box(10 * i, 20 * i, 300 + 10 * i, 400 + 20 * i, "person"),) if anomaly else ()
        lines.append(render_target(Answer(anomaly, category, boxes), reasoning=f"The scene shows {category.lower()}."))
    lines += [" ".join(str(n) for n in range(k, k + 50)) for k in range(0, 1000, 50)]
    lines += ["<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"] * 20
    lines.append("seconds <0.5 seconds> <1.0 seconds> <2.5 seconds> <10.3 seconds>")
    return lines


def build_tokenizer(vocab_size: int = 1024):
    """Train a byte-level BPE with the Qwen2 pre-tokenizer, wrap it as ``Qwen2Tokenizer`` with Qwen's specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AddedToken, Qwen2Tokenizer

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(tokenizer_corpus(), trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tok = Qwen2Tokenizer(
        vocab=state["vocab"],
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
    )
    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS})
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in PLAIN_ADDED_TOKENS])
    return tok


def build_processor(tokenizer, max_frame_pixels: int = 128 * 128, num_frames: int = 16):
    """The real Qwen3-VL processor classes, with a pixel budget suited to small surveillance frames."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    from vanguard.processing import CAP_PIXELS_PER_FRAME

    image = Qwen2VLImageProcessor(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
        size={"shortest_edge": 32 * 32, "longest_edge": max_frame_pixels},
    )
    video = Qwen3VLVideoProcessor(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
        size={"shortest_edge": 2 * 32 * 32, "longest_edge": num_frames * max_frame_pixels},
        fps=2,
        min_frames=2,
        max_frames=256,
        do_sample_frames=False,
        cap_pixels_per_frame=CAP_PIXELS_PER_FRAME,  # written into processor_config.json: loads pinned too
    )
    return Qwen3VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video, chat_template=CHAT_TEMPLATE)


def build_config(tokenizer, size: TinySize):
    from transformers import Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>")}
    head_dim = size.text_hidden // size.text_heads
    assert sum(size.mrope_section) == head_dim // 2, "mrope_section must sum to head_dim / 2"
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=size.text_hidden,
        intermediate_size=size.text_intermediate,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.text_heads,
        num_key_value_heads=size.text_kv_heads,
        head_dim=head_dim,
        max_position_embeddings=8192,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 5_000_000.0,
            "mrope_section": list(size.mrope_section),
            "mrope_interleaved": True,
        },
        rms_norm_eps=1e-6,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    vision = dict(
        depth=size.vision_depth,
        hidden_size=size.vision_hidden,
        intermediate_size=size.vision_intermediate,
        num_heads=size.vision_heads,
        in_channels=3,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=size.text_hidden,
        num_position_embeddings=256,
        deepstack_visual_indexes=list(size.deepstack),
        hidden_act="gelu_pytorch_tanh",
    )
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )


def build_tiny(out_dir: str | Path, size: str = "unit", seed: int = 0, frame_pixels: int = 128 * 128) -> Path:
    """Write a tiny Qwen3-VL (model, tokenizer, processors, chat template) to ``out_dir``; returns the path."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    if size not in SIZES:
        raise ValueError(f"unknown tiny size {size!r}; choose one of {sorted(SIZES)}")
    out = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer, max_frame_pixels=frame_pixels)
    config = build_config(tokenizer, SIZES[size])
    model = Qwen3VLForConditionalGeneration(config)
    eos = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = eos[1]
    model.generation_config.do_sample = False
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "vanguard_tiny.json").write_text(json.dumps({"size": size, "seed": seed, "params": model.num_parameters()}))
    return out
