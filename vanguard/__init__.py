"""VANGUARD: explainable video anomaly detection with one Qwen3-VL, a three-stage Lightning curriculum."""

__version__ = "0.1.0"
