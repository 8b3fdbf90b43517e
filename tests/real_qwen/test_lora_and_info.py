"""The full 4B configuration: where LoRA goes (built on the meta device: no memory, no weights), and what
``python -m vanguard backbone info`` reports for it, for a stage config's budget and for the 8B option."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import torch

from tests.conftest import ROOT
from vanguard import adapters
from vanguard.tools.backbone_cli import info

LAYERS = 36


def test_lora_targets_on_the_full_4b_model(qwen_files):
    """r=16 LoRA (the UCF-Crime configs') lands on the 7 projections of each of the 36 decoder layers, 252 modules,
    and nowhere else: not the vision tower, its mergers (deepstack included) or lm_head. The trainable count is the
    one benchmarks/real_model.py plans memory with."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    from benchmarks.real_model import LORA_R

    config = AutoConfig.from_pretrained(qwen_files)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    adapters.inject_lora(model, adapters.lora_config(r=LORA_R, alpha=32))
    wrapped = sorted({n.rsplit(".lora_", 1)[0] for n, _ in model.named_parameters() if ".lora_" in n})
    expected = sorted(f"model.language_model.layers.{i}.{block}.{proj}" for i in range(LAYERS)
                      for block, projs in (("self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")),
                                           ("mlp", ("gate_proj", "up_proj", "down_proj"))) for proj in projs)
    assert len(wrapped) == 252 and wrapped == expected
    assert not any(re.search(r"visual|merger|lm_head", n) for n, _ in model.named_parameters() if ".lora_" in n)
    trainable, total = adapters.parameter_counts(model)
    t = config.text_config
    hid, hq, hkv, inter = t.hidden_size, t.num_attention_heads * t.head_dim, t.num_key_value_heads * t.head_dim, t.intermediate_size
    assert trainable == LAYERS * LORA_R * (2 * (hid + hq) + 2 * (hid + hkv) + 3 * (hid + inter)) == 33_030_144
    assert total - trainable == 4_437_815_808  # the published 4B (tied embeddings counted once)


def test_backbone_info_on_the_real_directory_with_a_stage_config(qwen_files):
    """The README's command: the structure of the 4B, and what one UCF-Crime subclip costs at stage 2's budget
    (16 frames of 320x240 at 76,800 pixels: 320x224, 8 x 14 x 20 / ... = 560 video tokens), with the whole prompt
    counted by the real processor and template."""
    out = subprocess.run([sys.executable, "-m", "vanguard", "backbone", "info", str(qwen_files), "--config",
                          "experiments/ucf_crime/stage2.yaml"], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert out.returncode == 0, out.stderr
    assert "per-frame pixel cap" not in out.stderr
    report = json.loads(out.stdout)
    assert report["text"]["layers"] == LAYERS and report["vision"]["depth"] == 24
    assert report["vision"]["deepstack"] == [5, 11, 17] and report["tied_embeddings"] is True
    sub = report["subclip"]
    assert (sub["frames"], sub["frame_pixels"], sub["budget_from"]) == (16, 76800, "experiments/ucf_crime/stage2.yaml")
    assert sub["resized"] == [320, 224] and sub["video_tokens"] == 8 * (224 // 32) * (320 // 32) == 560
    assert 560 + 100 < sub["prompt_tokens"] < 560 + 250  # timestamps, question, template around the video


def test_backbone_info_says_what_it_assumed_and_checks_the_8b_option(capsys):
    """Without a config it names its assumption; the 8B configuration (benchmarks/configs/qwen3_vl_8b.json, the
    annotation teacher's documented alternative) has untied embeddings, 27 vision blocks, deepstack [8, 16, 24]."""
    info(ROOT / "benchmarks/configs/qwen3_vl_8b.json", stage_config=ROOT / "experiments/ucf_crime/annotate.yaml")
    report = json.loads(capsys.readouterr().out)
    assert report["tied_embeddings"] is False and 8.7e9 < report["params"] < 8.8e9
    assert report["vision"]["depth"] == 27 and report["vision"]["deepstack"] == [8, 16, 24]
    assert report["text"]["hidden"] == 4096 and report["text"]["layers"] == LAYERS
    assert report["subclip"]["frame_pixels"] == 65536 and "prompt_tokens" not in report["subclip"]  # no processor
    info(ROOT / "benchmarks/configs/qwen3_vl_4b.json")
    assumed = json.loads(capsys.readouterr().out)["subclip"]
    assert assumed["budget_from"].startswith("assumed") and (assumed["frames"], assumed["frame_pixels"]) == (16, 16384)
    info(ROOT / "benchmarks/configs/qwen3_vl_4b.json", stage_config=ROOT / "experiments/ucf_crime/stage2.yaml",
         num_frames=32)
    longer = json.loads(capsys.readouterr().out)["subclip"]
    assert (longer["frames"], longer["frame_pixels"], longer["video_tokens"]) == (32, 76800, 1120)
    assert longer["budget_from"] == f"command line (num_frames); the rest from {ROOT / 'experiments/ucf_crime/stage2.yaml'}"
