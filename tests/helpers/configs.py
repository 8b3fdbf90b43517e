"""The experiments' configs as ``fit`` resolves them (``base.yaml`` + the stage file), for tests that shrink them."""

from __future__ import annotations

from pathlib import Path

from vanguard.configs import experiment_configs, resolved_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def experiment_config(experiment: str, name: str) -> dict:
    """The whole config of ``experiments/<experiment>/<name>.yaml`` composed with its folder's ``base.yaml``, as a
    dict a test may change and write back as one file (the data's frame settings follow the backbone's)."""
    return resolved_config(experiment_configs(EXPERIMENTS / experiment, name))
