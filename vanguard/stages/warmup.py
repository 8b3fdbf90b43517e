"""Stage 1: ClassifierWarmup. The backbone is frozen; only the classification head trains.

Its pooled features cannot change during the stage, so they are cached per sample key (``meta["key"]``) the
first time a sample is seen: with a resampled training stream the cache fills over time, a sample whose key is
cached skips the backbone, and a batch whose keys are ALL cached skips the backbone forward entirely. Training and
validation features are cached apart (right- vs left-padded batches). Turn the cache off when the datamodule
augments frames (a key would then not identify the pixels).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vanguard.backbone import Backbone
from vanguard.stages.base import StageBase, Target
from vanguard.stages.batching import select_samples


class ClassifierWarmup(StageBase):
    """Frozen backbone (run under ``torch.no_grad``, in eval mode), classification losses only.

    Args:
        backbone: the shared Backbone (frozen here).
        cache_features: cache pooled features per sample key (CPU, float32) for training and validation.
        cache_max_items: stop adding to a split's cache beyond this many samples (None: no limit); a full
            feature of the 4B model with ``pooling=both`` is 20 KiB.
        **kwargs: the :class:`StageBase` arguments (lr_head, weight_decay, cls_weight, category_weight, ...).
    """

    target: ClassVar[Target] = "none"
    uses_lora: ClassVar[bool] = False
    freeze_backbone: ClassVar[bool] = True

    def __init__(self, backbone: Backbone, cache_features: bool = True, cache_max_items: int | None = None, **kwargs):
        super().__init__(backbone, **kwargs)
        self.cache_features = cache_features
        self.cache_max_items = cache_max_items
        self.feature_cache: dict[str, dict[str, torch.Tensor]] = {"train": {}, "val": {}}
        self.backbone_calls = 0  # forwards actually run (tests and logs read it)

    def cached_keys(self) -> frozenset[str]:
        """Training keys whose features are cached: the datamodule need not decode or process them again."""
        return frozenset(self.feature_cache["train"]) if self.cache_features else frozenset()

    def _backbone_features(self, batch: dict) -> torch.Tensor:
        self.backbone_calls += 1
        with torch.no_grad():
            return self.backbone.forward(batch, with_loss=False)[0]

    def compute_features(self, batch: dict, split: str) -> tuple[torch.Tensor, None]:
        cache = self.feature_cache.get(split) if self.cache_features else None
        if cache is None:
            return self._backbone_features(batch), None
        keys = [meta["key"] for meta in batch["meta"]]
        missing = [i for i, key in enumerate(keys) if key not in cache]
        fresh: dict[int, torch.Tensor] = {}
        # rows of samples the workers skipped (cached when they started) carry no model inputs
        encoded = batch.get("encoded_rows", range(len(keys)))
        position = {row: j for j, row in enumerate(encoded)}
        if any(i not in position for i in missing):
            raise RuntimeError("a sample without model inputs is missing from the feature cache")
        if missing:
            rows = [position[i] for i in missing]
            sub = batch if rows == list(range(len(keys))) else select_samples(batch, rows)
            for i, row in zip(missing, self._backbone_features(sub)):
                fresh[i] = row
                if self.cache_max_items is None or len(cache) < self.cache_max_items:
                    cache[keys[i]] = row.detach().float().cpu()
        rows = [fresh[i] if i in fresh else cache[key].to(self.device) for i, key in enumerate(keys)]
        return torch.stack(rows).float(), None
