"""VANGUARD: explainable video anomaly detection with one Qwen3-VL, a three-stage Lightning curriculum.

``from vanguard import Explainer``: ``Explainer.load(export_dir).explain("video.mp4")`` returns the video's events
(imported on first use, so ``import vanguard`` stays light).
"""

__version__ = "0.1.0"
__all__ = ["Explainer"]


def __getattr__(name: str):
    if name == "Explainer":
        from vanguard.explain import Explainer

        return Explainer
    raise AttributeError(f"module 'vanguard' has no attribute {name!r}")
