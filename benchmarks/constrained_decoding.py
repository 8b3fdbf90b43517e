"""Overhead of constrained decoding per generated token, and batched vs one-by-one generation.

    python -m benchmarks.constrained_decoding [--size unit|demo] [--batch 8] [--think none|required] [--repeat 3]

Builds the tiny Qwen3-VL (no download), encodes random subclips, and times greedy generation through
``Backbone.generate`` on the same left-padded batch with and without :class:`vanguard.decoding.AnswerConstraint`.
Because the constraint ends answers early (EOS) while the unconstrained random model runs to ``max_new_tokens``,
the comparison is per generated step (wall time / decoding steps; the
unconstrained run is given exactly the constrained run's number of steps). It also prints the processor's own time per step
(its share of the step), the one-off cost of building the vocabulary tables, and the time per sample of one
batched call vs one call per sample. Target: overhead at most 15 % per token.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from benchmarks.common import cli_main, row
from vanguard.answer import parse_answer
from vanguard.backbone import Backbone
from vanguard.decoding import AnswerConstraint
from vanguard.processing import collate
from vanguard.tiny import build_tiny


class Counting(LogitsProcessor):
    """Wraps a processor (or nothing) and counts decoding steps and the processor's own time."""

    def __init__(self, inner: LogitsProcessor | None = None):
        self.inner, self.steps, self.seconds = inner, 0, 0.0

    def __call__(self, input_ids, scores):
        self.steps += 1
        if self.inner is None:
            return scores
        t = time.perf_counter()
        out = self.inner(input_ids, scores)
        self.seconds += time.perf_counter() - t
        return out


def encode_batch(backbone: Backbone, n: int, seed: int, reasoning: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    sizes = [(64, 64), (32, 32), (64, 160)]
    t = backbone.num_frames
    return [
        backbone.encoder.encode(
            rng.integers(0, 256, (t, *sizes[i % 3], 3), dtype=np.uint8), 30.0, list(range(0, 8 * t, 8)), reasoning=reasoning
        )
        for i in range(n)
    ]


def timed_generate(backbone, items, max_new, processor=None):
    """(wall seconds, decoding steps, processor seconds, texts) of one greedy left-padded batched generation."""
    batch = collate(items, backbone.tokenizer.pad_token_id, padding_side="left")
    counter = Counting(processor)
    t = time.perf_counter()
    texts = backbone.generate(batch, max_new_tokens=max_new, logits_processor=LogitsProcessorList([counter]))
    return time.perf_counter() - t, counter.steps, counter.seconds, texts


def add_args(ap) -> None:
    ap.add_argument("--size", default="unit", choices=["unit", "demo"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--think", default="none", choices=["none", "required"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave the default)")


def measure(quick: bool = False, size: str = "unit", batch: int = 8, think: str = "none", repeat: int = 3,
            threads: int = 1) -> list[dict]:
    from types import SimpleNamespace

    if quick:
        size, batch, repeat = "unit", 2, 1
    args = SimpleNamespace(size=size, batch=batch, think=think, repeat=repeat, threads=threads)
    if args.threads:
        torch.set_num_threads(args.threads)

    path = build_tiny(tempfile.mkdtemp(prefix="vanguard_bench_"), size=args.size, seed=0)
    backbone = Backbone(str(path), num_frames=8, frame_pixels=64 * 64).eval()
    reasoning = args.think != "none"
    items = encode_batch(backbone, args.batch, seed=0, reasoning=reasoning)
    constraint = AnswerConstraint(backbone.tokenizer, think=args.think, think_max_tokens=32)
    max_new = constraint.required_new_tokens()

    t = time.perf_counter()
    constraint._tables(backbone.model.config.text_config.vocab_size)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    _, n_con, _, texts = timed_generate(backbone, items, max_new, constraint)  # fills the per-state tables
    cold_s = time.perf_counter() - t

    # interleaved runs (the machine may be shared); the unconstrained run gets exactly as many steps
    con, free = [], []
    for _ in range(args.repeat):
        con.append(timed_generate(backbone, items, max_new, constraint))
        free.append(timed_generate(backbone, items, n_con, None))
    print("runs (s): constrained", [round(r[0], 3) for r in con], "unconstrained", [round(r[0], 3) for r in free])
    t_con, n_con, proc_s, texts = min(con, key=lambda r: r[0])
    t_free, n_free, _, free_texts = min(free, key=lambda r: r[0])
    per_con, per_free = t_con / n_con * 1e3, t_free / n_free * 1e3
    proc_ms = proc_s / n_con * 1e3
    valid = sum(parse_answer(x).valid for x in texts)
    free_valid = sum(parse_answer(x).valid for x in free_texts)
    print(f"backbone={args.size} batch={args.batch} think={args.think} vocab={len(backbone.tokenizer)} torch_threads={torch.get_num_threads()}")
    print(f"vocabulary tables built in {build_s * 1e3:.1f} ms (once per tokenizer); first constrained call {cold_s:.3f} s")
    print(f"unconstrained: {n_free} steps in {t_free:.3f} s = {per_free:.2f} ms/step ({free_valid}/{len(free_texts)} valid)")
    print(f"constrained:   {n_con} steps in {t_con:.3f} s = {per_con:.2f} ms/step ({valid}/{len(texts)} valid)")
    print(f"processor:     {proc_ms:.3f} ms/step ({proc_ms / per_con:.1%} of a constrained step)")
    print(f"overhead per generated token: {per_con / per_free - 1:+.1%} (target <= +15%)")

    # batched vs one-by-one, constrained, same items
    t_one = sum(timed_generate(backbone, [it], max_new, constraint)[0] for it in items)
    print(
        f"batched: {t_con / len(items) * 1e3:.1f} ms/sample vs one-by-one: {t_one / len(items) * 1e3:.1f} ms/sample "
        f"({t_one / t_con:.2f}x)"
    )
    name = "constrained_decoding"
    return [
        row(name, "constrained / unconstrained time per generated token", per_con / per_free, "<= 1.15", "x",
            f"{args.size} tiny, batch {args.batch}, {n_con} steps; processor {proc_ms:.2f} ms/step; "
            f"valid answers {valid}/{len(texts)} vs {free_valid}/{len(free_texts)}"),
        row(name, "one-by-one / batched generation time per sample", t_one / t_con, unit="x",
            note=f"batched {t_con / len(items) * 1e3:.1f} ms/sample, one-by-one {t_one / len(items) * 1e3:.1f} ms/sample"),
    ]


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
