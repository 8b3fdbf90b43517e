"""Composed experiment configs: an experiment folder's ``base.yaml`` plus one short file per stage.

``python -m vanguard fit --config experiments/synthcrime/base.yaml --config experiments/synthcrime/stage2.yaml``:
LightningCLI (jsonargparse) merges the files in order, key by key; a stage file appends its own callbacks with
``callbacks+:`` and changes the model's ``class_path`` (the base's model ``init_args`` the new class accepts are kept).
:func:`resolved_config` is what ``--print_config`` shows for such a list, as a dict, so tools that rewrite a run's
config (``vanguard ablations``) start from the whole resolved config instead of re-reading YAML files by hand.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import yaml

from vanguard.errors import ConfigError

BASE = "base.yaml"
#: what a subcommand adds to the experiment's settings: which checkpoint to load, and how (``--ckpt_path last``)
RUN_TIME_KEYS = ("ckpt_path", "weights_only")


def experiment_configs(folder: str | Path, name: str) -> list[str]:
    """The ``--config`` files of experiment ``name`` in ``folder``: ``base.yaml`` (when the folder has one), then
    ``<name>.yaml``."""
    folder = Path(folder)
    stage = folder / f"{name}.yaml"
    if not stage.is_file():
        raise ConfigError(f"no experiment config {stage}")
    base = folder / BASE
    return [str(base), str(stage)] if base.is_file() and stage.name != BASE else [str(stage)]


def config_args(configs: Sequence[str | Path]) -> list[str]:
    """``--config A --config B ...`` for a list of config files."""
    return [arg for config in configs for arg in ("--config", str(config))]


def builds_on_base(path: Path) -> bool:
    """Whether the config file at ``path`` is a stage file meant to be composed: it appends callbacks
    (``callbacks+:``) or gives a model without a backbone."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False  # LightningCLI says what is wrong with the file itself
    if not isinstance(config, dict):
        return False
    trainer, model = config.get("trainer") or {}, config.get("model") or {}
    return "callbacks+" in trainer or (isinstance(model, dict) and "backbone" not in (model.get("init_args") or {}))


def missing_base(argv: Sequence[str]) -> list[str]:
    """The ``base.yaml`` files that a stage file in ``argv`` (:func:`builds_on_base`) builds on, beside it, but
    that are not given themselves: alone, such a file lacks the backbone, the data and the shared callbacks."""
    given, missing = [], []
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            given.append(Path(argv[i + 1]))
        elif arg.startswith("--config="):
            given.append(Path(arg.split("=", 1)[1]))
    resolved = {p.resolve() for p in given}
    for path in given:
        base = path.parent / BASE
        if (path.name != BASE and base.is_file() and base.resolve() not in resolved and str(base) not in missing
                and builds_on_base(path)):
            missing.append(str(base))
    return missing


def resolved_config(configs: Sequence[str | Path], subcommand: str = "fit", overrides: Sequence[str] = ()) -> dict:
    """The whole config LightningCLI resolves from ``configs`` (later files win) and ``overrides`` (command-line
    arguments such as ``--trainer.max_epochs=1``): ``--print_config``'s output, read back as a dict, without the
    run-time choices of the subcommand (:data:`RUN_TIME_KEYS`), so any subcommand can load it as a config file."""
    from vanguard.lightning_cli import run_lightning_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        # in a process started with other arguments (pytest, a tool) Lightning warns that ``args`` is not sys.argv
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python")
        try:
            run_lightning_cli([subcommand, *config_args(configs), *overrides, "--print_config"])
            code = 0
        except SystemExit as stop:
            code = stop.code or 0
    if code != 0:
        message = err.getvalue().strip().splitlines()
        raise ConfigError(f"{' + '.join(map(str, configs))}: {message[-1] if message else f'exit {code}'}")
    config = yaml.safe_load(out.getvalue())
    for key in RUN_TIME_KEYS:
        config.pop(key, None)
    return config


def check_base_given(argv: Sequence[str]) -> None:
    """A stage file given without the ``base.yaml`` it builds on is an error naming the command that works (rather
    than jsonargparse's screenful about the keys the base would have given)."""
    missing = missing_base(argv)
    if missing:
        stages = [a for a in argv if a.endswith((".yaml", ".yml")) and Path(a).parent / BASE == Path(missing[0])]
        raise ConfigError(f"{', '.join(stages) or 'the stage file'} builds on {missing[0]}, which was not given: "
                          f"--config {missing[0]} --config {stages[0] if stages else '<stage>.yaml'} (docs/configs.md)")
