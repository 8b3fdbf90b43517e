"""Shared fixtures: tiny backbones built once per session, paths to the real annotation fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_fixtures() -> Path:
    """The real annotation files (UCF-Crime, UCA, XD-Violence, ShanghaiTech) in ``shared/`` beside the checkout
    (CI has them there too), or wherever VANGUARD_FIXTURES points."""
    if "VANGUARD_FIXTURES" in os.environ:
        return Path(os.environ["VANGUARD_FIXTURES"])
    for parent in ROOT.parents:
        candidate = parent / "shared" / "fixtures" / "vad"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "fixtures" / "vad"


FIXTURES = _find_fixtures()
#: the real Qwen3-VL-4B-Instruct files (configuration, tokenizer, chat template, processors; no weights)
QWEN_FILES = Path(os.environ.get("VANGUARD_QWEN_FILES", FIXTURES.parent / "qwen3vl_4b_instruct"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"real annotation fixtures not found at {FIXTURES} (set VANGUARD_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def qwen_files() -> Path:
    """The real Qwen3-VL-4B-Instruct files; a test using them is skipped, naming the path, only where they are absent."""
    if not (QWEN_FILES / "config.json").is_file():
        pytest.skip(f"the real Qwen3-VL-4B-Instruct files are not at {QWEN_FILES} (set VANGUARD_QWEN_FILES)")
    return QWEN_FILES


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory) -> Path:
    """The unit-test tiny Qwen3-VL (well under 1M parameters), built once."""
    from vanguard.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny_unit"), size="unit", seed=0)


@pytest.fixture(scope="session")
def tiny_backbone(tiny_backbone_dir):
    """A loaded Backbone on the unit tiny model (8 frames per subclip, small frames). Do not mutate it."""
    from vanguard.backbone import Backbone

    return Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64)


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test, the count restored after it: small matrices on a shared 2-core machine
    gain nothing from a second thread, which only contends (request it, or `usefixtures` it for a module)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
