"""vanguard.reduced: the CI model keeps the real directory's files and structure; only depth (and widths) shrink."""

from __future__ import annotations

import filecmp
import json

import pytest

from vanguard.reduced import reduced_config, spread


def test_reduced_config_keeps_the_structure(qwen_files):
    real = json.loads((qwen_files / "config.json").read_text())
    for layers, depth, narrow in ((2, 2, False), (3, 3, True), (36, 24, False), (1, 5, True)):
        cfg = reduced_config(real, layers, depth, narrow)
        text, vision = cfg["text_config"], cfg["vision_config"]
        assert (text["num_hidden_layers"], vision["depth"]) == (layers, depth)
        stack = vision["deepstack_visual_indexes"]
        assert len(stack) == min(3, layers, depth) and stack == sorted(set(stack)) and max(stack) < depth
        assert sum(text["rope_scaling"]["mrope_section"]) == text["head_dim"] // 2
        assert text["num_attention_heads"] // text["num_key_value_heads"] == 4  # the 4B's GQA ratio
        assert vision["out_hidden_size"] == text["hidden_size"] and text["vocab_size"] == 151936
        assert cfg["tie_word_embeddings"] and cfg["video_token_id"] == real["video_token_id"]
        assert (text["hidden_size"] == 2560) != narrow
    assert reduced_config(real, 36, 24)["vision_config"]["deepstack_visual_indexes"] == [5, 11, 17]  # unchanged
    assert spread([5, 11, 17], 24, 2, 2) == [0, 1] and spread([8, 16, 24], 27, 3, 36) == [0, 1, 2]
    assert spread([8, 16, 24], 27, 27, 36) == [8, 16, 24] and spread([5, 11, 17], 24, 12, 2) == [2, 5]
    with pytest.raises(ValueError, match="text_layers"):
        reduced_config(real, 37, 2)


def test_reduced_directory_loads_like_the_real_one(qwen_files, reduced_dir):
    """The card's files are copied byte for byte; the Auto classes load the model with the real vocabulary."""
    from transformers import AutoModelForImageTextToText

    from vanguard.processing import load_processor

    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "chat_template.json",
                 "video_preprocessor_config.json", "preprocessor_config.json", "generation_config.json"):
        assert filecmp.cmp(qwen_files / name, reduced_dir / name, shallow=False), name
    model = AutoModelForImageTextToText.from_pretrained(reduced_dir)
    assert model.lm_head.weight.shape == (151936, 128) and len(model.model.visual.blocks) == 3
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    assert len(load_processor(reduced_dir).tokenizer) == 151_669
