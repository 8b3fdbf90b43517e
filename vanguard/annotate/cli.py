"""``python -m vanguard annotate --config experiments/<exp>/annotate.yaml``: annotate subclips into shards.

The config is the signature of :func:`annotate` (jsonargparse): ``source``, ``out``, ``windows``, ``teacher`` and
``grounder`` (``class_path`` / ``init_args``), ``trainer`` (accelerator, devices, num_nodes, strategy: annotation
spreads over GPUs and SLURM nodes like training), shard and loader options, and ``allow_test_leakage``. Run it
again after a kill: finished videos are skipped and the rest is done, without duplicates.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from vanguard.annotate.grounder import Grounder, OracleGrounder
from vanguard.annotate.teacher import ScriptedTeacher, Teacher
from vanguard.data.annotations import AnnotationError, VideoRecord
from vanguard.data.subclips import WindowConfig
from vanguard.errors import ConfigError
from vanguard.video import DEFAULT_CRF


@dataclass
class Source:
    """Which videos to annotate.

    Args:
        dataset: catalog name (``synthcrime``, ``ucf_crime``, ...), read with ``vanguard.data.catalog.load_catalog``.
        root: the dataset's root directory (its on-disk layout is the catalog reader's business).
        splits: splits to annotate; the test split is always read to enforce the leakage rule.
        records_file: a JSON records file (:mod:`vanguard.annotate.records`) used instead of the catalog.
        limit: annotate at most this many videos per split (quick looks); None = all.
    """

    dataset: str = "synthcrime"
    root: Path | None = None
    splits: list[str] = field(default_factory=lambda: ["train", "val", "test"])
    records_file: Path | None = None
    limit: int | None = None


@dataclass
class TrainerOptions:
    """The Lightning Trainer that spreads the work (one share of the videos per rank).

    Args:
        accelerator: ``cpu``, ``gpu``, ``auto``...
        devices: devices per node (an int, a list of ids, or ``auto``).
        num_nodes: nodes (SLURM is detected by Lightning: one task per device).
        strategy: ``auto``, ``ddp`` (CPU ranks use gloo), ...
        precision: Lightning precision (the teacher and grounder set their own weight dtype).
    """

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None


def _catalog(source: Source) -> tuple[list[VideoRecord], set[str], dict[str, str]]:
    """The records of the requested splits, the ids of the test videos (for the leakage rule) and the paths of
    the test videos that are on disk (for the copy check)."""
    if source.records_file is not None:
        from vanguard.annotate.records import load_records

        everything = load_records(source.records_file)
        records = [r for r in everything if r.split in source.splits]
        tests = [r for r in everything if r.split == "test"]
        test_ids = {r.video_id for r in tests}
    else:
        if source.root is None:
            raise ConfigError("source.root (the dataset directory) or source.records_file must be given")
        if not Path(source.root).is_dir():
            raise ConfigError(f"source.root {str(source.root)!r} is not a directory")
        from vanguard.data import leakage
        from vanguard.data.catalog import load_catalog

        try:
            records = [r for split in source.splits
                       for r in load_catalog(source.root, dataset=source.dataset, split=split, skip_unreadable=True)]
            tests = (records if "test" in source.splits
                     else load_catalog(source.root, dataset=source.dataset, split="test", probe_videos=False))
        except (OSError, ValueError) as err:  # a missing split list, an unknown dataset, an unreadable video
            raise ConfigError(f"source {source.dataset} at {source.root}: {err}") from None
        tests = [r for r in tests if r.split == "test"]
        # the root's own test lists too (e.g. UCF-Crime's official test list), named as leakage.normalize writes them
        test_ids = {r.video_id for r in tests} | leakage.test_video_ids(source.root, dataset=source.dataset)
    if source.limit is not None:
        per_split: dict[str, int] = {}
        kept = []
        for r in sorted(records, key=lambda r: (r.split, r.video_id)):
            per_split[r.split] = per_split.get(r.split, 0) + 1
            if per_split[r.split] <= source.limit:
                kept.append(r)
        records = kept
    return records, test_ids, {r.video_id: r.path for r in tests if Path(r.path).is_file()}


def drop_duplicates(records: list[VideoRecord]) -> tuple[list[VideoRecord], list[str]]:
    """Keep the first of each video listed twice in a split (same id) and of each byte-identical copy within the
    training splits or within the test split (whatever the ids): duplicates would be duplicate samples (in
    training, a video weighted twice; in test, a video counted twice). Returns the kept records and one line per
    dropped record. A copy across test and training is leakage, not a duplicate (:func:`leaked_videos`)."""
    from vanguard.data.leakage import identical_files

    seen: set[tuple[str, str]] = set()
    dropped: dict[int, str] = {}
    for i, r in enumerate(records):
        if (r.split, r.video_id) in seen:
            dropped[i] = f"{r.video_id} ({r.split}) listed twice"
        seen.add((r.split, r.video_id))
    for group in identical_files([r.path for r in records]):
        for side in (False, True):  # training splits, then the test split
            members = [i for i in group if (records[i].split == "test") == side and i not in dropped]
            first = records[members[0]] if members else None
            for i in members[1:]:
                if records[i].video_id != first.video_id:
                    dropped[i] = f"{records[i].video_id} ({records[i].split}) is a copy of {first.video_id} ({first.split})"
    return [r for i, r in enumerate(records) if i not in dropped], [dropped[i] for i in sorted(dropped)]


def leaked_videos(records: list[VideoRecord], test_ids: set[str], test_paths: dict[str, str] | None = None) -> list[str]:
    """Test videos that would go into non-test shards: by id, and (with ``test_paths``, id -> file) as
    byte-identical copies under another id (``"train_id (a copy of test video test_id)"``)."""
    from vanguard.data.leakage import copied_test_videos

    leaked = {r.video_id for r in records if r.split != "test" and r.video_id in test_ids}
    if test_paths:
        train = {r.video_id: r.path for r in records if r.split != "test" and r.video_id not in leaked}
        leaked |= {f"{a} (a copy of test video {b})" for a, b in copied_test_videos(train, test_paths)}
    return sorted(leaked)


def _resolved(path: Path | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _init_args(obj) -> dict:
    return {"class_path": f"{type(obj).__module__}.{type(obj).__name__}",
            "init_args": {k: v for k, v in vars(obj).items() if isinstance(v, (int, float, str, bool)) and k != "id"}}


def annotate(
    out: Path,
    source: Source = Source(),
    windows: WindowConfig = WindowConfig(),
    teacher: Teacher | None = None,
    grounder: Grounder | None = None,
    trainer: TrainerOptions = TrainerOptions(),
    maxcount: int = 1000,
    maxsize: float = 1e9,
    num_workers: int = 0,
    windows_per_item: int = 64,
    allow_test_leakage: bool = False,
    shard_frame_pixels: int | None = None,
    shard_backbone: Path | None = None,
    shard_crf: int = DEFAULT_CRF,
) -> dict:
    """Cut videos into subclips, have the teacher and grounder annotate them, write WebDataset shards.

    Args:
        out: shard root: ``<out>/{train,val,test}/shard-r{rank}-*.tar``, ``manifest.json``, ``stats.json``.
        source: which videos (catalog or records file) and splits.
        windows: subclip length, stride, sampled frames and the anomalous-fraction rule.
        teacher: the teacher (``class_path``/``init_args``); default the scripted teacher (SynthCrime).
        grounder: the grounder; default the oracle (ground-truth boxes, SynthCrime).
        trainer: accelerator, devices, nodes and strategy of the Lightning Trainer.
        maxcount: samples per shard (a shard closes between videos once it has this many).
        maxsize: bytes per shard (checked between videos too).
        num_workers: DataLoader workers decoding source videos and encoding subclip mp4s, per rank.
        windows_per_item: subclips decoded together (bounds memory on very long videos).
        allow_test_leakage: let test videos into train/val shards (recorded in the manifest); refused otherwise.
        shard_frame_pixels: store each subclip's frames resized to this per-frame pixel budget, by the backbone
            processor's own resize (Qwen3-VL's ``smart_resize`` size, bicubic), so loading skips the resize
            (decoding a 128x96 subclip instead of 320x240 is several times cheaper). It must equal the training
            configs' ``frame_pixels`` (else the loader resizes once more: correct, slower, and the frames were
            downscaled twice). None keeps the source size. The json's width/height stay the source size.
        shard_backbone: the training backbone's directory, whose video processor does that resize. None uses
            Qwen3-VL's default video processor, whose resize every Qwen3-VL backbone shares (16-pixel patches,
            2x2 merge, bicubic); a backbone with other patch or merge sizes must be named here.
        shard_crf: x264 constant rate factor of the stored subclip mp4s (0-51, lower keeps more detail and takes
            more bytes). 23 is x264's default; on SynthCrime 10 gives 2.5-4x the bytes and +4 dB PSNR and did not
            change what a model learns (research/findings.md).
    """
    from lightning.pytorch import Trainer

    from vanguard.annotate.module import AnnotatorModule
    from vanguard.annotate.writer import ShardPredictionWriter, check_manifest

    if shard_frame_pixels is not None and shard_frame_pixels < 2 * 32 * 32:
        raise ConfigError(f"shard_frame_pixels must be at least {2 * 32 * 32} (two 32x32 patches) or null, "
                          f"got {shard_frame_pixels}")
    video_processor = None
    if shard_backbone is not None:
        if shard_frame_pixels is None:
            raise ConfigError("shard_backbone is set but shard_frame_pixels is null: nothing would be resized")
        from vanguard.processing import load_processor

        video_processor = load_processor(shard_backbone).video_processor
    if not 0 <= shard_crf <= 51:
        raise ConfigError(f"shard_crf must be an x264 CRF between 0 and 51, got {shard_crf}")
    teacher = teacher or ScriptedTeacher()
    grounder = grounder or OracleGrounder()
    out = Path(out)
    try:
        records, test_ids, test_paths = _catalog(source)
    except AnnotationError as err:
        raise ConfigError(str(err)) from None
    if not records:
        raise ConfigError(f"no videos to annotate in {source.records_file or source.root} (splits {source.splits})")
    records, duplicates = drop_duplicates(records)
    if duplicates:
        print(f"annotate: dropped {len(duplicates)} duplicate videos: {'; '.join(duplicates[:5])}"
              + (f"; and {len(duplicates) - 5} more (manifest.json lists them)" if len(duplicates) > 5 else ""),
              flush=True)
    leaked = leaked_videos(records, test_ids, test_paths)
    if leaked and not allow_test_leakage:
        raise ConfigError(f"{len(leaked)} test videos would go into training shards (e.g. {leaked[0]}); "
                          "set allow_test_leakage: true to allow it (it is recorded in the manifest)")
    fingerprint = {"teacher": teacher.id, "grounder": grounder.id, "windows": dataclasses.asdict(windows)}
    if shard_frame_pixels is not None:  # only when set, so outputs annotated before the option stay resumable
        fingerprint["shard_frame_pixels"] = shard_frame_pixels
    if shard_crf != DEFAULT_CRF:  # likewise: outputs written before the option keep their fingerprint
        fingerprint["shard_crf"] = shard_crf
    source_id = {"dataset": source.dataset if source.records_file is None else None,
                 "root": _resolved(source.root) if source.records_file is None else None,
                 "records_file": _resolved(source.records_file)}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"out {str(out)!r}: cannot create the folder ({err.strerror})") from None
    check_manifest(out, fingerprint, source_id)
    per_split = {s: sum(r.split == s for r in records) for s in source.splits}
    manifest = {
        "source": {"dataset": source.dataset, "root": str(source.root) if source.root else None,
                   "records_file": str(source.records_file) if source.records_file else None,
                   "splits": source.splits, "videos": per_split, "limit": source.limit},
        "teacher": teacher.id, "grounder": grounder.id, "fingerprint": fingerprint,
        "options": {"windows": dataclasses.asdict(windows), "teacher": _init_args(teacher),
                    "grounder": _init_args(grounder), "maxcount": maxcount, "maxsize": maxsize,
                    "shard_frame_pixels": shard_frame_pixels, "shard_crf": shard_crf},
        "leakage": {"allow_test_leakage": allow_test_leakage, "leaked_videos": leaked},
        "duplicates_dropped": duplicates, "source_id": source_id,
    }
    writer = ShardPredictionWriter(out, maxcount=maxcount, maxsize=maxsize, manifest=manifest)
    module = AnnotatorModule(teacher, grounder, records, windows, num_workers=num_workers,
                             windows_per_item=windows_per_item, shard_frame_pixels=shard_frame_pixels,
                             video_processor=video_processor, shard_crf=shard_crf)
    pl_trainer = Trainer(
        accelerator=trainer.accelerator, devices=trainer.devices, num_nodes=trainer.num_nodes,
        strategy=trainer.strategy, precision=trainer.precision, callbacks=[writer], logger=False,
        enable_checkpointing=False, use_distributed_sampler=False, default_root_dir=str(out),
    )
    start = time.perf_counter()
    pl_trainer.predict(module, return_predictions=False)
    seconds = time.perf_counter() - start
    if pl_trainer.global_rank != 0:
        return {}
    import json

    stats = json.loads((Path(out) / "stats.json").read_text(encoding="utf-8"))
    subclips = sum(stats["subclips"].values())
    print(f"annotate: {sum(stats['samples'].values())} samples ({stats['samples']}), rejected "
          f"{stats['rejected_total'] or 0}, in {seconds:.1f} s this run -> {out}")
    for reason, ids in stats.get("skipped_videos", {}).items():
        why = {"too_few_frames": "too short for one subclip"}.get(reason, reason.replace("_", " "))
        print(f"annotate: skipped {len(ids)} whole videos ({why}; counted as rejected '{reason}'): "
              f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}", flush=True)
    rejected = sum(stats["rejected_total"].values())
    if subclips and rejected > subclips / 2:
        import sys

        print(f"annotate: warning: {rejected} of {subclips} subclips were rejected ({stats['rejected_total']}); "
              "check the teacher (model directory, max_new_tokens, prompt) before training on these shards",
              file=sys.stderr)
    stats["run_seconds"], stats["run_subclips_total"] = round(seconds, 3), subclips
    return stats


def main(argv: list[str] | None = None) -> None:
    """Entry of ``python -m vanguard annotate``."""
    from jsonargparse import CLI

    CLI(annotate, args=argv, as_positional=False)
