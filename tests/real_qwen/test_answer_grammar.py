"""The answer grammar over the real 151,669-token vocabulary (151,936 logits): the tables build in seconds, every
answer sampled from random logits through the constraint parses, and <think> is one real token."""

from __future__ import annotations

import time

import pytest
import torch

from vanguard.answer import parse_answer
from vanguard.decoding import AnswerConstraint

VOCAB = 151_936  # the model's logits (config.json vocab_size), more rows than the tokenizer has ids
BATCH = 6


def sample(constraint: AnswerConstraint, tokenizer, seed: int) -> list[str]:
    """``BATCH`` answers sampled from random logits through ``constraint`` (as ``generate`` calls it), decoded the
    way Backbone.generate decodes them (special tokens skipped)."""
    gen = torch.Generator().manual_seed(seed)
    pad = tokenizer.pad_token_id
    ids = torch.full((BATCH, 3), pad)
    done = torch.zeros(BATCH, dtype=torch.bool)
    for _ in range(constraint.required_new_tokens()):
        scores = constraint(ids, torch.randn(BATCH, VOCAB, generator=gen) * 4)
        nxt = torch.multinomial(scores.softmax(-1), 1, generator=gen).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        done |= torch.isin(nxt, torch.tensor(constraint.eos_ids))
        ids = torch.cat([ids, nxt[:, None]], 1)
        if done.all():
            break
    assert done.all(), "the constraint let an answer run past required_new_tokens()"
    return tokenizer.batch_decode(ids[:, 3:], skip_special_tokens=True)


@pytest.mark.parametrize("think", ["none", "required"])
def test_random_logits_through_the_constraint_give_valid_answers(real_tokenizer, think):
    constraint = AnswerConstraint(real_tokenizer, think=think, think_max_tokens=24, max_boxes=2)
    start = time.perf_counter()
    tables = constraint._tables(VOCAB)
    built = time.perf_counter() - start
    assert built < 60, f"vocabulary tables took {built:.1f} s"  # ~2 s on this machine (see docs/real_qwen_checks.md)
    strings = tables.vocab.strings
    assert len(strings) == VOCAB and strings[151667] == "<think>" and strings[151668] == "</think>"
    assert all(s is None for s in strings[151669:])  # logits rows without a token are never allowed
    first, inverted = tables.ids(constraint.grammar.start())
    assert not inverted
    if think == "required":  # the only way in is the real <think> token (or its characters spelled out)
        assert 151667 in first.tolist() and all(strings[i] in ("<", "<think>") or "<think>".startswith(strings[i])
                                                for i in first.tolist())
    else:
        assert 151667 not in first.tolist() and all('{"anomaly": "'.startswith(strings[i]) for i in first.tolist())
    texts = sample(constraint, real_tokenizer, seed=0)
    for text in texts:
        parsed = parse_answer(text)
        assert parsed.valid, (text, parsed.reason)
        assert (parsed.reasoning is not None) == (think == "required"), text
    if think == "required":
        assert all(t.startswith("<think>") and "</think>\n{" in t for t in texts)
