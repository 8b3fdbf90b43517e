"""The constraint's own cost on a Qwen-sized vocabulary (151,643 + specials), without a model.

    python -m benchmarks.constrained_decoding_vocab [--vocab 151643] [--batch 8] [--answers 20] [--think none|required]

No Qwen tokenizer can be downloaded here, so a synthetic byte-level-BPE-like vocabulary stands in (single bytes,
words with and without a leading space, digit runs, JSON punctuation runs, CJK, undecodable byte pieces, Qwen's
special tokens and ``<think>``/``</think>``). Random logits drive sampled generation through the processor; it
prints the one-off table build, the cold cost (new grammar states), and the warm per-token cost of the processor
(state advance + mask) — the number to compare with a real model's decoding step (tens of ms for Qwen3-VL-4B).
"""

from __future__ import annotations

import random
import string
import time

import torch

from benchmarks.common import cli_main, row
from vanguard.answer import parse_answer
from vanguard.decoding import AnswerConstraint


class SyntheticTokenizer:
    """The slice of the HF tokenizer interface the constraint uses, over a generated vocabulary."""

    SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|video_pad|>"]

    def __init__(self, size: int, seed: int = 0):
        rng = random.Random(seed)
        tokens = list(dict.fromkeys([chr(i) for i in range(32, 127)] + ["\n", "\t", "\ufffd"]))
        seen = set(tokens)
        punct = ['"', ",", ":", " ", "{", "}", "[", "]", "\n", "<", ">", "/"]
        while len(tokens) < size:
            r = rng.random()
            if r < 0.70:
                word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 10)))
                word = word.capitalize() if rng.random() < 0.15 else word
                tok = (" " if rng.random() < 0.55 else "") + word
            elif r < 0.80:
                tok = "".join(rng.choice(punct) for _ in range(rng.randint(2, 4)))
            elif r < 0.83:
                tok = "".join(rng.choice(string.digits) for _ in range(rng.randint(2, 3)))
            elif r < 0.95:
                tok = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 3)))
            else:
                tok = "\ufffd" * rng.randint(1, 2) + rng.choice(["", "a", " x"])
            if tok not in seen:
                seen.add(tok)
                tokens.append(tok)
        self.strings = tokens + self.SPECIAL + ["<think>", "</think>"]
        self.index = {t: i for i, t in enumerate(self.strings)}
        self.all_special_ids = [self.index[t] for t in self.SPECIAL]
        self.eos_token_id, self.unk_token_id = self.index["<|im_end|>"], None

    def __len__(self) -> int:
        return len(self.strings)

    def batch_decode(self, ids, **_) -> list[str]:
        return ["".join(self.strings[i] for i in row) for row in ids]

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self.index.get(token)


def generate(constraint: AnswerConstraint, tok: SyntheticTokenizer, batch: int, max_new: int, gen: torch.Generator):
    """Sample ``batch`` answers from random logits through the constraint; returns (texts, steps, seconds in it)."""
    ids = torch.zeros(batch, 5, dtype=torch.long)
    spent, steps = 0.0, 0
    done = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_new):
        logits = torch.randn(batch, len(tok), generator=gen) * 3
        t = time.perf_counter()
        masked = constraint(ids, logits)
        spent += time.perf_counter() - t
        steps += 1
        nxt = torch.multinomial(torch.softmax(masked, -1), 1, generator=gen).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, tok.index["<|endoftext|>"]), nxt)
        done |= nxt == tok.eos_token_id
        ids = torch.cat([ids, nxt[:, None]], 1)
        if done.all():
            break
    texts = [tok.batch_decode([[i for i in row[5:].tolist() if i not in tok.all_special_ids]])[0] for row in ids]
    return texts, steps, spent


def add_args(ap) -> None:
    ap.add_argument("--vocab", type=int, default=151_643)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--answers", type=int, default=20, help="batches generated after the first (warm) one")
    ap.add_argument("--think", default="none", choices=["none", "required"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier timings on a shared machine)")


def measure(quick: bool = False, vocab: int = 151_643, batch: int = 8, answers: int = 20, think: str = "none",
            threads: int = 1) -> list[dict]:
    from types import SimpleNamespace

    if quick:
        vocab, answers, batch = 5000, 1, 2
    args = SimpleNamespace(vocab=vocab, batch=batch, answers=answers, think=think, threads=threads)
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    tok = SyntheticTokenizer(args.vocab)
    print(f"synthetic vocabulary: {len(tok)} tokens ({time.perf_counter() - t:.1f} s to generate)")
    constraint = AnswerConstraint(tok, think=args.think, think_max_tokens=64)
    t = time.perf_counter()
    constraint._tables(len(tok))
    print(f"vocabulary tables: {time.perf_counter() - t:.2f} s (once per tokenizer)")
    gen = torch.Generator().manual_seed(0)
    max_new = constraint.required_new_tokens()
    texts, steps, spent = generate(constraint, tok, args.batch, max_new, gen)
    print(f"cold batch: {steps} steps, {spent:.2f} s in the processor ({len(constraint.tables._cache)} states built)")
    total_steps, total_s, valid, n = 0, 0.0, sum(parse_answer(x).valid for x in texts), len(texts)
    for _ in range(args.answers):
        texts, steps, spent = generate(constraint, tok, args.batch, max_new, gen)
        total_steps, total_s = total_steps + steps, total_s + spent
        valid, n = valid + sum(parse_answer(x).valid for x in texts), n + len(texts)
    print(f"after warm-up: {total_steps} steps, {total_s / total_steps * 1e3:.2f} ms per step for a batch of "
          f"{args.batch} ({len(constraint.tables._cache)} states cached); valid answers {valid}/{n}")
    per_step = total_s / total_steps * 1e3
    return [row("constrained_decoding", f"processor per token, {len(tok):,}-token vocabulary", per_step, unit="ms",
                note=f"batch {args.batch}, no model; {valid}/{n} valid; vs a Qwen3-VL-4B decoding step of ~20-30 ms "
                     f"on a GPU: {per_step / 25:.0%}")]


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
