"""The ablation runner's bookkeeping: which demo runs it may reuse, and the table it writes after every seed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from tests.helpers.configs import experiment_config
from vanguard.tools import ablations

ROOT = Path(__file__).resolve().parents[2]


def _fake_demo(tmp_path: Path, name: str, seed: int, **changes) -> None:
    """A demo run folder as LightningCLI leaves it: the saved config (with defaults added), metrics, an export."""
    config = experiment_config("synthcrime", name)  # LightningCLI saves the whole resolved config
    config["seed_everything"] = seed
    config["ckpt_path"] = f"outputs/demo/{name}/checkpoints/last.ckpt"  # `test` saves its config over fit's
    config["model"]["init_args"].update(changes)
    export = tmp_path / "outputs" / "demo" / name / "export"  # fit exports, then the test writes its metrics
    export.mkdir(parents=True)
    (export / "stage.json").write_text("{}")
    run = tmp_path / "outputs" / "demo" / "tensorboard" / "synthcrime" / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.json").write_text(json.dumps({"auc_roc": 0.5}))


def test_demo_runs_are_reused_only_with_the_same_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    _fake_demo(tmp_path, "stage1", seed=0)
    _fake_demo(tmp_path, "stage2", seed=0, lr_lora=1.0)  # fit with another learning rate than the YAML's
    assert ablations._demo_run("stage1", 0) == Path("outputs/demo/tensorboard/synthcrime/stage1")
    assert ablations._demo_run("stage1", 1) is None  # another seed
    assert ablations._demo_run("stage2", 0) is None  # another config
    assert ablations._demo_run("stage3", 0) is None  # never run
    assert ablations._fit_and_test("stage1", 0, tmp_path / "seed0") == {"auc_roc": 0.5}


def test_the_table_names_the_seeds_done_and_pending(tmp_path):
    run = {c: 0.5 for c in ablations.COLUMNS}
    results = {v: [dict(run, auc_roc=a) for a in (0.6, 0.8)] for v in ablations.VARIANTS}
    results["zero-shot"] = [{"xd_violence": {"ap_pr_auc": 0.2}, "shanghaitech": {"auc_roc": 0.6}}] * 2
    ablations._write_table(tmp_path, [0, 1, 2], results, 120.0)
    text = (tmp_path / "ablations.md").read_text()
    assert "seeds [0, 1]" in text and "seeds [2] not done yet" in text
    assert "| staged (1-2-3) | 0.700 ± 0.141 |" in text
    saved = json.loads((tmp_path / "ablations.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["pending"] == [2] and len(saved["runs"]["monolithic"]) == 2


def test_a_metric_undefined_in_some_seeds_says_how_many_it_averages():
    assert ablations._mean_std([0.2, None, 0.4]) == "0.300 ± 0.141 (n=2 of 3)"
    assert ablations._mean_std([None, None]) == "-"
    assert ablations._mean_std([0.5]) == "0.500 (n=1)"  # no std from one seed
    assert ablations._mean_std([0.5, None]) == "0.500 (n=1 of 2)"


def test_a_named_run_gets_its_own_folders_and_model_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    _fake_demo(tmp_path, "stage3", seed=0)  # the demo's stage 3 is never what a named variant of it reuses
    run = ablations.VARIANTS["stage 3 without reasoning loss"][-1]
    config = yaml.safe_load(ablations._seeded_config(run, 1, Path("seed1")).read_text())
    assert config["trainer"]["default_root_dir"] == "seed1/stage3_no_reasoning"
    logger = config["trainer"]["logger"]["init_args"]  # the resolved config: LightningCLI's defaults included
    assert (logger["save_dir"], logger["name"], logger["version"]) == ("seed1/tensorboard", "synthcrime", "stage3_no_reasoning")
    callbacks = {c["class_path"]: c["init_args"] for c in config["trainer"]["callbacks"]}
    assert callbacks["callbacks.Curriculum"]["init_from"] == "seed1/stage2/export"  # the seed's own stage 2
    dirpaths = {c["init_args"].get("dirpath") for c in config["trainer"]["callbacks"]}
    assert "seed1/stage3_no_reasoning/checkpoints" in dirpaths
    assert config["model"]["init_args"]["lm_weight"] == 0.0 and config["seed_everything"] == 1
    assert config["model"]["class_path"] == "vanguard.stages.ReasoningStage"
    # the plain stage 3 of the same seed keeps its own folders
    plain = yaml.safe_load(ablations._seeded_config(ablations.Run("stage3"), 1, Path("seed1")).read_text())
    assert plain["trainer"]["default_root_dir"] == "seed1/stage3" and plain["model"]["init_args"]["lm_weight"] == 1.0
    assert "outputs/demo" not in yaml.safe_dump(config).replace("outputs/demo/shards", "")
    # seed 0 reuses the demo's stage 2 (same config and seed): the variant's stage 3 starts from that export
    _fake_demo(tmp_path, "stage1", seed=0)
    _fake_demo(tmp_path, "stage2", seed=0)
    seed0 = yaml.safe_load(ablations._seeded_config(run, 0, Path("seed0")).read_text())
    init = {c["class_path"]: c["init_args"] for c in seed0["trainer"]["callbacks"]}["callbacks.Curriculum"]
    assert init["init_from"] == "outputs/demo/stage2/export"


def _touch_later(path: Path, seconds: float = 10.0) -> None:
    """Move a file's modification time forward, as a later rebuild of it would."""
    stat = path.stat()
    os.utime(path, (stat.st_atime + seconds, stat.st_mtime + seconds))


def test_a_demo_stage_whose_previous_stage_was_fit_again_is_not_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    for name in ("stage1", "stage2", "stage3"):
        _fake_demo(tmp_path, name, seed=0)
    assert ablations._demo_run("stage3", 0) is not None
    _touch_later(tmp_path / "outputs/demo/stage2/export/stage.json")  # stage 2 fit again after stage 3 was
    assert ablations._demo_run("stage3", 0) is None
    assert ablations._demo_run("stage2", 0) is None  # and its old test no longer scores its weights
    assert ablations._demo_run("stage1", 0) is not None


def test_own_runs_are_fit_again_when_their_config_or_their_start_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    calls = []

    def fake_run(*args):  # what `vanguard fit` / `vanguard test` leave behind, without training anything
        config = yaml.safe_load(Path(args[2]).read_text())
        run_dir = Path(config["trainer"]["default_root_dir"])
        logger = config["trainer"]["logger"]["init_args"]
        tb = Path(logger["save_dir"], "synthcrime", logger["version"])
        tb.mkdir(parents=True, exist_ok=True)
        if args[0] == "fit":
            (run_dir / "export").mkdir(parents=True)
            (run_dir / "export" / "stage.json").write_text("{}")
            (tb / "config.yaml").write_text(yaml.safe_dump(config))
        else:
            (tb / "metrics.json").write_text(json.dumps({"auc_roc": config["model"]["init_args"]["lm_weight"]}))
        calls.append((args[0], run_dir.name))

    monkeypatch.setattr(ablations, "_run", fake_run)
    root = tmp_path / "seed1"
    ablations._fit_and_test("stage2", 1, root)
    variant = ablations.Run("stage3", "stage3_variant", {"lm_weight": 0.0})
    assert ablations._fit_and_test(variant, 1, root) == {"auc_roc": 0.0}
    assert calls == [("fit", "stage2"), ("test", "stage2"), ("fit", "stage3_variant"), ("test", "stage3_variant")]

    calls.clear()
    ablations._fit_and_test(variant, 1, root)
    assert calls == []  # same config, same start: reused

    (root / "stage3_variant" / "checkpoints").mkdir()
    (root / "stage3_variant" / "checkpoints" / "last.ckpt").write_text("old weights")
    changed = ablations.Run("stage3", "stage3_variant", {"lm_weight": 0.5})
    assert ablations._fit_and_test(changed, 1, root) == {"auc_roc": 0.5}
    assert calls == [("fit", "stage3_variant"), ("test", "stage3_variant")]  # another setting: fit again
    assert not (root / "stage3_variant" / "checkpoints" / "last.ckpt").exists()  # from a clean folder

    calls.clear()
    _touch_later(root / "stage2" / "export" / "stage.json")  # its stage 2 was fit again
    ablations._fit_and_test(changed, 1, root)
    assert calls == [("fit", "stage3_variant"), ("test", "stage3_variant")]
