"""LightningCLI for the curriculum: ``python -m vanguard fit|validate|test|predict --config X.yaml``.

Models and data are given in subclass mode (``model: {class_path: vanguard.stages.GroundingStage, init_args:
{backbone: {class_path: vanguard.backbone.Backbone, init_args: {path: ...}}}}``). ``config.yaml`` is saved with
``overwrite=True`` so a requeued SLURM job writing into the same run directory does not die on the existing file.

Under SLURM a ``fit`` launched without ``--ckpt_path`` resumes from the newest of ``hpc_ckpt_*.ckpt`` and the
``last.ckpt`` checkpoints (:func:`vanguard.checkpoints.slurm_resume_path`), so a requeued or resubmitted job
continues by itself whether or not it got the SIGUSR1 warning. Outside SLURM nothing is resumed unless asked
(``--ckpt_path last``). See docs/cluster.md.

The backbone and the data must read frames alike, so the data's ``backbone_path``, ``num_frames`` and
``frame_pixels`` are linked to the backbone's ``path``, ``num_frames`` and ``frame_pixels`` (LightningCLI's
``link_arguments``): a config sets them once, on the backbone, and a different value given for the data is an error
rather than silently replaced. Experiment folders compose a shared ``base.yaml`` with a short stage file
(``--config base.yaml --config stage2.yaml``); see docs/configs.md.
"""

from __future__ import annotations

import sys
from typing import Any

from jsonargparse._link_arguments import ActionLink, skip_apply_links  # jsonargparse is pinned to 4.53.x
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


#: model settings that decide how a run evaluates, not what it learned: a checkpoint's values never replace them
EVALUATION_SETTINGS = frozenset({"constrained", "generate_val_batches", "generate_test_batches", "generate_predict",
                                 "max_new_tokens", "max_boxes", "iou_threshold", "metric_thresholds", "answer_decision"})


def _model_args(config, subcommand: str | None) -> dict:
    """The model's ``init_args`` of a parsed LightningCLI config, as a plain dict ({} when there are none)."""
    try:
        node = config[subcommand]["model"] if subcommand else config["model"]
        args = node["init_args"] if "init_args" in node else node.get("dict_kwargs", {})
        return dict(args.as_dict() if hasattr(args, "as_dict") else args or {})
    except (KeyError, TypeError, AttributeError):
        return {}


#: (backbone init arg, data init arg) pairs the data takes from the backbone
BACKBONE_TO_DATA = (("path", "backbone_path"), ("num_frames", "num_frames"), ("frame_pixels", "frame_pixels"))


def linked_conflicts(config: dict) -> list[str]:
    """Data settings a config gives that differ from the backbone's, which the link would replace in silence.

    ``config`` is one subcommand's parsed config before the links are applied. A data value equal to its class's
    default counts as not given (a parsed config does not say which values were typed), so only a value that is
    neither the backbone's nor the default is reported.
    """
    import importlib
    import inspect

    data, model = config.get("data") or {}, config.get("model") or {}
    backbone = ((model.get("init_args") or {}).get("backbone") or {}).get("init_args") or {}
    if not data.get("class_path") or not backbone:
        return []
    try:
        module, name = data["class_path"].rsplit(".", 1)
        defaults = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return []
    found = []
    for source, target in BACKBONE_TO_DATA:
        given = (data.get("init_args") or {}).get(target)
        default = defaults[target].default if target in defaults else inspect.Parameter.empty
        if source in backbone and given is not None and given != backbone[source] and given != default:
            found.append(f"data.init_args.{target} {given!r} differs from model.init_args.backbone.init_args.{source} "
                         f"{backbone[source]!r}")
    return found


class VanguardCLI(LightningCLI):
    """LightningCLI with the project's defaults."""

    def add_arguments_to_parser(self, parser) -> None:
        for source, target in BACKBONE_TO_DATA:
            parser.link_arguments(f"model.init_args.backbone.init_args.{source}", f"data.init_args.{target}",
                                  apply_on="parse")

    def parse_arguments(self, parser, args) -> None:
        # Parse without the links first, to see what the config gave the data before the backbone's values replace it
        with skip_apply_links():
            super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        conflicts = linked_conflicts(config.as_dict())
        if conflicts:
            raise ConfigError("; ".join(conflicts) + ": the data reads frames as the backbone does, so set these "
                              "once, on the backbone (model.init_args.backbone.init_args)")
        ActionLink.apply_parsing_links(parser, self.config)

    def before_instantiate_classes(self) -> None:
        # Check backbone directories before anything is built: jsonargparse would otherwise bury our one-line
        # error under nested tracebacks of the class instantiation.
        config = self.config[self.subcommand] if self.subcommand else self.config
        for path in _backbone_paths(config.as_dict()):
            check_backbone_dir(path)

    def _parse_ckpt_path(self) -> None:
        """Lightning replaces the model's settings by the checkpoint's hyperparameters when ``--ckpt_path`` names a
        file. How this run evaluates (:data:`EVALUATION_SETTINGS`: decoding, generation budgets) is this run's
        choice, not the trained weights': those keep this run's values (``test --ckpt_path FILE
        --model.init_args.constrained false`` used to be evaluated constrained, in silence). Any other setting the
        checkpoint replaced is said (``--ckpt_path last`` keeps this run's settings and applies them)."""
        subcommand = self.config.get("subcommand")
        before = _model_args(self.config, subcommand)
        super()._parse_ckpt_path()
        after = _model_args(self.config, subcommand)
        if not before or not after:
            return
        init_args = (self.config[subcommand] if subcommand else self.config)["model"]["init_args"]
        replaced = []
        for key in sorted(before.keys() & after.keys()):
            if before[key] == after[key] or key == "backbone":
                continue
            if key in EVALUATION_SETTINGS:
                init_args[key] = before[key]
            else:
                replaced.append(f"{key} {before[key]!r} -> {after[key]!r}")
        if replaced:
            print(f"[ckpt_path] the checkpoint's hyperparameters replace this run's model settings: "
                  f"{', '.join(replaced)} (--ckpt_path FILE loads them; --ckpt_path last keeps this run's)",
                  file=sys.stderr, flush=True)

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
