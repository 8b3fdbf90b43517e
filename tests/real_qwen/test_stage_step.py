"""One stage-2 step and one constrained generation through ``python -m vanguard fit --config
experiments/ucf_crime/base.yaml --config experiments/ucf_crime/stage2.yaml`` (resolved), the command a user with the real weights runs, on the reduced copy of the real
directory (real tokenizer, template, processors and configuration structure; narrow widths, random weights) and
UCF-Crime-sized shards (16 frames of 320x240, stored at the 76,800-pixel budget as annotation stores them).

Only what a CPU in CI needs is changed in the config: the paths the user fills in, CPU and fp32, one step, one
validation batch (which generates), one data worker, no stage-1 export to start from."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.shards import write_test_shards
from vanguard.configs import experiment_configs, resolved_config


def stage2_config(tmp_path, backbone: str, shards: str):
    cfg = resolved_config(experiment_configs(ROOT / "experiments/ucf_crime", "stage2"))
    trainer = cfg["trainer"]
    trainer.update(accelerator="cpu", devices=1, strategy="auto", precision="32-true", max_steps=1, max_epochs=1,
                   limit_val_batches=1, log_every_n_steps=1, enable_progress_bar=False, default_root_dir=str(tmp_path / "stage2"),
                   logger={"class_path": "lightning.pytorch.loggers.CSVLogger",
                           "init_args": {"save_dir": str(tmp_path / "logs"), "name": "stage2", "version": "v"}})
    for callback in trainer["callbacks"]:
        args = callback.get("init_args", {})
        if callback["class_path"] == "callbacks.Curriculum":
            args["init_from"] = None  # stage 1's export: not made here
        if "dirpath" in args:
            args["dirpath"] = str(tmp_path / "stage2" / "checkpoints")
    trainer["callbacks"] = [c for c in trainer["callbacks"] if "TensorBoard" not in c["class_path"]]
    backbone_args = cfg["model"]["init_args"]["backbone"]["init_args"]
    backbone_args.update(path=backbone, dtype="float32")  # activation checkpointing, pooling, budget: as configured
    cfg["model"]["init_args"]["max_new_tokens"] = 64
    cfg["data"]["init_args"].update(shards=shards, batch_size=2, eval_batch_size=2,
                                    num_workers=1, batches_per_epoch=1, shuffle_buffer=4)
    path = tmp_path / "stage2.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_stage2_step_and_constrained_generation_through_the_ucf_crime_config(reduced_dir, tmp_path):
    shards = tmp_path / "shards"
    write_test_shards(shards, n_videos=2, clips_per_video=1, splits=("train", "val"), shards_per_split=1,
                      frames_per_clip=16, stride=6, width=320, height=240, fps=30.0, frame_pixels=76800)
    config = stage2_config(tmp_path, str(reduced_dir), str(shards))
    out = subprocess.run([sys.executable, "-m", "vanguard", "fit", "--config", str(config)], capture_output=True,
                         text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "per-frame pixel cap" not in log and "cap_pixels_per_frame" not in log  # main process and the worker
    with open(tmp_path / "logs" / "stage2" / "v" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    logged = {k: float(v) for row in rows for k, v in row.items() if v}
    assert logged["train/loss_lm"] > 0 and logged["step"] >= 0
    # the validation batch was answered under the grammar over the real vocabulary: every answer parses
    assert logged["val/invalid_rate"] == 0.0
    export = tmp_path / "stage2" / "export"
    assert (export / "stage.json").is_file() and (export / "adapter" / "adapter_model.safetensors").is_file()
