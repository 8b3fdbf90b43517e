"""The real tokenizer and chat template: the project's prompts and targets are, token for token, what Qwen3-VL-4B
was trained to read, and the SubclipEncoder's labels cover exactly the answer in the real BPE."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.foundation.test_processing import assert_same, reference
from vanguard.answer import Answer, Box, render_answer, render_target
from vanguard.processing import IGNORE_INDEX, SubclipEncoder, load_processor
from vanguard.prompts import conversation
from vanguard.tiny import CHAT_TEMPLATE

ANSWER = render_answer(Answer(True, "Fighting", (Box(102, 250, 388, 941, "man in red"),)))
REASONED = render_target(Answer(True, "Stealing", (Box(5, 6, 700, 800, "bag"),)), "A man grabs the bag and runs off.")
NORMAL = render_answer(Answer(False))

# (reasoning, target, question) of every conversation the project renders: stage prompts (generation), stage 2 and
# stage 3 targets (training), and backbone pretraining's caption question
CONVERSATIONS = [(False, None, None), (True, None, None), (False, ANSWER, None), (False, NORMAL, None),
                 (True, REASONED, None), (False, "A man walks to the left.", "Describe the clip in one sentence.")]


def test_tokenizer_built_from_the_card_files(qwen_files, real_tokenizer):
    """151,643 BPE entries + 26 added tokens; the ids transformers' own Qwen2-VL integration test publishes; the
    tokens the project relies on (EOS, padding, vision placeholders, <think>) are single ids that agree with
    config.json."""
    tok = real_tokenizer
    assert len(tok) == 151_669
    config = json.loads((qwen_files / "config.json").read_text())
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>", "<|vision_start|>",
                                                     "<|vision_end|>", "<|video_pad|>", "<|image_pad|>")}
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>" and ids["<|im_end|>"] == 151645
    for key, token in (("video_token_id", "<|video_pad|>"), ("image_token_id", "<|image_pad|>"),
                       ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")):
        assert config[key] == ids[token], key
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    text = tok.apply_chat_template(messages, tokenize=False)
    # the published start (there the processor has expanded the one <|image_pad|> into the image's patches)
    assert tok.encode(text, add_special_tokens=False)[:17] == [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13,
                                                               151645, 198, 151644, 872, 198, 151652, 151655, 151653]
    # <think> / </think> are one id each and NOT special: skip_special_tokens keeps them in a decoded answer
    for token, expected in (("<think>", 151667), ("</think>", 151668)):
        assert tok.encode(token, add_special_tokens=False) == [expected]
        assert expected not in tok.all_special_ids
    assert tok.decode(tok.encode(REASONED, add_special_tokens=False), skip_special_tokens=True) == REASONED
    # the Qwen2 pre-tokenizer splits digits one by one (the answer grammar and the tiny BPE assume it)
    assert tok.convert_ids_to_tokens(tok.encode("[102, 250", add_special_tokens=False)) == ["[", "1", "0", "2", ",",
                                                                                         "Ġ", "2", "5", "0"]


@pytest.mark.parametrize("reasoning,target,question", CONVERSATIONS)
def test_the_project_template_renders_what_the_real_one_does(qwen_files, real_tokenizer, reasoning, target, question):
    """The tiny backbone's chat template (the project's copy, what CI trains with) and the model card's template
    give the same text, hence the same real tokens, for every conversation the project renders."""
    messages = conversation(reasoning, target, question)
    real_template = json.loads((qwen_files / "chat_template.json").read_text())["chat_template"]
    real = real_tokenizer.apply_chat_template(messages, chat_template=real_template, tokenize=False,
                                              add_generation_prompt=target is None)
    ours = real_tokenizer.apply_chat_template(messages, chat_template=CHAT_TEMPLATE, tokenize=False,
                                              add_generation_prompt=target is None)
    assert real == ours
    assert real_tokenizer.encode(real, add_special_tokens=False) == real_tokenizer.encode(ours, add_special_tokens=False)
    assert real.startswith("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>")  # no default system turn


def test_encoder_on_the_real_processor(qwen_files, real_tokenizer):
    """SubclipEncoder with the card's processor files: the per-frame cap is pinned (no transformers warning), the
    fast path equals one plain processor call, a 320x240 subclip at the UCF-Crime budget costs 560 video tokens,
    and the labels are exactly the answer + <|im_end|> + newline in the real BPE."""
    enc = SubclipEncoder(str(qwen_files), frame_pixels=76800)
    assert enc.processor.video_processor.cap_pixels_per_frame is False
    assert load_processor(qwen_files).video_processor.cap_pixels_per_frame is False
    frames = np.random.default_rng(0).integers(0, 256, (16, 240, 320, 3), dtype=np.uint8)
    indices = list(range(300, 396, 6))
    for target, reasoning in ((None, False), (REASONED, True)):  # the stage-2 answer: the labels test below
        item = enc.encode(frames, 30.0, indices, target=target, reasoning=reasoning)
        assert_same(item, reference(enc, frames, 30.0, indices, target, reasoning))
        assert item["video_grid_thw"].tolist() == [[8, 14, 20]] and int((item["mm_token_type_ids"] == 2).sum()) == 560
        ids = item["input_ids"]
        text = real_tokenizer.decode(ids)
        assert "<0.1 seconds>" in text and "<2.9 seconds>" in text  # 8 temporal patches, the subclip's own clock
        if target is None:
            assert text.endswith("<|im_start|>assistant\n") and int(item["prompt_end"]) == len(ids) - 1
            continue
        answer = real_tokenizer.encode(target + "<|im_end|>\n", add_special_tokens=False)
        supervised = (item["labels"] != IGNORE_INDEX).nonzero().flatten().tolist()
        assert supervised == list(range(len(ids) - len(answer), len(ids)))
        assert item["labels"][supervised].tolist() == answer
        assert int(item["prompt_end"]) == len(ids) - len(answer) - 1 and int(ids[item["prompt_end"]]) == 198  # "\n"
