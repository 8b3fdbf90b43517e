"""Each benchmark runs end to end in its tiny mode (``measure(quick=True)``) and reports its figures as rows.

The figures themselves are not asserted (timings on a shared machine are noise at this size); what is asserted is
that each benchmark runs, returns well-formed rows with finite values, and that the checks it exists for hold
where they do not depend on timing (the feature cache leaves validation scores unchanged; the constrained decoder
gives valid answers).
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch

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


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run(name: str, work) -> list[dict]:
    module = importlib.import_module(f"benchmarks.{name}")
    kwargs = {"work": str(work)} if "work" in module.measure.__code__.co_varnames else {}
    if name == "data_pipeline":
        kwargs = {"dir": str(work / "data_pipeline")}
    rows = module.measure(quick=True, **kwargs)
    assert rows and all(math.isfinite(r["value"]) for r in rows)
    assert all(set(r) == {"bench", "metric", "value", "unit", "target", "met", "note"} for r in rows)
    assert any(r["metric"].startswith(EXPECTED[name]) for r in rows), [r["metric"] for r in rows]
    for r in rows:
        assert (r["met"] is None) == (r["target"] == "")
    return rows


@pytest.mark.parametrize("name", ["framework_overhead", "data_pipeline", "eval_protocol", "memory",
                                  "constrained_decoding_vocab"])
def test_benchmark_runs_and_reports(name, work):
    run(name, work)


def test_feature_cache_keeps_validation_scores(work):
    rows = {r["metric"]: r for r in run("feature_cache", work)}
    assert rows["val scores max |cache - no cache|"]["value"] <= 1e-5
    assert "backbone calls" in rows["stage-1 epoch after the first, no cache / cache"]["note"]


def test_constrained_decoding_gives_valid_answers(work):
    rows = run("constrained_decoding", work)
    assert "valid answers 2/2" in rows[0]["note"]


def test_real_model_tokens_follow_the_processor(work):
    rows = {r["metric"]: r for r in run("real_model", work)}
    # 16 frames of 320x240 within 76,800 px keep 320x224 (multiples of 32): 8 x 7 x 10 merged video tokens
    assert "560 video tokens" in rows["tokens per subclip (16 frames <= 76800 px)"]["note"]
