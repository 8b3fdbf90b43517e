"""The experiment configs (each folder's base.yaml + a stage file, resolved as ``fit`` resolves them): the SynthCrime
curriculum runs stage 1 -> 2 -> 3 through ``python -m vanguard fit``, and every config (UCF-Crime included) parses
and instantiates with the tiny backbone swapped in.

Until ``datamodules.SubclipDataModule`` is importable the ``data`` section is swapped for the in-memory
synthetic datamodule (tests/stages/synth_subclips.py); everything else is the real file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.helpers.configs import experiment_config
from vanguard.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
SYNTH_DATA = {
    "class_path": "tests.stages.synth_subclips.SyntheticSubclipDataModule",
    "init_args": {},  # backbone_path, num_frames and frame_pixels follow the backbone (linked by the CLI)
}


def _config_with_test_data(experiment: str, name: str, dst_dir: Path, swap_data: bool = True) -> Path:
    cfg = experiment_config(experiment, name)
    if swap_data:
        cfg["data"] = SYNTH_DATA
    out = dst_dir / f"{experiment}_{name}.yaml"
    out.write_text(yaml.safe_dump(cfg))
    return out


def _curriculum_args(cfg: dict) -> dict:
    (cb,) = [c for c in cfg["trainer"]["callbacks"] if c["class_path"] == "callbacks.Curriculum"]
    return cb.get("init_args", {})


@pytest.mark.parametrize("experiment", ["synthcrime", "ucf_crime"])
def test_each_stage_starts_from_the_previous_stage_export(experiment):
    cfgs = {n: experiment_config(experiment, f"stage{n}") for n in (1, 2, 3)}
    assert _curriculum_args(cfgs[1]).get("init_from") is None
    for n in (2, 3):
        previous = Path(cfgs[n - 1]["trainer"]["default_root_dir"]) / "export"
        assert Path(_curriculum_args(cfgs[n])["init_from"]) == previous
    roots = {c["trainer"]["default_root_dir"] for c in cfgs.values()}
    versions = {c["trainer"]["logger"]["init_args"]["version"] for c in cfgs.values()}
    assert len(roots) == 3 and len(versions) == 3  # one run directory and one TensorBoard version per stage


@pytest.mark.slow
def test_synthcrime_curriculum_runs_stage1_then_2_then_3(tiny_backbone_dir, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "synthcrime-tiny-qwen3vl").symlink_to(tiny_backbone_dir)  # the configs' backbone
    small = [
        "--model.init_args.backbone.init_args.num_frames",
        "8",
        "--model.init_args.backbone.init_args.frame_pixels",
        "4096",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
        "--model.init_args.max_new_tokens",
        "8",
        "--trainer.enable_progress_bar",
        "false",
    ]
    for n in (1, 2, 3):
        config = _config_with_test_data("synthcrime", f"stage{n}", tmp_path)
        main(["fit", "--config", str(config), *small])
        out = capsys.readouterr().out
        assert "[curriculum] trainable parameters:" in out, out[-2000:]
        export = tmp_path / "outputs" / "demo" / f"stage{n}" / "export"
        assert (export / "head.safetensors").is_file()
        assert (export / "adapter" / "adapter_model.safetensors").is_file() == (n > 1)
        if n > 1:
            assert f"weights from outputs/demo/stage{n - 1}/export" in out
    # stage 3 continued stage 2's adapter and the vision tower stage 2 trained (freeze_vision: false there)
    assert "(head.safetensors, backbone_trainable.safetensors, adapter)" in out
    assert (tmp_path / "outputs" / "demo" / "stage3" / "checkpoints" / "last.ckpt").is_file()

    # resuming the same stage: --ckpt_path last restores the trimmed checkpoint
    config = _config_with_test_data("synthcrime", "stage3", tmp_path)
    caplog.clear()
    with caplog.at_level("INFO", logger="lightning.pytorch"):
        main(["fit", "--config", str(config), *small, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    restored = [r.getMessage() for r in caplog.records if "Restored all states" in r.getMessage()]
    assert restored and "stage3/checkpoints/last.ckpt" in restored[0]


def _instantiate(config: Path, backbone_dir: Path, *extra: str):
    from vanguard.lightning_cli import run_lightning_cli

    args = ["--config", str(config), "--model.init_args.backbone.init_args.path", str(backbone_dir), *extra]
    return run_lightning_cli(args, run=False)  # exactly what `python -m vanguard` builds, without running


@pytest.mark.parametrize("stage", ["stage1", "stage2", "stage3"])
def test_ucf_crime_configs_instantiate_with_the_tiny_backbone(stage, tiny_backbone_dir, tmp_path, monkeypatch):
    from lightning.pytorch.strategies import DDPStrategy

    from callbacks import Curriculum

    monkeypatch.chdir(tmp_path)
    swap = importlib.util.find_spec("datamodules") is None
    config = _config_with_test_data("ucf_crime", stage, tmp_path, swap_data=swap)
    cli = _instantiate(config, tiny_backbone_dir, "--trainer.accelerator", "cpu", "--trainer.devices", "1")
    raw = yaml.safe_load((EXPERIMENTS / "ucf_crime" / f"{stage}.yaml").read_text())
    assert cli.datamodule.backbone_path == str(tiny_backbone_dir)  # the data follows the backbone (linked)
    assert type(cli.model).__name__ == raw["model"]["class_path"].rsplit(".", 1)[1]
    assert cli.model.backbone.model.dtype.is_floating_point and str(cli.model.backbone.model.dtype) == "torch.bfloat16"
    assert cli.model.backbone.model.is_activation_checkpointing
    assert isinstance(cli.trainer.strategy, DDPStrategy)
    assert cli.trainer.precision == "bf16-mixed"
    assert any(isinstance(cb, Curriculum) for cb in cli.trainer.callbacks)


@pytest.mark.parametrize("name", ["stage1", "stage2", "stage3", "monolithic", "cls_finetune"])
def test_synthcrime_configs_instantiate(name, tiny_backbone_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config_with_test_data("synthcrime", name, tmp_path)
    cli = _instantiate(config, tiny_backbone_dir)
    raw = yaml.safe_load((EXPERIMENTS / "synthcrime" / f"{name}.yaml").read_text())
    assert type(cli.model).__name__ == raw["model"]["class_path"].rsplit(".", 1)[1]
    assert cli.trainer.default_root_dir == raw["trainer"]["default_root_dir"]
