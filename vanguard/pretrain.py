"""``python -m vanguard backbone pretrain``: teach a tiny backbone to see, by saying what happens and grounding it.

The real Qwen3-VL-4B arrives pretrained; its frozen features already mean something, which is what stage 1's
classifier warmup relies on. A freshly initialised tiny model has no such features, so the project pretrains one
(``make pretrain-backbone``, committed under ``models/``) on SynthCrime videos of a seed of their own (never the
curriculum's videos), with the two tasks of :mod:`vanguard.pretrain_targets`:

- what happens: windows cut and labelled exactly as the curriculum cuts them (``vanguard.data.subclips``), as many
  showing an anomaly as not (``event_windows_per_video``), captioned with the event or "Nothing unusual happens.";
- referring grounding (``grounding_windows_per_video``): "locate every <object> in the last frame", answered with
  Qwen3-VL's bare box list on the ground-truth boxes of that frame, so the language model writes coordinates of
  what it names before stage 2 asks for them.

Clips are encoded like the curriculum's subclips, on their own clock (``SubclipEncoder``). Every parameter trains.
Held-out videos (``heldout_split``) give the figures to stop on (``vanguard.pretrain_eval``): how often the caption
names what happens, and referring-grounding accuracy at IoU 0.5; the best evaluation's weights are what is saved,
as a new backbone directory that ``from_pretrained`` loads like any other, with ``pretrain.json`` (its provenance).
"""

from __future__ import annotations

import math
import os
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vanguard.backbone import causal_lm_forward
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import WindowConfig, window_label, windows
from vanguard.pretrain_targets import CAPTION_QUESTION, GROUNDING_QUESTION, grounding_target, what_happens
from vanguard.processing import SubclipEncoder, collate, normalize_patches
from vanguard.video import decode_clip

__all__ = ["CAPTION_QUESTION", "GROUNDING_QUESTION", "CaptionClips", "grounding_target", "pretrain_backbone"]


class CaptionClips(Dataset):
    """Windows of the given videos with their what-happens caption or a referring-grounding question; frames
    decoded once, kept as uint8. Items: ``(frames, fps, frame indices, question, target, category)``.

    Per video: up to ``event_windows_per_video`` anomalous windows and as many normal ones (at least
    ``windows_per_video`` normal windows in every video), and ``grounding_windows_per_video`` windows whose last
    sampled frame has ground-truth boxes."""

    def __init__(self, records: list[VideoRecord], encoder: SubclipEncoder, config: WindowConfig,
                 windows_per_video: int, seed: int, grounding_windows_per_video: int = 0,
                 event_windows_per_video: int = 0, scene_sentences: bool = True):
        rng = random.Random(seed)
        self.encoder = encoder
        self.items: list[tuple[np.ndarray, float, list[int], str, str, str]] = []
        self.grounding = self.events = 0
        for record in records:
            frames = decode_clip(record.path)
            fps = float(record.fps or 25.0)
            cut = windows(len(frames), config)
            if not cut or len(cut[0].frame_indices) < config.num_frames:
                continue
            labelled = [(w, window_label(w, record.intervals or [], config.min_fraction)) for w in cut]
            anomalous = [w for w, label in labelled if label]
            normal = [w for w, label in labelled if not label]
            picked = rng.sample(anomalous, min(event_windows_per_video, len(anomalous)))
            self.events += len(picked)
            picked += rng.sample(normal, min(max(windows_per_video, len(picked)), len(normal)))
            for w in picked:
                idx = list(w.frame_indices)
                self.items.append((frames[idx], fps, idx, CAPTION_QUESTION,
                                   what_happens(record, idx, config.min_fraction, scene_sentences), record.category))
            with_boxes = [w for w in cut if (record.boxes or {}).get(w.frame_indices[-1])]
            for w in rng.sample(with_boxes, min(grounding_windows_per_video, len(with_boxes))):
                idx = list(w.frame_indices)
                question, target = grounding_target(record, idx[-1], rng)
                self.items.append((frames[idx], fps, idx, question, target, record.category))
                self.grounding += 1

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        frames, fps, idx, question, target, _ = self.items[i]
        # uint8 patches (as the datamodule's workers ship them); normalised next to the model in the training loop
        return self.encoder.encode(frames, fps, idx, target=target, question=question, normalize=False)


def _commit() -> str | None:
    """The git commit of the code that pretrained (with ``+dirty`` when the tree had changes), for provenance."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _worker_init(_):
    torch.set_num_threads(1)


def pretrain_backbone(
    backbone: Path,
    data: Path,
    out: Path,
    dataset: str = "synthcrime",
    split: str = "train",
    heldout_split: str | None = "test",
    steps: int = 300,
    batch_size: int = 8,
    lr: float = 1e-3,
    window_length: int = 16,
    window_stride: int = 8,
    num_frames: int = 8,
    frame_pixels: int = 128 * 96,
    windows_per_video: int = 6,
    event_windows_per_video: int = 0,
    grounding_windows_per_video: int = 0,
    scene_sentences: bool = True,
    eval_every: int = 0,
    eval_clips: int = 240,
    save_dtype: str = "float32",
    num_workers: int = 1,
    seed: int = 0,
) -> Path:
    """Pretrain a (tiny) backbone to say what happens and to ground it; save it as a new backbone directory.

    Args:
        backbone: the backbone directory to start from (e.g. one written by ``backbone tiny``).
        data: a dataset root in UCF-Crime layout with UCA-style captions and boxes (a SynthCrime set of its own).
        out: where to write the pretrained backbone directory (with ``pretrain.json``, its provenance).
        dataset: catalog name of ``data`` (``synthcrime``, ``ucf_crime``).
        split: the split of ``data`` to train on.
        heldout_split: the split whose videos give the held-out figures (never trained on); None: none.
        steps: optimisation steps.
        batch_size: clips per step.
        lr: peak learning rate (AdamW, linear warmup then cosine decay).
        window_length: source frames one window spans (the curriculum's windowing).
        window_stride: source frames between window starts.
        num_frames: frames sampled per window.
        frame_pixels: pixel budget per frame.
        windows_per_video: normal windows per video (at least as many as its anomalous ones).
        event_windows_per_video: anomalous windows per video (0: normal windows only).
        grounding_windows_per_video: windows per video whose last frame has ground-truth boxes, each asking for
            the boxes of one of that frame's labels (referring grounding); 0 pretrains on captions alone.
        scene_sentences: captions of normal windows go on with a sentence of what the scene shows; False keeps every
            caption to the event or "Nothing unusual happens." (the decision's share of the loss grows).
        eval_every: steps between held-out evaluations (0: only at the end); the weights of the best evaluation
            (events named right + grounding accuracy; the later one on a tie) are the ones saved.
        eval_clips: held-out clips per evaluation (captions and grounding questions, in their proportions).
        save_dtype: dtype of the saved weights (``bfloat16`` halves the file; loads into float32 unchanged).
        num_workers: DataLoader workers running the processor.
        seed: seed of the window draw, the data order and the initialisation of nothing else.
    """
    from tqdm import tqdm
    from transformers import AutoModelForImageTextToText

    from vanguard.data.catalog import load_catalog
    from vanguard.io import write_json
    from vanguard.pretrain_eval import heldout_figures

    commit = _commit()  # the code that runs, read before a long run gives the tree time to move on
    torch.manual_seed(seed)
    if not torch.cuda.is_available():  # leave the cores the workers use (OpenMP pools fighting are ~10x slower)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - num_workers))
    config = WindowConfig(length=window_length, stride=window_stride, num_frames=num_frames)
    encoder = SubclipEncoder(str(backbone), frame_pixels=frame_pixels)
    clips = CaptionClips(load_catalog(data, dataset=dataset, split=split), encoder, config, windows_per_video, seed,
                         grounding_windows_per_video, event_windows_per_video, scene_sentences)
    if len(clips) < batch_size:
        raise ValueError(f"{data}: only {len(clips)} captioned clips in split {split!r}; need at least {batch_size}")
    heldout = None
    if heldout_split:
        heldout = CaptionClips(load_catalog(data, dataset=dataset, split=heldout_split), encoder, config, 2, seed + 1,
                               1, 2, scene_sentences)
        keep = sorted(random.Random(seed).sample(range(len(heldout.items)), min(eval_clips, len(heldout.items))))
        heldout.items = [heldout.items[i] for i in keep]
    model = AutoModelForImageTextToText.from_pretrained(str(backbone), trust_remote_code=False)
    model.train()
    pad = encoder.tokenizer.pad_token_id
    loader = DataLoader(clips, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=num_workers,
                        collate_fn=lambda items: collate(items, pad), worker_init_fn=_worker_init,
                        persistent_workers=num_workers > 0, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    keys = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw", "labels")
    losses: list[float] = []
    evaluations: list[dict] = []
    best: tuple[dict | None, dict | None] = (None, None)  # (the best evaluation, its weights)
    start = time.time()

    def evaluate() -> None:
        nonlocal best
        if heldout is None:
            return
        figures = {"step": len(losses), "train_loss": float(np.mean(losses[-20:])), **heldout_figures(model, encoder, heldout)}
        evaluations.append(figures)
        tqdm.write(f"held-out @ step {figures['step']}: caption names the event {figures['event_accuracy']:.3f}, "
                   f"grounding@IoU0.5 {figures['grounding_acc_iou50']:.3f}")
        score = figures["event_accuracy"] + figures["grounding_acc_iou50"]  # ties: the later (longer-trained) one
        if best[0] is None or score >= best[0]["event_accuracy"] + best[0]["grounding_acc_iou50"]:
            best = (figures, {k: v.detach().clone() for k, v in model.state_dict().items()})
        model.train()

    task = "what happens + grounding" if clips.grounding else "what happens"
    bar = tqdm(total=steps, desc=f"pretrain ({task})", unit="step")
    while len(losses) < steps:
        for batch in loader:
            batch["pixel_values_videos"] = normalize_patches(batch["pixel_values_videos"], encoder.processor, model.dtype)
            _, loss = causal_lm_forward(model, {k: batch[k] for k in keys})
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if eval_every and len(losses) % eval_every == 0 and len(losses) < steps:
                evaluate()
            if len(losses) >= steps:
                break
    bar.close()
    evaluate()
    if best[1] is not None:
        model.load_state_dict(best[1])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.to(getattr(torch, save_dtype)).save_pretrained(out)
    encoder.processor.save_pretrained(out)
    chosen = best[0]
    from_cli = sys.argv[1:3] == ["backbone", "pretrain"]
    summary = {"command": shlex.join(["python", "-m", "vanguard", *sys.argv[1:]]) if from_cli else None,
               "commit": commit, "from": str(backbone), "data": str(data), "split": split, "heldout_split": heldout_split,
               "clips": len(clips), "event_clips": clips.events, "grounding_clips": clips.grounding,
               "heldout_clips": len(heldout) if heldout else 0, "steps": steps, "batch_size": batch_size, "lr": lr,
               "first_loss": float(np.mean(losses[:10])), "final_loss": float(np.mean(losses[-20:])),
               "seconds": round(time.time() - start, 1), "saved_dtype": save_dtype,
               "heldout": chosen, "evaluations": evaluations}
    write_json(out / "pretrain.json", summary)
    said = (f"; held-out (step {chosen['step']}): caption names the event {chosen['event_accuracy']:.3f}, "
            f"grounding@IoU0.5 {chosen['grounding_acc_iou50']:.3f}") if chosen else ""
    print(f"pretrained {len(clips)} clips ({clips.events} showing an event, {clips.grounding} grounding) x {steps} "
          f"steps: loss {summary['first_loss']:.2f} -> {summary['final_loss']:.2f} in {summary['seconds']} s{said}; "
          f"saved to {out}")
    return out
