"""The annotator as a LightningModule run by ``Trainer.predict``, and the dataset of subclips it reads.

Work is per video, in a deterministic order (split, then a hash of the video id: :func:`order_records`). Video ``i``
of that full order belongs to rank ``i % world_size`` (a static, disjoint assignment: no ``DistributedSampler``
padding duplicates, and ranks need not agree on which videos are already done). Each rank skips the videos the
writer reports complete (restart).

A dataset item is a :class:`VideoChunk`: up to ``windows_per_item`` consecutive subclips of one video. The source
frames the chunk needs are decoded once (one ``decode_clip`` call, in a DataLoader worker), and each subclip's
sampled frames are encoded there as a small H.264 mp4 (at the source size, or resized to the model's per-frame
pixel budget with ``shard_frame_pixels``: the processor's own resize, so loading skips it). Short videos (all of SynthCrime, most of UCF-Crime) are one
chunk, so each video is decoded once; very long videos are decoded in pieces to bound memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from lightning.pytorch import LightningModule
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from vanguard.annotate.grounder import Grounder
from vanguard.annotate.teacher import SubclipContext, Teacher
from vanguard.answer import Answer, render_answer
from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import (
    MIN_FRAMES,
    TooFewFramesError,
    Window,
    WindowConfig,
    overlapping_captions,
    window_label,
    windows,
)
from vanguard.processing import resize_frames
from vanguard.schema import SPLITS, SchemaError, encode, sample_key
from vanguard.video import DEFAULT_CRF, VideoDecodeError, decode_clip, encode_mp4, probe


@dataclass
class VideoChunk:
    """Consecutive subclips of one video, decoded and encoded, ready for the teacher."""

    record: VideoRecord
    chunk: int
    last: bool
    contexts: list[SubclipContext] = field(default_factory=list)
    mp4s: list[bytes] = field(default_factory=list)
    stored: list[tuple[int, int] | None] = field(default_factory=list)  # (width, height) of a resized mp4
    error: str | None = None  # set when the video cannot be decoded; ``keys`` then lists the lost subclips
    keys: list[str] = field(default_factory=list)


@dataclass
class ChunkResult:
    """What ``predict_step`` returns for a chunk: encoded samples, rejected subclips and per-sample summaries."""

    split: str
    video_id: str
    video_category: str
    chunk: int
    last: bool
    samples: list[dict] = field(default_factory=list)  # vanguard.schema.encode outputs
    rejected: list[dict] = field(default_factory=list)  # {"key", "reason"}
    summaries: list[dict] = field(default_factory=list)  # {"key", "label", "category", "boxes"}


def label_of(record: VideoRecord, window: Window, min_fraction: float) -> int | None:
    """The subclip label when it is known: from intervals, or 0 for a normal video; None = the teacher decides."""
    if record.intervals is not None:
        return window_label(window, record.intervals, min_fraction)
    if record.category == NORMAL:
        return 0
    return None


def order_records(records: list[VideoRecord]) -> list[VideoRecord]:
    """The deterministic work order: by split (train, val, test), then by a hash of the video id.

    Not by the id itself: UCF-Crime-style ids begin with the category, so id order writes shards that each hold one
    or two categories, and a training stream shuffling through a buffer smaller than a shard then sees one category
    at a time (on SynthCrime with a 256-sample buffer, stage 1's training loss swung between 0.02 and 2.0 from one
    batch to the next). The hash mixes categories in every shard and does not depend on which other videos are in
    the list, so a restart finds the same order."""
    rank = {s: i for i, s in enumerate(SPLITS)}
    return sorted(records, key=lambda r: (rank.get(r.split, len(rank)), r.split, _mixing_key(r.video_id), r.video_id))


def _mixing_key(video_id: str) -> str:
    return hashlib.sha1(video_id.encode("utf-8")).hexdigest()


def rank_share(records: list[VideoRecord], rank: int, world_size: int) -> list[VideoRecord]:
    """Videos of ``rank``: every ``world_size``-th of the ordered list (disjoint, covering, no duplicates)."""
    return [r for i, r in enumerate(order_records(records)) if i % world_size == rank]


class SubclipDataset(Dataset):
    """One item per chunk of up to ``windows_per_item`` subclips of a video (see the module docstring).

    ``frame_pixels``: when set, each subclip's frames are resized to the size the backbone's processor picks for
    that per-frame budget (:func:`vanguard.processing.resize_frames`) before they are encoded; the teacher and
    grounder still see the source frames. ``video_processor``: the one whose resize that is (default Qwen3-VL's
    own, :func:`vanguard.processing.default_video_processor`).
    """

    def __init__(self, records: list[VideoRecord], config: WindowConfig, windows_per_item: int = 64,
                 crf: int = DEFAULT_CRF, frame_pixels: int | None = None, video_processor=None):
        if frame_pixels is not None and frame_pixels < 2 * 32 * 32:
            raise ValueError(f"shard_frame_pixels must be at least {2 * 32 * 32} (two 32x32 patches), got {frame_pixels}")
        self.config, self.crf, self.frame_pixels = config, crf, frame_pixels
        self.video_processor = video_processor
        self.items: list[tuple[VideoRecord, int, list[Window], bool, str | None]] = []
        for record in records:
            record, error = self._complete(record)
            wins = []
            if error is None:
                try:
                    wins = windows(record.num_frames or 0, config)
                except TooFewFramesError:  # a skip recorded as done: a re-run must not crash on it again
                    error = "too_few_frames"
            if error is not None or not wins:
                self.items.append((record, 0, [], True, error or "no_frames"))
                continue
            pieces = [wins[i : i + windows_per_item] for i in range(0, len(wins), windows_per_item)]
            for k, piece in enumerate(pieces):
                self.items.append((record, k, piece, k == len(pieces) - 1, None))

    @staticmethod
    def _complete(record: VideoRecord) -> tuple[VideoRecord, str | None]:
        """Fill frame count, fps and size from the file when the catalog did not give them."""
        if record.num_frames and record.fps and record.width and record.height:
            return record, None
        try:
            n, fps, w, h = probe(record.path)
        except (VideoDecodeError, OSError):
            return record, "decode_error"
        return dataclasses.replace(record, num_frames=record.num_frames or n, fps=record.fps or fps,
                                   width=record.width or w, height=record.height or h), None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> VideoChunk:
        record, k, wins, last, error = self.items[i]
        chunk = VideoChunk(record, k, last, error=error)
        if error is not None:
            chunk.keys = [record.video_id]
            return chunk
        needed = sorted({f for w in wins for f in w.frame_indices})
        try:
            frames = decode_clip(record.path, needed)
        except (VideoDecodeError, OSError):
            chunk.error = "decode_error"
            chunk.keys = [sample_key(record.video_id, w.frame_indices[0]) for w in wins]
            return chunk
        row = {f: j for j, f in enumerate(needed)}
        fps = float(record.fps)
        for w in wins:
            clip = frames[[row[f] for f in w.frame_indices]]
            t0, t1 = w.seconds(fps)
            cues = [{"start": round(c.start, 3), "end": round(c.end, 3), "sentence": c.sentence}
                    for c in overlapping_captions(record.captions, t0, t1)]
            boxes = {f: list(record.boxes[f]) for f in w.frame_indices if record.boxes and f in record.boxes}
            chunk.contexts.append(SubclipContext(
                key=sample_key(record.video_id, w.frame_indices[0]), video_id=record.video_id,
                dataset=record.dataset, split=record.split, video_category=record.category, fps=fps,
                frame_indices=w.frame_indices, width=int(frames.shape[2]), height=int(frames.shape[1]), frames=clip,
                cues=cues, label=label_of(record, w, self.config.min_fraction), intervals=record.intervals,
                boxes=boxes,
            ))
            stored = clip if self.frame_pixels is None else resize_frames(clip, self.frame_pixels, self.video_processor)
            chunk.mp4s.append(encode_mp4(stored, fps, crf=self.crf))
            chunk.stored.append(None if stored is clip else (int(stored.shape[2]), int(stored.shape[1])))
        return chunk


def _single(batch: list[VideoChunk]) -> VideoChunk:
    return batch[0]


class AnnotatorModule(LightningModule):
    """Teacher + grounder over this rank's subclips; ``predict_step`` returns a :class:`ChunkResult` per chunk.

    Args:
        teacher: writes observations, reasoning, the label decision and the object phrases.
        grounder: boxes on the keyframe for anomalous subclips.
        records: every video to annotate (all ranks get the same list; each takes its share).
        windows: how videos are cut into subclips.
        num_workers: DataLoader workers that decode source videos and encode subclip mp4s.
        windows_per_item: subclips per dataset item (bounds memory on long videos).
        shard_frame_pixels: store each subclip resized to this per-frame pixel budget (the backbone's
            ``frame_pixels``); None keeps the source size.
        video_processor: whose resize stores them (the training backbone's; default Qwen3-VL's own).
        shard_crf: x264 CRF of the stored subclip mp4s.
    """

    def __init__(self, teacher: Teacher, grounder: Grounder, records: list[VideoRecord],
                 windows: WindowConfig | None = None, num_workers: int = 0, windows_per_item: int = 64,
                 shard_frame_pixels: int | None = None, video_processor=None, shard_crf: int = DEFAULT_CRF):
        super().__init__()
        self.teacher, self.grounder = teacher, grounder
        self.records = order_records(list(records))
        self.windows = windows or WindowConfig()
        self.num_workers, self.windows_per_item = num_workers, windows_per_item
        self.shard_frame_pixels = shard_frame_pixels
        self.video_processor = video_processor
        self.shard_crf = shard_crf

    def _done(self) -> set[tuple[str, str]]:
        from vanguard.annotate.writer import ShardPredictionWriter

        done: set[tuple[str, str]] = set()
        for callback in self.trainer.callbacks:
            if isinstance(callback, ShardPredictionWriter):
                done |= callback.completed_videos()
        return done

    def predict_dataloader(self) -> DataLoader:
        done = self._done()
        mine = [r for r in rank_share(self.records, self.trainer.global_rank, self.trainer.world_size)
                if (r.split, r.video_id) not in done]
        dataset = SubclipDataset(mine, self.windows, self.windows_per_item, crf=self.shard_crf,
                                 frame_pixels=self.shard_frame_pixels, video_processor=self.video_processor)
        # A DistributedSampler over this rank's own share (one replica): Lightning sees a distributed sampler and
        # does not split the share again, whatever ``use_distributed_sampler`` says.
        sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=False)
        return DataLoader(dataset, batch_size=1, sampler=sampler, collate_fn=_single, num_workers=self.num_workers,
                          persistent_workers=False)

    def on_predict_start(self) -> None:
        self.teacher.setup(self.device)
        self.grounder.setup(self.device)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch  # numpy frames and bytes; the teacher and grounder move their own tensors

    def predict_step(self, batch: VideoChunk, batch_idx: int = 0) -> ChunkResult:
        record = batch.record
        result = ChunkResult(record.split, record.video_id, record.category, batch.chunk, batch.last)
        if batch.error is not None:
            result.rejected = [{"key": key, "reason": batch.error} for key in batch.keys]
            return result
        answers = self.teacher.annotate(batch.contexts)
        accepted = [i for i, a in enumerate(answers) if a.answer is not None]
        for i, a in enumerate(answers):
            if a.answer is None:
                result.rejected.append({"key": batch.contexts[i].key, "reason": a.reason})
        grounded = [i for i in accepted if answers[i].answer.anomaly]
        boxes = dict(zip(grounded, self.grounder.ground([batch.contexts[i] for i in grounded],
                                                         [answers[i].answer for i in grounded]))) if grounded else {}
        for i in accepted:
            ctx, teacher_answer = batch.contexts[i], answers[i].answer
            answer = Answer(teacher_answer.anomaly, teacher_answer.category, tuple(boxes.get(i, ())))
            meta = {
                "dataset": ctx.dataset, "video_id": ctx.video_id, "split": ctx.split, "fps": ctx.fps,
                "frame_indices": list(ctx.frame_indices), "keyframe": len(ctx.frame_indices) - 1,
                "width": ctx.width, "height": ctx.height, "label": int(answer.anomaly), "category": answer.category,
                "cues": ctx.cues, "boxes": [b.as_json() for b in answer.boxes], "reasoning": teacher_answer.reasoning,
                "observations": teacher_answer.observations, "objects": list(teacher_answer.objects),
                "answer": render_answer(answer), "teacher": self.teacher.id, "grounder": self.grounder.id,
            }
            if batch.stored[i] is not None:  # width/height stay the source's: boxes are mapped onto it
                meta["stored_width"], meta["stored_height"] = batch.stored[i]
            try:
                result.samples.append(encode(meta, batch.mp4s[i]))
            except SchemaError:
                result.rejected.append({"key": ctx.key, "reason": "schema"})
                continue
            result.summaries.append({"key": ctx.key, "label": meta["label"], "category": meta["category"],
                                     "boxes": len(answer.boxes)})
        return result


def expected_keys(records: list[VideoRecord], config: WindowConfig) -> dict[tuple[str, str], int]:
    """Every subclip key the annotation of ``records`` must account for: ``(split, key) -> known label or -1``."""
    out = {}
    for record in records:
        record, error = SubclipDataset._complete(record)
        if error or (record.num_frames or 0) < MIN_FRAMES:
            continue
        for w in windows(record.num_frames, config):
            label = label_of(record, w, config.min_fraction)
            out[(record.split, sample_key(record.video_id, w.frame_indices[0]))] = -1 if label is None else label
    return out
