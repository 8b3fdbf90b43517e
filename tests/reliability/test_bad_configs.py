"""Bad training configs through the real entry point (``python -m vanguard fit --config X`` in a subprocess):
each ends with exit code 2 and ONE error line naming the problem, never a Python traceback.

jsonargparse prints its usage before the error for keys it cannot parse (unknown key, wrong type); the error line
there still names the key, which is what is asserted. All four runs start together (each is mostly imports).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.configs import experiment_config


def _config(tmp, backbone) -> dict:
    """The real stage-2 experiment with the tiny backbone and paths under ``tmp``."""
    cfg = experiment_config("synthcrime", "stage2")
    cfg["trainer"]["default_root_dir"] = str(tmp / "run")
    cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp / "tb")
    for cb in cfg["trainer"]["callbacks"]:
        if "dirpath" in cb.get("init_args", {}):
            cb["init_args"]["dirpath"] = str(tmp / "run" / "checkpoints")
    cfg["model"]["init_args"]["backbone"]["init_args"].update(path=str(backbone), frame_pixels=64 * 64)
    cfg["data"]["init_args"].update(shards=str(tmp / "shards"), num_workers=0)
    return cfg


def _curriculum(cfg):
    (cb,) = [c for c in cfg["trainer"]["callbacks"] if c["class_path"] == "callbacks.Curriculum"]
    return cb["init_args"]


def _unknown_key(cfg, tmp):
    cfg["model"]["init_args"]["lr_headd"] = 1e-3


def _wrong_type(cfg, tmp):
    cfg["model"]["init_args"]["lr_head"] = "fast"


def _missing_backbone(cfg, tmp):
    cfg["model"]["init_args"]["backbone"]["init_args"]["path"] = str(tmp / "no-such-backbone")


def _init_from_nothing(cfg, tmp):
    _curriculum(cfg)["init_from"] = str(tmp / "stage1" / "export")


#: case -> (edit of the config, what the one error line must contain)
CASES = {
    "unknown key": (_unknown_key, ["'lr_headd'", "not accepted"]),
    "wrong type": (_wrong_type, ["lr_head", "fast"]),
    "missing backbone directory": (_missing_backbone, ["no-such-backbone", "does not exist"]),
    "stage 2 init_from points at nothing": (_init_from_nothing, ["init_from", "stage1/export", "does not exist"]),
}


@pytest.fixture(scope="module")
def runs(tiny_backbone_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("configs")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    procs = {}
    for case, (edit, _) in CASES.items():
        cfg = copy.deepcopy(_config(tmp, tiny_backbone_dir))
        edit(cfg, tmp)
        path = tmp / f"{case.replace(' ', '_')}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        procs[case] = subprocess.Popen([sys.executable, "-m", "vanguard", "fit", "--config", str(path)], cwd=tmp,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {case: (p.wait(timeout=300), *p.communicate()) for case, p in procs.items()}
    return out, tmp


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_one_clear_error_line(case, runs):
    results, tmp = runs
    rc, stdout, stderr = results[case]
    text = stdout + stderr
    assert rc == 2, text[-2000:]
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if "error:" in line.lower()]
    assert len(errors) == 1, errors
    named = errors[0] + "\n" + "\n".join(text.splitlines()[text.splitlines().index(errors[0]):][:12])
    assert all(part in named for part in CASES[case][1]), named
    assert not (tmp / "run" / "checkpoints").exists()  # nothing was trained or written


def test_trust_remote_code_is_never_turned_on():
    """No config, script or code turns ``trust_remote_code`` on (a model directory must never run its own code);
    every place that names it passes False. tests/reliability/test_hostile_files.py loads a backbone folder that
    ships code and checks it is not run."""
    turned_on = re.compile(r"trust_remote_code\W{0,3}[=:]\s*(?![Ff]alse\b)\S")
    hits, explicit_off = [], 0
    for folder in ("vanguard", "datamodules", "callbacks", "experiments", "benchmarks", "research"):
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or path.suffix not in (".py", ".yaml", ".yml", ".sbatch", ".sh", ".json", ".toml"):
                continue
            for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                explicit_off += "trust_remote_code=False" in line
                if turned_on.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not hits, hits
    assert explicit_off >= 5  # backbone, processor, pretrain, teacher and grounder loads say so explicitly
