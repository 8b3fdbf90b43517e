"""The front door: explain a video with a trained stage's export, as events.

From Python::

    from vanguard import Explainer
    events = Explainer.load("outputs/demo/stage3/export").explain("video.mp4")
    for e in events:
        print(e.start_s, e.end_s, e.category, e.peak_score, e.reasoning)

From the shell, ``python -m vanguard explain VIDEO_OR_FOLDER [--model EXPORT_DIR] [--out DIR]`` (this module's
:func:`main`) does the same and prints the events and the pages to open.

:meth:`Explainer.load` rebuilds the model the export was trained as: the backbone directory and its settings
(frames, pixels, pooling) and the stage's hyper-parameters (the decision threshold among them) come from the
export's ``stage.json`` (exports older than those fields get the demo's settings); the head, the adapter and other
trained backbone weights are loaded once. :meth:`Explainer.explain` runs Lightning's ``predict`` over sliding
windows of the video (:class:`datamodules.VideoFolderDataModule`) and writes what ``python -m vanguard predict``
writes (:class:`callbacks.ExplanationWriter`): predictions JSON with the events, keyframes, a page per video and
``index.html``.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from vanguard.errors import ConfigError
from vanguard.report.predictions import Event, VideoPredictions

DEFAULT_MODEL = "outputs/demo/stage3/export"
DEFAULT_OUT = "outputs/explain"
#: backbone settings of exports that do not record them (written before they did): the demo's
DEMO_BACKBONE = {"num_frames": 8, "frame_pixels": 16384, "pooling": "vision_temporal+prompt", "dtype": "float32"}


def _find_backbone(path: str, export: Path) -> str:
    """The backbone directory an export names: as given (absolute or relative to the working directory), else
    relative to a folder above the export (a run's paths are relative to where it ran)."""
    for candidate in [Path(path), *(parent / path for parent in export.resolve().parents)]:
        if (candidate / "config.json").is_file():
            return str(candidate)
    raise ConfigError(f"{export}: its backbone {path!r} was not found (pass backbone=... / --backbone DIR)")


class Explainer:
    """A loaded stage plus how videos are cut into windows; :meth:`explain` turns a video into events.

    Args:
        stage: a prepared :class:`vanguard.stages.StageBase` (weights loaded).
        window_seconds: seconds one window spans (the SynthCrime demo's: 16 frames at 12 fps).
        stride_seconds: seconds between window starts.
        batch_size: windows per batch.
        num_workers: DataLoader workers decoding and preprocessing windows.
        accelerator: Lightning accelerator (``auto``: the GPU when there is one).
        annotations: a dataset root with temporal ground truth, shaded on the timelines.
        dataset: that root's dataset (``synthcrime``, ``ucf_crime``, ...).
    """

    def __init__(
        self,
        stage,
        window_seconds: float = 1.333,
        stride_seconds: float = 0.667,
        batch_size: int = 8,
        num_workers: int = 0,
        accelerator: str = "auto",
        annotations: str | None = None,
        dataset: str = "synthcrime",
    ):
        self.stage = stage
        self.window_seconds, self.stride_seconds = window_seconds, stride_seconds
        self.batch_size, self.num_workers, self.accelerator = batch_size, num_workers, accelerator
        self.annotations, self.dataset = annotations, dataset
        self.pages: list[Path] = []
        self.index: Path | None = None

    @classmethod
    def load(cls, export_dir: str = DEFAULT_MODEL, backbone: str | None = None, **options) -> Explainer:
        """Rebuild the stage an export was trained as and load its weights.

        Args:
            export_dir: a stage's export folder (``head.safetensors``, ``adapter/``, ``stage.json``).
            backbone: the backbone directory; default: the one the export records.
            **options: :class:`Explainer` arguments (window_seconds, batch_size, ...) and stage hyper-parameters to
                override (threshold, max_new_tokens, generate_normal, ...).
        """
        import vanguard.stages as stages
        from vanguard.backbone import Backbone
        from vanguard.checkpoints import INFO_FILE, load_stage_export

        export = Path(export_dir).expanduser()
        info_path = export / INFO_FILE
        if not info_path.is_file():
            raise ConfigError(f"{export}: no {INFO_FILE}; --model must be a stage's export folder (e.g. "
                              f"{DEFAULT_MODEL}, written by `make demo` or `python -m vanguard fit`)")
        info = json.loads(info_path.read_text(encoding="utf-8"))
        stage_cls = getattr(stages, info.get("stage", ""), None)
        if stage_cls is None:
            raise ConfigError(f"{info_path}: unknown stage {info.get('stage')!r}")
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "stage"}
        explainer_args = {k: v for k, v in options.items() if k in own}
        stage_params = set(inspect.signature(stage_cls.__init__).parameters) - {"self", "backbone", "kwargs"}
        unknown = set(options) - own - stage_params
        if unknown:
            raise ConfigError(f"unknown Explainer option(s): {', '.join(sorted(unknown))}")
        hparams = {k: v for k, v in (info.get("hparams") or {}).items() if k in stage_params}
        if "head" in info and "head_hidden" not in hparams:
            hparams["head_hidden"] = info["head"]["hidden"]
        hparams.update({k: v for k, v in options.items() if k in stage_params})
        settings = {**DEMO_BACKBONE, **(info.get("backbone") or {})}
        path = backbone or _find_backbone(info["backbone_path"], export)
        stage = stage_cls(Backbone(path, **settings), **hparams)
        load_stage_export(stage, export)
        stage.prepare(freeze_vision=True)
        stage.eval()
        return cls(stage, **explainer_args)

    def run(self, videos: str | Path, out_dir: str | Path = DEFAULT_OUT) -> list[VideoPredictions]:
        """Explain a video or every video of a folder; returns each video's predictions (``.events`` first)."""
        from lightning.pytorch import Trainer

        from callbacks.explanations import ExplanationWriter
        from datamodules.videos import VideoFolderDataModule

        backbone = self.stage.backbone
        data = VideoFolderDataModule(str(videos), backbone.path, backbone.frame_pixels, backbone.num_frames,
                                     self.window_seconds, self.stride_seconds, self.batch_size, self.num_workers,
                                     self.annotations, self.dataset)
        writer = ExplanationWriter(str(out_dir))
        trainer = Trainer(accelerator=self.accelerator, devices=1, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, callbacks=[writer])
        trainer.predict(self.stage, datamodule=data, return_predictions=False)
        self.pages, self.index = list(writer.pages), Path(out_dir) / "index.html"
        return list(writer.videos)

    def explain(self, video: str | Path, out_dir: str | Path = DEFAULT_OUT) -> list[Event]:
        """The events of one video (its page: ``self.pages[0]``)."""
        if not Path(video).is_file():
            raise ConfigError(f"{video}: not a video file (for a folder, use Explainer.run)")
        return self.run(video, out_dir)[0].events


def format_events(video: VideoPredictions) -> str:
    """A video's events as printed lines."""
    from vanguard.report.render import event_line

    head = f"{video.video_id} ({video.num_frames / video.fps:.1f} s): "
    if not video.events:
        return head + f"no event (no subclip scored {video.threshold:g} or more)"
    lines = [head + f"{len(video.events)} event{'s' if len(video.events) > 1 else ''}"]
    for i, e in enumerate(video.events, 1):
        boxes = ", ".join(b.label for b in e.boxes) or "no box"
        why = " ".join((e.reasoning or "").split())
        lines.append(f"  {i}. {event_line(e)}; boxes: {boxes}" + (f"\n     why: {why}" if why else ""))
    return "\n".join(lines)


def explain(
    videos: str,
    model: str = DEFAULT_MODEL,
    out: str = DEFAULT_OUT,
    backbone: str | None = None,
    threshold: float | None = None,
    window_seconds: float = 1.333,
    stride_seconds: float = 0.667,
    batch_size: int = 8,
    num_workers: int = 0,
    accelerator: str = "auto",
    annotations: str | None = None,
    dataset: str = "synthcrime",
) -> list[str]:
    """Explain a video (or every video of a folder) as events: when, what, where (boxes) and why.

    Args:
        videos: a video file or a folder of videos.
        model: a stage's export folder (default: the demo's stage 3).
        out: where the predictions JSON, keyframes and pages go.
        backbone: the backbone directory; default: the one the export records.
        threshold: the decision threshold; default: the one the export records.
        window_seconds: seconds one window spans.
        stride_seconds: seconds between window starts.
        batch_size: windows per batch.
        num_workers: DataLoader workers.
        accelerator: ``auto``, ``cpu`` or ``gpu``.
        annotations: a dataset root with temporal ground truth, shaded on the timelines.
        dataset: that root's dataset.
    """
    from datamodules.videos import list_videos

    list_videos(videos)  # a wrong path says so before the model loads
    options = {"window_seconds": window_seconds, "stride_seconds": stride_seconds, "batch_size": batch_size,
               "num_workers": num_workers, "accelerator": accelerator, "annotations": annotations, "dataset": dataset}
    if threshold is not None:
        options["threshold"] = threshold
    explainer = Explainer.load(model, backbone=backbone, **options)
    results = explainer.run(videos, out)
    for video in results:
        print(format_events(video))
    pages = [str(p) for p in explainer.pages]
    print(f"open {explainer.index}" + (f" (or {pages[0]})" if len(pages) == 1 else ""), flush=True)
    return pages


def main(argv: list[str] | None = None) -> None:
    from jsonargparse import CLI

    CLI(explain, args=argv, prog="python -m vanguard explain")
