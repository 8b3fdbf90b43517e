"""Shared test helpers: run the annotate entry on generated records, read shards back, ground truth per window."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vanguard.annotate.cli import Source, TrainerOptions, annotate
from vanguard.annotate.inspect import iter_raw_samples, shard_paths
from vanguard.annotate.records import save_records
from vanguard.data.subclips import windows
from vanguard.schema import decode, sample_key


def run_annotate(records, out: Path, windows_config, **kw) -> dict:
    records_file = out.parent / f"{out.name}-records.json"
    save_records(records_file, records)
    source = kw.pop("source", None) or Source(records_file=records_file)
    return annotate(out, source, windows=windows_config, trainer=TrainerOptions(accelerator="cpu"), **kw)


def read_samples(out: Path) -> list[tuple[str, str, dict, bytes, str]]:
    """Every sample under ``out``: (split folder, key, meta, mp4, shard name); validated by vanguard.schema."""
    rows = []
    for path in shard_paths(out):
        for raw in iter_raw_samples(path):
            key, meta, mp4 = decode(raw)
            rows.append((path.parent.name, key, meta, mp4, path.name))
    return rows


def ground_truth(records, windows_config) -> dict[tuple[str, str], int]:
    """(split, key) -> label, computed here from the intervals, independently of the pipeline's labeller."""
    out = {}
    for r in records:
        for w in windows(r.num_frames, windows_config):
            idx = np.array(w.frame_indices)
            inside = np.zeros(len(idx), bool)
            for s, e in r.intervals or []:
                inside |= (idx >= s) & (idx <= e)
            label = int(inside.sum() * 4 >= len(idx)) if r.intervals is not None else int(r.category != "Normal")
            out[(r.split, sample_key(r.video_id, w.frame_indices[0]))] = label
    return out
