"""Prompt-only batches for arbitrary videos: ``video_windows_loader([(video_path, windows), ...])``.

Each window is a list of source frame indices (strictly increasing); the last one is the keyframe the answer's boxes
refer to. Windows longer than ``num_frames`` are subsampled uniformly, ending on the keyframe (same rule as the
shards). Batches follow the batch contract for prompt-only use (left-padded), with ``label`` and ``category`` set
to -1 (unknown) and ``meta`` = ``{key, video_id, video_path, frame_indices, keyframe, fps, width, height}``.
Windows are split into contiguous parts per rank and worker, like evaluation, so each is predicted exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from torch.utils.data import IterableDataset, get_worker_info

from datamodules.eval_index import contiguous_slice
from datamodules.streams import (
    Batcher,
    Skip,
    SkipAccountant,
    SubclipProcessor,
    dist_info,
    eval_loader,
    subsample_positions,
)
from vanguard.errors import ConfigError
from vanguard.schema import sample_key
from vanguard.video import VideoDecodeError, decode_clip, probe


class VideoWindows(IterableDataset):
    """(video, window) pairs -> processed items (or :class:`Skip` records), sliced per rank and worker."""

    def __init__(self, entries: Sequence[tuple[str, list[int]]], processor: SubclipProcessor, batcher: Batcher):
        super().__init__()
        self.entries = list(entries)
        self.processor = processor
        self.batcher = batcher
        self.rank, self.world_size = 0, 1

    def refresh(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def item(self, path: str, window: list[int], probes: dict) -> dict | Skip:
        video_id = Path(path).stem
        key = sample_key(video_id, window[0])
        try:
            if path not in probes:
                probes[path] = probe(path)
            n, fps, width, height = probes[path]
            if window[-1] >= n:
                raise VideoDecodeError(f"window ends at frame {window[-1]} but the video has {n} frames")
            positions = subsample_positions(len(window), len(window) - 1, self.processor.num_frames)
            indices = [window[p] for p in positions]
            frames = decode_clip(path, indices)
        except VideoDecodeError as err:
            return Skip(key, f"VideoDecodeError: {err}")
        meta = {"key": key, "video_id": video_id, "video_path": path, "frame_indices": indices,
                "keyframe": len(indices) - 1, "fps": fps, "width": width, "height": height}
        return self.processor.encode_frames(frames, meta)

    def samples(self) -> Iterator[dict | Skip]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        mine = contiguous_slice(len(self.entries), self.rank, self.world_size)
        probes: dict = {}
        for i in contiguous_slice(len(mine), worker, workers):
            yield self.item(*self.entries[mine[i]], probes)

    def __iter__(self):
        return self.batcher(self.samples())


def video_windows_loader(
    videos: Sequence[tuple[str, Sequence[Sequence[int]]]],
    backbone_path: str,
    frame_pixels: int = 128 * 128,
    num_frames: int = 16,
    batch_size: int = 8,
    num_workers: int = 0,
    reasoning: bool = False,
    max_skip_fraction: float = 0.01,
    min_samples_before_skip_check: int = 1000,
):
    """A loader of prompt-only, left-padded batches over windows of arbitrary videos.

    Args:
        videos: ``[(video path, [window, ...]), ...]``; a window is a list of strictly increasing frame indices.
        backbone_path: backbone directory (its processor runs in the workers).
        frame_pixels: per-frame pixel budget.
        num_frames: frames per window fed to the model (uniform subsampling ending on the window's last frame).
        batch_size: windows per batch.
        num_workers: DataLoader workers.
        reasoning: use the stage-3 prompt (reason first, then answer).
        max_skip_fraction: undecodable windows allowed (fraction) before the run stops.
        min_samples_before_skip_check: windows seen before the fraction is checked.

    The returned loader has ``.accountant.counts`` (seen / skipped windows).
    """
    entries = []
    for path, windows in videos:
        if not Path(path).is_file():
            raise ConfigError(f"video {str(path)!r} does not exist")
        for w in windows:
            w = [int(i) for i in w]
            if not w or w[0] < 0 or any(b <= a for a, b in zip(w, w[1:])):
                raise ConfigError(f"{path}: window {w[:4]}... must be non-empty, non-negative, strictly increasing")
            entries.append((str(path), w))
    processor = SubclipProcessor(backbone_path, frame_pixels, num_frames, "reasoning" if reasoning else "answer",
                                 with_target=False)
    dataset = VideoWindows(entries, processor, Batcher(processor, batch_size, "left", partial=True))
    accountant = SkipAccountant("predict", "the given videos", max_skip_fraction, min_samples_before_skip_check)
    loader = eval_loader(dataset, accountant, num_workers, before_iter=lambda: dataset.refresh(*dist_info()))
    loader.accountant = accountant
    return loader
