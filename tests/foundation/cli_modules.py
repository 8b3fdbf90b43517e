"""Minimal classes the CLI tests name by class path (a module holding a Backbone, a trivial datamodule)."""

import lightning as L

from vanguard.backbone import Backbone


class HoldsBackbone(L.LightningModule):
    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone


class NoData(L.LightningDataModule):
    pass
