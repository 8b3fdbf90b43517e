"""Stage 2: GroundingStage. LoRA on the language model learns to emit the JSON answer with boxes; the
classification loss stays (the head keeps training on the same forward's pooled features)."""

from __future__ import annotations

from typing import ClassVar

from vanguard.stages.base import StageBase, Target


class GroundingStage(StageBase):
    """Target: the JSON answer (``{"anomaly", "category", "boxes"}``); losses cls + category + lm.

    Args:
        **kwargs: the :class:`StageBase` arguments (lr_head, lr_lora, lm_weight, generate_val_batches, ...).
    """

    target: ClassVar[Target] = "answer"
    uses_lora: ClassVar[bool] = True
    freeze_backbone: ClassVar[bool] = False
    starts_from: ClassVar[tuple[str, ...]] = ("ClassifierWarmup",)
