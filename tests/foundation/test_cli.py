"""Issue 2: `python -m vanguard` lists its subcommands; fit --help shows model and data; bad paths are one line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def _run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "vanguard", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_help_lists_subcommands():
    out = _run("--help")
    assert out.returncode == 0
    for name in ("fit", "validate", "test", "predict", "backbone", "data", "annotate", "evaluate", "report"):
        assert f"  {name} " in out.stdout


def test_fit_help_shows_model_and_data_options():
    out = _run("fit", "--help")
    assert out.returncode == 0
    assert "--model CONFIG | CLASS_PATH_OR_NAME" in out.stdout and "--data CONFIG | CLASS_PATH_OR_NAME" in out.stdout
    assert "--ckpt_path" in out.stdout


def test_backbone_tiny_cli_and_wrong_path(tmp_path):
    out = _run("backbone", "tiny", str(tmp_path / "tiny"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "tiny" / "model.safetensors").is_file()


def test_wrong_backbone_path_in_a_config_is_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model:\n  class_path: tests.foundation.cli_modules.HoldsBackbone\n  init_args:\n    backbone:\n"
        "      class_path: vanguard.backbone.Backbone\n      init_args: {path: /nonexistent/qwen3-vl-4b}\n"
        "data: {class_path: tests.foundation.cli_modules.NoData}\n"
    )
    out = _run("fit", "--config", str(config))
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "/nonexistent/qwen3-vl-4b" in errors[0] and "does not exist" in errors[0]
    assert "Traceback" not in out.stderr
