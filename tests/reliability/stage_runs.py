"""The real experiment configs (resolved from base.yaml + the stage file), shrunk to tiny runs under a temp folder, and ``python -m vanguard`` subprocesses on
them: what the reliability tests of training settings drive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT
from vanguard.configs import experiment_configs, resolved_config

#: callbacks a tiny run does without (images, frame-level metrics) and the checkpoint that needs validation
_DROPPED = ("callbacks.TensorBoardVisuals", "callbacks.FrameLevelEvaluation")


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")


def stage_config(path: Path, stage: str, run: Path, backbone: Path, shards: Path, max_steps: int = 2,
                 every_n_train_steps: int = 1, curriculum: dict | None = None, model: dict | None = None) -> Path:
    """SynthCrime's resolved ``<stage>`` config (``base.yaml`` + ``<stage>.yaml``) with the tiny ``backbone``, ``shards``, its run folder ``run``
    (checkpoints in ``run/checkpoints``, TensorBoard version ``run.name`` under ``run.parent/tb``), no validation, a ``last.ckpt``
    every ``every_n_train_steps``; ``curriculum`` and ``model`` update those init args. Written to ``path``."""
    cfg = resolved_config(experiment_configs(ROOT / "experiments" / "synthcrime", stage))
    cfg["trainer"].update(default_root_dir=str(run), max_epochs=-1, max_steps=max_steps, limit_val_batches=0,
                          log_every_n_steps=1, enable_progress_bar=False)
    cfg["trainer"]["logger"]["init_args"].update(save_dir=str(run.parent / "tb"), version=run.name)
    callbacks = []
    for cb in cfg["trainer"]["callbacks"]:
        if cb["class_path"] in _DROPPED or cb.get("init_args", {}).get("monitor"):
            continue
        if cb["class_path"] == "lightning.pytorch.callbacks.ModelCheckpoint":
            cb["init_args"].update(dirpath=str(run / "checkpoints"), every_n_train_steps=every_n_train_steps)
        if cb["class_path"] == "callbacks.Curriculum":
            cb["init_args"].update(curriculum or {})
        callbacks.append(cb)
    cfg["trainer"]["callbacks"] = callbacks
    # the data takes path, frame_pixels and num_frames from the backbone (the CLI links them)
    cfg["model"]["init_args"]["backbone"]["init_args"].update(path=str(backbone), frame_pixels=64 * 64, num_frames=4)
    cfg["model"]["init_args"].pop("cache_features", None)
    cfg["model"]["init_args"].update(model or {})
    cfg["data"]["init_args"].update(shards=str(shards), batch_size=2, num_workers=0, shuffle_buffer=4,
                                    batches_per_epoch=4)
    path.write_text(yaml.safe_dump(cfg))
    return path


def vanguard(*args: str, cwd: Path, wait: bool = True):
    """``python -m vanguard ARGS`` in a subprocess (stdout and stderr together): the CompletedProcess, or the
    Popen when ``wait`` is False."""
    cmd = [sys.executable, "-m", "vanguard", *map(str, args)]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)


def one_error_line(output: str, command: str) -> str:
    """The single ``vanguard COMMAND: error:`` line of a refused run (asserting there is one and no traceback)."""
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if "error:" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"vanguard {command}: error: "), output[-3000:]
    return errors[0]
