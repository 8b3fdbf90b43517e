"""Issue 2: the tiny Qwen3-VL loads through the Auto* classes like the real one; features, loss, generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vanguard.answer import Answer, Box, render_answer
from vanguard.processing import IGNORE_INDEX, collate

TARGET = render_answer(Answer(True, "Fighting", (Box(100, 200, 300, 400, "person"),)))


def _frames(t=8, h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 255, size=(t, h, w, 3), dtype=np.uint8)


def test_tiny_reloads_through_auto_classes(tiny_backbone_dir):
    from transformers import (
        AutoModelForImageTextToText,
        AutoProcessor,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
    )

    model = AutoModelForImageTextToText.from_pretrained(tiny_backbone_dir)
    processor = AutoProcessor.from_pretrained(tiny_backbone_dir)
    assert isinstance(model, Qwen3VLForConditionalGeneration)
    assert isinstance(processor, Qwen3VLProcessor)
    assert model.num_parameters() < 1_000_000
    cfg = model.config
    text, vision = cfg.text_config, cfg.vision_config
    # the structure of Qwen3-VL-4B: deepstack, interleaved mrope, GQA, tied embeddings
    assert len(vision.deepstack_visual_indexes) >= 1 and max(vision.deepstack_visual_indexes) < vision.depth
    rope = text.rope_parameters
    assert rope["mrope_interleaved"] and sum(rope["mrope_section"]) == text.head_dim // 2
    assert text.num_attention_heads % text.num_key_value_heads == 0 and text.num_key_value_heads < text.num_attention_heads
    assert cfg.tie_word_embeddings and model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    tok = processor.tokenizer
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.convert_ids_to_tokens(tok.encode("<think>", add_special_tokens=False)) == ["<think>"]


def test_demo_size_has_a_few_million_parameters(tmp_path):
    import json

    from vanguard.tiny import build_tiny

    build_tiny(tmp_path, size="demo")
    params = json.loads((tmp_path / "vanguard_tiny.json").read_text())["params"]
    assert 1_000_000 < params < 20_000_000


def test_pooled_features_shape(tiny_backbone):
    enc = tiny_backbone.encoder
    items = [enc.encode(_frames(seed=s), 30.0, list(range(0, 16, 2))) for s in range(3)]
    batch = collate(items, tiny_backbone.tokenizer.pad_token_id, padding_side="left")
    feats = tiny_backbone.features(batch)
    assert feats.shape == (3, tiny_backbone.feature_size)
    assert tiny_backbone.feature_size == 2 * tiny_backbone.text_hidden_size  # pooling="both"
    assert torch.isfinite(feats).all()


def test_features_do_not_depend_on_padding(tiny_backbone):
    enc = tiny_backbone.encoder
    short = enc.encode(_frames(h=64, w=64), 30.0, list(range(8)))
    long = enc.encode(_frames(seed=1), 30.0, list(range(8)))
    alone = tiny_backbone.features(collate([short], tiny_backbone.tokenizer.pad_token_id, "left"))
    padded = tiny_backbone.features(collate([short, long], tiny_backbone.tokenizer.pad_token_id, "left"))
    assert torch.allclose(alone[0], padded[0], atol=1e-4)


def test_labels_cover_exactly_the_answer_tokens(tiny_backbone):
    enc = tiny_backbone.encoder
    tok = tiny_backbone.tokenizer
    item = enc.encode(_frames(), 30.0, list(range(8)), target=TARGET)
    ids, labels = item["input_ids"], item["labels"]
    answer_ids = tok.encode(TARGET + "<|im_end|>\n", add_special_tokens=False)
    supervised = (labels != IGNORE_INDEX).nonzero().flatten()
    # one contiguous run at the very end, equal token by token to the answer + <|im_end|> + newline
    assert supervised.tolist() == list(range(len(ids) - len(answer_ids), len(ids)))
    assert labels[supervised].tolist() == answer_ids == ids[supervised].tolist()
    assert (labels[: len(ids) - len(answer_ids)] == IGNORE_INDEX).all()
    # the prompt_end token is the newline after "assistant", just before the answer
    assert int(item["prompt_end"]) == len(ids) - len(answer_ids) - 1


def test_lm_loss_is_finite_and_backpropagates(tiny_backbone_dir):
    from vanguard.backbone import Backbone

    bb = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)
    item = bb.encoder.encode(_frames(), 30.0, list(range(8)), target=TARGET)
    feats, loss = bb(collate([item], bb.tokenizer.pad_token_id))
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert bb.model.model.visual.patch_embed.proj.weight.grad is not None


def test_lm_loss_from_the_answer_positions_equals_hf_loss_over_every_position(tiny_backbone_dir):
    """The Backbone projects only the positions whose next token is a target onto the vocabulary
    (``logits_to_keep``); its loss and gradients must be HF's own causal LM loss over the full logits, on a batch
    where padding and answers of different lengths put the targets at different positions per row."""
    from vanguard.backbone import Backbone, answer_positions

    bb = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)
    short = render_answer(Answer(False, None, ()))
    items = [
        bb.encoder.encode(_frames(seed=0), 30.0, list(range(8)), target=TARGET),
        bb.encoder.encode(_frames(h=64, w=96, seed=1), 30.0, list(range(8)), target=short),
    ]
    for side in ("right", "left"):
        batch = collate(items, bb.tokenizer.pad_token_id, side)
        keep = answer_positions(batch["labels"])
        assert keep.sum() == (batch["labels"] != IGNORE_INDEX).sum()
        bb.zero_grad()
        _, loss = bb(batch)
        loss.backward()
        ours = {n: p.grad.clone() for n, p in bb.named_parameters() if p.grad is not None}
        bb.zero_grad()
        inputs = bb._inputs(batch)
        reference = bb.model(**inputs, use_cache=False)  # HF: logits at every position, its loss_function
        assert reference.logits.shape[1] == batch["input_ids"].shape[1] and reference.logits.shape[1] > keep.sum(1).max()
        reference.loss.backward()
        assert torch.allclose(loss, reference.loss, rtol=1e-5, atol=1e-6), (side, loss.item(), reference.loss.item())
        theirs = {n: p.grad for n, p in bb.named_parameters() if p.grad is not None}
        assert ours.keys() == theirs.keys() and len(ours) > 10
        for name, grad in ours.items():
            assert torch.allclose(grad, theirs[name], rtol=1e-4, atol=1e-6), name


def test_backbone_normalises_uint8_patches_like_the_processor(tiny_backbone):
    """A batch of uint8 patches (what the datamodule ships) gives the same features, loss and generated text as
    the same batch with the processor's float patches: the Backbone normalises them to the very same float32
    values (tests/foundation/test_processing.py), so the forward is the same computation and must agree exactly."""
    enc, pad = tiny_backbone.encoder, tiny_backbone.tokenizer.pad_token_id
    clips = [(_frames(seed=s), list(range(0, 16, 2))) for s in range(2)]
    as_float = collate([enc.encode(f, 30.0, i, target=TARGET) for f, i in clips], pad)
    as_uint8 = collate([enc.encode(f, 30.0, i, target=TARGET, normalize=False) for f, i in clips], pad)
    assert as_uint8["pixel_values_videos"].dtype == torch.uint8 and as_float["pixel_values_videos"].is_floating_point()
    with torch.no_grad():
        (f_feats, f_loss), (u_feats, u_loss) = tiny_backbone(as_float), tiny_backbone(as_uint8)
    assert torch.equal(f_feats, u_feats) and torch.equal(f_loss, u_loss)
    prompts = [collate([enc.encode(f, 30.0, i, normalize=n) for f, i in clips], pad, "left") for n in (True, False)]
    assert tiny_backbone.generate(prompts[0], max_new_tokens=5) == tiny_backbone.generate(prompts[1], max_new_tokens=5)


def test_generate_returns_text(tiny_backbone):
    enc = tiny_backbone.encoder
    batch = collate([enc.encode(_frames(seed=s), 30.0, list(range(8))) for s in range(2)], tiny_backbone.tokenizer.pad_token_id, "left")
    texts = tiny_backbone.generate(batch, max_new_tokens=6)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_wrong_backbone_path_is_one_clear_error(tmp_path):
    from vanguard.backbone import Backbone
    from vanguard.errors import BackboneNotFoundError

    with pytest.raises(BackboneNotFoundError, match="does not exist"):
        Backbone(str(tmp_path / "nope"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(BackboneNotFoundError, match="lacks tokenizer"):
        Backbone(str(tmp_path / "half"))


@pytest.mark.parametrize("pooling", ["vision", "vision+prompt", "vision_temporal", "vision_temporal+prompt"])
def test_vision_pooling_is_the_max_of_each_subclips_own_patch_states(tiny_backbone, pooling):
    """``vision`` pooling reads the vision tower's last-block patch states from the same forward pass and takes
    each subclip's element-wise max over its own patches: subclips of different sizes in one left-padded batch
    give the features they give alone, and the vision part is the max of the tower's output."""
    from vanguard.processing import normalize_patches

    enc, pad = tiny_backbone.encoder, tiny_backbone.tokenizer.pad_token_id
    short = enc.encode(_frames(h=64, w=64), 30.0, list(range(8)))
    long = enc.encode(_frames(seed=1), 30.0, list(range(8)))
    before = tiny_backbone.pooling
    tiny_backbone.pooling = pooling
    try:
        batch = collate([short, long], pad, "left")
        feats = tiny_backbone.features(batch)
        alone = torch.cat([tiny_backbone.features(collate([item], pad, "left")) for item in (short, long)])
        size = tiny_backbone.feature_size
        with torch.no_grad():
            patches = normalize_patches(batch["pixel_values_videos"], tiny_backbone.processor, torch.float32)
            states = tiny_backbone.vision_tower(patches, grid_thw=batch["video_grid_thw"]).last_hidden_state
    finally:
        tiny_backbone.pooling = before
    width = tiny_backbone.model.config.vision_config.hidden_size
    vision = 2 * width if pooling.startswith("vision_temporal") else width
    assert size == vision + (tiny_backbone.text_hidden_size if pooling.endswith("+prompt") else 0)
    assert feats.shape == (2, size)
    torch.testing.assert_close(feats, alone, atol=1e-4, rtol=1e-4)
    n_short = int(batch["video_grid_thw"][0].prod())
    assert n_short < len(states)  # the 64x64 subclip has fewer patches: the split must follow each grid
    torch.testing.assert_close(feats[0, :width], states[:n_short].amax(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats[1, :width], states[n_short:].amax(0), atol=1e-5, rtol=1e-5)
    if pooling.startswith("vision_temporal"):  # the change half is each subclip's own, from its own grid
        from vanguard.backbone import temporal_max_per_subclip

        grid = batch["video_grid_thw"]
        own = torch.cat([temporal_max_per_subclip(s, g[None]) for s, g in zip(states.split(grid.prod(-1).tolist()), grid)])
        assert grid[:, 0].min() > 1 and own[:, width:].abs().sum() > 0  # more than one temporal patch: a change
        torch.testing.assert_close(feats[:, width:vision], own[:, width:], atol=1e-5, rtol=1e-5)


def test_temporal_pooling_is_the_max_and_the_largest_change_between_temporal_patches():
    from vanguard.backbone import temporal_max_per_subclip

    grid = torch.tensor([[3, 1, 2], [1, 1, 2]])  # a subclip of 3 temporal patches of 2 patches, then one of 1
    first = torch.tensor([[0.0, 1.0], [2.0, -1.0],    # t=0: max (2, 1)
                          [5.0, 0.0], [1.0, 0.0],     # t=1: max (5, 0)
                          [4.0, 3.0], [0.0, 2.0]])    # t=2: max (4, 3)
    second = torch.tensor([[1.0, 7.0], [6.0, 2.0]])
    feats = temporal_max_per_subclip(torch.cat([first, second]), grid)
    torch.testing.assert_close(feats[0], torch.tensor([5.0, 3.0, 3.0, 3.0]))  # changes (3, 1) then (1, 3)
    torch.testing.assert_close(feats[1], torch.tensor([6.0, 7.0, 0.0, 0.0]))  # one temporal patch: no change


def test_unknown_pooling_is_refused(tiny_backbone):
    from vanguard.backbone import Backbone

    with pytest.raises(ValueError, match="pooling must be"):
        Backbone(tiny_backbone.path, pooling="max")
