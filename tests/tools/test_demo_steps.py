"""The demo's step runner: reuse what was built from the same inputs, rebuild what changed and everything after it."""

from __future__ import annotations

import json
import sys

from vanguard.tools.demo import OUT, Step, run_plan, steps

# A step's command: record that it ran (in runs.log), write a file into its output folder, then its done file.
WRITE = (
    "import pathlib, sys; out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True); "
    "log = out.parent / 'runs.log'; log.write_text((log.read_text() if log.exists() else '') + out.name + '\\n'); "
    "(out / 'weights.txt').write_text(pathlib.Path(sys.argv[3]).read_text()); (out / 'done').write_text('ok')"
)


def _plan(root) -> list[Step]:
    plan = []
    for name in ("data", "fit", "test"):
        out = root / name
        plan.append(Step(name, [sys.executable, "-c", WRITE, str(out), "--config", str(root / f"{name}.yaml")],
                         out / "done", outputs=(out,)))
    return plan


def _runs(root) -> list[str]:
    log = root / "runs.log"
    runs = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return runs


def test_a_second_run_reuses_and_a_changed_config_rebuilds_its_step_and_the_later_ones(tmp_path, capsys):
    for name in ("data", "fit", "test"):
        (tmp_path / f"{name}.yaml").write_text(f"{name}: 1\n")
    ledger = tmp_path / "steps.json"
    run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == ["data", "fit", "test"]
    assert set(json.loads(ledger.read_text())) == {"data", "fit", "test"}

    timings = run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == [] and set(timings.values()) == {0.0}

    (tmp_path / "fit.yaml").write_text("fit: 2\n")
    (tmp_path / "fit" / "stale_checkpoint.ckpt").write_text("from the old config")
    capsys.readouterr()
    run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == ["fit", "test"]  # the data step is reused; the test of the new fit is not
    assert not (tmp_path / "fit" / "stale_checkpoint.ckpt").exists()  # the old run's files do not survive
    assert (tmp_path / "fit" / "weights.txt").read_text() == "fit: 2\n"
    assert "rebuilding (its inputs changed since it was built)" in capsys.readouterr().out

    run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == []


def test_an_unfinished_step_starts_again_from_an_empty_folder(tmp_path, capsys):
    for name in ("data", "fit", "test"):
        (tmp_path / f"{name}.yaml").write_text(f"{name}: 1\n")
    (tmp_path / "fit").mkdir()
    (tmp_path / "fit" / "half_written.ckpt").write_text("killed")  # no done file: the run never finished
    run_plan(_plan(tmp_path), tmp_path / "steps.json")
    assert _runs(tmp_path) == ["data", "fit", "test"]
    assert not (tmp_path / "fit" / "half_written.ckpt").exists()
    assert "rebuilding (an unfinished run)" in capsys.readouterr().out


def test_outputs_built_before_the_ledger_are_reused_and_recorded(tmp_path, capsys):
    for name in ("data", "fit", "test"):
        (tmp_path / f"{name}.yaml").write_text(f"{name}: 1\n")
        (tmp_path / name).mkdir()
        (tmp_path / name / "done").write_text("ok")
    ledger = tmp_path / "steps.json"
    run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == []
    assert "built before the demo recorded its inputs" in capsys.readouterr().out
    (tmp_path / "test.yaml").write_text("test: 2\n")  # from now on, changes are seen
    run_plan(_plan(tmp_path), ledger)
    assert _runs(tmp_path) == ["test"]


def test_outputs_from_before_the_ledger_are_not_reused_after_an_earlier_step_was_rebuilt(tmp_path):
    for name in ("data", "fit", "test"):
        (tmp_path / f"{name}.yaml").write_text(f"{name}: 1\n")
    for name in ("fit", "test"):  # built before the ledger; the data step's output is missing
        (tmp_path / name).mkdir()
        (tmp_path / name / "done").write_text("ok")
    run_plan(_plan(tmp_path), tmp_path / "steps.json")
    assert _runs(tmp_path) == ["data", "fit", "test"]  # what followed a rebuilt step cannot be trusted


def test_the_decision_given_step_tests_stage3s_checkpoint_with_the_ground_truths_decision_on_its_answered_batches():
    plan = steps(160)
    names = [s.name for s in plan]
    given = plan[names.index("test stage3 without constrained decoding") + 1]
    assert given.name == "test stage3 with the decision given (boxes alone)"
    stage3 = plan[names.index("test stage3")].argv
    argv = given.argv
    assert argv[: len(stage3)] == stage3  # stage 3's configs and its last checkpoint
    extra = dict(zip(argv[len(stage3)::2], argv[len(stage3) + 1::2], strict=True))
    assert extra == {"--model.init_args.answer_decision": "ground_truth",
                     "--trainer.logger.init_args.version": "stage3_decision_given",
                     "--trainer.limit_test_batches": "20"}
    configs = [argv[i + 1] for i, a in enumerate(argv) if a == "--config"]
    from vanguard.configs import resolved_config

    # the CLI takes the setting (a typed choice); stage 3 answers the same 20 batches for its end-to-end figure
    model = resolved_config(configs, "test", overrides=["--model.init_args.answer_decision=ground_truth"])["model"]
    assert model["init_args"]["answer_decision"] == "ground_truth" and model["init_args"]["generate_test_batches"] == 20
    assert given.done == OUT / "tensorboard" / "synthcrime" / "stage3_decision_given" / "metrics.json"
