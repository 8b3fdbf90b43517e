"""Stage 3: ReasoningStage. LoRA (continued from stage 2's adapter) learns ``<think>`` reasoning ``</think>``
followed by the same JSON answer; the classification loss stays."""

from __future__ import annotations

from typing import ClassVar

from vanguard.stages.base import StageBase, Target


class ReasoningStage(StageBase):
    """Target: reasoning then the answer (``vanguard.answer.render_target``); losses cls + category + lm.

    Args:
        **kwargs: the :class:`StageBase` arguments (lr_head, lr_lora, lm_weight, max_new_tokens, ...).
    """

    target: ClassVar[Target] = "reasoning"
    uses_lora: ClassVar[bool] = True
    freeze_backbone: ClassVar[bool] = False
    #: stage 1's export too: a fresh adapter then learns the reasoning (skipping stage 2, an ablation)
    starts_from: ClassVar[tuple[str, ...]] = ("GroundingStage", "ClassifierWarmup")
