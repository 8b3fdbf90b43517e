"""Write small REAL SynthCrime-like shards for tests and benchmarks.

Every video is synthesised in memory (a textured background with moving coloured boxes), each subclip's sampled
frames are encoded as a real H.264 mp4 with :func:`vanguard.video.encode_mp4`, the sample is built and validated by
:func:`vanguard.schema.encode` and written into real tar shards by ``webdataset.ShardWriter`` — the same layout the
annotation pipeline writes: ``<root>/{train,val,test}/shard-NNNNNN.tar``.

Corrupt samples (for skip tests) keep a valid json but carry a truncated mp4 (decord: "moov atom not found");
every second corrupt sample instead carries a json whose answer disagrees with its label (a ``SchemaError``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vanguard.answer import Box
from vanguard.categories import CATEGORIES, NORMAL
from vanguard.processing import resize_frames
from vanguard.schema import encode, rendered_answer
from vanguard.video import encode_mp4

ANOMALOUS = [c for c in CATEGORIES if c != NORMAL]


def synth_frames(n_frames: int, width: int, height: int, seed: int) -> tuple[np.ndarray, list[tuple]]:
    """A synthetic surveillance-like video: (T, H, W, 3) uint8 and the main box per frame (x1, y1, x2, y2 pixels).

    Smooth content (gradient + moving boxes + mild noise) so H.264 bitrates are realistic, not noise-sized.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 200 // max(1, width)), (yy * 200 // max(1, height)), np.full_like(xx, 60)], -1)
    base = base.astype(np.int16)
    bw, bh = max(4, width // 6), max(4, height // 5)
    x0, y0 = rng.uniform(0, width - bw), rng.uniform(0, height - bh)
    vx, vy = rng.uniform(-3, 3), rng.uniform(-2, 2)
    colour = rng.integers(80, 255, 3)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    boxes = []
    for t in range(n_frames):
        x, y = (x0 + vx * t) % (width - bw), (y0 + vy * t) % (height - bh)
        img = base + rng.integers(-6, 7, base.shape, dtype=np.int16)
        xi, yi = int(x), int(y)
        img[yi : yi + bh, xi : xi + bw] = colour
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
        boxes.append((xi, yi, xi + bw, yi + bh))
    return frames, boxes


def _meta(video_id: str, split: str, idx: list[int], fps: float, w: int, h: int, category: str, box: tuple) -> dict:
    label = int(category != NORMAL)
    boxes = [Box.from_pixels(*box, w, h, label="person").as_json()] if label else []
    meta = {
        "dataset": "synthcrime",
        "video_id": video_id,
        "split": split,
        "fps": float(fps),
        "frame_indices": idx,
        "keyframe": len(idx) - 1,
        "width": w,
        "height": h,
        "label": label,
        "category": category,
        "cues": [{"start": idx[0] / fps, "end": idx[-1] / fps, "sentence": "A person moves across the street."}],
        "boxes": boxes,
        "reasoning": "The person moves quickly." if label else "Nothing unusual happens.",
        "answer": "",
        "teacher": "test-teacher",
        "grounder": "test-grounder",
    }
    meta["answer"] = rendered_answer(meta)
    return meta


def write_test_shards(
    root: str | Path,
    n_videos: int = 4,
    clips_per_video: int = 3,
    splits: Sequence[str] = ("train", "val", "test"),
    shards_per_split: int | dict[str, int] = 2,
    corrupt: int = 0,
    seed: int = 0,
    frames_per_clip: int = 8,
    stride: int = 2,
    width: int = 96,
    height: int = 64,
    fps: float = 15.0,
    corrupt_shards: Sequence[int] = (),
    source_dir: str | Path | None = None,
    source_gop: int = 30,
    frame_pixels: int | None = None,
) -> dict:
    """Write ``n_videos`` videos x ``clips_per_video`` subclips per split into ``shards_per_split`` real tar shards.

    Args:
        root: shards root; ``<root>/<split>/shard-%06d.tar`` are written.
        n_videos: videos per split (odd-numbered videos are anomalous, categories cycle through CATEGORIES).
        clips_per_video: consecutive, non-overlapping subclips per video.
        splits: which split folders to write.
        shards_per_split: exact number of shards per split (an int, or a dict split -> int); samples are split
            into contiguous, near-equal chunks in video order (must not exceed the number of samples).
        corrupt: number of corrupt samples per split, spread evenly over the split.
        seed: seeds the synthetic content.
        frames_per_clip: sampled frames per subclip (the keyframe is the last one).
        stride: source frames between two sampled frames.
        width, height, fps: the synthetic source video's geometry and rate.
        corrupt_shards: shard numbers (per split) whose samples are ALL corrupt except the first one.
        source_dir: when set, each whole source video is also written there as ``<video_id>.mp4`` (for naive
            "seek into the source" baselines), encoded with keyframes every ``source_gop`` frames.
        frame_pixels: store each subclip's frames resized to this per-frame pixel budget, as annotation's
            ``shard_frame_pixels`` does (:func:`vanguard.processing.resize_frames`; the json keeps ``width`` x
            ``height`` and records ``stored_width``/``stored_height``); None stores them at source size.

    Returns:
        ``{"root": Path, "fps": fps, "size": (width, height), "splits": {split: {"shards": [str], "keys": [str]
        (all keys in write order), "valid_keys": [str], "corrupt_keys": [str], "meta": {key: meta dict},
        "sources": {key: (source mp4 path or None, frame_indices)}}}}``.
    """
    root = Path(root)
    import webdataset as wds

    clip_span = frames_per_clip * stride
    n_source = clips_per_video * clip_span
    out: dict = {"root": root, "fps": fps, "size": (width, height), "splits": {}}
    for s_num, split in enumerate(splits):
        n_shards = shards_per_split[split] if isinstance(shards_per_split, dict) else shards_per_split
        samples, metas, sources = [], {}, {}
        for v in range(n_videos):
            video_id = f"synth_{split}_{v:03d}"
            frames, boxes = synth_frames(n_source, width, height, seed=seed * 1000 + s_num * 100 + v)
            category = ANOMALOUS[v // 2 % len(ANOMALOUS)] if v % 2 else NORMAL
            src_path = None
            if source_dir is not None:
                src_path = Path(source_dir) / f"{video_id}.mp4"
                src_path.parent.mkdir(parents=True, exist_ok=True)
                src_path.write_bytes(encode_mp4(frames, fps, gop=source_gop))
            for c in range(clips_per_video):
                idx = [c * clip_span + k * stride for k in range(frames_per_clip)]
                meta = _meta(video_id, split, idx, fps, width, height, category, boxes[idx[-1]])
                clip = frames[idx] if frame_pixels is None else resize_frames(frames[idx], frame_pixels)
                if frame_pixels is not None:
                    meta["stored_width"], meta["stored_height"] = int(clip.shape[2]), int(clip.shape[1])
                sample = encode(meta, encode_mp4(clip, fps))
                samples.append(sample)
                metas[sample["__key__"]] = meta
                sources[sample["__key__"]] = (str(src_path) if src_path else None, idx)
        if not 1 <= n_shards <= len(samples):
            raise ValueError(f"{split}: {n_shards} shards for {len(samples)} samples")
        chunks = np.array_split(np.arange(len(samples)), n_shards)
        bad = set(np.linspace(0, len(samples) - 1, corrupt).round().astype(int).tolist()) if corrupt else set()
        for shard in corrupt_shards:
            if shard >= n_shards:
                continue  # a split with fewer shards
            bad |= set(chunks[shard][1:].tolist())
        corrupt_keys = []
        for j, i in enumerate(sorted(bad)):
            sample = samples[i]
            if j % 2 == 0:
                sample["mp4"] = sample["mp4"][: len(sample["mp4"]) // 2]  # truncated: no moov atom
            else:
                meta = dict(metas[sample["__key__"]], label=1 - metas[sample["__key__"]]["label"])
                sample["json"] = json.dumps(meta).encode()  # label disagrees with category and answer
            corrupt_keys.append(sample["__key__"])
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        with wds.ShardWriter(str(folder / "shard-%06d.tar"), maxcount=len(samples) + 1, verbose=0) as sink:
            for n, chunk in enumerate(chunks):
                if n:
                    sink.next_stream()  # exactly one shard per chunk (the writer opens shard 0 itself)
                for i in chunk:
                    sink.write(samples[i])
        keys = [s["__key__"] for s in samples]
        out["splits"][split] = {
            "shards": sorted(str(p) for p in folder.glob("shard-*.tar")),
            "keys": keys,
            "valid_keys": [k for k in keys if k not in set(corrupt_keys)],
            "corrupt_keys": corrupt_keys,
            "meta": metas,
            "sources": sources,
        }
    return out
