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
import sys
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


def missing_base(argv: Sequence[str]) -> list[str]:
    """The ``base.yaml`` files that sit beside a ``--config`` file in ``argv`` but are not given themselves: a
    stage file of a composed experiment run alone lacks the backbone, the data and the shared callbacks."""
    given, missing = [], []
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            given.append(Path(argv[i + 1]))
        elif arg.startswith("--config="):
            given.append(Path(arg.split("=", 1)[1]))
    resolved = {p.resolve() for p in given}
    for path in given:
        base = path.parent / BASE
        if path.name != BASE and base.is_file() and base.resolve() not in resolved and str(base) not in missing:
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


def print_missing_base_hint(argv: Sequence[str]) -> None:
    """Say on stderr which ``base.yaml`` a stage file builds on when it is run without it."""
    for base in missing_base(argv):
        print(f"note: {base} is this experiment's shared config and was not given; its stage files build on it: "
              f"--config {base} --config <stage>.yaml (docs/configs.md)", file=sys.stderr, flush=True)
