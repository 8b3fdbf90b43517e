"""Faults: processes killed (SIGTERM, SIGKILL) during annotation / shard writing / training, a full disk during a
shard or checkpoint write, a non-finite loss. Each ends with no partial file under a name a reader would take, and
a re-run completes.

SIGKILL during annotation and shard writing is tests/annotate/test_distributed.py
(test_killed_run_is_finished_by_a_rerun_without_duplicates); the orphan-record / temp-shard recovery paths are
tests/annotate/test_recovery_and_tools.py.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from tests.annotate.helpers import ground_truth, read_samples
from tests.conftest import ROOT
from tests.helpers.configs import experiment_config
from tests.helpers.shards import write_test_shards
from vanguard.annotate.records import save_records
from vanguard.checkpoints import load_checkpoint

torch.set_num_threads(1)


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")


def _wait_for(predicate, proc, timeout: float = 240.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"process ended (rc {proc.returncode}) before the fault could be injected:\n"
                                 f"{out[-3000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the run to make progress")


# ---- annotation ---------------------------------------------------------------------------------------------


def _annotate_cmd(records_file: Path, out: Path, *extra: str) -> list[str]:
    from tests.annotate.conftest import WINDOWS as w

    return [sys.executable, "-m", "vanguard", "annotate", "--out", str(out), "--source.records_file", str(records_file),
            f"--windows.length={w.length}", f"--windows.stride={w.stride}", f"--windows.num_frames={w.num_frames}",
            "--trainer.accelerator=cpu", "--maxcount=3", *extra]


@pytest.mark.slow
def test_sigterm_during_annotation_leaves_whole_shards_and_a_rerun_completes(tmp_path):
    from tests.annotate.conftest import WINDOWS, make_records

    records = make_records(tmp_path / "v", n_train=8, n_val=2, n_test=6)
    save_records(tmp_path / "records.json", records)
    out = tmp_path / "shards"
    proc = subprocess.Popen(_annotate_cmd(tmp_path / "records.json", out, "--teacher=ScriptedTeacher",
                                          "--teacher.delay_s=0.1"),
                            cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    _wait_for(lambda: len(list(out.glob("*/shard-*.tar"))) >= 2, proc)
    time.sleep(0.3)  # inside the next shard
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output[-2000:]  # stopped, not finished
    assert "Traceback" not in output, output[-3000:]
    assert "SIGTERM" in output and "run it again" in output, output[-2000:]
    assert not (out / "stats.json").exists()
    before = read_samples(out)  # every visible shard reads back whole and valid (vanguard.schema.decode)
    assert 0 < len(before) < len(ground_truth(records, WINDOWS))

    rerun = subprocess.run(_annotate_cmd(tmp_path / "records.json", out), cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    keys = Counter((split, key) for split, key, *_ in read_samples(out))
    assert keys == Counter(ground_truth(records, WINDOWS).keys())  # every subclip exactly once
    assert not list(out.rglob(".*.tmp"))


def test_full_disk_during_a_shard_write_leaves_no_partial_shard_and_a_rerun_completes(tmp_path, monkeypatch):
    """ENOSPC while the writer closes a shard (fsync / done record): the run fails with the OSError, no tar or
    record is left under a final name, and the next run (disk freed) redoes exactly the lost videos."""
    from tests.annotate.conftest import WINDOWS, make_records
    from tests.annotate.helpers import run_annotate
    from vanguard import io as vio

    records = make_records(tmp_path / "v", n_train=4, n_val=1, n_test=2)
    out = tmp_path / "shards"
    real_write_json = vio.write_json
    calls = {"n": 0}

    def full_disk(path, obj, indent=2):  # the second done record hits a full disk, after its tar was fsynced
        if "done" in Path(path).parts:
            calls["n"] += 1
            if calls["n"] == 2:
                with vio.atomic_open(path, "w") as fh:
                    fh.write("{")
                    raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_json(path, obj, indent=indent)

    monkeypatch.setattr("vanguard.annotate.writer.write_json", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_annotate(records, out, WINDOWS, maxcount=3)
    assert not list(out.rglob("done/*/.*.tmp"))  # the atomic write removed its temp file
    for split, _key, meta, mp4, _shard in read_samples(out):  # what is visible is whole
        assert mp4 and meta["split"] == split
    monkeypatch.setattr("vanguard.annotate.writer.write_json", real_write_json)
    run_annotate(records, out, WINDOWS, maxcount=3)
    keys = Counter((split, key) for split, key, *_ in read_samples(out))
    assert keys == Counter(ground_truth(records, WINDOWS).keys())
    assert not list(out.rglob(".*.tmp"))


def test_full_disk_during_an_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    """vanguard.io: a write that hits ENOSPC leaves the previous content and no temp file."""
    from vanguard.io import write_json

    target = tmp_path / "stats.json"
    write_json(target, {"v": 1})
    real_fsync = os.fsync

    def enospc(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", enospc)
    with pytest.raises(OSError, match="No space left"):
        write_json(target, {"v": 2})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert json.loads(target.read_text()) == {"v": 1} and list(tmp_path.iterdir()) == [target]


# ---- training -----------------------------------------------------------------------------------------------


def _fit_config(tmp: Path, backbone: Path, shards: Path) -> Path:
    """Stage 1 (real experiment file) on tiny shards, a checkpoint every 2 steps, a long max_steps to kill into."""
    cfg = experiment_config("synthcrime", "stage1")
    run = tmp / "run"
    cfg["trainer"].update(default_root_dir=str(run), max_epochs=-1, max_steps=100_000, limit_val_batches=0,
                          log_every_n_steps=1, enable_progress_bar=False)
    cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp / "tb")
    callbacks = []
    for cb in cfg["trainer"]["callbacks"]:
        if cb["class_path"] == "lightning.pytorch.callbacks.ModelCheckpoint":
            if cb["init_args"].get("monitor"):
                continue
            cb["init_args"].update(dirpath=str(run / "checkpoints"), every_n_train_steps=2)
        if cb["class_path"] == "callbacks.TensorBoardVisuals":
            continue
        callbacks.append(cb)
    cfg["trainer"]["callbacks"] = callbacks
    cfg["model"]["init_args"]["backbone"]["init_args"].update(path=str(backbone), frame_pixels=64 * 64, num_frames=4)
    cfg["model"]["init_args"]["cache_features"] = False
    cfg["data"]["init_args"].update(shards=str(shards), batch_size=2, num_workers=0, shuffle_buffer=4,
                                    batches_per_epoch=4)
    path = tmp / "stage1.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _step(ckpt: Path) -> int:
    try:
        return int(load_checkpoint(ckpt)["global_step"])
    except Exception:  # not there yet
        return -1


def _checkpoints_whole(folder: Path) -> list[int]:
    """Every file in the checkpoint folder is a whole checkpoint (no partial or temp file); their steps."""
    steps = []
    for path in sorted(folder.iterdir()):
        assert path.suffix == ".ckpt", f"stray file {path.name}"
        steps.append(int(load_checkpoint(path)["global_step"]))
    return steps


@pytest.mark.slow
def test_sigterm_then_sigkill_during_training_then_resume_completes(tmp_path, tiny_backbone_dir):
    write_test_shards(tmp_path / "shards", n_videos=2, clips_per_video=2, splits=("train",), shards_per_split=1)
    config = _fit_config(tmp_path, tiny_backbone_dir, tmp_path / "shards")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"

    def fit(*extra):
        return subprocess.Popen([sys.executable, "-m", "vanguard", "fit", "--config", str(config), *extra],
                                cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    proc = fit()
    _wait_for(lambda: _step(last) >= 4, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert "SIGTERM" in output and "--ckpt_path last" in output, output[-2000:]
    first = _step(last)
    assert first >= 4 and _checkpoints_whole(last.parent)

    proc = fit("--ckpt_path", "last")
    _wait_for(lambda: _step(last) >= first + 4, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # no cleanup at all
    proc.communicate(timeout=60)
    second = _step(last)
    assert second >= first + 4 and _checkpoints_whole(last.parent)

    done = subprocess.run([sys.executable, "-m", "vanguard", "fit", "--config", str(config), "--ckpt_path", "last",
                           f"--trainer.max_steps={second + 2}"], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _step(last) == second + 2 and (tmp_path / "run" / "export" / "head.safetensors").is_file()


def test_full_disk_during_a_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, backbone_stage, monkeypatch):
    """ENOSPC while Lightning writes a checkpoint: the error surfaces, the previous last.ckpt is intact, no temp
    file is left beside it."""
    import fsspec.implementations.local as local

    stage, fit = backbone_stage
    trainer = fit(stage, tmp_path, max_steps=2)
    ckpt_dir = tmp_path / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    before = last.read_bytes()

    real_write = local.LocalFileOpener.write

    def enospc(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.LocalFileOpener, "write", enospc)
    with pytest.raises(OSError, match="No space left"):
        trainer.save_checkpoint(last)
    monkeypatch.setattr(local.LocalFileOpener, "write", real_write)
    assert last.read_bytes() == before and sorted(p.name for p in ckpt_dir.iterdir()) == ["last.ckpt"]


@pytest.fixture
def backbone_stage(tiny_backbone_dir):
    """A fresh stage 1 on the tiny backbone, and tests/stages' ``fit_stage(stage, root, max_steps=...)`` (synthetic
    clips, a ``last.ckpt`` in ``root/checkpoints`` every step)."""
    from tests.stages.synth_subclips import fit_stage
    from vanguard.backbone import Backbone
    from vanguard.stages import ClassifierWarmup

    stage = ClassifierWarmup(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64), cache_features=False)
    return stage, fit_stage


def test_non_finite_loss_stops_training_with_a_clear_error(tmp_path, backbone_stage):
    """A NaN loss (here: a poisoned head weight) stops the run with one VanguardError naming the step and the
    losses, BEFORE the optimizer step, so the last checkpoint still holds finite weights to resume from."""
    from vanguard.errors import NonFiniteLossError, VanguardError

    stage, fit = backbone_stage
    fit(stage, tmp_path / "a", max_steps=1)
    with torch.no_grad():
        next(stage.head.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss at step \d+ .*cls=nan") as err:
        fit(stage, tmp_path / "b", max_steps=2)
    assert isinstance(err.value, VanguardError)
