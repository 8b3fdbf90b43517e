"""The real Qwen3-VL-4B-Instruct files (configuration, tokenizer, chat template, processors; no weights) from
``../shared/fixtures/qwen3vl_4b_instruct`` (the ``qwen_files`` fixture, tests/conftest.py): what a user with the
real model loads. Tests here are skipped, with the path they looked at, only when that folder is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

#: CI's reduced model: the real files, 3 decoder layers and 3 vision blocks (three deepstack levels, as the 4B has),
#: narrow widths (vanguard.reduced.NARROW_*), the real 151,936-row embedding
REDUCED = {"text_layers": 3, "vision_depth": 3, "narrow": True, "dtype": "float32"}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every real-file test runs on one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def real_tokenizer(qwen_files):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(qwen_files)


@pytest.fixture(scope="session")
def reduced_dir(qwen_files, tmp_path_factory) -> Path:
    """A loadable Qwen3-VL directory: the real files, :data:`REDUCED` sizes, random weights (built once)."""
    from vanguard.reduced import build_reduced

    return build_reduced(qwen_files, tmp_path_factory.mktemp("qwen3vl_reduced"), **REDUCED)
