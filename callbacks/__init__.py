"""Lightning callbacks: stage hand-over (:class:`Curriculum`), TensorBoard visuals, test-time evaluation
(:class:`FrameLevelEvaluation`) and predict-time explanations (:class:`ExplanationWriter`)."""

from callbacks.curriculum import Curriculum
from callbacks.evaluation import FrameLevelEvaluation
from callbacks.explanations import ExplanationWriter
from callbacks.visualize import TensorBoardVisuals

__all__ = ["Curriculum", "ExplanationWriter", "FrameLevelEvaluation", "TensorBoardVisuals"]
