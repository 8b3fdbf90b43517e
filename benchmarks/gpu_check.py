"""The project's GPU check (``make gpu-check``): what CI's CPUs cannot run, on one CUDA device.

    python -m benchmarks.gpu_check [--device auto|cuda|cpu] [--quick] [--steps 40] [--work outputs/gpu_check]

1. The demo world through stages 1-3 in bf16: SynthCrime, the scripted teacher's shards, a larger tiny Qwen3-VL
   (``backbone tiny --size gpu``, ~30 M parameters) and ``fit`` + ``test`` of experiments/synthcrime/base.yaml + stage{1,2,3}.yaml
   (copied with the device, bf16, ``--steps`` training steps and a step-time callback). Prints each stage's step
   time, samples/s, peak memory and test figures (frame-level ROC-AUC, AP, invalid answers).
2. One real-width model: the real Qwen3-VL-4B-Instruct files (``../shared/fixtures/qwen3vl_4b_instruct``) cut to 2
   decoder layers and 2 vision blocks at every real width (``vanguard.reduced``, ~0.7 B parameters, random bf16
   weights), a stage-2 training step (LoRA r=16, activation checkpointing, bf16 autocast) on 320x240 subclips of 16
   frames at the UCF-Crime budget, and one constrained generation over the real vocabulary. Prints step time,
   tokens/s, peak memory, generation time and whether every answer parses.

Without CUDA (``--device auto``) it prints that it skipped and exits 0. ``--device cpu --quick`` runs the same code
on CPU at toy sizes (the unit tiny model, a narrow real-file model, one step each): the smoke test CI runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback

from benchmarks.common import ROOT, real_shards, training_batch

QWEN_FILES = ROOT.parent / "shared" / "fixtures" / "qwen3vl_4b_instruct"
STAGES = ("stage1", "stage2", "stage3")


class StepStats(Callback):
    """Wall time of each training batch (the device synchronised), samples per second and peak memory, written as
    JSON to ``out`` when training ends. The first ``skip`` batches (warm-up, first data) are left out."""

    def __init__(self, out: str, skip: int = 2):
        self.out, self.skip = out, skip
        self.times: list[float] = []
        self.samples: list[int] = []
        self._start = 0.0

    def _sync(self, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_start(self, trainer, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync(pl_module)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync(pl_module)
        self.times.append(time.perf_counter() - self._start)
        self.samples.append(int(batch["label"].shape[0]))

    def on_train_end(self, trainer, pl_module) -> None:
        from vanguard.io import write_json

        times = self.times[self.skip:] or self.times
        samples = self.samples[self.skip:] or self.samples
        write_json(self.out, {"steps": len(self.times), "step_s": statistics.median(times),
                              "samples_per_s": sum(samples) / sum(times), "peak_gb": peak_memory_gb(pl_module.device)})


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory of this process on ``device``: CUDA's allocator peak, or the peak resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def stage_config(stage: str, work: Path, cuda: bool, steps: int, quick: bool) -> Path:
    """SynthCrime's resolved ``<stage>`` config (base.yaml + <stage>.yaml) for this run: the check's tiny backbone, device, bf16 on CUDA, ``steps``
    training steps, the StepStats callback; the other paths stay relative (``outputs/demo/...`` under ``work``)."""
    import yaml

    from vanguard.configs import experiment_configs, resolved_config

    cfg = resolved_config(experiment_configs(ROOT / "experiments" / "synthcrime", stage))
    trainer = cfg["trainer"]
    # one epoch of `steps` batches: it ends with the stage's validation and last.ckpt, which `test` loads
    trainer.update(accelerator="gpu" if cuda else "cpu", devices=1, max_steps=steps, max_epochs=1,
                   enable_progress_bar=False, precision="bf16-mixed" if cuda else "32-true")
    trainer.pop("strategy", None)
    if quick:
        trainer.update(limit_val_batches=1, limit_test_batches=1, val_check_interval=None)
    trainer["callbacks"].append({"class_path": "benchmarks.gpu_check.StepStats",
                                 "init_args": {"out": str(work / f"{stage}_steps.json"), "skip": 0 if quick else 2}})
    model = cfg["model"]["init_args"]
    backbone = str(work / "outputs" / "demo" / "backbone")  # the check's own tiny model, whatever the config names
    model["backbone"]["init_args"]["path"] = backbone
    if cuda:
        model["backbone"]["init_args"]["dtype"] = "bfloat16"
    if quick:  # answers only at test, short ones (a constrained answer still completes: AnswerConstraint)
        model.update(generate_val_batches=0, max_new_tokens=32)
    data = cfg["data"]["init_args"]
    data.update(num_workers=0 if quick else min(8, os.cpu_count() or 1),
                batches_per_epoch=steps)
    if quick:
        data.update(batch_size=2, eval_batch_size=2)
    path = work / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def demo_world(work: Path, cuda: bool, steps: int, quick: bool) -> dict:
    """Part 1 (see the module docstring): every command in this process, cwd ``work``. Returns per-stage figures."""
    from vanguard.cli import main
    from vanguard.tools.demo import _get, _metrics

    work.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(work)
    try:
        out = Path("outputs/demo")
        if not (out / "backbone" / "model.safetensors").exists():
            main(["backbone", "tiny", str(out / "backbone"), "--size", "unit" if quick else "gpu"])
        if not (out / "shards" / "stats.json").exists():
            main(["data", "synthcrime", str(out / "data"), "--videos", "8" if quick else "60", "--zero_shot", "0",
                  "--workers", "1" if quick else "4"])
            main(["annotate", "--config", str(ROOT / "experiments/synthcrime/annotate.yaml")])
        figures = {}
        for stage in STAGES:
            config = str(stage_config(stage, work, cuda, steps, quick))
            start = time.perf_counter()
            main(["fit", "--config", config])
            fit_s = time.perf_counter() - start
            main(["test", "--config", config, "--ckpt_path", str(out / stage / "checkpoints" / "last.ckpt")])
            metrics = _metrics(out / "tensorboard" / "synthcrime" / stage)
            figures[stage] = {**json.loads((work / f"{stage}_steps.json").read_text()), "fit_s": fit_s,
                              "auc_roc": _get(metrics, "auc_roc"), "ap": _get(metrics, "ap_pr_auc"),
                              "invalid": _get(metrics, "generation.invalid_rate")}
        return figures
    finally:
        os.chdir(here)


def real_width_step(work: Path, device: torch.device, quick: bool, qwen_files: Path = QWEN_FILES) -> dict | None:
    """Part 2 (see the module docstring); None when the real files are absent."""
    from transformers import LogitsProcessorList

    from vanguard.adapters import lora_config, parameter_counts
    from vanguard.answer import parse_answer
    from vanguard.backbone import Backbone
    from vanguard.decoding import AnswerConstraint
    from vanguard.reduced import build_reduced
    from vanguard.stages import GroundingStage

    if not (qwen_files / "config.json").is_file():
        print(f"gpu_check: real-width step skipped: no Qwen3-VL files at {qwen_files}", flush=True)
        return None
    cuda = device.type == "cuda"
    frames, pixels, batch_n = (8, 64 * 64, 1) if quick else (16, 320 * 240, 4)
    path = work / ("qwen3vl_narrow" if quick else "qwen3vl_real_width")
    if not (path / "model.safetensors").exists():
        build_reduced(qwen_files, path, text_layers=2, vision_depth=2, narrow=quick,
                      dtype="bfloat16" if cuda else "float32", device=device.type)
    backbone = Backbone(str(path), dtype="bfloat16" if cuda else "float32", activation_checkpointing=True,
                        num_frames=frames, frame_pixels=pixels)
    stage = GroundingStage(backbone, max_new_tokens=32 if quick else 160)
    stage.prepare(lora_config(r=16, alpha=32))
    stage.to(device)
    trainable, total = parameter_counts(stage)
    optimizer = torch.optim.AdamW(stage.param_groups())
    shards = real_shards(work, n_videos=2, clips=2, splits=("train",))
    batch, prompts = (to_device(training_batch(str(path), shards, batch_n, "answer", num_frames=frames,
                                               frame_pixels=pixels, prompt_only=prompt_only), device)
                      for prompt_only in (False, True))
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(1 if quick else 3):  # the first is warm-up (kernels, allocator)
        sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            features, lm_loss = stage.compute_features(batch, "train")
            losses = stage.losses(stage.head(features), batch, lm_loss)
        total_loss = sum(losses.values())
        total_loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times[1:] or times)
    constraint = AnswerConstraint(backbone.tokenizer, max_boxes=1 if quick else stage.hparams.max_boxes)
    sync(device)
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
        texts = backbone.generate(prompts, max_new_tokens=constraint.required_new_tokens(),
                                  logits_processor=LogitsProcessorList([constraint]))
    sync(device)
    return {"params": total, "trainable": trainable, "batch": batch_n, "tokens": int(batch["attention_mask"].sum()),
            "step_s": step_s, "tokens_per_s": int(batch["attention_mask"].sum()) / step_s,
            "loss": float(total_loss.detach()), "peak_gb": peak_memory_gb(device), "generate_s": time.perf_counter() - start,
            "valid": sum(parse_answer(t).valid for t in texts), "answers": len(texts)}


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def report(world: dict, real: dict | None, device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"gpu_check on {name}", "", "| stage | step s | samples/s | peak GB | fit s | ROC-AUC | AP | invalid |",
             "|---|---|---|---|---|---|---|---|"]
    for stage, f in world.items():
        cells = [f"{f['step_s']:.3f}", f"{f['samples_per_s']:.1f}", f"{f['peak_gb']:.2f}", f"{f['fit_s']:.0f}"]
        cells += ["-" if f[k] is None else f"{f[k]:.3f}" for k in ("auc_roc", "ap", "invalid")]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    if real is not None:
        lines += ["", f"real-width Qwen3-VL (2 layers, 2 vision blocks): {real['params'] / 1e9:.2f} B parameters, "
                      f"{real['trainable'] / 1e6:.1f} M trainable; batch {real['batch']}, {real['tokens']} tokens: "
                      f"step {real['step_s']:.3f} s ({real['tokens_per_s']:.0f} tokens/s), loss {real['loss']:.2f}, "
                      f"peak {real['peak_gb']:.2f} GB; constrained generation {real['generate_s']:.1f} s, "
                      f"{real['valid']}/{real['answers']} answers valid"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"],
                    help="auto: CUDA if present, else skip (exit 0)")
    ap.add_argument("--quick", action="store_true", help="toy sizes, one step each (the CPU smoke test)")
    ap.add_argument("--steps", type=int, default=40, help="training steps per stage")
    ap.add_argument("--work", default="outputs/gpu_check")
    ap.add_argument("--qwen_files", default=str(QWEN_FILES))
    args = ap.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available():
        print("gpu_check: skipped: no CUDA device (run it on a GPU machine, or --device cpu --quick for the smoke test)")
        return 0
    device = torch.device("cuda" if args.device != "cpu" else "cpu")
    work = Path(args.work).resolve()
    steps = 1 if args.quick else args.steps
    world = demo_world(work, device.type == "cuda", steps, args.quick)
    real = real_width_step(work, device, args.quick, Path(args.qwen_files))
    text = report(world, real, device)
    print("\n" + text, flush=True)
    from vanguard.io import write_json, write_text

    write_text(work / "gpu_check.md", text + "\n")
    write_json(work / "gpu_check.json", {"device": str(device), "demo_world": world, "real_width": real})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
