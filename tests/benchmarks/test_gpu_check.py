"""``make gpu-check`` (benchmarks/gpu_check.py): skips cleanly without CUDA; its CPU smoke mode runs every part at
toy sizes; on a CUDA machine (marked ``gpu``) the real check runs and its figures are sane."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks import gpu_check
from tests.conftest import ROOT


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=timeout)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run, not skip")
def test_without_cuda_it_says_it_skipped_and_exits_0(tmp_path, capsys):
    assert gpu_check.main(["--work", str(tmp_path / "gpu_check")]) == 0
    assert capsys.readouterr().out.startswith("gpu_check: skipped: no CUDA device")
    assert not (tmp_path / "gpu_check").exists()


def _check_report(work, device: str) -> dict:
    report = json.loads((work / "gpu_check.json").read_text())
    assert report["device"].startswith(device)
    assert list(report["demo_world"]) == ["stage1", "stage2", "stage3"]
    for stage, figures in report["demo_world"].items():
        assert figures["steps"] >= 1 and figures["step_s"] > 0 and figures["samples_per_s"] > 0, stage
        assert figures["peak_gb"] > 0, stage
    assert report["demo_world"]["stage3"]["invalid"] == 0.0  # constrained answers always parse
    real = report["real_width"]
    assert real is not None and real["valid"] == real["answers"] >= 1 and real["step_s"] > 0
    assert "| stage1 |" in (work / "gpu_check.md").read_text()
    return report


@pytest.mark.slow
def test_cpu_smoke_runs_every_part_at_toy_sizes(tmp_path, qwen_files):
    """In this process (the imports are paid already): every command of the check, one step each."""
    assert gpu_check.main(["--device", "cpu", "--quick", "--work", str(tmp_path / "gpu_check"), "--qwen_files",
                           str(qwen_files)]) == 0
    report = _check_report(tmp_path / "gpu_check", "cpu")
    assert report["real_width"]["params"] < 50e6  # narrow widths on CPU


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_check_on_cuda(tmp_path, qwen_files):
    out = _run("--work", str(tmp_path / "gpu_check"), "--qwen_files", str(qwen_files), timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    report = _check_report(tmp_path / "gpu_check", "cuda")
    assert 0.5e9 < report["real_width"]["params"] < 1e9  # every real width, 2 layers and 2 vision blocks
    print(out.stdout[-3000:])
