"""TensorBoard visuals: keyframes rebuilt from the processor's patches, boxes drawn, and the event files of a
short stage-2 run read back with tensorboard's EventAccumulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import TensorBoardLogger

from callbacks.visualize import TensorBoardVisuals, draw_boxes, frames_from_patches, keyframe_from_patches, patch_layout
from vanguard.answer import Box
from vanguard.backbone import Backbone
from vanguard.processing import SubclipEncoder, collate
from vanguard.stages import GroundingStage


def _striped_frames(t=8, h=64, w=64):
    """Frames whose content differs per frame and per position (catches a wrong axis order)."""
    y, x = np.mgrid[0:h, 0:w]
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i, ..., 0] = (x * 4) % 256
        frames[i, ..., 1] = (y * 4) % 256
        frames[i, ..., 2] = 30 * i
    return frames


def test_frames_rebuilt_from_patches_match_the_input(tiny_backbone_dir):
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=64 * 64)
    a, b = _striped_frames(), _striped_frames()[:, ::-1].copy()
    items = [enc.encode(f, 10.0, list(range(8))) for f in (a, b)]
    batch = collate(items, enc.tokenizer.pad_token_id, "left")
    layout = patch_layout(enc.processor)
    for sample, original in enumerate((a, b)):
        frames = frames_from_patches(batch["pixel_values_videos"], batch["video_grid_thw"], sample, **layout)
        assert frames.shape == original.shape, "the processor kept 64x64 frames, so should the rebuild"
        assert np.abs(frames.astype(int) - original.astype(int)).max() <= 2
    key = keyframe_from_patches(batch, 1, 5, layout)
    assert np.abs(key.astype(int) - b[5].astype(int)).max() <= 2
    # the datamodule's batches carry the uint8 patches: rebuilt without un-normalising, exactly the frames
    raw = collate([enc.encode(f, 10.0, list(range(8)), normalize=False) for f in (a, b)], enc.tokenizer.pad_token_id)
    for sample, original in enumerate((a, b)):
        rebuilt = frames_from_patches(raw["pixel_values_videos"], raw["video_grid_thw"], sample, **layout)
        assert rebuilt.dtype == np.uint8 and np.array_equal(rebuilt, original)


def test_draw_boxes_marks_gt_green_and_prediction_red():
    image = np.zeros((50, 100, 3), np.uint8)
    out = draw_boxes(image, [Box(100, 100, 500, 500, "gt")], [Box(600, 200, 900, 800, "pred")], scale=2)
    assert out.shape == (100, 200, 3)
    assert tuple(out[30, 20]) == (0, 220, 0)  # left edge of GT: x = 0.1 * 200, y between 10 and 50
    assert tuple(out[50, 180]) == (255, 40, 40)  # right edge of the prediction: x = 0.9 * 200


@pytest.mark.slow
def test_short_run_writes_scalars_images_text_and_pr_curve(tiny_backbone_dir, fit, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    stage = GroundingStage(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64), max_new_tokens=8)
    logger = TensorBoardLogger(str(tmp_path), name="tb", version="stage2")
    fit(
        stage,
        tmp_path,
        max_steps=2,
        logger=logger,
        log_every_n_steps=1,
        limit_val_batches=1,
        callbacks=[TensorBoardVisuals(max_images=2), LearningRateMonitor(logging_interval="step")],
        dm_kwargs={"num_train": 4},
    )
    acc = EventAccumulator(logger.log_dir, size_guidance={"images": 0, "tensors": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in (
        "train/loss",
        "train/loss_cls",
        "train/loss_category",
        "train/loss_lm",
        "val/auroc",
        "val/ap",
        "val/f1",
        "val/invalid_rate",
        "val/grounding_acc",
        "lr-AdamW/lora",
        "lr-AdamW/head",
    ):
        assert tag in tags["scalars"], (tag, tags["scalars"])
    assert acc.Scalars("lr-AdamW/lora")[-1].value == pytest.approx(stage.hparams.lr_lora)
    assert {"val/keyframes/0", "val/keyframes/1"} <= set(tags["images"])
    image = acc.Images("val/keyframes/0")[-1]
    assert image.width > 0 and image.height > 0
    assert "val/answers/text_summary" in tags["tensors"]
    text = acc.Tensors("val/answers/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "teacher reasoning" in text and "synth1000" in text
    assert "val/pr_curve" in tags["tensors"]
    pr = acc.Tensors("val/pr_curve")[-1].tensor_proto
    assert [d.size for d in pr.tensor_shape.dim][0] == 6  # TP, FP, TN, FN, precision, recall rows
    assert torch.tensor(pr.float_val).numel() > 0
