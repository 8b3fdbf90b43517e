"""Composed experiment configs: each folder's ``base.yaml`` + a short stage file resolve, through
``python -m vanguard fit ... --print_config``, to exactly the long single-file config it replaced
(tests/data/long_configs/, the files as they were before composition, callbacks in the composed order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from vanguard.configs import RUN_TIME_KEYS, experiment_configs, missing_base, resolved_config
from vanguard.errors import ConfigError

LONG = ROOT / "tests" / "data" / "long_configs"
COMPOSED = [(exp, path.stem) for exp in ("synthcrime", "ucf_crime") for path in sorted((LONG / exp).glob("*.yaml"))]


@pytest.mark.parametrize(("experiment", "name"), COMPOSED, ids=[f"{e}/{n}" for e, n in COMPOSED])
def test_composed_stage_resolves_to_its_long_form(experiment, name):
    composed = resolved_config(experiment_configs(ROOT / "experiments" / experiment, name))
    long = resolved_config([LONG / experiment / f"{name}.yaml"])
    assert composed == long
    assert composed["model"]["class_path"].startswith("vanguard.stages.")  # the stage's class, not base's StageBase


def test_every_stage_file_of_a_composed_folder_has_a_long_form():
    for experiment in ("synthcrime", "ucf_crime"):
        stages = {p.stem for p in (ROOT / "experiments" / experiment).glob("*.yaml")} - {"base", "annotate", "predict"}
        assert stages == {p.stem for p in (LONG / experiment).glob("*.yaml")}


def test_print_config_of_the_cli_is_what_resolved_config_reads(tmp_path):
    """The command a user types, in a subprocess: the same resolved config, and it can differ (an override shows)."""
    configs = experiment_configs(ROOT / "experiments" / "synthcrime", "stage2")
    args = [a for c in configs for a in ("--config", c)]
    out = subprocess.run([sys.executable, "-m", "vanguard", "fit", *args, "--trainer.max_epochs", "7", "--print_config"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = yaml.safe_load(out.stdout)
    for key in RUN_TIME_KEYS:  # the subcommand's run-time choices, which resolved_config leaves out
        assert printed.pop(key) is None
    expected = resolved_config(configs)
    assert printed["trainer"].pop("max_epochs") == 7 and expected["trainer"].pop("max_epochs") == 3
    assert printed == expected


def test_shared_values_are_set_once_in_base():
    """Frames, pixels and the backbone directory live on the backbone in base.yaml only; the stage files repeat
    nothing base.yaml sets except the stage's own differences."""
    for experiment in ("synthcrime", "ucf_crime"):
        folder = ROOT / "experiments" / experiment
        base = yaml.safe_load((folder / "base.yaml").read_text())
        assert set(base["model"]["init_args"]["backbone"]["init_args"]) >= {"path", "num_frames", "frame_pixels"}
        assert not {"backbone_path", "num_frames", "frame_pixels"} & set(base["data"]["init_args"])
        for name in {p.stem for p in (LONG / experiment).glob("*.yaml")}:
            stage = yaml.safe_load((folder / f"{name}.yaml").read_text())
            assert "backbone" not in stage["model"].get("init_args", {}), name
            assert not {"backbone_path", "num_frames", "frame_pixels"} & set((stage.get("data") or {}).get("init_args", {}))
            assert "callbacks" not in stage["trainer"] and "callbacks+" in stage["trainer"], name  # appended, not replaced


def test_the_data_follows_the_backbone_and_a_different_data_value_is_an_error():
    configs = experiment_configs(ROOT / "experiments" / "synthcrime", "stage2")
    with pytest.raises(ConfigError, match="data.init_args.num_frames 4 differs from model.init_args.backbone"):
        from vanguard.lightning_cli import run_lightning_cli

        run_lightning_cli(["fit", *[a for c in configs for a in ("--config", c)], "--data.init_args.num_frames", "4"],
                          run=True)


def test_a_stage_file_run_without_its_base_is_told_which_base_it_builds_on(tmp_path):
    stage = ROOT / "experiments" / "synthcrime" / "stage2.yaml"
    assert missing_base(["--config", str(stage)]) == [str(stage.parent / "base.yaml")]
    assert missing_base(["--config", str(stage.parent / "base.yaml"), "--config", str(stage)]) == []
    assert missing_base(["--config", str(LONG / "synthcrime" / "stage2.yaml")]) == []  # a long form stands alone
    (tmp_path / "base.yaml").write_text("seed_everything: 1\n")
    (tmp_path / "mine.yaml").write_text((LONG / "synthcrime" / "stage2.yaml").read_text())
    assert missing_base(["--config", str(tmp_path / "mine.yaml")]) == []  # whole, though a base.yaml sits beside it
    out = subprocess.run([sys.executable, "-m", "vanguard", "fit", "--config", "experiments/synthcrime/stage2.yaml"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "vanguard fit: error: experiments/synthcrime/stage2.yaml builds on experiments/synthcrime/base.yaml, which was "
        "not given: --config experiments/synthcrime/base.yaml --config experiments/synthcrime/stage2.yaml "
        "(docs/configs.md)")


def test_experiment_configs_names_a_missing_stage(tmp_path):
    with pytest.raises(ConfigError, match="no experiment config"):
        experiment_configs(ROOT / "experiments" / "synthcrime", "stage9")
    (tmp_path / "alone.yaml").write_text("seed_everything: 1\n")
    assert experiment_configs(tmp_path, "alone") == [str(tmp_path / "alone.yaml")]  # no base.yaml: the file alone
    assert isinstance(Path(experiment_configs(ROOT / "experiments" / "synthcrime", "stage1")[0]), Path)
