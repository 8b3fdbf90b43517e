"""``VideoFolderDataModule``: ``predict`` on any videos (a folder or one file; any resolution, frame rate, length).

Each video is probed, cut into sliding windows by :func:`vanguard.data.subclips.windows` (the annotation pipeline's
windowing, so predict and training see subclips alike) with the window length and stride given in SECONDS and
converted with the video's own fps, and streamed in prompt-only batches by
:func:`datamodules.predict.video_windows_loader` (decoding and the processor run in the DataLoader workers).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch import LightningDataModule

from datamodules.predict import video_windows_loader
from datamodules.streams import share_cores_with_workers
from vanguard.data.subclips import MIN_FRAMES, WindowConfig, windows
from vanguard.errors import ConfigError
from vanguard.targets import asks_reasoning
from vanguard.video import VIDEO_EXTENSIONS, VideoDecodeError, probe


@dataclass
class VideoInfo:
    video_id: str
    path: str
    num_frames: int
    fps: float
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def list_videos(videos: str) -> list[Path]:
    """The video files of a folder (sorted, not recursive) or the single file given."""
    path = Path(videos).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        found = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
        if not found:
            raise ConfigError(f"{path}: no video files ({', '.join(VIDEO_EXTENSIONS)})")
        ignored = [p.name for p in files if p not in found]
        if ignored:  # say so: a video in a container not on the list would otherwise vanish from the results
            shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
            print(f"predict: ignored {len(ignored)} file(s) in {path} that are not videos by extension: {shown}",
                  file=sys.stderr, flush=True)
        return found
    raise ConfigError(f"videos {videos!r} is neither a video file nor a folder")


class VideoFolderDataModule(LightningDataModule):
    """Sliding windows over arbitrary videos for ``python -m vanguard predict``.

    Args:
        videos: a folder of videos (not recursive) or one video file.
        backbone_path: backbone directory (its processor runs in the DataLoader workers).
        frame_pixels: per-frame pixel budget (as in training).
        num_frames: frames sampled per window (as in training).
        window_seconds: seconds one window spans (converted to frames with each video's fps).
        stride_seconds: seconds between window starts.
        batch_size: windows per batch.
        num_workers: DataLoader workers.
        annotations: optional dataset root with ground truth, to shade it on the HTML timeline.
        dataset: that root's dataset (``ucf_crime``, ``synthcrime``, ``xd_violence``, ``shanghaitech``).
        reasoning: use the stage-3 prompt; None = when the model's ``target`` is ``reasoning``.
    """

    def __init__(
        self,
        videos: str | None = None,
        backbone_path: str = "models/synthcrime-tiny-qwen3vl",
        frame_pixels: int = 128 * 128,
        num_frames: int = 16,
        window_seconds: float = 2.0,
        stride_seconds: float = 1.0,
        batch_size: int = 8,
        num_workers: int = 0,
        annotations: str | None = None,
        dataset: str = "synthcrime",
        reasoning: bool | None = None,
    ):
        super().__init__()
        if window_seconds <= 0 or stride_seconds <= 0:
            raise ConfigError("window_seconds and stride_seconds must be positive")
        self.videos, self.backbone_path = videos, str(backbone_path)
        self.frame_pixels, self.num_frames = frame_pixels, num_frames
        self.window_seconds, self.stride_seconds = window_seconds, stride_seconds
        self.batch_size, self.num_workers = batch_size, num_workers
        self.annotations, self.dataset, self.reasoning = annotations, dataset, reasoning
        self.video_info: dict[str, VideoInfo] = {}
        #: videos left out, path -> why (too short for one subclip)
        self.skipped: dict[str, str] = {}
        self._ground_truth: dict | None = None
        #: videos left out of the loader because an earlier run predicted them (``ExplanationWriter`` resumes)
        self.done: set[str] = set()

    def setup(self, stage: str) -> None:
        share_cores_with_workers(self.num_workers)
        if self.video_info:
            return
        if not self.videos:
            raise ConfigError("VideoFolderDataModule: pass the videos, e.g. --data.init_args.videos some.mp4")
        for path in list_videos(self.videos):
            try:
                n, fps, width, height = probe(str(path))
            except VideoDecodeError as err:
                raise ConfigError(f"{path}: cannot read the video ({err})") from None
            if n < MIN_FRAMES:
                self.skipped[str(path)] = f"{n} frame(s): one subclip needs at least {MIN_FRAMES}"
                print(f"predict: skipped {path}: {self.skipped[str(path)]}", file=sys.stderr, flush=True)
                continue
            if round(self.window_seconds * fps) < MIN_FRAMES:  # CCTV exports below ~1 fps
                print(f"predict: {path.name} has {fps:.3g} fps: its windows span {MIN_FRAMES} frames "
                      f"({MIN_FRAMES / fps:.1f} s) instead of {self.window_seconds:g} s", file=sys.stderr, flush=True)
            if path.stem in self.video_info:
                raise ConfigError(f"two videos named {path.stem!r} in {self.videos}")
            self.video_info[path.stem] = VideoInfo(path.stem, str(path), int(n), float(fps), int(width), int(height))
        if not self.video_info:
            raise ConfigError(f"{self.videos}: no video has the {MIN_FRAMES} frames one subclip needs")

    def window_config(self, fps: float) -> WindowConfig:
        length = max(MIN_FRAMES, round(self.window_seconds * fps))  # below ~1 fps a window still gets 2 frames
        return WindowConfig(length=length, stride=max(1, round(self.stride_seconds * fps)),
                            num_frames=max(MIN_FRAMES, min(self.num_frames, length)))

    def entries(self) -> list[tuple[str, list[list[int]]]]:
        """``[(video path, [window frame indices, ...]), ...]`` for the loader."""
        return [
            (v.path, [list(w.frame_indices) for w in windows(v.num_frames, self.window_config(v.fps))])
            for v in self.video_info.values() if v.video_id not in self.done
        ]

    def skip_videos(self, video_ids: set[str]) -> None:
        """Leave these videos out of the loader (already predicted); ``entries()`` then lists the others."""
        self.done = set(video_ids)

    def uses_reasoning(self) -> bool:
        if self.reasoning is not None:
            return self.reasoning
        module = self.trainer.lightning_module if self.trainer is not None else None
        return asks_reasoning(getattr(module, "target", "none"))

    def predict_dataloader(self):
        return video_windows_loader(self.entries(), self.backbone_path, self.frame_pixels, self.num_frames,
                                    self.batch_size, self.num_workers, reasoning=self.uses_reasoning())

    def ground_truth(self, video_id: str):
        """The temporal ground truth of a video when ``annotations`` has it, else None."""
        if not self.annotations:
            return None
        if self._ground_truth is None:
            from vanguard.data.annotations import VideoAnnotation
            from vanguard.data.catalog import load_catalog

            records = load_catalog(self.annotations, self.dataset, "all", probe_videos=False)
            self._ground_truth = {
                r.video_id: VideoAnnotation(r.video_id, r.category, list(r.intervals), r.num_frames, r.fps)
                for r in records if r.intervals is not None
            }
        return self._ground_truth.get(video_id)
