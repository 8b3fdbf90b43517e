"""The pieces every subclip stream is built from: per-sample processing (in workers), batching with skip records,
skip accounting (in the main process), the seeded endless training stream and the loader wrappers.

A sample that cannot be validated (:class:`vanguard.schema.SchemaError`) or decoded
(:class:`vanguard.video.VideoDecodeError`) becomes a :class:`Skip` record instead of an item. Workers attach the skip
records to the next batch they emit (``_skipped`` / ``_seen``); the main process (:class:`SkipAccountant`, a stage of
the loader pipeline) pops them, logs each skipped key once, keeps per-split counts across all workers and raises
:class:`SkipLimitError` when the skipped fraction passes the limit. Counting in the main process avoids shared
counters between worker processes, and a batch with no good sample (a run of corrupt samples) is dropped there,
BEFORE ``with_epoch`` counts batches, so every rank still yields exactly the same number of training batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from vanguard.categories import CATEGORY_INDEX
from vanguard.errors import ConfigError, VanguardError
from vanguard.processing import IGNORE_INDEX, SubclipEncoder, collate
from vanguard.schema import SchemaError, decode
from vanguard.targets import TARGETS, asks_reasoning, training_text
from vanguard.video import VideoDecodeError, decode_clip

log = logging.getLogger(__name__)

#: a worker that met this many skipped samples without completing a batch emits them anyway (so an all-corrupt
#: stream reaches the skip limit instead of spinning forever).
MAX_PENDING_SKIPS = 64


class SkipLimitError(VanguardError):
    """Too many samples of a split could not be decoded or validated."""


@dataclass
class Skip:
    """A sample that was skipped: its key and why."""

    key: str
    reason: str


def list_shards(root: str | Path, split: str) -> list[str]:
    """The sorted ``*.tar`` shards of ``<root>/<split>``; a clear error when there are none."""
    folder = Path(root).expanduser() / split
    if not folder.is_dir():
        raise ConfigError(f"shard folder {str(folder)!r} does not exist (expected <shards>/{split}/*.tar)")
    shards = sorted(str(p) for p in folder.glob("*.tar"))
    if not shards:
        raise ConfigError(f"shard folder {str(folder)!r} holds no .tar shards")
    return shards


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` from torch.distributed when initialised, else the launcher's environment."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def stream_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (seed, step, rank, worker, epoch): stable across runs and platforms."""
    digest = hashlib.sha256(",".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def subsample_positions(n_frames: int, keyframe: int, num_frames: int | None) -> list[int]:
    """Positions (into a clip of ``n_frames``) of at most ``num_frames`` frames, uniform over ``0..keyframe`` and
    ending ON the keyframe, so the boxes (drawn on the keyframe) stay on the last frame the model sees."""
    if not 0 <= keyframe < n_frames:
        raise SchemaError(f"keyframe {keyframe} outside 0..{n_frames - 1}")
    count = keyframe + 1 if not num_frames else min(num_frames, keyframe + 1)
    if count == 1:
        return [keyframe]
    return np.linspace(0, keyframe, count).round().astype(int).tolist()  # spacing >= 1: strictly increasing


class SubclipProcessor:
    """Raw shard sample -> model item (runs in DataLoader workers): validate, decode, subsample, encode.

    Args:
        backbone_path: backbone directory; its processor is loaded lazily in each worker.
        frame_pixels: per-frame pixel budget for the processor.
        num_frames: frames per subclip fed to the model (see :func:`subsample_positions`).
        target: ``"none"`` / ``"answer"`` / ``"reasoning"``: which text the item trains on.
        with_target: False for prompt-only items (eval / predict); the prompt still asks to reason first when
            ``target == "reasoning"``.
        require_boxes: the stage's rule that an anomalous answer holds a box (``StageBase.require_boxes``); a
            training target that breaks it (an anomalous sample whose keyframe has no box, e.g. a window whose last
            frame is past the event) has its text masked out of the LM loss; the classification losses keep it.
    """

    def __init__(self, backbone_path: str, frame_pixels: int, num_frames: int | None, target: str, with_target: bool,
                 require_boxes: bool = False):
        if target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {target!r}")
        self.encoder = SubclipEncoder(backbone_path, frame_pixels)
        self.num_frames = num_frames
        self.target = target
        self.with_target = with_target
        self.require_boxes = require_boxes
        # Keys whose model inputs the stage no longer needs (stage 1's feature cache). Set in the main process
        # before workers start; those samples are validated but neither decoded nor run through the processor.
        self.cached_keys: frozenset[str] = frozenset()

    @property
    def pad_token_id(self) -> int:
        tok = self.encoder.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def target_text(self, meta: dict) -> str | None:
        """The sample's training text (:func:`vanguard.targets.training_text`); None for prompt-only items."""
        return training_text(self.target, meta) if self.with_target else None

    def encode_frames(self, frames: np.ndarray, meta: dict) -> dict:
        """Encode decoded frames with ``meta`` (fps, frame_indices); adds label, category and meta. The video
        patches stay uint8 (the model side normalises them on its device: ``vanguard.processing.normalize_patches``)."""
        item = self.encoder.encode(
            frames, meta["fps"], meta["frame_indices"], target=self.target_text(meta), reasoning=asks_reasoning(self.target),
            normalize=False,
        )
        if "labels" in item and self.require_boxes and meta.get("label") == 1 and not meta.get("boxes"):
            item["labels"] = torch.full_like(item["labels"], IGNORE_INDEX)  # never teach an anomalous answer without a box
        item["label"] = int(meta.get("label", -1))
        item["category"] = CATEGORY_INDEX.get(meta.get("category"), -1)
        item["meta"] = meta
        return item

    def read(self, raw: dict) -> tuple[dict, np.ndarray | None]:
        """Validate and decode a raw shard sample: ``(meta, frames)``, the subsampled frames (None for a cached key)
        and the meta with its ``key``, and ``frame_indices`` / ``keyframe`` narrowed to those frames. Raises
        SchemaError or VideoDecodeError."""
        key, meta, mp4 = decode(raw)
        positions = subsample_positions(len(meta["frame_indices"]), meta["keyframe"], self.num_frames)
        frames = None if key in self.cached_keys else decode_clip(mp4, positions)
        meta = dict(meta, key=key)
        meta["frame_indices"] = [meta["frame_indices"][p] for p in positions]
        meta["keyframe"] = len(positions) - 1
        return meta, frames

    def __call__(self, raw: dict) -> dict | Skip:
        try:
            meta, frames = self.read(raw)
        except (SchemaError, VideoDecodeError) as err:
            return Skip(raw.get("__key__", "?"), f"{type(err).__name__}: {err}")
        if frames is None:
            return {"label": int(meta["label"]), "category": CATEGORY_INDEX.get(meta["category"], -1), "meta": meta,
                    "cached": True}
        return self.encode_frames(frames, meta)


def make_batch(items: list[dict], skips: list[Skip], pad_token_id: int, padding_side: str) -> dict:
    """Collate items (model keys via :func:`vanguard.processing.collate`) + label/category/meta + skip records."""
    batch: dict = {}
    if items:
        encoded = [i for i, it in enumerate(items) if not it.get("cached")]
        model_items = [{k: v for k, v in items[i].items() if k not in ("label", "category", "meta")} for i in encoded]
        extra = {"label": torch.tensor([it["label"] for it in items], dtype=torch.long),
                 "category": torch.tensor([it["category"] for it in items], dtype=torch.long)}
        batch = collate(model_items, pad_token_id, padding_side, extra) if model_items else extra
        if len(encoded) < len(items):  # rows of cached samples have no model inputs
            batch["encoded_rows"] = encoded
        batch["meta"] = [it["meta"] for it in items]
    batch["_skipped"] = [(s.key, s.reason) for s in skips]
    batch["_seen"] = len(items) + len(skips)
    return batch


def batch_stream(
    samples: Iterable[dict | Skip], batch_size: int, pad_token_id: int, padding_side: str, partial: bool
) -> Iterator[dict]:
    """Group processed samples into batches of ``batch_size`` good items; skip records ride on the next batch."""
    items: list[dict] = []
    skips: list[Skip] = []
    for sample in samples:
        if isinstance(sample, Skip):
            skips.append(sample)
            if len(skips) >= MAX_PENDING_SKIPS:
                yield make_batch([], skips, pad_token_id, padding_side)  # let the main process count them
                skips = []
            continue
        items.append(sample)
        if len(items) == batch_size:
            yield make_batch(items, skips, pad_token_id, padding_side)
            items, skips = [], []
    if (items and partial) or skips:
        yield make_batch(items if partial else [], skips, pad_token_id, padding_side)


class Batcher:
    """``samples -> batches`` for one worker (picklable; the pad id comes from the worker's own processor)."""

    def __init__(self, processor: SubclipProcessor, batch_size: int, padding_side: str, partial: bool):
        self.processor = processor
        self.batch_size = batch_size
        self.padding_side = padding_side
        self.partial = partial

    def __call__(self, samples: Iterable[dict | Skip]) -> Iterator[dict]:
        return batch_stream(samples, self.batch_size, self.processor.pad_token_id, self.padding_side, self.partial)


@dataclass
class SkipCounts:
    seen: int = 0
    skipped: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)


class SkipAccountant:
    """Main-process stage of a loader pipeline: count skip records, warn once per key, drop empty batches, and
    stop with :class:`SkipLimitError` once ``skipped / seen > max_skip_fraction`` after ``min_samples`` samples.

    One accountant per split and rank; ``counts`` is what a stage logs (sum it over ranks for a global figure).
    """

    def __init__(self, split: str, folder: str, max_skip_fraction: float, min_samples: int):
        self.split = split
        self.folder = folder
        self.max_skip_fraction = max_skip_fraction
        self.min_samples = min_samples
        self.counts = SkipCounts()
        self._warned: set[str] = set()

    def account(self, batch: dict) -> None:
        skipped = batch.pop("_skipped", [])
        self.counts.seen += batch.pop("_seen", 0)
        self.counts.skipped += len(skipped)
        for key, reason in skipped:
            if key not in self._warned:
                self._warned.add(key)
                log.warning("skipped %s sample %s: %s", self.split, key, reason)
                if len(self.counts.examples) < 3:
                    self.counts.examples.append((key, reason))
        self.check()

    def check(self) -> None:
        c = self.counts
        if c.seen < self.min_samples or c.seen == 0:
            return
        fraction = c.skipped / c.seen
        if fraction > self.max_skip_fraction:
            examples = "; ".join(f"{k} ({r})" for k, r in c.examples)
            raise SkipLimitError(
                f"{self.split} shards in {self.folder}: skipped {c.skipped} of {c.seen} samples ({fraction:.1%}), "
                f"above max_skip_fraction={self.max_skip_fraction:.1%}; e.g. {examples}"
            )

    def __call__(self, batches: Iterable[dict]) -> Iterator[dict]:
        for batch in batches:
            self.account(batch)
            # a batch with good samples has "meta"; one whose samples are ALL cached (stage 1 in steady state) has
            # no model inputs but must still be yielded, or the loader spins forever discarding batches
            if batch.get("meta"):
                yield batch


class TrainStream(IterableDataset):
    """Endless stream of training batches for one rank: shards drawn with replacement, shuffled, processed, batched.

    Seeding: each worker seeds its shard draws and its shuffle buffer from ``(seed, start_step, rank, worker,
    epoch)``. ``start_step`` (the global step when the loader was started), ``rank`` and ``epoch`` are set in the
    main process by :meth:`refresh` before the workers start, so each epoch, each rank, each worker and each
    resumed run draws a different stream. Drawing shards with replacement per rank/worker needs no node or worker
    splitting (the webdataset ``resampled=True`` recipe) and never runs dry.
    """

    def __init__(self, urls: Sequence[str], processor: SubclipProcessor, batch_size: int, shuffle_buffer: int, seed: int):
        super().__init__()
        self.urls = list(urls)
        self.processor = processor
        self.batch_size = batch_size
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.start_step = 0
        self.rank = 0
        self.epoch = -1

    def refresh(self, start_step: int, rank: int) -> None:
        """Called in the main process each time the loader starts its workers."""
        self.start_step, self.rank = int(start_step), int(rank)
        self.epoch += 1

    def worker_seed(self) -> int:
        info = get_worker_info()
        return stream_seed(self.seed, self.start_step, self.rank, info.id if info else 0, self.epoch)

    def shard_urls(self, rng: random.Random) -> Iterator[dict]:
        while True:
            yield {"url": rng.choice(self.urls)}

    def __iter__(self) -> Iterator[dict]:
        seed = self.worker_seed()
        shards = self.shard_urls(random.Random(seed))
        shuffled = wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=random.Random(seed + 1))(
            shard_samples(shards)
        )
        processed = (raw if isinstance(raw, Skip) else self.processor(raw) for raw in shuffled)
        return Batcher(self.processor, self.batch_size, "right", partial=False)(processed)


def shard_samples(shards: Iterable[dict]) -> Iterator[dict | Skip]:
    """Raw samples of each ``{"url": shard}``; a shard that cannot be read to its end (cut off by a failed copy,
    deleted, not a tar) yields what it had, then ONE :class:`Skip` keyed by the shard, so the lost tail is counted
    and logged by the :class:`SkipAccountant` (and stops the run past the limit) instead of a bare warning."""
    for shard in shards:
        try:
            yield from wds.tarfile_to_samples(handler=wds.reraise_exception)(iter([shard]))
        except Exception as err:  # tarfile.ReadError, OSError, webdataset's own: the rest of this shard is lost
            yield Skip(shard["url"], f"unreadable shard (rest of it skipped): {type(err).__name__}: {err}")


class RefreshingDataLoader(DataLoader):
    """A DataLoader that calls ``before_iter()`` in the main process each time it starts (its workers copy the
    dataset at that moment, so this is where per-epoch seeds are set)."""

    def __init__(self, *args, before_iter: Callable[[], None] | None = None, **kw):
        super().__init__(*args, **kw)
        self.before_iter = before_iter

    def __iter__(self):
        if self.before_iter is not None:
            self.before_iter()
        return super().__iter__()


def single_thread_worker(_worker_id: int) -> None:
    """Workers run one torch thread: several processes each spinning a full OpenMP pool on a few cores slow tiny
    ops down by an order of magnitude (measured: stage 1 on 2 cores, 6 min vs 40 s per epoch). They ignore SIGINT:
    Ctrl-C reaches the whole process group, and a worker dying of it would end the run in "DataLoader worker exited
    unexpectedly" instead of the main process's clean stop (which shuts the workers down itself)."""
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def share_cores_with_workers(num_workers: int) -> None:
    """On a CPU-only run, leave the main process the cores the workers do not use (at least one thread)."""
    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - num_workers))


def as_built(batch: dict) -> dict:
    """The loader's ``collate_fn``: batches are built (tensors and all) in the workers. The default for
    ``batch_size=None`` (``default_convert``) walks every meta dict, list and string of the batch looking for numpy
    arrays (~0.1 ms per subclip for nothing)."""
    return batch


def loader_kwargs(num_workers: int) -> dict:
    return {
        "batch_size": None,  # batches are built in the workers
        "collate_fn": as_built,
        "num_workers": num_workers,
        "pin_memory": torch.cuda.is_available(),
        "prefetch_factor": 4 if num_workers else None,
        "worker_init_fn": single_thread_worker if num_workers else None,
    }


def train_loader(stream: TrainStream, accountant: SkipAccountant, batches: int, num_workers: int,
                 before_iter: Callable[[], None]) -> wds.FluidWrapper:
    """``batches`` batches per epoch on every rank: ``with_epoch`` on the LOADER (not the dataset, which would
    count per worker), after the accountant dropped batches that carried only skip records."""
    loader = RefreshingDataLoader(stream, before_iter=before_iter, **loader_kwargs(num_workers))
    pipeline = wds.FluidWrapper(loader).compose(accountant).with_epoch(batches)
    return pipeline.with_length(batches, silent=True)


def eval_loader(dataset: IterableDataset, accountant: SkipAccountant, num_workers: int,
                before_iter: Callable[[], None] | None = None) -> wds.FluidWrapper:
    """A finite loader whose dataset slices itself per rank and worker; not a ``DataLoader`` instance, so Lightning
    never injects a DistributedSampler (which would pad with duplicates)."""
    loader = RefreshingDataLoader(dataset, before_iter=before_iter, **loader_kwargs(num_workers))
    return wds.FluidWrapper(loader).compose(accountant)
