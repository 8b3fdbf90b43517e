"""Outside SLURM: kill -9 in the middle of a stage-2 run, relaunch with ``--ckpt_path last``; the run continues
from the saved step and ends at the same total step count as an uninterrupted run (docs/cluster.md, "Resuming
outside SLURM")."""

from __future__ import annotations

import pytest

from tests.cluster.probe import read_events
from tests.cluster.runs import base_env, finish, fit_command, kill_hard, stage2_config, start, wait_for
from vanguard.checkpoints import load_checkpoint

MAX_STEPS, EVERY, HOLD = 6, 2, 3  # step checkpoints at 2, 4, 6; killed while waiting at step 3


@pytest.mark.slow
def test_kill9_then_ckpt_path_last_continues_to_the_same_total(cluster_inputs, tmp_path):
    env = base_env()
    # an uninterrupted reference run, alongside
    straight = stage2_config(tmp_path / "straight", cluster_inputs, max_steps=MAX_STEPS, every_n_steps=EVERY)
    reference = start(fit_command(straight), env, tmp_path / "straight.log")

    # the same run, killed -9 while it waits at step 3 (last.ckpt holds step 2)
    run = tmp_path / "killed"
    config = stage2_config(run, cluster_inputs, max_steps=MAX_STEPS, every_n_steps=EVERY, hold_at_step=HOLD)
    log = tmp_path / "killed.log"
    proc = start(fit_command(config), env, log)
    wait_for(lambda: any(e["event"] == "hold" for e in read_events(run / "probe")), proc, log, what=f"step {HOLD}")
    last = run / "stage2" / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["global_step"] == EVERY
    kill_hard(proc)
    events = read_events(run / "probe")
    assert [e["event"] for e in events] == ["start", "hold"]  # no clean end
    assert events[0]["cluster_environment"] == "LightningEnvironment"  # a plain local run: no SLURM handling
    assert not list((run / "stage2").glob("hpc_ckpt_*.ckpt"))

    # relaunch: the same command + --ckpt_path last
    log2 = tmp_path / "resumed.log"
    text = finish(start(fit_command(config, "--ckpt_path", "last"), env, log2), log2)
    assert "Restored all states from the checkpoint" in text and "last.ckpt" in text
    finish(reference, tmp_path / "straight.log")
    straight_last = load_checkpoint(tmp_path / "straight" / "stage2" / "checkpoints" / "last.ckpt")
    assert straight_last["global_step"] == MAX_STEPS
    resumed = read_events(run / "probe")[2:]
    assert [e["event"] for e in resumed] == ["start", "end"]
    assert resumed[0]["step"] == EVERY  # continued from the saved step, not from zero
    assert resumed[1]["step"] == MAX_STEPS == read_events(tmp_path / "straight" / "probe")[-1]["step"]
    assert load_checkpoint(last)["global_step"] == MAX_STEPS
    # one logger version for both launches, and its config.yaml was overwritten by the relaunch, not refused
    versions = run / "tensorboard" / "synthcrime"
    assert sorted(p.name for p in versions.iterdir()) == ["stage2"]
    assert "ckpt_path: last" in (versions / "stage2" / "config.yaml").read_text()
