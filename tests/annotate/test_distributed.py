"""Real processes: two CPU ranks (gloo) split the work, and a killed run is finished by running it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.annotate.helpers import ground_truth, read_samples
from tests.helpers.annotation_videos import WINDOWS, make_records
from vanguard.annotate.records import save_records

ROOT = Path(__file__).resolve().parents[2]


def _command(records_file: Path, out: Path, *extra: str) -> list[str]:
    w = WINDOWS
    return [sys.executable, "-m", "vanguard", "annotate", "--out", str(out), "--source.records_file", str(records_file),
            f"--windows.length={w.length}", f"--windows.stride={w.stride}", f"--windows.num_frames={w.num_frames}",
            "--trainer.accelerator=cpu", *extra]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


@pytest.mark.slow
def test_two_ranks_write_disjoint_shards_covering_every_subclip(tmp_path):
    records = make_records(tmp_path / "v", n_train=3, n_val=1, n_test=3)
    save_records(tmp_path / "records.json", records)
    out = tmp_path / "shards"
    cmd = _command(tmp_path / "records.json", out, "--trainer.devices=2", "--trainer.strategy=ddp", "--maxcount=2")
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_samples(out)
    keys = Counter((split, key) for split, key, *_ in rows)
    assert keys == Counter(ground_truth(records, WINDOWS).keys())  # together: every subclip, exactly once
    by_rank: dict[str, set] = {}
    for _, _key, meta, _, shard in rows:
        by_rank.setdefault(shard.split("-")[1], set()).add(meta["video_id"])
    assert set(by_rank) == {"r0", "r1"}  # both ranks wrote shards
    assert not by_rank["r0"] & by_rank["r1"]  # disjoint: a video is annotated by one rank only
    stats = json.loads((out / "stats.json").read_text())
    assert sum(stats["samples"].values()) == len(rows)


@pytest.mark.slow
def test_killed_run_is_finished_by_a_rerun_without_duplicates(tmp_path):
    records = make_records(tmp_path / "v", n_train=8, n_val=2, n_test=6)
    save_records(tmp_path / "records.json", records)
    out = tmp_path / "shards"
    # a slow scripted teacher (0.1 s per subclip, 64 subclips) so the kill lands in the middle of the work
    cmd = _command(tmp_path / "records.json", out, "--maxcount=3", "--teacher=ScriptedTeacher",
                   "--teacher.delay_s=0.1")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*/shard-*.tar"))) < 2:
        time.sleep(0.05)
    time.sleep(0.35)  # land somewhere inside the next shard
    os.killpg(proc.pid, signal.SIGKILL)  # a real kill: no cleanup runs
    proc.wait()
    partial = list(out.glob("*/shard-*.tar"))
    assert partial and proc.returncode == -signal.SIGKILL
    assert not (out / "stats.json").exists()  # it did not finish
    done_before = len(read_samples(out))
    assert 0 < done_before < len(ground_truth(records, WINDOWS))

    proc = subprocess.run(_command(tmp_path / "records.json", out, "--maxcount=3"), cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    keys = Counter((split, key) for split, key, *_ in read_samples(out))
    assert keys == Counter(ground_truth(records, WINDOWS).keys())  # every subclip exactly once
    assert not list(out.rglob(".*.tmp"))  # no stray temp files
    stats = json.loads((out / "stats.json").read_text())
    assert sum(stats["samples"].values()) == sum(keys.values())
