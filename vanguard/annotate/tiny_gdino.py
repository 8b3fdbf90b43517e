"""Build a tiny GroundingDINO directory locally (random weights) that the real classes load, for tests and demos.

The recipe (reference notes §4): a small Swin backbone, a one-layer BERT text encoder over a local word-level
vocabulary, ``decoder_layers=2`` (1 crashes: the tied bbox-embed needs at least two decoder layers), no custom
kernels, and a small image-processor size (the default 800/1333 would make tests slow).
"""

from __future__ import annotations

import re
from pathlib import Path

from vanguard.annotate.wording import EVENTS
from vanguard.prompts import CORPUS_SENTENCES

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab() -> list[str]:
    words = set()
    texts = list(CORPUS_SENTENCES)
    for names, doings in EVENTS.values():
        texts += names + doings
    for text in texts:
        words.update(re.findall(r"[a-z]+|[^\sa-z]", text.lower()))
    return SPECIAL + sorted(words | {".", ","})


def build_tiny_gdino(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny GroundingDINO (model + processor) to ``path``; returns it. About 0.4 M parameters."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        SwinConfig,
    )
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True)
    image_processor = GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96})
    processor = GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1],
                                   num_heads=[1, 1, 2, 2], window_size=4, out_indices=[2, 3, 4]),
        text_config=BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=20, num_feature_levels=4,
        encoder_n_points=2, decoder_n_points=2, max_text_len=32, disable_custom_kernels=True,
    )
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
