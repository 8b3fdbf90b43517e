"""Curriculum stages: LightningModules sharing one injected Backbone and the classification head.

=========================  ========  =====  ================  ====================================
stage                      target    LoRA   backbone          losses
=========================  ========  =====  ================  ====================================
ClassifierWarmup (1)       none      no     frozen, cached    cls + category
GroundingStage (2)         answer    yes    LoRA on the LM    cls + category + lm
ReasoningStage (3)         reasoning yes    LoRA on the LM    cls + category + lm
MonolithicStage (abl.)     reasoning yes    LoRA from start   cls + category + lm
ClassificationFinetune     none      yes    LoRA on the LM    cls + category
=========================  ========  =====  ================  ====================================
"""

from vanguard.stages.ablations import ClassificationFinetune, MonolithicStage
from vanguard.stages.base import StageBase
from vanguard.stages.grounding import GroundingStage
from vanguard.stages.heads import ClassificationHead, HeadOutput
from vanguard.stages.reasoning import ReasoningStage
from vanguard.stages.warmup import ClassifierWarmup

__all__ = [
    "StageBase",
    "ClassifierWarmup",
    "GroundingStage",
    "ReasoningStage",
    "MonolithicStage",
    "ClassificationFinetune",
    "ClassificationHead",
    "HeadOutput",
]
