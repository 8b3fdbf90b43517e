"""``python -m vanguard backbone pretrain``: teach a tiny backbone to see, by captioning and grounding surveillance clips.

The real Qwen3-VL-4B arrives pretrained; its frozen features already mean something, which is what stage 1's
classifier warmup relies on. A freshly initialised tiny model has no such features, so it gets a short generic
pretraining first, on videos of a split of their own (never the videos the curriculum is evaluated on), with the
two generic tasks the real model was pretrained on:

- captioning: describe a clip with the UCA-style captions of the segments it overlaps;
- referring grounding (optional, ``grounding_windows_per_video``): "locate every <object> in the last frame", answered
  with Qwen3-VL's bare box list on the ground-truth boxes of that frame, so the language model writes coordinates
  before stage 2 asks for them. Measured on SynthCrime (docs/demo_history_video_clock.md): it teaches the answer
  format (stage-2 LM loss 1.3 instead of 2.8 after 150 steps); its effect on the anomaly score was measured while
  the model could still read a subclip's position in its video, so it says nothing about what the model sees.

Clips are encoded like the curriculum's subclips, on their own clock (``SubclipEncoder``): with the video's clock the
timestamps told the model which caption segments a window overlaps, so captions could be predicted without looking.

Every parameter trains; the result is saved as a new backbone directory that ``from_pretrained`` loads like any other.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vanguard.answer import render_boxes
from vanguard.backbone import causal_lm_forward
from vanguard.data.annotations import VideoRecord
from vanguard.processing import SubclipEncoder, collate, normalize_patches
from vanguard.video import decode_clip

CAPTION_QUESTION = "Describe what happens in this surveillance clip."
GROUNDING_QUESTION = "Locate every {label} in the last frame of the clip, and output their bbox coordinates in JSON format."


def caption_target(record: VideoRecord, start_s: float, end_s: float) -> str | None:
    """The sentences of the caption segments overlapping ``[start_s, end_s]``, in time order."""
    hits = sorted((c for c in record.captions if c.end > start_s and c.start < end_s), key=lambda c: c.start)
    text = " ".join(c.sentence.strip() for c in hits)
    return text or None


def grounding_target(record: VideoRecord, keyframe: int, rng: random.Random) -> tuple[str, str] | None:
    """``(question, answer)`` asking for every box of one label on ``keyframe``; None when the frame has no box."""
    boxes = (record.boxes or {}).get(keyframe) or []
    if not boxes:
        return None
    label = rng.choice(sorted({b.label for b in boxes}))
    return GROUNDING_QUESTION.format(label=label), render_boxes([b for b in boxes if b.label == label])


class CaptionClips(Dataset):
    """Windows of the given videos with their caption (random windows) or grounding (windows ending on a frame with
    boxes) targets; frames decoded once, kept as uint8."""

    def __init__(self, records: list[VideoRecord], encoder: SubclipEncoder, num_frames: int, frame_stride: int,
                 windows_per_video: int, seed: int, grounding_windows_per_video: int = 0):
        rng = random.Random(seed)
        self.encoder = encoder
        self.items: list[tuple[np.ndarray, float, list[int], str, str]] = []
        span = num_frames * frame_stride
        self.grounding = 0
        for record in records:
            frames = decode_clip(record.path)
            fps = float(record.fps or 25.0)
            if len(frames) < span:
                continue
            for _ in range(windows_per_video):
                start = rng.randrange(0, len(frames) - span + 1)
                idx = list(range(start, start + span, frame_stride))
                target = caption_target(record, idx[0] / fps, idx[-1] / fps)
                if target:
                    self.items.append((frames[idx], fps, idx, CAPTION_QUESTION, target))
            keyframes = sorted(k for k, b in (record.boxes or {}).items() if b and span - frame_stride <= k < len(frames))
            for key in rng.sample(keyframes, min(grounding_windows_per_video, len(keyframes))):
                idx = list(range(key - span + frame_stride, key + 1, frame_stride))
                question_target = grounding_target(record, key, rng)
                if question_target:
                    self.items.append((frames[idx], fps, idx, *question_target))
                    self.grounding += 1

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        frames, fps, idx, question, target = self.items[i]
        # uint8 patches (as the datamodule's workers ship them); normalised next to the model in the training loop
        return self.encoder.encode(frames, fps, idx, target=target, question=question, normalize=False)


def _worker_init(_):
    torch.set_num_threads(1)


def pretrain_backbone(
    backbone: Path,
    data: Path,
    out: Path,
    dataset: str = "synthcrime",
    split: str = "train",
    steps: int = 300,
    batch_size: int = 8,
    lr: float = 1e-3,
    num_frames: int = 16,
    frame_stride: int = 2,
    frame_pixels: int = 128 * 96,
    windows_per_video: int = 6,
    grounding_windows_per_video: int = 0,
    num_workers: int = 1,
    seed: int = 0,
) -> Path:
    """Caption-pretrain a (tiny) backbone and save it as a new backbone directory.

    Args:
        backbone: the backbone directory to start from (e.g. one written by ``backbone tiny``).
        data: a dataset root in UCF-Crime layout with UCA-style captions (e.g. a SynthCrime set of its own).
        out: where to write the pretrained backbone directory.
        dataset: catalog name of ``data`` (``synthcrime``, ``ucf_crime``).
        split: which split of ``data`` to caption.
        steps: optimisation steps.
        batch_size: clips per step.
        lr: peak learning rate (AdamW, linear warmup then cosine decay).
        num_frames: frames per clip.
        frame_stride: source frames between sampled frames.
        frame_pixels: pixel budget per frame.
        windows_per_video: random clips drawn from each video (captioning).
        grounding_windows_per_video: clips per video that end on a frame with ground-truth boxes, each asking for
            the boxes of one of that frame's labels (referring grounding); 0 pretrains on captions alone.
        num_workers: DataLoader workers running the processor.
        seed: seed of the window draw, the data order and the initialisation of nothing else.
    """
    from tqdm import tqdm
    from transformers import AutoModelForImageTextToText

    from vanguard.data.catalog import load_catalog

    torch.manual_seed(seed)
    if not torch.cuda.is_available():  # leave the cores the workers use (OpenMP pools fighting are ~10x slower)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - num_workers))
    records = load_catalog(data, dataset=dataset, split=split)
    encoder = SubclipEncoder(str(backbone), frame_pixels=frame_pixels)
    clips = CaptionClips(records, encoder, num_frames, frame_stride, windows_per_video, seed, grounding_windows_per_video)
    if len(clips) < batch_size:
        raise ValueError(f"{data}: only {len(clips)} captioned clips in split {split!r}; need at least {batch_size}")
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
    start = time.time()
    task = "captioning + grounding" if clips.grounding else "captioning"
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
            if len(losses) >= steps:
                break
    bar.close()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    encoder.processor.save_pretrained(out)
    summary = {"from": str(backbone), "data": str(data), "split": split, "clips": len(clips),
               "grounding_clips": clips.grounding, "steps": steps,
               "first_loss": float(np.mean(losses[:10])), "final_loss": float(np.mean(losses[-20:])),
               "seconds": round(time.time() - start, 1)}
    (out / "pretrain.json").write_text(json.dumps(summary, indent=2))
    print(f"pretrained {len(clips)} clips ({clips.grounding} grounding) x {steps} steps: loss {summary['first_loss']:.2f} -> "
          f"{summary['final_loss']:.2f} in {summary['seconds']} s; saved to {out}")
    return out
