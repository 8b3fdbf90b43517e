"""Run a benchmark or research probe in its tiny mode and check the rows it reports (``benchmarks.common.row``)."""

from __future__ import annotations

import importlib
import math

import pytest
import torch


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """One folder per test module for the tiny runs' files."""
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(autouse=True)
def keep_threads():
    """A benchmark sets torch's thread count for itself; the next test gets the count back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_quick(module_name: str, work, expected_metric: str) -> list[dict]:
    """``measure(quick=True)`` of ``module_name`` (``work`` passed where it takes one): well-formed rows with finite
    values, a ``met`` exactly where a target is set, and one row whose metric starts with ``expected_metric``."""
    module = importlib.import_module(module_name)
    kwargs = {"work": str(work)} if "work" in module.measure.__code__.co_varnames else {}
    if module_name.endswith(".data_pipeline"):
        kwargs = {"dir": str(work / "data_pipeline")}
    rows = module.measure(quick=True, **kwargs)
    assert rows and all(math.isfinite(r["value"]) for r in rows)
    assert all(set(r) == {"bench", "metric", "value", "unit", "target", "met", "note"} for r in rows)
    assert any(r["metric"].startswith(expected_metric) for r in rows), [r["metric"] for r in rows]
    for r in rows:
        assert (r["met"] is None) == (r["target"] == "")
    return rows
