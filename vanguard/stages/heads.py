"""The classification head on top of the backbone's pooled features: an anomaly logit and category logits."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from vanguard.categories import CATEGORIES


class HeadOutput(NamedTuple):
    anomaly: torch.Tensor  # (B,) logit of "anomalous"
    category: torch.Tensor  # (B, len(CATEGORIES)) logits


class ClassificationHead(nn.Module):
    """LayerNorm -> (Linear -> GELU -> Dropout) -> Linear to ``1 + len(CATEGORIES)`` outputs.

    Args:
        in_features: the backbone's ``feature_size``.
        hidden: width of the hidden layer; 0 makes the head linear.
        dropout: dropout before the output layer.
        num_categories: number of category logits (``len(CATEGORIES)``).
    """

    def __init__(
        self, in_features: int, hidden: int = 256, dropout: float = 0.1, num_categories: int = len(CATEGORIES)
    ):
        super().__init__()
        self.in_features, self.hidden, self.num_categories = in_features, hidden, num_categories
        layers: list[nn.Module] = [nn.LayerNorm(in_features)]
        width = in_features
        if hidden > 0:
            layers += [nn.Linear(in_features, hidden), nn.GELU()]
            width = hidden
        layers += [nn.Dropout(dropout), nn.Linear(width, 1 + num_categories)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> HeadOutput:
        out = self.net(features.float())
        return HeadOutput(out[:, 0], out[:, 1:])
