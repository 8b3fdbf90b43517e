"""Lightning callbacks of the curriculum: stage hand-over (:class:`Curriculum`) and TensorBoard visuals."""

from callbacks.curriculum import Curriculum
from callbacks.visualize import TensorBoardVisuals

__all__ = ["Curriculum", "TensorBoardVisuals"]
