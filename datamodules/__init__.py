"""LightningDataModules (the YAML names them ``datamodules.SubclipDataModule``)."""

from datamodules.predict import video_windows_loader
from datamodules.streams import SkipLimitError
from datamodules.subclip import SubclipDataModule

__all__ = ["SubclipDataModule", "SkipLimitError", "video_windows_loader"]
