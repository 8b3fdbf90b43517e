"""``SubclipDataModule``: WebDataset shards of subclips -> model batches for every stage, on every rank.

Layout read: ``<shards>/{train,val,test}/*.tar``, one sample per subclip (``{key}.mp4`` + ``{key}.json``, see
:mod:`vanguard.schema`). Decoding (decord, behind :func:`vanguard.video.decode_clip`), resizing and the backbone's
processor + chat template all run in the DataLoader workers; batches follow the batch contract (model keys from
:func:`vanguard.processing.collate` + ``label``, ``category``, ``meta``).

Training: an endless stream per rank. Each worker draws shards WITH replacement (webdataset's resampled recipe, so
no node/worker splitting is needed and no rank ever runs dry), shuffles through a buffer, decodes and encodes,
and builds batches of ``batch_size``; ``with_epoch(batches_per_epoch)`` on the loader gives every rank exactly the
same number of batches per epoch, so DDP never waits for a rank that ran out.

Validation / test / predict: every sample exactly once across ranks (see :mod:`datamodules.eval_index`): prompt-only,
left-padded batches. Ranks may differ by one sample (and so by a batch); do not sync per step in eval.

Skips: a sample that fails validation or decoding is skipped, logged once with its key and counted;
:attr:`SubclipDataModule.skip_counts` holds the per-split counts of this rank. When ``skipped / seen`` passes
``max_skip_fraction`` after ``min_samples_before_skip_check`` samples, the loader raises
:class:`~datamodules.streams.SkipLimitError` naming the shard folder, the counts, the fraction and the limit.

Resume semantics: resuming a run (``--ckpt_path`` or SLURM auto-requeue) restores the global step, the loops and
the optimizer state through Lightning; the data stream is NOT restored. Instead every worker reseeds its shard draws
and shuffle buffer from ``(seed, global step when the loader started, rank, worker, epoch)``, so a resumed run draws
a fresh stream and does not replay the beginning of its epoch. Exact sample replay is not attempted: Lightning
would only save rank 0's loader state, and resampled streams have no position to restore (framework_anchors 2.3).
Sampling is with replacement, so over an epoch a sample may appear twice or not at all; the expected coverage is
what counts. ``batches_per_epoch`` defaults to ``training samples // (batch_size * world_size)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lightning.pytorch import LightningDataModule

from datamodules.eval_index import EvalSubclips, IndexEntry, index_shards
from datamodules.streams import (
    TARGETS,
    Batcher,
    SkipAccountant,
    SubclipProcessor,
    TrainStream,
    dist_info,
    eval_loader,
    list_shards,
    share_cores_with_workers,
    train_loader,
)
from vanguard.errors import ConfigError


class SubclipDataModule(LightningDataModule):
    """Stream subclip shards to every stage: endless resampled training, exactly-once evaluation.

    Args:
        shards: root folder holding ``train/``, ``val/`` and ``test/`` subfolders of ``*.tar`` shards.
        backbone_path: backbone directory; only its processor is loaded, in each DataLoader worker.
        frame_pixels: pixel budget per frame (frames are resized to fit it, aspect kept).
        num_frames: frames per subclip fed to the model; longer clips are subsampled uniformly, ending on the
            keyframe (the boxes' frame), and ``meta["frame_indices"]`` / ``meta["keyframe"]`` are updated to match.
        batch_size: training batch size per rank.
        eval_batch_size: validation / test / predict batch size per rank (default: ``batch_size``).
        num_workers: DataLoader worker processes per rank (decoding and the processor run there).
        shuffle_buffer: samples held per worker for shuffling the training stream.
        batches_per_epoch: training steps per epoch on each rank (default: training samples //
            (batch_size * world_size), at least 1).
        max_skip_fraction: largest tolerated fraction of undecodable / invalid samples per split.
        min_samples_before_skip_check: samples seen before the skip fraction is checked.
        seed: seeds the training stream (mixed with the global step, rank, worker and epoch).
        target: training target text: ``none`` (stage 1), ``answer`` (stage 2), ``reasoning`` (stage 3); None = the
            LightningModule's ``target`` attribute.
        require_boxes: mask the LM target of anomalous training samples without boxes (the one-decision rule: an
            anomalous answer holds a box); None = the LightningModule's ``require_boxes`` hyper-parameter (False
            when it has none).
    """

    def __init__(
        self,
        shards: str,
        backbone_path: str,
        frame_pixels: int = 128 * 128,
        num_frames: int = 16,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        shuffle_buffer: int = 1000,
        batches_per_epoch: int | None = None,
        max_skip_fraction: float = 0.01,
        min_samples_before_skip_check: int = 1000,
        seed: int = 0,
        target: Literal["none", "answer", "reasoning"] | None = None,
        require_boxes: bool | None = None,
    ):
        super().__init__()
        if batch_size < 1 or (eval_batch_size is not None and eval_batch_size < 1) or num_workers < 0:
            raise ConfigError("batch_size and eval_batch_size must be >= 1 and num_workers >= 0")
        if not 0.0 <= max_skip_fraction <= 1.0:
            raise ConfigError(f"max_skip_fraction must be within 0..1, got {max_skip_fraction}")
        if target is not None and target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS} or None, got {target!r}")
        # require_boxes defaults to the stage's own hyper-parameter: logged once, by the stage (Lightning refuses to
        # merge the two hparams when the data's None and the stage's True differ)
        self.save_hyperparameters(ignore=["require_boxes"])
        self.shards = str(Path(shards).expanduser())
        self.backbone_path = str(backbone_path)
        self.frame_pixels = frame_pixels
        self.num_frames = num_frames
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.shuffle_buffer = shuffle_buffer
        self.batches_per_epoch = batches_per_epoch
        self.max_skip_fraction = max_skip_fraction
        self.min_samples_before_skip_check = min_samples_before_skip_check
        self.seed = seed
        self.target = target
        self.require_boxes = require_boxes
        self._indexes: dict[str, list[IndexEntry]] = {}
        self._accountants: dict[str, SkipAccountant] = {}

    # -- where we are -------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        share_cores_with_workers(self.num_workers)

    def dist(self) -> tuple[int, int]:
        """``(rank, world_size)``: the trainer's when attached, else torch.distributed / the environment."""
        if self.trainer is not None:
            return self.trainer.global_rank, self.trainer.world_size
        return dist_info()

    def global_step(self) -> int:
        return self.trainer.global_step if self.trainer is not None else 0

    def resolve_target(self) -> str:
        """The init ``target``, else the LightningModule's ``target`` class attribute."""
        target = self.target
        if target is None:
            module = self.trainer.lightning_module if self.trainer is not None else None
            target = getattr(module, "target", None)
            if target is None:
                raise ConfigError("SubclipDataModule: set data.target or give the LightningModule a `target` attribute")
        if target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {target!r}")
        return target

    # -- bookkeeping ---------------------------------------------------------------------------------------------
    def index(self, split: str) -> list[IndexEntry]:
        """The sample index of a split's shards (built once, from the tar headers)."""
        if split not in self._indexes:
            self._indexes[split] = index_shards(list_shards(self.shards, split))
        return self._indexes[split]

    def accountant(self, split: str) -> SkipAccountant:
        if split not in self._accountants:
            folder = str(Path(self.shards) / split)
            self._accountants[split] = SkipAccountant(
                split, folder, self.max_skip_fraction, self.min_samples_before_skip_check
            )
        return self._accountants[split]

    @property
    def skip_counts(self) -> dict[str, dict[str, int]]:
        """``{split: {"seen": n, "skipped": m}}`` on this rank (sum over ranks for the global figure)."""
        return {s: {"seen": a.counts.seen, "skipped": a.counts.skipped} for s, a in self._accountants.items()}

    def default_batches_per_epoch(self) -> int:
        _, world_size = self.dist()
        return max(1, len(self.index("train")) // (self.batch_size * world_size))

    # -- loaders -------------------------------------------------------------------------------------------------
    def resolve_require_boxes(self) -> bool:
        """The init ``require_boxes``, else the LightningModule's hyper-parameter, else False."""
        if self.require_boxes is not None:
            return self.require_boxes
        module = self.trainer.lightning_module if self.trainer is not None else None
        return bool(getattr(module, "hparams", {}).get("require_boxes", False))

    def processor(self, with_target: bool) -> SubclipProcessor:
        return SubclipProcessor(self.backbone_path, self.frame_pixels, self.num_frames, self.resolve_target(), with_target,
                                require_boxes=self.resolve_require_boxes())

    def train_dataloader(self):
        processor = self.processor(with_target=True)
        stream = TrainStream(list_shards(self.shards, "train"), processor, self.batch_size, self.shuffle_buffer, self.seed)
        batches = self.batches_per_epoch or self.default_batches_per_epoch()

        def before_iter() -> None:
            stream.refresh(self.global_step(), self.dist()[0])
            # a stage that caches what it derives from a sample (stage 1's frozen features) names those keys, so
            # the workers forked next skip decoding and processing them
            module = self.trainer.lightning_module if self.trainer is not None else None
            cached = getattr(module, "cached_keys", None)
            processor.cached_keys = frozenset(cached()) if callable(cached) else frozenset()

        return train_loader(stream, self.accountant("train"), batches, self.num_workers, before_iter)

    def eval_dataloader(self, split: str):
        """Prompt-only, left-padded batches over ``split``: each sample once across all ranks."""
        processor = self.processor(with_target=False)
        batcher = Batcher(processor, self.eval_batch_size, "left", partial=True)
        dataset = EvalSubclips(self.index(split), processor, batcher)
        return eval_loader(dataset, self.accountant(split), self.num_workers, lambda: dataset.refresh(*self.dist()))

    def val_dataloader(self):
        return self.eval_dataloader("val")

    def test_dataloader(self):
        return self.eval_dataloader("test")

    def predict_dataloader(self):
        """The test split, prompt-only (for arbitrary videos use :func:`datamodules.predict.video_windows_loader`)."""
        return self.eval_dataloader("test")
