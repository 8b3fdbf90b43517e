"""Exactly-once evaluation: an index of the eval shards' samples, split into disjoint contiguous slices per rank
and per worker.

The index is built once from the tar headers (``tarfile`` reads a 512-byte header per member and seeks past the
data, so indexing costs no decoding). Rank ``r`` of ``W`` gets ``index[r*n//W:(r+1)*n//W]`` and each of its
workers a contiguous part of that, so every sample is read exactly once across all ranks and workers: no
DistributedSampler padding (which duplicates samples to even out ranks), no drops. Ranks may get one sample more
than others and hence a different number of batches; that is fine as long as nothing syncs per step (log eval
metrics with ``on_epoch`` / torchmetrics, never per-step ``sync_dist``). Contiguous slices keep each worker's
reads sequential within a shard.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import IterableDataset, get_worker_info

from vanguard.errors import ConfigError


@dataclass
class IndexEntry:
    """One sample: its key, its shard, and ``ext -> (data offset, size)`` of its members in that shard."""

    key: str
    shard: str
    members: dict[str, tuple[int, int]] = field(default_factory=dict)


def split_key(name: str) -> tuple[str, str]:
    """webdataset's rule: the key is the path up to the first dot of the basename, the rest is the extension."""
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    return (name, "") if dot < 0 else (name[:dot], name[dot + 1 :])


def index_shards(shards: Sequence[str]) -> list[IndexEntry]:
    """Index the samples of ``shards`` in shard order then member order (duplicate keys: a clear error)."""
    entries: list[IndexEntry] = []
    where: dict[str, str] = {}
    for shard in shards:
        current: IndexEntry | None = None
        try:
            with tarfile.open(shard, mode="r:") as tar:
                for info in tar:
                    if not info.isfile() or info.name.split("/")[-1].startswith("__"):
                        continue
                    key, ext = split_key(info.name)
                    if current is None or current.key != key:
                        if key in where:
                            raise ConfigError(f"{shard}: sample key {key!r} also appears in {where[key]}")
                        where[key] = shard
                        current = IndexEntry(key, shard)
                        entries.append(current)
                    current.members[ext] = (info.offset_data, info.size)
        except tarfile.TarError as err:
            raise ConfigError(f"{shard}: not a readable tar shard ({err})") from None
    return entries


def contiguous_slice(n: int, part: int, parts: int) -> range:
    """The ``part``-th of ``parts`` near-equal contiguous ranges of ``range(n)`` (sizes differ by at most one)."""
    return range(part * n // parts, (part + 1) * n // parts)


def read_entry(entry: IndexEntry, handles: dict) -> dict:
    """A raw webdataset-style sample ``{"__key__", ext: bytes}`` read by offset from its shard."""
    fh = handles.get(entry.shard)
    if fh is None:
        for old in handles.values():
            old.close()
        handles.clear()
        fh = handles[entry.shard] = open(entry.shard, "rb")  # noqa: SIM115 - closed when the shard changes
    raw = {"__key__": entry.key}
    for ext, (offset, size) in entry.members.items():
        fh.seek(offset)
        raw[ext] = fh.read(size)
    return raw


class EvalSubclips(IterableDataset):
    """Every indexed sample exactly once across ``world_size`` ranks x ``num_workers`` workers, as batches.

    ``rank``/``world_size`` are set in the main process (:meth:`refresh`) before the workers start.
    ``make_batches(processed_samples)`` turns this worker's processed samples into batches.
    """

    def __init__(self, entries: Sequence[IndexEntry], process: Callable, make_batches: Callable):
        super().__init__()
        self.entries = list(entries)
        self.process = process
        self.make_batches = make_batches
        self.rank, self.world_size = 0, 1

    def refresh(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = int(rank), int(world_size)

    def my_entries(self) -> list[IndexEntry]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        mine = contiguous_slice(len(self.entries), self.rank, self.world_size)
        part = contiguous_slice(len(mine), worker, workers)
        return [self.entries[mine[i]] for i in part]

    def samples(self) -> Iterator:
        handles: dict = {}
        try:
            for entry in self.my_entries():
                yield self.process(read_entry(entry, handles))
        finally:
            for fh in handles.values():
                fh.close()

    def __iter__(self):
        return self.make_batches(self.samples())


def count_samples(shards: Sequence[str | Path]) -> int:
    return len(index_shards([str(s) for s in shards]))
