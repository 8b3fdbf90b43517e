"""Fixtures for stage tests: fresh Backbones on the session's tiny model (stages mutate them: LoRA, freezing)."""

from __future__ import annotations

import pytest

from tests.stages.synth_subclips import fit_stage, make_batch


@pytest.fixture
def backbone(tiny_backbone_dir):
    """A fresh Backbone (unit tiny model, 8 frames, 64*64 pixels) that a test may inject LoRA into."""
    from vanguard.backbone import Backbone

    return Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)


@pytest.fixture
def batch_of(backbone):
    """``batch_of(indices, target, train)``: a contract batch encoded with the backbone's processor."""

    def make(indices, target="none", train=True):
        return make_batch(backbone.encoder, indices, target=target, train=train)

    return make


@pytest.fixture
def fit():
    return fit_stage
