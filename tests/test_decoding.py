"""Constrained decoding: the grammar accepts exactly valid answers, and generation through it always parses."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList

from vanguard.answer import Answer, Box, parse_answer, render_answer, render_target
from vanguard.categories import CATEGORIES, NORMAL
from vanguard.decoding import DONE, AnswerConstraint, AnswerGrammar
from vanguard.processing import collate


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny-model generation is latency-bound; on a shared 2-core machine a second intra-op thread only contends
    (measured: 1.2 s with one thread vs 90 s with two while a training run was going)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


MODEL_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw")


def _random_answer(rng: random.Random) -> Answer:
    cat = rng.choice(CATEGORIES)
    if cat == NORMAL:
        return Answer(False, NORMAL, ())
    boxes = []
    for _ in range(rng.randint(0, 4)):
        x1, y1 = rng.randint(0, 999), rng.randint(0, 999)
        boxes.append(Box(x1, y1, rng.randint(x1 + 1, 1000), rng.randint(y1 + 1, 1000), rng.choice(["person", "red car", "a"])))
    return Answer(True, cat, tuple(boxes))


def test_grammar_accepts_every_rendered_answer():
    rng = random.Random(0)
    plain, think = AnswerGrammar("none"), AnswerGrammar("required")
    optional = AnswerGrammar("optional")
    for _ in range(300):
        ans = _random_answer(rng)
        assert plain.walk(plain.start(), render_answer(ans)) == DONE
        text = render_target(ans, "The man <b>hits</b> the other one.")
        assert think.walk(think.start(), text) == DONE
        assert optional.walk(optional.start(), text) == DONE and optional.walk(optional.start(), render_answer(ans)) == DONE


@pytest.mark.parametrize(
    "text",
    [
        '{"anomaly": "no", "category": "Fighting", "boxes": []}',  # inconsistent
        '{"anomaly": "yes", "category": "Normal", "boxes": []}',
        '{"anomaly": "yes", "category": "Riot", "boxes": []}',  # unknown category
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [10, 10, 10, 20], "label": "x"}]}',  # x2 == x1
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [10, 30, 20, 20], "label": "x"}]}',  # y2 < y1
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [10, 10, 20, 1001], "label": "x"}]}',
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [010, 10, 20, 20], "label": "x"}]}',
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [1000, 10, 20, 20], "label": "x"}]}',
        '{"anomaly": "yes", "category": "Arson", "boxes": [{"bbox_2d": [1, 1, 2, 2], "label": ""}]}',
        '{"anomaly": "maybe", "category": "Arson", "boxes": []}',
    ],
)
def test_grammar_rejects_invalid_answers(text):
    g = AnswerGrammar("none")
    assert g.walk(g.start(), text) != DONE


def test_grammar_limits_boxes():
    g = AnswerGrammar("none", max_boxes=2)
    box = '{"bbox_2d": [1, 2, 3, 4], "label": "p"}'
    head = '{"anomaly": "yes", "category": "Arson", "boxes": ['
    assert g.walk(g.start(), head + ", ".join([box] * 2) + "]}") == DONE
    assert g.walk(g.start(), head + ", ".join([box] * 3) + "]}") is None


def test_random_walks_never_dead_end_and_always_parse():
    """Walk the machine with random accepted characters: every walk can finish, and what it writes is valid."""
    rng = random.Random(1)
    for think in ("none", "required", "optional"):
        g = AnswerGrammar(think, max_boxes=3)
        for _ in range(200):
            state, text, think_chars = g.start(), "", 0
            while state != DONE:
                cands = g.candidates(state)
                if cands is None:  # think text: random characters, closing after a while
                    think_chars += 1
                    cands = "ab <>/\n{" if think_chars < 30 else "</think>"[state[1]]
                options = [c for c in sorted(cands) if g.step(state, c) is not None]
                assert options, f"dead end at {state!r} after {text!r}"
                ch = rng.choice(options)
                state, text = g.step(state, ch), text + ch
                assert len(text) <= g.max_chars(think_chars)
            parsed = parse_answer(text)
            assert parsed.valid, (text, parsed.reason)


def _batch(backbone, n: int, seed: int, reasoning: bool):
    rng = np.random.default_rng(seed)
    items = []
    sizes = [(64, 64), (32, 32), (64, 160)]  # different token counts -> real left padding
    for i in range(n):
        t = backbone.num_frames
        frames = rng.integers(0, 256, (t, *sizes[i % 3], 3), dtype=np.uint8)
        items.append(backbone.encoder.encode(frames, 30.0, list(range(0, 8 * t, 8)), reasoning=reasoning))
    return collate(items, backbone.tokenizer.pad_token_id, padding_side="left")


@pytest.mark.parametrize("think", ["none", "required"])
def test_constrained_generation_always_parses(tiny_backbone, think):
    tok = tiny_backbone.tokenizer
    constraint = AnswerConstraint(tok, think=think, max_boxes=2, label_max_chars=12, think_max_tokens=24)
    n_new = constraint.required_new_tokens()
    batch = _batch(tiny_backbone, 5, seed=0, reasoning=think != "none")
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1  # really left-padded

    texts = tiny_backbone.generate(batch, max_new_tokens=n_new, logits_processor=LogitsProcessorList([constraint]))
    # sampling at a high temperature explores the grammar far more than greedy decoding of a random model
    inputs = {k: batch[k] for k in MODEL_KEYS}
    torch.manual_seed(0)
    for _ in range(2):
        out = tiny_backbone.model.generate(
            **inputs, max_new_tokens=n_new, do_sample=True, temperature=3.0, top_k=0,
            logits_processor=LogitsProcessorList([constraint]), pad_token_id=tok.pad_token_id,
        )
        texts += tok.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    reasons = [parse_answer(t).reason for t in texts]
    assert reasons == [None] * len(texts), list(zip(reasons, texts))
    assert all(t.startswith("<think>") for t in texts) == (think == "required")
    assert len(set(texts)) > 1

    unconstrained = tiny_backbone.generate(batch, max_new_tokens=64)
    assert not any(parse_answer(t).valid for t in unconstrained)


def test_cached_token_sets_equal_brute_force(tiny_backbone):
    """The bucketed / vectorised allowed-token sets equal walking every token string from the state."""
    tok = tiny_backbone.tokenizer
    constraint = AnswerConstraint(tok, think="optional", max_boxes=2, think_max_tokens=8)
    batch = _batch(tiny_backbone, 2, seed=3, reasoning=True)
    inputs = {k: batch[k] for k in MODEL_KEYS}
    torch.manual_seed(1)
    tiny_backbone.model.generate(
        **inputs, max_new_tokens=constraint.required_new_tokens(), do_sample=True, temperature=4.0, top_k=0,
        logits_processor=LogitsProcessorList([constraint]), pad_token_id=tok.pad_token_id,
    )
    tables = constraint.tables
    states = list(tables._cache)
    g = AnswerGrammar("optional", max_boxes=2)
    for state in [*states, ("label", 0, 0), ("label", 23, 1), ("num", 2, "9", 900, 1000, 5, 0), ("think", 2, None)]:
        ids, inverted = tables.ids(state)
        brute = {i for i, s in enumerate(tables.vocab.strings) if s is not None and g.walk(state, s) is not None}
        if state[0] in ("done", "finished"):
            brute = set(constraint.eos_ids)
        got = set(range(tables.vocab.size)) - set(ids.tolist()) if inverted else set(ids.tolist())
        assert got == brute, state
    assert len(states) > 10


def test_processor_resets_between_calls_and_masks_until_eos(tiny_backbone):
    tok = tiny_backbone.tokenizer
    c = AnswerConstraint(tok)
    target = tok.encode(render_answer(Answer(False)), add_special_tokens=False)
    prompt = torch.tensor([[5, 6, 7]])
    ids = prompt
    for t in target:  # teacher-force the rendered answer: every token must be allowed
        scores = c(ids, torch.zeros(1, len(tok)))
        assert scores[0, t] == 0, tok.decode([t])
        ids = torch.cat([ids, torch.tensor([[t]])], 1)
    scores = c(ids, torch.zeros(1, len(tok)))
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == c.eos_ids  # complete: only EOS
    # a new call whose prompt happens to be one token longer than the last sequence still starts over
    scores = c(torch.cat([ids, torch.tensor([[8]])], 1)[:, 1:].roll(1, 1), torch.zeros(1, len(tok)))
    assert torch.isfinite(scores[0, tok.encode("{", add_special_tokens=False)[0]])
