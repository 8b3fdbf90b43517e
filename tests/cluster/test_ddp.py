"""Stage 2 under 2-process CPU DDP (gloo) with the real configs' strategy (``find_unused_parameters: false``):
the run finishes, every trainable weight (LoRA, head) got a gradient at every step, and both ranks end with
identical weights that differ from where they started (docs/cluster.md, "Multi-node" and "Without SLURM")."""

from __future__ import annotations

import pytest

from tests.cluster.probe import read_events
from tests.cluster.runs import base_env, finish, fit_command, sbatch_command, slurm_env, stage2_config, start

MAX_STEPS = 4


def _launch(how: str, config, tmp_path):
    if how == "slurm-2-nodes":  # the multi-node sbatch script, 2 nodes x 1 task (stub srun starts both tasks)
        env = {**slurm_env(tmp_path, job_id="5151", nodes=2, tasks_per_node=1), "CONFIGS": str(config)}
        return sbatch_command("train_stage_multinode.sbatch"), env
    return fit_command(config, "--trainer.devices", "2"), base_env()  # Lightning starts the second process


@pytest.mark.slow
@pytest.mark.parametrize("how", ["slurm-2-nodes"])  # the local --trainer.devices 2 path is the same DDP code
def test_two_process_ddp_stage2_ends_with_identical_weights(how, cluster_inputs, tmp_path):
    run = tmp_path / "run"
    config = stage2_config(run, cluster_inputs, max_steps=MAX_STEPS, every_n_steps=2)
    command, env = _launch(how, config, tmp_path)
    log = tmp_path / "run.log"
    finish(start(command, env, log), log, timeout=150)
    ends = []
    for rank in (0, 1):
        events = read_events(run / "probe", rank)
        assert [e["event"] for e in events] == ["start", "end"], events
        start_event, end = events
        assert start_event["world_size"] == 2
        expected_env = "SLURMEnvironment" if how.startswith("slurm") else "LightningEnvironment"
        assert start_event["cluster_environment"] == expected_env
        assert end["step"] == MAX_STEPS and end["no_grad"] == [] and end["trainable"] > 0
        ends.append(end)
    assert ends[0]["start_digest"] == ends[1]["start_digest"]
    assert ends[0]["digest"] == ends[1]["digest"]  # gradients were all-reduced every step
    assert ends[0]["digest"] != ends[0]["start_digest"]  # and training changed the weights
    assert (run / "stage2" / "export" / "adapter" / "adapter_model.safetensors").is_file()
