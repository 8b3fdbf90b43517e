"""Callback tests reuse the stage tests' synthetic clips and fit helper."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))

from synth_subclips import fit_stage  # noqa: E402


@pytest.fixture
def fit():
    return fit_stage
