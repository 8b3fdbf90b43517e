"""LightningCLI for the curriculum: ``python -m vanguard fit|validate|test|predict --config X.yaml``.

Models and data are given in subclass mode (``model: {class_path: vanguard.stages.GroundingStage, init_args:
{backbone: {class_path: vanguard.backbone.Backbone, init_args: {path: ...}}}}``). ``config.yaml`` is saved with
``overwrite=True`` so a requeued SLURM job writing into the same run directory does not die on the existing file.

Under SLURM a ``fit`` launched without ``--ckpt_path`` resumes from the newest of ``hpc_ckpt_*.ckpt`` and the
``last.ckpt`` checkpoints (:func:`vanguard.checkpoints.slurm_resume_path`), so a requeued or resubmitted job
continues by itself whether or not it got the SIGUSR1 warning. Outside SLURM nothing is resumed unless asked
(``--ckpt_path last``). See docs/cluster.md.
"""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI

from vanguard.errors import ConfigError
from vanguard.processing import check_backbone_dir


def _backbone_paths(node: Any) -> list[str]:
    """Every backbone directory a config names: Backbone ``path`` init args and ``backbone_path`` options."""
    found: list[str] = []
    if isinstance(node, dict):
        if str(node.get("class_path", "")).endswith("Backbone") and isinstance(node.get("init_args"), dict):
            path = node["init_args"].get("path")
            if path:
                found.append(path)
        for key, value in node.items():
            if key == "backbone_path" and isinstance(value, str):
                found.append(value)
            else:
                found += _backbone_paths(value)
    elif isinstance(node, list):
        for value in node:
            found += _backbone_paths(value)
    return found


class VanguardCLI(LightningCLI):
    """LightningCLI with the project's defaults."""

    def before_instantiate_classes(self) -> None:
        # Check backbone directories before anything is built: jsonargparse would otherwise bury our one-line
        # error under nested tracebacks of the class instantiation.
        config = self.config[self.subcommand] if self.subcommand else self.config
        for path in _backbone_paths(config.as_dict()):
            check_backbone_dir(path)

    def before_fit(self) -> None:
        from lightning.pytorch.utilities.rank_zero import rank_zero_info

        from vanguard.checkpoints import checkpoint_dirs, earlier_run_files, resumable_checkpoints, slurm_resume_path

        config = self.config_init[self.subcommand]
        if config.get("ckpt_path") == "last":
            # Lightning would warn (among dozens of lines) and train from step 0 in a folder meant for resuming
            found = resumable_checkpoints(self.trainer)
            if not found:
                raise ConfigError(
                    f"--ckpt_path last: nothing to resume in {self.trainer.default_root_dir} (no last*.ckpt in "
                    f"{', '.join(map(str, checkpoint_dirs(self.trainer))) or 'any ModelCheckpoint folder'}, no hpc_ckpt_*.ckpt); "
                    "leave --ckpt_path out to start a new run"
                )
            config["ckpt_path"] = str(max(found, key=lambda p: p.stat().st_mtime_ns))
        if config.get("ckpt_path") is None:
            path = slurm_resume_path(self.trainer)
            if path is not None:
                rank_zero_info(f"[resume] SLURM job without --ckpt_path: resuming from the newest checkpoint {path}")
                config["ckpt_path"] = path
        if config.get("ckpt_path") is None:
            earlier = earlier_run_files(self.trainer)
            if earlier:
                # a second fresh run would interleave its checkpoints, export and curves with the first one's
                shown = ", ".join(str(p) for p in earlier[:3]) + (f" and {len(earlier) - 3} more" if len(earlier) > 3 else "")
                message = (f"an earlier run's files are where this run would write ({shown}): resume it with "
                           "--ckpt_path last, or start a new run in another trainer.default_root_dir (and logger "
                           "version), or delete those files")
                from lightning.fabric.plugins.environments import SLURMEnvironment

                if not SLURMEnvironment.detect():
                    raise ConfigError(message)
                # a requeued job whose first attempt died before any checkpoint: start over, but say so
                print(f"[resume] warning: starting from step 0 although {message}", file=sys.stderr, flush=True)


def run_lightning_cli(argv: list[str], run: bool = True) -> VanguardCLI:
    """The CLI ``python -m vanguard fit|validate|test|predict`` runs; ``run=False`` (with no subcommand in ``argv``)
    only parses and instantiates, as the config tests do."""
    return VanguardCLI(
        model_class=LightningModule,
        datamodule_class=LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"default_env": True},
        args=None if argv == sys.argv[1:] else argv,
        auto_configure_optimizers=False,
        run=run,
    )
