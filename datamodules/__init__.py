"""LightningDataModules (the YAML names them ``datamodules.SubclipDataModule`` / ``datamodules.VideoFolderDataModule``)."""

from datamodules.predict import video_windows_loader
from datamodules.streams import SkipLimitError
from datamodules.subclip import SubclipDataModule
from datamodules.videos import VideoFolderDataModule

__all__ = ["SubclipDataModule", "SkipLimitError", "VideoFolderDataModule", "video_windows_loader"]
