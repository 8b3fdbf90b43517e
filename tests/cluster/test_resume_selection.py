"""Which checkpoint a launch without ``--ckpt_path`` resumes from (vanguard.checkpoints.slurm_resume_path)."""

from __future__ import annotations

import os

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from vanguard.checkpoints import slurm_resume_path

SLURM = {
    "SLURM_NTASKS": "1",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_JOB_ID": "77",
    "SLURM_JOB_NAME": "vanguard-test",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}


def _trainer(root) -> Trainer:
    ckpt = ModelCheckpoint(dirpath=str(root / "checkpoints"), save_last=True, save_top_k=0)
    return Trainer(default_root_dir=str(root), accelerator="cpu", devices=1, logger=False, callbacks=[ckpt])


def _touch(path, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (mtime, mtime))


@pytest.fixture
def slurm(monkeypatch):
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)


def test_newest_of_hpc_and_last_wins_under_slurm(slurm, tmp_path):
    trainer = _trainer(tmp_path)
    assert slurm_resume_path(trainer) is None  # a first launch starts fresh
    _touch(tmp_path / "checkpoints" / "last.ckpt", 1_000)
    assert slurm_resume_path(trainer) == str(tmp_path / "checkpoints" / "last.ckpt")  # no hpc: Lightning would restart
    _touch(tmp_path / "hpc_ckpt_1.ckpt", 2_000)
    assert slurm_resume_path(trainer) == str(tmp_path / "hpc_ckpt_1.ckpt")
    _touch(tmp_path / "checkpoints" / "last.ckpt", 3_000)  # trained on after resuming from hpc_ckpt_1
    assert slurm_resume_path(trainer) == str(tmp_path / "checkpoints" / "last.ckpt")
    _touch(tmp_path / "hpc_ckpt_2.ckpt", 4_000)
    assert slurm_resume_path(trainer) == str(tmp_path / "hpc_ckpt_2.ckpt")


def test_outside_slurm_nothing_is_resumed_implicitly(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    _touch(tmp_path / "checkpoints" / "last.ckpt", 1_000)
    _touch(tmp_path / "hpc_ckpt_1.ckpt", 2_000)
    assert slurm_resume_path(_trainer(tmp_path)) is None
