"""Under SLURM (faked: SLURM_* variables, stub ``srun`` and ``scontrol`` first on PATH), the single-node sbatch
script: SIGUSR1 (what ``#SBATCH --signal=SIGUSR1@120`` sends before the time limit or on preemption) makes Lightning
write ``<default_root_dir>/hpc_ckpt_1.ckpt`` and call ``scontrol requeue <job id>``; running the same script again
(what the requeued job does, no ``--ckpt_path``) resumes from that checkpoint (docs/cluster.md, "Preemption")."""

from __future__ import annotations

import os
import signal

import pytest

from tests.cluster.probe import read_events
from tests.cluster.runs import finish, kill_hard, sbatch_command, slurm_env, stage2_config, start, wait_for
from vanguard.checkpoints import load_checkpoint

MAX_STEPS, EVERY, HOLD = 6, 2, 3  # last.ckpt at step 2, SIGUSR1 while waiting at step 3


@pytest.mark.slow
def test_sigusr1_saves_hpc_checkpoint_requeues_and_the_same_command_resumes(cluster_inputs, tmp_path):
    run = tmp_path / "run"
    config = stage2_config(run, cluster_inputs, max_steps=MAX_STEPS, every_n_steps=EVERY, hold_at_step=HOLD)
    env = {**slurm_env(tmp_path, job_id="4242"), "CONFIGS": str(config)}
    command = sbatch_command("train_stage.sbatch")
    stage_dir = run / "stage2"
    scontrol_log = tmp_path / "scontrol.log"

    log = tmp_path / "job-1.log"
    proc = start(command, env, log)
    wait_for(lambda: any(e["event"] == "hold" for e in read_events(run / "probe")), proc, log, what=f"step {HOLD}")
    first = read_events(run / "probe")
    assert first[0]["cluster_environment"] == "SLURMEnvironment" and first[0]["step"] == 0
    assert not list(stage_dir.glob("hpc_ckpt_*.ckpt"))
    os.kill(first[-1]["pid"], signal.SIGUSR1)  # SLURM signals the job step's tasks, not the batch shell
    wait_for(scontrol_log.exists, proc, log, what="scontrol requeue")
    assert scontrol_log.read_text().split("\n") == ["requeue 4242", ""]
    hpc = stage_dir / "hpc_ckpt_1.ckpt"
    assert hpc.is_file() and load_checkpoint(hpc)["global_step"] == HOLD
    assert load_checkpoint(stage_dir / "checkpoints" / "last.ckpt")["global_step"] == EVERY
    kill_hard(proc)  # the requeue ends the job: SLURM kills its processes

    # the requeued job runs the very same script again, same job id, no --ckpt_path
    log2 = tmp_path / "job-2.log"
    text = finish(start(command, {**env, "SLURM_RESTART_COUNT": "1"}, log2), log2)
    assert f"Restored all states from the checkpoint at {hpc}" in text
    resumed = read_events(run / "probe")[len(first) :]
    assert [e["event"] for e in resumed] == ["start", "end"]
    assert resumed[0]["step"] == HOLD  # from the hpc checkpoint (newer than last.ckpt), not from zero
    assert resumed[1]["step"] == MAX_STEPS
    assert load_checkpoint(stage_dir / "checkpoints" / "last.ckpt")["global_step"] == MAX_STEPS
    assert scontrol_log.read_text().count("requeue") == 1
    assert sorted(p.name for p in (run / "tensorboard" / "synthcrime").iterdir()) == ["stage2"]  # stable version


@pytest.mark.slow
def test_slurm_job_killed_without_warning_resumes_from_last_checkpoint(cluster_inputs, tmp_path):
    """A node failure or OOM kill sends no SIGUSR1, so there is no hpc checkpoint; the requeued (or resubmitted)
    job still resumes from ``checkpoints/last.ckpt`` (vanguard.checkpoints.slurm_resume_path), not from zero."""
    run = tmp_path / "run"
    config = stage2_config(run, cluster_inputs, max_steps=MAX_STEPS, every_n_steps=EVERY, hold_at_step=HOLD)
    env = {**slurm_env(tmp_path, job_id="4343"), "CONFIGS": str(config)}
    command = sbatch_command("train_stage.sbatch", "--trainer.max_steps", "4")  # extra args reach `vanguard fit`
    log = tmp_path / "job-1.log"
    proc = start(command, env, log)
    wait_for(lambda: any(e["event"] == "hold" for e in read_events(run / "probe")), proc, log, what=f"step {HOLD}")
    kill_hard(proc)
    assert not list((run / "stage2").glob("hpc_ckpt_*.ckpt"))

    log2 = tmp_path / "job-2.log"
    text = finish(start(command, {**env, "SLURM_RESTART_COUNT": "1"}, log2), log2)
    last = run / "stage2" / "checkpoints" / "last.ckpt"
    assert f"Restored all states from the checkpoint at {last}" in text
    resumed = read_events(run / "probe")[2:]
    assert [(e["event"], e["step"]) for e in resumed] == [("start", EVERY), ("end", 4)]
    assert not (tmp_path / "scontrol.log").exists()  # nothing asked for a requeue
