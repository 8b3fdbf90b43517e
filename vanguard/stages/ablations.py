"""Stages for the paper's ablations.

- :class:`MonolithicStage`: every objective at once from the start (reasoning + answer + boxes as the LM target,
  classification losses), LoRA from scratch, no warmup stage before it (its config has no ``init_from``).
- :class:`ClassificationFinetune`: LoRA with the classification losses alone (no text target), i.e. what a
  plain fine-tuned classifier gets from the same backbone.
"""

from __future__ import annotations

from typing import ClassVar

from vanguard.stages.base import StageBase, Target


class MonolithicStage(StageBase):
    """All objectives from the start: target reasoning + answer, losses cls + category + lm, LoRA.

    Args:
        **kwargs: the :class:`StageBase` arguments.
    """

    target: ClassVar[Target] = "reasoning"
    uses_lora: ClassVar[bool] = True
    freeze_backbone: ClassVar[bool] = False


class ClassificationFinetune(StageBase):
    """LoRA trained by the classification losses alone (target none: prompt-only batches, no generation).

    Args:
        **kwargs: the :class:`StageBase` arguments (``lm_weight`` is ignored).
    """

    target: ClassVar[Target] = "none"
    uses_lora: ClassVar[bool] = True
    freeze_backbone: ClassVar[bool] = False
