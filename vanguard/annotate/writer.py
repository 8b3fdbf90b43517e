"""Write each rank's annotated subclips to WebDataset shards, restartably; then the manifest and the stats.

Layout under ``out``::

    <split>/shard-r{rank}-{n:06d}.tar       the shards (webdataset ``ShardWriter``), samples per vanguard.schema
    done/<split>/shard-r{rank}-{n:06d}.json  the shard's done record: videos, per-sample summary, rejected subclips
    manifest.json, stats.json                written atomically by rank 0

How a kill at any point is survived without duplicate or partial samples:

- ``ShardWriter`` writes to a temp name (``.shard-r0-000003.tar.tmp``). A shard is closed only **between videos**
  (``maxcount``/``maxsize`` are checked after a video's last subclip), so a video never spans two shards.
- When a shard closes (ShardWriter's ``post`` hook) the tar is fsynced, its done record is written atomically,
  then the tar is renamed into place. A done record whose tar is missing is an orphan and does not count.
- On (re)start each rank deletes its stray temp files and orphan records; the videos listed in valid done records
  are complete and skipped. Numbering continues after the highest number used, so names are never reused.
- Videos whose subclips were all rejected have no sample; they are listed in the next shard's record (or in a
  record without a tar at the end), so they are not retried on restart.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter

from vanguard.errors import ConfigError
from vanguard.io import write_json
from vanguard.schema import SPLITS

_NUMBERED = re.compile(r"^shard-r(\d+)-(\d+)\.(tar|json)$")


def _fsync(path: str) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


class _SplitSink:
    """One rank's shards of one split (a ShardWriter on temp names, closed only at video boundaries)."""

    def __init__(self, out: Path, split: str, rank: int, start: int, maxcount: int, maxsize: float):
        self.dir, self.done_dir = out / split, out / "done" / split
        self.dir.mkdir(parents=True, exist_ok=True)
        self.done_dir.mkdir(parents=True, exist_ok=True)
        self.split, self.rank, self.start = split, rank, start
        self.maxcount, self.maxsize = maxcount, maxsize
        self.writer = None
        self._reset()

    def _reset(self) -> None:
        self.videos: list[str] = []
        self.rejected: list[dict] = []
        self.summaries: list[dict] = []

    def _writer(self):
        import webdataset as wds

        if self.writer is None:  # ShardWriter opens its first file at once: create it on the first sample
            pattern = str(self.dir / f".shard-r{self.rank}-%06d.tar.tmp")
            self.writer = wds.ShardWriter(pattern, maxcount=10**15, maxsize=1e18, post=self._post,
                                          start_shard=self.start, verbose=0)
        return self.writer

    def add(self, result) -> None:
        for sample in result.samples:
            self._writer().write(sample)
        for s in result.summaries:
            self.summaries.append({**s, "video_id": result.video_id, "video_category": result.video_category})
        self.rejected += [{**r, "video_id": result.video_id} for r in result.rejected]
        if not result.last:
            return
        self.videos.append(result.video_id)
        w = self.writer
        if w is not None and w.tarstream is not None and (w.count >= self.maxcount or w.size >= self.maxsize):
            w.finish()  # -> _post: done record, then rename

    def _record(self, number: int, with_tar: bool) -> dict:
        return {"shard": f"shard-r{self.rank}-{number:06d}.tar" if with_tar else None, "split": self.split,
                "rank": self.rank, "num_samples": len(self.summaries), "videos": self.videos,
                "rejected": self.rejected, "samples": self.summaries, "written": time.time()}

    def _post(self, temp: str) -> None:
        number = int(re.search(r"-(\d+)\.tar\.tmp$", temp).group(1))
        _fsync(temp)
        write_json(self.done_dir / f"shard-r{self.rank}-{number:06d}.json", self._record(number, True), indent=None)
        os.replace(temp, self.dir / f"shard-r{self.rank}-{number:06d}.tar")
        self._reset()

    def close(self) -> None:
        number = self.start
        if self.writer is not None:
            self.writer.finish()
            number = self.writer.shard  # the next unused number
            self.writer.close()
            self.writer = None
        if self.videos or self.rejected:  # videos without any sample since the last shard
            write_json(self.done_dir / f"shard-r{self.rank}-{number:06d}.json", self._record(number, False),
                       indent=None)
            self._reset()


def read_done_records(out: Path) -> list[dict]:
    """Every valid done record under ``out`` (orphans, whose tar is missing, are left out)."""
    records = []
    for path in sorted((Path(out) / "done").glob("*/shard-r*-*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("num_samples", 0) and not (Path(out) / record["split"] / record["shard"]).is_file():
            continue
        records.append(record)
    return records


def check_manifest(out: Path, fingerprint: dict, source_id: dict | None = None) -> None:
    """Refuse to continue into ``out`` when it holds shards annotated with different teacher/grounder/window
    settings, or of another source (dataset and root, or records file), or shards no manifest describes: the
    shards would be merged silently into one dataset."""
    path = Path(out) / "manifest.json"
    if not path.is_file():
        shards = sorted(Path(out).glob("*/*.tar"))
        if shards:
            raise ConfigError(f"{out} already holds shards that no manifest.json describes (e.g. {shards[0]}); "
                              "annotate into a new output directory")
        return
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not readable JSON ({err}); annotate into a new output directory") from None
    old = manifest.get("fingerprint")
    if old is not None and old != json.loads(json.dumps(fingerprint)):
        raise ConfigError(f"{out} holds shards annotated with other settings ({old}); use a new output directory")
    old_source = manifest.get("source_id")
    if old_source is None and source_id is not None:  # written before source_id: what the manifest says of it
        src = manifest.get("source", {})
        old_source = {"dataset": None if src.get("records_file") else src.get("dataset"),
                      "root": None if src.get("records_file") or not src.get("root") else str(Path(src["root"]).resolve()),
                      "records_file": str(Path(src["records_file"]).resolve()) if src.get("records_file") else None}
    if source_id is not None and old_source != source_id:
        def name(s: dict) -> str:
            return f"records file {s['records_file']}" if s.get("records_file") else f"{s.get('dataset')} at {s.get('root')}"

        raise ConfigError(f"{out} holds shards of another source ({name(old_source)}); this run annotates "
                          f"{name(source_id)}: use a new output directory")


def compute_stats(records: list[dict]) -> dict:
    """Samples per split, anomalous fraction per (video) category, rejected by reason, boxes per sample."""
    samples, subclips, videos = Counter(), Counter(), Counter()
    per_cat: dict = defaultdict(lambda: defaultdict(lambda: {"samples": 0, "anomalous": 0}))
    rejected: dict = defaultdict(Counter)
    boxes: dict = defaultdict(Counter)
    for rec in records:
        split = rec["split"]
        videos[split] += len(rec["videos"])
        for s in rec["samples"]:
            samples[split] += 1
            cell = per_cat[split][s["video_category"]]
            cell["samples"] += 1
            cell["anomalous"] += s["label"]
            boxes[split][s["boxes"]] += 1
        for r in rec["rejected"]:
            rejected[split][r["reason"]] += 1
        subclips[split] += len(rec["samples"]) + len(rec["rejected"])
    for cats in per_cat.values():
        for cell in cats.values():
            cell["anomalous_fraction"] = round(cell["anomalous"] / cell["samples"], 4) if cell["samples"] else 0.0
    total_rejected = Counter()
    for c in rejected.values():
        total_rejected.update(c)

    def box_stats(hist: Counter) -> dict:
        n = sum(hist.values())
        return {"mean": round(sum(k * v for k, v in hist.items()) / n, 4) if n else 0.0,
                "histogram": {str(k): hist[k] for k in sorted(hist)}}

    splits = [s for s in SPLITS if s in videos or s in samples]
    skipped: dict = defaultdict(list)  # whole videos: undecodable, or too short for one subclip
    for rec in records:
        for r in rec["rejected"]:
            if r.get("key") == r.get("video_id"):
                skipped[r["reason"]].append(r["video_id"])
    return {
        "skipped_videos": {reason: sorted(ids) for reason, ids in sorted(skipped.items())},
        "videos": {s: videos[s] for s in splits},
        "samples": {s: samples[s] for s in splits},
        "subclips": {s: subclips[s] for s in splits},
        "anomalous": {s: sum(c["anomalous"] for c in per_cat[s].values()) for s in splits},
        "per_category": {s: {k: per_cat[s][k] for k in sorted(per_cat[s])} for s in splits},
        "rejected": {s: dict(rejected[s]) for s in splits},
        "rejected_total": dict(total_rejected),
        "boxes_per_sample": {s: box_stats(boxes[s]) for s in splits},
    }


class ShardPredictionWriter(BasePredictionWriter):
    """Prediction writer: each rank writes its own shards of every split (see the module docstring).

    Args:
        out_dir: the shard root (``<out_dir>/{train,val,test}/*.tar``, ``manifest.json``, ``stats.json``).
        maxcount: samples per shard before it is closed (checked between videos, so a shard may hold a few more).
        maxsize: bytes per shard before it is closed (checked between videos).
        manifest: what rank 0 writes as ``manifest.json`` (source, teacher/grounder ids, options, leakage opt-in).
    """

    def __init__(self, out_dir: str | Path, maxcount: int = 1000, maxsize: float = 1e9, manifest: dict | None = None):
        super().__init__(write_interval="batch")
        self.out = Path(out_dir)
        self.maxcount, self.maxsize = maxcount, maxsize
        self.manifest = dict(manifest or {})
        self.sinks: dict[str, _SplitSink] = {}
        self.rank, self.world_size = 0, 1

    def _mine(self, rank: int) -> bool:
        return rank == self.rank or (self.rank == 0 and rank >= self.world_size)

    def _recover(self) -> None:
        """Delete this rank's stray temp files and orphan done records (rank 0 also those of vanished ranks)."""
        for temp in self.out.glob("*/.shard-r*-*.tmp"):
            m = re.match(r"^\.shard-r(\d+)-", temp.name)
            if m and self._mine(int(m.group(1))):
                temp.unlink(missing_ok=True)
        for path in self.out.glob("done/*/*"):
            m = re.match(r"^\.?shard-r(\d+)-", path.name)
            if not m or not self._mine(int(m.group(1))):
                continue
            if path.name.startswith("."):  # an interrupted atomic write of a record
                path.unlink(missing_ok=True)
                continue
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            if rec.get("num_samples", 0) and not (self.out / rec["split"] / str(rec["shard"])).is_file():
                path.unlink(missing_ok=True)

    def _start_number(self, split: str) -> int:
        """One past the highest number this rank ever used in ``split`` (tars and records, orphans included)."""
        used = [-1]
        for folder in (self.out / split, self.out / "done" / split):
            for path in folder.glob(f"shard-r{self.rank}-*"):
                m = _NUMBERED.match(path.name)
                if m:
                    used.append(int(m.group(2)))
        return max(used) + 1

    def setup(self, trainer, pl_module, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self.rank, self.world_size = trainer.global_rank, trainer.world_size
        self.out.mkdir(parents=True, exist_ok=True)
        self.starts = {split: self._start_number(split) for split in SPLITS}  # before orphans are deleted
        self._recover()
        self.sinks = {}
        if self.rank == 0:
            self._write_manifest(complete=False)

    def completed_videos(self) -> set[tuple[str, str]]:
        """``(split, video_id)`` of every video whose subclips are all in renamed shards (or all rejected)."""
        return {(rec["split"], vid) for rec in read_done_records(self.out) for vid in rec["videos"]}

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        split = prediction.split
        if split not in self.sinks:
            self.sinks[split] = _SplitSink(self.out, split, self.rank, self.starts.get(split, 0), self.maxcount,
                                           self.maxsize)
        self.sinks[split].add(prediction)
        prediction.samples.clear()  # the mp4 bytes are on disk; do not keep them in memory
        if prediction.last and trainer.received_sigterm:
            # Lightning's handler swallows SIGTERM and its predict loop never checks it: stop here, at a video
            # boundary, with every shard so far closed (renamed, recorded), so a re-run only does the rest.
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            for sink in self.sinks.values():
                sink.close()
            self.sinks = {}
            raise SIGTERMException

    def on_predict_end(self, trainer, pl_module) -> None:
        for sink in self.sinks.values():
            sink.close()
        self.sinks = {}
        trainer.strategy.barrier("annotate-shards-closed")
        if self.rank == 0:
            stats = compute_stats(read_done_records(self.out))
            stats["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_json(self.out / "stats.json", stats)
            self._write_manifest(complete=True)

    def _write_manifest(self, complete: bool) -> None:
        path = self.out / "manifest.json"
        created = None
        if path.is_file():
            try:
                created = json.loads(path.read_text(encoding="utf-8")).get("created")
            except ValueError:
                created = None
        manifest = {**self.manifest, "created": created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "complete": complete,
                    "layout": "<split>/shard-r{rank}-{n:06d}.tar; done/<split>/*.json records each shard's videos"}
        write_json(path, manifest)
