"""Throughput of the subclip data pipeline against its no-pipeline limit and a naive loader (prints a table).

Three measurements over the same subclips (same processes count, same processor, same target text):

1. pipeline: ``SubclipDataModule.train_dataloader()`` (tar shards -> shuffle -> decord decode -> SubclipEncoder ->
   collate in ``W`` workers), steady state (worker start-up excluded);
2. no-pipeline limit: the same samples' mp4 bytes held in memory, ``decode_clip`` + ``SubclipEncoder.encode`` in a
   tight loop in ``W`` processes: what the pipeline cannot beat; ``pipeline / limit`` is its own overhead. It does
   exactly the workers' per-sample work, through the same ``SubclipProcessor.encode_frames``: decode, resize,
   processor (patchify, chat template), and NO normalisation, since the workers ship uint8 patches and the model
   normalises them on its device (``vanguard.processing.normalize_patches`` in ``Backbone``);
3. naive: a map-style dataset in a DataLoader with ``W`` workers that opens each SOURCE video (a ~15 s mp4,
   keyframe every second) and seeks to the subclip's frames, then the same processor (uint8 patches too).

1 and 2 run for two shard configurations of the same subclips: stored at the model's size (annotation's
``shard_frame_pixels`` = the backbone's ``frame_pixels``, as the experiment configs set it: the loader decodes the
small mp4 and skips the resize) and stored at the source size (``shard_frame_pixels: null``, the earlier default).
The naive loader is the same for both: it opens the 320x240 source videos.

It also prints the share of the tight loop spent decoding. Data: synthetic 320x240 30 fps H.264 written by
``tests.helpers.shards.write_test_shards`` (16 frames sampled every 6th source frame: a 3.2 s window as in
vanguard.data.subclips; 5 windows per 16 s source video), the unit tiny backbone's real processor. Targets:
pipeline >= 0.8 x limit and >= 3 x naive.

Usage: ``python -m benchmarks.data_pipeline [--workers 2] [--samples 320]``
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import torch

from benchmarks.common import cli_main, row
from datamodules import SubclipDataModule
from datamodules.eval_index import index_shards, read_entry
from datamodules.streams import SubclipProcessor, subsample_positions
from tests.helpers.shards import write_test_shards
from vanguard.processing import collate
from vanguard.schema import decode
from vanguard.tiny import build_tiny
from vanguard.video import decode_clip

TARGET = "answer"
#: the project's windows (vanguard/data/subclips.py): 16 frames sampled over 96 source frames (3.2 s at 30 fps)
STRIDE, CLIPS = 6, 5
PREFETCH = 4  # the datamodule's prefetch_factor; the naive loader gets the same


def tight_loop(args) -> tuple[int, float, float, float]:
    """One process of the no-pipeline limit: ``(samples, seconds, CPU seconds, seconds decoding)`` after a
    warm-up."""
    samples, n, backbone, frame_pixels, num_frames = args
    torch.set_num_threads(1)  # as in DataLoader workers
    proc = SubclipProcessor(backbone, frame_pixels, num_frames, TARGET, with_target=True)

    def one(i: int) -> float:
        meta, mp4 = samples[i % len(samples)]
        t0 = time.perf_counter()
        frames = decode_clip(mp4, subsample_positions(len(meta["frame_indices"]), meta["keyframe"], num_frames))
        t1 = time.perf_counter()
        proc.encode_frames(frames, meta)
        return t1 - t0

    one(0)
    start, cpu, decoding = time.perf_counter(), time.process_time(), 0.0
    for i in range(n):
        decoding += one(i)
    return n, time.perf_counter() - start, time.process_time() - cpu, decoding


class NaiveSourceSeek(torch.utils.data.Dataset):
    """The naive loader: open the source video, seek to the subclip's frames, process."""

    def __init__(self, windows, metas, backbone, frame_pixels, num_frames):
        self.windows, self.metas = windows, metas
        self.proc = SubclipProcessor(backbone, frame_pixels, num_frames, TARGET, with_target=True)
        self.num_frames = num_frames
        self.decode_seconds = 0.0

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, i):
        path, window = self.windows[i]
        meta = self.metas[i]
        idx = [window[p] for p in subsample_positions(len(window), len(window) - 1, self.num_frames)]
        t0 = time.perf_counter()
        frames = decode_clip(path, idx)
        self.decode_seconds += time.perf_counter() - t0
        item = self.proc.encode_frames(frames, meta)
        item["_decode_s"] = self.decode_seconds
        return item


def naive_collate(pad_id):
    def fn(items):
        batch = collate([{k: v for k, v in it.items() if k not in ("label", "category", "meta", "_decode_s")}
                         for it in items], pad_id)
        batch["_decode_s"] = max(it["_decode_s"] for it in items)
        return batch
    return fn


def cpu_seconds(procs: list) -> float:
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rate_of(loader, n_samples: int, skip_batches: int) -> tuple[float, float]:
    """Steady state of a loader: ``(subclips per wall second, subclips per CPU second of the main process and
    its workers)``. The first ``skip_batches`` (worker start-up and whatever the prefetch queues buffered
    meanwhile) are not timed."""
    it = iter(loader)
    for _ in range(skip_batches):
        next(it)
    procs = [psutil.Process()] + psutil.Process().children(recursive=True)
    cpu0, start, done = cpu_seconds(procs), time.perf_counter(), 0
    while done < n_samples:
        done += next(it)["input_ids"].shape[0]
    wall, cpu = time.perf_counter() - start, cpu_seconds(procs) - cpu0
    del it  # stops the workers before the next measurement
    return done / wall, done / cpu


def add_args(ap) -> None:
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers = tight-loop processes")
    ap.add_argument("--samples", type=int, default=96, help="subclips timed per measurement and round")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (the median is reported)")
    ap.add_argument("--source-gop", type=int, default=250, help="keyframe interval of the source videos "
                    "(250 = libx264's default, as in UCF-Crime's *_x264.mp4 files)")
    ap.add_argument("--videos", type=int, default=8, help="source videos (5 subclips of 3.2 s each)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--frame-pixels", type=int, default=128 * 128)
    ap.add_argument("--num-frames", type=int, default=16)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")


#: shard configurations measured (each: pipeline and its own limit over the same subclips): annotation's
#: ``shard_frame_pixels`` set to the model's budget (the configs' default), and the old source-size shards
CONFIGS = (("model", "shards at the model's size (shard_frame_pixels = frame_pixels)"),
           ("source", "shards at the source size 320x240 (shard_frame_pixels = null)"))


def measure(quick: bool = False, workers: int = 2, samples: int = 96, rounds: int = 2, source_gop: int = 250,
            videos: int = 8, batch_size: int = 4, frame_pixels: int = 128 * 128, num_frames: int = 16,
            dir: str | None = None) -> list[dict]:
    from types import SimpleNamespace

    if quick:
        samples, rounds, videos, workers, batch_size = 4, 1, 1, 1, 2
    a = SimpleNamespace(workers=workers, samples=samples, rounds=rounds, source_gop=source_gop, videos=videos,
                        batch_size=batch_size, frame_pixels=frame_pixels, num_frames=num_frames, dir=dir)
    torch.set_num_threads(1)
    work = Path(a.dir or tempfile.mkdtemp(prefix="vanguard_bench_"))
    t0 = time.perf_counter()
    backbone = str(build_tiny(work / "tiny", size="unit", seed=0))
    geometry = dict(n_videos=a.videos, clips_per_video=CLIPS, splits=("train",), shards_per_split=min(4, a.videos),
                    frames_per_clip=16, stride=STRIDE, width=320, height=240, fps=30.0)  # same seed: same content
    data = {"source": write_test_shards(work / "shards_source", **geometry, source_dir=work / "sources",
                                        source_gop=a.source_gop),
            "model": write_test_shards(work / "shards_model", **geometry, frame_pixels=a.frame_pixels)}
    decoded = {}
    for name, written in data.items():
        raws = [read_entry(e, {}) for e in index_shards(written["splits"]["train"]["shards"])]
        decoded[name] = [decode(r) for r in raws]
    samples = {name: [(meta, mp4) for _, meta, mp4 in d] for name, d in decoded.items()}
    kib = {name: sum(len(m) for _, m in s_) / len(s_) / 1024 for name, s_ in samples.items()}
    stored = samples["model"][0][0]
    print(f"# {len(samples['model'])} subclips (16 frames from 320x240; mp4 {kib['source']:.1f} KiB at source size, "
          f"{kib['model']:.1f} KiB stored at the model's {stored['stored_width']}x{stored['stored_height']}) from "
          f"{a.videos} source videos of {CLIPS * 16 * STRIDE / 30:.1f} s (keyframe every {a.source_gop} frames); data "
          f"written in {time.perf_counter() - t0:.1f} s; {a.workers} workers/processes, {os.cpu_count()} cores, "
          f"frame_pixels={a.frame_pixels}, num_frames={a.num_frames}", flush=True)

    w = a.workers
    skip = (PREFETCH + 1) * w
    dms = {name: SubclipDataModule(str(work / f"shards_{name}"), backbone, frame_pixels=a.frame_pixels,
                                   num_frames=a.num_frames, batch_size=a.batch_size, num_workers=w,
                                   shuffle_buffer=100, batches_per_epoch=10**6, target=TARGET)
           for name, _ in CONFIGS}
    split = data["source"]["splits"]["train"]
    windows = [split["sources"][key] for key, _, _ in decoded["source"]]
    metas = [dict(meta, key=key) for key, meta, _ in decoded["source"]]
    naive_ds = NaiveSourceSeek(windows, metas, backbone, a.frame_pixels, a.num_frames)
    sampler = torch.utils.data.RandomSampler(naive_ds, replacement=True, num_samples=10**6)
    naive_loader = torch.utils.data.DataLoader(naive_ds, batch_size=a.batch_size, sampler=sampler, num_workers=w,
                                               collate_fn=naive_collate(naive_ds.proc.pad_token_id),
                                               prefetch_factor=PREFETCH)
    # interleaved rounds, so load changes on a shared machine hit every measurement alike
    rates: dict[str, list[tuple[float, float]]] = {"naive": []}
    decode_share: dict[str, list[float]] = {name: [] for name, _ in CONFIGS}
    for _ in range(a.rounds):
        for name, _ in CONFIGS:
            rates.setdefault(f"pipeline {name}", []).append(  # 1. the real loader
                rate_of(dms[name].train_dataloader(), a.samples, skip))
            share = [samples[name][i::w] for i in range(w)]
            with mp.get_context("fork").Pool(w) as pool:  # 2. the same bytes in memory, tight loop, w processes
                results = pool.map(tight_loop, [(s_, a.samples // w, backbone, a.frame_pixels, a.num_frames)
                                                for s_ in share])
            rates.setdefault(f"limit {name}", []).append(
                (sum(r[0] / r[1] for r in results), sum(r[0] for r in results) / sum(r[2] for r in results)))
            decode_share[name].append(sum(r[3] for r in results) / sum(r[1] for r in results))
        rates["naive"].append(rate_of(naive_loader, a.samples // 2, skip))  # 3. open the source and seek
    naive_decode_share = tight_loop_naive(windows, metas, backbone, a.frame_pixels, a.num_frames, n=12)
    wall = {k: statistics.median(r[0] for r in v) for k, v in rates.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in rates.items()}

    print()
    print("| configuration | measurement | subclips/s (wall) | per worker (wall) | subclips per CPU-second |")
    print("|---|---|---:|---:|---:|")
    for name, label in CONFIGS:
        for key, what in ((f"pipeline {name}", "pipeline: SubclipDataModule train loader (shards -> workers -> batches)"),
                          (f"limit {name}", f"no-pipeline limit: the same mp4 bytes in memory, decode + processor, "
                                            f"{w} processes")):
            print(f"| {label} | {what} | {wall[key]:.1f} | {wall[key] / w:.1f} | {cpu[key]:.1f} |")
    print(f"| source videos 320x240 | naive: DataLoader, {w} workers, open each source mp4 and seek to the subclip | "
          f"{wall['naive']:.1f} | {wall['naive'] / w:.1f} | {cpu['naive']:.1f} |")
    print()
    print("| configuration | ratio | per CPU-second | wall clock | target |")
    print("|---|---|---:|---:|---|")
    for name, label in CONFIGS:
        p_ = f"pipeline {name}"
        print(f"| {label} | pipeline / no-pipeline limit | **{cpu[p_] / cpu[f'limit {name}']:.2f}** | "
              f"{wall[p_] / wall[f'limit {name}']:.2f} | >= 0.8 |")
        print(f"| {label} | pipeline / naive loader | **{cpu[p_] / cpu['naive']:.2f}** | "
              f"{wall[p_] / wall['naive']:.2f} | >= 3 |")
    print()
    print("rounds (wall, CPU subclips/s): " + "; ".join(
        f"{k} " + ", ".join(f"{a_:.1f}/{b_:.1f}" for a_, b_ in v) for k, v in rates.items()))
    print("share of time decoding: " + ", ".join(
        f"pipeline work ({name} size) {statistics.median(decode_share[name]):.0%}" for name, _ in CONFIGS)
        + f", naive loader work {naive_decode_share:.0%} (the rest is the processor: resize, patchify, chat template)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other processes take "
          "CPU from the wall-clock figures unevenly; the per-CPU-second figures do not depend on them)")
    print(f"total benchmark time {time.perf_counter() - t0:.0f} s")
    if a.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    bench = "data_pipeline"
    out = []
    for name, label in CONFIGS:
        p_, suffix = f"pipeline {name}", "" if name == "model" else " (shards at source size)"
        out += [
            row(bench, f"pipeline / no-pipeline limit{suffix}", cpu[p_] / cpu[f"limit {name}"], ">= 0.8", "x",
                f"{label}; per CPU-second; wall clock {wall[p_] / wall[f'limit {name}']:.2f}"),
            row(bench, f"pipeline / naive loader{suffix}", cpu[p_] / cpu["naive"], ">= 3", "x",
                f"{label}; wall clock {wall[p_] / wall['naive']:.2f}; pipeline work decodes "
                f"{statistics.median(decode_share[name]):.0%}, naive loader {naive_decode_share:.0%}"),
            row(bench, f"pipeline throughput{suffix}", cpu[p_], unit="subclips/CPU-s",
                note=f"{label}; {wall[p_]:.1f} subclips/s wall with {w} workers"),
        ]
    return out


def tight_loop_naive(windows, metas, backbone, frame_pixels, num_frames, n: int) -> float:
    """Share of time decoding in the naive loader's per-sample work (one process)."""
    ds = NaiveSourceSeek(windows, metas, backbone, frame_pixels, num_frames)
    ds[0]
    ds.decode_seconds = 0.0
    start = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return ds.decode_seconds / (time.perf_counter() - start)


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
