"""The demo's starting backbone, committed under models/: what it is, what it was pretrained on, and that it loads.

It plays Qwen3-VL-Instruct's part for the demo, so it must never have seen the curriculum's videos: the pretraining
world (``make pretrain-backbone``) and the demo's world (``python -m vanguard demo``) are generated from different
seeds, and every video of a SynthCrime world is rendered from ``SeedSequence((seed, domain, index))``.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import torch

from vanguard.data.synthcrime.writer import plan
from vanguard.tools.demo import BACKBONE, steps

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / BACKBONE


def _option(argv: list[str], name: str, default):
    return type(default)(argv[argv.index(name) + 1]) if name in argv else default


def test_pretraining_videos_are_disjoint_from_the_curriculums():
    recipe = (ROOT / "Makefile").read_text()
    line = re.search(r"-m vanguard data synthcrime outputs/pretrain/data (.*)", recipe)
    assert line, "the Makefile's pretrain-backbone recipe generates no pretraining world"
    pre = shlex.split(line[1])
    pre_seed, pre_videos = _option(pre, "--seed", 0), _option(pre, "--videos", 160)
    demo = next(s for s in steps(160) if s.argv[3:5] == ["data", "synthcrime"]).argv
    demo_seed, demo_videos, demo_zero = (_option(demo, "--seed", 0), _option(demo, "--videos", 160),
                                         _option(demo, "--zero_shot", 40))
    assert pre_seed != demo_seed
    pretraining = {job.seed for job in plan(pre_videos, 0, pre_seed)}
    curriculum = {job.seed for job in plan(demo_videos, demo_zero, demo_seed)}
    assert len(pretraining) == pre_videos and len(curriculum) == demo_videos + 2 * demo_zero
    assert not pretraining & curriculum
    provenance = json.loads((SHIPPED / "pretrain.json").read_text())
    assert provenance["data"] == "outputs/pretrain/data/synthcrime"  # the recipe's world, nothing else


def test_shipped_backbone_is_small_loads_and_says_how_it_was_made():
    from transformers import AutoModelForImageTextToText

    weights = SHIPPED / "model.safetensors"
    assert weights.stat().st_size <= 10 * 2**20
    provenance = json.loads((SHIPPED / "pretrain.json").read_text())
    for key in ("command", "commit", "steps", "seconds", "first_loss", "final_loss", "heldout"):
        assert provenance[key] is not None, key
    assert provenance["command"].startswith("python -m vanguard backbone pretrain ")
    assert 0.0 <= provenance["heldout"]["event_accuracy"] <= 1.0
    assert 0.0 <= provenance["heldout"]["grounding_acc_iou50"] <= 1.0
    model = AutoModelForImageTextToText.from_pretrained(str(SHIPPED), dtype=torch.float32)
    assert next(model.parameters()).dtype == torch.float32
    assert (SHIPPED / "tokenizer.json").exists() and (SHIPPED / "chat_template.jinja").exists()
