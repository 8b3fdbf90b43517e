"""Callback tests reuse the stage tests' synthetic clips and fit helper."""

from __future__ import annotations

import pytest

from tests.stages.synth_subclips import fit_stage


@pytest.fixture
def fit():
    return fit_stage
