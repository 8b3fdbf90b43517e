"""Settings that used to be ignored or mismatched in silence, through the real entry point (``python -m vanguard
fit|test`` subprocesses on the real stage YAMLs, tiny backbone): each is applied and said, or refused with one
line (exit 2, no traceback) before anything is written.

One module fixture fits stage 1 and stage 2 (2 steps each) on backbone A; the refusals then start together (each
is mostly imports), and the learning-rate resume runs last.
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers.shards import write_test_shards
from tests.reliability.stage_runs import one_error_line, stage_config, vanguard
from vanguard.checkpoints import load_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(tiny_backbone_dir, tmp_path_factory):
    """Stage 1 then stage 2 fit on backbone A; backbone B is another tiny model (other seed, same shapes)."""
    from vanguard.tiny import build_tiny

    tmp = tmp_path_factory.mktemp("settings")
    shards = tmp / "shards"
    write_test_shards(shards, n_videos=2, clips_per_video=2, splits=("train", "test"), shards_per_split=1)
    backbone_b = build_tiny(tmp / "backbone_b", size="unit", seed=1)
    paths = {"tmp": tmp, "shards": shards, "a": tiny_backbone_dir, "b": backbone_b}
    for stage, init_from in (("stage1", None), ("stage2", tmp / "stage1" / "export")):
        config = stage_config(tmp / f"{stage}.yaml", stage, tmp / stage, tiny_backbone_dir, shards,
                              curriculum={"init_from": str(init_from) if init_from else None})
        done = vanguard("fit", "--config", config, cwd=tmp)
        assert done.returncode == 0, done.stdout[-3000:]
        paths[stage] = config
    return paths


def _config(runs, name: str, stage: str, backbone: str = "a", run: str | None = None, **curriculum):
    tmp = runs["tmp"]
    return stage_config(tmp / f"{name}.yaml", stage, tmp / (run or name), runs[backbone], runs["shards"],
                        curriculum=curriculum)


#: case -> (arguments after `python -m vanguard`, built from the runs; the command; what the error line names)
def _cases(runs) -> dict:
    tmp = runs["tmp"]
    s1, s2 = tmp / "stage1" / "export", tmp / "stage2" / "export"
    return {
        "another LoRA rank on --ckpt_path last": (
            ["fit", "--config", _config(runs, "rank8", "stage2", run="stage2", init_from=str(s1), lora_r=8),
             "--ckpt_path", "last"],
            "fit", ["LoRA rank 16, this run's lora_r is 8"]),
        "--ckpt_path last with nothing to resume": (
            ["fit", "--config", _config(runs, "fresh", "stage1"), "--ckpt_path", "last"],
            "fit", ["nothing to resume", "fresh"]),
        "a second fresh fit over an earlier run": (
            ["fit", "--config", runs["stage1"]], "fit", ["earlier run", "last.ckpt", "--ckpt_path last"]),
        "init_from another stage's export": (
            ["fit", "--config", _config(runs, "s1_from_s2", "stage1", init_from=str(s2))],
            "fit", ["GroundingStage's export", "ClassifierWarmup"]),
        "init_from an export of another backbone": (
            ["fit", "--config", _config(runs, "s2_on_b", "stage2", backbone="b", init_from=str(s1))],
            "fit", ["trained on the backbone", "backbone_b", "another model"]),
        "lora_r unlike the loaded adapter's": (
            ["fit", "--config", _config(runs, "s3_r8", "stage3", init_from=str(s2), lora_r=8)],
            "fit", ["lora_r: 8", "(lora_r 16)"]),
        "test of another stage's export, no checkpoint": (
            ["test", "--config", _config(runs, "s3_test", "stage3", init_from=str(s2))],
            "test", ["GroundingStage's export", "ReasoningStage here needs ReasoningStage's"]),
    }


@pytest.fixture(scope="module")
def refusals(runs):
    last = runs["tmp"] / "stage2" / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    procs = {case: (vanguard(*argv, cwd=runs["tmp"], wait=False), command, names)
             for case, (argv, command, names) in _cases(runs).items()}
    results = {case: (p.wait(timeout=600), p.stdout.read(), command, names) for case, (p, command, names) in procs.items()}
    assert last.read_bytes() == before  # no refused run touched the checkpoint it named
    return results


CASES = ["another LoRA rank on --ckpt_path last", "--ckpt_path last with nothing to resume",
         "a second fresh fit over an earlier run", "init_from another stage's export",
         "init_from an export of another backbone", "lora_r unlike the loaded adapter's",
         "test of another stage's export, no checkpoint"]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_mismatched_setting_is_refused_with_one_line(case, refusals, runs):
    rc, output, command, names = refusals[case]
    assert rc == 2, output[-3000:]
    line = one_error_line(output, command)
    assert all(name in line for name in names), line
    for name in ("fresh", "s1_from_s2", "s2_on_b", "s3_r8"):  # refused before training: no checkpoint written
        assert not list((runs["tmp"] / name).glob("checkpoints/*.ckpt"))


@pytest.mark.slow
def test_changed_learning_rate_on_resume_is_applied_and_said(runs, refusals):
    """The NaN error's own advice (lower the rate, resume): the resumed optimizer and schedule take the new rate,
    scaled by the schedule's current warmup factor, and the run says so."""
    tmp = runs["tmp"]
    done = vanguard("fit", "--config", runs["stage2"], "--ckpt_path", "last", "--model.init_args.lr_lora", "1e-5",
                    "--model.init_args.lr_head", "2e-4", "--trainer.max_steps", "4", cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("[resume] applied")]
    assert len(said) == 1 and "lr of lora 0.0005 -> 1e-05" in said[0] and "lr of head 0.0005 -> 0.0002" in said[0]
    ckpt = load_checkpoint(tmp / "stage2" / "checkpoints" / "last.ckpt")
    groups = {g["name"]: g for g in ckpt["optimizer_states"][0]["param_groups"]}
    assert ckpt["global_step"] == 4
    assert groups["lora"]["initial_lr"] == pytest.approx(1e-5) and groups["head"]["initial_lr"] == pytest.approx(2e-4)
    warmup = 20  # stage2.yaml's warmup_steps: after 4 scheduler steps LambdaLR's factor is (4 + 1) / 20
    assert groups["lora"]["lr"] == pytest.approx(1e-5 * 5 / warmup)
    assert groups["backbone"]["initial_lr"] == pytest.approx(2e-3)  # unchanged setting, unchanged rate
    assert ckpt["lr_schedulers"][0]["base_lrs"] == [g["initial_lr"] for g in ckpt["optimizer_states"][0]["param_groups"]]


@pytest.mark.slow
def test_evaluation_settings_given_with_a_checkpoint_file_are_kept(runs, refusals):
    """``test --ckpt_path FILE``: Lightning loads the checkpoint's hyperparameters over this run's model settings.
    How the run evaluates stays this run's (the demo's "without constrained decoding" test was evaluated
    constrained); any other replaced setting is said."""
    import yaml

    tmp = runs["tmp"]
    trained = load_checkpoint(tmp / "stage2" / "checkpoints" / "last.ckpt")["hyper_parameters"]["lr_lora"]
    done = vanguard("test", "--config", runs["stage2"], "--ckpt_path", tmp / "stage2" / "checkpoints" / "last.ckpt",
                    "--model.init_args.constrained", "false", "--model.init_args.lr_lora", "0.1",
                    "--trainer.logger.init_args.version", "unconstrained", cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("[ckpt_path]")]
    assert len(said) == 1 and f"lr_lora 0.1 -> {trained!r}" in said[0] and "constrained" not in said[0], said
    saved = yaml.safe_load((tmp / "tb" / "synthcrime" / "unconstrained" / "config.yaml").read_text())
    assert saved["model"]["init_args"]["constrained"] is False and saved["model"]["init_args"]["lr_lora"] == trained


@pytest.mark.slow
def test_the_decision_given_with_a_checkpoint_file_is_kept_and_recorded(runs):
    """``test --ckpt_path FILE --model.init_args.answer_decision ground_truth`` (the demo's boxes-alone test): the
    checkpoint, trained with the head's decision, does not replace it: every answer states its subclip's truth."""
    import json

    import yaml

    tmp = runs["tmp"]
    done = vanguard("test", "--config", runs["stage2"], "--ckpt_path", tmp / "stage2" / "checkpoints" / "last.ckpt",
                    "--model.init_args.answer_decision", "ground_truth", "--model.init_args.max_new_tokens", "48",
                    "--trainer.logger.init_args.version", "decision_given", cwd=tmp)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "answer_decision" not in "".join(line for line in done.stdout.splitlines() if line.startswith("[ckpt_path]"))
    run = tmp / "tb" / "synthcrime" / "decision_given"
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["init_args"]["answer_decision"] == "ground_truth"
    records = json.loads((run / "subclip_scores.json").read_text())["records"]
    assert {r["label"] for r in records} == {0, 1}
    for r in records:
        assert (r["forced_decision"], r["forced_category"]) == (bool(r["label"]), r["category"])
        assert (r["pred_answer"]["anomaly"] == "yes", r["pred_answer"]["category"]) == (bool(r["label"]), r["category"])
