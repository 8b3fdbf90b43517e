"""A real 2-process CPU DDP run (gloo) over shards with an odd number of shards: no hang, equal training batch
counts, every validation sample exactly once across ranks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.shards import write_test_shards

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_fit_finishes_with_equal_batches_and_exact_validation(tmp_path, tiny_backbone_dir):
    data = write_test_shards(tmp_path / "shards", n_videos=5, clips_per_video=3, splits=("train", "val"),
                             shards_per_split=3, corrupt=1)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK"):
        env.pop(var, None)
    script = Path(__file__).with_name("ddp_run.py")
    try:
        proc = subprocess.run([sys.executable, str(script), str(tmp_path / "shards"), str(tiny_backbone_dir), str(out)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"DDP run hung (240 s): {str(err.stderr)[-2000:]}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    expected = len(data["splits"]["train"]["keys"]) // (2 * 2)  # default batches_per_epoch: samples // (bs * ws)
    assert ranks[0]["train_batches"] == ranks[1]["train_batches"] == {"0": expected, "1": expected}
    assert ranks[0]["global_step"] == 2 * expected
    for epoch in ("0", "1"):
        seen = ranks[0]["val_keys"][epoch] + ranks[1]["val_keys"][epoch]
        assert Counter(seen) == Counter(data["splits"]["val"]["valid_keys"])
    assert sum(r["skip_counts"]["val"]["skipped"] for r in ranks) == 2  # one corrupt sample, two epochs
