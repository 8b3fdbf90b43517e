"""Inputs for the cluster tests: real SynthCrime-like shards, the unit tiny backbone and a stage-1 export."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cluster_inputs(tiny_backbone_dir, tmp_path_factory) -> dict:
    """``{"backbone": dir, "shards": root, "stage1_export": dir}``: SynthCrime-like shards and a stage-1 export
    written by ``vanguard.checkpoints.export_stage`` (the head stage 2 starts from)."""
    import torch

    from tests.helpers.configs import experiment_config
    from tests.helpers.shards import write_test_shards
    from vanguard.backbone import Backbone
    from vanguard.checkpoints import export_stage
    from vanguard.stages import ClassifierWarmup

    root = tmp_path_factory.mktemp("cluster_inputs")
    write_test_shards(root / "shards", n_videos=4, clips_per_video=2, shards_per_split=2, splits=("train", "val"))
    # the head's input size follows the pooling of the stage-2 config the runs derive from
    stage2 = experiment_config("synthcrime", "stage2")
    pooling = stage2["model"]["init_args"]["backbone"]["init_args"]["pooling"]
    torch.manual_seed(0)
    backbone = Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=4096, pooling=pooling)
    stage1 = ClassifierWarmup(backbone, head_hidden=32)
    stage1.prepare()  # freeze the backbone as stage 1 does: the export then holds the head only
    export = export_stage(stage1, root / "stage1" / "export")
    return {"backbone": str(tiny_backbone_dir), "shards": str(root / "shards"), "stage1_export": str(export)}


@pytest.fixture(autouse=True)
def _kill_leftover_runs():
    """A failed test must not leave training processes behind."""
    from tests.cluster.runs import STARTED, kill_hard

    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            kill_hard(proc)
