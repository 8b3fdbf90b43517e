"""Helpers on batches of the datamodule contract (model keys from ``vanguard.processing.collate`` + label,
category, meta): take a subset of samples, count them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: keys whose first dimension is the sample
ROW_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "labels", "prompt_end", "label", "category")


def batch_size(batch: dict) -> int:
    """Samples in the batch (rows of cached samples may have no model inputs, so count labels)."""
    return len(batch["label"]) if "label" in batch else int(batch["input_ids"].shape[0])


def patch_offsets(video_grid_thw: torch.Tensor) -> list[int]:
    """Start offset of each sample's patches in ``pixel_values_videos`` (one video per sample), plus the end."""
    counts = video_grid_thw.prod(dim=-1).tolist()
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + int(c))
    return offsets


def select_samples(batch: dict, index: Sequence[int]) -> dict:
    """The sub-batch of the samples at ``index`` (order kept). Padding columns are kept as they are: the attention
    mask covers them, and ``prompt_end`` still points at the same columns."""
    idx = torch.as_tensor(list(index), dtype=torch.long)
    out: dict = {}
    for key in ROW_KEYS:
        if key in batch:
            out[key] = batch[key][idx.to(batch[key].device)]
    grid = batch["video_grid_thw"]
    offsets = patch_offsets(grid)
    pixels = batch["pixel_values_videos"]
    out["pixel_values_videos"] = torch.cat([pixels[offsets[i] : offsets[i + 1]] for i in index])
    out["video_grid_thw"] = grid[idx.to(grid.device)]
    if "meta" in batch:
        out["meta"] = [batch["meta"][i] for i in index]
    return out
