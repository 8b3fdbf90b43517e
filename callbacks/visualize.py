"""TensorBoard visuals of a validation epoch: keyframes with ground-truth and predicted boxes, generated text next
to the teacher's, and a PR curve of the anomaly scores.

The eval batch carries no raw frames, only the processor's patches, so the keyframe is rebuilt from
``pixel_values_videos`` by inverting the Qwen3-VL video processor's patchify (its layout:
``(t, tp, C, h/m, m, p, w/m, m, p) -> (t, h/m, w/m, m, m, C, tp, p, p)``); float (normalised) patches are
un-normalised, uint8 patches (what the datamodule's workers ship) are the pixels already. Boxes are 0..1000
relative, so they are drawn on the resized frame as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger

from vanguard.answer import Box
from vanguard.stages.batching import patch_offsets
from vanguard.stages.evaluation import gt_boxes

GT_COLOUR = (0, 220, 0)
PRED_COLOUR = (255, 40, 40)


def patch_layout(processor) -> dict:
    """The video processor's patchify parameters (patch, temporal patch, merge size, mean, std)."""
    vp = processor.video_processor
    return {
        "patch_size": vp.patch_size,
        "temporal_patch_size": vp.temporal_patch_size,
        "merge_size": vp.merge_size,
        "mean": tuple(vp.image_mean),
        "std": tuple(vp.image_std),
    }


def frames_from_patches(
    pixel_values_videos: torch.Tensor,
    video_grid_thw: torch.Tensor,
    sample: int,
    patch_size: int = 16,
    temporal_patch_size: int = 2,
    merge_size: int = 2,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
) -> np.ndarray:
    """All frames (T, H, W, 3) uint8 of one sample of a collated batch, as the processor resized them."""
    t, h, w = (int(v) for v in video_grid_thw[sample])
    start, end = patch_offsets(video_grid_thw)[sample : sample + 2]
    patches = pixel_values_videos[start:end].detach().cpu()
    raw = patches.dtype == torch.uint8  # the datamodule's unnormalised patches
    patches = patches.float()
    m, p, tp = merge_size, patch_size, temporal_patch_size
    x = patches.view(t, h // m, w // m, m, m, -1, tp, p, p)
    x = x.permute(0, 6, 5, 1, 3, 7, 2, 4, 8)  # t, tp, C, h/m, m, p, w/m, m, p
    x = x.reshape(t * tp, -1, h * p, w * p)
    if raw:
        return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    x = x * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def keyframe_from_patches(batch: dict, sample: int, keyframe: int, layout: dict) -> np.ndarray:
    """The keyframe (H, W, 3) uint8 of one sample (``keyframe``: its position in ``frame_indices``)."""
    frames = frames_from_patches(batch["pixel_values_videos"], batch["video_grid_thw"], sample, **layout)
    return frames[min(max(keyframe, 0), len(frames) - 1)]


def draw_boxes(image: np.ndarray, gt: Sequence[Box], pred: Sequence[Box], scale: int = 4) -> np.ndarray:
    """Draw GT (green) and predicted (red) 0..1000 boxes on an upscaled copy of the image."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    for boxes, colour in ((gt, GT_COLOUR), (pred, PRED_COLOUR)):
        for box in boxes:
            x1, y1, x2, y2 = box.to_pixels(img.width, img.height)
            draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
            draw.text((x1 + 2, y1 + 1), box.label, fill=colour)
    return np.asarray(img)


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


class TensorBoardVisuals(Callback):
    """Writes, after each validation epoch (not the sanity check), to the TensorBoardLogger:
    ``val/keyframes/<i>`` images (GT green, predicted red), ``val/answers`` text (key, teacher answer and
    reasoning, generated text) and ``val/pr_curve`` (anomaly score vs label, rank 0's samples).

    Args:
        max_images: keyframe images per epoch.
        max_texts: rows of the generated-vs-teacher table per epoch.
        pr_curve: write the PR curve.
    """

    def __init__(self, max_images: int = 4, max_texts: int = 8, pr_curve: bool = True):
        self.max_images, self.max_texts, self.pr_curve = max_images, max_texts, pr_curve
        self._reset()

    def _reset(self) -> None:
        self.scores: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.images: list[tuple[str, np.ndarray]] = []
        self.rows: list[tuple[str, str, str, str]] = []

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._reset()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if trainer.sanity_checking or not isinstance(outputs, dict) or not trainer.is_global_zero:
            return
        self.scores.append(outputs["scores"].float().cpu())
        self.labels.append(batch["label"].cpu())
        texts, parsed = outputs.get("texts"), outputs.get("parsed")
        layout = patch_layout(pl_module.backbone.processor) if len(self.images) < self.max_images else None
        for i, meta in enumerate(batch["meta"]):
            if layout is not None and len(self.images) < self.max_images:
                pred = parsed[i].answer.boxes if parsed is not None and parsed[i].valid else ()
                frame = keyframe_from_patches(batch, i, int(meta.get("keyframe", 0)), layout)
                self.images.append((meta.get("key", str(i)), draw_boxes(frame, gt_boxes(meta), pred)))
            if texts is not None and len(self.rows) < self.max_texts:
                self.rows.append((meta.get("key", str(i)), meta.get("answer", ""), meta.get("reasoning", ""), texts[i]))

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        writer, step = loggers[0].experiment, trainer.global_step
        for i, (key, image) in enumerate(self.images):
            writer.add_image(f"val/keyframes/{i}", image, step, dataformats="HWC")
            writer.add_text(f"val/keyframes/{i}/key", key, step)
        if self.rows:
            lines = ["| key | teacher answer | teacher reasoning | generated |", "|---|---|---|---|"]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
            writer.add_text("val/answers", "\n".join(lines), step)
        if self.pr_curve and self.scores:
            writer.add_pr_curve("val/pr_curve", torch.cat(self.labels).int(), torch.cat(self.scores), step)
        writer.flush()
        self._reset()
