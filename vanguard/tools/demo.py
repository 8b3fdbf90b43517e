"""``python -m vanguard demo`` (``make demo``): the whole VANGUARD recipe on SynthCrime with the tiny backbone.

Every step is the command a user would type (printed before it runs), so the demo doubles as a walkthrough. It
starts, as a user of the real recipe starts from Qwen3-VL-Instruct, from a tiny Qwen3-VL the project pretrained and
ships (``models/synthcrime-tiny-qwen3vl``, rebuilt by ``make pretrain-backbone``): generate SynthCrime (+ the
zero-shot domains), annotate and shard with the scripted teacher, fit stages 1-3 from their YAML configs, test
each stage with the community's frame-level protocol, explain held-out videos, write the report, and print the
summary table. A step whose output exists is reused, so a second ``make demo`` only redoes what is missing; a step
whose inputs changed since it was built (its command line, the YAML config it names, or any earlier step) is built
again, with everything after it (``outputs/demo/steps.json`` records what each step was built from).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vanguard.configs import config_args, experiment_configs

OUT = Path("outputs/demo")  # the experiment configs in experiments/synthcrime/ name this folder
EXPERIMENT = "experiments/synthcrime"
STAGES = ("stage1", "stage2", "stage3")


@dataclass
class Step:
    name: str
    argv: list[str]
    done: Path  # the file whose presence means the step is complete
    outputs: tuple[Path, ...] = ()  # what a rebuild removes first (default: ``done``), so no stale file survives it
    before: Callable[[], None] | None = None  # run before the command (not when the step is reused)


def fingerprint(step: Step, upstream: str) -> str:
    """What ``step`` is built from: the previous step's fingerprint, its arguments (not the interpreter's path) and
    the bytes of every ``--config`` file it names. Code changes are not tracked (delete ``outputs/demo`` for those)."""
    digest = hashlib.sha256(upstream.encode())
    digest.update(json.dumps(step.argv[1:]).encode())
    for flag, value in zip(step.argv, step.argv[1:]):
        if flag == "--config":
            digest.update(Path(value).read_bytes())
    return digest.hexdigest()[:16]


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "vanguard", *args]


#: the demo's starting backbone: the tiny Qwen3-VL the project pretrained (``make pretrain-backbone``) and ships
BACKBONE = Path("models/synthcrime-tiny-qwen3vl")


def steps(videos: int, difficulty: str = "clear") -> list[Step]:
    tb = OUT / "tensorboard" / "synthcrime"
    plan = [
        Step("SynthCrime + zero-shot domains",
             _python("data", "synthcrime", str(OUT / "data"), "--videos", str(videos), "--difficulty", difficulty),
             OUT / "data" / "manifest.json", outputs=(OUT / "data",)),
        Step("teacher annotation -> WebDataset shards",
             _python("annotate", "--config", f"{EXPERIMENT}/annotate.yaml"), OUT / "shards" / "stats.json",
             outputs=(OUT / "shards",)),
    ]
    for stage in STAGES:
        config = config_args(experiment_configs(EXPERIMENT, stage))  # base.yaml + the stage's own file
        plan.append(Step(f"fit {stage}", _python("fit", *config), OUT / stage / "export" / "stage.json",
                         outputs=(OUT / stage, tb / stage)))  # the TensorBoard folder is the stage's version
        plan.append(Step(f"test {stage}",
                         _python("test", *config, "--ckpt_path", str(OUT / stage / "checkpoints" / "last.ckpt")),
                         tb / stage / "metrics.json"))
    plan.append(Step("test stage3 without constrained decoding",
                     _python("test", *config_args(experiment_configs(EXPERIMENT, "stage3")), "--ckpt_path",
                             str(OUT / "stage3" / "checkpoints" / "last.ckpt"), "--model.init_args.constrained", "false",
                             "--trainer.logger.init_args.version", "stage3_unconstrained",
                             # 8 of the 20 batches stage 3 answers: enough to count invalid answers without the
                             # constraint (its anomaly scores are the constrained run's), and ~30 s off the demo
                             "--trainer.limit_test_batches", "8"),
                     tb / "stage3_unconstrained" / "metrics.json", outputs=(tb / "stage3_unconstrained",)))
    plan.append(Step("test stage3 with the decision given (boxes alone)",
                     _python("test", *config_args(experiment_configs(EXPERIMENT, "stage3")), "--ckpt_path",
                             str(OUT / "stage3" / "checkpoints" / "last.ckpt"),
                             "--model.init_args.answer_decision", "ground_truth",
                             "--trainer.logger.init_args.version", "stage3_decision_given",
                             # the 20 batches stage 3 answers (its generate_test_batches): its grounding figure is
                             # scored on the same anomalous subclips, so the two stand side by side
                             "--trainer.limit_test_batches", "20"),
                     tb / "stage3_decision_given" / "metrics.json", outputs=(tb / "stage3_decision_given",)))
    plan.append(Step("explain held-out videos",
                     _python("predict", "--config", f"{EXPERIMENT}/predict.yaml", "--data.init_args.videos",
                             str(OUT / "heldout"), "--data.init_args.annotations", str(OUT / "data" / "synthcrime")),
                     OUT / "predict" / "index.html", outputs=(OUT / "predict",), before=pick_heldout))
    plan.append(Step("report", _python("report", str(tb / "stage3")), tb / "stage3" / "report" / "report.html",
                     outputs=(tb / "stage3" / "report",)))
    return plan


def pick_heldout(per_category: int = 1, normals: int = 2) -> None:
    """Link a few SynthCrime test videos (one per category, a couple of normal ones) into ``heldout/``: videos
    no stage trained on, for ``predict`` to explain."""
    from vanguard.categories import NORMAL
    from vanguard.data.catalog import load_catalog

    folder = OUT / "heldout"
    shutil.rmtree(folder, ignore_errors=True)  # links only: picked again from the current data
    folder.mkdir(parents=True)
    taken: dict[str, int] = {}
    for record in load_catalog(OUT / "data" / "synthcrime", dataset="synthcrime", split="test", probe_videos=False):
        limit = normals if record.category == NORMAL else per_category
        if taken.get(record.category, 0) < limit:
            taken[record.category] = taken.get(record.category, 0) + 1
            link = folder / Path(record.path).name
            if not link.exists():
                link.symlink_to(Path(record.path).resolve())


def run_step(step: Step, index: int, total: int, built_from: str | None = None,
             recorded: str | None = None) -> float:
    """Run ``step`` unless its output exists and was built from ``built_from`` (its fingerprint now) as ``recorded``
    says; a stale or partial output is removed first. Returns the seconds it ran (0 when reused)."""
    print(f"\n[{index}/{total}] {step.name}\n$ {shlex.join(step.argv[1:]).replace('-m vanguard', 'python -m vanguard', 1)}",
          flush=True)
    if step.done.exists() and recorded in (built_from, None):
        why = "exists" if recorded else "exists (built before the demo recorded its inputs: delete it to rebuild)"
        print(f"    reused: {step.done} {why}", flush=True)
        return 0.0
    stale = [p for p in (step.outputs or (step.done,)) if p.exists()]
    if stale:
        reason = "its inputs changed since it was built" if step.done.exists() else "an unfinished run"
        print(f"    rebuilding ({reason}): removing {', '.join(map(str, stale))}", flush=True)
        for path in stale:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if step.before is not None:
        step.before()
    start = time.time()
    result = subprocess.run(step.argv, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if result.returncode != 0:
        raise SystemExit(f"demo: step '{step.name}' failed (exit {result.returncode}); fix and re-run `make demo`")
    if not step.done.exists():
        raise SystemExit(f"demo: step '{step.name}' finished but did not write {step.done}")
    took = time.time() - start
    print(f"    done in {took:.0f} s", flush=True)
    return took


def run_plan(plan: list[Step], ledger: Path) -> dict[str, float]:
    """Run or reuse every step in order; ``ledger`` (JSON, step name -> fingerprint) is updated after each step,
    so an interrupted demo keeps what it finished. Returns the seconds each step ran."""
    from vanguard.io import write_json

    built = json.loads(ledger.read_text()) if ledger.exists() else {}
    timings, upstream = {}, ""
    for i, step in enumerate(plan):
        upstream = fingerprint(step, upstream)
        recorded = built.get(step.name)
        if recorded is None and any(timings.values()):  # unrecorded, and an earlier step was just rebuilt: stale
            recorded = ""
        timings[step.name] = run_step(step, i + 1, len(plan), upstream, recorded)
        if built.get(step.name) != upstream:
            built[step.name] = upstream
            write_json(ledger, built)
    return timings


def _metrics(stage_dir: Path) -> dict:
    path = stage_dir / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _get(metrics: dict, *names: str):
    for name in names:
        node = metrics
        head, _, rest = name.partition(".")
        for part in ([head, rest] if rest and head == "generation" else [name]):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, (int, float)):
            return float(node)
    return None


SUMMARY_COLUMNS = (  # metrics.json written by callbacks.FrameLevelEvaluation at the end of each test
    ("ROC-AUC", ("auc_roc",)),
    ("AP", ("ap_pr_auc",)),
    ("F1@0.5", ("f1_at_0.5",)),
    ("P@0.5", ("precision_at_0.5",)),
    ("R@0.5", ("recall_at_0.5",)),
    ("video AUC", ("video_auc",)),
    ("ground@0.5", ("generation.grounding_acc_iou50",)),
    ("invalid", ("generation.invalid_rate",)),
    ("ROUGE-L", ("generation.rougeL_f",)),
    ("vs head", ("generation.head_disagreements",)),  # answers whose decision or category is not the head's
    ("repeat", ("generation.repetition_rate",)),  # reasoning texts with a word 4-gram more than 3 times
)
ANSWER_COLUMNS = ("invalid", "vs head", "repeat")  # what an answers-only run (unconstrained) reports
#: answers-only runs of stage 3 (scored on its generated batches, not the whole test set) and the columns they report
ANSWER_RUNS = {
    "stage3_unconstrained": ANSWER_COLUMNS,
    # the answer forced to the ground truth's decision and category: the grounding of the boxes alone (the reasoning
    # comes before the forced answer, so it is stage 3's own: its ROUGE-L and repeat are stage3's row)
    "stage3_decision_given": ("ground@0.5", "invalid", "vs head"),
}


def summary_table(tb: Path) -> tuple[str, dict]:
    rows, data = [], {}
    header = "| stage | " + " | ".join(c for c, _ in SUMMARY_COLUMNS) + " |"
    rows += [header, "|" + "---|" * (len(SUMMARY_COLUMNS) + 1)]
    for stage in (*STAGES, *ANSWER_RUNS):
        metrics = _metrics(tb / stage)
        values = {col: _get(metrics, *names) for col, names in SUMMARY_COLUMNS}
        if stage in ANSWER_RUNS:  # answers only: no frame metrics (those are the head's, in stage3's row)
            values = {col: (v if col in ANSWER_RUNS[stage] else None) for col, v in values.items()}
        data[stage] = values
        cells = ["-" if v is None else f"{v:.3f}" for v in values.values()]
        rows.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(rows), data


def summary(tb: Path, seconds: float, timings: dict[str, float]) -> tuple[str, dict]:
    """The closing text (table, position reference, where the outputs are, time) and summary.json's payload."""
    table, data = summary_table(tb)
    prior = _get(_metrics(tb / "stage1"), "position_prior_auc")  # the same test frames for every stage
    reference = (
        "content-blind reference: a score that knows only where in its video a frame lies reaches ROC-AUC "
        f"{prior:.3f} here\n(position_prior_auc; the model sees each subclip on its own clock and cannot use it)\n\n"
        if prior is not None else ""
    )
    text = (
        "\nVANGUARD demo on SynthCrime (test split, frame-level protocol: pooled ROC-AUC, AP = trapezoidal PR-AUC,\n"
        "F1 at 0.5; grounding accuracy at IoU 0.5; invalid = unparseable or invalid answers; ROUGE-L vs the teacher;\n"
        "vs head = answers contradicting the decision they were forced to (the head's; stage3_decision_given: the\n"
        "ground truth's); repeat = share of repetitive reasoning; stage3_decision_given = stage 3's answers forced to\n"
        "the ground truth's decision and category on the same generated batches: ground@0.5 of the boxes alone,\n"
        "beside stage3's end to end, where a missed anomaly has no box)\n\n"
        f"{table}\n\n{reference}"
        f"report:        {tb / 'stage3' / 'report' / 'report.html'}\n"
        f"explanations:  {OUT / 'predict' / 'index.html'} (one page per held-out video)\n"
        f"TensorBoard:   tensorboard --logdir {OUT / 'tensorboard'}\n"
        f"checkpoints:   {OUT}/stage{{1,2,3}}/checkpoints, exported weights {OUT}/stage{{1,2,3}}/export\n\n"
        f"total time: {seconds / 60:.1f} min (steps run this time: {sum(1 for t in timings.values() if t)})\n"
    )
    return text, {"metrics": data, "position_prior_auc": prior, "seconds": round(seconds, 1), "steps": timings}


def demo(videos: int = 160, difficulty: str = "clear") -> None:
    """Run the whole recipe on SynthCrime, from the project's pretrained tiny backbone; outputs go to ``outputs/demo``.

    Args:
        videos: SynthCrime videos (train 60 %, val 10 %, test 30 %).
        difficulty: the SynthCrime world: ``clear`` (every anomalous subclip shows its event) or ``hard``
            (look-alike normal behaviours; a research setting, see docs/synthcrime.md).
    """
    if not (BACKBONE / "model.safetensors").exists():
        raise SystemExit(f"demo: the pretrained backbone {BACKBONE} is missing (it is committed; `make pretrain-backbone` "
                         "rebuilds it)")
    start = time.time()
    timings = run_plan(steps(videos, difficulty), OUT / "steps.json")
    tb = OUT / "tensorboard" / "synthcrime"
    text, payload = summary(tb, time.time() - start, timings)
    print(text)
    from vanguard.io import write_json, write_text

    write_text(OUT / "summary.md", text)
    write_json(OUT / "summary.json", payload)


def main(argv: list[str]) -> None:
    from jsonargparse import CLI

    CLI(demo, args=argv, prog="vanguard demo")
