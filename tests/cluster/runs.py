"""Launchers for the cluster tests: stage-2 configs derived from SynthCrime's resolved stage 2 (``base.yaml`` +
``stage2.yaml``; only paths and sizes change; the DDP strategy comes from UCF-Crime's resolved stage 2), and real
``python -m vanguard fit`` subprocesses with one torch thread, started directly or through
``experiments/slurm/*.sbatch`` with stub ``srun``/``scontrol`` (tests/cluster/stubs) first on PATH.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from vanguard.configs import experiment_configs, resolved_config

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
STUBS = Path(__file__).parent / "stubs"


def stage2_config(run: Path, inputs: dict, *, max_steps: int = 8, every_n_steps: int = 2, hold_at_step=None) -> Path:
    """A small stage-2 config under ``run``: SynthCrime's stage 2 (base.yaml + stage2.yaml) with test paths and sizes, the
    real configs' DDP strategy, no validation, and a :class:`tests.cluster.probe.RunProbe` writing to ``run/probe``.
    """
    cfg = resolved_config(experiment_configs(EXPERIMENTS / "synthcrime", "stage2"))
    ucf = resolved_config(experiment_configs(EXPERIMENTS / "ucf_crime", "stage2"))
    stage_dir = run / "stage2"
    trainer = cfg["trainer"]
    trainer.update(
        default_root_dir=str(stage_dir),
        accelerator="cpu",
        strategy=ucf["trainer"]["strategy"],
        max_steps=max_steps,
        limit_val_batches=0,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer["logger"]["init_args"]["save_dir"] = str(run / "tensorboard")
    callbacks = []
    for cb in trainer["callbacks"]:
        args = cb.setdefault("init_args", {})
        if cb["class_path"] == "callbacks.Curriculum":
            args["init_from"] = inputs["stage1_export"]
        elif cb["class_path"].endswith("ModelCheckpoint"):
            if args.get("monitor"):
                continue  # monitors validation metrics; these runs do not validate
            args.update(dirpath=str(stage_dir / "checkpoints"), every_n_train_steps=every_n_steps)
        callbacks.append(cb)
    probe = {"out_dir": str(run / "probe"), "hold_at_step": hold_at_step}
    callbacks.append({"class_path": "tests.cluster.probe.RunProbe", "init_args": probe})
    trainer["callbacks"] = callbacks
    model = cfg["model"]["init_args"]
    model["backbone"]["init_args"].update(path=inputs["backbone"], frame_pixels=4096)
    model.update(head_hidden=32, max_new_tokens=8, generate_val_batches=0, warmup_steps=2)
    cfg["data"]["init_args"].update(
        shards=inputs["shards"],  # the backbone's path and frame_pixels reach the data through the CLI's link
        batch_size=2,
        eval_batch_size=2,
        num_workers=0,
        shuffle_buffer=8,
        batches_per_epoch=3,
    )
    run.mkdir(parents=True, exist_ok=True)
    path = run / "stage2.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env() -> dict[str, str]:
    """The caller's environment without any SLURM / torchrun variables (CI may itself run under SLURM), one torch
    thread, the worktree importable."""
    drop = ("SLURM_", "MASTER_", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "RANK", "GROUP_RANK", "TORCHELASTIC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env


def slurm_env(tmp: Path, job_id: str, nodes: int = 1, tasks_per_node: int = 1) -> dict[str, str]:
    """A faked SLURM batch job on this machine: stub ``srun`` (starts the tasks with their SLURM ids) and
    ``scontrol`` (appends its arguments to ``tmp/scontrol.log``) first on PATH; the sbatch script runs from the
    repository (``SLURM_SUBMIT_DIR``) with this interpreter (``PYTHON``)."""
    env = base_env()
    env.update(
        PATH=f"{STUBS}{os.pathsep}{env['PATH']}",
        SCONTROL_LOG=str(tmp / "scontrol.log"),
        PYTHON=sys.executable,
        SLURM_SUBMIT_DIR=str(ROOT),
        SLURM_JOB_ID=job_id,
        SLURM_JOB_NAME="vanguard-test",
        SLURM_JOB_NUM_NODES=str(nodes),
        SLURM_NNODES=str(nodes),
        SLURM_NTASKS=str(nodes * tasks_per_node),
        SLURM_NTASKS_PER_NODE=str(tasks_per_node),
        SLURM_NODELIST="127.0.0.1",
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
        SLURM_NODEID="0",
        MASTER_PORT=str(free_port()),
    )
    return env


def fit_command(config: Path, *extra: str) -> list[str]:
    """``python -m vanguard fit --config CONFIG [extra]``: the command docs/cluster.md gives."""
    return [sys.executable, "-m", "vanguard", "fit", "--config", str(config), *extra]


def sbatch_command(script: str, *extra: str) -> list[str]:
    """Run ``experiments/slurm/<script>`` the way a SLURM batch job does (bash, in the submit dir)."""
    return ["bash", str(EXPERIMENTS / "slurm" / script), *extra]


STARTED: list[subprocess.Popen] = []  # killed after each test if still running (tests/cluster/conftest.py)


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start a run in its own process group (so a test can kill all of it), stdout+stderr to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(proc)
    return proc


def finish(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """Wait for a run; fail with its log's tail unless it exits 0."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"run timed out after {timeout} s:\n{log.read_text()[-4000:]}")
    text = log.read_text()
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{text[-4000:]}"
    return text


def wait_for(predicate, proc: subprocess.Popen, log: Path, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"run exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def kill_hard(proc: subprocess.Popen) -> None:
    """kill -9 the whole run (its process group), as a crash, OOM kill or SLURM's final SIGKILL would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
