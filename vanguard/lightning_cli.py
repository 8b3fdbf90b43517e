"""LightningCLI for the curriculum: ``python -m vanguard fit|validate|test|predict --config X.yaml``.

Models and data are given in subclass mode (``model: {class_path: vanguard.stages.GroundingStage, init_args:
{backbone: {class_path: vanguard.backbone.Backbone, init_args: {path: ...}}}}``). ``config.yaml`` is saved with
``overwrite=True`` so a requeued SLURM job writing into the same run directory does not die on the existing file.
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI


class VanguardCLI(LightningCLI):
    """LightningCLI with the project's defaults."""


def run_lightning_cli(argv: list[str]) -> VanguardCLI:
    return VanguardCLI(
        model_class=LightningModule,
        datamodule_class=LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"default_env": True},
        args=argv,
        auto_configure_optimizers=False,
    )
