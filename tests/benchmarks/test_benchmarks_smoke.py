"""Each benchmark of ``make bench`` runs end to end in its tiny mode (``measure(quick=True)``) and reports its figures as rows.

The figures themselves are not asserted (timings on a shared machine are noise at this size); what is asserted is
that each benchmark runs, returns well-formed rows with finite values, and that the checks it exists for hold
where they do not depend on timing (the feature cache leaves validation scores unchanged; the constrained decoder
gives valid answers).
"""

from __future__ import annotations

import pytest

from tests.helpers.bench_rows import run_quick

EXPECTED = {
    "framework_overhead": "Lightning / plain step time",
    "feature_cache": "stage-1 epoch after the first, no cache / cache",
    "data_pipeline": "pipeline / naive loader",
    "eval_protocol": "time per frame",
    "constrained_decoding": "constrained / unconstrained time per generated token",
    "constrained_decoding_vocab": "processor per token",
    "memory": "stage 2 step peak RSS",
    "real_model": "tokens per subclip",
}




def run(name: str, work) -> list[dict]:
    return run_quick(f"benchmarks.{name}", work, EXPECTED[name])


@pytest.mark.parametrize("name", ["framework_overhead", "data_pipeline", "eval_protocol", "constrained_decoding_vocab"])
def test_benchmark_runs_and_reports(name, work):
    run(name, work)


def test_feature_cache_keeps_validation_scores(work):
    rows = {r["metric"]: r for r in run("feature_cache", work)}
    assert rows["val scores max |cache - no cache|"]["value"] <= 1e-5
    assert "backbone calls" in rows["stage-1 epoch after the first, no cache / cache"]["note"]


def test_constrained_decoding_gives_valid_answers(work):
    rows = run("constrained_decoding", work)
    assert "valid answers 2/2" in rows[0]["note"]


def test_memory_measures_the_logits_both_ways_on_a_resized_vocabulary(work):
    """The quick run resizes the unit backbone's tied embeddings to 8,192 rows and runs stage 2 with the Backbone's
    answer-only logits and with HF's every-position default (both arms run; RSS at this size is not asserted)."""
    from pathlib import Path

    from transformers import AutoConfig

    rows = {r["metric"]: r for r in run("memory", work)}
    answer = rows["stage 2 step peak RSS (batch 2), 8,192 words: logits at the answer"]
    assert "answer tokens in all" in answer["note"]
    assert "stage 2 step peak RSS (batch 2), 8,192 words: logits everywhere (HF default)" in rows
    resized = next(Path(work).glob("tiny_unit_vocab8192"))
    assert AutoConfig.from_pretrained(resized).text_config.vocab_size == 8192


def test_real_model_tokens_follow_the_processor(work):
    rows = {r["metric"]: r for r in run("real_model", work)}
    # 16 frames of 320x240 within 76,800 px keep 320x224 (multiples of 32): 8 x 7 x 10 merged video tokens
    assert "560 video tokens" in rows["tokens per subclip (16 frames <= 76800 px)"]["note"]
