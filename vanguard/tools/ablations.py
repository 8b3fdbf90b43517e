"""``python -m vanguard ablations`` (``make ablations``): the paper's claims, tested on SynthCrime over seeds.

Per seed: the staged curriculum (1 -> 2 -> 3), stopping after stage 2 (no reasoning), stage 3 fit without its
reasoning loss (``lm_weight: 0``: its extra classification epochs alone, the control for "reasoning regularises"),
the monolithic stage (every objective from the start) and classification-only LoRA fine-tuning, each fit and tested
with the same frame-level protocol; then the staged model's zero-shot transfer to the XD-Violence-style domain (AP)
and the ShanghaiTech-style domain (AUC), with no adaptation. Reuses ``make demo``'s shards (and the committed
pretrained backbone), and the demo's own stage 1-3 runs as the staged chain of the seed they were fit with, when the configs they saved equal this seed's
(the same runs would be repeated otherwise). Writes ``outputs/ablations/ablations.{md,json}`` after every seed:
mean and standard deviation over the seeds done so far, whatever they show.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vanguard.configs import experiment_configs, resolved_config

DEMO = "outputs/demo"
EXPERIMENT = "experiments/synthcrime"


@dataclass(frozen=True)
class Run:
    """One fit of SynthCrime's ``<config>`` (``base.yaml`` + ``<config>.yaml``) under the name ``name`` (its run folder and TensorBoard
    version; default: the config's name), with ``model_args`` overriding the config's ``model.init_args``."""

    config: str
    name: str = ""
    model_args: dict = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return self.name or self.config


VARIANTS = {  # name -> the runs fit in order; the last one is tested
    "staged (1-2-3)": ("stage1", "stage2", "stage3"),
    "stop after stage 2": ("stage1", "stage2"),
    # the same stage 3 (data, epochs, LoRA, head) with the reasoning's LM loss weighted 0: whatever staged gains
    # over this row is the reasoning's, whatever this row gains over "stop after stage 2" is more epochs
    "stage 3 without reasoning loss": ("stage1", "stage2", Run("stage3", "stage3_no_reasoning", {"lm_weight": 0.0})),
    "monolithic": ("monolithic",),
    "classification-only": ("cls_finetune",),
}
COLUMNS = ("auc_roc", "ap_pr_auc", "f1_at_0.5", "precision_at_0.5", "recall_at_0.5", "grounding_acc_iou50")


def _experiment(name: str) -> dict:
    """The whole config ``fit`` resolves for SynthCrime's ``name`` (``base.yaml`` + ``<name>.yaml``), a copy the
    caller may change."""
    return copy.deepcopy(_resolved(name))


@functools.cache
def _resolved(name: str) -> dict:
    # one parse per config and process: every seed, variant and reuse check asks again for the same few configs
    return resolved_config(experiment_configs(EXPERIMENT, name))


def _seeded_config(run: Run, seed: int, root: Path) -> Path:
    """The experiment's resolved config with every run folder moved under ``root`` (this run's own under its name),
    every seed set to ``seed`` and the run's model arguments applied, written as one file."""
    text = yaml.safe_dump(_experiment(run.config), sort_keys=False)
    for old, new in ((f"{DEMO}/{run.config}/", f"{root}/{run.folder}/"), (f"{DEMO}/tensorboard", f"{root}/tensorboard"),
                     (f"{DEMO}/ablations/", f"{root}/"), (f"{DEMO}/stage", f"{root}/stage")):
        text = text.replace(old, new)
    config = yaml.safe_load(text)
    config["seed_everything"] = seed
    config["data"]["init_args"]["seed"] = seed
    config["trainer"]["default_root_dir"] = str(root / run.folder)
    config["trainer"]["logger"]["init_args"]["version"] = run.folder
    config["model"]["init_args"].update(run.model_args)
    for callback in config["trainer"]["callbacks"]:  # start from the demo's own previous stage when it was reused
        previous = callback["init_args"].get("init_from") if "Curriculum" in callback["class_path"] else None
        if previous and _demo_run(Path(previous).parent.name, seed) is not None:
            callback["init_args"]["init_from"] = f"{DEMO}/{Path(previous).parent.name}/export"
    path = root / "configs" / f"{run.folder}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _run(*args: str) -> None:
    print("$ python -m vanguard " + " ".join(args), flush=True)
    if subprocess.run([sys.executable, "-m", "vanguard", *args]).returncode != 0:
        raise SystemExit(f"ablations: `vanguard {' '.join(args)}` failed")


def _demo_run(name: str, seed: int) -> Path | None:
    """The demo's own run folder of stage ``name`` when it was fit and tested with exactly this seed's config
    (same YAML but for the output folders), after the demo run it started from (itself reusable), else None."""
    wanted = _experiment(name)
    wanted["seed_everything"] = seed
    wanted["data"]["init_args"]["seed"] = seed
    tb = Path(DEMO, "tensorboard", "synthcrime", name)
    if not (_fit_current(Path(DEMO, name), tb, wanted) and _tested(Path(DEMO, name), tb)):
        return None
    start = _init_from(wanted)  # a demo stage is only as current as the demo stage it continues
    if start and Path(start).parent.parent == Path(DEMO) and _demo_run(Path(start).parent.name, seed) is None:
        return None
    return tb


def _init_from(config: dict) -> str | None:
    """The export folder the run's ``callbacks.Curriculum`` starts from (None: the backbone alone)."""
    for callback in config["trainer"]["callbacks"]:
        if "Curriculum" in callback["class_path"]:
            return callback["init_args"].get("init_from")
    return None


def _fit_current(run_dir: Path, tb_dir: Path, wanted: dict) -> bool:
    """The run in ``run_dir`` (TensorBoard folder ``tb_dir``) was fit with every setting ``wanted`` gives, after
    the export it started from was written (a previous stage fit again since makes it stale)."""
    export, saved = run_dir / "export" / "stage.json", tb_dir / "config.yaml"
    if not (export.exists() and saved.exists() and _same(yaml.safe_load(saved.read_text()), wanted)):
        return False
    start = _init_from(wanted)
    return not start or (Path(start, "stage.json").exists()
                         and Path(start, "stage.json").stat().st_mtime <= export.stat().st_mtime)


def _tested(run_dir: Path, tb_dir: Path) -> bool:
    """The test's metrics are there and newer than the weights they score."""
    metrics = tb_dir / "metrics.json"
    return metrics.exists() and metrics.stat().st_mtime >= (run_dir / "export" / "stage.json").stat().st_mtime


def _same(saved, wanted) -> bool:
    """Every setting of the resolved experiment config is the same in the config LightningCLI saved."""
    if isinstance(wanted, dict):
        return isinstance(saved, dict) and all(k in saved and _same(saved[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(saved, list) and len(saved) == len(wanted) and all(map(_same, saved, wanted))
    return saved == wanted


def _fit_and_test(run: Run | str, seed: int, root: Path) -> dict:
    run = Run(run) if isinstance(run, str) else run
    demo_run = _demo_run(run.config, seed) if run.config.startswith("stage") and not run.name else None
    if demo_run is not None:
        print(f"ablations: seed {seed} {run.config}: reusing the demo's run ({demo_run}, same config)", flush=True)
        return json.loads((demo_run / "metrics.json").read_text())
    config = _seeded_config(run, seed, root)
    run_dir, tb_dir = root / run.folder, root / "tensorboard" / "synthcrime" / run.folder
    if not _fit_current(run_dir, tb_dir, yaml.safe_load(config.read_text())):
        stale = [p for p in (run_dir, tb_dir) if p.exists()]
        if stale:  # another config, an unfinished fit, or a previous stage fit again since
            removed = ", ".join(map(str, stale))
            print(f"ablations: seed {seed} {run.folder}: fitting again, removing {removed}", flush=True)
            for path in stale:
                shutil.rmtree(path)
        _run("fit", "--config", str(config))
    if not _tested(run_dir, tb_dir):
        _run("test", "--config", str(config), "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"))
    return json.loads((tb_dir / "metrics.json").read_text())


def _zero_shot(seed: int, root: Path) -> dict:
    """Stage 3 (staged) on the two unseen domains: predictions -> frame scores -> the domain's own protocol."""
    from vanguard.data.annotations import VideoAnnotation
    from vanguard.data.catalog import load_catalog
    from vanguard.metrics.protocols import evaluate_frame_scores, frame_scores_from_subclips
    from vanguard.report.predictions import read_predictions

    out = {}
    for domain, metric in (("xd_violence", "ap_pr_auc"), ("shanghaitech", "auc_roc")):
        data = Path(DEMO) / "data" / domain
        pred_dir = root / "zero_shot" / domain
        stage3 = Path(DEMO, "stage3") if _demo_run("stage3", seed) is not None else root / "stage3"
        index = pred_dir / "index.html"
        if not index.exists() or index.stat().st_mtime < (stage3 / "export" / "stage.json").stat().st_mtime:
            shutil.rmtree(pred_dir, ignore_errors=True)  # none yet, or predictions of an older stage 3
            config = yaml.safe_load(Path(EXPERIMENT, "predict.yaml").read_text())
            for callback in config["trainer"]["callbacks"]:  # this seed's stage-3 weights, this domain's folder
                callback["init_args"].update(
                    {"init_from": str(stage3 / "export")} if "Curriculum" in callback["class_path"]
                    else {"out_dir": str(pred_dir)})
            config["trainer"]["default_root_dir"] = str(pred_dir)
            config["model"]["init_args"]["generate_predict"] = False  # the domain's AP/AUC need the scores only
            config["data"]["init_args"].update(videos=str(data / "videos"), annotations=str(data), dataset=domain)
            path = root / "configs" / f"predict_{domain}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            _run("predict", "--config", str(path))
        records = load_catalog(data, dataset=domain, split="test")
        videos = {v.video_id: v for v in read_predictions(pred_dir)}
        spans = [(vid, s.start_frame, s.end_frame, s.score) for vid, v in videos.items() for s in v.subclips]
        counts = {r.video_id: r.num_frames for r in records if r.video_id in videos}
        scores = frame_scores_from_subclips(spans, counts)
        gt = [VideoAnnotation(r.video_id, r.category, list(r.intervals or []), r.num_frames, r.fps) for r in records]
        out[domain] = {metric: evaluate_frame_scores(scores, gt, allow_missing=True)[metric]}
    return out


def _mean_std(values: list[float | None]) -> str:
    """Mean ± sample std; a metric undefined in some seeds (precision when nothing scores >= 0.5) says over how many
    seeds it was taken, so one seed's value never reads as a three-seed mean."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    if len(present) == 1:  # a sample std of one value is undefined, not 0: say it is one seed's figure
        return f"{present[0]:.3f} (n=1)" if len(values) == 1 else f"{present[0]:.3f} (n=1 of {len(values)})"
    text = f"{statistics.mean(present):.3f} ± {statistics.stdev(present):.3f}"
    return text if len(present) == len(values) else f"{text} (n={len(present)} of {len(values)})"


def ablations(seeds: list[int] = [0, 1, 2], out: Path = Path("outputs/ablations")) -> None:  # noqa: B006
    """Staged, stop after 2, stage 3 without reasoning, monolithic, cls-only over seeds; then zero-shot transfer.

    Args:
        seeds: training seeds (each variant is fit and tested once per seed).
        out: output folder (per-seed runs, ablations.md, ablations.json).
    """
    if not Path(DEMO, "shards", "stats.json").exists():
        raise SystemExit("ablations: run `make demo` first (it builds the shards reused here)")
    start = time.time()
    results: dict = {}
    for seed in seeds:
        root = out / f"seed{seed}"
        for variant, chain in VARIANTS.items():
            for run in chain[:-1]:
                _fit_and_test(run, seed, root)
            metrics = _fit_and_test(chain[-1], seed, root)
            gen = metrics.get("generation", {})
            results.setdefault(variant, []).append({c: metrics.get(c, gen.get(c)) for c in COLUMNS})
        results.setdefault("zero-shot", []).append(_zero_shot(seed, root))
        _write_table(out, seeds, results, time.time() - start)  # after every seed: a long run leaves what it has


def _write_table(out: Path, seeds: list[int], results: dict, seconds: float) -> None:
    done = seeds[: len(results["zero-shot"])]
    lines = ["| variant | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for variant in VARIANTS:
        lines.append(f"| {variant} | " + " | ".join(_mean_std([r[c] for r in results[variant]]) for c in COLUMNS) + " |")
    xd = _mean_std([r["xd_violence"]["ap_pr_auc"] for r in results["zero-shot"]])
    sht = _mean_std([r["shanghaitech"]["auc_roc"] for r in results["zero-shot"]])
    pending = [s for s in seeds if s not in done]
    text = (f"SynthCrime ablations over seeds {done} (mean ± std; frame-level protocol on the test split)"
            + (f"; seeds {pending} not done yet" if pending else "") + "\n\n"
            + "\n".join(lines)
            + f"\n\nZero-shot transfer of the staged model: XD-Violence-style AP (trapezoidal PR-AUC) {xd}, "
            f"ShanghaiTech-style ROC-AUC {sht}.\n\nTook {seconds / 60:.0f} min.\n")
    print(text)
    from vanguard.io import write_json, write_text

    write_text(out / "ablations.md", text)
    write_json(out / "ablations.json", {"seeds": done, "pending": pending, "runs": results, "seconds": round(seconds)})


def main(argv: list[str]) -> None:
    from jsonargparse import CLI

    CLI(ablations, args=argv, prog="vanguard ablations")
