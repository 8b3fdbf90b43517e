"""Fixtures of the annotation tests: generated records (see tests/helpers/annotation_videos.py) and a tiny GroundingDINO."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.annotation_videos import FPS, WINDOWS, H, W, make_records, make_video  # noqa: F401
from vanguard.data.annotations import VideoRecord


@pytest.fixture
def records(tmp_path) -> list[VideoRecord]:
    return make_records(tmp_path / "videos")


@pytest.fixture(scope="session")
def tiny_gdino_dir(tmp_path_factory) -> Path:
    """A tiny GroundingDINO (random weights) built locally, once."""
    from vanguard.annotate.tiny_gdino import build_tiny_gdino

    return build_tiny_gdino(tmp_path_factory.mktemp("tiny_gdino"), seed=0)
